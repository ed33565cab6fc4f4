"""The C tuning agent of the qdot engine in compat mode (src/qdot/agent.h, through
_fastsci_bench.qdot_trial / qdot_bench of bench/ext/py_qdot_agent.c) against the numpy port of the
reference agent (bench/qdot_ref.py run_trial), on the same protocol (benchmark_params devices,
budgets, step limits, deterministic classifier).

The two sides draw from different generators (Philox keyed by logical indices vs numpy PCG64), so
the agent-level comparison is statistical: success rate, mean reduction and the dominant final
stage (doc/qdot_agent.md). The classifier, which decides the later stages, is compared exactly.
Run with -s to see both summaries."""
import collections
import math
import os
import sys

import numpy as np
import pytest

import _fastsci_bench as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import qdot_ref as R  # noqa: E402

LABELS = {R.DOUBLE_DOT: 1, R.SINGLE_DOT: 2, R.MISC: 3}


def summary(rows):
    red = np.array([r["reduction"] for r in rows])
    return {
        "n": len(rows),
        "success": float(np.mean([r["success"] for r in rows])),
        "reduction": float(red.mean()),
        "reduction_sd": float(red.std()),
        "stages": dict(collections.Counter(r["final_stage"] for r in rows)),
        "steps": float(np.mean([r["steps"] for r in rows])),
        "backtracks": float(np.mean([r["backtracks"] for r in rows])),
        "hitl": float(np.mean([r["hitl_count"] for r in rows])),
        "measurements": float(np.mean([r["total_measurements"] for r in rows])),
        "seconds": float(np.mean([r["seconds"] for r in rows])),
    }


def show(name, s):
    print(f"  {name:6s} n={s['n']} success {s['success']:.3f}  reduction {s['reduction']:.4f} +- "
          f"{s['reduction_sd']:.4f}  stages {s['stages']}  steps {s['steps']:.1f}  backtracks "
          f"{s['backtracks']:.2f}  hitl {s['hitl']:.1f}  measurements {s['measurements']:.0f}  "
          f"s/trial {s['seconds']:.5f}")


def dominant(stages):
    return max(sorted(stages), key=lambda k: stages[k])


PROTOCOLS = [
    # (name, trials, run_trial / qdot_bench keywords)
    ("fast", 40, dict(budget=512, max_steps=50)),
    ("no_dqc_gate full", 20, dict(budget=2048, max_steps=100, no_dqc_gate=True)),
]


@pytest.mark.parametrize("name,n,kw", PROTOCOLS, ids=[p[0] for p in PROTOCOLS])
def test_agent_matches_numpy_port_statistically(name, n, kw):
    c_rows = F.qdot_bench(n, 42, **kw, threads=1)
    py_rows = [R.run_trial(i, 42, dqc_gate=not kw.get("no_dqc_gate", False), budget=kw["budget"],
                           max_steps=kw["max_steps"]) for i in range(n)]
    c, p = summary(c_rows), summary(py_rows)
    print(f"\nqdot agent, {name}: {n} trials, budget {kw['budget']}, max steps {kw['max_steps']}")
    show("C", c)
    show("numpy", p)
    print(f"  speed-up {p['seconds'] / c['seconds']:.0f}x per trial (single thread each)")
    assert abs(c["success"] - p["success"]) <= 0.1 or (c["success"] == 0 and p["success"] == 0)
    assert abs(c["reduction"] - p["reduction"]) <= 0.05
    assert dominant(c["stages"]) == dominant(p["stages"])
    # the protocol's invariants on both sides
    for rows in (c_rows, py_rows):
        for r in rows:
            assert r["total_measurements"] <= kw["budget"]
            assert math.isclose(r["reduction"], 1 - r["total_measurements"] / 4096)
            assert r["steps"] <= kw["max_steps"]
    # the devices follow benchmark_params
    ec = np.array([r["device"]["E_c1"] for r in c_rows])
    tc = np.array([r["device"]["t_c"] for r in c_rows])
    assert ec.min() >= 2.5 and ec.max() < 3.5 and tc.min() >= 0.2 and tc.max() < 0.4
    assert all(r["device"]["E_c2"] == pytest.approx(r["device"]["E_c1"] + 0.2) for r in c_rows)


def test_bench_equals_single_trials_and_threads():
    kw = dict(budget=512, max_steps=50, no_dqc_gate=True)
    one = F.qdot_bench(6, 7, **kw, threads=1)
    two = F.qdot_bench(6, 7, **kw, threads=2)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in one]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in two]
    assert strip == [{k: v for k, v in F.qdot_trial(i, 7, **kw).items() if k != "seconds"} for i in range(6)]
    with pytest.raises(ValueError, match="budget"):
        F.qdot_trial(0, 42, budget=0)
    with pytest.raises(ValueError, match="max_steps"):
        F.qdot_trial(0, 42, max_steps=0)


def _patches():
    rng = np.random.default_rng(5)
    for k in range(120):
        res = (16, 32, 64)[k % 3]
        x = np.arange(res, dtype=np.float64)
        kind = k % 6
        if kind == 0:  # white noise: misc
            p = rng.random((res, res))
        elif kind == 1:  # smooth along both axes: single dot
            p = np.sin(0.2 * x[None, :] + 0.1 * x[:, None]) ** 2
        elif kind == 2:  # stripes along the diagonal: double dot
            p = 0.5 + 0.5 * np.sin((1.0 + 0.002 * k) * (x[None, :] - x[:, None])) + 0.05 * rng.random((res, res))
        elif kind == 3:  # anti-diagonal stripes
            p = 0.5 + 0.5 * np.sin((1.1 + 0.002 * k) * (x[None, :] + x[:, None]))
        elif kind == 4:  # tiny values: the physics override (log_std < 0.05, no diagonal)
            p = 0.01 * rng.random((res, res))
        else:  # a normalised noisy patch as the agent sees it
            p = R.normalise(np.exp(-((x[None, :] - x[:, None]) ** 2) / 4.0) + 0.3 * rng.random((res, res)))
        yield np.asarray(p, dtype=np.float64)


def test_classifier_equals_port():
    seen = collections.Counter()
    worst = 0.0
    for p in _patches():
        c = R.deterministic_classifier(p)
        f = R.physics_features(p)
        label, conf, override, log_std, axis, diag = F.qdot_classify(p)
        assert label == LABELS[c.label] and override == c.physics_override
        worst = max(worst, abs(conf - c.confidence), abs(log_std - f["log_std"]), abs(axis - f["axis_corr"]),
                    abs(diag - f["diag_strength"]))
        seen[(c.label, c.physics_override)] += 1
    print(f"\nclassifier C vs port: max difference {worst:.2e}, cases {dict(seen)}")
    assert worst < 1e-12
    # every branch was exercised
    assert {(R.MISC, False), (R.SINGLE_DOT, False), (R.DOUBLE_DOT, False), (R.MISC, True)} <= set(seen)
