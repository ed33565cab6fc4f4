/* Tests of the Philox4x64-10 generator and its samplers: known-answer vectors,
 * bit equality with numpy.random.Philox, thread-count independence, and
 * goodness of fit of the uniform, normal and Poisson samplers. */
#include "core/rng_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/rng.h"
#include "testkit.h"

#define ALL1 UINT64_MAX
#define PI 3.14159265358979323846

/* ------------------------------------------------------------ helpers */

/* Regularised upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a), for the
 * chi-square p-value P(chi2_df > c) = Q(df/2, c/2). Series for P when x < a+1,
 * Legendre's continued fraction (modified Lentz evaluation) for Q otherwise;
 * formulas as in Press et al., Numerical Recipes, 3rd ed., section 6.2. */
static double gamma_q(double a, double x)
{
    if (x <= 0.0) return 1.0;
    double lpre = -x + a * log(x) - lgamma(a);
    if (x < a + 1.0) {
        double term = 1.0 / a, sum = term;
        for (int n = 1; n < 1000000; n++) {
            term *= x / (a + n);
            sum += term;
            if (fabs(term) < 1e-16 * fabs(sum)) break;
        }
        return 1.0 - sum * exp(lpre);
    }
    const double tiny = 1e-300;
    double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
    for (int n = 1; n < 1000000; n++) {
        double an = -n * (n - a);
        b += 2.0;
        d = an * d + b;
        if (fabs(d) < tiny) d = tiny;
        c = b + an / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-16) break;
    }
    return exp(lpre) * h;
}

/* Pearson chi-square over consecutive bins, merging neighbours until every
 * merged bin expects >= 5 (a short last group joins the one before).
 * Returns the p-value; *df_out gets the degrees of freedom (groups - 1). */
static double chi2_pvalue(const double *obs, const double *expct, int64_t nb, int64_t *df_out)
{
    double chi2 = 0.0, o = 0.0, e = 0.0, last_o = 0.0, last_e = 0.0;
    int64_t groups = 0;
    for (int64_t i = 0; i < nb; i++) {
        o += obs[i];
        e += expct[i];
        if (e >= 5.0) {
            if (groups > 0) chi2 += (last_o - last_e) * (last_o - last_e) / last_e;
            last_o = o;
            last_e = e;
            groups++;
            o = e = 0.0;
        }
    }
    last_o += o;
    last_e += e;
    if (groups > 0) chi2 += (last_o - last_e) * (last_o - last_e) / last_e;
    *df_out = groups - 1;
    return groups > 1 ? gamma_q(0.5 * (double)(groups - 1), 0.5 * chi2) : 1.0;
}

static double poisson_pmf_ref(double k, double lam)
{
    return exp(-lam + k * log(lam) - lgamma(k + 1.0));
}

/* Chi-square of Poisson draws against the pmf over lam +- (12 sd + 20); the
 * (negligible) mass outside goes to the end bins. */
static double poisson_gof(const int64_t *x, int64_t n, double lam, int64_t *df)
{
    double w = 12.0 * sqrt(lam) + 20.0;
    int64_t lo = (int64_t)fmax(0.0, floor(lam - w)), hi = (int64_t)ceil(lam + w);
    int64_t nb = hi - lo + 1;
    double *obs = calloc((size_t)nb, sizeof *obs), *ex = calloc((size_t)nb, sizeof *ex);
    if (!obs || !ex) {
        free(obs);
        free(ex);
        return -1.0;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t b = x[i] < lo ? 0 : x[i] > hi ? nb - 1 : x[i] - lo;
        obs[b] += 1.0;
    }
    for (int64_t b = 0; b < nb; b++) ex[b] = (double)n * poisson_pmf_ref((double)(lo + b), lam);
    double p = chi2_pvalue(obs, ex, nb, df);
    free(obs);
    free(ex);
    return p;
}

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

/* -------------------------------------------------------------- Poisson */

TEST(incomplete_gamma_reference_values)
{
    /* Q(1, x) = e^-x; Q(1/2, x) = erfc(sqrt x); Q(k, x) = P(Poisson(x) < k). */
    ASSERT_NEAR_REL(gamma_q(1.0, 2.5), exp(-2.5), 1e-13, 0);
    ASSERT_NEAR_REL(gamma_q(1.0, 0.3), exp(-0.3), 1e-13, 0);
    ASSERT_NEAR_REL(gamma_q(0.5, 4.0), erfc(2.0), 1e-12, 0);
    for (int k = 1; k <= 60; k += 7) {
        for (double x = 0.5; x < 80.0; x *= 2.3) {
            double cdf = 0.0;
            for (int j = 0; j < k; j++) cdf += poisson_pmf_ref(j, x);
            ASSERT_NEAR_REL(gamma_q(k, x), cdf, 1e-10, 1e-300);
        }
    }
    /* Large shape, as in the chi-square with thousands of bins: the median of
     * Gamma(a) is about a - 1/3, so Q(a, a - 1/3) ~ 1/2. */
    ASSERT_NEAR_REL(gamma_q(2500.0, 2500.0 - 1.0 / 3.0), 0.5, 1e-4, 0);
}

TEST(poisson_logpmf_is_accurate)
{
    const double lams[4] = {10.0, 37.5, 1e3, 2.5e4};
    for (int t = 0; t < 4; t++) {
        double lam = lams[t];
        for (double k = 0.0; k < lam + 12.0 * sqrt(lam); k += 1.0) {
            double ref = -lam + k * log(lam) - lgamma(k + 1.0);
            /* the reference itself loses ~ eps * (k log lam) to cancellation */
            double tol = 4e-16 * (lam + k * log(lam) + lgamma(k + 1.0)) + 1e-14;
            ASSERT_NEAR_REL(fsci__rng_poisson_logpmf(k, lam), ref, 0, tol);
        }
    }
    /* At k = lam, bd0 = 0: log p = -log(2 pi k)/2 - stirlerr(k), no cancellation. */
    double k = 1e12;
    ASSERT_NEAR_REL(fsci__rng_poisson_logpmf(k, k), -0.5 * log(2.0 * PI * k) - 1.0 / (12.0 * k), 1e-15, 0);
    /* The pmf sums to one for a large mean. */
    double lam = 1e6, sum = 0.0;
    for (double j = lam - 12000.0; j <= lam + 12000.0; j += 1.0) sum += exp(fsci__rng_poisson_logpmf(j, lam));
    ASSERT_NEAR_REL(sum, 1.0, 1e-12, 0);
}

TEST(poisson_moments_and_goodness_of_fit)
{
    const int64_t n = 1000000;
    const double lams[] = {0.0, 1e-3, 0.5, 3.0, 9.999999999999998, 10.0, 30.0, 1e3, 1e6};
    int64_t *x = fsci_malloc((size_t)n, sizeof *x);
    ASSERT_TRUE(x);
    for (size_t t = 0; t < sizeof lams / sizeof lams[0]; t++) {
        double lam = lams[t];
        int st = fsci_rng_fill_poisson(1000 + t, 5, &lam, 1, x, n, 2);
        if (st != FSCI_OK) fsci_free(x);
        ASSERT_OK(st);
        double s = 0.0, s2 = 0.0;
        int64_t neg = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = (double)x[i] - lam;
            s += d;
            s2 += d * d;
            neg += x[i] < 0;
        }
        double dn = (double)n, mean = s / dn, var = s2 / dn - mean * mean;
        if (lam == 0.0) {
            if (s2 != 0.0) fsci_free(x);
            ASSERT_TRUE(s2 == 0.0); /* all zeros */
            continue;
        }
        double zm = mean / sqrt(lam / dn);
        double zv = (var - lam) / sqrt((lam + 2.0 * lam * lam) / dn);
        int64_t df = 0;
        double p = poisson_gof(x, n, lam, &df);
        printf("  lam %-9g mean z %+.2f  var z %+.2f  chi2 p %.3f (df %lld)\n", lam, zm, zv, p,
               (long long)df);
        if (!(neg == 0 && fabs(zm) < 4.0 && fabs(zv) < 4.0 && p > 1e-3 && df >= 1)) {
            fsci_free(x);
            TESTKIT_FAIL("lam %g: negatives %lld, mean z %g, var z %g, chi2 p %g (df %lld)", lam,
                         (long long)neg, zm, zv, p, (long long)df);
        }
    }
    fsci_free(x);
}

TEST(poisson_switch_point_is_exact_both_sides)
{
    /* The switch constant and the two neighbouring means; the fit at these
     * means is covered above, here the per-element path at the switch. */
    ASSERT_TRUE(FSCI_RNG_POISSON_SWITCH == 10.0);
    ASSERT_TRUE(nextafter(10.0, 0.0) == 9.999999999999998);
    const int64_t n = 400000;
    int64_t *x = fsci_malloc((size_t)n, sizeof *x);
    double *lam = fsci_malloc((size_t)n, sizeof *lam);
    ASSERT_TRUE(x && lam);
    for (int64_t i = 0; i < n; i++) lam[i] = (i & 1) ? 10.0 : nextafter(10.0, 0.0);
    ASSERT_OK(fsci_rng_fill_poisson(77, 1, lam, n, x, n, 2));
    double s[2] = {0, 0}, s2[2] = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        s[i & 1] += (double)x[i] - 10.0;
        s2[i & 1] += ((double)x[i] - 10.0) * ((double)x[i] - 10.0);
    }
    fsci_free(x);
    fsci_free(lam);
    for (int h = 0; h < 2; h++) {
        double dn = (double)n / 2, mean = s[h] / dn, var = s2[h] / dn - mean * mean;
        ASSERT_TRUE(fabs(mean / sqrt(10.0 / dn)) < 4.0);
        ASSERT_TRUE(fabs((var - 10.0) / sqrt(210.0 / dn)) < 4.0);
    }
}

TEST(poisson_huge_and_tiny_means)
{
    const int64_t n = 100000;
    int64_t *x = fsci_malloc((size_t)n, sizeof *x);
    ASSERT_TRUE(x);
    const double big[2] = {1e12, FSCI_RNG_POISSON_MAX};
    for (int t = 0; t < 2; t++) {
        double lam = big[t];
        ASSERT_OK(fsci_rng_fill_poisson(5, 6, &lam, 1, x, n, 2));
        double s = 0.0, s2 = 0.0;
        for (int64_t i = 0; i < n; i++) {
            double d = (double)x[i] - lam;
            s += d;
            s2 += d * d;
        }
        double mean = s / (double)n, var = s2 / (double)n - mean * mean;
        ASSERT_TRUE(fabs(mean / sqrt(lam / (double)n)) < 4.0);
        ASSERT_TRUE(fabs((var - lam) / sqrt(2.0 * lam * lam / (double)n)) < 4.0);
    }
    double tiny = 1e-300;
    ASSERT_OK(fsci_rng_fill_poisson(5, 6, &tiny, 1, x, n, 2));
    int64_t nz = 0;
    for (int64_t i = 0; i < n; i++) nz += x[i] != 0;
    fsci_free(x);
    ASSERT_EQ(nz, 0);
    fsci_rng r;
    fsci_rng_init(&r, 1, 2, 3, 4);
    ASSERT_EQ(fsci_rng_poisson(&r, 0.0), 0);
    ASSERT_EQ(r.pos, 4); /* lam = 0 consumes nothing */
    ASSERT_EQ(fsci_rng_poisson(&r, -0.0), 0);
    ASSERT_EQ(fsci_rng_poisson(&r, NAN), -1);
    ASSERT_EQ(fsci_rng_poisson(&r, -1.0), -1);
    ASSERT_EQ(fsci_rng_poisson(&r, 2e15), -1);
}

/* ------------------------------------------- Poisson: the fill layout */

/* Words one Poisson attempt reads (rng.c, doc/rng.md). */
static int attempt_words(double lam)
{
    return lam == 0.0 ? 0 : lam < FSCI_RNG_POISSON_SWITCH ? 1 : 2;
}

/* The documented layout of a Poisson fill, rebuilt from raw words: attempt a
 * of element i of chunk c reads sub-stream (c, a) (fsci_rng_init(&r, seed,
 * stream, c, a)) right after attempt a of the elements before it that needed
 * one; the value is the single-attempt kernel's. *levels gets the number of
 * attempt levels used. Returns 0, or -1 if out of memory. */
static int poisson_fill_reference(uint64_t seed, uint64_t stream, const double *lam, int64_t nlam,
                                  int64_t *ref, int64_t n, int *levels)
{
    int64_t *pend = malloc(FSCI_RNG_CHUNK * sizeof *pend);
    if (!pend) return -1;
    *levels = 0;
    for (int64_t c0 = 0; c0 < n; c0 += FSCI_RNG_CHUNK) {
        int64_t m = n - c0 < FSCI_RNG_CHUNK ? n - c0 : FSCI_RNG_CHUNK, np = 0;
        for (int64_t i = 0; i < m; i++) pend[np++] = c0 + i;
        for (uint64_t a = 0; np > 0; a++) {
            fsci_rng r;
            fsci_rng_init(&r, seed, stream, (uint64_t)(c0 / FSCI_RNG_CHUNK), a);
            int64_t keep = 0;
            for (int64_t j = 0; j < np; j++) {
                int64_t i = pend[j];
                double l = lam[nlam == 1 ? 0 : i];
                uint64_t w[2] = {0, 0};
                for (int t = 0; t < attempt_words(l); t++) w[t] = fsci_rng_u64(&r);
                int64_t k = fsci__rng_poisson_attempt(l, w);
                if (k >= 0)
                    ref[i] = k;
                else
                    pend[keep++] = i;
            }
            np = keep;
            if ((int)a + 1 > *levels) *levels = (int)a + 1;
        }
    }
    free(pend);
    return 0;
}

/* Deterministic test means: log-uniform over [lo, hi] from a 64-bit LCG. */
static double lcg_unit(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * 0x1p-53;
}

static double log_uniform(uint64_t *s, double lo, double hi)
{
    return lo * pow(hi / lo, lcg_unit(s));
}

/* Every bulk path (inversion guide table, flat and branchy PTRS with and
 * without a pmf table, the per-element kernels: cell table, PTRS groups and
 * their squeeze) equals the documented layout rebuilt from raw Philox words
 * with the single-attempt kernel, including the retry levels. The large n
 * tabulates the pmf for lam = 20 and 1e4, the small n does not, nor is 1e7 or
 * 1e12 at these sizes. */
TEST(poisson_fill_follows_the_attempt_layout)
{
    const int64_t sizes[2] = {40 * FSCI_RNG_CHUNK + 3, 1000};
    const int64_t nmax = sizes[0];
    int64_t *x = fsci_malloc((size_t)nmax, sizeof *x), *ref = fsci_malloc((size_t)nmax, sizeof *ref);
    double *lam1 = fsci_malloc((size_t)nmax, sizeof *lam1), *lam2 = fsci_malloc((size_t)nmax, sizeof *lam2);
    ASSERT_TRUE(x && ref && lam1 && lam2);
    uint64_t s = 99;
    for (int64_t i = 0; i < nmax; i++) {
        lam1[i] = (i % 7 == 0) ? 0.0 : 0.37 * (double)((i * 31) % 97);
        double u = lcg_unit(&s);
        lam2[i] = u < 0.05   ? 0.0
                  : u < 0.1  ? (i % 2 ? 10.0 : 9.999999999999998)
                  : u < 0.15 ? (double)(i % 640) / 64.0 + 1.0 / 64.0 /* cell rows' edges */
                             : log_uniform(&s, 1e-7, 1e12);
    }
    enum { NS = 8 };
    const double scal[NS] = {0.5, 3.0, 9.999999999999998, 10.0, 20.0, 1e4, 1e7, 1e12};
    int64_t bad = -1;
    int maxlev = 0, rc = 0;
    for (int sz = 0; sz < 2 && bad < 0 && rc == 0; sz++) {
        int64_t n = sizes[sz];
        for (int t = 0; t < NS + 2 && bad < 0 && rc == 0; t++) {
            const double *lam = t < NS ? &scal[t] : t == NS ? lam1 : lam2;
            int64_t nlam = t < NS ? 1 : n;
            int levels = 0;
            rc = fsci_rng_fill_poisson(9, 8, lam, nlam, x, n, 2) != FSCI_OK ||
                 poisson_fill_reference(9, 8, lam, nlam, ref, n, &levels) != 0;
            for (int64_t i = 0; i < n && rc == 0; i++)
                if (x[i] != ref[i]) {
                    bad = (sz * (NS + 2) + t) * nmax + i;
                    break;
                }
            if (levels > maxlev) maxlev = levels;
        }
    }
    fsci_free(x);
    fsci_free(ref);
    fsci_free(lam1);
    fsci_free(lam2);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(bad, -1);
    ASSERT_TRUE(maxlev >= 3); /* retries of retries were exercised */
}

/* fsci_rng_poisson runs the same attempts on consecutive words of its
 * generator, and leaves it in the same state. */
TEST(poisson_single_draws_run_the_attempts)
{
    const double lams[] = {0.0, 1e-300, 1e-6, 0.5, 3.0, 9.999999999999998, 10.0, 37.0, 1e3, 1e6, 1e12, 1e15};
    for (size_t t = 0; t < sizeof lams / sizeof lams[0]; t++) {
        fsci_rng r, q;
        fsci_rng_init(&r, 4, 5, 6, 7);
        q = r;
        int64_t bad = -1;
        for (int d = 0; d < 3000 && bad < 0; d++) {
            int64_t k = fsci_rng_poisson(&r, lams[t]), kq;
            do {
                uint64_t w[2] = {0, 0};
                for (int j = 0; j < attempt_words(lams[t]); j++) w[j] = fsci_rng_u64(&q);
                kq = fsci__rng_poisson_attempt(lams[t], w);
            } while (kq == -1);
            if (k != kq) bad = d;
        }
        ASSERT_EQ(bad, -1);
        ASSERT_TRUE(memcmp(&r, &q, sizeof r) == 0);
    }
}

/* ------------------------------------ Poisson: the exact shortcuts */

/* The cell table gives the search's result for every word: on every cell
 * row edge (lam = j/64 and its neighbours), for the first and last word of
 * every column and for random words. Mixed cells are few. */
TEST(poisson_cell_table_equals_the_search)
{
    const int nrow = 10 * FSCI__RNG_CELL_PER_UNIT, ncol = 1 << FSCI__RNG_CELL_UBITS;
    const int shift = 64 - FSCI__RNG_CELL_UBITS;
    uint64_t s = 7;
    int64_t bad = -1, checked = 0, mixed1 = 0, cells1 = 0, mixed0 = 0, cells0 = 0;
    for (int j = 0; j <= nrow && bad < 0; j++) {
        double edge = (double)j / FSCI__RNG_CELL_PER_UNIT;
        double lams[4] = {nextafter(edge, 0.0), edge, nextafter(edge, 20.0), edge + lcg_unit(&s) / 64.0};
        for (int e = 0; e < 4 && bad < 0; e++) {
            double l = lams[e];
            if (!(l > 0.0 && l < FSCI_RNG_POISSON_SWITCH)) continue;
            for (int b = 0; b < ncol + 64 && bad < 0; b++) {
                uint64_t w;
                if (b < ncol)
                    w = e == 1 ? (uint64_t)b << shift : ((uint64_t)b << shift) | (((uint64_t)1 << shift) - 1);
                else
                    w = (s = s * 6364136223846793005ULL + 1442695040888963407ULL);
                int k0 = fsci__rng_poisson_inv_word(l, w, 0);
                int k1 = fsci__rng_poisson_inv_word(l, w, 1);
                int k2 = fsci__rng_poisson_inv_word(l, w, 2);
                if (k2 != k0 || (k1 != -2 && k1 != k0)) bad = j;
                checked++;
                if (b < ncol && e == 1) {
                    int64_t *mx = l >= 1.0 ? &mixed1 : &mixed0, *cl = l >= 1.0 ? &cells1 : &cells0;
                    *mx += k1 == -2;
                    (*cl)++;
                }
            }
        }
    }
    printf("  cell table: %lld words checked, mixed cells %.1f %% (lam >= 1), %.1f %% (lam < 1)\n",
           (long long)checked, 100.0 * (double)mixed1 / (double)cells1,
           100.0 * (double)mixed0 / (double)cells0);
    ASSERT_EQ(bad, -1);
    ASSERT_TRUE(checked > 1000000);
    ASSERT_TRUE((double)mixed1 < 0.08 * (double)cells1);
    ASSERT_TRUE((double)mixed0 < 0.03 * (double)cells0);
    /* the squeeze K = 0 for u < 1 - lam (lam <= 1/4): words around that bound
     * and around the true boundary F(0) = e^-lam */
    const double small[4] = {1e-300, 1e-9, 0.2, 0.25};
    for (int t = 0; t < 4; t++) {
        double l = small[t], F0 = exp(-l), centre[2] = {1.0 - l, F0};
        for (int e = 0; e < 2; e++) {
            uint64_t w0 = (uint64_t)(centre[e] * 0x1p53) << 11;
            for (int64_t dw = -3; dw <= 3; dw++) {
                uint64_t w = w0 + ((uint64_t)dw << 11);
                double u = (double)(w >> 11) * 0x1p-53;
                int k = fsci__rng_poisson_inv_word(l, w, 0);
                if (u < F0 - 1e-15) ASSERT_EQ(k, 0);
                if (u > F0 + 1e-15) ASSERT_TRUE(k >= 1);
            }
        }
    }
}

/* PTRS proposals the way the sampler makes them, for a mean log-uniform
 * over [10, 100] (half of them, where k = 0 and the far tails occur) or
 * [10, 1e15]: us in (0, 1/2], U = +-(1/2 - us), V in (0, 1], k =
 * floor((2a/us + b) U + lam + 0.43). */
typedef struct ptrs_case {
    double lam, k, V, us;
} ptrs_case;

static int ptrs_random_case(uint64_t *s, ptrs_case *c)
{
    c->lam = log_uniform(s, 10.0, lcg_unit(s) < 0.5 ? 100.0 : 1e15);
    double b = 0.931 + 2.53 * sqrt(c->lam), a = -0.059 + 0.02483 * b;
    c->us = 0.5 - 0.5 * lcg_unit(s);
    double U = lcg_unit(s) < 0.5 ? -(0.5 - c->us) : 0.5 - c->us;
    c->V = 1.0 - lcg_unit(s);
    double x = (2.0 * a / c->us + b) * U + c->lam + 0.43;
    c->k = floor(x);
    return x >= 0.0 && x < 0x1p62;
}

/* The squeeze of step 4 never contradicts the exact test and rarely defers
 * to it, on proposals as the sampler makes them (those that reach step 4)
 * and on attempts whose V is placed within a relative 1e-6 .. 1e-15 of the
 * acceptance boundary (most of those it must leave to the exact test). */
TEST(ptrs_squeeze_agrees_with_the_exact_test)
{
    uint64_t s = 2024;
    int64_t n = 0, wrong = 0, undecided = 0, mismatch = 0, edge = 0, edge_undecided = 0;
    while (n < 400000) {
        ptrs_case c;
        /* only what reaches step 4: in range, not squeezed out by us < 0.013 */
        if (!ptrs_random_case(&s, &c) || (c.us < 0.013 && c.V > c.us)) continue;
        n++;
        int e = fsci__rng_ptrs_step4(c.k, c.lam, c.V, c.us, 0);
        int q = fsci__rng_ptrs_step4(c.k, c.lam, c.V, c.us, 1);
        int d = fsci__rng_ptrs_step4(c.k, c.lam, c.V, c.us, 2);
        wrong += q >= 0 && q != e;
        undecided += q < 0;
        mismatch += d != e;
        if (n % 4 == 0) {
            /* V at the boundary L = p(k) c2, moved by a relative +-1e-6 .. 1e-15 */
            double b = 0.931 + 2.53 * sqrt(c.lam), a = -0.059 + 0.02483 * b, ia = 1.1239 + 1.1328 / (b - 3.4);
            double us2 = c.us * c.us, pk = exp(fsci__rng_poisson_logpmf(c.k, c.lam));
            double delta = (lcg_unit(&s) < 0.5 ? -1.0 : 1.0) * pow(10.0, -6.0 - 9.0 * lcg_unit(&s));
            double V = pk * (a + b * us2) / (ia * us2) * (1.0 + delta);
            if (V > 0.0 && V <= 1.0) {
                e = fsci__rng_ptrs_step4(c.k, c.lam, V, c.us, 0);
                q = fsci__rng_ptrs_step4(c.k, c.lam, V, c.us, 1);
                d = fsci__rng_ptrs_step4(c.k, c.lam, V, c.us, 2);
                wrong += q >= 0 && q != e;
                edge_undecided += q < 0;
                mismatch += d != e;
                edge++;
            }
        }
    }
    printf("  squeeze: %lld cases, %lld undecided; %lld at the boundary, %lld undecided\n", (long long)n,
           (long long)undecided, (long long)edge, (long long)edge_undecided);
    ASSERT_EQ(wrong, 0);
    ASSERT_EQ(mismatch, 0);
    ASSERT_TRUE(edge > 10000);
    ASSERT_TRUE((double)undecided < 1e-4 * (double)n);
}

/* ------------------------------ Poisson: per-element means, statistics */

/* Moments and goodness of fit of the per-element path (nlam = n, every
 * element the same mean): the cell table around its row edges, the squeeze
 * K = 0, the switch, PTRS with its squeeze and retry levels, huge means. */
TEST(poisson_per_element_fills_fit)
{
    const int64_t n = 300000;
    const double lams[] = {1e-300, 1e-9, 1e-3, 0.015625, 0.015624999999999998,
                           0.3,    1.0,  2.5,  7.0,      9.999999999999998,
                           10.0,   10.5, 15.0, 100.0,    3e3,
                           1e6,    1e10, 1e15};
    int64_t *x = fsci_malloc((size_t)n, sizeof *x);
    double *lam = fsci_malloc((size_t)n, sizeof *lam);
    ASSERT_TRUE(x && lam);
    for (size_t t = 0; t < sizeof lams / sizeof lams[0]; t++) {
        double l = lams[t];
        for (int64_t i = 0; i < n; i++) lam[i] = l;
        int st = fsci_rng_fill_poisson(4000 + t, 9, lam, n, x, n, 2);
        double sm = 0.0, s2 = 0.0;
        int64_t neg = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = (double)x[i] - l;
            sm += d;
            s2 += d * d;
            neg += x[i] < 0;
        }
        double dn = (double)n, mean = sm / dn, var = s2 / dn - mean * mean;
        double zm = mean / sqrt(l / dn), zv = (var - l) / sqrt((l + 2.0 * l * l) / dn);
        int64_t df = 0;
        double p = l <= 1e6 ? poisson_gof(x, n, l, &df) : 1.0;
        printf("  per element lam %-9g mean z %+.2f  var z %+.2f  chi2 p %.3f (df %lld)\n", l, zm, zv, p,
               (long long)df);
        /* expected total below 1: at most 2 events (P(more) < 5e-12 for n lam <= 3e-4) */
        int tiny = l * dn < 1.0, fits = tiny ? sm + l * dn <= 2.0 : fabs(zm) < 4.0 && fabs(zv) < 4.0;
        int ok = st == FSCI_OK && neg == 0 && fits && p > 1e-3 && (l > 1e6 || tiny || df >= 1);
        if (!ok) {
            fsci_free(x);
            fsci_free(lam);
            TESTKIT_FAIL("per-element lam %g: status %d, negatives %lld, mean z %g, var z %g, chi2 p %g", l,
                         st, (long long)neg, zm, zv, p);
        }
    }
    fsci_free(x);
    fsci_free(lam);
}

/* Randomised probability integral transform of a Poisson(lam) draw x:
 * F(x - 1) + V P(x), uniform on (0, 1) for an exact sampler. F from the
 * regularised incomplete gamma: F(x) = Q(x + 1, lam). */
static double poisson_pit(int64_t x, double lam, double v)
{
    double Fm = x == 0 ? 0.0 : gamma_q((double)x, lam), F = gamma_q((double)x + 1.0, lam);
    return Fm + v * (F - Fm);
}

/* The ptycho workload: one mean per pixel, as in a far-field pattern with
 * 1e9 photons (14.5 % below 1e-3, 14.5 % in [1e-3, 1), 17 % in [1, 10), 31 %
 * in [10, 1e3), 23 % above, up to 1.5e8), classes interleaved at random.
 * Per class: mean and variance z-scores of the sums, and a chi-square of the
 * randomised PIT over 20 bins (classes up to 1e5, where the incomplete gamma
 * of the test is cheap). */
TEST(poisson_diffraction_like_mix_per_class)
{
    enum { NC = 6, NB = 20 };
    static const double lo[NC] = {1e-6, 1e-3, 1.0, 10.0, 1e3, 1e5},
                        hi[NC] = {1e-3, 1.0, 10.0, 1e3, 1e5, 1.5e8};
    static const double cum[NC] = {0.145, 0.29, 0.46, 0.77, 0.885, 1.0};
    const int64_t n = 600000;
    double *lam = fsci_malloc((size_t)n, sizeof *lam);
    int64_t *x = fsci_malloc((size_t)n, sizeof *x);
    uint8_t *cls = fsci_malloc((size_t)n, sizeof *cls);
    ASSERT_TRUE(lam && x && cls);
    uint64_t s = 314159;
    for (int64_t i = 0; i < n; i++) {
        double u = lcg_unit(&s);
        int c = 0;
        while (u >= cum[c]) c++;
        cls[i] = (uint8_t)c;
        lam[i] = log_uniform(&s, lo[c], hi[c]);
    }
    int st = fsci_rng_fill_poisson(77, 3, lam, n, x, n, 2);
    double sd[NC] = {0}, sl[NC] = {0}, sv[NC] = {0}, svv[NC] = {0}, obs[NC][NB] = {{0}};
    int64_t cnt[NC] = {0}, neg = 0;
    fsci_rng r;
    fsci_rng_init(&r, 1, 2, 3, 4);
    for (int64_t i = 0; i < n; i++) {
        int c = cls[i];
        double l = lam[i], d = (double)x[i] - l;
        sd[c] += d;
        sl[c] += l;
        sv[c] += d * d - l;
        svv[c] += l + 2.0 * l * l;
        cnt[c]++;
        neg += x[i] < 0;
        if (c < NC - 1 && x[i] >= 0) {
            int b = (int)(poisson_pit(x[i], l, fsci_rng_uniform(&r)) * NB);
            obs[c][b < 0 ? 0 : b >= NB ? NB - 1 : b] += 1.0;
        }
    }
    fsci_free(lam);
    fsci_free(x);
    fsci_free(cls);
    ASSERT_OK(st);
    ASSERT_EQ(neg, 0);
    for (int c = 0; c < NC; c++) {
        double zm = sd[c] / sqrt(sl[c]), zv = sv[c] / sqrt(svv[c]), p = 1.0;
        int64_t df = 0;
        if (c < NC - 1) {
            double ex[NB];
            for (int b = 0; b < NB; b++) ex[b] = (double)cnt[c] / NB;
            p = chi2_pvalue(obs[c], ex, NB, &df);
        }
        printf("  class [%g, %g): %lld draws, mean z %+.2f  var z %+.2f", lo[c], hi[c], (long long)cnt[c], zm,
               zv);
        if (c < NC - 1) printf("  PIT chi2 p %.3f (df %lld)", p, (long long)df);
        printf("\n");
        ASSERT_TRUE(cnt[c] > 30000);
        ASSERT_TRUE(fabs(zm) < 4.0);
        ASSERT_TRUE(fabs(zv) < 4.0);
        if (c < NC - 1) ASSERT_TRUE(df == NB - 1);
        if (!(p > 1e-3)) TESTKIT_FAIL("class %d: PIT chi-square p = %g", c, p);
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

/* ---------------------------------------------------------------- errors */

TEST(bad_means_are_rejected_with_index_and_value)
{
    int64_t out[8];
    double lam[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const struct {
        double v;
        const char *text;
    } bad[4] = {{NAN, "nan"}, {-1.0, "-1"}, {INFINITY, "inf"}, {2e15, "2000000000000000"}};
    for (int t = 0; t < 4; t++) {
        for (int i = 0; i < 8; i++) out[i] = -77;
        ASSERT_STATUS(fsci_rng_fill_poisson(1, 1, &bad[t].v, 1, out, 8, 2), FSCI_EINVAL);
        ASSERT_TRUE(strstr(fsci_error_message(), bad[t].text) != NULL);
        ASSERT_TRUE(strstr(fsci_error_message(), "lam[0]") != NULL);
        lam[5] = bad[t].v;
        ASSERT_STATUS(fsci_rng_fill_poisson(1, 1, lam, 8, out, 8, 2), FSCI_EINVAL);
        ASSERT_TRUE(strstr(fsci_error_message(), "lam[5]") != NULL);
        ASSERT_TRUE(strstr(fsci_error_message(), bad[t].text) != NULL);
        for (int i = 0; i < 8; i++) ASSERT_EQ(out[i], -77); /* nothing written */
        lam[5] = 6.0;
    }
    /* the largest allowed mean is accepted */
    double mx = FSCI_RNG_POISSON_MAX;
    ASSERT_OK(fsci_rng_fill_poisson(1, 1, &mx, 1, out, 8, 1));
    /* first bad index is reported even with many threads */
    double many[5000];
    for (int i = 0; i < 5000; i++) many[i] = 1.0;
    many[4321] = -3.5;
    many[4999] = NAN;
    int64_t *o = fsci_malloc(5000, sizeof *o);
    ASSERT_TRUE(o);
    int st = fsci_rng_fill_poisson(1, 1, many, 5000, o, 5000, 3);
    fsci_free(o);
    ASSERT_STATUS(st, FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "lam[4321] = -3.5") != NULL);
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
