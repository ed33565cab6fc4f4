/* The proton engine end to end: run a resolved setup, keep the results per
 * primary, and write them into a directory (NumPy, MetaImage, CSV, JSON). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/fastsci.h"

int fsci_proton_simulate(const fsci_proton_setup *su, fsci_proton_result *res)
{
    int st = FSCI_OK;
    fsci_proton_plan *p = NULL;
    fsci_proton_state *s = NULL;
    FSCI_CHECK(su && res, FSCI_EINVAL, "fsci_proton_simulate: NULL argument");
    memset(res, 0, sizeof *res);
    double t0 = fsci_clock();
    FSCI_TRY(fsci_proton_plan_create(&su->opts, su->has_materials ? &su->mat : NULL, &p));
    FSCI_TRY(fsci_proton_state_create(p, &s));
    for (int i = 0; i < su->nbeams; i++) FSCI_TRY(fsci_proton_state_add_beam(s, &su->beams[i]));
    FSCI_TRY(fsci_proton_run(p, s, 0, &res->steps));
    int64_t nz = su->opts.nz, nx = su->opts.nx;
    res->nz = nz;
    res->nx = nx;
    res->dx_mm = su->opts.dx_mm;
    res->dz_mm = su->opts.dz_mm;
    res->dose_gy = fsci_malloc((size_t)(nz * nx), sizeof(double));
    res->dose_mev = fsci_malloc((size_t)(nz * nx), sizeof(double));
    res->depth_dose = fsci_malloc((size_t)nz, sizeof(double));
    FSCI_CHECK_GOTO(res->dose_gy && res->dose_mev && res->depth_dose, FSCI_ENOMEM,
                    "out of memory for the dose");
    FSCI_TRY(fsci_proton_state_dose(s, FSCI_PROTON_DOSE_GY, res->dose_gy));
    FSCI_TRY(fsci_proton_state_dose(s, FSCI_PROTON_DOSE_MEV, res->dose_mev));
    FSCI_TRY(fsci_proton_state_depth_dose(s, res->depth_dose));
    FSCI_TRY(fsci_proton_analyze(res->depth_dose, nz, res->dz_mm, &res->metrics));
    fsci_proton_state_balance(s, &res->weight, &res->energy);
    res->seconds = fsci_clock() - t0;
    fsci_proton_state_destroy(&s);
    fsci_proton_plan_destroy(&p);
    return FSCI_OK;
fail:
    fsci_proton_state_destroy(&s);
    fsci_proton_plan_destroy(&p);
    fsci_proton_result_free(res);
    return st;
}

void fsci_proton_result_free(fsci_proton_result *res)
{
    if (!res) return;
    fsci_free(res->dose_gy);
    fsci_free(res->dose_mev);
    fsci_free(res->depth_dose);
    memset(res, 0, sizeof *res);
}

/* Text built in memory (open_memstream), then handed to the sink whole. */
typedef struct text {
    char *buf;
    size_t len;
    FILE *f;
} text;

static int text_open(text *t)
{
    t->buf = NULL;
    t->len = 0;
    t->f = open_memstream(&t->buf, &t->len);
    FSCI_CHECK(t->f, FSCI_ENOMEM, "proton output: out of memory for a text file");
    return FSCI_OK;
}

/* Close the stream and add the text as file `name` of the sink. */
static int text_add(text *t, fsci_sink *sink, const char *name)
{
    int st = FSCI_OK;
    bool bad = ferror(t->f) != 0;
    if (fclose(t->f) != 0) bad = true;
    t->f = NULL;
    FSCI_CHECK_GOTO(!bad && t->buf, FSCI_ENOMEM, "proton output: out of memory formatting %s", name);
    FSCI_TRY(fsci_sink_add_text(sink, name, t->buf));
fail:
    free(t->buf); /* from open_memstream: libc's allocator */
    t->buf = NULL;
    return st;
}

static void text_discard(text *t)
{
    if (t->f) fclose(t->f);
    t->f = NULL;
    free(t->buf);
    t->buf = NULL;
}

/* Lateral profiles at fractions of R80 (MeV per cell per primary), by linear
 * interpolation between row centres. */
static void lateral_csv(FILE *f, const fsci_proton_result *r)
{
    static const double frac[4] = {0.25, 0.5, 0.75, 1.0};
    int64_t nz = r->nz, nx = r->nx;
    double zs[4];
    double r80 = isfinite(r->metrics.r80_mm) ? r->metrics.r80_mm : 0.5 * (double)nz * r->dz_mm;
    fprintf(f, "x_mm");
    for (int q = 0; q < 4; q++) {
        zs[q] = frac[q] * r80;
        fprintf(f, ",z=%.4g", zs[q]);
    }
    fprintf(f, "\n");
    for (int64_t i = 0; i < nx; i++) {
        fprintf(f, "%.9g", ((double)i + 0.5 - 0.5 * (double)nx) * r->dx_mm);
        for (int q = 0; q < 4; q++) {
            double t = zs[q] / r->dz_mm - 0.5;
            if (t < 0) t = 0;
            if (t > (double)(nz - 1)) t = (double)(nz - 1);
            int64_t k0 = (int64_t)floor(t);
            int64_t k1 = k0 + 1 < nz ? k0 + 1 : k0;
            double w = t - (double)k0;
            fprintf(f, ",%.9g", (1 - w) * r->dose_mev[k0 * nx + i] + w * r->dose_mev[k1 * nx + i]);
        }
        fprintf(f, "\n");
    }
}

static int json_balance(json_t *root, const char *key, const fsci_proton_balance *b)
{
    int st = FSCI_OK;
    json_t *o = json_object();
    FSCI_CHECK(o, FSCI_ENOMEM, "proton output: out of memory for the summary");
    FSCI_TRY(fsci_json_set_number(o, "initial", b->initial));
    FSCI_TRY(fsci_json_set_number(o, "deposited", b->deposited));
    FSCI_TRY(fsci_json_set_number(o, "leaked", b->leaked));
    FSCI_TRY(fsci_json_set_number(o, "rejected", b->rejected));
    FSCI_TRY(fsci_json_set_number(o, "cutoff", b->cutoff));
    FSCI_TRY(fsci_json_set_number(o, "nuclear", b->nuclear));
    FSCI_TRY(fsci_json_set_number(o, "pruned", b->pruned));
    FSCI_TRY(fsci_json_set_number(o, "remaining", b->remaining));
    FSCI_TRY(fsci_json_set_number(o, "residual", b->residual));
    return fsci_json_set(root, key, o); /* takes o */
fail:
    json_decref(o);
    return st;
}

/* summary.json: undefined figures (e.g. R80 of a one-row grid) are null. */
static int summary_json(const fsci_proton_result *r, char **out)
{
    int st = FSCI_OK;
    json_t *j = json_object();
    const fsci_proton_range_metrics *m = &r->metrics;
    FSCI_CHECK(j, FSCI_ENOMEM, "proton output: out of memory for the summary");
    FSCI_TRY(fsci_json_set_int(j, "nz", r->nz));
    FSCI_TRY(fsci_json_set_int(j, "nx", r->nx));
    FSCI_TRY(fsci_json_set_number(j, "dz_mm", r->dz_mm));
    FSCI_TRY(fsci_json_set_number(j, "dx_mm", r->dx_mm));
    FSCI_TRY(fsci_json_set_number(j, "R80_mm", m->r80_mm));
    FSCI_TRY(fsci_json_set_number(j, "R90_mm", m->r90_mm));
    FSCI_TRY(fsci_json_set_number(j, "R50_mm", m->r50_mm));
    FSCI_TRY(fsci_json_set_number(j, "R20_mm", m->r20_mm));
    FSCI_TRY(fsci_json_set_number(j, "peak_depth_mm", m->peak_mm));
    FSCI_TRY(fsci_json_set_number(j, "d80_20_mm", m->falloff_mm));
    FSCI_TRY(fsci_json_set_number(j, "entrance_to_peak", m->entrance));
    FSCI_TRY(fsci_json_set_int(j, "steps", (int64_t)r->steps));
    FSCI_TRY(fsci_json_set_number(j, "seconds", r->seconds));
    FSCI_TRY(json_balance(j, "balance_weight", &r->weight));
    FSCI_TRY(json_balance(j, "balance_energy_mev", &r->energy));
    FSCI_TRY(fsci_json_dumps(j, 2, out));
fail:
    json_decref(j);
    return st;
}

static int add_1d(fsci_sink *sink, const char *name, const double *v, int64_t n)
{
    fsci_view view;
    int st = fsci_view_init(&view, (void *)(uintptr_t)v, FSCI_F64, 1, &n, false);
    return st ? st : fsci_sink_add(sink, name, &view);
}

/* Memory sinks (Python): the depth dose and the cell-centre axes z, x in mm. */
static int add_arrays(const fsci_proton_result *r, fsci_sink *sink)
{
    int st = FSCI_OK;
    double *z = fsci_malloc((size_t)r->nz, sizeof *z), *x = fsci_malloc((size_t)r->nx, sizeof *x);
    FSCI_CHECK_GOTO(z && x, FSCI_ENOMEM, "proton: out of memory for the axes");
    for (int64_t k = 0; k < r->nz; k++) z[k] = ((double)k + 0.5) * r->dz_mm;
    for (int64_t i = 0; i < r->nx; i++) x[i] = ((double)i + 0.5 - 0.5 * (double)r->nx) * r->dx_mm;
    FSCI_TRY(add_1d(sink, "depth_dose", r->depth_dose, r->nz));
    FSCI_TRY(add_1d(sink, "z", z, r->nz));
    FSCI_TRY(add_1d(sink, "x", x, r->nx));
fail:
    fsci_free(z);
    fsci_free(x);
    return st;
}

/* Folder sinks: the files besides the .npy arrays (MetaImage, CSV). */
static int add_files(const fsci_proton_result *r, fsci_sink *sink)
{
    int st = FSCI_OK;
    text t = {NULL, 0, NULL};
    int64_t nz = r->nz, nx = r->nx;
    fsci_view v;
    FSCI_TRY(fsci_view_init(&v, r->dose_gy, FSCI_F64, 2, (int64_t[2]){nz, nx}, false));
    /* raw native (little-endian) float64, x fastest (MetaImage DimSize = Nx Nz) */
    FSCI_TRY(fsci_sink_add(sink, "dose.raw", &v));

    FSCI_TRY(text_open(&t));
    fprintf(t.f,
            "ObjectType = Image\nNDims = 2\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
            "CompressedData = False\nOffset = %.17g 0\nElementSpacing = %.17g %.17g\nDimSize = %lld %lld\n"
            "ElementType = MET_DOUBLE\nElementDataFile = dose.raw\n",
            -0.5 * (double)nx * r->dx_mm + 0.5 * r->dx_mm, r->dx_mm, r->dz_mm, (long long)nx, (long long)nz);
    FSCI_TRY(text_add(&t, sink, "dose.mhd"));

    FSCI_TRY(text_open(&t));
    fprintf(t.f, "z_mm,dose_mev_per_mm_per_primary\n");
    for (int64_t k = 0; k < nz; k++)
        fprintf(t.f, "%.9g,%.9g\n", ((double)k + 0.5) * r->dz_mm, r->depth_dose[k]);
    FSCI_TRY(text_add(&t, sink, "depth_dose.csv"));

    FSCI_TRY(text_open(&t));
    lateral_csv(t.f, r);
    FSCI_TRY(text_add(&t, sink, "lateral.csv"));
fail:
    text_discard(&t);
    return st;
}

int fsci_proton_result_to_sink(const fsci_proton_result *r, fsci_sink *sink)
{
    int st = FSCI_OK;
    char *summary = NULL;
    fsci_view v;
    FSCI_CHECK(r && sink && r->dose_gy && r->dose_mev && r->depth_dose, FSCI_EINVAL,
               "fsci_proton_result_to_sink: NULL argument or empty result");
    FSCI_TRY(fsci_view_init(&v, r->dose_gy, FSCI_F64, 2, (int64_t[2]){r->nz, r->nx}, false));
    FSCI_TRY(fsci_sink_add(sink, "dose", &v));
    FSCI_TRY(fsci_view_init(&v, r->dose_mev, FSCI_F64, 2, (int64_t[2]){r->nz, r->nx}, false));
    FSCI_TRY(fsci_sink_add(sink, "dose_mev", &v));
    if (fsci_sink_kind(sink) == FSCI_SINK_DIR) FSCI_TRY(add_files(r, sink));
    if (fsci_sink_kind(sink) == FSCI_SINK_MEMORY) FSCI_TRY(add_arrays(r, sink));
    FSCI_TRY(summary_json(r, &summary));
    FSCI_TRY(fsci_sink_set_summary(sink, summary)); /* a folder sink writes it as summary.json */
fail:
    fsci_free(summary);
    return st;
}

int fsci_proton_result_write(const fsci_proton_result *res, const char *dir)
{
    int st = FSCI_OK;
    fsci_sink *sink = NULL;
    FSCI_CHECK(res && dir && res->dose_gy && res->dose_mev && res->depth_dose, FSCI_EINVAL,
               "fsci_proton_result_write: NULL argument or empty result");
    FSCI_TRY(fsci_sink_dir_create(dir, &sink));
    FSCI_TRY(fsci_proton_result_to_sink(res, sink));
    FSCI_TRY(fsci_sink_close(sink));
fail:
    fsci_sink_destroy(&sink);
    return st;
}
