/* The U-Net of the n2v2 engine on the nn layers: weights in PyTorch's
 * state_dict order, plans (activations, workspace) per input shape, forward
 * and backward written out level by level (no autograd). Architecture and
 * weight order: doc/n2v2.md section 2. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/profile.h"
#include "fastsci/core/rng.h"
#include "fastsci/n2v2.h"
#include "fastsci/nn.h"
#include "n2v2_impl.h"

#define MAXD FSCI__N2V2_MAXDEPTH
#define NPLANS 3

typedef struct {
    int64_t cin, cout, c1, b1, c2, b2; /* channels and parameter offsets */
} blk_layout;

typedef struct {
    fsci_nn_layer *l;
    float *y, *dy;
    fsci_event ef, eb; /* --profile events of this layer's forward and backward (-1: none) */
} node;

typedef struct {
    node c1, b1, c2, b2;
} block;

typedef struct {
    int64_t n, h, w;
    bool grads; /* dy buffers allocated */
    block enc[MAXD], bottom, dec[MAXD];
    node pa[MAXD], pb[MAXD]; /* pooling: pa = max-pool (MAX, MAXBLUR), pb = blur (BLUR, MAXBLUR) */
    node up[MAXD];
    float *cat[MAXD], *dcat[MAXD], *dskip[MAXD];
    node fin;
    float *xin, *ws;
    uint64_t used; /* for replacing the least recently used plan */
} plan;

struct fsci_n2v2_net {
    fsci_n2v2_arch a;
    int64_t nw;
    float *w;
    unsigned char *trainable;
    blk_layout enc[MAXD], bottom, dec[MAXD];
    int64_t up_off[MAXD], fin_off;
    plan *plans[NPLANS];
    plan *last; /* plan of the last train-mode forward */
    uint64_t clock;
};

int fsci_n2v2_preset(const char *name, fsci_n2v2_arch *out)
{
    FSCI_CHECK(name && out, FSCI_EINVAL, "n2v2 preset: NULL argument");
    fsci_n2v2_arch a = {.depth = 2, .width = 32, .kernel = 3, .bias = true};
    if (strcmp(name, "n2v2") == 0) {
        a.pool = FSCI_N2V2_POOL_MAXBLUR;
        a.up = FSCI_N2V2_UP_BILINEAR;
    } else if (strcmp(name, "n2v") == 0) {
        a.pool = FSCI_N2V2_POOL_MAX;
        a.up = FSCI_N2V2_UP_BILINEAR;
        a.top_skip = true;
        a.residual = true;
    } else if (strcmp(name, "openhcs") == 0) {
        a.depth = 4;
        a.width = 64;
        a.bias = false;
        a.pool = FSCI_N2V2_POOL_BLUR;
        a.up = FSCI_N2V2_UP_CONVT;
    } else {
        return fsci_error_set(FSCI_EINVAL, __FILE__, __LINE__, __func__,
                              "n2v2: preset = '%s' (n2v2, n2v or openhcs)", name);
    }
    *out = a;
    return FSCI_OK;
}

int fsci_n2v2_arch_check(const fsci_n2v2_arch *a)
{
    FSCI_CHECK(a != NULL, FSCI_EINVAL, "n2v2: NULL architecture");
    FSCI_CHECK(a->depth >= 1 && a->depth <= MAXD, FSCI_EINVAL, "n2v2: depth = %d (1..%d)", a->depth, MAXD);
    FSCI_CHECK(a->width >= 1 && a->width <= 256, FSCI_EINVAL, "n2v2: width = %d (1..256)", a->width);
    FSCI_CHECK(a->kernel >= 1 && a->kernel <= 7 && a->kernel % 2 == 1, FSCI_EINVAL,
               "n2v2: kernel = %d (odd, 1..7)", a->kernel);
    FSCI_CHECK((int)a->pool >= 0 && a->pool <= FSCI_N2V2_POOL_MAXBLUR, FSCI_EINVAL, "n2v2: pool = %d",
               (int)a->pool);
    FSCI_CHECK((int)a->up >= 0 && a->up <= FSCI_N2V2_UP_BILINEAR, FSCI_EINVAL, "n2v2: up = %d", (int)a->up);
    return FSCI_OK;
}

static bool has_skip(const fsci_n2v2_arch *a, int l)
{
    return l > 0 || a->top_skip;
}

static int64_t width_at(const fsci_n2v2_arch *a, int l)
{
    return (int64_t)a->width << l;
}

/* Offsets of one block's four layers, advancing *o. */
static blk_layout lay_block(int64_t cin, int64_t cout, const fsci_n2v2_arch *a, int64_t *o, unsigned char *tr)
{
    const int64_t k2 = (int64_t)a->kernel * a->kernel, b = a->bias ? cout : 0;
    blk_layout L = {.cin = cin, .cout = cout};
    L.c1 = *o;
    *o += cout * cin * k2 + b;
    L.b1 = *o;
    if (tr) memset(tr + *o + 2 * cout, 0, (size_t)(2 * cout));
    *o += 4 * cout;
    L.c2 = *o;
    *o += cout * cout * k2 + b;
    L.b2 = *o;
    if (tr) memset(tr + *o + 2 * cout, 0, (size_t)(2 * cout));
    *o += 4 * cout;
    return L;
}

/* The state_dict walk: encoder, bottom, decoder from the deepest level, final. */
static int64_t layout(fsci_n2v2_net *net, unsigned char *tr)
{
    const fsci_n2v2_arch *a = &net->a;
    int64_t o = 0;
    for (int l = 0; l < a->depth; l++)
        net->enc[l] = lay_block(l ? width_at(a, l - 1) : 1, width_at(a, l), a, &o, tr);
    net->bottom = lay_block(width_at(a, a->depth - 1), width_at(a, a->depth), a, &o, tr);
    for (int l = a->depth - 1; l >= 0; l--) {
        const int64_t below = width_at(a, l + 1);
        int64_t cat = below;
        net->up_off[l] = -1;
        if (a->up == FSCI_N2V2_UP_CONVT) {
            net->up_off[l] = o;
            o += below * width_at(a, l) * 4 + width_at(a, l);
            cat = width_at(a, l);
        }
        if (has_skip(a, l)) cat += width_at(a, l);
        net->dec[l] = lay_block(cat, width_at(a, l), a, &o, tr);
    }
    net->fin_off = o;
    o += width_at(a, 0) + 1;
    return o;
}

static void init_uniform(float *w, int64_t n, double bound, fsci_rng *r)
{
    for (int64_t i = 0; i < n; i++) w[i] = (float)((2 * fsci_rng_uniform(r) - 1) * bound);
}

static void init_block(float *w, const blk_layout *L, const fsci_n2v2_arch *a, fsci_rng *r)
{
    const int64_t k2 = (int64_t)a->kernel * a->kernel, b = a->bias ? L->cout : 0;
    const int64_t convs[2][3] = {{L->c1, L->cin, L->b1}, {L->c2, L->cout, L->b2}};
    for (int q = 0; q < 2; q++) {
        const int64_t off = convs[q][0], cin = convs[q][1], bn = convs[q][2];
        const double bound = 1 / sqrt((double)(cin * k2));
        init_uniform(w + off, L->cout * cin * k2 + b, bound, r);
        for (int64_t c = 0; c < L->cout; c++) {
            w[bn + c] = 1;               /* gamma */
            w[bn + L->cout + c] = 0;     /* beta */
            w[bn + 2 * L->cout + c] = 0; /* running mean */
            w[bn + 3 * L->cout + c] = 1; /* running var */
        }
    }
}

int fsci_n2v2_net_create(const fsci_n2v2_arch *a, uint64_t seed, fsci_n2v2_net **out)
{
    int st = FSCI_OK;
    fsci_n2v2_net *net = NULL;
    FSCI_CHECK(out != NULL, FSCI_EINVAL, "n2v2: NULL output");
    *out = NULL;
    FSCI_TRY(fsci_n2v2_arch_check(a));
    net = fsci_calloc(1, sizeof *net);
    FSCI_CHECK_GOTO(net, FSCI_ENOMEM, "n2v2: out of memory");
    net->a = *a;
    net->nw = layout(net, NULL);
    net->w = fsci_calloc((size_t)net->nw, sizeof(float));
    net->trainable = fsci_malloc((size_t)net->nw, 1);
    FSCI_CHECK_GOTO(net->w && net->trainable, FSCI_ENOMEM, "n2v2: out of memory for %lld weights",
                    (long long)net->nw);
    memset(net->trainable, 1, (size_t)net->nw);
    layout(net, net->trainable);
    fsci_rng r;
    fsci_rng_init(&r, seed, FSCI__N2V2_STREAM_INIT, 0, 0);
    for (int l = 0; l < a->depth; l++) init_block(net->w, &net->enc[l], a, &r);
    init_block(net->w, &net->bottom, a, &r);
    for (int l = a->depth - 1; l >= 0; l--) {
        if (net->up_off[l] >= 0) {
            /* PyTorch's fan_in of a ConvTranspose2d weight (cin, cout, 2, 2) is cout * 4 */
            const int64_t below = width_at(a, l + 1), c = width_at(a, l);
            init_uniform(net->w + net->up_off[l], below * c * 4 + c, 1 / sqrt((double)(c * 4)), &r);
        }
        init_block(net->w, &net->dec[l], a, &r);
    }
    init_uniform(net->w + net->fin_off, width_at(a, 0) + 1, 1 / sqrt((double)width_at(a, 0)), &r);
    *out = net;
    return FSCI_OK;
fail:
    fsci_n2v2_net_destroy(&net);
    return st;
}

static void node_free(node *nd)
{
    fsci_nn_layer_destroy(&nd->l);
    fsci_free(nd->y);
    fsci_free(nd->dy);
}

static void block_free(block *b)
{
    node_free(&b->c1);
    node_free(&b->b1);
    node_free(&b->c2);
    node_free(&b->b2);
}

static void plan_free(plan **pp)
{
    plan *p = *pp;
    if (!p) return;
    for (int l = 0; l < MAXD; l++) {
        block_free(&p->enc[l]);
        block_free(&p->dec[l]);
        node_free(&p->pa[l]);
        node_free(&p->pb[l]);
        node_free(&p->up[l]);
        fsci_free(p->cat[l]);
        fsci_free(p->dcat[l]);
        fsci_free(p->dskip[l]);
    }
    block_free(&p->bottom);
    node_free(&p->fin);
    fsci_free(p->xin);
    fsci_free(p->ws);
    fsci_free(p);
    *pp = NULL;
}

void fsci_n2v2_net_destroy(fsci_n2v2_net **pn)
{
    if (!pn || !*pn) return;
    for (int i = 0; i < NPLANS; i++) plan_free(&(*pn)->plans[i]);
    fsci_free((*pn)->w);
    fsci_free((*pn)->trainable);
    fsci_free(*pn);
    *pn = NULL;
}

const fsci_n2v2_arch *fsci_n2v2_net_arch(const fsci_n2v2_net *net)
{
    return &net->a;
}

int64_t fsci_n2v2_net_nweights(const fsci_n2v2_net *net)
{
    return net->nw;
}

float *fsci_n2v2_net_weights(fsci_n2v2_net *net)
{
    return net->w;
}

const unsigned char *fsci_n2v2_net_trainable(const fsci_n2v2_net *net)
{
    return net->trainable;
}

int64_t fsci_n2v2_net_multiple(const fsci_n2v2_net *net)
{
    return (int64_t)1 << net->a.depth;
}

/* ---- plans -------------------------------------------------------------------- */

static int64_t numel(fsci_nn_dims d)
{
    return d.n * d.c * d.h * d.w;
}

static int node_make(node *nd, fsci_nn_layer_desc d, size_t *ws)
{
    nd->ef = nd->eb = -1;
    d.dtype = FSCI_F32;
    int st = fsci_nn_layer_create(&d, &nd->l);
    if (st) return st;
    nd->y = fsci_malloc((size_t)numel(fsci_nn_layer_out(nd->l)), sizeof(float));
    FSCI_CHECK(nd->y, FSCI_ENOMEM, "n2v2: out of memory for activations");
    const size_t need = fsci_nn_layer_workspace(nd->l);
    if (need > *ws) *ws = need;
    return FSCI_OK;
}

static int block_make(block *b, fsci_nn_dims in, int64_t cout, const fsci_n2v2_arch *a, size_t *ws)
{
    int st;
    const int k = a->kernel;
    fsci_nn_layer_desc conv = {
        .kind = FSCI_NN_CONV, .in = in, .cout = cout, .k = k, .stride = 1, .pad = k / 2, .bias = a->bias};
    if ((st = node_make(&b->c1, conv, ws))) return st;
    fsci_nn_dims o = fsci_nn_layer_out(b->c1.l);
    if ((st = node_make(&b->b1, (fsci_nn_layer_desc){.kind = FSCI_NN_BNRELU, .in = o}, ws))) return st;
    conv.in = o;
    if ((st = node_make(&b->c2, conv, ws))) return st;
    return node_make(&b->b2, (fsci_nn_layer_desc){.kind = FSCI_NN_BNRELU, .in = o}, ws);
}

static fsci_nn_dims out_of(const node *nd)
{
    return fsci_nn_layer_out(nd->l);
}

/* Register "n2v2.<where>.<layer>.fwd|bwd" events for --profile (optional: a
 * full table only loses the events). */
static void name_node(node *nd, const char *where, const char *what)
{
    if (!nd->l) return;
    char nm[64];
    snprintf(nm, sizeof nm, "n2v2.%s.%s.fwd", where, what);
    if (fsci_profile_register(nm, &nd->ef) < 0) fsci_error_clear();
    snprintf(nm, sizeof nm, "n2v2.%s.%s.bwd", where, what);
    if (fsci_profile_register(nm, &nd->eb) < 0) fsci_error_clear();
}

static void name_block(block *b, const char *where)
{
    name_node(&b->c1, where, "conv1");
    name_node(&b->b1, where, "bnrelu1");
    name_node(&b->c2, where, "conv2");
    name_node(&b->b2, where, "bnrelu2");
}

static void profile_names(const fsci_n2v2_arch *a, plan *p)
{
    char where[16];
    for (int l = 0; l < a->depth; l++) {
        snprintf(where, sizeof where, "enc%d", l);
        name_block(&p->enc[l], where);
        name_node(&p->pa[l], where, "maxpool");
        name_node(&p->pb[l], where, "blur");
        snprintf(where, sizeof where, "dec%d", l);
        name_node(&p->up[l], where, "up");
        name_block(&p->dec[l], where);
    }
    name_block(&p->bottom, "bottom");
    name_node(&p->fin, "final", "conv");
}

/* FLOPs (2 per multiply-add) and bytes (input and output once) of a pass. */
static void pass_cost(const node *nd, bool backward, double *flops, double *bytes)
{
    const fsci_nn_layer_desc *d = fsci_nn_layer_desc_of(nd->l);
    const fsci_nn_dims o = fsci_nn_layer_out(nd->l);
    *flops = 2 * fsci_nn_layer_macs(nd->l) * (backward ? 2 : 1);
    *bytes =
        4.0 * (double)(d->in.n * d->in.c * d->in.h * d->in.w + o.n * o.c * o.h * o.w) * (backward ? 2 : 1);
}

static int plan_make(const fsci_n2v2_net *net, int64_t n, int64_t h, int64_t w, plan **out)
{
    int st = FSCI_OK;
    const fsci_n2v2_arch *a = &net->a;
    size_t ws = 0;
    plan *p = fsci_calloc(1, sizeof *p);
    FSCI_CHECK(p, FSCI_ENOMEM, "n2v2: out of memory");
    p->n = n;
    p->h = h;
    p->w = w;
    fsci_nn_dims cur = {n, 1, h, w};
    for (int l = 0; l < a->depth; l++) {
        FSCI_TRY(block_make(&p->enc[l], cur, width_at(a, l), a, &ws));
        cur = out_of(&p->enc[l].b2);
        if (a->pool != FSCI_N2V2_POOL_BLUR) {
            const int s = a->pool == FSCI_N2V2_POOL_MAX ? 2 : 1;
            FSCI_TRY(node_make(&p->pa[l],
                               (fsci_nn_layer_desc){.kind = FSCI_NN_MAXPOOL, .in = cur, .stride = s}, &ws));
            cur = out_of(&p->pa[l]);
        }
        if (a->pool != FSCI_N2V2_POOL_MAX) {
            FSCI_TRY(node_make(&p->pb[l], (fsci_nn_layer_desc){.kind = FSCI_NN_BLUR, .in = cur}, &ws));
            cur = out_of(&p->pb[l]);
        }
    }
    FSCI_TRY(block_make(&p->bottom, cur, width_at(a, a->depth), a, &ws));
    cur = out_of(&p->bottom.b2);
    for (int l = a->depth - 1; l >= 0; l--) {
        if (a->up == FSCI_N2V2_UP_CONVT)
            FSCI_TRY(node_make(
                &p->up[l],
                (fsci_nn_layer_desc){.kind = FSCI_NN_CONVT, .in = cur, .cout = width_at(a, l), .bias = true},
                &ws));
        else
            FSCI_TRY(node_make(&p->up[l], (fsci_nn_layer_desc){.kind = FSCI_NN_UPSAMPLE, .in = cur}, &ws));
        cur = out_of(&p->up[l]);
        const fsci_nn_dims skip = out_of(&p->enc[l].b2);
        FSCI_CHECK_GOTO(
            cur.h == skip.h && cur.w == skip.w, FSCI_EINVAL,
            "n2v2: level %d: %lld x %lld after upsampling, %lld x %lld in the encoder (size %lld x %lld "
            "not a multiple of %lld)",
            l, (long long)cur.h, (long long)cur.w, (long long)skip.h, (long long)skip.w, (long long)h,
            (long long)w, (long long)fsci_n2v2_net_multiple(net));
        if (has_skip(a, l)) {
            cur.c += skip.c;
            p->cat[l] = fsci_malloc((size_t)numel(cur), sizeof(float));
            FSCI_CHECK_GOTO(p->cat[l], FSCI_ENOMEM, "n2v2: out of memory for activations");
        }
        FSCI_TRY(block_make(&p->dec[l], cur, width_at(a, l), a, &ws));
        cur = out_of(&p->dec[l].b2);
    }
    FSCI_TRY(node_make(
        &p->fin,
        (fsci_nn_layer_desc){.kind = FSCI_NN_CONV, .in = cur, .cout = 1, .k = 1, .stride = 1, .bias = true},
        &ws));
    if (fsci_profile_enabled()) profile_names(a, p);
    p->xin = fsci_malloc((size_t)(n * h * w), sizeof(float));
    p->ws = fsci_malloc(ws / sizeof(float) + 16, sizeof(float));
    FSCI_CHECK_GOTO(p->xin && p->ws, FSCI_ENOMEM, "n2v2: out of memory for the workspace");
    *out = p;
    return FSCI_OK;
fail:
    plan_free(&p);
    return st;
}

static int node_grads(node *nd)
{
    if (!nd->l || nd->dy) return FSCI_OK;
    nd->dy = fsci_malloc((size_t)numel(out_of(nd)), sizeof(float));
    FSCI_CHECK(nd->dy, FSCI_ENOMEM, "n2v2: out of memory for gradients");
    return FSCI_OK;
}

static int plan_grads(const fsci_n2v2_net *net, plan *p)
{
    if (p->grads) return FSCI_OK;
    const fsci_n2v2_arch *a = &net->a;
    block *bl[2 * MAXD + 1];
    int nb = 0;
    for (int l = 0; l < a->depth; l++) {
        bl[nb++] = &p->enc[l];
        bl[nb++] = &p->dec[l];
    }
    bl[nb++] = &p->bottom;
    for (int i = 0; i < nb; i++) {
        node *ns[4] = {&bl[i]->c1, &bl[i]->b1, &bl[i]->c2, &bl[i]->b2};
        for (int q = 0; q < 4; q++)
            if (node_grads(ns[q])) return FSCI_ENOMEM;
    }
    for (int l = 0; l < a->depth; l++) {
        if (node_grads(&p->pa[l]) || node_grads(&p->pb[l]) || node_grads(&p->up[l])) return FSCI_ENOMEM;
        if (p->cat[l]) {
            const fsci_nn_dims d = fsci_nn_layer_desc_of(p->dec[l].c1.l)->in;
            const fsci_nn_dims s = out_of(&p->enc[l].b2);
            p->dcat[l] = fsci_malloc((size_t)numel(d), sizeof(float));
            p->dskip[l] = fsci_malloc((size_t)numel(s), sizeof(float));
            FSCI_CHECK(p->dcat[l] && p->dskip[l], FSCI_ENOMEM, "n2v2: out of memory for gradients");
        }
    }
    if (node_grads(&p->fin)) return FSCI_ENOMEM;
    p->grads = true;
    return FSCI_OK;
}

static int plan_get(fsci_n2v2_net *net, int64_t n, int64_t h, int64_t w, plan **out)
{
    int oldest = 0;
    for (int i = 0; i < NPLANS; i++) {
        plan *p = net->plans[i];
        if (p && p->n == n && p->h == h && p->w == w) {
            p->used = ++net->clock;
            *out = p;
            return FSCI_OK;
        }
        if (!p || (net->plans[oldest] && p->used < net->plans[oldest]->used)) oldest = i;
    }
    if (net->last == net->plans[oldest]) net->last = NULL;
    plan_free(&net->plans[oldest]);
    int st = plan_make(net, n, h, w, &net->plans[oldest]);
    if (st) return st;
    net->plans[oldest]->used = ++net->clock;
    *out = net->plans[oldest];
    return FSCI_OK;
}

/* ---- forward and backward ------------------------------------------------------- */

static int run(node *nd, bool train, const float *x, float *p, float *ws)
{
    const fsci_nn_layer_desc *d = fsci_nn_layer_desc_of(nd->l);
    float *params = p, *state = NULL;
    if (d->kind == FSCI_NN_BNRELU || d->kind == FSCI_NN_BN) state = p + 2 * d->in.c;
    const double t0 = nd->ef >= 0 ? fsci_profile_begin(nd->ef) : 0;
    const int st = fsci_nn_layer_forward(nd->l, train, x, params, state, nd->y, ws);
    if (nd->ef >= 0) {
        double fl, by;
        pass_cost(nd, false, &fl, &by);
        fsci_profile_end(nd->ef, t0, by, fl);
    }
    return st;
}

static int block_fwd(block *b, const blk_layout *L, bool train, const float *x, float *w, float *ws)
{
    int st;
    if ((st = run(&b->c1, train, x, w + L->c1, ws))) return st;
    if ((st = run(&b->b1, train, b->c1.y, w + L->b1, ws))) return st;
    if ((st = run(&b->c2, train, b->b1.y, w + L->c2, ws))) return st;
    return run(&b->b2, train, b->c2.y, w + L->b2, ws);
}

static int back(node *nd, const float *x, const float *dy, const float *p, float *dx, float *g, float *ws)
{
    const double t0 = nd->eb >= 0 ? fsci_profile_begin(nd->eb) : 0;
    const int st = fsci_nn_layer_backward(nd->l, x, nd->y, dy, p, dx, g, ws);
    if (nd->eb >= 0) {
        double fl, by;
        pass_cost(nd, true, &fl, &by);
        fsci_profile_end(nd->eb, t0, by, fl);
    }
    return st;
}

/* dy: gradient of the block output; dx: of its input (NULL to skip). */
static int block_bwd(block *b, const blk_layout *L, const float *x, const float *dy, float *dx,
                     const float *w, float *g, float *ws)
{
    int st;
    if ((st = back(&b->b2, b->c2.y, dy, w + L->b2, b->c2.dy, g + L->b2, ws))) return st;
    if ((st = back(&b->c2, b->b1.y, b->c2.dy, w + L->c2, b->b1.dy, g + L->c2, ws))) return st;
    if ((st = back(&b->b1, b->c1.y, b->b1.dy, w + L->b1, b->c1.dy, g + L->b1, ws))) return st;
    return back(&b->c1, x, b->c1.dy, w + L->c1, dx, g + L->c1, ws);
}

int fsci_n2v2_net_forward(fsci_n2v2_net *net, bool train, const float *x, int64_t n, int64_t h, int64_t w,
                          float *y)
{
    int st = FSCI_OK;
    plan *p = NULL;
    FSCI_CHECK(net && x && y, FSCI_EINVAL, "n2v2 forward: NULL argument");
    const int64_t m = fsci_n2v2_net_multiple(net);
    FSCI_CHECK(n >= 1 && h >= m && w >= m && h % m == 0 && w % m == 0, FSCI_EINVAL,
               "n2v2 forward: input (%lld, 1, %lld, %lld): h and w must be positive multiples of %lld",
               (long long)n, (long long)h, (long long)w, (long long)m);
    FSCI_TRY(plan_get(net, n, h, w, &p));
    if (train) FSCI_TRY(plan_grads(net, p));
    const fsci_n2v2_arch *a = &net->a;
    float *W = net->w, *ws = p->ws;
    memcpy(p->xin, x, (size_t)(n * h * w) * sizeof(float));
    const float *cur = p->xin;
    for (int l = 0; l < a->depth; l++) {
        FSCI_TRY(block_fwd(&p->enc[l], &net->enc[l], train, cur, W, ws));
        cur = p->enc[l].b2.y;
        if (p->pa[l].l) {
            FSCI_TRY(run(&p->pa[l], train, cur, NULL, ws));
            cur = p->pa[l].y;
        }
        if (p->pb[l].l) {
            FSCI_TRY(run(&p->pb[l], train, cur, NULL, ws));
            cur = p->pb[l].y;
        }
    }
    FSCI_TRY(block_fwd(&p->bottom, &net->bottom, train, cur, W, ws));
    cur = p->bottom.b2.y;
    for (int l = a->depth - 1; l >= 0; l--) {
        FSCI_TRY(run(&p->up[l], train, cur, net->up_off[l] >= 0 ? W + net->up_off[l] : NULL, ws));
        cur = p->up[l].y;
        if (p->cat[l]) {
            const fsci_nn_dims u = out_of(&p->up[l]);
            FSCI_TRY(fsci_nn_concat(FSCI_F32, u, out_of(&p->enc[l].b2).c, cur, p->enc[l].b2.y, p->cat[l]));
            cur = p->cat[l];
        }
        FSCI_TRY(block_fwd(&p->dec[l], &net->dec[l], train, cur, W, ws));
        cur = p->dec[l].b2.y;
    }
    FSCI_TRY(run(&p->fin, train, cur, W + net->fin_off, ws));
    const int64_t tot = n * h * w;
    if (a->residual)
        for (int64_t i = 0; i < tot; i++) y[i] = p->fin.y[i] + x[i];
    else
        memcpy(y, p->fin.y, (size_t)tot * sizeof(float));
    net->last = train ? p : NULL;
    return FSCI_OK;
fail:
    net->last = NULL;
    return st;
}

int fsci_n2v2_net_backward(fsci_n2v2_net *net, const float *dy, float *g)
{
    int st = FSCI_OK;
    FSCI_CHECK(net && dy && g, FSCI_EINVAL, "n2v2 backward: NULL argument");
    plan *p = net->last;
    FSCI_CHECK(p != NULL, FSCI_EINVAL, "n2v2 backward: no train-mode forward to differentiate");
    const fsci_n2v2_arch *a = &net->a;
    const float *W = net->w;
    float *ws = p->ws;
    memset(g, 0, (size_t)net->nw * sizeof(float));
    /* the residual path adds dy to dx, which nobody needs */
    FSCI_TRY(back(&p->fin, p->dec[0].b2.y, dy, W + net->fin_off, p->dec[0].b2.dy, g + net->fin_off, ws));
    for (int l = 0; l < a->depth; l++) {
        const float *in = p->cat[l] ? p->cat[l] : p->up[l].y;
        float *din = p->cat[l] ? p->dcat[l] : p->up[l].dy;
        FSCI_TRY(block_bwd(&p->dec[l], &net->dec[l], in, p->dec[l].b2.dy, din, W, g, ws));
        if (p->cat[l])
            FSCI_TRY(fsci_nn_concat_backward(FSCI_F32, out_of(&p->up[l]), out_of(&p->enc[l].b2).c, p->dcat[l],
                                             p->up[l].dy, p->dskip[l]));
        const float *below = l + 1 < a->depth ? p->dec[l + 1].b2.y : p->bottom.b2.y;
        float *dbelow = l + 1 < a->depth ? p->dec[l + 1].b2.dy : p->bottom.b2.dy;
        const int64_t uo = net->up_off[l];
        FSCI_TRY(back(&p->up[l], below, p->up[l].dy, uo >= 0 ? W + uo : NULL, dbelow, uo >= 0 ? g + uo : NULL,
                      ws));
    }
    /* input of the bottom block and its gradient: the last pooling output */
    const int D = a->depth;
    node *lastpool = p->pb[D - 1].l ? &p->pb[D - 1] : &p->pa[D - 1];
    FSCI_TRY(block_bwd(&p->bottom, &net->bottom, lastpool->y, p->bottom.b2.dy, lastpool->dy, W, g, ws));
    for (int l = D - 1; l >= 0; l--) {
        block *e = &p->enc[l];
        /* pooling backward into the encoder output's gradient */
        if (p->pb[l].l) {
            const float *bin = p->pa[l].l ? p->pa[l].y : e->b2.y;
            float *dbin = p->pa[l].l ? p->pa[l].dy : e->b2.dy;
            FSCI_TRY(back(&p->pb[l], bin, p->pb[l].dy, NULL, dbin, NULL, ws));
        }
        if (p->pa[l].l) FSCI_TRY(back(&p->pa[l], e->b2.y, p->pa[l].dy, NULL, e->b2.dy, NULL, ws));
        if (p->dskip[l]) {
            const int64_t ne = numel(out_of(&e->b2));
            for (int64_t i = 0; i < ne; i++) e->b2.dy[i] += p->dskip[l][i];
        }
        const float *in = l ? (p->pb[l - 1].l ? p->pb[l - 1].y : p->pa[l - 1].y) : p->xin;
        float *din = l ? (p->pb[l - 1].l ? p->pb[l - 1].dy : p->pa[l - 1].dy) : NULL;
        FSCI_TRY(block_bwd(e, &net->enc[l], in, e->b2.dy, din, W, g, ws));
    }
    return FSCI_OK;
fail:
    return st;
}

double fsci_n2v2_net_macs(const fsci_n2v2_net *net, int64_t h, int64_t w)
{
    const fsci_n2v2_arch *a = &net->a;
    const double k2 = (double)a->kernel * a->kernel;
    double m = 0, hw = (double)(h * w);
    for (int l = 0; l < a->depth; l++, hw /= 4) {
        const blk_layout *e = &net->enc[l], *d = &net->dec[l];
        m += hw * k2 * (double)(e->cout * e->cin + e->cout * e->cout + d->cout * d->cin + d->cout * d->cout);
        if (net->up_off[l] >= 0) m += (hw / 4) * (double)(width_at(a, l + 1) * width_at(a, l)) * 4;
    }
    const blk_layout *b = &net->bottom;
    m += hw * k2 * (double)(b->cout * b->cin + b->cout * b->cout);
    m += (double)(h * w) * (double)a->width;
    return m;
}

int fsci_n2v2_net_import_raw(fsci_n2v2_net *net, const char *path)
{
    FSCI_CHECK(net && path, FSCI_EINVAL, "n2v2 import: NULL argument");
    struct stat sb;
    FSCI_CHECK(stat(path, &sb) == 0, FSCI_EIO, "%s: cannot open (no such file?)", path);
    FSCI_CHECK(S_ISREG(sb.st_mode), FSCI_EIO, "%s: not a regular file", path);
    FSCI_CHECK((int64_t)sb.st_size == net->nw * 4, FSCI_EFORMAT,
               "%s: %lld bytes, the network has %lld float32 weights (%lld bytes)", path,
               (long long)sb.st_size, (long long)net->nw, (long long)(net->nw * 4));
    FILE *f = fopen(path, "rb");
    FSCI_CHECK(f != NULL, FSCI_EIO, "%s: cannot open", path);
    size_t got = fread(net->w, 4, (size_t)net->nw, f);
    fclose(f);
    FSCI_CHECK(got == (size_t)net->nw, FSCI_EIO, "%s: short read (%zu of %lld weights)", path, got,
               (long long)net->nw);
    for (int64_t i = 0; i < net->nw; i++)
        FSCI_CHECK(isfinite(net->w[i]), FSCI_EFORMAT, "%s: weight %lld is %g", path, (long long)i,
                   (double)net->w[i]);
    return FSCI_OK;
}
