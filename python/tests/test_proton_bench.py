"""The numpy baseline of bench/bench_proton.py against the proton engine, on a tiny
dense problem (20 E x 12 theta x 8 z x 8 x, periodic angles, prune 0)."""
import os
import sys

import numpy as np
import pytest

import _fastsci_bench as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from proton_baseline import NumpyProton  # noqa: E402

TINY = dict(ne=20, ntheta=12, nz=8, nx=8, threads=1, e_max=30.0)


@pytest.fixture()
def tiny():
    h = F.proton_bench_setup(**TINY)
    return h, NumpyProton(F.proton_bench_tables(h))


def rel_err(a, b):
    return float(np.max(np.abs(a.astype(np.float64) - b)) / np.max(np.abs(b)))


def test_setup_grid_and_initial_psi(tiny):
    h, base = tiny
    t = F.proton_bench_tables(h)
    assert (t["ne"], t["ntheta"], t["nz"], t["nx"]) == (20, 12, 8, 8)
    assert t["value"][-1] == pytest.approx(30.0, rel=1e-9)
    psi = F.proton_bench_psi(h)
    assert psi.shape == (20, 12, 8, 8) and psi.dtype == np.float32
    assert np.array_equal(psi, F.proton_bench_psi(h, True))
    assert 0 <= psi.min() and psi.max() < 1 and psi.std() > 0.2  # broad, non-trivial


@pytest.mark.parametrize("op", ["scatter", "energy", "stream"])
def test_each_operator_matches_numpy(tiny, op):
    h, base = tiny
    psi0 = F.proton_bench_psi(h)
    F.proton_bench_apply(h, op)
    ours = F.proton_bench_psi(h)
    ref = getattr(base, op)(psi0)
    assert not np.allclose(ours, psi0)  # the operator does something
    assert rel_err(ours, ref) < 1e-5


def test_three_steps_match_numpy(tiny):
    h, base = tiny
    psi = F.proton_bench_psi(h)
    for _ in range(3):
        psi = base.step(psi)
    F.proton_bench_apply(h, "step", 3)
    assert rel_err(F.proton_bench_psi(h), psi) < 1e-5
    # and the reset brings back the initial phase space
    F.proton_bench_reset(h)
    assert np.array_equal(F.proton_bench_psi(h), F.proton_bench_psi(h, True))


def test_baseline_detects_a_wrong_operator(tiny):
    h, base = tiny
    psi0 = F.proton_bench_psi(h)
    F.proton_bench_apply(h, "stream")
    wrong = base.stream(np.roll(psi0, 1, axis=-1))
    assert rel_err(F.proton_bench_psi(h), wrong) > 1e-2
