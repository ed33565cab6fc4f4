/* n2v2 input and output: stacks from TIFF, .npy or arrays, slice by slice;
 * predictions to a TIFF the run writes itself or to the sink. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "n2v2/n2v2_run.h"

static bool ends_with(const char *path, const char *suf)
{
    const size_t n = strlen(path), m = strlen(suf);
    return n > m && strcasecmp(path + n - m, suf) == 0;
}

bool fsci__n2v2_is_model_path(const char *path)
{
    return path && ends_with(path, ".fsnn");
}

bool fsci__n2v2_is_tiff_path(const char *path)
{
    return path && (ends_with(path, ".tif") || ends_with(path, ".tiff"));
}

static int set_view(fsci__n2v2_src *s, const fsci_view *v)
{
    FSCI_CHECK(v->ndim == 2 || v->ndim == 3, FSCI_EINVAL,
               "%s: %d dimensions (an image (y, x) or a stack (z, y, x))", s->name, v->ndim);
    FSCI_CHECK(v->dtype == FSCI_U8 || v->dtype == FSCI_U16 || v->dtype == FSCI_F32 || v->dtype == FSCI_F64,
               FSCI_EINVAL, "%s: dtype %s (uint8, uint16, float32 or float64)", s->name,
               fsci_dtype_name(v->dtype));
    s->view = *v;
    s->is2d = v->ndim == 2;
    s->z = s->is2d ? 1 : v->shape[0];
    s->h = v->shape[v->ndim - 2];
    s->w = v->shape[v->ndim - 1];
    s->dtype = v->dtype;
    FSCI_CHECK(s->z >= 1 && s->h >= 1 && s->w >= 1, FSCI_EINVAL, "%s: empty (%lld x %lld x %lld)", s->name,
               (long long)s->z, (long long)s->h, (long long)s->w);
    return FSCI_OK;
}

int fsci__n2v2_src_open(const fsci_n2v2_opts *o, const fsci_inputs *in, fsci__n2v2_src *s)
{
    int st = FSCI_OK;
    memset(s, 0, sizeof *s);
    const fsci_view *v = fsci_inputs_get(in, "stack");
    if (v) {
        s->name = "stack";
        return set_view(s, v);
    }
    s->name = o->input;
    FSCI_CHECK(o->input[0], FSCI_EINVAL, "n2v2: name an input image or stack (TIFF or .npy)");
    if (fsci__n2v2_is_tiff_path(o->input)) {
        FSCI_TRY(fsci_tiff_open(o->input, &s->tiff));
        const fsci_tiff_info *ti = fsci_tiff_reader_info(s->tiff);
        s->z = ti->pages;
        s->h = ti->h;
        s->w = ti->w;
        s->dtype = ti->dtype;
        s->is2d = ti->pages == 1;
        s->page = fsci_malloc((size_t)(s->h * s->w), fsci_dtype_size(s->dtype));
        FSCI_CHECK_GOTO(s->page, FSCI_ENOMEM, "%s: out of memory for a %lld x %lld page", s->name,
                        (long long)s->h, (long long)s->w);
        return FSCI_OK;
    }
    FSCI_CHECK(ends_with(o->input, ".npy"), FSCI_EINVAL, "%s: not a TIFF (.tif, .tiff) or .npy file",
               o->input);
    FSCI_TRY(fsci_npy_read(o->input, &s->arr));
    FSCI_TRY(set_view(s, &s->arr->view));
    return FSCI_OK;
fail:
    fsci__n2v2_src_close(s);
    return st;
}

int fsci__n2v2_src_slice(fsci__n2v2_src *s, int64_t k, float *dst)
{
    const int64_t h = s->h, w = s->w;
    const char *base;
    int64_t sy, sx;
    if (s->tiff) {
        int st = fsci_tiff_read_page(s->tiff, k, s->page);
        if (st) return st;
        base = s->page;
        sx = (int64_t)fsci_dtype_size(s->dtype);
        sy = sx * w;
    } else {
        const fsci_view *v = &s->view;
        base = (const char *)v->data + (s->is2d ? 0 : k * v->strides[0]);
        sy = v->strides[v->ndim - 2];
        sx = v->strides[v->ndim - 1];
    }
    for (int64_t i = 0; i < h; i++) {
        const char *row = base + i * sy;
        float *o = dst + i * w;
        switch (s->dtype) {
        case FSCI_U8:
            for (int64_t j = 0; j < w; j++) o[j] = (float)*(const uint8_t *)(row + j * sx);
            break;
        case FSCI_U16:
            for (int64_t j = 0; j < w; j++) {
                uint16_t u;
                memcpy(&u, row + j * sx, 2);
                o[j] = (float)u;
            }
            break;
        case FSCI_F32:
            for (int64_t j = 0; j < w; j++) memcpy(o + j, row + j * sx, 4);
            break;
        default:
            for (int64_t j = 0; j < w; j++) {
                double d;
                memcpy(&d, row + j * sx, 8);
                o[j] = (float)d;
            }
            break;
        }
        for (int64_t j = 0; j < w; j++)
            FSCI_CHECK(isfinite(o[j]), FSCI_EINVAL, "%s: slice %lld pixel (%lld, %lld) is %g", s->name,
                       (long long)k, (long long)i, (long long)j, (double)o[j]);
    }
    return FSCI_OK;
}

void fsci__n2v2_src_close(fsci__n2v2_src *s)
{
    fsci_tiff_close(&s->tiff);
    fsci_array_destroy(&s->arr);
    fsci_free(s->page);
    s->page = NULL;
}

int fsci__n2v2_dst_open(const fsci_n2v2_opts *o, const fsci__n2v2_src *s, const fsci_ctx *ctx,
                        fsci_sink *sink, fsci__n2v2_dst *d)
{
    memset(d, 0, sizeof *d);
    d->h = s->h;
    d->w = s->w;
    d->dtype = s->dtype == FSCI_F64 ? FSCI_F32 : s->dtype;
    if (strcmp(o->dtype, "float32") == 0) d->dtype = FSCI_F32;
    if (strcmp(o->dtype, "uint16") == 0) d->dtype = FSCI_U16;
    if (strcmp(o->dtype, "uint8") == 0) d->dtype = FSCI_U8;
    d->buf = fsci_malloc((size_t)(s->h * s->w), fsci_dtype_size(d->dtype));
    FSCI_CHECK(d->buf, FSCI_ENOMEM, "n2v2: out of memory for an output slice");
    if (ctx->output && fsci__n2v2_is_tiff_path(ctx->output)) {
        const fsci_tiff_compression c = strcmp(o->compression, "lzw") == 0       ? FSCI_TIFF_LZW
                                        : strcmp(o->compression, "deflate") == 0 ? FSCI_TIFF_DEFLATE
                                                                                 : FSCI_TIFF_NONE;
        return fsci_tiff_writer_open(ctx->output, s->h, s->w, d->dtype, c, &d->tiff);
    }
    if (!sink) return FSCI_OK;
    d->sink = sink;
    if (s->is2d) return fsci_sink_begin(sink, "denoised", d->dtype, 2, (int64_t[2]){s->h, s->w});
    return fsci_sink_begin(sink, "denoised", d->dtype, 3, (int64_t[3]){s->z, s->h, s->w});
}

int fsci__n2v2_dst_put(fsci__n2v2_dst *d, const float *x)
{
    const int64_t n = d->h * d->w;
    if (d->dtype == FSCI_F32) {
        memcpy(d->buf, x, (size_t)n * 4);
    } else {
        const float hi = d->dtype == FSCI_U8 ? 255.0f : 65535.0f;
        for (int64_t i = 0; i < n; i++) {
            float v = x[i] > 0 ? x[i] : 0; /* NaN -> 0 */
            v = v < hi ? v : hi;
            const float r = floorf(v + 0.5f);
            if (d->dtype == FSCI_U8)
                ((uint8_t *)d->buf)[i] = (uint8_t)r;
            else
                ((uint16_t *)d->buf)[i] = (uint16_t)r;
        }
    }
    if (d->tiff) return fsci_tiff_write_page(d->tiff, d->buf);
    if (d->sink) return fsci_sink_write(d->sink, d->buf, (size_t)n * fsci_dtype_size(d->dtype));
    return FSCI_OK;
}

int fsci__n2v2_dst_close(fsci__n2v2_dst *d, bool ok)
{
    int st = FSCI_OK;
    if (d->tiff) {
        if (ok)
            st = fsci_tiff_writer_commit(&d->tiff);
        else
            fsci_tiff_writer_abort(&d->tiff);
    } else if (d->sink && ok) {
        st = fsci_sink_end(d->sink);
    }
    fsci_free(d->buf);
    d->buf = NULL;
    return st;
}
