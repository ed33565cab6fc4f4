/* float32 convolutions through oneDNN's C API (Debian libdnnl 2.6, OpenMP
 * runtime): forward, backward-data and per-image backward-weights
 * primitives are created once per layer plan, with the memory formats oneDNN prefers
 * ("any": blocked nChw16c on AVX-512); our NCHW tensors and PyTorch-layout
 * weights are reordered into and out of those formats in the caller's
 * workspace, so a network's layers share one set of buffers. Weight
 * gradients are per-image primitives summed in image order (see weight_grad). Measured on the
 * 2-core Xeon (bench/RESULTS.md, doc/nn.md): 2.5-3x the im2col + OpenBLAS path
 * for the U-Net's 3x3 layers. FSCI_NN_DNNL=0 in the environment selects the
 * im2col path (comparisons, float64 uses it always). */
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "nn_impl.h"

static dnnl_engine_t g_eng;
static dnnl_stream_t g_stream;
static int g_ok = -1; /* -1 not tried, 0 failed or disabled, 1 ready */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static bool ready(void)
{
    pthread_mutex_lock(&g_lock);
    if (g_ok < 0) {
        const char *e = getenv("FSCI_NN_DNNL");
        g_ok = 0;
        if (!(e && strcmp(e, "0") == 0) && dnnl_engine_create(&g_eng, dnnl_cpu, 0) == dnnl_success) {
            if (dnnl_stream_create(&g_stream, g_eng, dnnl_stream_default_flags) == dnnl_success)
                g_ok = 1;
            else
                dnnl_engine_destroy(g_eng);
        }
    }
    const bool ok = g_ok == 1;
    pthread_mutex_unlock(&g_lock);
    return ok;
}

/* A tensor in the user's layout and in the primitive's, with the reorder
 * between them when they differ (dir > 0: user -> primitive). */
typedef struct {
    dnnl_memory_t user, prim;
    dnnl_primitive_t reorder;
    size_t off; /* byte offset of the primitive-layout buffer in the workspace */
} tensor;

struct fsci__nn_dnnl {
    dnnl_primitive_t fwd, bwd_d;
    tensor f_src, f_w, f_dst;   /* forward */
    tensor d_ddst, d_w, d_dsrc; /* backward data */
    dnnl_memory_t bias;         /* plain (x) */
    dnnl_primitive_desc_t pd_fwd, pd_d;
    /* weight gradient, one image at a time: per-image primitives run on one
     * thread each, with per-thread streams and buffers (doc/nn.md) */
    dnnl_primitive_desc_t pd_fwd1, pd_w1;
    dnnl_primitive_t bwd_w1;
    int nthr;
    tensor *w_src, *w_ddst, *w_dw; /* [nthr] */
    dnnl_memory_t *dbias;          /* [nthr] */
    dnnl_stream_t *streams;        /* [nthr] */
    dnnl_memory_t *scratch;        /* [nthr] oneDNN scratchpads (NULL: none needed) */
    size_t *scratch_off;           /* [nthr] their workspace offsets */
    size_t parts_off;              /* per-image partials (nw + cout floats each) in the workspace */
};

#define DN(call)                                                                                             \
    do {                                                                                                     \
        dnnl_status_t s_ = (call);                                                                           \
        if (s_ != dnnl_success) {                                                                            \
            st = fsci_error_set(FSCI_ENOTSUP, __FILE__, __LINE__, __func__, "oneDNN: %s failed (status %d)", \
                                #call, (int)s_);                                                             \
            goto fail;                                                                                       \
        }                                                                                                    \
    } while (0)

/* user: a plain md; prim: the primitive's md. dir > 0 reorders user ->
 * prim, dir < 0 prim -> user. Reserves workspace when they differ. */
static int tensor_make(tensor *t, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *prim, int dir,
                       size_t *ws)
{
    int st = FSCI_OK;
    dnnl_primitive_desc_t rpd = NULL;
    DN(dnnl_memory_create(&t->user, user, g_eng, DNNL_MEMORY_NONE));
    if (dnnl_memory_desc_equal(user, prim)) return FSCI_OK;
    DN(dnnl_memory_create(&t->prim, prim, g_eng, DNNL_MEMORY_NONE));
    t->off = *ws;
    *ws += (dnnl_memory_desc_get_size(prim) + 63) / 64 * 64;
    if (dir > 0)
        DN(dnnl_reorder_primitive_desc_create(&rpd, user, g_eng, prim, g_eng, NULL));
    else
        DN(dnnl_reorder_primitive_desc_create(&rpd, prim, g_eng, user, g_eng, NULL));
    DN(dnnl_primitive_create(&t->reorder, rpd));
fail:
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return st;
}

static void tensor_free(tensor *t)
{
    if (t->user) dnnl_memory_destroy(t->user);
    if (t->prim) dnnl_memory_destroy(t->prim);
    if (t->reorder) dnnl_primitive_destroy(t->reorder);
    memset(t, 0, sizeof *t);
}

void fsci__nn_dnnl_free(fsci__nn_dnnl **pd)
{
    fsci__nn_dnnl *d = *pd;
    if (!d) return;
    tensor *ts[] = {&d->f_src, &d->f_w, &d->f_dst, &d->d_ddst, &d->d_w, &d->d_dsrc};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) tensor_free(ts[i]);
    dnnl_primitive_t ps[] = {d->fwd, d->bwd_d};
    for (int i = 0; i < 2; i++)
        if (ps[i]) dnnl_primitive_destroy(ps[i]);
    dnnl_primitive_desc_t pds[] = {d->pd_fwd, d->pd_d};
    for (int i = 0; i < 2; i++)
        if (pds[i]) dnnl_primitive_desc_destroy(pds[i]);
    if (d->bias) dnnl_memory_destroy(d->bias);
    for (int t = 0; t < d->nthr; t++) {
        if (d->w_src) tensor_free(&d->w_src[t]);
        if (d->w_ddst) tensor_free(&d->w_ddst[t]);
        if (d->w_dw) tensor_free(&d->w_dw[t]);
        if (d->dbias && d->dbias[t]) dnnl_memory_destroy(d->dbias[t]);
        if (d->streams && d->streams[t]) dnnl_stream_destroy(d->streams[t]);
        if (d->scratch && d->scratch[t]) dnnl_memory_destroy(d->scratch[t]);
    }
    if (d->bwd_w1) dnnl_primitive_destroy(d->bwd_w1);
    if (d->pd_w1) dnnl_primitive_desc_destroy(d->pd_w1);
    if (d->pd_fwd1) dnnl_primitive_desc_destroy(d->pd_fwd1);
    fsci_free(d->w_src);
    fsci_free(d->w_ddst);
    fsci_free(d->w_dw);
    fsci_free(d->dbias);
    fsci_free(d->streams);
    fsci_free(d->scratch);
    fsci_free(d->scratch_off);
    fsci_free(d);
    *pd = NULL;
}

int fsci__nn_dnnl_plan(fsci_nn_layer *l, size_t *ws)
{
    int st = FSCI_OK, keep = -1;
    dnnl_primitive_attr_t attr = NULL;
    fsci__nn_dnnl *d = NULL;
    const fsci_nn_layer_desc *ld = &l->d;
    if (ld->dtype != FSCI_F32 || ld->kind != FSCI_NN_CONV || !ready()) return FSCI_ENOTSUP;
    d = fsci_calloc(1, sizeof *d);
    FSCI_CHECK(d, FSCI_ENOMEM, "nn: out of memory");
    const dnnl_dims_t sd = {ld->in.n, ld->in.c, ld->in.h, ld->in.w}, wd = {ld->cout, ld->in.c, ld->k, ld->k};
    const dnnl_dims_t bd = {ld->cout}, dd = {l->out.n, l->out.c, l->out.h, l->out.w};
    const dnnl_dims_t strides = {ld->stride, ld->stride}, pad = {ld->pad, ld->pad};
    /* oneDNN pads at the right so that the output has the size we planned */
    const dnnl_dims_t padr = {(l->out.h - 1) * ld->stride + ld->k - ld->in.h - ld->pad,
                              (l->out.w - 1) * ld->stride + ld->k - ld->in.w - ld->pad};
    dnnl_memory_desc_t s_u, w_u, b_u, d_u, s_a, w_a, d_a;
    DN(dnnl_memory_desc_init_by_tag(&s_u, 4, sd, dnnl_f32, dnnl_nchw));
    DN(dnnl_memory_desc_init_by_tag(&w_u, 4, wd, dnnl_f32, dnnl_oihw));
    DN(dnnl_memory_desc_init_by_tag(&b_u, 1, bd, dnnl_f32, dnnl_x));
    DN(dnnl_memory_desc_init_by_tag(&d_u, 4, dd, dnnl_f32, dnnl_nchw));
    DN(dnnl_memory_desc_init_by_tag(&s_a, 4, sd, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&w_a, 4, wd, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&d_a, 4, dd, dnnl_f32, dnnl_format_tag_any));
    const dnnl_memory_desc_t *bias_md = ld->bias ? &b_u : NULL;
    dnnl_convolution_desc_t cf, cb;
    DN(dnnl_convolution_forward_desc_init(&cf, dnnl_forward_training, dnnl_convolution_direct, &s_a, &w_a,
                                          bias_md, &d_a, strides, pad, padr));
    DN(dnnl_primitive_desc_create(&d->pd_fwd, &cf, NULL, g_eng, NULL));
    DN(dnnl_convolution_backward_data_desc_init(&cb, dnnl_convolution_direct, &s_a, &w_a, &d_a, strides, pad,
                                                padr));
    DN(dnnl_primitive_desc_create(&d->pd_d, &cb, NULL, g_eng, d->pd_fwd));
    DN(dnnl_primitive_create(&d->fwd, d->pd_fwd));
    DN(dnnl_primitive_create(&d->bwd_d, d->pd_d));
    size_t w = 0;
#define MD(pd, q) dnnl_primitive_desc_query_md(pd, q, 0)
    FSCI_TRY(tensor_make(&d->f_src, &s_u, MD(d->pd_fwd, dnnl_query_src_md), 1, &w));
    FSCI_TRY(tensor_make(&d->f_w, &w_u, MD(d->pd_fwd, dnnl_query_weights_md), 1, &w));
    FSCI_TRY(tensor_make(&d->f_dst, &d_u, MD(d->pd_fwd, dnnl_query_dst_md), -1, &w));
    /* backward: its buffers may reuse the forward's space (forward is done) */
    size_t wb = 0;
    FSCI_TRY(tensor_make(&d->d_ddst, &d_u, MD(d->pd_d, dnnl_query_diff_dst_md), 1, &wb));
    FSCI_TRY(tensor_make(&d->d_w, &w_u, MD(d->pd_d, dnnl_query_weights_md), 1, &wb));
    FSCI_TRY(tensor_make(&d->d_dsrc, &s_u, MD(d->pd_d, dnnl_query_diff_src_md), -1, &wb));
    /* the weight gradient per image (mb = 1) */
    {
        const dnnl_dims_t sd1 = {1, ld->in.c, ld->in.h, ld->in.w}, dd1 = {1, l->out.c, l->out.h, l->out.w};
        dnnl_memory_desc_t s1_u, d1_u, s1_a, d1_a;
        dnnl_convolution_desc_t cf1, cw1;
        DN(dnnl_memory_desc_init_by_tag(&s1_u, 4, sd1, dnnl_f32, dnnl_nchw));
        DN(dnnl_memory_desc_init_by_tag(&d1_u, 4, dd1, dnnl_f32, dnnl_nchw));
        DN(dnnl_memory_desc_init_by_tag(&s1_a, 4, sd1, dnnl_f32, dnnl_format_tag_any));
        DN(dnnl_memory_desc_init_by_tag(&d1_a, 4, dd1, dnnl_f32, dnnl_format_tag_any));
        DN(dnnl_convolution_forward_desc_init(&cf1, dnnl_forward_training, dnnl_convolution_direct, &s1_a,
                                              &w_a, bias_md, &d1_a, strides, pad, padr));
        DN(dnnl_primitive_desc_create(&d->pd_fwd1, &cf1, NULL, g_eng, NULL));
        DN(dnnl_convolution_backward_weights_desc_init(&cw1, dnnl_convolution_direct, &s1_a, &w_a, bias_md,
                                                       &d1_a, strides, pad, padr));
        /* planned for one thread, with its reorders: they run on one thread
         * inside our parallel region (a primitive planned for more would
         * wait at its barriers for threads a nested region does not have) */
        keep = omp_get_max_threads();
        omp_set_num_threads(1);
        /* our own scratchpad per thread: oneDNN's default one is shared by
         * every thread of the process */
        DN(dnnl_primitive_attr_create(&attr));
        DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
        DN(dnnl_primitive_desc_create(&d->pd_w1, &cw1, attr, g_eng, d->pd_fwd1));
        DN(dnnl_primitive_create(&d->bwd_w1, d->pd_w1));
        const dnnl_memory_desc_t *spmd = dnnl_primitive_desc_query_md(d->pd_w1, dnnl_query_scratchpad_md, 0);
        const size_t spsz = spmd ? dnnl_memory_desc_get_size(spmd) : 0;
        d->nthr = l->nthr;
        d->w_src = fsci_calloc((size_t)d->nthr, sizeof(tensor));
        d->w_ddst = fsci_calloc((size_t)d->nthr, sizeof(tensor));
        d->w_dw = fsci_calloc((size_t)d->nthr, sizeof(tensor));
        d->dbias = fsci_calloc((size_t)d->nthr, sizeof(dnnl_memory_t));
        d->streams = fsci_calloc((size_t)d->nthr, sizeof(dnnl_stream_t));
        d->scratch = fsci_calloc((size_t)d->nthr, sizeof(dnnl_memory_t));
        d->scratch_off = fsci_calloc((size_t)d->nthr, sizeof(size_t));
        FSCI_CHECK_GOTO(d->w_src && d->w_ddst && d->w_dw && d->dbias && d->streams && d->scratch &&
                            d->scratch_off,
                        FSCI_ENOMEM, "nn: out of memory");
        for (int t = 0; t < d->nthr; t++) {
            FSCI_TRY(tensor_make(&d->w_src[t], &s1_u, MD(d->pd_w1, dnnl_query_src_md), 1, &wb));
            FSCI_TRY(tensor_make(&d->w_ddst[t], &d1_u, MD(d->pd_w1, dnnl_query_diff_dst_md), 1, &wb));
            FSCI_TRY(tensor_make(&d->w_dw[t], &w_u, MD(d->pd_w1, dnnl_query_diff_weights_md), -1, &wb));
            if (ld->bias) DN(dnnl_memory_create(&d->dbias[t], &b_u, g_eng, DNNL_MEMORY_NONE));
            DN(dnnl_stream_create(&d->streams[t], g_eng, dnnl_stream_default_flags));
            if (spsz) {
                DN(dnnl_memory_create(&d->scratch[t], spmd, g_eng, DNNL_MEMORY_NONE));
                d->scratch_off[t] = wb;
                wb += (spsz + 63) / 64 * 64;
            }
        }
        omp_set_num_threads(keep);
        keep = -1;
        d->parts_off = wb;
        wb += (size_t)(ld->in.n * (ld->cout * ld->in.c * ld->k * ld->k + ld->cout)) * sizeof(float);
    }
#undef MD
    if (ld->bias) DN(dnnl_memory_create(&d->bias, &b_u, g_eng, DNNL_MEMORY_NONE));
    l->dn = d;
    *ws = w > wb ? w : wb;
    dnnl_primitive_attr_destroy(attr);
    return FSCI_OK;
fail:
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (keep > 0) omp_set_num_threads(keep);
    fsci__nn_dnnl_free(&d);
    return st;
}

/* The primitive-side memory of t for this call: the user's buffer when no
 * reorder is needed, else the workspace slot (reordered into when dir > 0). */
static int bind(tensor *t, void *user, char *ws, int dir, dnnl_memory_t *out, dnnl_stream_t stream)
{
    int st = FSCI_OK;
    DN(dnnl_memory_set_data_handle(t->user, user));
    if (!t->reorder) {
        *out = t->user;
        return FSCI_OK;
    }
    DN(dnnl_memory_set_data_handle(t->prim, ws + t->off));
    if (dir > 0) {
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, t->user}, {DNNL_ARG_TO, t->prim}};
        DN(dnnl_primitive_execute(t->reorder, stream, 2, a));
    }
    *out = t->prim;
fail:
    return st;
}

static int unbind(tensor *t, dnnl_stream_t stream)
{
    int st = FSCI_OK;
    if (t->reorder) {
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, t->prim}, {DNNL_ARG_TO, t->user}};
        DN(dnnl_primitive_execute(t->reorder, stream, 2, a));
    }
fail:
    return st;
}

/* void * for oneDNN's handles, which are not const-qualified */
static void *mut(const void *p)
{
    void *q;
    memcpy(&q, &p, sizeof q);
    return q;
}

int fsci__nn_dnnl_fwd(const fsci_nn_layer *l, const float *x, const float *p, float *y, void *ws)
{
    int st = FSCI_OK;
    fsci__nn_dnnl *d = l->dn;
    const int64_t nw = l->d.cout * l->d.in.c * l->d.k * l->d.k;
    dnnl_memory_t s = NULL, w = NULL, o = NULL;
    FSCI_TRY(bind(&d->f_src, mut(x), ws, 1, &s, g_stream));
    FSCI_TRY(bind(&d->f_w, mut(p), ws, 1, &w, g_stream));
    FSCI_TRY(bind(&d->f_dst, y, ws, 0, &o, g_stream));
    dnnl_exec_arg_t a[4] = {
        {DNNL_ARG_SRC, s}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, o}, {DNNL_ARG_BIAS, d->bias}};
    if (l->d.bias) DN(dnnl_memory_set_data_handle(d->bias, mut(p + nw)));
    DN(dnnl_primitive_execute(d->fwd, g_stream, l->d.bias ? 4 : 3, a));
    FSCI_TRY(unbind(&d->f_dst, g_stream));
    DN(dnnl_stream_wait(g_stream));
fail:
    return st;
}

/* The weight gradient sums over images and pixels. oneDNN's batched
 * primitive splits that sum between threads, so its bits would depend on
 * the thread count; here each image's gradient is computed by one thread
 * (oneDNN runs serially inside our parallel region, or with one thread), and
 * the per-image partials are summed in image order: the same bits for every
 * thread count. One image with several threads takes the im2col path. */
static int weight_grad(const fsci_nn_layer *l, const float *x, const float *dy, float *dp, void *ws)
{
    fsci__nn_dnnl *d = l->dn;
    const fsci_nn_layer_desc *ld = &l->d;
    const int64_t N = ld->in.n, nw = ld->cout * ld->in.c * ld->k * ld->k, np = nw + ld->cout;
    const int64_t xin = ld->in.c * ld->in.h * ld->in.w, yo = l->out.c * l->out.h * l->out.w;
    int nt = omp_get_max_threads() < d->nthr ? omp_get_max_threads() : d->nthr;
    if (N < nt) nt = (int)N;
    if (nt == 1 && omp_get_max_threads() > 1) {
        fsci__nn_conv_bwd_f32(l, x, dy, NULL, NULL, dp, ws);
        return FSCI_OK;
    }
    float *parts = (float *)((char *)ws + d->parts_off);
    int bad = FSCI_OK;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t n = 0; n < N; n++) {
        const int t = nt > 1 ? omp_get_thread_num() : 0;
        int st = FSCI_OK;
        dnnl_memory_t a0 = NULL, a1 = NULL, a2 = NULL;
        float *part = parts + n * np;
        FSCI_TRY(bind(&d->w_src[t], mut(x + n * xin), ws, 1, &a0, d->streams[t]));
        FSCI_TRY(bind(&d->w_ddst[t], mut(dy + n * yo), ws, 1, &a1, d->streams[t]));
        FSCI_TRY(bind(&d->w_dw[t], part, ws, 0, &a2, d->streams[t]));
        dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, a0}, {DNNL_ARG_DIFF_DST, a1}, {DNNL_ARG_DIFF_WEIGHTS, a2}};
        int na = 3;
        if (d->scratch[t]) {
            DN(dnnl_memory_set_data_handle(d->scratch[t], (char *)ws + d->scratch_off[t]));
            a[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, d->scratch[t]};
        }
        if (ld->bias) {
            DN(dnnl_memory_set_data_handle(d->dbias[t], part + nw));
            a[na++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_BIAS, d->dbias[t]};
        }
        DN(dnnl_primitive_execute(d->bwd_w1, d->streams[t], na, a));
        FSCI_TRY(unbind(&d->w_dw[t], d->streams[t]));
        DN(dnnl_stream_wait(d->streams[t]));
    fail:
        if (st) {
#pragma omp atomic write
            bad = st;
        }
    }
    if (bad) return bad;
    const int64_t tot = ld->bias ? np : nw;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < tot; i++) {
        float s = parts[i];
        for (int64_t n = 1; n < N; n++) s += parts[n * np + i];
        dp[i] = s;
    }
    return FSCI_OK;
}

int fsci__nn_dnnl_bwd(const fsci_nn_layer *l, const float *x, const float *dy, const float *p, float *dx,
                      float *dp, void *ws)
{
    int st = FSCI_OK;
    fsci__nn_dnnl *d = l->dn;
    dnnl_memory_t a0 = NULL, a1 = NULL, a2 = NULL;
    if (dx) {
        FSCI_TRY(bind(&d->d_ddst, mut(dy), ws, 1, &a0, g_stream));
        FSCI_TRY(bind(&d->d_w, mut(p), ws, 1, &a1, g_stream));
        FSCI_TRY(bind(&d->d_dsrc, dx, ws, 0, &a2, g_stream));
        dnnl_exec_arg_t a[3] = {{DNNL_ARG_DIFF_DST, a0}, {DNNL_ARG_WEIGHTS, a1}, {DNNL_ARG_DIFF_SRC, a2}};
        DN(dnnl_primitive_execute(d->bwd_d, g_stream, 3, a));
        FSCI_TRY(unbind(&d->d_dsrc, g_stream));
    }
    DN(dnnl_stream_wait(g_stream));
    if (dp) FSCI_TRY(weight_grad(l, x, dy, dp, ws));
fail:
    return st;
}
