/* Optimisers of the nn module: Adam / AdamW as torch.optim (PyTorch 1.13,
 * amsgrad off, the same operation order), gradient-norm clipping and
 * ReduceLROnPlateau. */
#include <math.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/nn.h"

struct fsci_nn_adam {
    fsci_nn_adam_opts o;
    int64_t n, t;
    float *m, *v;
};

int fsci_nn_adam_create(int64_t n, const fsci_nn_adam_opts *o, fsci_nn_adam **out)
{
    FSCI_CHECK(out && o, FSCI_EINVAL, "adam: NULL argument");
    *out = NULL;
    FSCI_CHECK(n >= 1, FSCI_EINVAL, "adam: n = %lld parameters (>= 1)", (long long)n);
    FSCI_CHECK(isfinite(o->lr) && o->lr > 0, FSCI_EINVAL, "adam: lr = %g (> 0)", o->lr);
    FSCI_CHECK(isfinite(o->weight_decay) && o->weight_decay >= 0, FSCI_EINVAL,
               "adam: weight_decay = %g (>= 0)", o->weight_decay);
    FSCI_CHECK(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1, FSCI_EINVAL,
               "adam: betas = (%g, %g) (in [0, 1))", o->beta1, o->beta2);
    FSCI_CHECK(isfinite(o->eps) && o->eps >= 0, FSCI_EINVAL, "adam: eps = %g (>= 0)", o->eps);
    fsci_nn_adam *a = fsci_calloc(1, sizeof *a);
    FSCI_CHECK(a != NULL, FSCI_ENOMEM, "adam: out of memory");
    a->o = *o;
    if (a->o.beta1 == 0 && a->o.beta2 == 0) {
        a->o.beta1 = 0.9;
        a->o.beta2 = 0.999;
    }
    if (a->o.eps == 0) a->o.eps = 1e-8;
    a->n = n;
    a->m = fsci_calloc((size_t)n, sizeof(float));
    a->v = fsci_calloc((size_t)n, sizeof(float));
    if (!a->m || !a->v) {
        fsci_nn_adam_destroy(&a);
        return fsci_error_set(FSCI_ENOMEM, __FILE__, __LINE__, __func__,
                              "adam: out of memory for %lld moments", (long long)n);
    }
    *out = a;
    return FSCI_OK;
}

void fsci_nn_adam_destroy(fsci_nn_adam **p)
{
    if (!p || !*p) return;
    fsci_free((*p)->m);
    fsci_free((*p)->v);
    fsci_free(*p);
    *p = NULL;
}

void fsci_nn_adam_step(fsci_nn_adam *a, float *restrict p, const float *restrict g, const unsigned char *mask)
{
    a->t++;
    const float b1 = (float)a->o.beta1, b2 = (float)a->o.beta2, eps = (float)a->o.eps, lr = (float)a->o.lr;
    const float wd = (float)a->o.weight_decay;
    const double bc1 = 1.0 - pow(a->o.beta1, (double)a->t), bc2 = 1.0 - pow(a->o.beta2, (double)a->t);
    const float step = (float)(a->o.lr / bc1), bc2s = (float)sqrt(bc2);
    const bool decoupled = a->o.decoupled;
    float *restrict m = a->m, *restrict v = a->v;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < a->n; i++) {
        if (mask && !mask[i]) continue;
        float gi = g[i], pi = p[i];
        if (wd != 0) {
            if (decoupled)
                pi = pi * (1 - lr * wd);
            else
                gi = gi + wd * pi;
        }
        m[i] = m[i] * b1 + gi * (1 - b1);
        v[i] = v[i] * b2 + gi * gi * (1 - b2);
        const float denom = sqrtf(v[i]) / bc2s + eps;
        p[i] = pi - step * (m[i] / denom);
    }
}

void fsci_nn_adam_set_lr(fsci_nn_adam *a, double lr)
{
    a->o.lr = lr;
}

double fsci_nn_adam_lr(const fsci_nn_adam *a)
{
    return a->o.lr;
}

int64_t fsci_nn_adam_steps(const fsci_nn_adam *a)
{
    return a->t;
}

double fsci_nn_clip_grad_norm(float *g, int64_t n, double max_norm)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)g[i] * (double)g[i];
    const double norm = sqrt(s);
    const double k = max_norm / (norm + 1e-6);
    if (k < 1) {
        const float kf = (float)k;
        for (int64_t i = 0; i < n; i++) g[i] *= kf;
    }
    return norm;
}

void fsci_nn_plateau_init(fsci_nn_plateau *p, double factor, int patience)
{
    p->factor = factor > 0 && factor < 1 ? factor : 0.5;
    p->patience = patience >= 0 ? patience : 10;
    p->threshold = 1e-4;
    p->min_lr = 0;
    p->best = INFINITY;
    p->bad = 0;
}

double fsci_nn_plateau_step(fsci_nn_plateau *p, double value, double lr)
{
    if (value < p->best * (1 - p->threshold)) {
        p->best = value;
        p->bad = 0;
    } else {
        p->bad++;
    }
    if (p->bad > p->patience) {
        const double nl = fmax(lr * p->factor, p->min_lr);
        if (lr - nl > 1e-8) lr = nl;
        p->bad = 0;
    }
    return lr;
}
