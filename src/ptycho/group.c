/* fastsci ptycho: grouping of scan positions (PtychoPINN's sample-then-group
 * rule).
 *
 * Follows hoidn/PtychoPINN ptycho/raw_data.py, RawData.generate_grouped_data
 * with its two routes, _generate_groups_efficiently ("fixed path") and
 * _generate_groups_with_oversampling (K-choose-C pool, "OVERSAMPLING-001").
 * The rules are restated where they are applied below; numpy's global RNG is
 * replaced by counter-based Philox streams keyed {seed, stream}:
 *
 *   FSCI_PTYCHO_STREAM_SEEDS   one sequential stream (index 0): the seed
 *                              points, partial Fisher-Yates;
 *   FSCI_PTYCHO_STREAM_CHOICE  sub-stream index_lo = group b: the C of the
 *                              available neighbours of group b (fixed path);
 *   FSCI_PTYCHO_STREAM_POOL    one sequential stream (index 0): the draws of
 *                              the oversampling pool entries.
 *
 * Integers below a bound n are drawn without bias by Lemire's multiply-and-
 * reject method (D. Lemire, "Fast random integer generation in an interval",
 * ACM TOMACS 29(1), 2019), one 64-bit word per draw except for rare
 * rejections. Every group depends only on its own sub-stream and on the
 * seeds, so the groups are computed in parallel with identical results for
 * any thread count. */
#include <math.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/parallel.h"
#include "fastsci/core/progress.h"
#include "fastsci/core/rng.h"
#include "fastsci/core/spatial.h"
#include "fastsci/ptycho.h"

/* Upper bound on nsamples: keeps 2 * nsamples * C and the pool sizes far from
 * int64 overflow; memory runs out long before. */
#define NSAMPLES_MAX ((int64_t)1 << 40)
/* Largest number of tree results per query: the K + 1 (or pool_size + 1)
 * nearest points of a seed are held in fixed stack buffers of this size, so
 * K and pool_size are limited to KNN_MAX - 1 and the tree's queries allocate
 * nothing (KNN_MAX <= FSCI_KDTREE_KNN_STACK). */
#define KNN_MAX 1024
#define GRIDSIZE_MAX 31 /* C = 961 <= K <= KNN_MAX - 1 */
/* Fewer tree queries than this run on the calling thread: they take about a
 * millisecond, less than waking a team on a busy machine can cost. */
#define PARALLEL_MIN_QUERIES 16384

/* High and low words of the 128-bit product a * b, in portable C. */
static inline uint64_t mul_hi_lo(uint64_t a, uint64_t b, uint64_t *lo)
{
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    *lo = (mid << 32) | (p00 & 0xffffffffu);
    return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/* Uniform integer in [0, n), n >= 1, without modulo bias (Lemire 2019). */
static uint64_t rand_below(fsci_rng *r, uint64_t n)
{
    uint64_t lo, hi = mul_hi_lo(fsci_rng_u64(r), n, &lo);
    if (lo < n) {
        uint64_t thresh = (0 - n) % n;
        while (lo < thresh) hi = mul_hi_lo(fsci_rng_u64(r), n, &lo);
    }
    return hi;
}

/* k distinct indices of [0, n), uniformly at random and in random order
 * (np.random.choice(n, k, replace=False) in distribution): partial
 * Fisher-Yates on a scratch permutation. k == n gives 0..n-1 in order without
 * drawing, as PtychoPINN uses arange when every point is a seed. */
static int choose_distinct(fsci_rng *r, int64_t n, int64_t k, int64_t *out)
{
    if (k == n) {
        for (int64_t i = 0; i < n; i++) out[i] = i;
        return FSCI_OK;
    }
    int64_t *perm = fsci_malloc((size_t)n, sizeof *perm);
    FSCI_CHECK(perm, FSCI_ENOMEM, "group: out of memory for a permutation of %lld", (long long)n);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = 0; i < k; i++) {
        int64_t j = i + (int64_t)rand_below(r, (uint64_t)(n - i));
        int64_t v = perm[j];
        perm[j] = perm[i];
        perm[i] = v;
        out[i] = v;
    }
    fsci_free(perm);
    return FSCI_OK;
}

/* min(binomial(m, c), cap) for 0 <= c <= m, cap >= 1. The partial products
 * C(m - c' + i, i) are exact integers and non-decreasing in i, so the loop may
 * stop as soon as one reaches cap. */
static int64_t binom_capped(int64_t m, int64_t c, int64_t cap)
{
    if (c > m - c) c = m - c;
    int64_t v = 1;
    for (int64_t i = 1; i <= c; i++) {
        int64_t f = m - c + i;
        if (v > INT64_MAX / f) return cap;
        v = v * f / i;
        if (v >= cap) return cap;
    }
    return v < cap ? v : cap;
}

/* The neighbour list of a seed as PtychoPINN builds it from the tree query of
 * kq = min(K + 1, n) points sorted by (distance, index). Returns its length.
 *  - kq == K + 1: drop the seed itself (PtychoPINN drops column 0, which is
 *    the seed unless other points coincide with it; we drop the seed's own
 *    index wherever it appears, else the farthest point), keep K.
 *  - kq == n <= K: the fixed path keeps all n, the seed included
 *    (neighbors[:K]); the oversampling path drops the seed (neighbors[1:]).
 * Then, if fewer than C remain, the seed is put in front. A failing query
 * (impossible for the validated input) returns its negative status. */
static int seed_neighbours(const fsci_kdtree *t, int64_t s, double sx, double sy, int K, int C, int kq,
                           int drop_always, int64_t *q, int64_t *avail)
{
    int st = FSCI_OK;
    FSCI_TRY(fsci_kdtree_knn(t, sx, sy, kq, q, NULL));
    int m = 0;
    if (kq > K || drop_always) {
        int self = kq - 1;
        for (int i = 0; i < kq; i++)
            if (q[i] == s) {
                self = i;
                break;
            }
        for (int i = 0; i < kq; i++)
            if (i != self && m < K) avail[1 + m++] = q[i];
    } else {
        for (int i = 0; i < kq && i < K; i++) avail[1 + m++] = q[i];
    }
    if (m < C) {
        avail[0] = s; /* the neighbours already start at avail[1] */
        return m + 1;
    }
    memmove(avail, avail + 1, (size_t)m * sizeof *avail);
    return m;
fail:
    return st;
}

/* The items 0..m-1, whose seeds seeds[0..m) are distinct points, listed in
 * the tree order of their seeds. Queries made in this order touch the tree
 * in nearly sequential order, which matters once it no longer fits in the
 * cache; the results do not depend on the processing order. */
static int tree_order(const fsci_kdtree *t, const int64_t *seeds, int64_t m, int64_t *order)
{
    int64_t n = fsci_kdtree_size(t);
    const int64_t *id = fsci_kdtree_order(t);
    int64_t *item = fsci_malloc((size_t)n, sizeof *item);
    FSCI_CHECK(item, FSCI_ENOMEM, "group: out of memory for %lld points", (long long)n);
    for (int64_t i = 0; i < n; i++) item[i] = -1;
    for (int64_t b = 0; b < m; b++) item[seeds[b]] = b;
    int64_t j = 0;
    for (int64_t p = 0; p < n; p++)
        if (item[id[p]] >= 0) order[j++] = item[id[p]];
    fsci_free(item);
    return FSCI_OK;
}

/* After a parallel loop: a query failure recorded by any thread (its message
 * stays on that thread) becomes an error of the calling thread. */
static int query_status(int qst)
{
    FSCI_CHECK(qst == FSCI_OK, qst < 0 ? qst : FSCI_EINTERNAL,
               "group: a neighbour query failed in a worker thread (%s)", fsci_strerror(qst));
    return FSCI_OK;
}

/* Fixed path: one group per seed, C of its available neighbours in random
 * order, from the group's own sub-stream. */
static int fixed_groups(const fsci_kdtree *t, const double *x, const double *y, const int64_t *seeds,
                        int64_t ng, int K, int C, uint64_t seed, int nthreads, int32_t *nn)
{
    int st = FSCI_OK, qst = FSCI_OK;
    int64_t n = fsci_kdtree_size(t);
    int kq = (int)(K + 1 < n ? K + 1 : n);
    int64_t *order = fsci_malloc((size_t)ng, sizeof *order);
    FSCI_CHECK(order, FSCI_ENOMEM, "group: out of memory for %lld groups", (long long)ng);
    FSCI_TRY(tree_order(t, seeds, ng, order));
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 256) if (ng >= PARALLEL_MIN_QUERIES)
    for (int64_t i = 0; i < ng; i++) {
        int64_t q[KNN_MAX];
        int64_t avail[KNN_MAX + 1];
        int64_t b = order[i], s = seeds[b];
        int m = seed_neighbours(t, s, x[s], y[s], K, C, kq, 0, q, avail);
        if (m < 0) {
#pragma omp atomic write
            qst = m;
            continue;
        }
        fsci_rng r;
        fsci_rng_init(&r, seed, FSCI_PTYCHO_STREAM_CHOICE, (uint64_t)b, 0);
        int32_t *g = nn + b * C;
        if (m >= C) {
            for (int c = 0; c < C; c++) {
                int j = c + (int)rand_below(&r, (uint64_t)(m - c));
                int64_t v = avail[j];
                avail[j] = avail[c];
                avail[c] = v;
                g[c] = (int32_t)v;
            }
        } else {
            /* unreachable with K >= C and n >= C; kept as in the reference */
            for (int c = 0; c < C; c++) g[c] = (int32_t)avail[rand_below(&r, (uint64_t)m)];
        }
    }
    FSCI_TRY(query_status(qst));
fail:
    fsci_free(order);
    return st;
}

/* Oversampling path (K-choose-C pool). */
static int oversampled_groups(const fsci_kdtree *t, const double *x, const double *y, int64_t nsamples, int P,
                              int C, uint64_t seed, int nthreads, int32_t *nn, int64_t *seeds_out)
{
    int st = FSCI_OK, qst = FSCI_OK;
    int64_t *seeds = NULL, *sel = NULL, *order = NULL;
    int32_t *pool = NULL;
    int64_t n = fsci_kdtree_size(t);
    int64_t cap = 2 * nsamples;

    /* Seeds: ceil(nsamples / C(P, C)) needed, twice that used for diversity. */
    int64_t max_combos = binom_capped(P, C, cap);
    int64_t need = (nsamples + max_combos - 1) / max_combos;
    if (need < 1) need = 1;
    int64_t nseeds = 2 * need < n ? 2 * need : n;
    seeds = fsci_malloc((size_t)nseeds, sizeof *seeds);
    FSCI_CHECK_GOTO(seeds, FSCI_ENOMEM, "group: out of memory for %lld seeds", (long long)nseeds);
    fsci_rng r;
    fsci_rng_init(&r, seed, FSCI_PTYCHO_STREAM_SEEDS, 0, 0);
    FSCI_TRY(choose_distinct(&r, n, nseeds, seeds));

    /* Every seed has the same number m of available points, hence M = C(m, C)
     * combinations; the pool is their concatenation in seed order, cut at
     * 2 * nsamples entries (PtychoPINN stops enumerating there). */
    int kq = (int)(P + 1 < n ? P + 1 : n);
    int m = kq > P ? P : kq - 1;
    if (m < C) m++;
    int64_t M = binom_capped(m, C, cap);
    int64_t T = M >= (cap + nseeds - 1) / nseeds ? cap : nseeds * M;
    int64_t used = (T + M - 1) / M;
    pool = fsci_malloc((size_t)T * (size_t)C, sizeof *pool);
    FSCI_CHECK_GOTO(pool, FSCI_ENOMEM, "group: out of memory for a pool of %lld combinations", (long long)T);
    order = fsci_malloc((size_t)used, sizeof *order);
    FSCI_CHECK_GOTO(order, FSCI_ENOMEM, "group: out of memory for %lld seeds", (long long)used);
    FSCI_TRY(tree_order(t, seeds, used, order));
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 256) if (used >= PARALLEL_MIN_QUERIES)
    for (int64_t i = 0; i < used; i++) {
        int64_t q[KNN_MAX];
        int64_t avail[KNN_MAX + 1];
        int c[KNN_MAX];
        int64_t s = order[i], sd = seeds[s];
        int ma = seed_neighbours(t, sd, x[sd], y[sd], P, C, kq, 1, q, avail);
        if (ma < 0) {
#pragma omp atomic write
            qst = ma;
            continue;
        }
        int64_t p = s * M, pend = p + M < T ? p + M : T;
        /* C-combinations of avail in lexicographic order (itertools order) */
        for (int j = 0; j < C; j++) c[j] = j;
        for (; p < pend; p++) {
            int32_t *g = pool + p * C;
            for (int j = 0; j < C; j++) g[j] = (int32_t)avail[c[j]];
            int h = C - 1;
            while (h >= 0 && c[h] == ma - C + h) h--;
            if (h < 0) break;
            c[h]++;
            for (int j = h + 1; j < C; j++) c[j] = c[j - 1] + 1;
        }
    }
    FSCI_TRY(query_status(qst));

    /* Draw nsamples pool entries: without replacement when the pool is large
     * enough, else with replacement (PtychoPINN warns as well). */
    sel = fsci_malloc((size_t)nsamples, sizeof *sel);
    FSCI_CHECK_GOTO(sel, FSCI_ENOMEM, "group: out of memory for %lld groups", (long long)nsamples);
    fsci_rng_init(&r, seed, FSCI_PTYCHO_STREAM_POOL, 0, 0);
    if (nsamples <= T) {
        FSCI_TRY(choose_distinct(&r, T, nsamples, sel));
    } else {
        fsci_warn("group: oversampling: %lld groups requested but the pool holds only %lld distinct "
                  "combinations (pool_size = %d, C = %d); sampling with replacement",
                  (long long)nsamples, (long long)T, P, C);
        for (int64_t b = 0; b < nsamples; b++) sel[b] = (int64_t)rand_below(&r, (uint64_t)T);
    }
    for (int64_t b = 0; b < nsamples; b++) {
        memcpy(nn + b * C, pool + sel[b] * C, (size_t)C * sizeof *nn);
        if (seeds_out) seeds_out[b] = seeds[sel[b] / M];
    }
fail:
    fsci_free(seeds);
    fsci_free(sel);
    fsci_free(order);
    fsci_free(pool);
    return st;
}

int fsci_ptycho_group(const double *x, const double *y, int64_t npoints, const fsci_ptycho_group_opts *o,
                      int32_t **nn_out, int64_t **seeds_out, int64_t *ngroups_out)
{
    int st = FSCI_OK;
    int32_t *nn = NULL;
    int64_t *seeds = NULL;
    fsci_kdtree *tree = NULL;

    FSCI_CHECK(nn_out && ngroups_out, FSCI_EINVAL, "group: NULL output pointer");
    *nn_out = NULL;
    *ngroups_out = 0;
    if (seeds_out) *seeds_out = NULL;
    FSCI_CHECK(o, FSCI_EINVAL, "group: NULL options");
    FSCI_CHECK(x && y, FSCI_EINVAL, "group: NULL coordinate array (xcoords = %p, ycoords = %p)",
               (const void *)x, (const void *)y);
    FSCI_CHECK(npoints >= 1 && npoints <= INT32_MAX, FSCI_EINVAL,
               "group: npoints = %lld is not in [1, 2^31 - 1] (group indices are int32)", (long long)npoints);
    FSCI_CHECK(o->nsamples >= 1 && o->nsamples <= NSAMPLES_MAX, FSCI_EINVAL,
               "group: nsamples = %lld is not in [1, 2^40]", (long long)o->nsamples);
    FSCI_CHECK(o->gridsize >= 1 && o->gridsize <= GRIDSIZE_MAX, FSCI_EINVAL,
               "group: gridsize = %d is not in [1, %d]", o->gridsize, GRIDSIZE_MAX);
    const int C = o->gridsize * o->gridsize;
    FSCI_CHECK(npoints >= C, FSCI_EINVAL,
               "group: npoints = %lld is smaller than C = gridsize^2 = %d (a group needs C "
               "distinct positions)",
               (long long)npoints, C);
    FSCI_CHECK(o->K >= C, FSCI_EINVAL, "group: K = %d is smaller than C = gridsize^2 = %d", o->K, C);
    FSCI_CHECK(C == 1 || o->K < KNN_MAX, FSCI_EINVAL, "group: K = %d exceeds the limit of %d neighbours",
               o->K, KNN_MAX - 1);
    FSCI_CHECK(o->nthreads >= 0, FSCI_EINVAL, "group: nthreads = %d is negative (0 means default)",
               o->nthreads);
    FSCI_CHECK(o->pool_size >= 0, FSCI_EINVAL, "group: pool_size = %d is negative (0 means K)", o->pool_size);
    const int P = o->pool_size ? o->pool_size : o->K;
    const int oversample = o->nsamples > npoints && C > 1;
    if (oversample) {
        /* PtychoPINN's OVERSAMPLING-001 guard: explicit opt-in, pool >= C. */
        FSCI_CHECK(o->oversampling, FSCI_EINVAL,
                   "group: nsamples = %lld groups > npoints = %lld with gridsize = %d (C = %d) "
                   "needs K-choose-C oversampling, which is off (OVERSAMPLING-001 guard); "
                   "enable it with --oversampling and --pool-size >= %d",
                   (long long)o->nsamples, (long long)npoints, o->gridsize, C, C);
        FSCI_CHECK(P >= C, FSCI_EINVAL,
                   "group: pool_size = %d is smaller than C = gridsize^2 = %d (OVERSAMPLING-001: "
                   "the K-choose-C pool needs at least C neighbours; use --pool-size >= %d)",
                   P, C, C);
        FSCI_CHECK(P < KNN_MAX, FSCI_EINVAL, "group: pool_size = %d exceeds the limit of %d neighbours", P,
                   KNN_MAX - 1);
    }
    for (int64_t i = 0; i < npoints; i++) {
        FSCI_CHECK(isfinite(x[i]), FSCI_EINVAL, "group: xcoords[%lld] = %g is not finite", (long long)i,
                   x[i]);
        FSCI_CHECK(isfinite(y[i]), FSCI_EINVAL, "group: ycoords[%lld] = %g is not finite", (long long)i,
                   y[i]);
    }

    int nt = fsci_parallel_resolve(o->nthreads);
    int64_t ng = o->nsamples;
    if (C == 1 && ng > npoints) {
        fsci_warn("group: nsamples = %lld > npoints = %lld with gridsize = 1: capped at %lld "
                  "groups (each scan position once)",
                  (long long)ng, (long long)npoints, (long long)npoints);
        ng = npoints;
    }
    nn = fsci_malloc((size_t)ng * (size_t)C, sizeof *nn);
    FSCI_CHECK_GOTO(nn, FSCI_ENOMEM, "group: out of memory for %lld groups", (long long)ng);
    if (seeds_out || !oversample) {
        seeds = fsci_malloc((size_t)ng, sizeof *seeds);
        FSCI_CHECK_GOTO(seeds, FSCI_ENOMEM, "group: out of memory for %lld seeds", (long long)ng);
    }

    if (oversample) {
        FSCI_TRY(fsci_kdtree_create(x, y, npoints, &tree));
        FSCI_TRY(oversampled_groups(tree, x, y, ng, P, C, o->seed, nt, nn, seeds));
    } else {
        /* Seeds without replacement (all points, in order, if ng == npoints). */
        fsci_rng r;
        fsci_rng_init(&r, o->seed, FSCI_PTYCHO_STREAM_SEEDS, 0, 0);
        FSCI_TRY(choose_distinct(&r, npoints, ng, seeds));
        if (C == 1) {
            for (int64_t b = 0; b < ng; b++) nn[b] = (int32_t)seeds[b];
        } else {
            FSCI_TRY(fsci_kdtree_create(x, y, npoints, &tree));
            FSCI_TRY(fixed_groups(tree, x, y, seeds, ng, o->K, C, o->seed, nt, nn));
        }
    }

    fsci_kdtree_destroy(&tree);
    *nn_out = nn;
    *ngroups_out = ng;
    if (seeds_out)
        *seeds_out = seeds;
    else
        fsci_free(seeds);
    return FSCI_OK;
fail:
    fsci_kdtree_destroy(&tree);
    fsci_free(nn);
    fsci_free(seeds);
    return st;
}
