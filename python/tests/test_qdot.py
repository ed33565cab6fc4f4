"""fastsci.qdot: the Device object against closed forms and itself (scan vs points, threads),
and the compat toy model against the numpy port of the reference (bench/qdot_ref.py)."""
import os
import sys

import numpy as np
import pytest

import fastsci
from fastsci import _fastsci

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import qdot_ref  # noqa: E402

CCC = [[100.0, -20.0], [-20.0, 100.0]]
CCV = [[10.0, 1.0], [1.0, 10.0]]


def test_lever_arms_and_triple_points():
    d = fastsci.qdot.Device(c_cc=CCC, c_cv=CCV, kt=0.01)
    alpha = np.linalg.solve(np.array(CCC), np.array(CCV))
    np.testing.assert_allclose(d.lever_arms, alpha, rtol=1e-12)
    xy, kind = d.triple_points()
    # electron point of cell (0, 0): both addition energies vanish, Ec_ii / 2 = (alpha V)_i
    ec = 160.21766340 * np.linalg.inv(np.array(CCC))
    v = np.linalg.solve(alpha, 0.5 * np.diag(ec))
    np.testing.assert_allclose(xy[0], v, rtol=1e-10)
    assert kind[0] == 0 and kind[1] == 1


def test_scan_equals_points_and_threads():
    d = fastsci.qdot.Device(c_cc=CCC, c_cv=CCV, kt=0.01)
    v1 = np.linspace(-5, 60, 97)
    v2 = np.linspace(-5, 60, 83)
    scan = d.sensor_2d(v1, v2, noise=False)
    g1, g2 = np.meshgrid(v1, v2)
    pts = d.sensor_2d(g1, g2, noise=False)
    assert scan.shape == (83, 97)
    np.testing.assert_allclose(scan, pts, rtol=1e-12, atol=1e-14)
    noisy = fastsci.qdot.Device(c_cc=CCC, c_cv=CCV, kt=0.01, white=0.02, pink=0.01, telegraph=0.02)
    a = noisy.sensor_2d(v1, v2, seed=4, threads=1)
    b = noisy.sensor_2d(v1, v2, seed=4, threads=2)
    c = noisy.sensor_2d(v1, v2, seed=5, threads=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert 0.01 < np.std(a - scan) < 0.05


def test_charge_is_the_ground_state_at_zero_temperature():
    d = fastsci.qdot.Device(c_cc=CCC, c_cv=CCV, kt=0, nmax=3)
    rng = np.random.default_rng(1)
    v1, v2 = rng.uniform(-5, 60, (40, 50)), rng.uniform(-5, 60, (40, 50))
    q = d.charge_2d(v1, v2)
    # brute force in numpy over the 16 states: E(n) = 1/2 n.Ec.n - n.alpha.V
    ec = 160.21766340 * np.linalg.inv(np.array(CCC))
    alpha = np.linalg.solve(np.array(CCC), np.array(CCV))
    n = np.array([(a, b) for a in range(4) for b in range(4)], dtype=float)
    av = np.einsum("ig,gp->ip", alpha, np.stack([v1.ravel(), v2.ravel()]))
    e = 0.5 * np.einsum("si,ij,sj->s", n, ec, n)[:, None] - n @ av
    want = n.sum(axis=1)[np.argmin(e, axis=0)].reshape(v1.shape)
    assert q.shape == (40, 50)
    np.testing.assert_array_equal(q, want)


def test_bad_devices_raise():
    with pytest.raises(fastsci.RangeError, match="positive"):
        fastsci.qdot.Device(c_cc=[[100, -150], [-150, 100]], c_cv=CCV)
    with pytest.raises(Exception, match="symmetric"):
        fastsci.qdot.Device(c_cc=[[100, -20], [-10, 100]], c_cv=CCV)
    with pytest.raises(ValueError):
        fastsci.qdot.Device(c_cc=CCC)


PARAMS = [qdot_ref.SENSING_PARAMS, qdot_ref.BELIEF_PARAMS, qdot_ref.benchmark_params(0.3, 0.7)]


@pytest.mark.parametrize("p", PARAMS)
def test_toy_model_equals_the_numpy_port(p):
    rng = np.random.default_rng(7)
    v1, v2 = rng.uniform(-1, 1, 4096), rng.uniform(-1, 1, 4096)
    states = np.array([(a, b) for a in range(5) for b in range(5)], dtype=np.intc)
    t = (p.E_c1, p.E_c2, p.t_c, p.T, p.lever_arm, p.noise_level)
    ours = _fastsci.qdot_toy_predict(t, v1, v2, states)
    theirs = qdot_ref.current_for_states(v1, v2, states, p)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-300)
    draws = rng.standard_normal(4096)
    ours = _fastsci.qdot_toy_current(t, v1, v2, draws)
    theirs = qdot_ref.current_grid(v1, v2, p, draws * p.noise_level)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-300)


def test_physical_trial_is_deterministic_and_succeeds():
    a = fastsci.qdot.run_trial(3, particles=1000, threads=1)
    b = fastsci.qdot.run_trial(3, particles=1000, threads=2)
    assert a["v"] == b["v"] and a["p_final"] == b["p_final"]
    assert a["success"] and a["true_state"] == [1, 1] and a["total_measurements"] <= 1024


def test_classify_with_the_shipped_weights():
    weights = os.path.join(os.path.dirname(__file__), "..", "..", "data", "qdot_classifier.fsqc")
    d = fastsci.qdot.Device(c_cc=CCC, c_cv=CCV, kt=0.01, white=0.01)
    v = np.linspace(0, 50, 64)
    honeycomb = d.sensor_2d(v, v, seed=1)
    flat = 0.3 + 0.01 * np.random.default_rng(0).standard_normal((64, 64))
    r = fastsci.qdot.classify(np.stack([honeycomb, flat]), weights)
    assert list(r["label"]) == [0, 2], r
    with pytest.raises(fastsci.InvalidArgumentError, match="64 x 64"):
        fastsci.qdot.classify(np.zeros((32, 32)), weights)
