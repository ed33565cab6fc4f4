/* pstm: the input traces of a run, from a SEG-Y file or from arrays. */
#include <math.h>
#include <string.h>

#include "pstm/pstm_run.h"

static int coord_view(const fsci_inputs *in, const char *name, int64_t ntr, const double **out)
{
    const fsci_view *v = fsci_inputs_get(in, name);
    FSCI_CHECK(v, FSCI_EINVAL, "%s: missing (traces need sx, sy, gx and gy)", name);
    FSCI_CHECK(v->dtype == FSCI_F64 && v->ndim == 1 && fsci_view_is_c_contiguous(v), FSCI_EINVAL,
               "%s: expected a contiguous float64 array of shape (ntr,), got %s with %d dimensions", name,
               fsci_dtype_name(v->dtype), v->ndim);
    FSCI_CHECK(v->shape[0] == ntr, FSCI_EINVAL, "%s: %lld values for %lld traces", name,
               (long long)v->shape[0], (long long)ntr);
    const double *d = v->data;
    for (int64_t i = 0; i < ntr; i++)
        FSCI_CHECK(isfinite(d[i]), FSCI_EINVAL, "%s: value %g of trace %lld is not finite", name, d[i],
                   (long long)i);
    *out = d;
    return FSCI_OK;
}

int fsci__pstm_input_open(const fsci_pstm_opts *o, const fsci_inputs *in, fsci__pstm_input *out)
{
    int st = FSCI_OK;
    memset(out, 0, sizeof *out);
    const fsci_view *tr = fsci_inputs_get(in, "traces");
    FSCI_CHECK(!(tr && o->input[0]), FSCI_EINVAL,
               "give either traces (arrays) or input (a SEG-Y file), not both");
    if (!tr) {
        FSCI_CHECK(o->input[0], FSCI_EINVAL, "no input: name a SEG-Y file (or pass traces and coordinates)");
        FSCI_TRY(fsci__segy_open(o->input, &out->file));
        const fsci__segy_geom *g = fsci__segy_geometry(out->file);
        out->ntr = g->ntr;
        out->ns = g->ns;
        out->dt = g->dt;
        out->t0 = g->t0;
        out->sx = g->sx;
        out->sy = g->sy;
        out->gx = g->gx;
        out->gy = g->gy;
        FSCI_CHECK_GOTO(out->ntr > 0, FSCI_EFORMAT, "%s: no traces", o->input);
        return FSCI_OK;
    }
    FSCI_CHECK(tr->dtype == FSCI_F32 && tr->ndim == 2 && fsci_view_is_c_contiguous(tr), FSCI_EINVAL,
               "traces: expected a contiguous float32 array (ntr, ns), got %s with %d dimensions",
               fsci_dtype_name(tr->dtype), tr->ndim);
    out->ntr = tr->shape[0];
    out->ns = tr->shape[1];
    FSCI_CHECK(out->ntr > 0 && out->ns >= 2, FSCI_EINVAL,
               "traces: shape (%lld, %lld) needs >= 1 trace of >= 2 samples", (long long)out->ntr,
               (long long)out->ns);
    out->data = tr->data;
    out->dt = o->in_dt;
    out->t0 = o->in_t0;
    const int64_t n = out->ntr * out->ns;
    for (int64_t i = 0; i < n; i++)
        FSCI_CHECK(isfinite(out->data[i]), FSCI_EINVAL, "traces: sample %lld of trace %lld is not finite",
                   (long long)(i % out->ns), (long long)(i / out->ns));
    FSCI_TRY(coord_view(in, "sx", out->ntr, &out->sx));
    FSCI_TRY(coord_view(in, "sy", out->ntr, &out->sy));
    FSCI_TRY(coord_view(in, "gx", out->ntr, &out->gx));
    FSCI_TRY(coord_view(in, "gy", out->ntr, &out->gy));
fail:
    if (st) fsci__pstm_input_close(out);
    return st;
}

int fsci__pstm_input_read(fsci__pstm_input *in, const int64_t *idx, int64_t n, float *out)
{
    if (in->file) return fsci__segy_read_list(in->file, idx, n, out);
    for (int64_t i = 0; i < n; i++)
        memcpy(out + i * in->ns, in->data + idx[i] * in->ns, (size_t)in->ns * sizeof(float));
    return FSCI_OK;
}

void fsci__pstm_input_close(fsci__pstm_input *in)
{
    fsci__segy_close(&in->file);
    fsci_free(in->own);
    memset(in, 0, sizeof *in);
}

int fsci__pstm_dim(const fsci_pstm_opts *o, const fsci__pstm_input *in)
{
    if (strcmp(o->dim, "2") == 0) return 2;
    if (strcmp(o->dim, "3") == 0) return 3;
    /* auto: 3-D when the sources and receivers do not lie on one line */
    double y0 = INFINITY, y1 = -INFINITY, x0 = INFINITY, x1 = -INFINITY;
    for (int64_t i = 0; i < in->ntr; i++) {
        y0 = fmin(y0, fmin(in->sy[i], in->gy[i]));
        y1 = fmax(y1, fmax(in->sy[i], in->gy[i]));
        x0 = fmin(x0, fmin(in->sx[i], in->gx[i]));
        x1 = fmax(x1, fmax(in->sx[i], in->gx[i]));
    }
    if (y1 - y0 <= 1e-6 * fmax(1, x1 - x0)) return 2;
    if (x1 - x0 <= 1e-6 * fmax(1, y1 - y0)) return 2;
    /* a line along another direction: collinear points */
    const double ax = in->gx[0] - in->sx[0], ay = in->gy[0] - in->sy[0];
    for (int64_t i = 0; i < in->ntr; i++) {
        double cs = ax * (in->sy[i] - in->sy[0]) - ay * (in->sx[i] - in->sx[0]);
        double cg = ax * (in->gy[i] - in->sy[0]) - ay * (in->gx[i] - in->sx[0]);
        if (fabs(cs) > 1e-6 * (ax * ax + ay * ay + 1) || fabs(cg) > 1e-6 * (ax * ax + ay * ay + 1)) return 3;
    }
    return 2;
}
