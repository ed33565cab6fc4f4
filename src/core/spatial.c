/* fastsci core: exact nearest-neighbour and radius search on 2-D points (k-d tree).
 *
 * Written here rather than taken from a library because its clients (the
 * ptycho grouping first) need exact results with a deterministic order for equal distances (ties broken
 * by index), thread-safe queries that allocate nothing, and no C++ runtime;
 * FLANN's C interface is approximate by default and allocates per query.
 *
 * Layout: points are copied in tree order ((x, y) pairs, and the original
 * indices in a second array) so that a leaf scan reads contiguous memory.
 * Nodes are stored in preorder (the left child of node i is i + 1); each holds
 * the bounding box of its points and their range [begin, end). An inner node
 * splits its range at the median of the wider side of its box (J. L. Bentley,
 * "Multidimensional binary search trees used for associative searching", CACM
 * 18(9), 1975; Friedman, Bentley, Finkel, ACM TOMS 3(3), 1977, for the k-NN
 * search with bucket leaves). The order key is (coordinate, original index),
 * a strict total order, so duplicates and collinear points need no special
 * case, and the median split keeps the tree balanced (depth about
 * log2(n / LEAF_SIZE)). Build: O(n log n); memory: O(n).
 *
 * Query: descend to the leaf on the query's side of each split and scan it,
 * then climb back to the root; at each level the sibling subtree is searched
 * (depth first, nearer child first) unless its box is strictly farther than
 * the current k-th candidate. Every leaf lies in the first leaf or in one of
 * the siblings along the path, so the search is exact whichever leaf the
 * descent reaches. A box at exactly the k-th distance is still visited since
 * a smaller index may win the tie. The box distance is computed with the same
 * operations as a point distance and rounding is monotone, so it never
 * exceeds the computed distance of a point inside the box: the pruning is
 * exact in floating point, not only in real arithmetic. Candidates are kept
 * in a sorted list for small k and in a max-heap keyed by (d2, index) for
 * large k, in a stack buffer up to FSCI_KDTREE_KNN_STACK.
 *
 * Radius query: depth-first over the boxes within r (the same exact pruning),
 * the points within r collected and sorted by (d2, index). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/spatial.h"

#define LEAF_SIZE 16  /* leaves hold LEAF_SIZE / 2 .. LEAF_SIZE points */
#define STACK_MAX 160 /* > depth + 2 for any int64 n */
#define SMALL_K 64    /* up to this k the candidates are a sorted list, above a heap */

typedef struct kd_node {
    double lo[2], hi[2]; /* bounding box of the node's points */
    double split;        /* inner: coordinate of the median point on `axis` */
    int64_t begin, end;  /* its points, [begin, end) in tree order */
    int64_t right;       /* inner: right child (the left child is the next node); leaf: -1 */
    int axis;            /* inner: 0 = x, 1 = y */
} kd_node;

typedef struct kd_pt {
    double x, y;
} kd_pt;

struct fsci_kdtree {
    int64_t n;
    int64_t nnodes;
    int depth;
    kd_pt *pt;      /* coordinates in tree order */
    int64_t *id;    /* original index of each point in tree order */
    kd_node *nodes; /* preorder; nodes[0] is the root */
};

/* A point while building: coordinates and original index travel together. */
typedef struct kd_rec {
    double c[2];
    int64_t id;
} kd_rec;

static int64_t count_nodes(int64_t c)
{
    if (c <= LEAF_SIZE) return 1;
    return 1 + count_nodes(c / 2) + count_nodes(c - c / 2);
}

/* Strict total order of the splits, (coordinate on axis, index), written
 * with bitwise operators so that it compiles to flag arithmetic. */
static inline int rec_less(const kd_rec *a, const kd_rec *b, int axis)
{
    double ca = a->c[axis], cb = b->c[axis];
    return (ca < cb) | ((ca == cb) & (a->id < b->id));
}

static inline void rec_swap(kd_rec *a, kd_rec *b)
{
    kd_rec t = *a;
    *a = *b;
    *b = t;
}

/* Branch-free Lomuto partition of a[l..r) around the pivot p (not in the
 * range): the comparison only decides how far the boundary moves, so random
 * data cause no mispredictions. Returns the boundary. */
static inline int64_t partition_axis(kd_rec *a, int64_t l, int64_t r, const kd_rec *p, int axis)
{
    int64_t j = l;
    for (int64_t i = l; i < r; i++) {
        kd_rec t = a[i];
        int lt = rec_less(&t, p, axis);
        a[i] = a[j];
        a[j] = t;
        j += lt;
    }
    return j;
}

/* Rearrange a[l..r] so that position k holds the element of that rank in the
 * (coordinate, index) order, smaller keys before it and larger after:
 * quickselect (Hoare's FIND) with a median-of-three pivot. */
static void select_kth(kd_rec *a, int axis, int64_t l, int64_t r, int64_t k)
{
    while (r > l) {
        int64_t m = l + (r - l) / 2;
        if (rec_less(&a[m], &a[l], axis)) rec_swap(&a[m], &a[l]);
        if (rec_less(&a[r], &a[m], axis)) rec_swap(&a[r], &a[m]);
        if (rec_less(&a[m], &a[l], axis)) rec_swap(&a[m], &a[l]);
        rec_swap(&a[m], &a[r]); /* median of three as the pivot, at a[r] */
        const kd_rec p = a[r];
        /* constant axis in each call, so each loop is specialised */
        int64_t j = axis ? partition_axis(a, l, r, &p, 1) : partition_axis(a, l, r, &p, 0);
        rec_swap(&a[j], &a[r]); /* the pivot at its rank j */
        if (j == k) return;
        if (j < k)
            l = j + 1;
        else
            r = j - 1;
    }
}

static void build(fsci_kdtree *t, kd_rec *a, int64_t *next, int64_t begin, int64_t end, int depth)
{
    int64_t me = (*next)++;
    kd_node *nd = &t->nodes[me];
    double lx = a[begin].c[0], hx = lx, ly = a[begin].c[1], hy = ly;
    for (int64_t i = begin + 1; i < end; i++) {
        double px = a[i].c[0], py = a[i].c[1];
        lx = px < lx ? px : lx;
        hx = px > hx ? px : hx;
        ly = py < ly ? py : ly;
        hy = py > hy ? py : hy;
    }
    nd->lo[0] = lx;
    nd->hi[0] = hx;
    nd->lo[1] = ly;
    nd->hi[1] = hy;
    nd->begin = begin;
    nd->end = end;
    nd->right = -1;
    nd->axis = 0;
    nd->split = 0.0;
    if (depth > t->depth) t->depth = depth;
    if (end - begin <= LEAF_SIZE) return;
    int axis = (hx - lx) >= (hy - ly) ? 0 : 1;
    int64_t mid = begin + (end - begin) / 2;
    select_kth(a, axis, begin, end - 1, mid);
    nd->axis = axis;
    nd->split = a[mid].c[axis];
    build(t, a, next, begin, mid, depth + 1);
    t->nodes[me].right = *next;
    build(t, a, next, mid, end, depth + 1);
}

int fsci_kdtree_create(const double *x, const double *y, int64_t n, fsci_kdtree **out)
{
    int st = FSCI_OK;
    fsci_kdtree *t = NULL;
    kd_rec *rec = NULL;
    FSCI_CHECK(out, FSCI_EINVAL, "kdtree: NULL output pointer");
    *out = NULL;
    FSCI_CHECK(n >= 0, FSCI_EINVAL, "kdtree: n = %lld points is negative", (long long)n);
    FSCI_CHECK(n == 0 || (x && y), FSCI_EINVAL, "kdtree: NULL coordinate array (x = %p, y = %p)",
               (const void *)x, (const void *)y);
    for (int64_t i = 0; i < n; i++) {
        FSCI_CHECK(isfinite(x[i]), FSCI_EINVAL, "kdtree: x[%lld] = %g is not finite", (long long)i, x[i]);
        FSCI_CHECK(isfinite(y[i]), FSCI_EINVAL, "kdtree: y[%lld] = %g is not finite", (long long)i, y[i]);
    }
    t = fsci_calloc(1, sizeof *t);
    FSCI_CHECK(t, FSCI_ENOMEM, "kdtree: out of memory");
    t->n = n;
    if (n > 0) { /* an empty tree has no nodes */
        t->nnodes = count_nodes(n);
        t->pt = fsci_malloc((size_t)n, sizeof *t->pt);
        t->id = fsci_malloc((size_t)n, sizeof *t->id);
        t->nodes = fsci_malloc((size_t)t->nnodes, sizeof *t->nodes);
        rec = fsci_malloc((size_t)n, sizeof *rec);
        FSCI_CHECK_GOTO(t->pt && t->id && t->nodes && rec, FSCI_ENOMEM,
                        "kdtree: out of memory for %lld points", (long long)n);
        for (int64_t i = 0; i < n; i++) {
            rec[i].c[0] = x[i];
            rec[i].c[1] = y[i];
            rec[i].id = i;
        }
        int64_t next = 0;
        build(t, rec, &next, 0, n, 1);
        FSCI_CHECK_GOTO(next == t->nnodes && t->depth + 2 < STACK_MAX, FSCI_EINTERNAL,
                        "kdtree: built %lld nodes of %lld, depth %d", (long long)next, (long long)t->nnodes,
                        t->depth);
        for (int64_t i = 0; i < n; i++) {
            t->pt[i].x = rec[i].c[0];
            t->pt[i].y = rec[i].c[1];
            t->id[i] = rec[i].id;
        }
    }
    fsci_free(rec);
    *out = t;
    return FSCI_OK;
fail:
    fsci_free(rec);
    fsci_kdtree_destroy(&t);
    return st;
}

void fsci_kdtree_destroy(fsci_kdtree **t)
{
    if (!t || !*t) return;
    fsci_free((*t)->pt);
    fsci_free((*t)->id);
    fsci_free((*t)->nodes);
    fsci_free(*t);
    *t = NULL;
}

int64_t fsci_kdtree_size(const fsci_kdtree *t)
{
    return t ? t->n : 0;
}

const int64_t *fsci_kdtree_order(const fsci_kdtree *t)
{
    return t ? t->id : NULL;
}

/* ---------------------------------------------------------------- query */

typedef struct cand {
    double d2;
    int64_t id;
} cand;

static inline int cand_less(cand a, cand b)
{
    return a.d2 < b.d2 || (a.d2 == b.d2 && a.id < b.id);
}

/* Max-heap of candidates: restore the heap property below position i. */
static inline void sift_down(cand *h, int m, int i)
{
    cand v = h[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && cand_less(h[c], h[c + 1])) c++;
        if (!cand_less(v, h[c])) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
}

static inline void sift_up(cand *h, int i)
{
    cand v = h[i];
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!cand_less(h[p], v)) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

/* Squared distance from (qx, qy) to the node's box (0 inside). */
static inline double box_d2(const kd_node *nd, double qx, double qy)
{
    double ax = nd->lo[0] - qx, bx = qx - nd->hi[0];
    double ay = nd->lo[1] - qy, by = qy - nd->hi[1];
    double dx = ax > bx ? ax : bx, dy = ay > by ? ay : by;
    dx = dx > 0.0 ? dx : 0.0;
    dy = dy > 0.0 ? dy : 0.0;
    return dx * dx + dy * dy;
}

/* Candidate set of one query: c[0..cnt); `worst` is the k-th distance once k
 * candidates are held, +inf before. */
typedef struct knn_state {
    cand *c;
    int k, cnt;
    double worst;
    double qx, qy;
} knn_state;

/* Offer the points of one leaf. `heap` is a compile-time constant at every
 * call: false keeps c sorted ascending (fast for small k), true a max-heap. */
static inline void scan_leaf(const fsci_kdtree *t, const kd_node *nd, knn_state *s, const int heap)
{
    const kd_pt *pt = t->pt;
    cand *c = s->c;
    const int k = s->k;
    int cnt = s->cnt;
    double worst = s->worst;
    for (int64_t i = nd->begin; i < nd->end; i++) {
        double dx = pt[i].x - s->qx, dy = pt[i].y - s->qy;
        double d = dx * dx + dy * dy;
        if (d > worst) continue;
        cand v = {d, t->id[i]};
        if (heap) {
            if (cnt < k) {
                c[cnt] = v;
                sift_up(c, cnt);
                if (++cnt == k) worst = c[0].d2;
            } else if (cand_less(v, c[0])) {
                c[0] = v;
                sift_down(c, k, 0);
                worst = c[0].d2;
            }
        } else {
            int j;
            if (cnt < k)
                j = cnt++;
            else if (cand_less(v, c[k - 1]))
                j = k - 1;
            else
                continue;
            while (j > 0 && cand_less(v, c[j - 1])) {
                c[j] = c[j - 1];
                j--;
            }
            c[j] = v;
            if (cnt == k) worst = c[k - 1].d2;
        }
    }
    s->cnt = cnt;
    s->worst = worst;
}

/* Depth-first search of the subtree at `root`, nearer child first. */
static inline void search_subtree(const fsci_kdtree *t, int64_t root, knn_state *s, const int heap)
{
    struct {
        int64_t node;
        double mind2;
    } stack[STACK_MAX];
    const kd_node *nodes = t->nodes;
    int sp = 0;
    stack[sp].node = root;
    stack[sp].mind2 = box_d2(&nodes[root], s->qx, s->qy);
    sp++;
    while (sp > 0) {
        sp--;
        if (stack[sp].mind2 > s->worst) continue;
        int64_t ni = stack[sp].node;
        const kd_node *nd = &nodes[ni];
        if (nd->right < 0) {
            scan_leaf(t, nd, s, heap);
            continue;
        }
        double dl = box_d2(&nodes[ni + 1], s->qx, s->qy);
        double dr = box_d2(&nodes[nd->right], s->qx, s->qy);
        int64_t near = ni + 1, far = nd->right;
        double dn = dl, df = dr;
        if (dr < dl) {
            near = nd->right;
            far = ni + 1;
            dn = dr;
            df = dl;
        }
        /* far first so that the nearer child is popped first */
        if (df <= s->worst) {
            stack[sp].node = far;
            stack[sp].mind2 = df;
            sp++;
        }
        if (dn <= s->worst) {
            stack[sp].node = near;
            stack[sp].mind2 = dn;
            sp++;
        }
    }
}

static inline int search(const fsci_kdtree *t, double qx, double qy, int k, cand *c, const int heap)
{
    knn_state s = {c, k, 0, (double)INFINITY, qx, qy};
    const kd_node *nodes = t->nodes;
    int64_t sib[STACK_MAX];
    int np = 0;
    int64_t ni = 0;
    while (nodes[ni].right >= 0) { /* descend on the query's side of each split */
        const kd_node *nd = &nodes[ni];
        double q = nd->axis ? qy : qx;
        if (q < nd->split) {
            sib[np++] = nd->right;
            ni = ni + 1;
        } else {
            sib[np++] = ni + 1;
            ni = nd->right;
        }
    }
    scan_leaf(t, &nodes[ni], &s, heap);
    while (np > 0) { /* climb: the sibling of every node on the path */
        int64_t sn = sib[--np];
        if (box_d2(&nodes[sn], qx, qy) <= s.worst) search_subtree(t, sn, &s, heap);
    }
    if (heap) { /* heap sort: ascending by (d2, index) */
        for (int m = s.cnt; m > 1; m--) {
            cand top = c[0];
            c[0] = c[m - 1];
            c[m - 1] = top;
            sift_down(c, m - 1, 0);
        }
    }
    return s.cnt;
}

/* The k-NN search for valid input (1 <= k <= n) into c[0..k). */
static void query(const fsci_kdtree *t, double qx, double qy, int64_t k, cand *c)
{
    if (k <= SMALL_K)
        search(t, qx, qy, (int)k, c, 0);
    else
        search(t, qx, qy, (int)k, c, 1);
}

int fsci_kdtree_knn(const fsci_kdtree *t, double qx, double qy, int64_t k, int64_t *idx, double *d2)
{
    cand stack_c[FSCI_KDTREE_KNN_STACK];
    cand *c = stack_c;
    FSCI_CHECK(t, FSCI_EINVAL, "kdtree_knn: NULL tree");
    FSCI_CHECK(k >= 0 && k <= t->n, FSCI_EINVAL, "kdtree_knn: k = %lld is outside [0, n = %lld]",
               (long long)k, (long long)t->n);
    if (k == 0) return FSCI_OK;
    FSCI_CHECK(idx, FSCI_EINVAL, "kdtree_knn: NULL idx");
    FSCI_CHECK(isfinite(qx) && isfinite(qy), FSCI_EINVAL, "kdtree_knn: query point (%g, %g) is not finite",
               qx, qy);
    if (k > FSCI_KDTREE_KNN_STACK) {
        FSCI_CHECK(k <= INT32_MAX, FSCI_EINVAL, "kdtree_knn: k = %lld exceeds 2^31 - 1", (long long)k);
        c = fsci_malloc((size_t)k, sizeof *c);
        FSCI_CHECK(c, FSCI_ENOMEM, "kdtree_knn: out of memory for k = %lld candidates", (long long)k);
    }
    query(t, qx, qy, k, c);
    for (int64_t i = 0; i < k; i++) {
        idx[i] = c[i].id;
        if (d2) d2[i] = c[i].d2;
    }
    if (c != stack_c) fsci_free(c);
    return FSCI_OK;
}

/* ---------------------------------------------------------------- radius */

/* Growable list of candidates. */
typedef struct cand_list {
    cand *c;
    int64_t n, cap;
} cand_list;

static int list_push(cand_list *l, cand v)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        cand *c = fsci_malloc((size_t)cap, sizeof *c);
        FSCI_CHECK(c, FSCI_ENOMEM, "kdtree_radius: out of memory for %lld points", (long long)cap);
        if (l->n) memcpy(c, l->c, (size_t)l->n * sizeof *c);
        fsci_free(l->c);
        l->c = c;
        l->cap = cap;
    }
    l->c[l->n++] = v;
    return FSCI_OK;
}

static int cand_cmp(const void *a, const void *b)
{
    cand p = *(const cand *)a, q = *(const cand *)b;
    return cand_less(p, q) ? -1 : cand_less(q, p) ? 1 : 0;
}

/* Collect the points with d2 <= r2 into l, depth first over the boxes within r2. */
static int collect(const fsci_kdtree *t, double qx, double qy, double r2, cand_list *l)
{
    int st = FSCI_OK;
    int64_t stack[STACK_MAX];
    int sp = 0;
    stack[sp++] = 0;
    while (sp > 0) {
        int64_t ni = stack[--sp];
        const kd_node *nd = &t->nodes[ni];
        if (box_d2(nd, qx, qy) > r2) continue;
        if (nd->right >= 0) { /* at most depth + 1 entries: the stack cannot overflow */
            stack[sp++] = nd->right;
            stack[sp++] = ni + 1;
            continue;
        }
        for (int64_t i = nd->begin; i < nd->end; i++) {
            double dx = t->pt[i].x - qx, dy = t->pt[i].y - qy;
            double d = dx * dx + dy * dy;
            if (d <= r2) FSCI_TRY(list_push(l, (cand){d, t->id[i]}));
        }
    }
fail:
    return st;
}

int fsci_kdtree_radius(const fsci_kdtree *t, double qx, double qy, double r, int64_t **idx, double **d2,
                       int64_t *count)
{
    int st = FSCI_OK;
    cand_list l = {0};
    int64_t *oi = NULL;
    double *od = NULL;
    FSCI_CHECK(idx && count, FSCI_EINVAL, "kdtree_radius: NULL %s", idx ? "count" : "idx");
    *idx = NULL;
    *count = 0;
    if (d2) *d2 = NULL;
    FSCI_CHECK(t, FSCI_EINVAL, "kdtree_radius: NULL tree");
    FSCI_CHECK(r >= 0, FSCI_EINVAL, "kdtree_radius: r = %g is not >= 0", r);
    FSCI_CHECK(isfinite(qx) && isfinite(qy), FSCI_EINVAL, "kdtree_radius: query point (%g, %g) is not finite",
               qx, qy);
    if (t->n == 0) return FSCI_OK;
    FSCI_TRY(collect(t, qx, qy, r * r, &l));
    if (l.n > 0) {
        qsort(l.c, (size_t)l.n, sizeof *l.c, cand_cmp);
        oi = fsci_malloc((size_t)l.n, sizeof *oi);
        FSCI_CHECK_GOTO(oi, FSCI_ENOMEM, "kdtree_radius: out of memory for %lld points", (long long)l.n);
        if (d2) {
            od = fsci_malloc((size_t)l.n, sizeof *od);
            FSCI_CHECK_GOTO(od, FSCI_ENOMEM, "kdtree_radius: out of memory for %lld points", (long long)l.n);
        }
        for (int64_t i = 0; i < l.n; i++) {
            oi[i] = l.c[i].id;
            if (od) od[i] = l.c[i].d2;
        }
    }
    *idx = oi;
    if (d2) *d2 = od;
    *count = l.n;
    oi = NULL;
    od = NULL;
fail:
    fsci_free(l.c);
    fsci_free(oi);
    fsci_free(od);
    return st;
}
