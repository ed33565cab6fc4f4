/* Tests of the qdot particle filter (src/qdot/belief.c, doc/qdot_planning.md section 1):
 * two-pointer systematic resampling against a binary-search searchsorted (ties, zero
 * weights, u at the ends), log-weights after an update against a direct computation, ESS
 * and charge probabilities, the classification boost rules, de-duplicated against
 * per-particle likelihoods, and the uniform initial draw. */
#include <math.h>
#include <stdbool.h>

#include "fastsci/core/rng.h"
#include "qdot/plan.h"
#include "testkit.h"

/* numpy.searchsorted(cumsum(w), (arange(n) + u) / n) (side 'left'), clamped to n - 1. */
static void ref_resample(const double *w, int64_t n, double u, int64_t *idx)
{
    static double cum[4096];
    double c = 0.0;
    for (int64_t j = 0; j < n; j++) cum[j] = (c += w[j]);
    for (int64_t i = 0; i < n; i++) {
        double pos = ((double)i + u) / (double)n;
        int64_t lo = 0, hi = n; /* first j in [lo, hi) with cum[j] >= pos */
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (cum[mid] < pos)
                lo = mid + 1;
            else
                hi = mid;
        }
        idx[i] = lo < n ? lo : n - 1;
    }
}

/* Weights of one of several shapes: random, with zeros, with exact ties, one spike, and
 * rounded so that their sum falls short of 1 (the clamp). */
static void make_weights(fsci_rng *r, int kind, double *w, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double u = fsci_rng_uniform(r);
        switch (kind) {
        case 0: w[i] = u; break;
        case 1: w[i] = u < 0.6 ? 0.0 : u; break;            /* many zeros */
        case 2: w[i] = (double)(1 + (int)(u * 3.0)); break; /* ties */
        case 3: w[i] = i == n / 3 ? 1.0 : 0.0; break;       /* one spike */
        default: w[i] = i % 7 == 0 ? 1.0 : 0.0; break;      /* equal spikes */
        }
        s += w[i];
    }
    for (int64_t i = 0; i < n; i++) w[i] /= s;
}

TEST(resample_two_pointer_equals_searchsorted)
{
    static double w[4096], cum[4096];
    static int64_t a[4096], b[4096];
    fsci_rng r;
    fsci_rng_init(&r, 11, 1, 0, 0);
    const int64_t sizes[] = {1, 2, 3, 7, 64, 1000, 4096};
    const double fixed_u[] = {0.0, 0.5, 1.0 - 0x1p-53};
    int64_t checked = 0;
    for (int kind = 0; kind < 5; kind++) {
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
            int64_t n = sizes[si];
            make_weights(&r, kind, w, n);
            for (int t = 0; t < 8; t++) {
                double u = t < 3 ? fixed_u[t] : fsci_rng_uniform(&r);
                fsci__qdot_resample_indices(w, n, u, cum, a);
                ref_resample(w, n, u, b);
                for (int64_t i = 0; i < n; i++) {
                    if (a[i] != b[i])
                        TESTKIT_FAIL("kind %d n %lld u %.17g: idx[%lld] = %lld, searchsorted %lld", kind,
                                     (long long)n, u, (long long)i, (long long)a[i], (long long)b[i]);
                    /* A zero-weight particle is picked only where searchsorted's 'left' side
                     * allows it: its running sum equals the position (u = 0), or the clamp. */
                    double pos = ((double)i + u) / (double)n;
                    if (w[a[i]] == 0.0 && a[i] != n - 1 && cum[a[i]] != pos)
                        TESTKIT_FAIL("zero-weight particle %lld selected", (long long)a[i]);
                }
                checked += n;
            }
        }
    }
    ASSERT_TRUE(checked > 100000);
}

/* Random observation and per-state predictions; ll table by the test's own loop. */
enum { NMAX = 4, S = 25, P = 37, N = 500 };

static double test_ll(const double *obs, const double *pred, double sigma)
{
    double acc = 0.0;
    for (int p = 0; p < P; p++) acc += ((obs[p] - pred[p]) / sigma) * ((obs[p] - pred[p]) / sigma);
    return -0.5 * acc / P;
}

static void make_problem(fsci_rng *r, double *obs, double *pred, double *ll, int32_t *states)
{
    for (int p = 0; p < P; p++) obs[p] = fsci_rng_uniform(r);
    for (int s = 0; s < S; s++)
        for (int p = 0; p < P; p++) pred[s * P + p] = 0.2 * fsci_rng_uniform(r);
    for (int s = 0; s < S; s++) ll[s] = test_ll(obs, pred + s * P, 0.05 + 1e-8);
    for (int i = 0; i < N; i++) states[i] = (int32_t)(fsci_rng_uniform(r) * S);
}

static double ref_boost(int label, int s, double conf)
{
    int n1 = s / (NMAX + 1), n2 = s % (NMAX + 1);
    if (label == FSCI__QDOT_LABEL_DOUBLE_DOT) return (n1 >= 1 && n2 >= 1) ? 1.5 * conf : 0.0;
    if (label == FSCI__QDOT_LABEL_SINGLE_DOT) return (n1 == 0 || n2 == 0) ? 1.0 * conf : 0.0;
    if (label == FSCI__QDOT_LABEL_MISC) return (n1 == 0 && n2 == 0) ? 0.5 * conf : 0.0;
    return 0.0;
}

TEST(update_logweights_match_direct_float64)
{
    static double obs[P], pred[S * P], ll[S], lw[N];
    static int32_t states[N];
    fsci_rng r;
    fsci_rng_init(&r, 12, 1, 0, 0);
    make_problem(&r, obs, pred, ll, states);
    fsci__qdot_pf *pf = NULL;
    ASSERT_OK(fsci__qdot_pf_create(N, NMAX, &pf));
    ASSERT_OK(fsci__qdot_pf_init_states(pf, states));
    for (int i = 0; i < N; i++) lw[i] = -log((double)N);
    const int labels[] = {FSCI__QDOT_LABEL_DOUBLE_DOT, FSCI__QDOT_LABEL_SINGLE_DOT, FSCI__QDOT_LABEL_MISC,
                          FSCI__QDOT_LABEL_NONE};
    double maxerr = 0.0;
    for (int step = 0; step < 4; step++) {
        bool ovr = step == 2, res = true;
        double conf = 0.3 + 0.1 * step;
        int st = fsci__qdot_pf_step(pf, ll, labels[step], conf, ovr, 0.0, 0.5, &res);
        if (st != 0) break;
        ASSERT_TRUE(!res);
        double mx = -INFINITY, sum = 0.0;
        for (int i = 0; i < N; i++) {
            double d = test_ll(obs, pred + states[i] * P, 0.05 + 1e-8);
            lw[i] += (ovr ? 0.5 : 1.0) * d + (ovr ? 0.0 : ref_boost(labels[step], states[i], conf));
            mx = fmax(mx, lw[i]);
        }
        for (int i = 0; i < N; i++) sum += exp(lw[i] - mx);
        for (int i = 0; i < N; i++) lw[i] -= mx + log(sum);
        for (int i = 0; i < N; i++) maxerr = fmax(maxerr, fabs(pf->logw[i] - lw[i]));
    }
    fsci__qdot_pf_destroy(&pf);
    printf("  max |logw - direct| = %.3g\n", maxerr);
    ASSERT_TRUE(maxerr <= 1e-12);
}

TEST(ess_and_charge_probs)
{
    static double obs[P], pred[S * P], ll[S], probs[S];
    static int32_t states[N];
    fsci_rng r;
    fsci_rng_init(&r, 13, 1, 0, 0);
    make_problem(&r, obs, pred, ll, states);
    fsci__qdot_pf *pf = NULL;
    ASSERT_OK(fsci__qdot_pf_create(N, NMAX, &pf));
    ASSERT_OK(fsci__qdot_pf_init_states(pf, states));
    double ess0 = fsci__qdot_pf_weights(pf);
    ASSERT_NEAR_REL(ess0, (double)N, 1e-12, 0.0);
    int st = fsci__qdot_pf_step(pf, ll, FSCI__QDOT_LABEL_NONE, 0.0, false, 0.0, 0.5, NULL);
    double ess = fsci__qdot_pf_weights(pf), sw = 0.0, s2 = 0.0, sp = 0.0;
    fsci__qdot_pf_charge_probs(pf, probs);
    for (int i = 0; i < N; i++) {
        sw += pf->w[i];
        s2 += pf->w[i] * pf->w[i];
    }
    double want[S] = {0};
    for (int i = 0; i < N; i++) want[states[i]] += pf->w[i];
    double perr = 0.0;
    for (int s = 0; s < S; s++) {
        sp += probs[s];
        perr = fmax(perr, fabs(probs[s] - want[s]));
    }
    fsci__qdot_pf_destroy(&pf);
    ASSERT_OK(st);
    ASSERT_NEAR_REL(sw, 1.0, 1e-13, 0.0);
    ASSERT_NEAR_REL(sp, 1.0, 1e-13, 0.0);
    ASSERT_NEAR_REL(ess, 1.0 / s2, 1e-14, 0.0);
    ASSERT_TRUE(ess >= 1.0 && ess < (double)N);
    ASSERT_TRUE(perr == 0.0);
}

TEST(boost_rules)
{
    /* One particle per state, zero likelihood: log-weight differences are the boosts. */
    int32_t states[S];
    double zero[S] = {0};
    for (int s = 0; s < S; s++) states[s] = s;
    const int labels[] = {FSCI__QDOT_LABEL_DOUBLE_DOT, FSCI__QDOT_LABEL_SINGLE_DOT, FSCI__QDOT_LABEL_MISC,
                          FSCI__QDOT_LABEL_OTHER};
    for (int li = 0; li < 4; li++) {
        for (int ovr = 0; ovr < 2; ovr++) {
            fsci__qdot_pf *pf = NULL;
            ASSERT_OK(fsci__qdot_pf_create(S, NMAX, &pf));
            int st = fsci__qdot_pf_init_states(pf, states);
            if (st == 0) st = fsci__qdot_pf_step(pf, zero, labels[li], 0.8, ovr, 0.0, 0.0, NULL);
            double d[S];
            for (int s = 0; s < S; s++) d[s] = pf->logw[s] - pf->logw[1]; /* (0,1) */
            fsci__qdot_pf_destroy(&pf);
            ASSERT_OK(st);
            for (int s = 0; s < S; s++) {
                int n1 = s / 5, n2 = s % 5;
                double b = 0.0;
                if (!ovr && labels[li] == FSCI__QDOT_LABEL_DOUBLE_DOT && n1 >= 1 && n2 >= 1) b = 1.2;
                if (!ovr && labels[li] == FSCI__QDOT_LABEL_SINGLE_DOT && (n1 == 0 || n2 == 0)) b = 0.8;
                if (!ovr && labels[li] == FSCI__QDOT_LABEL_MISC && n1 == 0 && n2 == 0) b = 0.4;
                double b1 = (!ovr && labels[li] == FSCI__QDOT_LABEL_SINGLE_DOT) ? 0.8 : 0.0; /* (0,1) */
                ASSERT_NEAR_REL(d[s], b - b1, 0.0, 1e-14);
            }
        }
    }
}

TEST(dedup_update_equals_per_particle)
{
    static double obs[P], pred[S * P], ll[S], per[N];
    static int32_t states[N];
    fsci_rng r;
    fsci_rng_init(&r, 14, 1, 0, 0);
    make_problem(&r, obs, pred, ll, states);
    for (int s = 0; s < S; s++) ll[s] = fsci__qdot_ll_gauss(obs, pred + s * P, P, 0.05);
    fsci__qdot_pf *a = NULL, *b = NULL;
    ASSERT_OK(fsci__qdot_pf_create(N, NMAX, &a));
    int st = fsci__qdot_pf_create(N, NMAX, &b);
    if (st == 0) st = fsci__qdot_pf_init_states(a, states);
    if (st == 0) st = fsci__qdot_pf_init_states(b, states);
    int same = 1;
    if (st == 0) {
        fsci__qdot_pf_add_ll(a, ll, 0.5);
        for (int i = 0; i < N; i++) per[i] = fsci__qdot_ll_gauss(obs, pred + states[i] * P, P, 0.05);
        for (int i = 0; i < N; i++) b->logw[i] += 0.5 * per[i];
        for (int i = 0; i < N; i++) same &= a->logw[i] == b->logw[i];
    }
    fsci__qdot_pf_destroy(&a);
    fsci__qdot_pf_destroy(&b);
    ASSERT_OK(st);
    ASSERT_TRUE(same);
}

TEST(resampling_when_ess_below_half)
{
    static double obs[P], pred[S * P], ll[S], w[N], cum[N];
    static int32_t states[N];
    static int64_t idx[N];
    fsci_rng r;
    fsci_rng_init(&r, 15, 1, 0, 0);
    make_problem(&r, obs, pred, ll, states);
    for (int s = 0; s < S; s++) ll[s] *= 40.0; /* sharp likelihood: ESS collapses */
    fsci__qdot_pf *pf = NULL;
    ASSERT_OK(fsci__qdot_pf_create(N, NMAX, &pf));
    bool res = false;
    int st = fsci__qdot_pf_init_states(pf, states);
    fsci__qdot_pf_add_ll(pf, ll, 1.0);
    if (st == 0) st = fsci__qdot_pf_normalise(pf);
    double ess = fsci__qdot_pf_weights(pf);
    for (int i = 0; i < N; i++) w[i] = pf->w[i];
    fsci__qdot_resample_indices(w, N, 0.37, cum, idx);
    if (st == 0) st = fsci__qdot_pf_init_states(pf, states);
    if (st == 0) st = fsci__qdot_pf_step(pf, ll, FSCI__QDOT_LABEL_NONE, 0.0, false, 0.5, 0.37, &res);
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= pf->state[i] == states[idx[i]];
    ok &= fabs(pf->logw[7] + log((double)N)) < 1e-15;
    double ess_after = fsci__qdot_pf_weights(pf);
    fsci__qdot_pf_destroy(&pf);
    ASSERT_OK(st);
    ASSERT_TRUE(ess < 0.5 * N);
    ASSERT_TRUE(res);
    ASSERT_TRUE(ok);
    ASSERT_NEAR_REL(ess_after, (double)N, 1e-12, 0.0);
}

TEST(uniform_init_draws_and_errors)
{
    enum { M = 20000 };
    fsci__qdot_pf *pf = NULL;
    ASSERT_OK(fsci__qdot_pf_create(M, NMAX, &pf));
    int st = fsci__qdot_pf_init_uniform(pf, 42, FSCI__QDOT_STREAM_PF);
    fsci_rng r;
    fsci_rng_init(&r, 42, FSCI__QDOT_STREAM_PF, 0, 0);
    int64_t count[S] = {0};
    int ok = 1;
    for (int i = 0; i < M; i++) {
        ok &= pf->state[i] == (int32_t)floor(fsci_rng_uniform(&r) * S);
        count[pf->state[i]]++;
    }
    int32_t bad[M];
    for (int i = 0; i < M; i++) bad[i] = i == 5 ? S : 0;
    int st_bad = fsci__qdot_pf_init_states(pf, bad);
    fsci__qdot_pf_destroy(&pf);
    ASSERT_OK(st);
    ASSERT_TRUE(ok);
    for (int s = 0; s < S; s++) ASSERT_TRUE(count[s] > 650 && count[s] < 950); /* 800 +- 5.3 sd */
    ASSERT_EQ(st_bad, FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "states[5] = 25") != NULL);
    ASSERT_STATUS(fsci__qdot_pf_create(0, NMAX, &pf), FSCI_EINVAL);
    ASSERT_TRUE(pf == NULL);
}

TESTKIT_MAIN()
