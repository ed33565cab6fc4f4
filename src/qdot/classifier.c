/* The charge-state classifier: an ensemble of TinyCNNs on the nn layers
 * (convolutions and fused batch norm + ReLU), with the head written here:
 * global average pooling, dropout, two linear layers and softmax
 * cross-entropy, forward and backward. The head is a few thousand
 * multiply-adds per patch, so it runs in double precision from the float32
 * feature maps; its parameters are stored as float32 with the rest.
 * Architecture, training and file format: doc/qdot_classifier.md. */
#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/atomic.h"
#include "fastsci/core/error.h"
#include "fastsci/core/rng.h"
#include "fastsci/nn.h"
#include "qdot/classifier.h"

#define NCONV 4
#define NPIX FSCI__QDOT_CLS_NPIX
#define NCLS FSCI__QDOT_CLS_NCLASS
#define HID FSCI__QDOT_CLS_HIDDEN
#define FEAT FSCI__QDOT_CLS_FEAT
#define EVAL_CHUNK 256

static const int64_t chans[NCONV] = {16, 32, 64, FEAT};

/* Offsets in one member's weights (PyTorch state_dict order). */
typedef struct {
    int64_t conv[NCONV], bn[NCONV], w1, b1, w2, b2, n;
} layout;

static layout lay(void)
{
    layout L;
    int64_t o = 0, cin = 1;
    for (int b = 0; b < NCONV; b++) {
        L.conv[b] = o;
        o += chans[b] * cin * 9;
        L.bn[b] = o;
        o += 4 * chans[b];
        cin = chans[b];
    }
    L.w1 = o;
    o += HID * FEAT;
    L.b1 = o;
    o += HID;
    L.w2 = o;
    o += NCLS * HID;
    L.b2 = o;
    o += NCLS;
    L.n = o;
    return L;
}

int64_t fsci__qdot_cls_member_nweights(void)
{
    return lay().n;
}

struct fsci__qdot_cls {
    int members;
    int64_t nw;
    float *w; /* members x nw */
    double val_accuracy;
    uint64_t seed;
};

/* ---- head pieces -------------------------------------------------------------- */

void fsci__qdot_cls_gap_forward(fsci_dtype dtype, int64_t n, int64_t c, int64_t hw, const void *x, double *y)
{
    for (int64_t i = 0; i < n * c; i++) {
        double s = 0;
        if (dtype == FSCI_F32) {
            const float *p = (const float *)x + i * hw;
            for (int64_t j = 0; j < hw; j++) s += (double)p[j];
        } else {
            const double *p = (const double *)x + i * hw;
            for (int64_t j = 0; j < hw; j++) s += p[j];
        }
        y[i] = s / (double)hw;
    }
}

void fsci__qdot_cls_gap_backward(fsci_dtype dtype, int64_t n, int64_t c, int64_t hw, const double *dy,
                                 void *dx)
{
    for (int64_t i = 0; i < n * c; i++) {
        const double g = dy[i] / (double)hw;
        if (dtype == FSCI_F32) {
            float *p = (float *)dx + i * hw;
            for (int64_t j = 0; j < hw; j++) p[j] = (float)g;
        } else {
            double *p = (double *)dx + i * hw;
            for (int64_t j = 0; j < hw; j++) p[j] = g;
        }
    }
}

void fsci__qdot_cls_linear_forward(int64_t n, int64_t in, int64_t out, const double *w, const double *b,
                                   const double *x, double *y)
{
    for (int64_t i = 0; i < n; i++) memcpy(y + i * out, b, (size_t)out * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0, x, (int)in, w,
                (int)in, 1.0, y, (int)out);
}

void fsci__qdot_cls_linear_backward(int64_t n, int64_t in, int64_t out, const double *w, const double *x,
                                    const double *dy, double *dx, double *dw, double *db)
{
    if (dx)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out, 1.0, dy, (int)out,
                    w, (int)in, 0.0, dx, (int)in);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n, 1.0, dy, (int)out, x,
                (int)in, 0.0, dw, (int)in);
    for (int64_t k = 0; k < out; k++) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += dy[i * out + k];
        db[k] = s;
    }
}

void fsci__qdot_cls_softmax_ce(int64_t n, int64_t k, const double *logits, const int32_t *label, double *loss,
                               double *dlogits, double *probs)
{
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        const double *z = logits + i * k;
        double m = z[0];
        for (int64_t j = 1; j < k; j++) m = z[j] > m ? z[j] : m;
        double s = 0;
        for (int64_t j = 0; j < k; j++) s += exp(z[j] - m);
        const double lse = m + log(s);
        total += lse - z[label[i]];
        for (int64_t j = 0; j < k; j++) {
            const double p = exp(z[j] - lse);
            if (probs) probs[i * k + j] = p;
            if (dlogits) dlogits[i * k + j] = (p - (j == label[i] ? 1.0 : 0.0)) / (double)n;
        }
    }
    if (loss) *loss = n > 0 ? total / (double)n : 0;
}

/* ---- plans -------------------------------------------------------------------- */

typedef struct {
    int64_t n;
    bool grads;
    fsci_nn_layer *conv[NCONV], *bn[NCONV];
    float *yc[NCONV], *yb[NCONV], *dyc[NCONV], *dyb[NCONV];
    void *ws;
    double *pool, *mask, *h, *hr, *logits;        /* n x FEAT, FEAT, HID, HID, NCLS */
    double *dlogits, *dhr, *dpool, *head, *dhead; /* head: double copy of the head's parameters */
} plan;

static void plan_destroy(plan **pp)
{
    plan *p = *pp;
    if (!p) return;
    for (int b = 0; b < NCONV; b++) {
        fsci_nn_layer_destroy(&p->conv[b]);
        fsci_nn_layer_destroy(&p->bn[b]);
        fsci_free(p->yc[b]);
        fsci_free(p->yb[b]);
        fsci_free(p->dyc[b]);
        fsci_free(p->dyb[b]);
    }
    double *d[] = {p->pool, p->mask, p->h, p->hr, p->logits, p->dlogits, p->dhr, p->dpool, p->head, p->dhead};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) fsci_free(d[i]);
    fsci_free(p->ws);
    fsci_free(p);
    *pp = NULL;
}

static int plan_create(int64_t n, bool grads, plan **out)
{
    int st = FSCI_OK;
    plan *p = fsci_calloc(1, sizeof *p);
    FSCI_CHECK(p, FSCI_ENOMEM, "qdot classifier: out of memory");
    p->n = n;
    p->grads = grads;
    fsci_nn_dims d = {n, 1, FSCI__QDOT_CLS_SIDE, FSCI__QDOT_CLS_SIDE};
    size_t wsz = 0;
    for (int b = 0; b < NCONV; b++) {
        fsci_nn_layer_desc cd = {.kind = FSCI_NN_CONV,
                                 .in = d,
                                 .dtype = FSCI_F32,
                                 .cout = chans[b],
                                 .k = 3,
                                 .stride = 2,
                                 .pad = 1,
                                 .bias = false};
        FSCI_TRY(fsci_nn_layer_create(&cd, &p->conv[b]));
        d = fsci_nn_layer_out(p->conv[b]);
        fsci_nn_layer_desc bd = {.kind = FSCI_NN_BNRELU, .in = d, .dtype = FSCI_F32};
        FSCI_TRY(fsci_nn_layer_create(&bd, &p->bn[b]));
        const size_t ne = (size_t)(d.n * d.c * d.h * d.w);
        p->yc[b] = fsci_malloc(ne, sizeof(float));
        p->yb[b] = fsci_malloc(ne, sizeof(float));
        FSCI_CHECK_GOTO(p->yc[b] && p->yb[b], FSCI_ENOMEM, "qdot classifier: out of memory");
        if (grads) {
            p->dyc[b] = fsci_malloc(ne, sizeof(float));
            p->dyb[b] = fsci_malloc(ne, sizeof(float));
            FSCI_CHECK_GOTO(p->dyc[b] && p->dyb[b], FSCI_ENOMEM, "qdot classifier: out of memory");
        }
        const size_t w1 = fsci_nn_layer_workspace(p->conv[b]), w2 = fsci_nn_layer_workspace(p->bn[b]);
        wsz = w1 > wsz ? w1 : wsz;
        wsz = w2 > wsz ? w2 : wsz;
    }
    p->ws = fsci_malloc(wsz ? wsz : 1, 1);
    const layout L = lay();
    const size_t nh = (size_t)(L.n - L.w1);
    p->pool = fsci_malloc((size_t)n * FEAT, sizeof(double));
    p->mask = fsci_malloc((size_t)n * FEAT, sizeof(double));
    p->h = fsci_malloc((size_t)n * HID, sizeof(double));
    p->hr = fsci_malloc((size_t)n * HID, sizeof(double));
    p->logits = fsci_malloc((size_t)n * NCLS, sizeof(double));
    p->dlogits = fsci_malloc((size_t)n * NCLS, sizeof(double));
    p->dhr = fsci_malloc((size_t)n * HID, sizeof(double));
    p->dpool = fsci_malloc((size_t)n * FEAT, sizeof(double));
    p->head = fsci_malloc(nh, sizeof(double));
    p->dhead = fsci_malloc(nh, sizeof(double));
    FSCI_CHECK_GOTO(p->ws && p->pool && p->mask && p->h && p->hr && p->logits && p->dlogits && p->dhr &&
                        p->dpool && p->head && p->dhead,
                    FSCI_ENOMEM, "qdot classifier: out of memory");
    *out = p;
    return FSCI_OK;
fail:
    plan_destroy(&p);
    return st;
}

/* Forward pass of one member on p->n patches x; logits in p->logits. mask:
 * dropout multipliers (n x FEAT) or NULL. */
static int forward(plan *p, float *w, bool train, const float *x, const double *mask)
{
    int st = FSCI_OK;
    const layout L = lay();
    const float *in = x;
    for (int b = 0; b < NCONV; b++) {
        const int64_t c = chans[b];
        FSCI_TRY(fsci_nn_layer_forward(p->conv[b], train, in, w + L.conv[b], NULL, p->yc[b], p->ws));
        FSCI_TRY(fsci_nn_layer_forward(p->bn[b], train, p->yc[b], w + L.bn[b], w + L.bn[b] + 2 * c, p->yb[b],
                                       p->ws));
        in = p->yb[b];
    }
    const fsci_nn_dims d = fsci_nn_layer_out(p->bn[NCONV - 1]);
    const int64_t n = p->n;
    fsci__qdot_cls_gap_forward(FSCI_F32, n, FEAT, d.h * d.w, p->yb[NCONV - 1], p->pool);
    if (mask)
        for (int64_t i = 0; i < n * FEAT; i++) p->pool[i] *= mask[i];
    for (int64_t i = 0; i < L.n - L.w1; i++) p->head[i] = w[L.w1 + i];
    const double *w1 = p->head, *b1 = w1 + (L.b1 - L.w1), *w2 = w1 + (L.w2 - L.w1), *b2 = w1 + (L.b2 - L.w1);
    fsci__qdot_cls_linear_forward(n, FEAT, HID, w1, b1, p->pool, p->h);
    for (int64_t i = 0; i < n * HID; i++) p->hr[i] = p->h[i] > 0 ? p->h[i] : 0;
    fsci__qdot_cls_linear_forward(n, HID, NCLS, w2, b2, p->hr, p->logits);
    return FSCI_OK;
fail:
    return st;
}

/* Backward pass after a train-mode forward: grad (L.n floats) from the mean
 * cross-entropy against label; *loss gets it. */
static int backward(plan *p, float *w, const float *x, const int32_t *label, const double *mask, float *grad,
                    double *loss)
{
    int st = FSCI_OK;
    const layout L = lay();
    const int64_t n = p->n;
    fsci__qdot_cls_softmax_ce(n, NCLS, p->logits, label, loss, p->dlogits, NULL);
    const double *w1 = p->head, *w2 = w1 + (L.w2 - L.w1);
    double *gw1 = p->dhead, *gb1 = gw1 + (L.b1 - L.w1), *gw2 = gw1 + (L.w2 - L.w1),
           *gb2 = gw1 + (L.b2 - L.w1);
    fsci__qdot_cls_linear_backward(n, HID, NCLS, w2, p->hr, p->dlogits, p->dhr, gw2, gb2);
    for (int64_t i = 0; i < n * HID; i++)
        if (!(p->h[i] > 0)) p->dhr[i] = 0;
    fsci__qdot_cls_linear_backward(n, FEAT, HID, w1, p->pool, p->dhr, p->dpool, gw1, gb1);
    if (mask)
        for (int64_t i = 0; i < n * FEAT; i++) p->dpool[i] *= mask[i];
    for (int64_t i = 0; i < L.n - L.w1; i++) grad[L.w1 + i] = (float)p->dhead[i];
    const fsci_nn_dims d = fsci_nn_layer_out(p->bn[NCONV - 1]);
    fsci__qdot_cls_gap_backward(FSCI_F32, n, FEAT, d.h * d.w, p->dpool, p->dyb[NCONV - 1]);
    for (int b = NCONV - 1; b >= 0; b--) {
        const int64_t c = chans[b];
        FSCI_TRY(fsci_nn_layer_backward(p->bn[b], p->yc[b], p->yb[b], p->dyb[b], w + L.bn[b], p->dyc[b],
                                        grad + L.bn[b], p->ws));
        memset(grad + L.bn[b] + 2 * c, 0, (size_t)(2 * c) * sizeof(float)); /* running stats */
        FSCI_TRY(fsci_nn_layer_backward(p->conv[b], b ? p->yb[b - 1] : x, NULL, p->dyc[b], w + L.conv[b],
                                        b ? p->dyb[b - 1] : NULL, grad + L.conv[b], p->ws));
    }
    return FSCI_OK;
fail:
    return st;
}

/* The plan in *slot for n patches, re-planned when its size differs. */
static int plan_for(plan **slot, int64_t n)
{
    if (*slot && (*slot)->n == n) return FSCI_OK;
    plan_destroy(slot);
    return plan_create(n, false, slot);
}

/* Eval-mode softmax of one member on n patches: probs (n x 3, double).
 * Chunks of EVAL_CHUNK use slots[0], the remainder slots[1]. */
static int member_probs(plan **slots, float *w, const float *x, int64_t n, double *probs)
{
    int st = FSCI_OK;
    for (int64_t i0 = 0; i0 < n; i0 += EVAL_CHUNK) {
        const int64_t m = n - i0 < EVAL_CHUNK ? n - i0 : EVAL_CHUNK;
        plan **s = m == EVAL_CHUNK ? &slots[0] : &slots[1];
        FSCI_TRY(plan_for(s, m));
        FSCI_TRY(forward(*s, w, false, x + i0 * NPIX, NULL));
        for (int64_t i = 0; i < m; i++) {
            const double *z = (*s)->logits + i * NCLS;
            double mx = z[0], sum = 0;
            for (int k = 1; k < NCLS; k++) mx = z[k] > mx ? z[k] : mx;
            for (int k = 0; k < NCLS; k++) sum += exp(z[k] - mx);
            for (int k = 0; k < NCLS; k++) probs[(i0 + i) * NCLS + k] = exp(z[k] - mx) / sum;
        }
    }
    return FSCI_OK;
fail:
    return st;
}

/* ---- the ensemble ------------------------------------------------------------- */

static void init_member(float *w, uint64_t seed, int m)
{
    const layout L = lay();
    fsci_rng r;
    fsci_rng_init(&r, seed, FSCI__QDOT_CLS_STREAM_INIT, (uint64_t)m, 0);
    int64_t cin = 1;
    /* PyTorch's defaults: kaiming_uniform(a = sqrt 5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    for (int b = 0; b < NCONV; b++) {
        const int64_t c = chans[b], nw = c * cin * 9;
        const double bound = 1 / sqrt((double)(cin * 9));
        for (int64_t i = 0; i < nw; i++) w[L.conv[b] + i] = (float)((2 * fsci_rng_uniform(&r) - 1) * bound);
        for (int64_t k = 0; k < c; k++) {
            w[L.bn[b] + k] = 1;
            w[L.bn[b] + c + k] = 0;
            w[L.bn[b] + 2 * c + k] = 0;
            w[L.bn[b] + 3 * c + k] = 1;
        }
        cin = c;
    }
    const int64_t lin[2][3] = {{L.w1, HID, FEAT}, {L.w2, NCLS, HID}};
    for (int q = 0; q < 2; q++) {
        const int64_t off = lin[q][0], out = lin[q][1], in = lin[q][2];
        const double bound = 1 / sqrt((double)in);
        for (int64_t i = 0; i < out * in + out; i++)
            w[off + i] = (float)((2 * fsci_rng_uniform(&r) - 1) * bound);
    }
}

static int cls_alloc(int members, fsci__qdot_cls **out)
{
    FSCI_CHECK(members >= 1 && members <= FSCI__QDOT_CLS_MAX_MEMBERS, FSCI_EINVAL,
               "qdot classifier: members = %d (1..%d)", members, FSCI__QDOT_CLS_MAX_MEMBERS);
    fsci__qdot_cls *c = fsci_calloc(1, sizeof *c);
    FSCI_CHECK(c, FSCI_ENOMEM, "qdot classifier: out of memory");
    c->members = members;
    c->nw = lay().n;
    c->w = fsci_malloc((size_t)(members * c->nw), sizeof(float));
    c->val_accuracy = NAN;
    if (!c->w) {
        fsci_free(c);
        FSCI_CHECK(0, FSCI_ENOMEM, "qdot classifier: out of memory");
    }
    *out = c;
    return FSCI_OK;
}

int fsci__qdot_cls_create(int members, uint64_t seed, fsci__qdot_cls **out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "qdot classifier: NULL output");
    *out = NULL;
    int st = cls_alloc(members, out);
    if (st != FSCI_OK) return st;
    (*out)->seed = seed;
    for (int m = 0; m < members; m++) init_member((*out)->w + m * (*out)->nw, seed, m);
    return FSCI_OK;
}

void fsci__qdot_cls_destroy(fsci__qdot_cls **c)
{
    if (!c || !*c) return;
    fsci_free((*c)->w);
    fsci_free(*c);
    *c = NULL;
}

int fsci__qdot_cls_members(const fsci__qdot_cls *c)
{
    return c->members;
}

float *fsci__qdot_cls_weights(fsci__qdot_cls *c, int m)
{
    return c->w + (int64_t)m * c->nw;
}

int fsci__qdot_cls_predict(const fsci__qdot_cls *c, const float *x, int64_t n, float *probs, int32_t *label,
                           float *conf, float *disagreement)
{
    int st = FSCI_OK;
    plan *slots[2] = {NULL, NULL};
    float *w = NULL;
    double *mp = NULL, *dis = NULL, *mean = NULL;
    FSCI_CHECK(c, FSCI_EINVAL, "qdot classifier: NULL classifier");
    FSCI_CHECK(n >= 0, FSCI_EINVAL, "qdot classifier: n = %lld patches (>= 0)", (long long)n);
    if (n == 0) return FSCI_OK;
    FSCI_CHECK(x, FSCI_EINVAL, "qdot classifier: NULL patches");
    /* a private copy: BN reads its running statistics through a mutable pointer */
    w = fsci_malloc((size_t)c->nw, sizeof(float));
    const int64_t chunk = 16 * EVAL_CHUNK;
    mp = fsci_malloc((size_t)(c->members * chunk * NCLS), sizeof(double));
    mean = fsci_malloc((size_t)(chunk * NCLS), sizeof(double));
    dis = fsci_malloc((size_t)chunk, sizeof(double));
    FSCI_CHECK_GOTO(w && mp && mean && dis, FSCI_ENOMEM, "qdot classifier: out of memory");
    for (int64_t i0 = 0; i0 < n; i0 += chunk) {
        const int64_t m = n - i0 < chunk ? n - i0 : chunk;
        for (int k = 0; k < c->members; k++) {
            memcpy(w, c->w + k * c->nw, (size_t)c->nw * sizeof(float));
            FSCI_TRY(member_probs(slots, w, x + i0 * NPIX, m, mp + k * chunk * NCLS));
        }
        for (int64_t i = 0; i < m; i++) {
            double best = -1, d = 0;
            int arg = 0;
            for (int j = 0; j < NCLS; j++) {
                double s = 0;
                for (int k = 0; k < c->members; k++) s += mp[(k * chunk + i) * NCLS + j];
                s /= c->members;
                mean[i * NCLS + j] = s;
                if (s > best) {
                    best = s;
                    arg = j;
                }
            }
            for (int a = 0; a < c->members; a++)
                for (int b = a + 1; b < c->members; b++)
                    for (int j = 0; j < NCLS; j++) {
                        const double e =
                            fabs(mp[(a * chunk + i) * NCLS + j] - mp[(b * chunk + i) * NCLS + j]);
                        d = e > d ? e : d;
                    }
            if (probs)
                for (int j = 0; j < NCLS; j++) probs[(i0 + i) * NCLS + j] = (float)mean[i * NCLS + j];
            if (label) label[i0 + i] = arg;
            if (conf) conf[i0 + i] = (float)best;
            if (disagreement) disagreement[i0 + i] = (float)d;
        }
    }
fail:
    plan_destroy(&slots[0]);
    plan_destroy(&slots[1]);
    fsci_free(w);
    fsci_free(mp);
    fsci_free(mean);
    fsci_free(dis);
    return st;
}

/* ---- training ----------------------------------------------------------------- */

static void say(const fsci__qdot_cls_opts *o, const char *fmt, ...) FSCI_PRINTF(2, 3);
static void say(const fsci__qdot_cls_opts *o, const char *fmt, ...)
{
    if (!o->progress) return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->progress(o->user, line);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int fsci__qdot_cls_train(const fsci__qdot_cls_opts *opts, fsci__qdot_cls **out)
{
    int st = FSCI_OK;
    fsci__qdot_cls *c = NULL;
    float *x = NULL, *xb = NULL, *grad = NULL, *best = NULL;
    int32_t *lab = NULL, *lb = NULL;
    int64_t *perm = NULL;
    double *probs = NULL, *mask = NULL;
    unsigned char *trainable = NULL;
    plan *tp = NULL, *slots[2] = {NULL, NULL};
    fsci_nn_adam *adam = NULL;
    FSCI_CHECK(opts && out, FSCI_EINVAL, "qdot classifier: NULL argument");
    *out = NULL;
    fsci__qdot_cls_opts o = *opts;
    if (o.n == 0) o.n = 6000;
    if (o.val_frac == 0) o.val_frac = 0.15;
    if (o.members == 0) o.members = 5;
    if (o.epochs == 0) o.epochs = 20;
    if (o.batch == 0) o.batch = 64;
    if (o.lr == 0) o.lr = 2e-3;
    if (o.weight_decay == 0) o.weight_decay = 1e-4;
    if (o.weight_decay < 0) o.weight_decay = 0;
    if (o.dropout == 0) o.dropout = 0.2;
    if (o.dropout < 0) o.dropout = 0;
    FSCI_CHECK(o.val_frac > 0 && o.val_frac < 1, FSCI_EINVAL, "qdot classifier: val_frac = %g (0..1)",
               o.val_frac);
    FSCI_CHECK(o.epochs >= 1 && o.epochs <= 10000, FSCI_EINVAL, "qdot classifier: epochs = %d (1..10000)",
               o.epochs);
    FSCI_CHECK(o.batch >= 2 && o.batch <= 4096, FSCI_EINVAL, "qdot classifier: batch = %d (2..4096)",
               o.batch);
    FSCI_CHECK(isfinite(o.lr) && o.lr > 0, FSCI_EINVAL, "qdot classifier: lr = %g (> 0)", o.lr);
    FSCI_CHECK(isfinite(o.weight_decay), FSCI_EINVAL, "qdot classifier: weight_decay = %g", o.weight_decay);
    FSCI_CHECK(o.dropout < 1, FSCI_EINVAL, "qdot classifier: dropout = %g (< 1)", o.dropout);
    const int64_t nval = (int64_t)((double)o.n * o.val_frac), ntrain = o.n - nval;
    FSCI_CHECK(
        nval >= 3 && ntrain >= o.batch, FSCI_EINVAL,
        "qdot classifier: n = %lld patches give %lld held out (>= 3) and %lld for training (>= batch %d)",
        (long long)o.n, (long long)nval, (long long)ntrain, o.batch);
    FSCI_TRY(cls_alloc(o.members, &c));
    c->seed = o.seed;
    const layout L = lay();
    const int64_t nw = L.n, B = o.batch;
    x = fsci_malloc((size_t)o.n, NPIX * sizeof(float));
    lab = fsci_malloc((size_t)o.n, sizeof(int32_t));
    xb = fsci_malloc((size_t)B, NPIX * sizeof(float));
    lb = fsci_malloc((size_t)B, sizeof(int32_t));
    perm = fsci_malloc((size_t)ntrain, sizeof(int64_t));
    grad = fsci_malloc((size_t)nw, sizeof(float));
    best = fsci_malloc((size_t)nw, sizeof(float));
    trainable = fsci_malloc((size_t)nw, 1);
    probs = fsci_malloc((size_t)(nval * NCLS), sizeof(double));
    mask = fsci_malloc((size_t)(B * FEAT), sizeof(double));
    FSCI_CHECK_GOTO(x && lab && xb && lb && perm && grad && best && trainable && probs && mask, FSCI_ENOMEM,
                    "qdot classifier: out of memory for %lld patches", (long long)o.n);
    memset(trainable, 1, (size_t)nw);
    for (int b = 0; b < NCONV; b++) memset(trainable + L.bn[b] + 2 * chans[b], 0, (size_t)(2 * chans[b]));
    double t0 = now();
    FSCI_TRY(fsci__qdot_cls_dataset(o.seed, o.n, x, lab));
    const double tdata = now() - t0;
    say(&o, "qdot classifier: %lld patches generated in %.1f s (%lld train, %lld held out)", (long long)o.n,
        tdata, (long long)ntrain, (long long)nval);
    t0 = now();
    const float *xv = x + ntrain * NPIX;
    const int32_t *lv = lab + ntrain;
    FSCI_TRY(plan_create(B, true, &tp));
    const int64_t steps = ntrain / B; /* the last partial batch of each epoch is dropped */
    const fsci_nn_adam_opts ao = {.lr = o.lr, .weight_decay = o.weight_decay, .decoupled = true};
    double macc[FSCI__QDOT_CLS_MAX_MEMBERS] = {0};
    for (int m = 0; m < o.members; m++) {
        float *w = c->w + m * nw;
        init_member(w, o.seed, m);
        FSCI_TRY(fsci_nn_adam_create(nw, &ao, &adam));
        double best_acc = -1;
        for (int e = 0; e < o.epochs; e++) {
            /* CosineAnnealingLR(T_max = epochs, eta_min = lr / 100), stepped per epoch */
            const double lo = o.lr * 0.01;
            fsci_nn_adam_set_lr(adam,
                                lo + (o.lr - lo) * 0.5 * (1 + cos(3.14159265358979323846 * e / o.epochs)));
            fsci_rng r;
            fsci_rng_init(&r, o.seed, FSCI__QDOT_CLS_STREAM_SHUFFLE, (uint64_t)m, (uint64_t)e);
            for (int64_t i = 0; i < ntrain; i++) perm[i] = i;
            for (int64_t i = ntrain - 1; i > 0; i--) {
                const int64_t j = (int64_t)(fsci_rng_uniform(&r) * (double)(i + 1));
                const int64_t t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            double lsum = 0;
            for (int64_t s = 0; s < steps; s++) {
                for (int64_t i = 0; i < B; i++) {
                    memcpy(xb + i * NPIX, x + perm[s * B + i] * NPIX, NPIX * sizeof(float));
                    lb[i] = lab[perm[s * B + i]];
                }
                const double *mk = NULL;
                if (o.dropout > 0) {
                    fsci_rng_init(&r, o.seed, FSCI__QDOT_CLS_STREAM_DROPOUT, (uint64_t)m,
                                  (uint64_t)(e * steps + s));
                    for (int64_t i = 0; i < B * FEAT; i++)
                        mask[i] = fsci_rng_uniform(&r) < o.dropout ? 0 : 1 / (1 - o.dropout);
                    mk = mask;
                }
                double loss = 0;
                FSCI_TRY(forward(tp, w, true, xb, mk));
                FSCI_TRY(backward(tp, w, xb, lb, mk, grad, &loss));
                fsci_nn_adam_step(adam, w, grad, trainable);
                lsum += loss;
            }
            FSCI_TRY(member_probs(slots, w, xv, nval, probs));
            int64_t ok = 0;
            for (int64_t i = 0; i < nval; i++) {
                int arg = 0;
                for (int k = 1; k < NCLS; k++)
                    if (probs[i * NCLS + k] > probs[i * NCLS + arg]) arg = k;
                ok += arg == lv[i];
            }
            const double acc = (double)ok / (double)nval;
            if (acc > best_acc) {
                best_acc = acc;
                memcpy(best, w, (size_t)nw * sizeof(float));
            }
            say(&o, "qdot classifier: member %d/%d epoch %d/%d: loss %.4f, held-out accuracy %.4f", m + 1,
                o.members, e + 1, o.epochs, lsum / (double)steps, acc);
        }
        memcpy(w, best, (size_t)nw * sizeof(float));
        macc[m] = best_acc;
        fsci_nn_adam_destroy(&adam);
    }
    const double ttrain = now() - t0;
    int32_t *pl = lb; /* reuse: predictions on the held-out patches, in chunks of B */
    int64_t ok = 0, conf[NCLS][NCLS] = {{0}};
    for (int64_t i0 = 0; i0 < nval; i0 += B) {
        const int64_t m = nval - i0 < B ? nval - i0 : B;
        FSCI_TRY(fsci__qdot_cls_predict(c, xv + i0 * NPIX, m, NULL, pl, NULL, NULL));
        for (int64_t i = 0; i < m; i++) {
            ok += pl[i] == lv[i0 + i];
            conf[lv[i0 + i]][pl[i]]++;
        }
    }
    c->val_accuracy = (double)ok / (double)nval;
    say(&o, "qdot classifier: %d members trained in %.1f s; ensemble held-out accuracy %.4f", o.members,
        ttrain, c->val_accuracy);
    if (o.report) {
        fsci__qdot_cls_report *rp = o.report;
        memset(rp, 0, sizeof *rp);
        rp->ntrain = ntrain;
        rp->nval = nval;
        rp->val_accuracy = c->val_accuracy;
        for (int m = 0; m < o.members; m++) rp->member_accuracy[m] = macc[m];
        memcpy(rp->confusion, conf, sizeof conf);
        rp->seconds_data = tdata;
        rp->seconds_train = ttrain;
    }
    *out = c;
    c = NULL;
fail:
    fsci_nn_adam_destroy(&adam);
    plan_destroy(&tp);
    plan_destroy(&slots[0]);
    plan_destroy(&slots[1]);
    fsci__qdot_cls_destroy(&c);
    fsci_free(x);
    fsci_free(lab);
    fsci_free(xb);
    fsci_free(lb);
    fsci_free(perm);
    fsci_free(grad);
    fsci_free(best);
    fsci_free(trainable);
    fsci_free(probs);
    fsci_free(mask);
    return st;
}

/* ---- weight file -------------------------------------------------------------- *
 * Version 1, little-endian:
 *   8 bytes  magic "FSQC\r\n\x1a\n"
 *   u32      version, u32 header bytes (88)
 *   10 x i32 architecture: side, convolutions, their channels (4), kernel, stride, hidden, classes
 *   i32      members, i32 0
 *   i64      weights per member
 *   f64      held-out accuracy at training (NaN: unknown)
 *   u64      seed
 *   members x weights f32 (state_dict order, BN running statistics included)
 *   u32      CRC-32 (zlib) of every byte before it */

static const unsigned char magic[8] = {'F', 'S', 'Q', 'C', '\r', '\n', 0x1a, '\n'};

typedef struct {
    unsigned char magic[8];
    uint32_t version, hbytes;
    int32_t arch[10];
    int32_t members, zero;
    int64_t nw;
    double val_accuracy;
    uint64_t seed;
} header;

_Static_assert(sizeof(header) == 88, "weight file header layout");

static const char *const arch_names[10] = {"side",        "convolutions", "channels[0]", "channels[1]",
                                           "channels[2]", "channels[3]",  "kernel",      "stride",
                                           "hidden",      "classes"};

static void arch_fill(int32_t a[10])
{
    const int32_t v[10] = {FSCI__QDOT_CLS_SIDE,
                           NCONV,
                           (int32_t)chans[0],
                           (int32_t)chans[1],
                           (int32_t)chans[2],
                           (int32_t)chans[3],
                           3,
                           2,
                           HID,
                           NCLS};
    memcpy(a, v, sizeof v);
}

int fsci__qdot_cls_save(const fsci__qdot_cls *c, const char *path)
{
    int st = FSCI_OK;
    fsci_atomic *a = NULL;
    FSCI_CHECK(c && path && path[0], FSCI_EINVAL, "qdot classifier: save: NULL argument");
    header hd = {.version = FSCI__QDOT_CLS_FILE_VERSION,
                 .hbytes = sizeof(header),
                 .members = c->members,
                 .nw = c->nw,
                 .val_accuracy = c->val_accuracy,
                 .seed = c->seed};
    memcpy(hd.magic, magic, 8);
    arch_fill(hd.arch);
    const size_t nb = (size_t)(c->members * c->nw) * sizeof(float);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)&hd, sizeof hd);
    crc = crc32_z(crc, (const Bytef *)c->w, nb);
    const uint32_t c32 = (uint32_t)crc;
    FSCI_TRY(fsci_atomic_open(path, 0, &a));
    FSCI_TRY(fsci_atomic_write(a, &hd, sizeof hd));
    FSCI_TRY(fsci_atomic_write(a, c->w, nb));
    FSCI_TRY(fsci_atomic_write(a, &c32, sizeof c32));
    FSCI_TRY(fsci_atomic_commit(&a));
    return FSCI_OK;
fail:
    fsci_atomic_abort(&a);
    return st;
}

int fsci__qdot_cls_load_mem(const void *data, size_t size, const char *name, fsci__qdot_cls **out)
{
    int st = FSCI_OK;
    fsci__qdot_cls *c = NULL;
    FSCI_CHECK(out && (data || size == 0), FSCI_EINVAL, "qdot classifier: load: NULL argument");
    *out = NULL;
    if (!name) name = "(memory)";
    header hd;
    const unsigned char *p = data;
    FSCI_CHECK(size >= sizeof hd + 4, FSCI_EFORMAT,
               "%s: truncated classifier weight file: %zu bytes, the header and checksum alone take %zu",
               name, size, sizeof hd + 4);
    memcpy(&hd, p, sizeof hd);
    FSCI_CHECK(memcmp(hd.magic, magic, 8) == 0, FSCI_EFORMAT,
               "%s: not a fastsci classifier weight file (field magic)", name);
    FSCI_CHECK(hd.version == FSCI__QDOT_CLS_FILE_VERSION, FSCI_EFORMAT,
               "%s: field version = %u, this fastsci reads version %d", name, hd.version,
               FSCI__QDOT_CLS_FILE_VERSION);
    FSCI_CHECK(hd.hbytes == sizeof hd, FSCI_EFORMAT, "%s: field header_bytes = %u, expected %zu", name,
               hd.hbytes, sizeof hd);
    int32_t want[10];
    arch_fill(want);
    for (int i = 0; i < 10; i++)
        FSCI_CHECK(hd.arch[i] == want[i], FSCI_EFORMAT,
                   "%s: field architecture.%s = %d, this classifier has %d (another network)", name,
                   arch_names[i], hd.arch[i], want[i]);
    FSCI_CHECK(hd.members >= 1 && hd.members <= FSCI__QDOT_CLS_MAX_MEMBERS, FSCI_EFORMAT,
               "%s: field members = %d (1..%d)", name, hd.members, FSCI__QDOT_CLS_MAX_MEMBERS);
    FSCI_CHECK(hd.zero == 0, FSCI_EFORMAT, "%s: field reserved = %d (0)", name, hd.zero);
    const int64_t nw = lay().n;
    FSCI_CHECK(hd.nw == nw, FSCI_EFORMAT, "%s: field weights_per_member = %lld, the network has %lld", name,
               (long long)hd.nw, (long long)nw);
    const size_t nb = (size_t)((int64_t)hd.members * nw) * sizeof(float), want_size = sizeof hd + nb + 4;
    FSCI_CHECK(size >= want_size, FSCI_EFORMAT,
               "%s: truncated classifier weight file: %zu bytes, %zu expected for %d members", name, size,
               want_size, hd.members);
    FSCI_CHECK(size == want_size, FSCI_EFORMAT, "%s: %zu bytes, %zu expected for %d members (trailing data)",
               name, size, want_size, hd.members);
    uint32_t c32;
    memcpy(&c32, p + sizeof hd + nb, 4);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32_z(crc, (const Bytef *)p, sizeof hd + nb);
    FSCI_CHECK((uint32_t)crc == c32, FSCI_EFORMAT,
               "%s: field crc32 = %08x, the contents give %08x (corrupt file)", name, (unsigned)c32,
               (unsigned)crc);
    FSCI_TRY(cls_alloc(hd.members, &c));
    memcpy(c->w, p + sizeof hd, nb);
    const layout L = lay();
    for (int m = 0; m < hd.members; m++) {
        const float *w = c->w + m * nw;
        for (int64_t i = 0; i < nw; i++)
            FSCI_CHECK_GOTO(isfinite(w[i]), FSCI_EFORMAT, "%s: member %d, weight %lld = %g (not finite)",
                            name, m, (long long)i, (double)w[i]);
        for (int b = 0; b < NCONV; b++)
            for (int64_t k = 0; k < chans[b]; k++) {
                const float v = w[L.bn[b] + 3 * chans[b] + k];
                FSCI_CHECK_GOTO(v >= 0, FSCI_EFORMAT,
                                "%s: member %d, block %d running variance[%lld] = %g (< 0)", name, m, b,
                                (long long)k, (double)v);
            }
    }
    c->val_accuracy = hd.val_accuracy;
    c->seed = hd.seed;
    *out = c;
    return FSCI_OK;
fail:
    fsci__qdot_cls_destroy(&c);
    return st;
}

int fsci__qdot_cls_load(const char *path, fsci__qdot_cls **out)
{
    int st = FSCI_OK;
    FILE *f = NULL;
    unsigned char *buf = NULL;
    FSCI_CHECK(out, FSCI_EINVAL, "qdot classifier: load: NULL output");
    *out = NULL;
    FSCI_CHECK(path && path[0], FSCI_EINVAL, "qdot classifier: no weight file given");
    struct stat sb;
    FSCI_CHECK(stat(path, &sb) == 0, FSCI_EIO, "%s: cannot open the classifier weight file (no such file?)",
               path);
    FSCI_CHECK(S_ISREG(sb.st_mode), FSCI_EIO, "%s: not a regular file", path);
    /* a valid file is at most ~2 MB: refuse before reading anything large */
    const size_t most = sizeof(header) + 4 + (size_t)(FSCI__QDOT_CLS_MAX_MEMBERS * lay().n) * sizeof(float);
    FSCI_CHECK((uint64_t)sb.st_size <= most, FSCI_EFORMAT,
               "%s: %lld bytes, larger than any classifier weight file (%zu)", path, (long long)sb.st_size,
               most);
    const size_t size = (size_t)sb.st_size;
    buf = fsci_malloc(size ? size : 1, 1);
    FSCI_CHECK(buf, FSCI_ENOMEM, "%s: out of memory", path);
    f = fopen(path, "rb");
    FSCI_CHECK_GOTO(f, FSCI_EIO, "%s: cannot open", path);
    FSCI_CHECK_GOTO(fread(buf, 1, size, f) == size, FSCI_EIO, "%s: short read", path);
    FSCI_TRY(fsci__qdot_cls_load_mem(buf, size, path, out));
fail:
    if (f) fclose(f);
    fsci_free(buf);
    return st;
}
