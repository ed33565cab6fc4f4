/* fastsci: exact nearest-neighbour queries on 2-D points (a k-d tree).
 *
 * Build once, query many: the tree copies the points, queries read it only,
 * so any number of threads may query one const tree. Distances are squared
 * Euclidean distances computed as dx * dx + dy * dy in double; results are
 * ordered by (squared distance, original index), a strict total order, so
 * ties, duplicates and collinear points always give the same, documented
 * answer whatever the tree layout. Complexity and the algorithm:
 * doc/spatial.md. */
#ifndef FASTSCI_CORE_SPATIAL_H
#define FASTSCI_CORE_SPATIAL_H

#include "fastsci/core/defs.h"

typedef struct fsci_kdtree fsci_kdtree;

/* Up to this k a k-NN query keeps its candidates on the stack and allocates
 * nothing; a larger k allocates k candidates per query. */
#define FSCI_KDTREE_KNN_STACK 1024

/* Build a k-d tree over the n points (x[i], y[i]), i in [0, n); the
 * coordinates are copied (x and y may be freed afterwards). n == 0 gives an
 * empty tree (x and y may then be NULL). O(n log n) time, O(n) memory.
 * Errors: FSCI_EINVAL for NULL out, n < 0, NULL x or y with n > 0, or a
 * non-finite coordinate (the message names the array, index and value);
 * FSCI_ENOMEM. On error *out is NULL. */
FSCI_API int fsci_kdtree_create(const double *x, const double *y, int64_t n, fsci_kdtree **out) FSCI_WUR;

/* Number of points in the tree (0 for NULL). */
FSCI_API int64_t fsci_kdtree_size(const fsci_kdtree *t);

/* The original indices of the points in tree order (fsci_kdtree_size
 * entries, owned by the tree; NULL for an empty tree). Points close in this
 * order are close in space: processing queries in this order keeps the tree
 * in cache. */
FSCI_API const int64_t *fsci_kdtree_order(const fsci_kdtree *t);

/* The k nearest points to (qx, qy): their indices in idx[0..k) and squared
 * distances in d2[0..k) (d2 may be NULL), sorted by increasing distance and,
 * for equal distances, by increasing index. 0 <= k <= n (k == 0 does
 * nothing; idx may then be NULL). Errors (nothing written): FSCI_EINVAL for
 * NULL t or idx, k < 0, k > n, a non-finite query point; FSCI_ENOMEM when
 * k > FSCI_KDTREE_KNN_STACK and the candidates cannot be allocated.
 * Thread-safe on a const tree; allocates nothing for k <= FSCI_KDTREE_KNN_STACK.
 * O(k log k + log n) expected for well-spread points. */
FSCI_API int fsci_kdtree_knn(const fsci_kdtree *t, double qx, double qy, int64_t k, int64_t *idx,
                             double *d2) FSCI_WUR;

/* Every point within distance r of (qx, qy), i.e. with
 * (x - qx)^2 + (y - qy)^2 <= r * r computed in double (the boundary is
 * included), sorted as fsci_kdtree_knn sorts (by squared distance, then
 * index): the first k entries equal the k-NN answer. *count receives the
 * number m of points; *idx (int64, m entries) and, if d2 is not NULL, *d2
 * (m squared distances) are allocated with fsci_malloc and freed by the
 * caller with fsci_free (NULL when m == 0). r may be +inf (every point).
 * Errors: FSCI_EINVAL for NULL t, idx or count, r < 0 or NaN, a non-finite
 * query point; FSCI_ENOMEM. On error *idx, *d2 are NULL and *count is 0.
 * Thread-safe on a const tree. O(m log m + log n) expected. */
FSCI_API int fsci_kdtree_radius(const fsci_kdtree *t, double qx, double qy, double r, int64_t **idx,
                                double **d2, int64_t *count) FSCI_WUR;

/* Release; accepts NULL and *t == NULL, clears *t. */
FSCI_API void fsci_kdtree_destroy(fsci_kdtree **t);

#endif
