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

/* Element offset of pattern c of group g in a buffer of the pass's layout
 * that starts at group g0: channel [g, r, s, c] (stride C), flat [p, r, s]. */
static int64_t pattern_base(const pass *ps, int64_t g, int64_t c, int64_t g0)
{
    int64_t n2 = ps->n * ps->n;
    return ps->channel ? (g - g0) * n2 * ps->C + c : (g * ps->C + c - g0 * ps->C) * n2;
}

/* Patch p (centred at cx[p], cy[p]) into `patch` (n*n contiguous). */
static void extract(const pass *ps, int64_t p, float *patch)
{
    fsci__ptycho_extract_one(ps->obj->data, ps->obj->shape[0], ps->obj->shape[1], ps->cx[p], ps->cy[p], ps->n,
                             patch);
}

/* A patch into a complex buffer at element `base`, with the layout's stride. */
static void store_patch(const pass *ps, const float *patch, float *ybuf, int64_t base)
{
    int64_t n2 = ps->n * ps->n, stride = ps->channel ? ps->C : 1;
    float *yb = ybuf + 2 * base;
    for (int64_t i = 0; i < n2; i++) {
        yb[2 * i * stride] = patch[2 * i];
        yb[2 * i * stride + 1] = patch[2 * i + 1];
    }
}

/* Group g (patterns g*C .. g*C + C - 1) on the workspace of one thread:
 * patches into ybuf (NULL: not kept) and amplitudes into amp, both in the
 * pass's layout relative to group g0; per-pattern sums. A thread takes whole
 * groups, so in the channel layout it alone writes the cache lines of its
 * groups. */
static void run_group(const pass *ps, fsci__ptycho_ws *w, int64_t g, int64_t g0, float *ybuf, float *amp,
                      double *sumsq, int64_t *counts)
{
    for (int64_t c = 0; c < ps->C; c++) {
        int64_t p = g * ps->C + c, base = pattern_base(ps, g, c, g0);
        double t0 = fsci_clock();
        extract(ps, p, w->patch);
        if (ybuf) store_patch(ps, w->patch, ybuf, base);
        w->t_extract += fsci_clock() - t0;
        sumsq[p] = fsci__ptycho_pattern(ps->d, w, w->patch, p, amp + base, ps->channel ? ps->C : 1);
        counts[p] = w->last_counts;
    }
}

/* Groups [g0, g1) into block buffers relative to g0; the master thread first
 * writes the pending block. */
static void run_block(const pass *ps, int64_t g0, int64_t g1, float *ybuf, float *amp, double *sumsq,
                      int64_t *counts, pending *pw)
{
#pragma omp parallel num_threads(ps->d->nthreads)
    {
        fsci__ptycho_ws *w = &ps->d->ws[omp_get_thread_num()];
#pragma omp master
        write_pending(pw);
#pragma omp for schedule(dynamic, 1)
        for (int64_t g = g0; g < g1; g++) run_group(ps, w, g, g0, ybuf, amp, sumsq, counts);
    }
    fsci_progress_add(ps->progress, (g1 - g0) * ps->C);
}

/* The writer of the grouped pass into a file sink. The master thread runs it
 * between the groups it computes, so that the file grows while the other
 * threads compute: first Y, extracted again chunk by chunk (cheaper than
 * holding the patches of the whole pass), then the amplitudes of the groups
 * finished so far, in order. What follows in the file waits for the end of
 * the pass (X_full needs the norm of all patterns). */
typedef struct gwriter {
    fsci_sink *sink;
    const pass *ps;
    int64_t B, yblk, dblk; /* groups; groups per chunk of Y / of the diffraction */
    int ndim;
    const int64_t *shape;
    float *ybuf, *patch;    /* one chunk of Y; one patch */
    const float *diff;      /* the amplitudes of all groups, in the pass's layout */
    atomic_uchar *ready;    /* ready[g]: the amplitudes of group g are in diff */
    int64_t y_next, d_next; /* the next group of Y / of the diffraction to write */
    int st;
    double seconds;
} gwriter;

/* Write one chunk if one is ready: during the pass a whole chunk, at the end
 * (`drain`) whatever is ready. False when there was nothing to write or a
 * write failed (wr->st). Master thread only. */
static bool gwriter_step(gwriter *wr, bool drain)
{
    if (wr->st || wr->d_next == wr->B) return false;
    const pass *ps = wr->ps;
    const int64_t C = ps->C, n2 = ps->n * ps->n;
    int st;
    double t = fsci_clock();
    if (wr->y_next < wr->B) {
        int64_t g0 = wr->y_next, g1 = g0 + wr->yblk < wr->B ? g0 + wr->yblk : wr->B;
        for (int64_t g = g0; g < g1; g++)
            for (int64_t c = 0; c < C; c++) {
                extract(ps, g * C + c, wr->patch);
                store_patch(ps, wr->patch, wr->ybuf, pattern_base(ps, g, c, g0));
            }
        st = fsci_sink_write(wr->sink, wr->ybuf, (size_t)((g1 - g0) * C * n2 * 2) * sizeof(float));
        wr->y_next = g1;
        if (!st && g1 == wr->B) st = fsci_sink_end(wr->sink);
        if (!st && g1 == wr->B) st = fsci_sink_begin(wr->sink, "diffraction", FSCI_F32, wr->ndim, wr->shape);
    } else {
        int64_t g0 = wr->d_next, g1 = g0;
        while (g1 < wr->B && g1 - g0 < wr->dblk && atomic_load_explicit(&wr->ready[g1], memory_order_acquire))
            g1++;
        if (g1 == g0 || (!drain && g1 - g0 < wr->dblk && g1 < wr->B)) return false;
        st = fsci_sink_write(wr->sink, wr->diff + g0 * C * n2, (size_t)((g1 - g0) * C * n2) * sizeof(float));
        wr->d_next = g1;
        if (!st && g1 == wr->B) st = fsci_sink_end(wr->sink);
    }
    wr->st = st;
    wr->seconds += fsci_clock() - t;
    return st == FSCI_OK;
}

/* All B groups in one parallel region, each thread taking the next group
 * from a shared counter: patches into ydst (NULL: not kept), amplitudes
 * into adst (both whole, in the pass's layout: the final arrays of a memory
 * sink, first touched by the threads that fill them). With a writer, the
 * master thread writes a ready chunk before each group it takes, and the
 * rest after the pass. */
static int grouped_pass(const pass *ps, int64_t B, float *ydst, float *adst, double *sumsq, int64_t *counts,
                        gwriter *wr)
{
    _Atomic int64_t next = 0;
#pragma omp parallel num_threads(ps->d->nthreads)
    {
        const int tid = omp_get_thread_num();
        fsci__ptycho_ws *w = &ps->d->ws[tid];
        for (;;) {
            if (tid == 0 && wr) {
                if (gwriter_step(wr, false)) continue;
                if (wr->st) atomic_store(&next, B); /* a failed write stops the pass */
            }
            int64_t g = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
            if (g >= B) break;
            run_group(ps, w, g, 0, ydst, adst, sumsq, counts);
            if (wr) atomic_store_explicit(&wr->ready[g], 1, memory_order_release);
            fsci_progress_add(ps->progress, ps->C);
        }
    }
    if (wr && wr->st) return wr->st;
    int st = fsci__ptycho_ws_status(ps->d);
    if (st || !wr) return st;
    while (gwriter_step(wr, true)) {
    }
    if (wr->st) return wr->st;
    FSCI_CHECK(wr->d_next == B, FSCI_EINTERNAL, "ptycho: %lld of %lld groups written", (long long)wr->d_next,
               (long long)B);
    return FSCI_OK;
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
        FSCI_TRY(grouped_pass(&ps, np, NULL, dst, s->sumsq, s->counts, NULL));
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
        FSCI_TRY(grouped_pass(&ps, B, ydst, ddst, s->sumsq, s->counts, NULL));
    } else { /* a file: Y, then the diffraction, written while the pass computes */
        s->diff = fsci_malloc((size_t)(P * n2), sizeof *s->diff);
        s->buf = fsci_malloc((size_t)((gblk * C + 1) * n2 * 2), sizeof(float));
        s->ready = fsci_calloc((size_t)B, sizeof(atomic_uchar));
        FSCI_CHECK_GOTO(s->diff && s->buf && s->ready, FSCI_ENOMEM,
                        "ptycho: out of memory for the diffraction (%lld patterns of %lld x %lld)",
                        (long long)P, (long long)n, (long long)n);
        gwriter wr = {.sink = sink,
                      .ps = &ps,
                      .B = B,
                      .yblk = gblk,
                      .dblk = 2 * gblk,
                      .ndim = ndim,
                      .shape = shape,
                      .ybuf = s->buf,
                      .patch = s->buf + gblk * C * n2 * 2,
                      .diff = s->diff,
                      .ready = s->ready};
        st = grouped_pass(&ps, B, NULL, s->diff, s->sumsq, s->counts, &wr);
        s->r.t_write += wr.seconds;
        if (st) goto fail;
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
