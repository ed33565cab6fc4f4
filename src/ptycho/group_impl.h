/* fastsci ptycho: internals shared by kdtree.c and group.c (not installed). */
#ifndef FSCI_PTYCHO_GROUP_IMPL_H
#define FSCI_PTYCHO_GROUP_IMPL_H

#include "fastsci/ptycho.h"

/* Largest k accepted by fsci_ptycho_kdtree_knn after clamping k to the number
 * of points. The query keeps its candidates in fixed stack buffers of this
 * size so that it allocates nothing. The grouping queries K + 1 (or
 * pool_size + 1) points, so K and pool_size are limited to
 * FSCI_PTYCHO_KNN_MAX - 1. */
#define FSCI_PTYCHO_KNN_MAX 1024

/* Unchecked k-NN query for valid input: 1 <= k <= min(n, FSCI_PTYCHO_KNN_MAX)
 * and (qx, qy) finite. Writes the k nearest points sorted by (squared
 * distance, index) to idx[0..k) and, if d2 is not NULL, d2[0..k). */
void fsci__ptycho_kdtree_query(const fsci_ptycho_kdtree *t, double qx, double qy, int k, int64_t *idx,
                               double *d2);

/* Number of points in the tree. */
int64_t fsci__ptycho_kdtree_size(const fsci_ptycho_kdtree *t);

/* Original index of each point in tree order (n entries): points that are
 * close in this order are close in space. */
const int64_t *fsci__ptycho_kdtree_ids(const fsci_ptycho_kdtree *t);

#endif
