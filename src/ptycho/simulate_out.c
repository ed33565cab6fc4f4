/* The ptycho passes that make the big members: the dataset scale, then the
 * fused extract -> probe -> FFT -> noise pass, into the final arrays of a
 * memory sink (in place) or written to a file sink while it computes. */
#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "simulate_impl.h"

/* Dataset scale s = sqrt(nphotons / mean_p sum|patch_p * probe|^2), no FFT.
 * By Parseval a pattern's expected photons sum to s^2 sum|patch_p * probe|^2,
 * which bounds every pixel's mean: checked against the sampler's range. */
static int dataset_scale(const fsci_view *obj, const float *probe, const double *cx, const double *cy,
                         int64_t np, int64_t n, double nphotons, bool noise, const char *what, int nt,
                         fsci__ptycho_ws *ws, double *s)
{
    double *e = fsci_malloc((size_t)np, sizeof *e);
    FSCI_CHECK(e, FSCI_ENOMEM, "scale: out of memory for %lld patterns", (long long)np);
#pragma omp parallel num_threads(nt)
    {
        fsci__ptycho_ws *w = &ws[omp_get_thread_num()];
#pragma omp for schedule(static)
        for (int64_t p = 0; p < np; p++) {
            fsci__ptycho_extract_one(obj->data, obj->shape[0], obj->shape[1], cx[p], cy[p], n, w->patch);
            e[p] = fsci__ptycho_illum_energy(w->patch, probe, n);
        }
    }
    double mean = fsci_parallel_sum_f64(e, np, nt) / (double)np, emax = 0;
    int64_t pmax = 0;
    for (int64_t p = 0; p < np; p++)
        if (e[p] > emax) emax = e[p], pmax = p;
    fsci_free(e);
    FSCI_CHECK(
        mean > 0 && isfinite(mean), FSCI_EINVAL,
        "%s: the illuminated object has zero energy (mean sum|patch * probe|^2 = %g): check the object, "
        "probe and positions",
        what, mean);
    *s = sqrt(nphotons / mean);
    double top = *s * *s * emax, limit = noise ? FSCI_RNG_POISSON_MAX : 1e30;
    FSCI_CHECK(
        top <= limit, FSCI_ERANGE,
        "--nphotons: %g puts %.3g expected photons into %s pattern %lld (%.3g times the mean), above the "
        "%s limit of %g",
        nphotons, top, what, (long long)pmax, emax / mean, noise ? "Poisson sampler's" : "float range's",
        limit);
    return FSCI_OK;
}

typedef struct pass {
    fsci__ptycho_diff *d;
    const fsci_view *obj;
    const double *cx, *cy;
    int64_t n, C;
    bool channel;
    fsci_progress *progress;
} pass;

/* A finished block waiting to be written: the master thread writes it while
 * the other threads compute the next block, then joins them. */
typedef struct pending {
    fsci_sink *sink;
    const void *data;
    size_t bytes;
    int st;
    double seconds;
} pending;

static void write_pending(pending *pw)
{
    if (pw->bytes == 0 || pw->st) return;
    double t = fsci_clock();
    pw->st = fsci_sink_write(pw->sink, pw->data, pw->bytes);
    pw->seconds += fsci_clock() - t;
    pw->bytes = 0;
}

/* Groups [g0, g1) (patterns g*C .. g*C + C - 1): patches into ybuf (NULL: not
 * kept) and amplitudes into amp, both in the pass's layout relative to group
 * g0; per-pattern sums. A thread takes whole groups, so in the channel layout
 * it alone writes the cache lines of its groups. */
static void run_block(const pass *ps, int64_t g0, int64_t g1, float *ybuf, float *amp, double *sumsq,
                      int64_t *counts, pending *pw)
{
    int64_t n = ps->n, n2 = n * n, C = ps->C;
#pragma omp parallel num_threads(ps->d->nthreads)
    {
        fsci__ptycho_ws *w = &ps->d->ws[omp_get_thread_num()];
#pragma omp master
        write_pending(pw);
#pragma omp for schedule(dynamic, 1)
        for (int64_t g = g0; g < g1; g++) {
            for (int64_t c = 0; c < C; c++) {
                int64_t p = g * C + c;
                double t0 = fsci_clock();
                fsci__ptycho_extract_one(ps->obj->data, ps->obj->shape[0], ps->obj->shape[1], ps->cx[p],
                                         ps->cy[p], n, w->patch);
                /* channel: [g, r, s, c] with stride C; flat: [p, r, s] */
                int64_t base = ps->channel ? (g - g0) * n2 * C + c : (p - g0 * C) * n2;
                int64_t stride = ps->channel ? C : 1;
                if (ybuf) {
                    float *yb = ybuf + 2 * base;
                    for (int64_t i = 0; i < n2; i++) {
                        yb[2 * i * stride] = w->patch[2 * i];
                        yb[2 * i * stride + 1] = w->patch[2 * i + 1];
                    }
                }
                w->t_extract += fsci_clock() - t0;
                sumsq[p] = fsci__ptycho_pattern(ps->d, w, w->patch, p, amp + base, stride);
                counts[p] = w->last_counts;
            }
        }
    }
    fsci_progress_add(ps->progress, (g1 - g0) * C);
}

/* One pass over ngroups groups in blocks of gblk, streaming one member block
 * by block into the sink (already begun): the patches when `keep_amp` is
 * given (the amplitudes then go there), else the amplitudes. dbuf holds two
 * blocks of what is streamed. */
static int run_pass(const pass *ps, int64_t ngroups, int64_t gblk, float *dbuf, float *keep_amp,
                    double *sumsq, int64_t *counts, fsci_sink *sink, double *t_write)
{
    int64_t n2 = ps->n * ps->n, per_group = ps->C * n2 * (keep_amp ? 2 : 1); /* floats */
    pending pw = {.sink = sink};
    for (int64_t g0 = 0, k = 0; g0 < ngroups && !pw.st; g0 += gblk, k ^= 1) {
        int64_t g1 = g0 + gblk < ngroups ? g0 + gblk : ngroups;
        float *cur = dbuf + k * gblk * per_group;
        run_block(ps, g0, g1, keep_amp ? cur : NULL, keep_amp ? keep_amp + g0 * ps->C * n2 : cur, sumsq,
                  counts, &pw);
        int st = fsci__ptycho_ws_status(ps->d);
        if (st) return st;
        pw.data = cur;
        pw.bytes = (size_t)((g1 - g0) * per_group) * sizeof(float);
    }
    write_pending(&pw);
    *t_write += pw.seconds;
    return pw.st;
}

/* The same pass into the final arrays of a memory sink (fsci_sink_buffer):
 * patches into ydst (NULL: not kept) and amplitudes into adst, filled in
 * place by the computing threads (their first touch), block by block for the
 * progress bar. */
static int run_inplace(const pass *ps, int64_t ngroups, int64_t gblk, float *ydst, float *adst, double *sumsq,
                       int64_t *counts)
{
    pending none = {0};
    const int64_t per_group = ps->C * ps->n * ps->n; /* amplitudes (floats) of a group */
    for (int64_t g0 = 0; g0 < ngroups; g0 += gblk) {
        int64_t g1 = g0 + gblk < ngroups ? g0 + gblk : ngroups;
        run_block(ps, g0, g1, ydst ? ydst + 2 * g0 * per_group : NULL, adst + g0 * per_group, sumsq, counts,
                  &none);
        int st = fsci__ptycho_ws_status(ps->d);
        if (st) return st;
    }
    return FSCI_OK;
}

/* Begin a member and, for a memory sink, end it at once and return its
 * storage in *dst, to be filled in place; else *dst = NULL (stream it). */
static int begin_member(fsci_sink *sink, const char *name, fsci_dtype t, int ndim, const int64_t *shape,
                        void **dst)
{
    int st = fsci_sink_begin(sink, name, t, ndim, shape);
    if (!st) st = fsci_sink_buffer(sink, dst);
    if (!st && *dst) st = fsci_sink_end(sink);
    return st;
}

/* Groups per block: about 8 MB of streamed data, at least one group, at most all. */
static int64_t block_groups(int64_t group_bytes, int64_t ngroups)
{
    int64_t g = (INT64_C(8) << 20) / group_bytes;
    g = g < 1 ? 1 : g;
    return g < ngroups ? g : ngroups;
}

static void add_stage_times(fsci_ptycho_report *r, const fsci__ptycho_diff *d, int nt)
{
    for (int t = 0; t < d->nthreads; t++) {
        r->t_extract += d->ws[t].t_extract / nt;
        r->t_fft += d->ws[t].t_fft / nt;
        r->t_noise += d->ws[t].t_noise / nt;
        d->ws[t].t_extract = d->ws[t].t_fft = d->ws[t].t_noise = 0;
    }
}

int fsci__ptycho_sink_array(fsci_sink *sink, const char *name, fsci_dtype t, int ndim, const int64_t *shape,
                            void *data)
{
    fsci_view v;
    int st = fsci_view_init(&v, data, t, ndim, shape, false);
    return st ? st : fsci_sink_add(sink, name, &v);
}

int fsci__ptycho_sim_raw(sim *s, fsci_sink *sink)
{
    int st = FSCI_OK;
    const int64_t n = s->n, np = s->np;
    double t = fsci_clock();
    FSCI_TRY(dataset_scale(&s->obj->view, s->probe->view.data, s->x, s->y, np, n, s->o->nphotons, s->o->noise,
                           "raw", s->nt, s->d->ws, &s->r.scale_raw));
    s->d->scale = s->r.scale_raw;
    s->d->inv_scale = 1.0 / s->r.scale_raw;
    s->r.t_scale += fsci_clock() - t;
    pass ps = {s->d, &s->obj->view, s->x, s->y, n, 1, false, s->prog};
    int64_t blk = block_groups(s->n2 * 4, np);
    void *dst = NULL;
    FSCI_TRY(begin_member(sink, "diff3d", FSCI_F32, 3, (int64_t[3]){np, n, n}, &dst));
    if (dst) {
        FSCI_TRY(run_inplace(&ps, np, blk, NULL, dst, s->sumsq, s->counts));
    } else {
        s->buf = fsci_malloc((size_t)(2 * blk * s->n2), sizeof(float));
        FSCI_CHECK_GOTO(s->buf, FSCI_ENOMEM,
                        "ptycho: out of memory for 2 blocks of %lld patterns of %lld x %lld", (long long)blk,
                        (long long)n, (long long)n);
        FSCI_TRY(run_pass(&ps, np, blk, s->buf, NULL, s->sumsq, s->counts, sink, &s->r.t_write));
        FSCI_TRY(fsci_sink_end(sink));
        fsci_free(s->buf);
        s->buf = NULL;
    }
    add_stage_times(&s->r, s->d, s->nt);
fail:
    return st;
}

/* grouped: scale, then Y streamed block by block, amplitudes kept for
 * X_full; then diffraction and X_full */
int fsci__ptycho_sim_grouped(sim *s, fsci_sink *sink)
{
    int st = FSCI_OK;
    const int64_t n = s->n, n2 = s->n2, C = s->C, B = s->B, P = s->P;
    const int nt = s->nt;
    double t = fsci_clock();
    FSCI_TRY(dataset_scale(&s->obj->view, s->probe->view.data, s->cx, s->cy, P, n, s->o->nphotons,
                           s->o->noise, "grouped", nt, s->d->ws, &s->r.scale));
    s->d->scale = s->r.scale;
    s->d->inv_scale = 1.0 / s->r.scale;
    s->d->stream = FSCI_PTYCHO_STREAM_NOISE;
    s->r.t_scale += fsci_clock() - t;
    int64_t gblk = block_groups(C * n2 * 8, B);
    pass ps = {s->d, &s->obj->view, s->cx, s->cy, n, C, s->channel, s->prog};
    int64_t shape4[4] = {B, n, n, C}, shape3[3] = {P, n, n};
    const int64_t *shape = s->channel ? shape4 : shape3;
    const int ndim = s->channel ? 4 : 3;
    void *ydst = NULL, *ddst = NULL, *xdst = NULL;
    FSCI_TRY(begin_member(sink, "Y", FSCI_C64, ndim, shape, &ydst));
    if (ydst) { /* memory: Y, diffraction and X_full filled in place */
        FSCI_TRY(begin_member(sink, "diffraction", FSCI_F32, ndim, shape, &ddst));
        FSCI_TRY(begin_member(sink, "X_full", FSCI_F32, ndim, shape, &xdst));
        FSCI_CHECK_GOTO(ddst && xdst, FSCI_EINTERNAL, "ptycho: the sink gave a buffer for Y only");
        FSCI_TRY(run_inplace(&ps, B, gblk, ydst, ddst, s->sumsq, s->counts));
    } else {
        s->diff = fsci_malloc((size_t)(P * n2), sizeof *s->diff);
        FSCI_CHECK_GOTO(s->diff, FSCI_ENOMEM,
                        "ptycho: out of memory for the diffraction (%lld patterns of %lld x %lld)",
                        (long long)P, (long long)n, (long long)n);
        s->buf = fsci_malloc((size_t)(2 * gblk * C * n2 * 2), sizeof(float));
        FSCI_CHECK_GOTO(s->buf, FSCI_ENOMEM, "ptycho: out of memory for 2 blocks of %lld groups",
                        (long long)gblk);
        FSCI_TRY(run_pass(&ps, B, gblk, s->buf, s->diff, s->sumsq, s->counts, sink, &s->r.t_write));
        FSCI_TRY(fsci_sink_end(sink));
    }
    add_stage_times(&s->r, s->d, nt);
    fsci_progress_finish(s->prog);

    /* X_full = float32(sqrt((N/2)^2 / mean sum diff^2)) * diffraction (PtychoPINN's normalize_data) */
    double mean_sq = fsci_parallel_sum_f64(s->sumsq, P, nt) / (double)P;
    s->r.xfull_norm = mean_sq > 0 ? sqrt(0.25 * (double)(n * n) / mean_sq) : 1.0;
    if (s->o->noise) {
        double tot = 0;
        for (int64_t p = 0; p < P; p++) tot += (double)s->counts[p];
        s->r.mean_counts = tot / (double)P;
    }
    const float norm = (float)s->r.xfull_norm;
    const int64_t total = P * n2;
    if (xdst) {
        const float *d = ddst;
        float *x = xdst;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t i = 0; i < total; i++) x[i] = d[i] * norm;
        return FSCI_OK;
    }
    double tw = fsci_clock();
    FSCI_TRY(fsci__ptycho_sink_array(sink, "diffraction", FSCI_F32, ndim, shape, s->diff));
    /* the diffraction is in the sink: scale it in place (no second buffer) and
     * hand it over whole, so that its CRC-32 is computed on every thread */
    float *diff = s->diff;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t i = 0; i < total; i++) diff[i] *= norm;
    FSCI_TRY(fsci__ptycho_sink_array(sink, "X_full", FSCI_F32, ndim, shape, s->diff));
    s->r.t_write += fsci_clock() - tw;
fail:
    return st;
}

/* ground_truth_patches (np, N, N, 1) complex64: the object patch at each scan
 * position, as PtychoPINN's gridsize-1 simulation stores it, extracted as Y is
 * and streamed block by block. */
int fsci__ptycho_sim_ground_truth(sim *s, fsci_sink *sink)
{
    int st = FSCI_OK;
    const int64_t n = s->n, n2 = s->n2, np = s->np, H = s->H, W = s->W;
    const float *obj = s->obj->view.data;
    const double *x = s->x, *y = s->y;
    float *buf = NULL;
    void *dst = NULL;
    FSCI_TRY(begin_member(sink, "ground_truth_patches", FSCI_C64, 4, (int64_t[4]){np, n, n, 1}, &dst));
    if (dst) { /* memory: in place */
        float *g = dst;
#pragma omp parallel for num_threads(s->nt) schedule(static)
        for (int64_t p = 0; p < np; p++) fsci__ptycho_extract_one(obj, H, W, x[p], y[p], n, g + 2 * p * n2);
        return FSCI_OK;
    }
    int64_t blk = block_groups(n2 * 8, np);
    buf = fsci_malloc((size_t)(blk * n2 * 2), sizeof *buf);
    FSCI_CHECK_GOTO(buf, FSCI_ENOMEM, "ptycho: out of memory for a block of %lld patches of %lld x %lld",
                    (long long)blk, (long long)n, (long long)n);
    for (int64_t p0 = 0; p0 < np; p0 += blk) {
        int64_t p1 = p0 + blk < np ? p0 + blk : np;
#pragma omp parallel for num_threads(s->nt) schedule(static)
        for (int64_t p = p0; p < p1; p++)
            fsci__ptycho_extract_one(obj, H, W, x[p], y[p], n, buf + 2 * (p - p0) * n2);
        FSCI_TRY(fsci_sink_write(sink, buf, (size_t)((p1 - p0) * n2 * 2) * sizeof *buf));
    }
    FSCI_TRY(fsci_sink_end(sink));
fail:
    fsci_free(buf);
    return st;
}
