"""Compat-mode oracle test of the qdot planning components: the C internals (src/qdot/plan.h,
through the _fastsci_bench.qdot_* wrappers of bench/ext/py_qdot_bench.c) against the numpy port
of the reference agent (bench/qdot_ref.py), fed the same random inputs (fixed numpy seeds).

Conventions passed identically to both sides (the two differ by design, doc/qdot_planning.md):
  * the reference divides residuals by sigma + 1e-8 inside pixel_mean_loglik and
    information_gain; the C functions take sigma as given, so they get SIGMA + 1e-8;
  * the original reference computes its patches in float32; the port and the C code are float64,
    so the float32 step is not part of this comparison (DQC inputs are rounded to float32 first,
    as the agent's normalise() does, and then both sides see the same float64 values);
  * the toy current() of the port adds an absolute noise value, the C function a standard normal
    draw times noise_level: the port gets draws * noise_level.
Each comparison records its maximum difference in MAXDIFF; run with -s to see them."""
import math
import os
import sys

import numpy as np
import pytest

import _fastsci_bench as F
from fastsci import _fastsci as C

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import qdot_ref as R  # noqa: E402

SIGMA = 0.05
SIGMA_C = SIGMA + 1e-8  # the reference's sigma + 1e-8, passed explicitly to the C side
LABELS = {None: 0, R.DOUBLE_DOT: 1, R.SINGLE_DOT: 2, R.MISC: 3, R.UNKNOWN: 4}
QUALITY = {R.DQC_HIGH: 0, R.DQC_MODERATE: 1, R.DQC_LOW: 2}
MAXDIFF = {}


def record(name, d):
    MAXDIFF[name] = max(MAXDIFF.get(name, 0.0), float(d))


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    print("\nqdot compat, maximum differences C vs numpy port:")
    for k, v in sorted(MAXDIFF.items()):
        print(f"  {k:<28s} {v:.3e}")


def toy(p):
    return (p.E_c1, p.E_c2, p.t_c, p.T, p.lever_arm, p.noise_level)


def param_sets():
    rng = np.random.default_rng(11)
    sets = [R.SENSING_PARAMS, R.BELIEF_PARAMS, R.benchmark_params(0.0, 1.0), R.benchmark_params(0.5, 0.5)]
    sets += [R.benchmark_params(*rng.uniform(0, 1, 2)) for _ in range(4)]
    return sets


def voltages(rng, n, lo=-1.0, hi=1.0):
    v1, v2 = rng.uniform(lo, hi, n), rng.uniform(lo, hi, n)
    g1, g2 = R.grid_2d((lo, hi), (lo, hi), 16)  # exact grid points, where ties between energies occur
    return np.concatenate([v1, g1, np.zeros(3)]), np.concatenate([v2, g2, np.zeros(3)])


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    den = np.where(b != 0, np.abs(b), 1.0)
    return float(np.max(np.abs(a - b) / den)) if a.size else 0.0


# ------------------------------------------------------------------------------- toy model

@pytest.mark.parametrize("k", range(8))
def test_toy_predict_matches_current_for_states(k):
    p = param_sets()[k]
    rng = np.random.default_rng(100 + k)
    v1, v2 = voltages(rng, 600)
    states = R.STATES25.astype(np.int32)  # includes n = 3, 4: no neighbour in {0..2}^2 for (3..4, 3..4)
    got = C.qdot_toy_predict(toy(p), v1, v2, states)
    want = R.current_for_states(v1, v2, R.STATES25, p)
    assert got.shape == want.shape == (25, len(v1))
    assert np.count_nonzero(want) > want.size // 4  # a non-trivial comparison
    d = rel(got, want)
    record("toy current_for_state", d)
    assert d <= 1e-12
    assert np.array_equal(got == 0, want == 0)
    # the scalar port (the reference's own loop) on a sample of pixels
    loop = R.current_for_states_loop(v1[:20], v2[:20], R.STATES25, p)
    assert rel(got[:, :20], loop) <= 1e-12


@pytest.mark.parametrize("k", range(8))
def test_toy_current_matches_current_grid(k):
    p = param_sets()[k]
    rng = np.random.default_rng(200 + k)
    v1, v2 = voltages(rng, 2000)
    draws = rng.standard_normal(len(v1))
    draws[:5] = -1e3  # the clip at 0
    got = C.qdot_toy_current(toy(p), v1, v2, draws)
    want = R.current_grid(v1, v2, p, draws * p.noise_level)
    assert np.any(want > 0) and (p.noise_level == 0 or np.any(want == 0))
    d = rel(got, want)
    record("toy current", d)
    assert d <= 1e-12
    quiet = p._replace(noise_level=0.0)  # noise 0: the draws must not matter
    assert rel(C.qdot_toy_current(toy(quiet), v1, v2, draws), R.current_grid(v1, v2, quiet)) <= 1e-12


# ------------------------------------------------------------------------------- particle filter

def pf_inputs(seed, n=1000, obs_state=None):
    rng = np.random.default_rng(seed)
    states = rng.integers(0, 25, n).astype(np.int32)
    logw = np.log(rng.dirichlet(np.ones(n)))  # a previous, non-uniform posterior
    v1, v2 = R.grid_2d((-0.3, 0.3), (-0.3, 0.3), 16)
    pred = R.current_for_states(v1, v2, R.STATES25, R.BELIEF_PARAMS)
    s = rng.integers(0, 25) if obs_state is None else obs_state
    obs = pred[s] + rng.normal(0.0, 0.05, len(v1))
    return rng, states, logw, obs, pred


CASES = [(None, 0.0, False), (R.DOUBLE_DOT, 0.9, False), (R.SINGLE_DOT, 0.7, False), (R.MISC, 0.8, False),
         (R.UNKNOWN, 0.9, False), (R.DOUBLE_DOT, 0.9, True), (R.SINGLE_DOT, 0.6, True)]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("label,conf,override", CASES)
def test_pf_update_ess_probs(seed, label, conf, override):
    rng, states, logw, obs, pred = pf_inputs(300 + seed)
    ll = R.pixel_mean_loglik(obs, pred, SIGMA)
    ll_c = F.qdot_ll_gauss(obs, pred, SIGMA_C)
    d = float(np.max(np.abs(ll_c - ll) / np.abs(ll)))
    record("pf log-likelihood (rel)", d)
    assert d <= 1e-12

    wf = 0.5 if override else 1.0
    boost = R.classification_boost(R.STATES25, label, conf, override)
    want_lw = R.pf_update(logw, states, ll, wf, boost)
    want_w = R.pf_weights(want_lw)
    want_ess = R.ess(want_lw)
    want_p = R.charge_probs(states, want_w)
    lw, w, ess, probs = F.qdot_pf_update(states, logw, ll, 4, LABELS[label], conf, override)
    dl, dw = np.max(np.abs(lw - want_lw)), np.max(np.abs(w - want_w))
    de, dp = abs(ess - want_ess) / want_ess, np.max(np.abs(probs - want_p))
    for name, v in (("pf log-weights", dl), ("pf weights", dw), ("pf ESS (rel)", de), ("pf charge probs", dp)):
        record(name, v)
    assert dl <= 1e-9 and dw <= 1e-9 and de <= 1e-9 and dp <= 1e-9
    assert 1.0 <= ess <= len(states)


@pytest.mark.parametrize("seed", range(12))
def test_pf_step_resamples_like_the_reference(seed):
    """The agent's update: pf_update, then resample with u when ESS < N/2 (bench/qdot_ref.py
    _Agent.update_from_2d); the same u goes to fsci__qdot_pf_step."""
    rng, states, logw, obs, pred = pf_inputs(400 + seed, n=500)
    if seed % 3 == 0:
        logw = np.full(len(states), -math.log(len(states)))
    label, conf, override = CASES[seed % len(CASES)]
    ll = R.pixel_mean_loglik(obs, pred, SIGMA) * (0.02 if seed % 4 == 1 else 1.0)  # some steps keep ESS high
    u = [0.0, 0.5, np.nextafter(1.0, 0.0), rng.uniform()][seed % 4]
    wf = 0.5 if override else 1.0
    want_lw = R.pf_update(logw, states, ll, wf, R.classification_boost(R.STATES25, label, conf, override))
    want_res = R.ess(want_lw) < 0.5 * len(states)
    want_states = states
    if want_res:
        want_states = states[R.systematic_resample(R.pf_weights(want_lw), u)]
        want_lw = np.full(len(states), -math.log(len(states)))
    st, lw, w, resampled = F.qdot_pf_step(states, logw, ll, 4, LABELS[label], conf, override, 0.5, u)
    assert resampled == want_res
    assert np.array_equal(st, want_states)
    d = np.max(np.abs(lw - want_lw))
    record("pf step log-weights", d)
    assert d <= 1e-9


def weight_vectors():
    rng = np.random.default_rng(500)
    out = []
    for n in (1, 2, 3, 7, 100, 1000):
        out.append(rng.dirichlet(np.ones(n)))
        out.append(np.full(n, 1.0 / n))  # ties everywhere
        w = rng.dirichlet(np.full(n, 0.1))
        w[rng.uniform(size=n) < 0.5] = 0.0  # zeros, including leading ones
        if w.sum() > 0:
            out.append(w / w.sum())
        z = np.zeros(n)
        z[rng.integers(n)] = 1.0  # a single spike
        out.append(z)
        z = np.zeros(n)
        z[-1] = 1.0  # all mass on the last particle
        out.append(z)
        t = np.repeat(rng.dirichlet(np.ones(max(1, n // 4))), 4)[:n]  # tied groups
        out.append(t / t.sum())
        out.append(rng.dirichlet(np.ones(n)) * (1 - 1e-12))  # sum below 1: the clamp to N - 1
    return out


def offsets():
    rng = np.random.default_rng(501)
    return [0.0, 1e-300, 0.5, 1 - 1e-12, np.nextafter(1.0, 0.0)] + list(rng.uniform(size=15))


def test_systematic_resampling_indices_identical():
    count = 0
    for w in weight_vectors():
        for u in offsets():
            got = F.qdot_resample_indices(w, u)
            want = R.systematic_resample(w, u)
            assert np.array_equal(got, want), (len(w), u)
            count += 1
    record("resampling index mismatches", 0)
    assert count > 500


# ------------------------------------------------------------------------------- information gain

def ig_problem(seed, S, res, line):
    rng = np.random.default_rng(seed)
    c1, c2 = rng.uniform(-0.8, 0.8, 2)
    half = rng.uniform(0.05, 0.5)
    st = R.STATES25[rng.choice(25, S, replace=False)]
    probs = rng.dirichlet(np.full(S, 0.5))
    if seed % 3 == 0 and S > 2:
        probs[rng.choice(S, S // 3, replace=False)] = 0.0  # absent states (kept out of the posterior)
        probs /= probs.sum()
    if line:
        v1, v2 = np.linspace(c1 - half, c1 + half, res), np.zeros(res)
    else:
        v1, v2 = R.grid_2d((c1 - half, c1 + half), (c2 - half, c2 + half), res)
    pred = R.current_for_states(v1, v2, st, R.SENSING_PARAMS)
    M = 8
    pos = probs > 0
    hyp = rng.choice(S, size=M, p=probs / probs.sum()).astype(np.int32)
    assert np.all(pos[hyp])
    eps = rng.normal(0.0, R.IG_OBS_NOISE, (M, len(v1)))
    eta = None if line else rng.normal(0.0, R.IG_OBS_NOISE, (M, S, len(v1)))
    return pred, probs, hyp, eps, eta


IG_CASES = [(seed, S, res, line) for seed, (S, res, line) in
            enumerate([(9, 16, False), (25, 16, False), (4, 32, False), (12, 128, True), (25, 128, True),
                        (2, 16, False), (7, 64, False), (16, 32, False), (5, 128, True), (25, 32, False)] * 2)]


@pytest.mark.parametrize("seed,S,res,line", IG_CASES)
def test_information_gain_compat_and_nats(seed, S, res, line):
    pred, probs, hyp, eps, eta = ig_problem(600 + seed, S, res, line)
    for nats in (False, True):
        want = R.information_gain(pred, probs, hyp, eps, eta, sigma=SIGMA, nats=nats)
        got = F.qdot_ig(pred, probs, hyp, eps, eta, SIGMA_C, compat=True, prior_log2=not nats)
        d = abs(got - want)
        record("IG compat nats" if nats else "IG compat log2", d)
        assert d <= 1e-9, (nats, got, want)
        h = F.qdot_prior_entropy(probs, compat=True, prior_log2=not nats)
        assert abs(h - R.prior_entropy(probs, nats)) <= 1e-12
    # the bits/nats mix makes the compat IG positive: a non-trivial value was compared
    assert F.qdot_ig(pred, probs, hyp, eps, eta, SIGMA_C, compat=True, prior_log2=True) > 0.1


def test_information_gain_non_compat_close_to_reference_nats():
    """Non-compat (exact log-sum-exp, no 1e-12 guards, no clip, no eta) is not the reference's
    arithmetic: it differs from the nats reference by the dropped w < 1e-10 terms (each up to
    ~2.3e-9) and the guards, so only 1e-7 is asserted here, on line scans (eta = None)."""
    n_pos = 0
    for seed in range(10):
        pred, probs, hyp, eps, _ = ig_problem(700 + seed, [4, 9, 25][seed % 3], 128, True)
        want = R.information_gain(pred, probs, hyp, eps, None, sigma=SIGMA, nats=True)
        got = F.qdot_ig(pred, probs, hyp, eps, None, SIGMA_C, compat=False, prior_log2=False)
        if want > 0:
            n_pos += 1
            record("IG non-compat vs nats ref", abs(got - want))
            assert abs(got - want) <= 1e-7
    assert n_pos >= 5


def test_prior_entropy_fallback_and_zero_ig():
    """A point mass: log2 entropy is exactly 0, the reference falls back to nats of
    p / (sum + 1e-12), which is ~1e-12 < 1e-10, so IG = 0 on both sides."""
    probs = np.zeros(9)
    probs[4] = 1.0
    for nats in (False, True):
        h = F.qdot_prior_entropy(probs, compat=True, prior_log2=not nats)
        assert h == pytest.approx(R.prior_entropy(probs, nats), rel=1e-12, abs=0)
        assert 0 < h < 1e-10
    pred, _, _, eps, eta = ig_problem(800, 9, 16, False)
    hyp = np.full(8, 4, dtype=np.int32)
    assert R.information_gain(pred, probs, hyp, eps, eta, sigma=SIGMA) == 0.0
    assert F.qdot_ig(pred, probs, hyp, eps, eta, SIGMA_C) == 0.0


def test_selector_picks_the_same_modality():
    rng = np.random.default_rng(900)
    picks = set()
    for t in range(5000):
        prior_h = [math.inf, rng.uniform(0, 5), rng.uniform(0, 0.5)][t % 3]
        igs = rng.uniform(0, 1, 4) * 10.0 ** rng.uniform(-4, 1, 4)  # own scale per modality
        if t % 7 == 0:
            igs[rng.integers(4)] = igs[rng.integers(4)]  # equal IGs
        want_m, want_score, want_igs = R.select_from_igs(prior_h, igs)
        got_m, got_score, evaluated = F.qdot_select(prior_h, igs)
        assert got_m == want_m, (prior_h, igs)
        assert got_score == pytest.approx(want_score, rel=1e-15, abs=0)
        assert evaluated == [not math.isnan(v) for v in want_igs]
        picks.add(got_m)
    assert picks == {R.NONE, R.LINE_SCAN, R.COARSE_2D, R.LOCAL_PATCH, R.FINE_2D}


# ------------------------------------------------------------------------------- Gaussian process

@pytest.mark.parametrize("n", [0, 1, 2, 5, 12, 30, 60])
def test_gp_mean_and_variance(n):
    rng = np.random.default_rng(1000 + n)
    x = rng.uniform(-0.15, 0.15, (n, 2))
    if n >= 5:
        x[3] = x[1]  # a repeated point: K + noise I stays regular
    y = rng.uniform(0, 1, n)
    prior_x = rng.uniform(0, 0.3, n)
    xs = np.vstack([rng.uniform(-0.2, 0.2, (80, 2)), x[: min(n, 5)]])
    prior_xs = rng.uniform(0, 0.3, len(xs))
    if n:
        want_mu, want_var = R.gp_predict(xs, x, y, R.gp_fit(x), prior_x, prior_xs)
    else:
        want_mu, want_var = R.gp_predict(xs, x, y, None, prior_x, prior_xs)
    for nfit in sorted({-1, n // 2, 0}):  # one factorisation, then half and all appended
        mu, var, jitter = F.qdot_gp(x.reshape(n, 2), y - prior_x, xs, prior_xs, nfit=nfit)
        assert jitter == 0.0
        dm, dv = np.max(np.abs(mu - want_mu)), np.max(np.abs(var - want_var))
        record("GP mean", dm)
        record("GP variance", dv)
        assert dm <= 1e-9 and dv <= 1e-9, (nfit, dm, dv)
    if n:
        assert np.min(want_var) < 0.3 * R.GP_SIGNAL_VAR  # the data do constrain the posterior


# ------------------------------------------------------------------------------- data-quality gate

def dqc_compare(a, bypass=0.0):
    a = np.asarray(a, dtype=np.float64)
    q, snr, dr, flat, plaus = R.dqc_assess(a)
    gq, gsnr, gdr, gflat, gplaus = F.qdot_dqc(a, bypass)
    assert gq == QUALITY[q], (a.shape, q, snr, dr, flat, plaus, gq, gsnr, gdr, gflat)
    assert gplaus == plaus
    for name, g, w in (("DQC snr_db", gsnr, snr), ("DQC dynamic range", gdr, dr), ("DQC flatness", gflat, flat)):
        record(name, abs(g - w))
        assert abs(g - w) <= 1e-9 * max(1.0, abs(w)), (name, g, w)
    return gq


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)  # the agent's float32 normalise()


def test_dqc_random_arrays():
    rng = np.random.default_rng(1100)
    classes = []
    for t in range(600):
        two_d = t % 2 == 1
        shape = (int(rng.integers(1, 40)), int(rng.integers(1, 40))) if two_d else (int(rng.integers(1, 300)),)
        kind = t % 6
        if two_d:
            yy, xx = np.meshgrid(np.linspace(0, 1, shape[0]), np.linspace(0, 1, shape[1]), indexing="ij")
            smooth = 0.5 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.3, 2) * xx + 3 * yy)
        else:
            smooth = 0.5 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.3, 3) * np.linspace(0, 1, shape[0]))
        noise = rng.normal(0, 10 ** rng.uniform(-3.5, -0.5), shape)
        if kind == 0:
            a = rng.uniform(0, 1, shape)
        elif kind in (1, 2):
            a = smooth + noise
        elif kind == 3:
            a = 0.7 + 0.01 * smooth + noise * 0.1  # small range, low flatness
        elif kind == 4:
            a = smooth + noise + rng.choice([0.0, 2e-6, -2e-6], shape, p=[0.98, 0.01, 0.01])  # near the bounds
        else:
            a = R.normalise(smooth + noise).astype(np.float64)
        classes.append(dqc_compare(f32(a) if t % 3 == 0 else a))
    assert set(classes) == {0, 1, 2}


def test_dqc_hand_cases():
    assert dqc_compare(np.full(50, 0.5)) == 2  # constant: residual 0 -> 60 dB, flatness 0 -> LOW
    assert dqc_compare(np.full((8, 8), 0.5)) == 2
    assert dqc_compare(np.zeros(20)) == 2
    assert dqc_compare(np.zeros((6, 9))) == 2
    nan = np.linspace(0, 1, 30)
    nan[7] = np.nan
    assert dqc_compare(nan) == 2
    inf = np.linspace(0, 1, 36).reshape(6, 6)
    inf[2, 3] = np.inf
    assert dqc_compare(inf) == 2
    assert dqc_compare(np.array([0.1, 0.9, 0.2])) == 2  # a line shorter than 4: SNR 0
    dqc_compare(np.linspace(0, 1, 100))  # a clean ramp (zero-padded smoothing: residual at the ends)
    dqc_compare(np.linspace(0, 1, 64).reshape(8, 8))
    assert dqc_compare(np.linspace(0, 1.1, 100)) == 2  # implausible: > 1 + 1e-6
    assert dqc_compare(np.linspace(-1e-5, 1, 100)) == 2  # implausible: < -1e-6
    assert F.qdot_dqc(np.linspace(-1e-7, 1, 100))[4] is True  # inside the 1e-6 tolerance
    dqc_compare(np.linspace(-1e-7, 1, 100))
    assert dqc_compare(np.array([[0.3]])) == 2
    assert dqc_compare(np.array([0.2])) == 2
