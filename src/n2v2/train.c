/* n2v2 training: random patches with flips and rotations, blind-spot masking,
 * masked MSE, Adam/AdamW with ReduceLROnPlateau on a fixed validation set,
 * best and last weights. Every random draw is keyed by (seed, step, sample),
 * so a seed and a thread count reproduce a run bit for bit (doc/n2v2.md §4). */
#include <math.h>
#include <string.h>
#include <time.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/parallel.h"
#include "fastsci/core/progress.h"
#include "fastsci/core/rng.h"
#include "fastsci/nn.h"
#include "n2v2/n2v2_impl.h"

/* validation masks use steps from here on, never reached by training */
#define VAL_STEP0 (UINT64_C(1) << 62)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Copy a p x p patch at (z, y0, x0) of the stack, transformed by t in 0..7
 * (t & 3 quarter turns, then a horizontal flip if t & 4). */
static void take_patch(const float *stack, int64_t h, int64_t w, int64_t z, int64_t y0, int64_t x0, int64_t p,
                       int t, float *out)
{
    const float *src = stack + (z * h + y0) * w + x0;
    for (int64_t i = 0; i < p; i++)
        for (int64_t j = 0; j < p; j++) {
            int64_t a = i, b = t & 4 ? p - 1 - j : j, r; /* output (i, j) reads source (a, b) */
            for (int q = 0; q < (t & 3); q++) {          /* rotate the read position back */
                r = a;
                a = b;
                b = p - 1 - r;
            }
            out[i * p + j] = src[a * w + b];
        }
}

static void draw_batch(const float *stack, int64_t z, int64_t h, int64_t w, const fsci__n2v2_train_opts *o,
                       uint64_t stream, uint64_t step, int64_t nb, bool augment, float *patches)
{
    const int64_t p = o->patch;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nb; i++) {
        fsci_rng r;
        fsci_rng_init(&r, o->seed, stream, step, (uint64_t)i);
        const int64_t zz = (int64_t)(fsci_rng_uniform(&r) * (double)z);
        const int64_t y0 = (int64_t)(fsci_rng_uniform(&r) * (double)(h - p + 1));
        const int64_t x0 = (int64_t)(fsci_rng_uniform(&r) * (double)(w - p + 1));
        const int t = augment ? (int)(fsci_rng_uniform(&r) * 8) : 0;
        take_patch(stack, h, w, zz, y0, x0, p, t, patches + i * p * p);
    }
}

typedef struct {
    float *patch, *input, *mask, *pred, *dpred, *grads, *best;
    float *vpatch, *vinput, *vmask, *vpred;
} bufs;

static void bufs_free(bufs *b)
{
    float **all[] = {&b->patch, &b->input,  &b->mask,   &b->pred,  &b->dpred, &b->grads,
                     &b->best,  &b->vpatch, &b->vinput, &b->vmask, &b->vpred};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        fsci_free(*all[i]);
        *all[i] = NULL;
    }
}

/* Validation loss in eval mode over the fixed set, in batches of the training batch size. */
static int val_loss(fsci__n2v2_model *m, const fsci__n2v2_train_opts *o, bufs *b, double *out)
{
    const int64_t pp = o->patch * o->patch, V = o->val_patches;
    double s = 0, cnt = 0;
    for (int64_t v0 = 0; v0 < V; v0 += o->batch) {
        const int64_t nb = v0 + o->batch <= V ? o->batch : V - v0;
        int st = fsci_n2v2_net_forward(m->net, false, b->vinput + v0 * pp, nb, o->patch, o->patch, b->vpred);
        if (st) return st;
        for (int64_t i = 0; i < nb * pp; i++) {
            const float mk = b->vmask[v0 * pp + i];
            if (mk != 0) {
                const double e = (double)b->vpred[i] - (double)b->vpatch[v0 * pp + i];
                s += e * e;
                cnt += 1;
            }
        }
    }
    *out = cnt > 0 ? s / cnt : (double)NAN;
    return FSCI_OK;
}

int fsci__n2v2_train(fsci__n2v2_model *m, const float *stack, int64_t z, int64_t h, int64_t w,
                     const fsci__n2v2_train_opts *o, const fsci_ctx *ctx, fsci__n2v2_epoch *log)
{
    int st = FSCI_OK;
    bufs b = {0};
    fsci_nn_adam *adam = NULL;
    fsci_progress *prog = NULL;
    const int64_t P = o->patch, pp = P * P, B = o->batch, V = o->val_patches;
    const int64_t nw = fsci_n2v2_net_nweights(m->net);
    FSCI_CHECK(P <= h && P <= w, FSCI_EINVAL, "n2v2 train: patch = %lld larger than the image (%lld x %lld)",
               (long long)P, (long long)h, (long long)w);
    FSCI_TRY(fsci__mask_check(&o->mask, P, P));
    float **big[] = {&b.patch, &b.input, &b.mask, &b.pred, &b.dpred};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        *big[i] = fsci_malloc((size_t)(B * pp), sizeof(float));
    b.grads = fsci_malloc((size_t)nw, sizeof(float));
    b.best = fsci_malloc((size_t)nw, sizeof(float));
    if (V > 0) {
        float **vb[] = {&b.vpatch, &b.vinput, &b.vmask};
        for (size_t i = 0; i < 3; i++) *vb[i] = fsci_malloc((size_t)(V * pp), sizeof(float));
        b.vpred = fsci_malloc((size_t)(B * pp), sizeof(float));
    }
    FSCI_CHECK_GOTO(b.patch && b.input && b.mask && b.pred && b.dpred && b.grads && b.best &&
                        (V == 0 || (b.vpatch && b.vinput && b.vmask && b.vpred)),
                    FSCI_ENOMEM, "n2v2 train: out of memory for batch %lld of %lld x %lld patches",
                    (long long)B, (long long)P, (long long)P);
    if (V > 0) {
        draw_batch(stack, z, h, w, o, FSCI__N2V2_STREAM_VAL, 0, V, false, b.vpatch);
        for (int64_t v = 0; v < V; v++)
            FSCI_TRY(fsci__mask_apply(&o->mask, b.vpatch + v * pp, b.vinput + v * pp, b.vmask + v * pp, 1, P,
                                      P, o->seed, VAL_STEP0 + (uint64_t)v, ctx->threads, NULL));
    }
    fsci_nn_adam_opts ao = {.lr = o->lr, .weight_decay = o->weight_decay, .decoupled = o->adamw};
    FSCI_TRY(fsci_nn_adam_create(nw, &ao, &adam));
    fsci_nn_plateau plat;
    fsci_nn_plateau_init(&plat, o->factor, o->patience);
    float *W = fsci_n2v2_net_weights(m->net);
    const unsigned char *trainable = fsci_n2v2_net_trainable(m->net);
    double best = INFINITY, lr = o->lr;
    memcpy(b.best, W, (size_t)nw * sizeof(float));
    if (ctx->progress && !ctx->quiet)
        FSCI_TRY(fsci_progress_create("n2v2 train", o->epochs * o->steps, "steps", &prog));
    uint64_t step = 0;
    for (int64_t ep = 0; ep < o->epochs; ep++) {
        const double t0 = now();
        double sum = 0;
        for (int64_t s = 0; s < o->steps; s++, step++) {
            draw_batch(stack, z, h, w, o, FSCI__N2V2_STREAM_PATCH, step, B, o->augment, b.patch);
            int64_t cnt = 0;
            FSCI_TRY(fsci__mask_apply(&o->mask, b.patch, b.input, b.mask, B, P, P, o->seed, step,
                                      ctx->threads, &cnt));
            FSCI_TRY(fsci_n2v2_net_forward(m->net, true, b.input, B, P, P, b.pred));
            double loss = 0;
            if (cnt > 0) {
                FSCI_TRY(fsci_nn_masked_mse(FSCI_F32, B * pp, b.pred, b.patch, b.mask, &loss, b.dpred));
                FSCI_CHECK_GOTO(isfinite(loss), FSCI_ERANGE,
                                "n2v2 train: the loss became %g at step %llu (lower --lr, or --clip)", loss,
                                (unsigned long long)step);
                FSCI_TRY(fsci_n2v2_net_backward(m->net, b.dpred, b.grads));
                if (o->clip > 0) fsci_nn_clip_grad_norm(b.grads, nw, o->clip);
                fsci_nn_adam_step(adam, W, b.grads, trainable);
            }
            sum += loss;
            if (prog) fsci_progress_add(prog, 1);
        }
        double vl = NAN;
        if (V > 0) FSCI_TRY(val_loss(m, o, &b, &vl));
        const double crit = V > 0 ? vl : sum / (double)o->steps;
        if (crit < best) {
            best = crit;
            memcpy(b.best, W, (size_t)nw * sizeof(float));
        }
        lr = fsci_nn_plateau_step(&plat, crit, lr);
        fsci_nn_adam_set_lr(adam, lr);
        const double dt = now() - t0;
        if (log) log[ep] = (fsci__n2v2_epoch){sum / (double)o->steps, vl, lr, dt};
        if (!ctx->quiet && !prog)
            fsci_ctx_printf(ctx, "epoch %lld/%lld: loss %.5f, validation %.5f, lr %.3g, %.1f patches/s\n",
                            (long long)(ep + 1), (long long)o->epochs, sum / (double)o->steps, vl, lr,
                            (double)(o->steps * B) / dt);
    }
    if (prog) fsci_progress_finish(prog);
    if (o->use_best) memcpy(W, b.best, (size_t)nw * sizeof(float));
    m->steps += (int64_t)step;
    m->best_val = best;
fail:
    fsci_progress_destroy(&prog);
    fsci_nn_adam_destroy(&adam);
    bufs_free(&b);
    return st;
}
