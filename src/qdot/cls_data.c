/* Training patches for the charge-state classifier: charge-sensor stability
 * diagrams of random devices from the constant-interaction simulator, with
 * the label checked against the ground states of the window. The prior is
 * described in doc/qdot_classifier.md section 3. */
#include <math.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/rng.h"
#include "fastsci/qdot.h"
#include "qdot/classifier.h"

#define SIDE FSCI__QDOT_CLS_SIDE
#define NPIX FSCI__QDOT_CLS_NPIX
/* Draws of one patch that fail the label check before giving up (never
 * reached in practice: the windows are chosen from the lever arms). */
#define MAX_ATTEMPTS 32

void fsci__qdot_cls_preprocess(const double *in, int64_t npix, float *out)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < npix; i++) {
        const double g = in[i] > 0 ? in[i] : 0; /* NaN becomes 0 too */
        const double v = log10(g + 1e-9);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    const bool flat = !(hi - lo > 1e-12);
    for (int64_t i = 0; i < npix; i++) {
        const double g = in[i] > 0 ? in[i] : 0;
        out[i] = flat ? 0.5f : (float)((log10(g + 1e-9) - lo) / (hi - lo));
    }
}

static double unif(fsci_rng *r, double a, double b)
{
    return a + (b - a) * fsci_rng_uniform(r);
}

/* The sensor and noise of every kind of patch; `span` is the voltage extent
 * of the window (mV) so that the gate gradient is comparable to the peak. */
static void draw_sensor(fsci_rng *r, fsci_qdot_params *p, double x0, double y0, double span, bool noisy)
{
    const double w = unif(r, 0.1, 0.3);
    p->sensor_width = w;
    p->sensor_period = w * unif(r, 2.5, 5.0);
    for (int g = 0; g < p->ngates; g++) p->sensor_lever[g] = w / span * unif(r, 0.0, 1.5);
    for (int d = 0; d < p->ndots; d++) p->sensor_coupling[d] = w * unif(r, 0.4, 1.2);
    /* on a flank of a peak at the window's corner */
    const double flank = w * unif(r, 0.3, 1.5) * (fsci_rng_uniform(r) < 0.5 ? -1 : 1);
    p->sensor_offset = flank - p->sensor_lever[0] * x0 - p->sensor_lever[1] * y0;
    fsci_qdot_noise *n = &p->noise;
    n->white = noisy ? unif(r, 0.04, 0.1) : unif(r, 0.005, 0.04);
    n->pink = unif(r, 0.0, 0.02);
    if (fsci_rng_uniform(r) < (noisy ? 0.6 : 0.25)) {
        n->telegraph = unif(r, 0.01, noisy ? 0.1 : 0.06);
        n->telegraph_rate = unif(r, 0.002, 0.05);
    }
    if (fsci_rng_uniform(r) < 0.15) {
        n->jump_rate = unif(r, 1e-4, 1e-3);
        n->jump_size = w * unif(r, 0.1, 0.5);
    }
}

typedef struct {
    fsci_qdot_params p;
    fsci_qdot_scan s;
    int kind; /* what the ground states must show: 0 both dots change, 1 dot 1 only, 2 nothing */
} draw;

/* A double dot: C1, C2 in 70..130 aF, Cm/sqrt(C1 C2) in 0.05..0.4, plunger
 * capacitances 7..13 aF with 3..30 % cross capacitance. `dead2`: dot 2
 * almost uncoupled from the gates (its lines lie far outside the window). */
static void draw_dqd(fsci_rng *r, fsci_qdot_params *p, bool dead2)
{
    memset(p, 0, sizeof *p);
    p->ndots = 2;
    p->ngates = 2;
    p->nmax = 4;
    p->kT = unif(r, 0.005, 0.04);
    const double c1 = unif(r, 70, 130), c2 = unif(r, 70, 130);
    /* with dot 2 off the gates, a weak Cm too: a strong one would still pull
     * its lines into the window through dot 1 */
    const double cm = (dead2 ? unif(r, 0.0, 0.1) : unif(r, 0.05, 0.4)) * sqrt(c1 * c2);
    p->c_cc[0] = c1;
    p->c_cc[1] = p->c_cc[2] = -cm;
    p->c_cc[3] = c2;
    const double g11 = unif(r, 7, 13), g22 = unif(r, 7, 13);
    p->c_cv[0] = g11;
    p->c_cv[1] = g11 * unif(r, 0.03, 0.3);
    p->c_cv[2] = g22 * unif(r, 0.03, 0.3);
    p->c_cv[3] = g22;
    if (dead2) {
        p->c_cv[2] = unif(r, 0.001, 0.05);
        p->c_cv[3] = unif(r, 0.001, 0.05);
    }
}

static void window(fsci_qdot_scan *s, double x0, double wx, double y0, double wy)
{
    s->gx = 0;
    s->gy = 1;
    s->x0 = x0;
    s->x1 = x0 + wx;
    s->y0 = y0;
    s->y1 = y0 + wy;
    s->nx = s->ny = SIDE;
    s->signal = FSCI_QDOT_SENSOR;
    s->noise = true;
}

static void draw_patch(fsci_rng *r, int label, draw *d)
{
    memset(d, 0, sizeof *d);
    fsci_qdot_params *p = &d->p;
    fsci_qdot_scan *s = &d->s;
    const double e = FSCI_QDOT_E2_AF; /* e / (1 aF) in mV */
    if (label == FSCI__QDOT_CLS_DOUBLE_DOT) {
        d->kind = 0;
        draw_dqd(r, p, false);
        /* plunger periods; the first lines lie near half a period */
        const double px = e / p->c_cv[0], py = e / p->c_cv[3];
        window(s, px * unif(r, -0.3, 0.3), px * unif(r, 1.8, 3.2), py * unif(r, -0.3, 0.3),
               py * unif(r, 1.8, 3.2));
    } else if (label == FSCI__QDOT_CLS_SINGLE_DOT) {
        d->kind = 1;
        if (fsci_rng_uniform(r) < 0.5) {
            /* one dot under both gates: one family of diagonal lines */
            memset(p, 0, sizeof *p);
            p->ndots = 1;
            p->ngates = 2;
            p->nmax = 7;
            p->kT = unif(r, 0.005, 0.04);
            p->c_cc[0] = unif(r, 70, 130);
            p->c_cv[0] = unif(r, 3, 13);
            p->c_cv[1] = unif(r, 3, 13);
            const double per = e / (p->c_cv[0] + p->c_cv[1]); /* along the diagonal */
            const double v0 = per * unif(r, -0.3, 0.3), wv = per * unif(r, 1.8, 4.5);
            window(s, v0, wv, v0, wv);
        } else {
            /* a double dot whose second dot the gates do not reach */
            draw_dqd(r, p, true);
            const double px = e / p->c_cv[0], py = e / p->c_cv[0] * unif(r, 0.7, 1.4);
            window(s, px * unif(r, -0.3, 0.3), px * unif(r, 1.8, 3.2), py * unif(r, -0.3, 0.3),
                   py * unif(r, 1.8, 3.2));
        }
    } else {
        /* no transition: the window lies below the first line of both dots */
        d->kind = 2;
        draw_dqd(r, p, false);
        const double px = e / p->c_cv[0], py = e / p->c_cv[3];
        const double wx = px * unif(r, 0.5, 2.5), wy = py * unif(r, 0.5, 2.5);
        window(s, px * unif(r, -1.5, 0.2) - wx, wx, py * unif(r, -1.5, 0.2) - wy, wy);
    }
    const double span = fmax(s->x1 - s->x0, s->y1 - s->y0);
    draw_sensor(r, p, s->x0, s->y0, span, label == FSCI__QDOT_CLS_MISC && fsci_rng_uniform(r) < 0.4);
    s->seed = fsci_rng_u64(r);
    s->stream = FSCI__QDOT_CLS_STREAM_NOISE;
}

/* Whether the window's ground states show what the label says. */
static bool states_match(const draw *d, const int32_t *st)
{
    const int nb = d->p.nmax + 1;
    int lo1 = 1 << 30, hi1 = -1, lo2 = 1 << 30, hi2 = -1;
    for (int64_t i = 0; i < NPIX; i++) {
        const int n1 = d->p.ndots == 2 ? st[i] / nb : st[i], n2 = d->p.ndots == 2 ? st[i] % nb : 0;
        lo1 = n1 < lo1 ? n1 : lo1;
        hi1 = n1 > hi1 ? n1 : hi1;
        lo2 = n2 < lo2 ? n2 : lo2;
        hi2 = n2 > hi2 ? n2 : hi2;
    }
    const bool c1 = hi1 > lo1, c2 = hi2 > lo2;
    /* the top state must stay below nmax so that the window is not clipped by it */
    const bool inside = hi1 < d->p.nmax && hi2 < d->p.nmax;
    switch (d->kind) {
    case 0: return c1 && c2 && inside;
    case 1: return c1 && !c2 && inside;
    default: return !c1 && !c2;
    }
}

/* Rotate by k quarter turns and mirror (the reference's augmentation). */
static void orient(const double *in, double *out, int k, bool flip)
{
    for (int i = 0; i < SIDE; i++)
        for (int j = 0; j < SIDE; j++) {
            int y = i, x = flip ? SIDE - 1 - j : j;
            for (int q = 0; q < k; q++) {
                const int t = y;
                y = x;
                x = SIDE - 1 - t;
            }
            out[i * SIDE + j] = in[y * SIDE + x];
        }
}

/* One patch; ws holds 2 * NPIX doubles and NPIX int32. */
static int one_patch(uint64_t seed, int64_t i, float *x, int32_t *label, double *ws, int32_t *st)
{
    int status = FSCI_OK;
    const int lab = (int)(i % FSCI__QDOT_CLS_NCLASS);
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        fsci_rng r;
        fsci_rng_init(&r, seed, FSCI__QDOT_CLS_STREAM_DATA, (uint64_t)i, (uint64_t)attempt);
        draw d;
        draw_patch(&r, lab, &d);
        fsci_qdot_device *dev = NULL;
        status = fsci_qdot_device_create(&d.p, &dev);
        if (status != FSCI_OK) return status;
        status = fsci_qdot_scan_run(dev, &d.s, ws, st);
        fsci_qdot_device_destroy(&dev);
        if (status != FSCI_OK) return status;
        if (!states_match(&d, st)) continue;
        const int k = (int)(fsci_rng_u64(&r) & 3);
        const bool flip = fsci_rng_uniform(&r) < 0.5;
        orient(ws, ws + NPIX, k, flip);
        fsci__qdot_cls_preprocess(ws + NPIX, NPIX, x);
        *label = lab;
        return FSCI_OK;
    }
    return fsci_error_set(
        FSCI_EINTERNAL, __FILE__, __LINE__, __func__,
        "qdot classifier data: patch %lld (seed %llu): no window matched label %d in %d draws", (long long)i,
        (unsigned long long)seed, lab, MAX_ATTEMPTS);
}

int fsci__qdot_cls_dataset(uint64_t seed, int64_t n, float *x, int32_t *label)
{
    FSCI_CHECK(n >= 0, FSCI_EINVAL, "qdot classifier data: n = %lld (>= 0)", (long long)n);
    if (n == 0) return FSCI_OK;
    FSCI_CHECK(x && label, FSCI_EINVAL, "qdot classifier data: NULL output");
    int64_t failed = -1;
#pragma omp parallel
    {
        double *ws = fsci_malloc(2 * NPIX, sizeof(double));
        int32_t *st = fsci_malloc(NPIX, sizeof(int32_t));
        /* patches are independent; the simulator's own parallel region runs
         * with one thread inside this one */
#pragma omp for schedule(dynamic, 4)
        for (int64_t i = 0; i < n; i++) {
            if (!ws || !st || one_patch(seed, i, x + i * NPIX, label + i, ws, st) != FSCI_OK) {
#pragma omp critical(fsci_qdot_cls_data)
                if (failed < 0 || i < failed) failed = i;
            }
        }
        fsci_free(ws);
        fsci_free(st);
    }
    if (failed < 0) return FSCI_OK;
    /* repeat the first failure on this thread so that its message is ours */
    int st = FSCI_ENOMEM;
    double *ws = fsci_malloc(2 * NPIX, sizeof(double));
    int32_t *sts = fsci_malloc(NPIX, sizeof(int32_t));
    if (ws && sts)
        st = one_patch(seed, failed, x + failed * NPIX, label + failed, ws, sts);
    else
        fsci_error_set(FSCI_ENOMEM, __FILE__, __LINE__, __func__, "qdot classifier data: out of memory");
    fsci_free(ws);
    fsci_free(sts);
    return st != FSCI_OK ? st : FSCI_EINTERNAL;
}
