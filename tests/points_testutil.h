/* Test helpers for point sets: seeded random points and brute-force neighbour
 * orderings, shared by the k-d tree tests (core) and the grouping tests (ptycho). */
#ifndef FASTSCI_TESTS_POINTS_TESTUTIL_H
#define FASTSCI_TESTS_POINTS_TESTUTIL_H

#include <stdlib.h>

#include "fastsci/core/rng.h"

static inline void random_points(uint64_t seed, int64_t n, double scale, double *x, double *y)
{
    fsci_rng r;
    fsci_rng_init(&r, seed, 12345, 0, 0);
    for (int64_t i = 0; i < n; i++) {
        x[i] = scale * fsci_rng_uniform(&r);
        y[i] = scale * fsci_rng_uniform(&r);
    }
}

typedef struct pair {
    double d2;
    int64_t id;
} pair;

static inline int pair_cmp(const void *a, const void *b)
{
    const pair *p = a, *q = b;
    if (p->d2 != q->d2) return p->d2 < q->d2 ? -1 : 1;
    return (p->id > q->id) - (p->id < q->id);
}

/* All points sorted by (d2, index) from (qx, qy), skipping index `skip`
 * (-1: none). Returns the count; p must hold n entries. */
static inline int64_t brute_sorted(const double *x, const double *y, int64_t n, double qx, double qy,
                                   int64_t skip, pair *p)
{
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i == skip) continue;
        double dx = x[i] - qx, dy = y[i] - qy;
        p[m].d2 = dx * dx + dy * dy;
        p[m].id = i;
        m++;
    }
    qsort(p, (size_t)m, sizeof *p, pair_cmp);
    return m;
}

#endif
