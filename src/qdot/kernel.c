/* qdot: the per-pixel forward model, vectorised over a block of pixels.
 *
 * For each state s the energy over the block is one fused update
 * E_s = cb_s - ax_s x - ay_s y (cb_s folds in the fixed gates), so the
 * ground state is a running minimum with blends and no branches; the thermal
 * sums add exp(-(E_s - E_min)/kT) for the states within 30 kT. This file is
 * compiled with -ffast-math so that exp vectorises (glibc's libmvec): every
 * operand is finite here (devices and voltages are validated, the exponent
 * is clamped to [-30, 0]), and a pixel's lanes do not depend on the thread
 * count because blocks always start at fixed offsets. doc/qdot.md section 4. */
#include <float.h>
#include <stdbool.h>
#include <math.h>
#include <string.h>

#include "qdot/qdot_impl.h"

#define B FSCI__QDOT_BLOCK
/* Pixels per group: one AVX-512 register of doubles (two AVX2 ones). GCC's vector
 * extension keeps a group's running values in registers across the loop over the
 * states, which the auto-vectoriser did not (it kept them in memory: 3x slower). */
#define W 8
/* groups interleaved in the ground-state search */
#define NGRP 4
typedef double vd __attribute__((vector_size(W * sizeof(double))));
typedef int64_t vl __attribute__((vector_size(W * sizeof(int64_t))));

static inline vd splat(double v)
{
    return (vd){0} + v;
}

/* lanes of a where m is set, of b elsewhere */
static inline vd sel(vl m, vd a, vd b)
{
    return (vd)(((vl)a & m) | ((vl)b & ~m));
}

int64_t fsci__qdot_work_len(const fsci_qdot_device *dev)
{
    int64_t S = dev->nstates;
    int64_t pbuf = dev->p.ndots <= 2 ? S * B : 0;
    return 4 * S + 6 * (int64_t)B + pbuf;
}

/* emin, the q of the minimising state and its index, over np <= B pixels. */
static void ground(int S, const double *restrict cb, const double *restrict ax, const double *restrict ay,
                   const double *restrict qt, const double *restrict x, const double *restrict y, int np,
                   double *restrict emin, double *restrict qb, int32_t *restrict arg)
{
    /* G groups of W pixels at a time, states inner: a group's running minimum stays in a vector
     * register, and the G independent groups hide the compare-and-blend latency */
    for (int p0 = 0; p0 < np; p0 += NGRP * W) {
        const int m = np - p0 < NGRP * W ? np - p0 : NGRP * W;
        double xa[NGRP * W], ya[NGRP * W];
        for (int l = 0; l < NGRP * W; l++) {
            xa[l] = x[p0 + (l < m ? l : m - 1)];
            ya[l] = y[p0 + (l < m ? l : m - 1)];
        }
        vd xp[NGRP], yp[NGRP], em[NGRP], ag[NGRP];
        memcpy(xp, xa, sizeof xp);
        memcpy(yp, ya, sizeof yp);
        for (int g = 0; g < NGRP; g++) {
            em[g] = splat(DBL_MAX);
            ag[g] = splat(0);
        }
        for (int s = 0; s < S; s++) {
            const vd c = splat(cb[s]), a1 = splat(ax[s]), a2 = splat(ay[s]), sv = splat((double)s);
            for (int g = 0; g < NGRP; g++) {
                vd e = c - a1 * xp[g] - a2 * yp[g];
                vl lt = e < em[g];
                em[g] = sel(lt, e, em[g]);
                ag[g] = sel(lt, sv, ag[g]);
            }
        }
        double ea[NGRP * W], ga[NGRP * W];
        memcpy(ea, em, sizeof ea);
        memcpy(ga, ag, sizeof ga);
        for (int l = 0; l < m; l++) {
            const int32_t a = (int32_t)ga[l];
            emin[p0 + l] = ea[l];
            qb[p0 + l] = qt[a];
            arg[p0 + l] = a;
        }
    }
}

/* z = sum_s w_s, acc = sum_s w_s q_s with w_s = exp(-(E_s - emin)/kT) (0 beyond
 * the cut); pbuf (may be NULL) keeps w_s per pixel. */
static void thermal(int S, double ikt, const double *restrict cb, const double *restrict ax,
                    const double *restrict ay, const double *restrict qt, const double *restrict x,
                    const double *restrict y, int np, const double *restrict emin, double *restrict z,
                    double *restrict acc, double *restrict pbuf)
{
    enum { L = NGRP * W };
    const vd cut = splat(FSCI__QDOT_KT_CUT), vikt = splat(ikt);
    for (int p0 = 0; p0 < np; p0 += L) {
        const int m = np - p0 < L ? np - p0 : L;
        double xa[L], ya[L], ea[L];
        for (int l = 0; l < L; l++) {
            int i = p0 + (l < m ? l : m - 1);
            xa[l] = x[i];
            ya[l] = y[i];
            ea[l] = emin[i];
        }
        vd xp[NGRP], yp[NGRP], em[NGRP], zs[NGRP], as[NGRP];
        memcpy(xp, xa, sizeof xp);
        memcpy(yp, ya, sizeof yp);
        memcpy(em, ea, sizeof em);
        for (int g = 0; g < NGRP; g++) zs[g] = as[g] = splat(0);
        for (int s = 0; s < S; s++) {
            const vd c = splat(cb[s]), a1 = splat(ax[s]), a2 = splat(ay[s]), qs = splat(qt[s]);
            vd t[NGRP];
            vl in[NGRP], any = {0};
            for (int g = 0; g < NGRP; g++) {
                t[g] = (c - a1 * xp[g] - a2 * yp[g] - em[g]) * vikt;
                in[g] = t[g] < cut;
                any |= in[g];
            }
            /* a state 30 kT above the minimum in all L pixels adds nothing: skip its exponentials */
            int64_t hit = 0;
            for (int l = 0; l < W; l++) hit |= any[l];
            if (!hit) {
                if (pbuf)
                    for (int l = 0; l < m; l++) pbuf[(int64_t)s * B + p0 + l] = 0;
                continue;
            }
            double ta[L], wa[L];
            for (int g = 0; g < NGRP; g++) t[g] = sel(in[g], t[g], cut);
            memcpy(ta, t, sizeof ta);
#pragma omp simd
            for (int l = 0; l < L; l++) wa[l] = exp(-ta[l]);
            vd w[NGRP];
            memcpy(w, wa, sizeof w);
            for (int g = 0; g < NGRP; g++) {
                w[g] = sel(in[g], w[g], splat(0));
                zs[g] += w[g];
                as[g] += w[g] * qs;
            }
            if (pbuf) {
                memcpy(wa, w, sizeof wa);
                for (int l = 0; l < m; l++) pbuf[(int64_t)s * B + p0 + l] = wa[l];
            }
        }
        double za[L], aa[L];
        memcpy(za, zs, sizeof za);
        memcpy(aa, as, sizeof aa);
        for (int l = 0; l < m; l++) {
            z[p0 + l] = za[l];
            acc[p0 + l] = aa[l];
        }
    }
}

/* Transport through the dots in series: a double dot conducts where the three
 * states of a triple point are all occupied with weight (27 p_a p_b p_c, 1 at
 * the point); a single dot where two neighbouring occupations are degenerate
 * (4 p_n p_n+1). */
static void current(const fsci_qdot_device *d, const double *restrict pbuf, const double *restrict z, int np,
                    double *restrict out)
{
    const int m = d->p.nmax + 1;
    for (int p = 0; p < np; p++) out[p] = 0;
    if (d->p.ndots == 1) {
        for (int n = 0; n + 1 < m; n++) {
            const double *p0 = pbuf + (int64_t)n * B, *p1 = pbuf + (int64_t)(n + 1) * B;
#pragma omp simd
            for (int p = 0; p < np; p++) out[p] += 4.0 * p0[p] * p1[p] / (z[p] * z[p]);
        }
        return;
    }
    for (int n1 = 0; n1 + 1 < m; n1++) {
        for (int n2 = 0; n2 + 1 < m; n2++) {
            const double *pa = pbuf + (int64_t)(n1 * m + n2) * B,
                         *pb = pbuf + (int64_t)((n1 + 1) * m + n2) * B;
            const double *pc = pbuf + (int64_t)(n1 * m + n2 + 1) * B;
            const double *pd = pbuf + (int64_t)((n1 + 1) * m + n2 + 1) * B;
#pragma omp simd
            for (int p = 0; p < np; p++) {
                double iz = 1.0 / z[p];
                out[p] += 27.0 * (pa[p] + pd[p]) * pb[p] * pc[p] * iz * iz * iz;
            }
        }
    }
}

void fsci__qdot_eval(const fsci_qdot_device *dev, fsci_qdot_signal sig, int gx, int gy, const double *base,
                     const double *x, const double *y, const double *jump, int64_t np, double *out,
                     int32_t *states, double *work)
{
    const fsci_qdot_params *P = &dev->p;
    const int S = dev->nstates, G = P->ngates;
    double *cb = work, *ax = cb + S, *ay = ax + S, *qt = ay + S;
    double *emin = qt + S, *qb = emin + B, *z = qb + B, *acc = z + B, *tmp = acc + B;
    int32_t *arg = (int32_t *)(tmp + B);
    double *pbuf = (sig == FSCI_QDOT_CURRENT) ? (double *)(arg + 2 * B) : NULL;
    const double *qsrc = sig == FSCI_QDOT_CHARGE ? dev->q_charge : dev->q_sensor;
    double lever_base = P->sensor_offset;
    for (int g = 0; g < G; g++)
        if (g != gx && g != gy) lever_base += P->sensor_lever[g] * base[g];
    for (int s = 0; s < S; s++) {
        const double *a = dev->a + (int64_t)s * G;
        double c = dev->c[s];
        for (int g = 0; g < G; g++)
            if (g != gx && g != gy) c -= a[g] * base[g];
        cb[s] = c;
        ax[s] = a[gx];
        ay[s] = gy >= 0 ? a[gy] : 0.0;
        qt[s] = qsrc[s];
    }
    const double lx = P->sensor_lever[gx], ly = gy >= 0 ? P->sensor_lever[gy] : 0.0;
    const double iw = 1.0 / P->sensor_width, per = P->sensor_period;
    for (int64_t b0 = 0; b0 < np; b0 += B) {
        const int n = (int)(np - b0 < B ? np - b0 : B);
        const double *xb = x + b0, *yb = y + b0;
        ground(S, cb, ax, ay, qt, xb, yb, n, emin, qb, arg);
        if (states) memcpy(states + b0, arg, (size_t)n * sizeof *arg);
        double *o = out + b0;
        if (P->kT > 0) {
            thermal(S, 1.0 / P->kT, cb, ax, ay, qt, xb, yb, n, emin, z, acc, pbuf);
            for (int p = 0; p < n; p++) qb[p] = acc[p] / z[p];
        }
        if (sig == FSCI_QDOT_CURRENT) {
            if (P->kT > 0)
                current(dev, pbuf, z, n, o);
            else
                for (int p = 0; p < n; p++) o[p] = 0;
        } else if (sig == FSCI_QDOT_CHARGE) {
            memcpy(o, qb, (size_t)n * sizeof *o);
        } else {
            const double *jb = jump ? jump + b0 : NULL;
#pragma omp simd
            for (int p = 0; p < n; p++) {
                double mu = lever_base + lx * xb[p] + ly * yb[p] - qb[p] + (jb ? jb[p] : 0.0);
                if (per > 0) mu -= per * nearbyint(mu / per);
                double u = mu * iw;
                o[p] = 1.0 / (1.0 + u * u);
            }
        }
    }
}
