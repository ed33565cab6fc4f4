/* Tests of the qdot information gain and modality selector (src/qdot/sensing.c,
 * doc/qdot_planning.md section 2): the GEMM path against a direct triple loop, the compat
 * path against a direct transcription of the reference's arithmetic, IG >= 0 for many
 * samples, IG = 0 when every hypothesis predicts the same patch, the size of the compat
 * bits-versus-nats bias, and the selector with and without the reference's cheap bound. */
#include <math.h>
#include <stdbool.h>

#include "fastsci/core/rng.h"
#include "qdot/plan.h"
#include "testkit.h"

enum { S = 25, P = 256, M = 8, MBIG = 4000 };
#define SIGMA 0.05

static void make_inputs(uint64_t seed, double *pred, double *probs, int32_t *hyp, double *eps, double *eta,
                        int m, bool zeros)
{
    fsci_rng r;
    fsci_rng_init(&r, seed, 2, 0, 0);
    for (int i = 0; i < S * P; i++) pred[i] = 0.3 * fsci_rng_uniform(&r);
    double sum = 0.0;
    for (int s = 0; s < S; s++) {
        probs[s] = (zeros && s % 4 == 1) ? 0.0 : fsci_rng_uniform(&r);
        sum += probs[s];
    }
    for (int s = 0; s < S; s++) probs[s] /= sum;
    for (int k = 0; k < m; k++) { /* inverse CDF draw over probs */
        double u = fsci_rng_uniform(&r), c = 0.0;
        int s = 0;
        while (s < S - 1 && (c += probs[s]) <= u) s++;
        while (probs[s] == 0.0) s--;
        hyp[k] = s;
    }
    for (int i = 0; i < m * P; i++) eps[i] = 0.02 * fsci_rng_normal(&r);
    if (eta)
        for (int i = 0; i < m * S * P; i++) eta[i] = 0.02 * fsci_rng_normal(&r);
}

/* Non-compat IG by direct loops: exact posteriors in nats. */
static double direct_ig(const double *pred, const double *probs, const int32_t *hyp, const double *eps, int m)
{
    double hp = 0.0;
    for (int s = 0; s < S; s++)
        if (probs[s] > 0) hp -= probs[s] * log(probs[s]);
    double hs = 0.0, o[P], lw[S];
    for (int k = 0; k < m; k++) {
        for (int p = 0; p < P; p++) o[p] = pred[hyp[k] * P + p] + eps[k * P + p];
        double mx = -INFINITY;
        for (int s = 0; s < S; s++) {
            if (probs[s] <= 0) continue;
            double d2 = 0.0;
            for (int p = 0; p < P; p++) d2 += (o[p] - pred[s * P + p]) * (o[p] - pred[s * P + p]);
            lw[s] = log(probs[s]) - 0.5 * d2 / (P * SIGMA * SIGMA);
            mx = fmax(mx, lw[s]);
        }
        double z = 0.0;
        for (int s = 0; s < S; s++)
            if (probs[s] > 0) z += exp(lw[s] - mx);
        for (int s = 0; s < S; s++) {
            if (probs[s] <= 0) continue;
            double w = exp(lw[s] - mx) / z;
            if (w > 0) hs -= w * log(w);
        }
    }
    return hp - hs / m;
}

/* The reference's _estimate_ig / _posterior_entropy arithmetic, transcribed from its
 * description in doc/qdot_planning.md (bits prior when log2, 1e-12 guards, clip at 0). */
static double compat_ig(const double *pred, const double *probs, const int32_t *hyp, const double *eps,
                        const double *eta, int m, bool log2prior)
{
    double hp = 0.0;
    for (int s = 0; s < S; s++)
        if (probs[s] > 0) hp -= probs[s] * (log2prior ? log2(probs[s]) : log(probs[s]));
    if (hp < 1e-10) return 0.0;
    double hs = 0.0, o[P], lw[S];
    for (int k = 0; k < m; k++) {
        for (int p = 0; p < P; p++) o[p] = pred[hyp[k] * P + p] + eps[k * P + p];
        double mx = -INFINITY;
        for (int s = 0; s < S; s++) {
            if (probs[s] <= 0) continue;
            double acc = 0.0;
            for (int p = 0; p < P; p++) {
                double q = pred[s * P + p] + (eta ? eta[((size_t)k * S + s) * P + p] : 0.0);
                double d = (o[p] - q) / (SIGMA + 1e-8);
                acc += d * d;
            }
            lw[s] = log(probs[s] + 1e-12) + (-0.5 * acc / P);
            mx = fmax(mx, lw[s]);
        }
        double z = 0.0;
        for (int s = 0; s < S; s++)
            if (probs[s] > 0) z += exp(lw[s] - mx);
        for (int s = 0; s < S; s++) {
            if (probs[s] <= 0) continue;
            double w = exp(lw[s] - mx) / (z + 1e-12);
            if (w > 1e-10) hs -= w * log(w);
        }
    }
    double ig = hp - hs / m;
    return ig > 0 ? ig : 0.0;
}

static double pred_[S * P], probs_[S], eps_[MBIG * P];
static int32_t hyp_[MBIG];

TEST(gemm_path_equals_direct_loops)
{
    fsci__qdot_ig *ws = NULL;
    ASSERT_OK(fsci__qdot_ig_create(S, P, M, &ws));
    fsci__qdot_ig_opts o = {SIGMA, false, false};
    double maxerr = 0.0;
    int st = 0;
    for (uint64_t seed = 1; seed <= 20 && st == 0; seed++) {
        make_inputs(seed, pred_, probs_, hyp_, eps_, NULL, M, seed % 2 == 0);
        double ig = NAN;
        st = fsci__qdot_ig_eval(ws, pred_, probs_, hyp_, eps_, NULL, &o, &ig);
        maxerr = fmax(maxerr, fabs(ig - direct_ig(pred_, probs_, hyp_, eps_, M)));
    }
    fsci__qdot_ig_destroy(&ws);
    ASSERT_OK(st);
    printf("  max |IG(gemm) - IG(direct)| = %.3g over 20 random problems\n", maxerr);
    ASSERT_TRUE(maxerr <= 1e-9);
}

TEST(compat_path_equals_reference_arithmetic)
{
    static double eta[M * S * P];
    fsci__qdot_ig *ws = NULL;
    ASSERT_OK(fsci__qdot_ig_create(S, P, M, &ws));
    double maxerr = 0.0;
    int st = 0;
    for (uint64_t seed = 1; seed <= 10 && st == 0; seed++) {
        make_inputs(seed + 100, pred_, probs_, hyp_, eps_, eta, M, seed % 2 == 0);
        for (int v = 0; v < 4 && st == 0; v++) {
            bool l2 = v & 1, noisy = v & 2;
            fsci__qdot_ig_opts o = {SIGMA + 1e-8, true, l2};
            double ig = NAN;
            st = fsci__qdot_ig_eval(ws, pred_, probs_, hyp_, eps_, noisy ? eta : NULL, &o, &ig);
            maxerr = fmax(maxerr, fabs(ig - compat_ig(pred_, probs_, hyp_, eps_, noisy ? eta : NULL, M, l2)));
        }
    }
    fsci__qdot_ig_destroy(&ws);
    ASSERT_OK(st);
    printf("  max |IG(compat) - reference arithmetic| = %.3g\n", maxerr);
    ASSERT_TRUE(maxerr <= 1e-12);
}

TEST(ig_nonnegative_for_many_samples)
{
    fsci__qdot_ig *ws = NULL;
    ASSERT_OK(fsci__qdot_ig_create(S, P, MBIG, &ws));
    fsci__qdot_ig_opts o = {SIGMA, false, false};
    double lo = INFINITY;
    int st = 0;
    for (uint64_t seed = 1; seed <= 3 && st == 0; seed++) {
        make_inputs(seed + 200, pred_, probs_, hyp_, eps_, NULL, MBIG, false);
        /* Hypotheses close together, so posteriors stay broad and the estimate is noisy. */
        for (int i = 0; i < S * P; i++) pred_[i] = 0.15 + 0.3 * (pred_[i] - 0.15);
        double ig = NAN;
        st = fsci__qdot_ig_eval(ws, pred_, probs_, hyp_, eps_, NULL, &o, &ig);
        lo = fmin(lo, ig);
    }
    fsci__qdot_ig_destroy(&ws);
    ASSERT_OK(st);
    printf("  smallest IG over 3 problems with M = %d: %.4g nats\n", MBIG, lo);
    ASSERT_TRUE(lo > 0.0);
}

TEST(identical_predictions_give_zero_ig_and_compat_bias)
{
    fsci__qdot_ig *ws = NULL;
    ASSERT_OK(fsci__qdot_ig_create(S, P, M, &ws));
    make_inputs(7, pred_, probs_, hyp_, eps_, NULL, M, true);
    for (int s = 1; s < S; s++)
        for (int p = 0; p < P; p++) pred_[s * P + p] = pred_[p];
    double hn = 0.0, h2 = 0.0;
    for (int s = 0; s < S; s++)
        if (probs_[s] > 0) {
            hn -= probs_[s] * log(probs_[s]);
            h2 -= probs_[s] * log2(probs_[s]);
        }
    fsci__qdot_ig_opts exact = {SIGMA, false, false}, nats = {SIGMA, true, false}, bits = {SIGMA, true, true};
    double ig0 = NAN, ig1 = NAN, ig2 = NAN;
    int st = fsci__qdot_ig_eval(ws, pred_, probs_, hyp_, eps_, NULL, &exact, &ig0);
    if (st == 0) st = fsci__qdot_ig_eval(ws, pred_, probs_, hyp_, eps_, NULL, &nats, &ig1);
    if (st == 0) st = fsci__qdot_ig_eval(ws, pred_, probs_, hyp_, eps_, NULL, &bits, &ig2);
    fsci__qdot_ig_destroy(&ws);
    ASSERT_OK(st);
    printf("  IG exact %.3g, compat nats %.3g, compat bits %.6f (H = %.6f nats, bias (1/ln2 - 1) H = %.6f)\n",
           ig0, ig1, ig2, hn, (1.0 / log(2.0) - 1.0) * hn);
    ASSERT_NEAR_REL(ig0, 0.0, 0.0, 1e-13);
    ASSERT_NEAR_REL(ig1, 0.0, 0.0, 1e-9); /* the 1e-12 guards only */
    /* The reference's prior in bits minus posteriors in nats: an IG of H (1/ln 2 - 1) from a
     * measurement that cannot tell the hypotheses apart. */
    ASSERT_NEAR_REL(ig2, h2 - hn, 0.0, 1e-9);
    ASSERT_NEAR_REL(ig2, (1.0 / log(2.0) - 1.0) * hn, 1e-12, 1e-9);
}

TEST(selector_and_cheap_bound)
{
    fsci_rng r;
    fsci_rng_init(&r, 5, 3, 0, 0);
    int mismatches = 0, nonnone = 0;
    for (int t = 0; t < 20000; t++) {
        double hp = 3.0 * fsci_rng_uniform(&r), ig[FSCI__QDOT_NMOD];
        for (int k = 0; k < FSCI__QDOT_NMOD; k++) ig[k] = hp * fsci_rng_uniform(&r) * (t % 3 ? 1.0 : 0.01);
        fsci__qdot_select_state a, b;
        fsci__qdot_select_begin(&a);
        fsci__qdot_select_begin(&b);
        for (int k = 0; k < FSCI__QDOT_NMOD; k++) {
            fsci__qdot_select_offer(&a, k, ig[k]);
            if (!fsci__qdot_select_skip(&b, hp, k)) fsci__qdot_select_offer(&b, k, ig[k]);
        }
        double sa, sb;
        int ma = fsci__qdot_select_end(&a, 1e-4, &sa), mb = fsci__qdot_select_end(&b, 1e-4, &sb);
        int want = FSCI__QDOT_MOD_NONE;
        double best = -1.0;
        for (int k = 0; k < FSCI__QDOT_NMOD; k++)
            if (ig[k] / fsci__qdot_mod_cost[k] > best) best = ig[k] / fsci__qdot_mod_cost[want = k];
        if (best < 1e-4) want = FSCI__QDOT_MOD_NONE;
        mismatches += (ma != mb) + (ma != want) + (sa != sb);
        nonnone += ma != FSCI__QDOT_MOD_NONE;
    }
    ASSERT_EQ(mismatches, 0);
    ASSERT_TRUE(nonnone > 1000 && nonnone < 20000);
    /* Hand cases: IG 0.02 on a line (score 1.56e-4) beats 0.03 on a coarse patch (1.17e-4). */
    fsci__qdot_select_state s;
    fsci__qdot_select_begin(&s);
    const double ig[] = {0.02, 0.03, 0.1, 0.3};
    for (int k = 0; k < FSCI__QDOT_NMOD; k++) fsci__qdot_select_offer(&s, k, ig[k]);
    ASSERT_EQ(fsci__qdot_select_end(&s, 1e-4, NULL), FSCI__QDOT_MOD_LINE);
    ASSERT_EQ(fsci__qdot_select_end(&s, 2e-4, NULL), FSCI__QDOT_MOD_NONE);
    ASSERT_EQ(fsci__qdot_mod_cost[FSCI__QDOT_MOD_FINE], 4096);
    ASSERT_EQ(fsci__qdot_mod_resolution[FSCI__QDOT_MOD_COARSE], 16);
}

TEST(bad_arguments)
{
    fsci__qdot_ig *ws = NULL;
    ASSERT_OK(fsci__qdot_ig_create(S, P, M, &ws));
    make_inputs(9, pred_, probs_, hyp_, eps_, NULL, M, true);
    hyp_[3] = 1; /* probs[1] == 0 */
    fsci__qdot_ig_opts o = {SIGMA, false, false};
    double ig;
    int st = fsci__qdot_ig_eval(ws, pred_, probs_, hyp_, eps_, NULL, &o, &ig);
    o.sigma = 0.0;
    hyp_[3] = 0;
    int st2 = fsci__qdot_ig_eval(ws, pred_, probs_, hyp_, eps_, NULL, &o, &ig);
    fsci__qdot_ig_destroy(&ws);
    ASSERT_EQ(st, FSCI_EINVAL);
    ASSERT_EQ(st2, FSCI_EINVAL);
    ASSERT_STATUS(fsci__qdot_ig_create(0, P, M, &ws), FSCI_EINVAL);
}

TESTKIT_MAIN()
