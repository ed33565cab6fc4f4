/* Tests of the Philox4x64-10 generator and its uniform and normal samplers:
 * known-answer vectors, bit equality with numpy.random.Philox, goodness of fit,
 * and thread-count independence of every fill (Poisson tests: test_rng_poisson.c). */
#include "core/rng_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/rng.h"
#include "testkit.h"
#include "test_rng_util.h"

#define ALL1 UINT64_MAX

/* ------------------------------------------------------------ helpers */

/* Read `count` whitespace-separated tokens printed by numpy into raw[] (hex
 * integers) or uni[] (hex floats). The cases are passed on the command line,
 * 8 arguments each: key0 key1 ctr0 ctr1 ctr2 ctr3 n kind. */
static const char numpy_script[] =
    "import sys, numpy as np\n"
    "a = sys.argv[1:]\n"
    "for i in range(0, len(a), 8):\n"
    "    k0, k1, c0, c1, c2, c3, n = (int(v) for v in a[i:i + 7])\n"
    "    bg = np.random.Philox(key=np.array([k0, k1], dtype=np.uint64),\n"
    "                          counter=np.array([c0, c1, c2, c3], dtype=np.uint64))\n"
    "    if a[i + 7] == 'raw':\n"
    "        print(' '.join('%016x' % int(v) for v in bg.random_raw(n)))\n"
    "    else:\n"
    "        print(' '.join(float(v).hex() for v in np.random.Generator(bg).random(n)))\n";

typedef struct np_case {
    uint64_t key[2], ctr[4];
    int n;
    const char *kind; /* "raw" or "uniform" */
} np_case;

/* Runs numpy once for all cases; out[j] receives the values of case j, stored
 * as raw words (for "uniform" the double's bits). Returns 0 on success. */
static int numpy_values(const np_case *cases, int ncases, uint64_t **out)
{
    const char *py = getenv("FSCI_PYTHON");
    if (!py || !*py) py = "/usr/bin/python3";
    size_t cap = 4096 + sizeof numpy_script;
    char *cmd = malloc(cap);
    if (!cmd) return -1;
    int len = snprintf(cmd, cap, "'%s' -c \"%s\"", py, numpy_script);
    for (int j = 0; j < ncases; j++)
        len += snprintf(cmd + len, cap - (size_t)len,
                        " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %d %s",
                        cases[j].key[0], cases[j].key[1], cases[j].ctr[0], cases[j].ctr[1], cases[j].ctr[2],
                        cases[j].ctr[3], cases[j].n, cases[j].kind);
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p) return -1;
    int ok = 1;
    char tok[64];
    for (int j = 0; j < ncases && ok; j++) {
        for (int i = 0; i < cases[j].n && ok; i++) {
            if (fscanf(p, "%63s", tok) != 1) {
                ok = 0;
                break;
            }
            if (strcmp(cases[j].kind, "raw") == 0) {
                out[j][i] = strtoull(tok, NULL, 16);
            } else {
                double d = strtod(tok, NULL);
                memcpy(&out[j][i], &d, sizeof d);
            }
        }
    }
    int rc = pclose(p);
    return ok && rc == 0 ? 0 : -1;
}

/* ---------------------------------------------------- Philox and numpy */

/* Known-answer vectors of Philox4x64-10 from the Random123 distribution
 * (examples/kat_vectors): counter, key -> output. The generator increments the
 * counter before each block, so the state is set one below each counter. */
TEST(philox_known_answers)
{
    static const struct {
        uint64_t ctr[4], key[2], out[4];
    } kat[3] = {
        {{0, 0, 0, 0},
         {0, 0},
         {0x16554d9eca36314cULL, 0xdb20fe9d672d0fdcULL, 0xd7e772cee186176bULL, 0x7e68b68aec7ba23bULL}},
        {{ALL1, ALL1, ALL1, ALL1},
         {ALL1, ALL1},
         {0x87b092c3013fe90bULL, 0x438c3c67be8d0224ULL, 0x9cc7d7c69cd777b6ULL, 0xa09caebf594f0ba0ULL}},
        {{0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL, 0x082efa98ec4e6c89ULL},
         {0x452821e638d01377ULL, 0xbe5466cf34e90c6cULL},
         {0xa528f45403e61d95ULL, 0x38c72dbd566e9788ULL, 0xa5a1610e72fd18b5ULL, 0x57bd43b5e52b7fe6ULL}},
    };
    for (int t = 0; t < 3; t++) {
        fsci_rng r;
        fsci_rng_init(&r, kat[t].key[0], kat[t].key[1], 0, 0);
        /* counter - 1 as a 256-bit number (the first vector wraps from all ones). */
        uint64_t borrow = 1;
        for (int w = 0; w < 4; w++) {
            r.ctr[w] = kat[t].ctr[w] - borrow;
            borrow = borrow && kat[t].ctr[w] == 0;
        }
        for (int w = 0; w < 4; w++) ASSERT_EQ_U64(fsci_rng_u64(&r), kat[t].out[w]);
        for (int w = 0; w < 4; w++) ASSERT_EQ_U64(r.ctr[w], kat[t].ctr[w]);
    }
}

TEST(raw_and_uniform_equal_numpy_philox)
{
    enum { N = 1500, NC = 7 };
    const np_case cases[NC] = {
        {{12345, 0}, {0, 0, 0, 0}, N, "raw"},
        {{ALL1, 7}, {0, 0, 3, 5}, N, "raw"},
        /* word 0 carries into word 1 after 10 blocks */
        {{0xdeadbeefULL, 42}, {ALL1 - 9, 0, 11, 0}, N, "raw"},
        /* words 0, 1, 2 all carry into word 3 after 3 blocks */
        {{1, 2}, {ALL1 - 2, ALL1, ALL1, 5}, N, "raw"},
        /* chunks 0 and 1 of the bulk fill with key {99, 3} */
        {{99, 3}, {0, 0, 0, 0}, FSCI_RNG_CHUNK, "raw"},
        {{99, 3}, {0, 0, 1, 0}, FSCI_RNG_CHUNK, "raw"},
        {{99, 3}, {0, 0, 0, 0}, N, "uniform"},
    };
    uint64_t *vals[NC] = {0};
    for (int j = 0; j < NC; j++) {
        vals[j] = calloc((size_t)cases[j].n, sizeof(uint64_t));
        ASSERT_TRUE(vals[j]);
    }
    int rc = numpy_values(cases, NC, vals);
    if (rc != 0)
        for (int j = 0; j < NC; j++) free(vals[j]);
    ASSERT_TRUE(rc == 0);

    int bad = -1;
    for (int j = 0; j < 4 && bad < 0; j++) {
        fsci_rng r;
        fsci_rng_init(&r, cases[j].key[0], cases[j].key[1], cases[j].ctr[2], cases[j].ctr[3]);
        r.ctr[0] = cases[j].ctr[0];
        r.ctr[1] = cases[j].ctr[1];
        for (int i = 0; i < cases[j].n; i++)
            if (fsci_rng_u64(&r) != vals[j][i]) {
                bad = j * 100000 + i;
                break;
            }
    }
    uint64_t fill[2 * FSCI_RNG_CHUNK];
    int st = fsci_rng_fill_u64(99, 3, fill, 2 * FSCI_RNG_CHUNK, 2);
    int fill_ok = st == FSCI_OK && memcmp(fill, vals[4], FSCI_RNG_CHUNK * sizeof *fill) == 0 &&
                  memcmp(fill + FSCI_RNG_CHUNK, vals[5], FSCI_RNG_CHUNK * sizeof *fill) == 0;
    /* fsci_rng_uniform across the chunk boundary of one stream, then the bulk
     * uniform fill on its first chunk, both bit-equal to Generator.random(). */
    fsci_rng r;
    fsci_rng_init(&r, 99, 3, 0, 0);
    int uni_ok = 1;
    double ufill[FSCI_RNG_CHUNK];
    st = fsci_rng_fill_uniform(99, 3, ufill, FSCI_RNG_CHUNK, 1);
    for (int i = 0; i < N; i++) {
        double d = fsci_rng_uniform(&r), e;
        memcpy(&e, &vals[6][i], sizeof e);
        if (memcmp(&d, &e, sizeof d) != 0) uni_ok = 0;
        if (i < FSCI_RNG_CHUNK && memcmp(&ufill[i], &e, sizeof e) != 0) uni_ok = 0;
    }
    for (int j = 0; j < NC; j++) free(vals[j]);
    ASSERT_EQ(bad, -1);
    ASSERT_TRUE(fill_ok);
    ASSERT_OK(st);
    ASSERT_TRUE(uni_ok);
}

TEST(init_layout_and_copy)
{
    fsci_rng r, s;
    fsci_rng_init(&r, 5, 6, 7, 8);
    ASSERT_EQ_U64(r.key[0], 5);
    ASSERT_EQ_U64(r.key[1], 6);
    ASSERT_EQ_U64(r.ctr[0], 0);
    ASSERT_EQ_U64(r.ctr[2], 7);
    ASSERT_EQ_U64(r.ctr[3], 8);
    ASSERT_EQ(r.pos, 4);
    (void)fsci_rng_u64(&r);
    s = r; /* a copy continues identically */
    for (int i = 0; i < 10; i++) ASSERT_EQ_U64(fsci_rng_u64(&r), fsci_rng_u64(&s));
    /* different index, stream or seed: different words */
    fsci_rng a, b, c;
    fsci_rng_init(&a, 5, 6, 7, 9);
    fsci_rng_init(&b, 5, 7, 7, 8);
    fsci_rng_init(&c, 4, 6, 7, 8);
    fsci_rng_init(&r, 5, 6, 7, 8);
    uint64_t x = fsci_rng_u64(&r);
    ASSERT_TRUE(x != fsci_rng_u64(&a) && x != fsci_rng_u64(&b) && x != fsci_rng_u64(&c));
}

/* -------------------------------------------------------------- uniform */

TEST(uniform_range_and_moments)
{
    const int64_t n = 1000000;
    double *u = fsci_malloc((size_t)n, sizeof *u);
    uint64_t *w = fsci_malloc((size_t)n, sizeof *w);
    ASSERT_TRUE(u && w);
    ASSERT_OK(fsci_rng_fill_uniform(2024, 1, u, n, 2));
    ASSERT_OK(fsci_rng_fill_u64(2024, 1, w, n, 2));
    double s = 0.0, s2 = 0.0, mn = 1.0, mx = 0.0;
    int64_t mismatch = -1, lowbit = 0;
    for (int64_t i = 0; i < n; i++) {
        s += u[i];
        s2 += (u[i] - 0.5) * (u[i] - 0.5);
        mn = fmin(mn, u[i]);
        mx = fmax(mx, u[i]);
        if (u[i] != (double)(w[i] >> 11) * 0x1p-53 && mismatch < 0) mismatch = i;
        lowbit += (int64_t)((w[i] >> 11) & 1);
    }
    fsci_free(u);
    fsci_free(w);
    ASSERT_EQ(mismatch, -1);
    ASSERT_TRUE(mn >= 0.0 && mx < 1.0);
    ASSERT_TRUE(mn < 1e-4 && mx > 1.0 - 1e-4);
    double mean = s / (double)n, var = s2 / (double)n;
    double zm = (mean - 0.5) / sqrt(1.0 / 12.0 / (double)n);
    double zv = (var - 1.0 / 12.0) / sqrt((1.0 / 80.0 - 1.0 / 144.0) / (double)n);
    double zb = ((double)lowbit - 0.5 * (double)n) / sqrt(0.25 * (double)n);
    ASSERT_TRUE(fabs(zm) < 4.0);
    ASSERT_TRUE(fabs(zv) < 4.0);
    ASSERT_TRUE(fabs(zb) < 4.0); /* the 53rd bit is random too */
}

/* --------------------------------------------------------------- normal */

TEST(ziggurat_tables_satisfy_their_definition)
{
    const double *x = fsci__rng_zig_x, *f = fsci__rng_zig_f;
    const double R = x[1];
    double V = R * exp(-0.5 * R * R) + sqrt(PI / 2.0) * erfc(R / sqrt(2.0));
    ASSERT_NEAR_REL(R, 3.6541528853610088, 1e-15, 0);
    ASSERT_NEAR_REL(x[0] * exp(-0.5 * R * R), V, 1e-13, 0);
    for (int i = 1; i < FSCI__RNG_ZIG_N; i++) {
        ASSERT_NEAR_REL(f[i], exp(-0.5 * x[i] * x[i]), 1e-14, 0);
        ASSERT_NEAR_REL(x[i] * (f[i + 1] - f[i]), V, 1e-11, 0); /* equal areas */
        ASSERT_TRUE(x[i + 1] < x[i]);
    }
    ASSERT_EQ(f[FSCI__RNG_ZIG_N], 1);
    ASSERT_EQ(x[FSCI__RNG_ZIG_N], 0);
    for (int i = 0; i < FSCI__RNG_ZIG_N; i++) {
        double k = ldexp(x[i + 1] / x[i], 52);
        ASSERT_TRUE((double)fsci__rng_zig_k[i] <= k && (double)fsci__rng_zig_k[i] > k - 2.0);
    }
}

static double phi_cdf(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

TEST(normal_moments_tails_and_fit)
{
    const int64_t n = 2000000;
    double *x = fsci_malloc((size_t)n, sizeof *x);
    ASSERT_TRUE(x);
    ASSERT_OK(fsci_rng_fill_normal(7, 11, x, n, 2));
    /* bins of width 0.1 on [-6, 6] plus two open tails */
    enum { NB = 122 };
    double obs[NB] = {0}, ex[NB];
    double s = 0.0, s2 = 0.0, s4 = 0.0;
    int64_t beyond_r = 0, beyond4 = 0;
    const double R = fsci__rng_zig_x[1];
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        s += v;
        s2 += v * v;
        s4 += v * v * v * v;
        beyond_r += fabs(v) > R;
        beyond4 += fabs(v) > 4.0;
        int b = v < -6.0 ? 0 : v >= 6.0 ? NB - 1 : 1 + (int)floor((v + 6.0) * 10.0);
        if (b > NB - 2 && v < 6.0) b = NB - 2;
        obs[b] += 1.0;
    }
    fsci_free(x);
    for (int b = 0; b < NB; b++) {
        double lo = b == 0 ? -HUGE_VAL : -6.0 + 0.1 * (b - 1);
        double hi = b == NB - 1 ? HUGE_VAL : -6.0 + 0.1 * b;
        ex[b] = (double)n * ((b == NB - 1 ? 1.0 : phi_cdf(hi)) - (b == 0 ? 0.0 : phi_cdf(lo)));
    }
    double dn = (double)n;
    double zm = (s / dn) / sqrt(1.0 / dn);
    double zv = (s2 / dn - 1.0) / sqrt(2.0 / dn);
    double zk = (s4 / dn - 3.0) / sqrt(96.0 / dn); /* Var(X^4) = 105 - 9 */
    double pr = erfc(R / sqrt(2.0)), p4 = erfc(4.0 / sqrt(2.0));
    double zr = ((double)beyond_r - dn * pr) / sqrt(dn * pr * (1 - pr));
    double z4 = ((double)beyond4 - dn * p4) / sqrt(dn * p4 * (1 - p4));
    int64_t df;
    double p = chi2_pvalue(obs, ex, NB, &df);
    ASSERT_TRUE(fabs(zm) < 4.0);
    ASSERT_TRUE(fabs(zv) < 4.0);
    ASSERT_TRUE(fabs(zk) < 4.0);
    ASSERT_TRUE(fabs(zr) < 4.0); /* the tail sampler */
    ASSERT_TRUE(fabs(z4) < 4.0);
    ASSERT_TRUE(df > 80);
    printf("  normal: mean z %+.2f var z %+.2f kurt z %+.2f tail z %+.2f chi2 p %.3f (df %lld)\n", zm, zv, zk,
           zr, p, (long long)df);
    if (!(p > 1e-3)) TESTKIT_FAIL("normal chi-square p = %g (df %lld)", p, (long long)df);
}

/* The tail sampler alone: |x| beyond R follows the normal tail,
 * P(|X| > t | |X| > R) = erfc(t / sqrt 2) / erfc(R / sqrt 2). */
TEST(normal_tail_beyond_r_fits)
{
    const int64_t n = 2000000;
    const double R = fsci__rng_zig_x[1];
    double *x = fsci_malloc((size_t)n, sizeof *x);
    ASSERT_TRUE(x);
    enum { NB = 26 }; /* [R, R + 0.1), ..., [R + 2.4, R + 2.5), [R + 2.5, inf) */
    double obs[NB] = {0}, ex[NB];
    int64_t ntail = 0;
    for (uint64_t rep = 0; rep < 10; rep++) {
        int st = fsci_rng_fill_normal(31, 100 + rep, x, n, 2);
        if (st != FSCI_OK) fsci_free(x);
        ASSERT_OK(st);
        for (int64_t i = 0; i < n; i++) {
            double a = fabs(x[i]);
            if (a < R) continue;
            int b = (int)((a - R) * 10.0);
            obs[b < NB - 1 ? b : NB - 1] += 1.0;
            ntail++;
        }
    }
    fsci_free(x);
    double q0 = erfc(R / sqrt(2.0));
    for (int b = 0; b < NB; b++) {
        double lo = erfc((R + 0.1 * b) / sqrt(2.0));
        double hi = b == NB - 1 ? 0.0 : erfc((R + 0.1 * (b + 1)) / sqrt(2.0));
        ex[b] = (double)ntail * (lo - hi) / q0;
    }
    int64_t df;
    double p = chi2_pvalue(obs, ex, NB, &df);
    printf("  normal tail: %lld draws beyond R, chi2 p %.3f (df %lld)\n", (long long)ntail, p, (long long)df);
    ASSERT_TRUE(ntail > 4000);
    ASSERT_TRUE(df >= 10);
    if (!(p > 1e-3)) TESTKIT_FAIL("normal tail chi-square p = %g (df %lld)", p, (long long)df);
}

TEST(normal_fill_equals_sequential_substreams)
{
    const int64_t n = 3 * FSCI_RNG_CHUNK + 5;
    double x[3 * FSCI_RNG_CHUNK + 5];
    ASSERT_OK(fsci_rng_fill_normal(3, 4, x, n, 2));
    for (int64_t c = 0; c * FSCI_RNG_CHUNK < n; c++) {
        fsci_rng r;
        fsci_rng_init(&r, 3, 4, (uint64_t)c, 0);
        for (int64_t i = c * FSCI_RNG_CHUNK; i < n && i < (c + 1) * FSCI_RNG_CHUNK; i++) {
            double v = fsci_rng_normal(&r);
            ASSERT_TRUE(memcmp(&v, &x[i], sizeof v) == 0);
        }
    }
}

TEST(fills_identical_for_1_2_3_threads)
{
    const int64_t n = 10 * FSCI_RNG_CHUNK + 17;
    int64_t *p[3] = {0};
    double *d[3] = {0}, *g[3] = {0};
    uint64_t *w[3] = {0};
    double *lam = fsci_malloc((size_t)(2 * n), sizeof *lam);
    ASSERT_TRUE(lam);
    uint64_t seed = 5;
    for (int64_t i = 0; i < n; i++) {
        lam[i] = 1e-2 * (double)(i % 5000);
        lam[n + i] = log_uniform(&seed, 1e-6, 1e9); /* every class, PTRS retry levels */
    }
    const double scal[3] = {0.5, 20.0, 1e4};
    int ok = 1;
    for (int t = 0; t < 3; t++) {
        p[t] = fsci_malloc((size_t)(5 * n), sizeof *p[t]);
        d[t] = fsci_malloc((size_t)n, sizeof *d[t]);
        g[t] = fsci_malloc((size_t)n, sizeof *g[t]);
        w[t] = fsci_malloc((size_t)n, sizeof *w[t]);
        ok = ok && p[t] && d[t] && g[t] && w[t];
        if (!ok) break;
        for (int s = 0; s < 3; s++)
            ok = ok && fsci_rng_fill_poisson(1, 2, &scal[s], 1, p[t] + s * n, n, t + 1) == FSCI_OK;
        ok = ok && fsci_rng_fill_poisson(1, 2, lam, n, p[t] + 3 * n, n, t + 1) == FSCI_OK;
        ok = ok && fsci_rng_fill_poisson(1, 2, lam + n, n, p[t] + 4 * n, n, t + 1) == FSCI_OK;
        ok = ok && fsci_rng_fill_uniform(1, 2, d[t], n, t + 1) == FSCI_OK;
        ok = ok && fsci_rng_fill_normal(1, 2, g[t], n, t + 1) == FSCI_OK;
        ok = ok && fsci_rng_fill_u64(1, 2, w[t], n, t + 1) == FSCI_OK;
    }
    for (int t = 1; t < 3 && ok; t++) {
        ok = memcmp(p[0], p[t], (size_t)(5 * n) * sizeof *p[0]) == 0 &&
             memcmp(d[0], d[t], (size_t)n * sizeof *d[0]) == 0 &&
             memcmp(g[0], g[t], (size_t)n * sizeof *g[0]) == 0 &&
             memcmp(w[0], w[t], (size_t)n * sizeof *w[0]) == 0;
    }
    /* nthreads = 0 uses the default and still gives the same words */
    if (ok) ok = fsci_rng_fill_u64(1, 2, w[1], n, 0) == FSCI_OK && memcmp(w[0], w[1], (size_t)n * 8) == 0;
    for (int t = 0; t < 3; t++) {
        fsci_free(p[t]);
        fsci_free(d[t]);
        fsci_free(g[t]);
        fsci_free(w[t]);
    }
    fsci_free(lam);
    ASSERT_TRUE(ok);
}

TEST(argument_errors_and_empty_fills)
{
    int64_t out[4];
    double lam[2] = {1.0, 2.0};
    uint64_t w[2];
    double d[2];
    ASSERT_OK(fsci_rng_fill_u64(1, 2, NULL, 0, 2));
    ASSERT_OK(fsci_rng_fill_uniform(1, 2, NULL, 0, 2));
    ASSERT_OK(fsci_rng_fill_normal(1, 2, NULL, 0, 2));
    ASSERT_OK(fsci_rng_fill_poisson(1, 2, lam, 1, NULL, 0, 2));
    ASSERT_OK(fsci_rng_fill_poisson(1, 2, NULL, 0, NULL, 0, 2));
    ASSERT_STATUS(fsci_rng_fill_u64(1, 2, w, -1, 2), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "-1") != NULL);
    ASSERT_STATUS(fsci_rng_fill_uniform(1, 2, NULL, 2, 2), FSCI_EINVAL);
    ASSERT_STATUS(fsci_rng_fill_normal(1, 2, d, -5, 2), FSCI_EINVAL);
    ASSERT_STATUS(fsci_rng_fill_poisson(1, 2, lam, 2, out, 4, 2), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "2 entries") != NULL);
    ASSERT_STATUS(fsci_rng_fill_poisson(1, 2, NULL, 1, out, 4, 2), FSCI_EINVAL);
    ASSERT_STATUS(fsci_rng_fill_poisson(1, 2, lam, 1, NULL, 4, 2), FSCI_EINVAL);
    /* n = 1 with one mean works too */
    ASSERT_OK(fsci_rng_fill_poisson(1, 2, lam, 1, out, 1, 2));
    ASSERT_TRUE(out[0] >= 0);
}

TESTKIT_MAIN()
