/* nn layers: planning (shapes, parameter counts, workspace) and dispatch to
 * the typed kernels. Semantics: include/fastsci/nn.h, doc/nn.md. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/parallel.h"
#include "nn_impl.h"

static const char *const kind_names[FSCI_NN_NKINDS] = {"conv",     "convT", "maxpool", "blur",
                                                       "upsample", "bn",    "bnrelu",  "relu"};

static int plan(fsci_nn_layer *l)
{
    const fsci_nn_layer_desc *d = &l->d;
    const fsci_nn_dims in = d->in;
    const size_t es = fsci_dtype_size(d->dtype);
    fsci_nn_dims o = in;
    switch (d->kind) {
    case FSCI_NN_CONV: {
        FSCI_CHECK(d->k >= 1 && d->k <= 7 && d->k % 2 == 1, FSCI_EINVAL, "nn conv: k = %d (odd, 1..7)", d->k);
        FSCI_CHECK(d->stride == 1 || d->stride == 2, FSCI_EINVAL, "nn conv: stride = %d (1 or 2)", d->stride);
        FSCI_CHECK(d->pad >= 0 && d->pad <= d->k / 2, FSCI_EINVAL, "nn conv: pad = %d (0..%d)", d->pad,
                   d->k / 2);
        FSCI_CHECK(d->cout >= 1 && d->cout <= 65536, FSCI_EINVAL, "nn conv: cout = %lld (1..65536)",
                   (long long)d->cout);
        o.c = d->cout;
        o.h = (in.h + 2 * d->pad - d->k) / d->stride + 1;
        o.w = (in.w + 2 * d->pad - d->k) / d->stride + 1;
        FSCI_CHECK(in.h + 2 * d->pad >= d->k && in.w + 2 * d->pad >= d->k, FSCI_EINVAL,
                   "nn conv: input %lld x %lld smaller than the kernel %d", (long long)in.h, (long long)in.w,
                   d->k);
        const int64_t ckk = in.c * d->k * d->k, hwo = o.h * o.w;
        l->nparams = d->cout * ckk + (d->bias ? d->cout : 0);
        l->one = d->k == 1 && d->stride == 1 && d->pad == 0;
        int64_t band = FSCI__NN_BAND_BYTES / (int64_t)es / (ckk * o.w);
        band = band < 1 ? 1 : band > o.h ? o.h : band;
        l->band = band;
        l->ws_thread = l->one ? 0 : (size_t)(2 * ckk * band * o.w) * es;
        l->ws = l->ws_thread * (size_t)l->nthr + (size_t)(in.n * d->cout * ckk) * es;
        l->macs = (double)in.n * (double)d->cout * (double)ckk * (double)hwo;
        break;
    }
    case FSCI_NN_CONVT:
        FSCI_CHECK(d->cout >= 1 && d->cout <= 65536, FSCI_EINVAL, "nn convT: cout = %lld (1..65536)",
                   (long long)d->cout);
        o.c = d->cout;
        o.h = 2 * in.h;
        o.w = 2 * in.w;
        l->nparams = in.c * d->cout * 4 + (d->bias ? d->cout : 0);
        l->ws_thread = (size_t)(d->cout * 4 * in.h * in.w) * es;
        l->ws = l->ws_thread * (size_t)l->nthr + (size_t)(in.n * in.c * d->cout * 4) * es;
        l->macs = (double)in.n * (double)in.c * (double)d->cout * 4.0 * (double)(in.h * in.w);
        break;
    case FSCI_NN_MAXPOOL:
        FSCI_CHECK(d->stride == 1 || d->stride == 2, FSCI_EINVAL, "nn maxpool: stride = %d (1 or 2)",
                   d->stride);
        FSCI_CHECK(in.h >= 2 && in.w >= 2, FSCI_EINVAL, "nn maxpool: input %lld x %lld (at least 2 x 2)",
                   (long long)in.h, (long long)in.w);
        o.h = (in.h - 2) / d->stride + 1;
        o.w = (in.w - 2) / d->stride + 1;
        l->ws = (size_t)(o.h * o.w) * (size_t)l->nthr; /* backward: one byte of window code per output */
        break;
    case FSCI_NN_BLUR:
        o.h = (in.h - 1) / 2 + 1;
        o.w = (in.w - 1) / 2 + 1;
        break;
    case FSCI_NN_UPSAMPLE:
        o.h = 2 * in.h;
        o.w = 2 * in.w;
        l->ws = (size_t)(in.h * o.w) * es * (size_t)l->nthr; /* one plane upsampled along x, per thread */
        break;
    case FSCI_NN_BN:
    case FSCI_NN_BNRELU:
        FSCI_CHECK(isfinite(d->eps) && d->eps >= 0 && isfinite(d->momentum) && d->momentum >= 0 &&
                       d->momentum <= 1,
                   FSCI_EINVAL, "nn bn: eps = %g, momentum = %g", d->eps, d->momentum);
        l->nparams = 2 * in.c;
        l->nstate = 2 * in.c;
        break;
    case FSCI_NN_RELU: break;
    default:
        return fsci_error_set(FSCI_EINVAL, __FILE__, __LINE__, __func__, "nn layer: kind = %d", (int)d->kind);
    }
    l->out = o;
    return FSCI_OK;
}

int fsci_nn_layer_create(const fsci_nn_layer_desc *d, fsci_nn_layer **out)
{
    int st = FSCI_OK;
    fsci_nn_layer *l = NULL;
    FSCI_CHECK(out != NULL && d != NULL, FSCI_EINVAL, "nn layer: NULL argument");
    *out = NULL;
    FSCI_CHECK(d->dtype == FSCI_F32 || d->dtype == FSCI_F64, FSCI_EINVAL,
               "nn layer: dtype = %s (float32 or float64)", fsci_dtype_name(d->dtype));
    FSCI_CHECK(d->in.n >= 1 && d->in.c >= 1 && d->in.h >= 1 && d->in.w >= 1 && d->in.n <= (1 << 20) &&
                   d->in.c <= 65536 && d->in.h <= (1 << 16) && d->in.w <= (1 << 16),
               FSCI_EINVAL, "nn layer: input shape (%lld, %lld, %lld, %lld)", (long long)d->in.n,
               (long long)d->in.c, (long long)d->in.h, (long long)d->in.w);
    l = fsci_calloc(1, sizeof *l);
    FSCI_CHECK(l != NULL, FSCI_ENOMEM, "nn layer: out of memory");
    l->d = *d;
    l->nthr = omp_get_max_threads(); /* the threads of the calling thread's parallel regions */
    if (l->nthr < 1) l->nthr = 1;
    if (l->d.eps == 0) l->d.eps = 1e-5;
    if (l->d.momentum == 0) l->d.momentum = 0.1;
    FSCI_TRY(plan(l));
    if (l->d.kind == FSCI_NN_CONV && l->d.dtype == FSCI_F32) {
        size_t dws = 0;
        const int ds = fsci__nn_dnnl_plan(l, &dws);
        if (ds == FSCI_OK)
            l->ws = dws > l->ws ? dws : l->ws; /* the weight gradient keeps the im2col path */
        else if (ds == FSCI_ENOTSUP)
            fsci_error_clear(); /* the im2col path */
        else
            FSCI_TRY(ds);
    }
    FSCI_CHECK_GOTO(l->out.h >= 1 && l->out.w >= 1, FSCI_EINVAL, "nn %s: empty output for input %lld x %lld",
                    kind_names[d->kind], (long long)d->in.h, (long long)d->in.w);
    FSCI_CHECK_GOTO(l->d.in.h * l->d.in.w * l->d.in.c <= INT32_MAX &&
                        l->out.h * l->out.w * l->out.c <= INT32_MAX,
                    FSCI_EINVAL, "nn %s: one image larger than 2^31 elements", kind_names[d->kind]);
    if (l->nstate) {
        l->mean = fsci_calloc((size_t)d->in.c, sizeof(double));
        l->invstd = fsci_calloc((size_t)d->in.c, sizeof(double));
        FSCI_CHECK_GOTO(l->mean && l->invstd, FSCI_ENOMEM, "nn bn: out of memory");
    }
    *out = l;
    return FSCI_OK;
fail:
    fsci_nn_layer_destroy(&l);
    return st;
}

void fsci_nn_layer_destroy(fsci_nn_layer **p)
{
    if (!p || !*p) return;
    fsci__nn_dnnl_free(&(*p)->dn);
    fsci_free((*p)->mean);
    fsci_free((*p)->invstd);
    fsci_free(*p);
    *p = NULL;
}

const fsci_nn_layer_desc *fsci_nn_layer_desc_of(const fsci_nn_layer *l)
{
    return &l->d;
}

fsci_nn_dims fsci_nn_layer_out(const fsci_nn_layer *l)
{
    return l->out;
}

int64_t fsci_nn_layer_nparams(const fsci_nn_layer *l)
{
    return l->nparams;
}

int64_t fsci_nn_layer_nstate(const fsci_nn_layer *l)
{
    return l->nstate;
}

size_t fsci_nn_layer_workspace(const fsci_nn_layer *l)
{
    return l->ws;
}

double fsci_nn_layer_macs(const fsci_nn_layer *l)
{
    return l->macs;
}

static int64_t numel(fsci_nn_dims d)
{
    return d.n * d.c * d.h * d.w;
}

#define DISPATCH(l, call_f32, call_f64)                                                                      \
    do {                                                                                                     \
        if ((l)->d.dtype == FSCI_F32)                                                                        \
            call_f32;                                                                                        \
        else                                                                                                 \
            call_f64;                                                                                        \
    } while (0)

int fsci_nn_layer_forward(fsci_nn_layer *l, bool train, const void *x, const void *p, void *state, void *y,
                          void *ws)
{
    FSCI_CHECK(l && x && y, FSCI_EINVAL, "nn forward: NULL tensor");
    FSCI_CHECK(!l->nparams || p, FSCI_EINVAL, "nn %s forward: NULL parameters", kind_names[l->d.kind]);
    FSCI_CHECK(!l->nstate || state, FSCI_EINVAL, "nn %s forward: NULL state", kind_names[l->d.kind]);
    FSCI_CHECK(!l->ws || ws, FSCI_EINVAL, "nn %s forward: NULL workspace", kind_names[l->d.kind]);
    switch (l->d.kind) {
    case FSCI_NN_CONV:
        if (l->dn) return fsci__nn_dnnl_fwd(l, x, p, y, ws);
        DISPATCH(l, fsci__nn_conv_fwd_f32(l, x, p, y, ws), fsci__nn_conv_fwd_f64(l, x, p, y, ws));
        break;
    case FSCI_NN_CONVT:
        DISPATCH(l, fsci__nn_convt_fwd_f32(l, x, p, y, ws), fsci__nn_convt_fwd_f64(l, x, p, y, ws));
        break;
    case FSCI_NN_MAXPOOL:
        DISPATCH(l, fsci__nn_maxpool_fwd_f32(l, x, y), fsci__nn_maxpool_fwd_f64(l, x, y));
        break;
    case FSCI_NN_BLUR: DISPATCH(l, fsci__nn_blur_fwd_f32(l, x, y), fsci__nn_blur_fwd_f64(l, x, y)); break;
    case FSCI_NN_UPSAMPLE:
        DISPATCH(l, fsci__nn_upsample_fwd_f32(l, x, y, ws), fsci__nn_upsample_fwd_f64(l, x, y, ws));
        break;
    case FSCI_NN_BN:
    case FSCI_NN_BNRELU: {
        const bool relu = l->d.kind == FSCI_NN_BNRELU;
        DISPATCH(l, fsci__nn_bn_fwd_f32(l, train, relu, x, p, state, y),
                 fsci__nn_bn_fwd_f64(l, train, relu, x, p, state, y));
        break;
    }
    case FSCI_NN_RELU:
        DISPATCH(l, fsci__nn_relu_fwd_f32(numel(l->d.in), x, y), fsci__nn_relu_fwd_f64(numel(l->d.in), x, y));
        break;
    default: break;
    }
    return FSCI_OK;
}

int fsci_nn_layer_backward(fsci_nn_layer *l, const void *x, const void *y, const void *dy, const void *p,
                           void *dx, void *dp, void *ws)
{
    FSCI_CHECK(l && dy, FSCI_EINVAL, "nn backward: NULL tensor");
    const fsci_nn_kind k = l->d.kind;
    FSCI_CHECK(x || k == FSCI_NN_RELU || k == FSCI_NN_BLUR || k == FSCI_NN_UPSAMPLE ||
                   (k == FSCI_NN_CONV && !dp) || (k == FSCI_NN_CONVT && !dp),
               FSCI_EINVAL, "nn %s backward: NULL input", kind_names[k]);
    FSCI_CHECK(y || (k != FSCI_NN_RELU && k != FSCI_NN_BNRELU), FSCI_EINVAL, "nn %s backward: NULL output",
               kind_names[k]);
    FSCI_CHECK(!l->nparams || p, FSCI_EINVAL, "nn %s backward: NULL parameters", kind_names[k]);
    FSCI_CHECK(!l->ws || ws, FSCI_EINVAL, "nn %s backward: NULL workspace", kind_names[k]);
    switch (k) {
    case FSCI_NN_CONV:
        if (l->dn) return fsci__nn_dnnl_bwd(l, x, dy, p, dx, dp, ws);
        DISPATCH(l, fsci__nn_conv_bwd_f32(l, x, dy, p, dx, dp, ws),
                 fsci__nn_conv_bwd_f64(l, x, dy, p, dx, dp, ws));
        break;
    case FSCI_NN_CONVT:
        DISPATCH(l, fsci__nn_convt_bwd_f32(l, x, dy, p, dx, dp, ws),
                 fsci__nn_convt_bwd_f64(l, x, dy, p, dx, dp, ws));
        break;
    case FSCI_NN_MAXPOOL:
        if (dx)
            DISPATCH(l, fsci__nn_maxpool_bwd_f32(l, x, dy, dx, ws),
                     fsci__nn_maxpool_bwd_f64(l, x, dy, dx, ws));
        break;
    case FSCI_NN_BLUR:
        if (dx) DISPATCH(l, fsci__nn_blur_bwd_f32(l, dy, dx), fsci__nn_blur_bwd_f64(l, dy, dx));
        break;
    case FSCI_NN_UPSAMPLE:
        if (dx)
            DISPATCH(l, fsci__nn_upsample_bwd_f32(l, dy, dx, ws), fsci__nn_upsample_bwd_f64(l, dy, dx, ws));
        break;
    case FSCI_NN_BN:
    case FSCI_NN_BNRELU: {
        const bool relu = k == FSCI_NN_BNRELU;
        DISPATCH(l, fsci__nn_bn_bwd_f32(l, relu, x, y, dy, p, dx, dp),
                 fsci__nn_bn_bwd_f64(l, relu, x, y, dy, p, dx, dp));
        break;
    }
    case FSCI_NN_RELU:
        if (dx)
            DISPATCH(l, fsci__nn_relu_bwd_f32(numel(l->d.in), y, dy, dx),
                     fsci__nn_relu_bwd_f64(numel(l->d.in), y, dy, dx));
        break;
    default: break;
    }
    return FSCI_OK;
}

int fsci_nn_concat(fsci_dtype dtype, fsci_nn_dims a, int64_t cb, const void *xa, const void *xb, void *y)
{
    FSCI_CHECK(xa && xb && y && cb >= 1 && (dtype == FSCI_F32 || dtype == FSCI_F64), FSCI_EINVAL,
               "nn concat: bad arguments (cb = %lld, dtype %s)", (long long)cb, fsci_dtype_name(dtype));
    const size_t es = fsci_dtype_size(dtype), plane = (size_t)(a.h * a.w) * es;
    const size_t ba = (size_t)a.c * plane, bb = (size_t)cb * plane;
    for (int64_t n = 0; n < a.n; n++) {
        char *o = (char *)y + (size_t)n * (ba + bb);
        memcpy(o, (const char *)xa + (size_t)n * ba, ba);
        memcpy(o + ba, (const char *)xb + (size_t)n * bb, bb);
    }
    return FSCI_OK;
}

int fsci_nn_concat_backward(fsci_dtype dtype, fsci_nn_dims a, int64_t cb, const void *dy, void *da, void *db)
{
    FSCI_CHECK(dy && cb >= 1 && (dtype == FSCI_F32 || dtype == FSCI_F64), FSCI_EINVAL,
               "nn concat backward: bad arguments (cb = %lld, dtype %s)", (long long)cb,
               fsci_dtype_name(dtype));
    const size_t es = fsci_dtype_size(dtype), plane = (size_t)(a.h * a.w) * es;
    const size_t ba = (size_t)a.c * plane, bb = (size_t)cb * plane;
    for (int64_t n = 0; n < a.n; n++) {
        const char *s = (const char *)dy + (size_t)n * (ba + bb);
        if (da) memcpy((char *)da + (size_t)n * ba, s, ba);
        if (db) memcpy((char *)db + (size_t)n * bb, s + ba, bb);
    }
    return FSCI_OK;
}

int fsci_nn_masked_mse(fsci_dtype dtype, int64_t n, const void *pred, const void *target, const void *mask,
                       double *loss, void *dpred)
{
    FSCI_CHECK(pred && target && mask && loss && n >= 1, FSCI_EINVAL, "masked MSE: bad arguments (n = %lld)",
               (long long)n);
    FSCI_CHECK(dtype == FSCI_F32 || dtype == FSCI_F64, FSCI_EINVAL, "masked MSE: dtype = %s",
               fsci_dtype_name(dtype));
    return dtype == FSCI_F32 ? fsci__nn_mse_f32(n, pred, target, mask, loss, dpred)
                             : fsci__nn_mse_f64(n, pred, target, mask, loss, dpred);
}
