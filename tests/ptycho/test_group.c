/* Tests of the grouping (PtychoPINN's sample-then-group rule and its
 * K-choose-C oversampling): properties of the groups, of the sampler
 * (distributions, determinism, thread independence) and agreement with
 * PtychoPINN's rule restated in numpy (group_check.py). The k-d tree has its
 * own tests (tests/core/test_spatial.c). */
#include <stdbool.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/progress.h"
#include "fastsci/core/rng.h"
#include "fastsci/core/spatial.h"
#include "fastsci/ptycho.h"
#include "points_testutil.h"
#include "testkit.h"

/* ------------------------------------------------------------ helpers */

static double dist2(const double *x, const double *y, int64_t a, double qx, double qy)
{
    double dx = x[a] - qx, dy = y[a] - qy;
    return dx * dx + dy * dy;
}

static fsci_ptycho_group_opts mkopts(int64_t nsamples, int K, int gridsize, uint64_t seed)
{
    fsci_ptycho_group_opts o;
    memset(&o, 0, sizeof o);
    o.nsamples = nsamples;
    o.K = K;
    o.gridsize = gridsize;
    o.seed = seed;
    o.nthreads = 1;
    return o;
}

/* Warnings captured from fsci_warn. */
static char g_warn[4096];
static void capture_sink(const char *text, void *userdata)
{
    (void)userdata;
    size_t len = strlen(g_warn);
    snprintf(g_warn + len, sizeof g_warn - len, "%s", text);
}

static int i64_cmp(const void *a, const void *b)
{
    int64_t p = *(const int64_t *)a, q = *(const int64_t *)b;
    return (p > q) - (p < q);
}

/* ------------------------------------------------------------ grouping */

/* Properties of fixed-path groups: indices in range and distinct, the seed
 * excluded, each member among the K nearest non-self neighbours of its seed
 * (by distance, so ties are allowed). */
static int check_groups(const double *x, const double *y, int64_t n, const int32_t *nn, const int64_t *seeds,
                        int64_t ng, int C, int K)
{
    pair *p = fsci_malloc((size_t)n, sizeof *p);
    int ok = p != NULL;
    for (int64_t b = 0; ok && b < ng; b++) {
        int64_t s = seeds[b];
        if (s < 0 || s >= n) ok = 0;
        if (!ok) break;
        brute_sorted(x, y, n, x[s], y[s], s, p);
        double dK = p[K - 1].d2;
        for (int i = 0; i < C; i++) {
            int32_t g = nn[b * C + i];
            if (g < 0 || g >= n || g == s || dist2(x, y, g, x[s], y[s]) > dK) ok = 0;
            for (int j = 0; j < i; j++)
                if (nn[b * C + j] == g) ok = 0;
        }
        if (!ok) fprintf(stderr, "  group %lld (seed %lld) fails\n", (long long)b, (long long)s);
    }
    fsci_free(p);
    return ok;
}

TEST(group_fixed_path_properties)
{
    enum { N = 2000 };
    static double x[N], y[N];
    random_points(11, N, 100.0, x, y);
    fsci_ptycho_group_opts o = mkopts(500, 7, 2, 42);
    o.nthreads = 2;
    int32_t *nn = NULL;
    int64_t *seeds = NULL, ng = 0;
    ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng));
    ASSERT_EQ(ng, 500);
    ASSERT_TRUE(check_groups(x, y, N, nn, seeds, ng, 4, 7));
    static bool seen[N];
    for (int64_t b = 0; b < ng; b++) {
        ASSERT_TRUE(!seen[seeds[b]]);
        seen[seeds[b]] = true;
    }
    fsci_free(nn);
    fsci_free(seeds);

    /* without seeds_out, and gridsize 3 */
    o = mkopts(300, 12, 3, 1);
    ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &nn, NULL, &ng));
    ASSERT_EQ(ng, 300);
    fsci_free(nn);
}

TEST(group_K_equals_C_is_the_nearest_set_in_random_order)
{
    enum { N = 1000, C = 4 };
    static double x[N], y[N];
    static pair p[N];
    random_points(12, N, 30.0, x, y);
    fsci_ptycho_group_opts o = mkopts(N, C, 2, 3);
    int32_t *nn = NULL;
    int64_t *seeds = NULL, ng = 0;
    ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng));
    ASSERT_EQ(ng, N);
    int in_distance_order = 0;
    for (int64_t b = 0; b < ng; b++) {
        ASSERT_EQ(seeds[b], b); /* nsamples == npoints: every point, in order */
        brute_sorted(x, y, N, x[b], y[b], b, p);
        int rank[C];
        for (int i = 0; i < C; i++) {
            rank[i] = -1;
            for (int j = 0; j < C; j++)
                if (p[j].id == nn[b * C + i]) rank[i] = j;
            ASSERT_TRUE(rank[i] >= 0);
            for (int j = 0; j < i; j++) ASSERT_TRUE(rank[j] != rank[i]);
        }
        in_distance_order += rank[0] == 0 && rank[1] == 1 && rank[2] == 2;
    }
    /* random order: P(sorted) = 1/24, about 42 of 1000 */
    ASSERT_TRUE(in_distance_order > 10 && in_distance_order < 100);
    fsci_free(nn);
    fsci_free(seeds);
}

TEST(group_reproducible_seed_dependent_thread_independent)
{
    /* large enough for the parallel loops (>= 16384 tree queries): fixed
     * path with 17000 groups; oversampling with K = 5, C = 4: 5 combinations
     * per seed, 2 * ceil(44000 / 5) = 17600 seeds */
    enum { N = 40000 };
    static double x[N], y[N];
    random_points(13, N, 200.0, x, y);
    for (int over = 0; over < 2; over++) {
        int64_t ns = over ? 44000 : 17000;
        fsci_ptycho_group_opts o = mkopts(ns, over ? 5 : 7, 2, 2024);
        o.oversampling = over;
        int32_t *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        int64_t *sa = NULL, *sb = NULL, *sc = NULL, *sd = NULL, na, nb, nc, nd;
        ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &a, &sa, &na));
        o.nthreads = 2;
        ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &b, &sb, &nb));
        o.nthreads = 3;
        ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &c, &sc, &nc));
        o.seed = 2025;
        ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &d, &sd, &nd));
        ASSERT_EQ(na, ns);
        ASSERT_EQ(nb, ns);
        ASSERT_EQ(nc, ns);
        ASSERT_EQ(nd, ns);
        ASSERT_TRUE(memcmp(a, b, (size_t)ns * 4 * sizeof *a) == 0);
        ASSERT_TRUE(memcmp(a, c, (size_t)ns * 4 * sizeof *a) == 0);
        ASSERT_TRUE(memcmp(sa, sb, (size_t)ns * sizeof *sa) == 0);
        ASSERT_TRUE(memcmp(sa, sc, (size_t)ns * sizeof *sa) == 0);
        int64_t differ = 0;
        for (int64_t i = 0; i < ns; i++) differ += memcmp(a + 4 * i, d + 4 * i, 4 * sizeof *a) != 0;
        ASSERT_TRUE(differ > ns / 2);
        fsci_free(a);
        fsci_free(b);
        fsci_free(c);
        fsci_free(d);
        fsci_free(sa);
        fsci_free(sb);
        fsci_free(sc);
        fsci_free(sd);
    }
}

TEST(group_gridsize1_groups_are_the_seeds)
{
    enum { N = 500 };
    static double x[N], y[N];
    random_points(14, N, 10.0, x, y);
    fsci_ptycho_group_opts o = mkopts(200, 1, 1, 9);
    int32_t *nn = NULL;
    int64_t *seeds = NULL, ng = 0;
    ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng));
    ASSERT_EQ(ng, 200);
    static bool seen[N];
    bool sorted = true;
    for (int64_t b = 0; b < ng; b++) {
        ASSERT_EQ(nn[b], seeds[b]);
        ASSERT_TRUE(seeds[b] >= 0 && seeds[b] < N && !seen[seeds[b]]);
        seen[seeds[b]] = true;
        if (b && seeds[b] < seeds[b - 1]) sorted = false;
    }
    ASSERT_TRUE(!sorted);
    fsci_free(nn);
    fsci_free(seeds);
}

TEST(group_gridsize1_caps_at_npoints_with_a_warning)
{
    enum { N = 100 };
    static double x[N], y[N];
    random_points(15, N, 10.0, x, y);
    fsci_ptycho_group_opts o = mkopts(250, 4, 1, 9);
    o.oversampling = true; /* does not matter for C == 1 */
    int32_t *nn = NULL;
    int64_t ng = 0;
    g_warn[0] = '\0';
    fsci_progress_set_sink(capture_sink, NULL);
    int st = fsci_ptycho_group(x, y, N, &o, &nn, NULL, &ng);
    fsci_progress_set_sink(NULL, NULL);
    ASSERT_OK(st);
    ASSERT_EQ(ng, N);
    ASSERT_TRUE(strstr(g_warn, "warning") && strstr(g_warn, "capped at 100"));
    for (int64_t b = 0; b < ng; b++) ASSERT_EQ(nn[b], b);
    fsci_free(nn);
}

TEST(group_errors)
{
    enum { N = 50 };
    static double x[N], y[N];
    random_points(16, N, 10.0, x, y);
    int32_t *nn = (int32_t *)x;
    int64_t *seeds = (int64_t *)x, ng = 7;
    fsci_ptycho_group_opts o = mkopts(10, 3, 2, 1);
    ASSERT_STATUS(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "K = 3 is smaller than C = gridsize^2 = 4"));
    ASSERT_TRUE(nn == NULL && seeds == NULL && ng == 0);
    o = mkopts(2, 4, 2, 1);
    ASSERT_STATUS(fsci_ptycho_group(x, y, 3, &o, &nn, &seeds, &ng), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "npoints = 3 is smaller than C = gridsize^2 = 4"));
    x[17] = (double)NAN;
    ASSERT_STATUS(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "xcoords[17] = nan is not finite"));
    x[17] = 1.0;
    y[5] = (double)INFINITY;
    ASSERT_STATUS(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "ycoords[5] = inf is not finite"));
    y[5] = 1.0;
    /* OVERSAMPLING-001 guard */
    o = mkopts(N + 1, 4, 2, 1);
    ASSERT_STATUS(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng), FSCI_EINVAL);
    const char *m = fsci_error_message();
    ASSERT_TRUE(strstr(m, "OVERSAMPLING-001") && strstr(m, "--oversampling") && strstr(m, "--pool-size") &&
                strstr(m, "nsamples = 51"));
    o.oversampling = true;
    o.pool_size = 3;
    ASSERT_STATUS(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "pool_size = 3 is smaller than C = gridsize^2 = 4"));
    o.pool_size = -1;
    ASSERT_STATUS(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng), FSCI_EINVAL);
    o.pool_size = 1024;
    ASSERT_STATUS(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng), FSCI_EINVAL);
    /* pool_size is not needed (nor checked) without oversampling */
    o = mkopts(N, 4, 2, 1);
    o.pool_size = 2;
    ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &nn, NULL, &ng));
    fsci_free(nn);
    o = mkopts(10, 4, 0, 1);
    ASSERT_STATUS(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "gridsize = 0"));
    o = mkopts(0, 4, 2, 1);
    ASSERT_STATUS(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "nsamples = 0"));
    o = mkopts(10, 1024, 2, 1);
    ASSERT_STATUS(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng), FSCI_EINVAL);
    o = mkopts(10, 4, 2, 1);
    o.nthreads = -1;
    ASSERT_STATUS(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng), FSCI_EINVAL);
    o.nthreads = 1;
    ASSERT_STATUS(fsci_ptycho_group(NULL, y, N, &o, &nn, &seeds, &ng), FSCI_EINVAL);
    ASSERT_STATUS(fsci_ptycho_group(x, y, N, NULL, &nn, &seeds, &ng), FSCI_EINVAL);
    ASSERT_STATUS(fsci_ptycho_group(x, y, N, &o, NULL, &seeds, &ng), FSCI_EINVAL);
    ASSERT_STATUS(fsci_ptycho_group(x, y, 0, &o, &nn, &seeds, &ng), FSCI_EINVAL);
}

/* Rank of g among the first `m` entries of p, or -1. */
static int rank_of(const pair *p, int m, int64_t g)
{
    for (int j = 0; j < m; j++)
        if (p[j].id == g) return j;
    return -1;
}

TEST(group_oversampling_gives_C_subsets_of_the_seed_neighbourhood)
{
    enum { N = 200, C = 4, K = 6, NS = 3 * N };
    static double x[N], y[N];
    static pair p[N];
    random_points(17, N, 20.0, x, y);
    fsci_ptycho_group_opts o = mkopts(NS, K, 2, 5);
    o.oversampling = true;
    int32_t *nn = NULL;
    int64_t *seeds = NULL, ng = 0;
    g_warn[0] = '\0';
    fsci_progress_set_sink(capture_sink, NULL);
    int st = fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng);
    fsci_progress_set_sink(NULL, NULL);
    ASSERT_OK(st);
    ASSERT_EQ(ng, NS);
    ASSERT_TRUE(g_warn[0] == '\0'); /* pool of 1200 >= 600: no replacement */
    ASSERT_TRUE(check_groups(x, y, N, nn, seeds, ng, C, K));
    /* itertools.combinations keeps the neighbour order: ranks increase */
    static int64_t key[NS];
    static bool seen[N];
    int nseeds = 0;
    for (int64_t b = 0; b < ng; b++) {
        int64_t s = seeds[b];
        brute_sorted(x, y, N, x[s], y[s], s, p);
        int prev = -1;
        key[b] = s;
        for (int i = 0; i < C; i++) {
            int r = rank_of(p, K, nn[b * C + i]);
            ASSERT_TRUE(r > prev);
            prev = r;
            key[b] = key[b] * 8 + r;
        }
        if (!seen[s]) nseeds++;
        seen[s] = true;
    }
    /* 15 combinations per seed, ceil(600 / 15) = 40 needed, 80 seeds drawn,
     * the pool is cut at 1200 = 80 * 15 entries drawn without replacement */
    ASSERT_TRUE(nseeds <= 80 && nseeds > 60);
    /* (seed, combination) pairs are distinct pool entries, drawn without
     * replacement: no group repeats */
    qsort(key, NS, sizeof *key, i64_cmp);
    for (int b = 1; b < NS; b++) ASSERT_TRUE(key[b] != key[b - 1]);
    fsci_free(nn);
    fsci_free(seeds);
}

TEST(group_oversampling_uses_pool_size_and_replacement_when_short)
{
    enum { N = 100, C = 4 };
    static double x[N], y[N];
    static pair p[N];
    random_points(18, N, 20.0, x, y);
    /* pool_size 8 overrides K = 4 for the oversampling pool */
    fsci_ptycho_group_opts o = mkopts(250, 4, 2, 6);
    o.oversampling = true;
    o.pool_size = 8;
    int32_t *nn = NULL;
    int64_t *seeds = NULL, ng = 0;
    ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng));
    ASSERT_EQ(ng, 250);
    ASSERT_TRUE(check_groups(x, y, N, nn, seeds, ng, C, 8));
    int far = 0;
    for (int64_t b = 0; b < ng; b++) {
        brute_sorted(x, y, N, x[seeds[b]], y[seeds[b]], seeds[b], p);
        for (int i = 0; i < C; i++) far += rank_of(p, 8, nn[b * C + i]) >= 4;
    }
    ASSERT_TRUE(far > 0);
    fsci_free(nn);
    fsci_free(seeds);

    /* K = pool = C: one combination per seed, 100 < 250: with replacement */
    o.pool_size = 0;
    g_warn[0] = '\0';
    fsci_progress_set_sink(capture_sink, NULL);
    int st = fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng);
    fsci_progress_set_sink(NULL, NULL);
    ASSERT_OK(st);
    ASSERT_EQ(ng, 250);
    ASSERT_TRUE(strstr(g_warn, "with replacement"));
    for (int64_t b = 0; b < ng; b++) {
        brute_sorted(x, y, N, x[seeds[b]], y[seeds[b]], seeds[b], p);
        for (int i = 0; i < C; i++) ASSERT_EQ(rank_of(p, C, nn[b * C + i]), i);
    }
    fsci_free(nn);
    fsci_free(seeds);
}

TEST(group_choice_of_C_of_K_is_uniform)
{
    enum { N = 4000, C = 4, K = 8 };
    static double x[N], y[N];
    random_points(19, N, 60.0, x, y);
    fsci_ptycho_group_opts o = mkopts(N, K, 2, 77);
    o.nthreads = 2;
    int32_t *nn = NULL;
    int64_t *seeds = NULL, ng = 0;
    ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng));
    fsci_kdtree *t = NULL;
    ASSERT_OK(fsci_kdtree_create(x, y, N, &t));
    double count[K] = {0}, first[K] = {0};
    for (int64_t b = 0; b < ng; b++) {
        int64_t q[K + 1];
        ASSERT_OK(fsci_kdtree_knn(t, x[seeds[b]], y[seeds[b]], K + 1, q, NULL));
        ASSERT_EQ(q[0], seeds[b]);
        for (int i = 0; i < C; i++) {
            int r = -1;
            for (int j = 1; j <= K; j++)
                if (q[j] == nn[b * C + i]) r = j - 1;
            ASSERT_TRUE(r >= 0);
            count[r] += 1;
            if (i == 0) first[r] += 1;
        }
    }
    /* each neighbour rank chosen with probability C/K: binomial z-test */
    double pc = (double)C / K, mean = (double)ng * pc, sd = sqrt((double)ng * pc * (1 - pc));
    for (int r = 0; r < K; r++) ASSERT_TRUE(fabs(count[r] - mean) < 5 * sd);
    /* the first member is uniform over the K ranks: chi-square, 7 dof,
     * P(chi2 > 40) ~ 1e-6 */
    double chi2 = 0, e = (double)ng / K;
    for (int r = 0; r < K; r++) chi2 += (first[r] - e) * (first[r] - e) / e;
    ASSERT_TRUE(chi2 < 40);
    fsci_kdtree_destroy(&t);
    fsci_free(nn);
    fsci_free(seeds);
}

TEST(group_seed_choice_is_uniform)
{
    enum { N = 100, NS = 30, REP = 2000 };
    static double x[N], y[N];
    random_points(20, N, 10.0, x, y);
    double count[N] = {0};
    for (int rep = 0; rep < REP; rep++) {
        fsci_ptycho_group_opts o = mkopts(NS, 1, 1, (uint64_t)rep);
        int32_t *nn = NULL;
        int64_t ng = 0;
        ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &nn, NULL, &ng));
        for (int64_t b = 0; b < ng; b++) count[nn[b]] += 1;
        fsci_free(nn);
    }
    double pc = (double)NS / N, mean = REP * pc, sd = sqrt(REP * pc * (1 - pc));
    for (int i = 0; i < N; i++) ASSERT_TRUE(fabs(count[i] - mean) < 5 * sd);
}

TEST(group_duplicate_points_never_group_a_seed_with_itself)
{
    /* every position twice: the seed's twin (distance 0) may come first in
     * the query; the seed's own index is dropped, not column 0 */
    enum { N = 400, K = 4, C = 4 };
    static double x[N], y[N];
    for (int i = 0; i < N / 2; i++) {
        x[i] = x[i + N / 2] = (double)(i % 10) + 0.01 * (double)(i / 10);
        y[i] = y[i + N / 2] = (double)(i / 10);
    }
    fsci_ptycho_group_opts o = mkopts(N, K, 2, 4);
    int32_t *nn = NULL;
    int64_t *seeds = NULL, ng = 0;
    ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng));
    ASSERT_EQ(ng, N);
    ASSERT_TRUE(check_groups(x, y, N, nn, seeds, ng, C, K));
    int with_twin = 0;
    for (int64_t b = 0; b < ng; b++) {
        int64_t twin = (seeds[b] + N / 2) % N;
        for (int c = 0; c < C; c++) with_twin += nn[b * C + c] == twin;
    }
    ASSERT_EQ(with_twin, N); /* the twin is the nearest non-self point */
    fsci_free(nn);
    fsci_free(seeds);

    /* ten copies of one point (indices 0..9) far from the rest: for seed 9
     * the K + 1 = 5 results are copies 0..4 (ties by index) without the seed,
     * so the farthest (copy 4) is dropped and the group is {0, 1, 2, 3} */
    for (int i = 0; i < 10; i++) x[i] = y[i] = -100.0;
    o = mkopts(N, K, 2, 4);
    ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng));
    ASSERT_EQ(seeds[9], 9);
    int mask = 0;
    for (int c = 0; c < C; c++) mask |= 1 << nn[9 * C + c];
    ASSERT_EQ(mask, 0xf);
    for (int b = 0; b < 9; b++) /* seeds 0..8: four other copies */
        for (int c = 0; c < C; c++) ASSERT_TRUE(nn[b * C + c] < 10 && nn[b * C + c] != b);
    fsci_free(nn);
    fsci_free(seeds);
}

TEST(group_fewer_points_than_K_follows_the_reference)
{
    /* n = 5 <= K = 7: the fixed path keeps all n query results, the seed
     * included (neighbors[:K]); the oversampling path drops the seed
     * (neighbors[1:]), so 4 of 5 points form one C(4,4) = 1 combination */
    double x[5] = {0, 1, 0, 1, 0.4}, y[5] = {0, 0, 1, 1, 0.6};
    int seed_in_group = 0;
    for (uint64_t sd = 0; sd < 20; sd++) {
        fsci_ptycho_group_opts o = mkopts(5, 7, 2, sd);
        int32_t *nn = NULL;
        int64_t *seeds = NULL, ng = 0;
        ASSERT_OK(fsci_ptycho_group(x, y, 5, &o, &nn, &seeds, &ng));
        ASSERT_EQ(ng, 5);
        for (int64_t b = 0; b < ng; b++) {
            ASSERT_EQ(seeds[b], b);
            for (int c = 0; c < 4; c++) {
                ASSERT_TRUE(nn[b * 4 + c] >= 0 && nn[b * 4 + c] < 5);
                for (int d = 0; d < c; d++) ASSERT_TRUE(nn[b * 4 + c] != nn[b * 4 + d]);
                seed_in_group += nn[b * 4 + c] == b;
            }
        }
        fsci_free(nn);
        fsci_free(seeds);
    }
    ASSERT_TRUE(seed_in_group > 50 && seed_in_group < 100); /* expected 4/5 of 100 */

    /* oversampling: 10 groups from n = 5: C(7,4) = 35 >= 10, so 1 seed is
     * needed and 2 are drawn; each gives the single 4-subset of the others, in neighbour order */
    fsci_ptycho_group_opts o = mkopts(10, 7, 2, 3);
    o.oversampling = true;
    int32_t *nn = NULL;
    int64_t *seeds = NULL, ng = 0;
    g_warn[0] = '\0';
    fsci_progress_set_sink(capture_sink, NULL);
    int st = fsci_ptycho_group(x, y, 5, &o, &nn, &seeds, &ng);
    fsci_progress_set_sink(NULL, NULL);
    ASSERT_OK(st);
    ASSERT_EQ(ng, 10);
    ASSERT_TRUE(strstr(g_warn, "with replacement")); /* pool of 2 < 10 */
    int64_t s0 = -1, s1 = -1;
    for (int64_t b = 0; b < ng; b++) {
        int64_t s = seeds[b];
        if (s0 < 0 || s0 == s)
            s0 = s;
        else if (s1 < 0 || s1 == s)
            s1 = s;
        else
            ASSERT_TRUE(!"more than 2 seeds");
        pair p[5];
        ASSERT_EQ(brute_sorted(x, y, 5, x[s], y[s], s, p), 4);
        for (int c = 0; c < 4; c++) ASSERT_EQ(nn[b * 4 + c], p[c].id); /* neighbour order */
    }
    fsci_free(nn);
    fsci_free(seeds);
}

/* Run group_check.py on one grouping; 1 if it exits 0, -1 if it cannot run
 * (environment not set). */
static int reference_agrees(const double *x, const double *y, int64_t n, const int64_t *seeds,
                            const int32_t *nn, int64_t ng, int K, int C, bool over)
{
    const char *py = getenv("FSCI_PYTHON"), *tmp = getenv("FSCI_TEST_TMP"), *src = getenv("FSCI_SOURCE_DIR");
    if (!py || !tmp || !src) return -1;
    char fp[1024], fs[1024], fg[1024], cmd[4096];
    snprintf(fp, sizeof fp, "%s/group_check_pts.bin", tmp);
    snprintf(fs, sizeof fs, "%s/group_check_seeds.bin", tmp);
    snprintf(fg, sizeof fg, "%s/group_check_nn.bin", tmp);
    FILE *f = fopen(fp, "wb");
    if (!f) return 0;
    for (int64_t i = 0; i < n; i++) {
        double xy[2] = {x[i], y[i]};
        fwrite(xy, sizeof xy, 1, f);
    }
    fclose(f);
    f = fopen(fs, "wb");
    if (!f) return 0;
    fwrite(seeds, sizeof *seeds, (size_t)ng, f);
    fclose(f);
    f = fopen(fg, "wb");
    if (!f) return 0;
    fwrite(nn, sizeof *nn, (size_t)(ng * C), f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/ptycho/group_check.py' '%s' '%s' '%s' %d %d %s", py, src, fp,
             fs, fg, K, C, over ? "oversampling" : "fixed");
    return system(cmd) == 0;
}

TEST(group_agrees_with_ptychopinn_rule_in_numpy)
{
    if (!getenv("FSCI_PYTHON") || !getenv("FSCI_TEST_TMP") || !getenv("FSCI_SOURCE_DIR")) {
        printf("  (skipped: FSCI_PYTHON, FSCI_TEST_TMP or FSCI_SOURCE_DIR not set)\n");
        return;
    }
    enum { N = 1500 };
    static double x[N], y[N];
    random_points(50, N, 40.0, x, y);
    struct {
        int64_t n, ns;
        int K, gridsize, pool;
        bool over;
    } cases[] = {
        {N, 400, 7, 2, 0, false},  /* fixed path, K + 1 < n */
        {N, N, 4, 2, 0, false},    /* every point a seed, K = C */
        {N, 300, 12, 3, 0, false}, /* gridsize 3 */
        {6, 6, 7, 2, 0, false},    /* n <= K: all points, the seed included */
        {200, 600, 6, 2, 0, true}, /* oversampling: C(6, 4) combinations per seed */
        {200, 700, 4, 2, 8, true}, /* oversampling with pool_size 8 */
        {6, 20, 7, 2, 0, true},    /* oversampling with n <= K */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fsci_ptycho_group_opts o = mkopts(cases[i].ns, cases[i].K, cases[i].gridsize, 100 + i);
        o.oversampling = cases[i].over;
        o.pool_size = cases[i].pool;
        o.nthreads = 2;
        int32_t *nn = NULL;
        int64_t *seeds = NULL, ng = 0;
        fsci_progress_set_sink(capture_sink, NULL); /* the short pools warn */
        int st = fsci_ptycho_group(x, y, cases[i].n, &o, &nn, &seeds, &ng);
        fsci_progress_set_sink(NULL, NULL);
        ASSERT_OK(st);
        ASSERT_EQ(ng, cases[i].ns);
        int C = cases[i].gridsize * cases[i].gridsize, P = cases[i].pool ? cases[i].pool : cases[i].K;
        int ok = reference_agrees(x, y, cases[i].n, seeds, nn, ng, P, C, cases[i].over);
        if (ok != 1) fprintf(stderr, "  case %zu\n", i);
        ASSERT_EQ(ok, 1);
        fsci_free(nn);
        fsci_free(seeds);
    }
}

TEST(group_oversampling_pool_draw_is_uniform)
{
    /* 40 points, K = C = 4 with pool 5: C(5, 4) = 5 combinations per seed;
     * 100 groups need 20 seeds, 40 are drawn (all points), the pool of 200
     * entries is cut at 2 * 100 = 200: each draw takes 100 of 200 distinct
     * entries, so every (seed, combination) appears with probability 1/2 */
    enum { N = 40, NS = 100, REP = 400 };
    static double x[N], y[N];
    static double count[N][5];
    static pair p[N];
    random_points(60, N, 10.0, x, y);
    for (int rep = 0; rep < REP; rep++) {
        fsci_ptycho_group_opts o = mkopts(NS, 4, 2, 1000 + (uint64_t)rep);
        o.oversampling = true;
        o.pool_size = 5;
        int32_t *nn = NULL;
        int64_t *seeds = NULL, ng = 0;
        ASSERT_OK(fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng));
        for (int64_t b = 0; b < ng; b++) {
            /* the combination is the one neighbour rank of 5 left out */
            brute_sorted(x, y, N, x[seeds[b]], y[seeds[b]], seeds[b], p);
            int mask = 0;
            for (int c = 0; c < 4; c++) {
                int r = -1;
                for (int j = 0; j < 5; j++)
                    if (p[j].id == nn[b * 4 + c]) r = j;
                ASSERT_TRUE(r >= 0);
                mask |= 1 << r;
            }
            int out = 0;
            while (mask & (1 << out)) out++;
            count[seeds[b]][out] += 1;
        }
        fsci_free(nn);
        fsci_free(seeds);
    }
    double mean = REP * 0.5, sd = sqrt(REP * 0.25);
    for (int s = 0; s < N; s++)
        for (int c = 0; c < 5; c++) ASSERT_TRUE(fabs(count[s][c] - mean) < 5 * sd);
}

TEST(group_out_of_memory_fails_cleanly)
{
    enum { N = 300 };
    static double x[N], y[N];
    random_points(40, N, 15.0, x, y);
    for (int over = 0; over < 2; over++) {
        fsci_ptycho_group_opts o = mkopts(over ? 2 * N : N / 2, 6, 2, 1);
        o.oversampling = over;
        int ok = 0;
        for (int64_t fail_at = 0; fail_at < 64 && !ok; fail_at++) {
            int32_t *nn = (int32_t *)x;
            int64_t *seeds = (int64_t *)x, ng = -1;
            fsci_alloc_fail_after(fail_at);
            int st = fsci_ptycho_group(x, y, N, &o, &nn, &seeds, &ng);
            fsci_alloc_fail_after(-1);
            if (st == FSCI_OK) {
                ok = 1;
                ASSERT_TRUE(fail_at > 2);
                ASSERT_EQ(ng, o.nsamples);
                fsci_free(nn);
                fsci_free(seeds);
            } else {
                ASSERT_EQ(st, FSCI_ENOMEM);
                ASSERT_TRUE(nn == NULL && seeds == NULL && ng == 0);
            }
        }
        ASSERT_TRUE(ok);
    }
}

TESTKIT_MAIN()
