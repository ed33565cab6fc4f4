/* Tests of the k-d tree (fastsci/core/spatial.h): k-NN and radius queries
 * against brute force (exact indices, distances and order), ties and
 * duplicates resolved by index, the empty tree, errors, and scipy's cKDTree. */
#include <stdbool.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/rng.h"
#include "fastsci/core/spatial.h"
#include "points_testutil.h"
#include "testkit.h"

/* k-NN of one query equals the first k of brute force: indices and d2. */
static int knn_agrees(const fsci_kdtree *t, const double *x, const double *y, int64_t n, double qx, double qy,
                      int64_t k, pair *scratch)
{
    int64_t *idx = fsci_malloc((size_t)k + 1, sizeof *idx);
    double *d2 = fsci_malloc((size_t)k + 1, sizeof *d2);
    int ok = idx && d2 && fsci_kdtree_knn(t, qx, qy, k, idx, d2) == FSCI_OK;
    if (ok) brute_sorted(x, y, n, qx, qy, -1, scratch);
    for (int64_t i = 0; ok && i < k; i++)
        if (idx[i] != scratch[i].id || d2[i] != scratch[i].d2) {
            fprintf(stderr, "  query (%g, %g) k=%lld n=%lld: rank %lld got %lld (%.17g), want %lld (%.17g)\n",
                    qx, qy, (long long)k, (long long)n, (long long)i, (long long)idx[i], d2[i],
                    (long long)scratch[i].id, scratch[i].d2);
            ok = 0;
        }
    fsci_free(idx);
    fsci_free(d2);
    return ok;
}

/* Radius query equals brute force: every point with d2 <= r*r, same order. */
static int radius_agrees(const fsci_kdtree *t, const double *x, const double *y, int64_t n, double qx,
                         double qy, double r, pair *scratch)
{
    int64_t *idx = NULL, m = -1;
    double *d2 = NULL;
    if (fsci_kdtree_radius(t, qx, qy, r, &idx, &d2, &m) != FSCI_OK) return 0;
    brute_sorted(x, y, n, qx, qy, -1, scratch);
    int64_t want = 0;
    while (want < n && scratch[want].d2 <= r * r) want++;
    int ok = m == want && (m == 0) == (idx == NULL) && (m == 0) == (d2 == NULL);
    for (int64_t i = 0; ok && i < m; i++) ok = idx[i] == scratch[i].id && d2[i] == scratch[i].d2;
    if (!ok)
        fprintf(stderr, "  radius query (%g, %g) r=%g n=%lld: %lld points, want %lld\n", qx, qy, r,
                (long long)n, (long long)m, (long long)want);
    fsci_free(idx);
    fsci_free(d2);
    return ok;
}

TEST(knn_and_radius_match_brute_force_random)
{
    const int64_t sizes[] = {1, 2, 7, 12, 13, 50, 1000, 3000};
    const int64_t ks[] = {1, 2, 5, 12, 13, 33, 200, 1024, 1025, 2999};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int64_t n = sizes[si];
        double *x = fsci_malloc((size_t)n, sizeof *x), *y = fsci_malloc((size_t)n, sizeof *y);
        pair *p = fsci_malloc((size_t)n, sizeof *p);
        ASSERT_TRUE(x && y && p);
        random_points(100 + (uint64_t)n, n, 10.0, x, y);
        fsci_kdtree *t = NULL;
        ASSERT_OK(fsci_kdtree_create(x, y, n, &t));
        ASSERT_EQ(fsci_kdtree_size(t), n);
        fsci_rng r;
        fsci_rng_init(&r, 7, 1, (uint64_t)n, 0);
        for (size_t ki = 0; ki <= sizeof ks / sizeof *ks; ki++) {
            int64_t k = ki < sizeof ks / sizeof *ks ? ks[ki] : n; /* last: k == n */
            if (k > n) continue;
            int nq = n >= 1000 && k >= 200 ? 4 : 30;
            for (int q = 0; q < nq; q++) {
                double qx, qy;
                if (q % 3 == 0) { /* a tree point */
                    int64_t j = (int64_t)(fsci_rng_uniform(&r) * (double)n);
                    qx = x[j];
                    qy = y[j];
                } else { /* anywhere, also outside the bounding box */
                    qx = 14.0 * fsci_rng_uniform(&r) - 2.0;
                    qy = 14.0 * fsci_rng_uniform(&r) - 2.0;
                }
                ASSERT_TRUE(knn_agrees(t, x, y, n, qx, qy, k, p));
                if (ki == 0) {
                    const double radii[] = {0.0, 0.3, 1.0, 2.5, 20.0, (double)INFINITY};
                    for (int ri = 0; ri < 6; ri++)
                        ASSERT_TRUE(radius_agrees(t, x, y, n, qx, qy, radii[ri], p));
                }
            }
        }
        fsci_kdtree_destroy(&t);
        ASSERT_TRUE(t == NULL);
        fsci_free(x);
        fsci_free(y);
        fsci_free(p);
    }
}

TEST(ties_duplicates_and_collinear_points_resolved_by_index)
{
    enum { N = 700 };
    static double x[N], y[N];
    static pair p[N];
    /* 1) collinear: 30 distinct abscissae, each used 10 times, y = 0 */
    for (int i = 0; i < 300; i++) {
        x[i] = (double)((i * 7) % 30);
        y[i] = 0.0;
    }
    fsci_kdtree *t = NULL;
    ASSERT_OK(fsci_kdtree_create(x, y, 300, &t));
    for (int q = 0; q < 61; q++) {
        const int ks[] = {1, 4, 10, 11, 25, 64, 300};
        for (int ki = 0; ki < 7; ki++) ASSERT_TRUE(knn_agrees(t, x, y, 300, 0.5 * q - 0.5, 0.0, ks[ki], p));
        ASSERT_TRUE(knn_agrees(t, x, y, 300, 0.5 * q, 1.0, 9, p));
        /* radii exactly at point distances: the boundary is included */
        for (int ri = 0; ri < 4; ri++) ASSERT_TRUE(radius_agrees(t, x, y, 300, 0.5 * q, 0.0, 0.5 * ri, p));
    }
    fsci_kdtree_destroy(&t);

    /* 2) an integer grid (many equal distances) plus duplicated points */
    for (int i = 0; i < 400; i++) {
        x[i] = (double)(i % 20);
        y[i] = (double)(i / 20);
    }
    for (int i = 400; i < N; i++) {
        int j = (i * 131) % 400;
        x[i] = x[j];
        y[i] = y[j];
    }
    ASSERT_OK(fsci_kdtree_create(x, y, N, &t));
    for (int q = 0; q < 120; q++) {
        double qx = 0.5 * (double)(q % 41) - 0.5, qy = 0.5 * (double)((q * 17) % 41) - 0.5;
        const int ks[] = {1, 3, 4, 5, 8, 9, 13, 21, 100};
        for (int ki = 0; ki < 9; ki++) ASSERT_TRUE(knn_agrees(t, x, y, N, qx, qy, ks[ki], p));
        for (int ri = 0; ri < 5; ri++) ASSERT_TRUE(radius_agrees(t, x, y, N, qx, qy, (double)ri, p));
    }
    fsci_kdtree_destroy(&t);

    /* 3) all points identical: the k smallest indices, and the radius query
     * lists every point in index order */
    for (int i = 0; i < 50; i++) x[i] = y[i] = 1.0;
    ASSERT_OK(fsci_kdtree_create(x, y, 50, &t));
    int64_t idx[8];
    double d2[8];
    ASSERT_OK(fsci_kdtree_knn(t, 1.0, 1.0, 8, idx, d2));
    for (int i = 0; i < 8; i++) {
        ASSERT_EQ(idx[i], i);
        ASSERT_TRUE(d2[i] == 0.0);
    }
    ASSERT_OK(fsci_kdtree_knn(t, 3.0, 1.0, 3, idx, NULL)); /* d2 may be NULL */
    ASSERT_EQ(idx[2], 2);
    int64_t *ri = NULL, m = 0;
    ASSERT_OK(fsci_kdtree_radius(t, 1.0, 1.0, 0.0, &ri, NULL, &m));
    ASSERT_EQ(m, 50);
    for (int i = 0; i < 50; i++) ASSERT_EQ(ri[i], i);
    fsci_free(ri);
    ASSERT_OK(fsci_kdtree_radius(t, 3.0, 1.0, 1.999, &ri, NULL, &m));
    ASSERT_EQ(m, 0);
    ASSERT_TRUE(ri == NULL);
    fsci_kdtree_destroy(&t);
}

TEST(results_do_not_depend_on_input_order_beyond_the_index)
{
    /* the same point set given in reversed order: the answers are the same
     * points, and the order among equal distances follows the new indices */
    enum { N = 500 };
    static double x[N], y[N], xr[N], yr[N];
    for (int i = 0; i < N; i++) {
        x[i] = (double)(i % 25);
        y[i] = (double)((i / 25) % 10); /* every grid point twice */
        xr[N - 1 - i] = x[i];
        yr[N - 1 - i] = y[i];
    }
    fsci_kdtree *a = NULL, *b = NULL;
    ASSERT_OK(fsci_kdtree_create(x, y, N, &a));
    ASSERT_OK(fsci_kdtree_create(xr, yr, N, &b));
    static pair p[N];
    for (int q = 0; q < 50; q++) {
        double qx = 0.37 * q, qy = 0.21 * q;
        ASSERT_TRUE(knn_agrees(a, x, y, N, qx, qy, 17, p));
        ASSERT_TRUE(knn_agrees(b, xr, yr, N, qx, qy, 17, p));
    }
    fsci_kdtree_destroy(&a);
    fsci_kdtree_destroy(&b);
}

TEST(tree_order_is_a_permutation)
{
    enum { N = 2000 };
    static double x[N], y[N];
    static bool seen[N];
    random_points(9, N, 1.0, x, y);
    fsci_kdtree *t = NULL;
    ASSERT_OK(fsci_kdtree_create(x, y, N, &t));
    const int64_t *ord = fsci_kdtree_order(t);
    ASSERT_TRUE(ord != NULL);
    for (int i = 0; i < N; i++) {
        ASSERT_TRUE(ord[i] >= 0 && ord[i] < N && !seen[ord[i]]);
        seen[ord[i]] = true;
    }
    /* locality: consecutive points in tree order are much closer than random pairs */
    double step = 0;
    for (int i = 1; i < N; i++) step += hypot(x[ord[i]] - x[ord[i - 1]], y[ord[i]] - y[ord[i - 1]]);
    ASSERT_TRUE(step / (N - 1) < 0.1); /* random pairs: about 0.52 */
    fsci_kdtree_destroy(&t);
}

TEST(empty_tree)
{
    fsci_kdtree *t = NULL;
    ASSERT_OK(fsci_kdtree_create(NULL, NULL, 0, &t));
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ(fsci_kdtree_size(t), 0);
    ASSERT_TRUE(fsci_kdtree_order(t) == NULL);
    int64_t idx[1] = {-7};
    ASSERT_OK(fsci_kdtree_knn(t, 0.0, 0.0, 0, NULL, NULL));
    ASSERT_STATUS(fsci_kdtree_knn(t, 0.0, 0.0, 1, idx, NULL), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "k = 1 is outside [0, n = 0]"));
    ASSERT_EQ(idx[0], -7);
    int64_t *ri = (int64_t *)idx, m = 5;
    double *rd = (double *)idx;
    ASSERT_OK(fsci_kdtree_radius(t, 0.0, 0.0, (double)INFINITY, &ri, &rd, &m));
    ASSERT_TRUE(ri == NULL && rd == NULL && m == 0);
    fsci_kdtree_destroy(&t);
    ASSERT_TRUE(t == NULL);
}

TEST(errors)
{
    double x[2000], y[2000];
    random_points(5, 2000, 1.0, x, y);
    fsci_kdtree *t = (fsci_kdtree *)x; /* must be cleared on error */
    ASSERT_STATUS(fsci_kdtree_create(x, y, -1, &t), FSCI_EINVAL);
    ASSERT_TRUE(t == NULL);
    ASSERT_STATUS(fsci_kdtree_create(NULL, y, 10, &t), FSCI_EINVAL);
    ASSERT_STATUS(fsci_kdtree_create(x, y, 10, NULL), FSCI_EINVAL);
    x[3] = (double)NAN;
    ASSERT_STATUS(fsci_kdtree_create(x, y, 10, &t), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "x[3] = nan"));
    x[3] = 0.5;
    y[7] = -(double)INFINITY;
    ASSERT_STATUS(fsci_kdtree_create(x, y, 10, &t), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "y[7] = -inf"));
    y[7] = 0.5;
    ASSERT_OK(fsci_kdtree_create(x, y, 2000, &t));
    int64_t idx[2001];
    ASSERT_STATUS(fsci_kdtree_knn(t, 0.5, 0.5, -1, idx, NULL), FSCI_EINVAL);
    ASSERT_STATUS(fsci_kdtree_knn(t, 0.5, 0.5, 2001, idx, NULL), FSCI_EINVAL); /* k > n */
    ASSERT_TRUE(strstr(fsci_error_message(), "k = 2001 is outside [0, n = 2000]"));
    ASSERT_STATUS(fsci_kdtree_knn(t, (double)NAN, 0.5, 3, idx, NULL), FSCI_EINVAL);
    ASSERT_STATUS(fsci_kdtree_knn(t, 0.5, (double)INFINITY, 3, idx, NULL), FSCI_EINVAL);
    ASSERT_STATUS(fsci_kdtree_knn(NULL, 0.5, 0.5, 3, idx, NULL), FSCI_EINVAL);
    ASSERT_STATUS(fsci_kdtree_knn(t, 0.5, 0.5, 3, NULL, NULL), FSCI_EINVAL);
    ASSERT_OK(fsci_kdtree_knn(t, 0.5, 0.5, 2000, idx, NULL)); /* k == n: every point */
    int64_t *ri = NULL, m = 0;
    ASSERT_STATUS(fsci_kdtree_radius(t, 0.5, 0.5, -1.0, &ri, NULL, &m), FSCI_EINVAL);
    ASSERT_STATUS(fsci_kdtree_radius(t, 0.5, 0.5, (double)NAN, &ri, NULL, &m), FSCI_EINVAL);
    ASSERT_STATUS(fsci_kdtree_radius(t, (double)NAN, 0.5, 1.0, &ri, NULL, &m), FSCI_EINVAL);
    ASSERT_STATUS(fsci_kdtree_radius(NULL, 0.5, 0.5, 1.0, &ri, NULL, &m), FSCI_EINVAL);
    ASSERT_STATUS(fsci_kdtree_radius(t, 0.5, 0.5, 1.0, NULL, NULL, &m), FSCI_EINVAL);
    ASSERT_STATUS(fsci_kdtree_radius(t, 0.5, 0.5, 1.0, &ri, NULL, NULL), FSCI_EINVAL);
    /* out of memory: a large k-NN query and a radius query fail cleanly */
    fsci_alloc_fail_after(0);
    int st1 = fsci_kdtree_knn(t, 0.5, 0.5, 1500, idx, NULL);
    fsci_alloc_fail_after(0);
    int st2 = fsci_kdtree_radius(t, 0.5, 0.5, 10.0, &ri, NULL, &m);
    fsci_alloc_fail_after(-1);
    ASSERT_STATUS(st1, FSCI_ENOMEM);
    ASSERT_STATUS(st2, FSCI_ENOMEM);
    ASSERT_TRUE(ri == NULL && m == 0);
    fsci_kdtree_destroy(&t);
    fsci_kdtree_destroy(&t);
    fsci_kdtree_destroy(NULL);
    for (int64_t fail_at = 0; fail_at < 5; fail_at++) {
        fsci_alloc_fail_after(fail_at);
        int st = fsci_kdtree_create(x, y, 2000, &t);
        fsci_alloc_fail_after(-1);
        ASSERT_STATUS(st, FSCI_ENOMEM);
        ASSERT_TRUE(t == NULL);
    }
}

TEST(knn_matches_scipy_ckdtree)
{
    const char *py = getenv("FSCI_PYTHON"), *tmp = getenv("FSCI_TEST_TMP"), *src = getenv("FSCI_SOURCE_DIR");
    if (!py || !tmp || !src) {
        printf("  (skipped: FSCI_PYTHON, FSCI_TEST_TMP or FSCI_SOURCE_DIR not set)\n");
        return;
    }
    enum { N = 3000, NQ = 500, K = 9 };
    static double pts[2 * N], qs[2 * NQ], x[N], y[N];
    static int64_t ref[NQ * K];
    random_points(77, N, 50.0, x, y);
    for (int i = 0; i < N; i++) {
        pts[2 * i] = x[i];
        pts[2 * i + 1] = y[i];
    }
    fsci_rng r;
    fsci_rng_init(&r, 78, 0, 0, 0);
    for (int i = 0; i < NQ; i++) {
        qs[2 * i] = i % 2 ? x[i * 5] : 60.0 * fsci_rng_uniform(&r) - 5.0;
        qs[2 * i + 1] = i % 2 ? y[i * 5] : 60.0 * fsci_rng_uniform(&r) - 5.0;
    }
    char fp[1024], fq[1024], fo[1024], cmd[4096];
    snprintf(fp, sizeof fp, "%s/spatial_pts.bin", tmp);
    snprintf(fq, sizeof fq, "%s/spatial_q.bin", tmp);
    snprintf(fo, sizeof fo, "%s/spatial_out.bin", tmp);
    FILE *f = fopen(fp, "wb");
    ASSERT_TRUE(f && fwrite(pts, sizeof pts, 1, f) == 1);
    fclose(f);
    f = fopen(fq, "wb");
    ASSERT_TRUE(f && fwrite(qs, sizeof qs, 1, f) == 1);
    fclose(f);
    remove(fo);
    snprintf(cmd, sizeof cmd,
             "'%s' -c 'import sys, numpy as np; from scipy.spatial import cKDTree; "
             "p = np.fromfile(sys.argv[1], \"<f8\").reshape(-1, 2); q = np.fromfile(sys.argv[2], "
             "\"<f8\").reshape(-1, 2); "
             "np.asarray(cKDTree(p).query(q, k=int(sys.argv[3]))[1], \"<i8\").tofile(sys.argv[4])' '%s' '%s' "
             "%d '%s'",
             py, fp, fq, K, fo);
    ASSERT_EQ(system(cmd), 0);
    f = fopen(fo, "rb");
    ASSERT_TRUE(f && fread(ref, sizeof ref, 1, f) == 1);
    fclose(f);
    fsci_kdtree *t = NULL;
    ASSERT_OK(fsci_kdtree_create(x, y, N, &t));
    for (int i = 0; i < NQ; i++) {
        int64_t idx[K];
        ASSERT_OK(fsci_kdtree_knn(t, qs[2 * i], qs[2 * i + 1], K, idx, NULL));
        for (int j = 0; j < K; j++) ASSERT_EQ(idx[j], ref[i * K + j]);
    }
    fsci_kdtree_destroy(&t);
}

TESTKIT_MAIN()
