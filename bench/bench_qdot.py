"""qdot: forward-model evaluations per second, C against numpy and the reference's Python loop.

Workload 1 (physical model): the double-dot preset (16 charge states, 2 gates), a 2048 x 2048
scan of the sensor signal (4.2 M evaluations), at kT = 0 (ground state) and at kT = 0.01 meV
(thermal occupation: 16 exponentials per pixel). Ours: fastsci.qdot.Device.sensor_2d with 1 and
2 threads. Baseline: the best numpy we could write for the same model, per chunk of 65,536
pixels: energies of the 16 states as one (16, P) array from precomputed per-state constants,
argmin (or the Boltzmann sums), the sensor Lorentzian. Roofline: 4 flops per state per pixel for
the energies (two multiply-adds), output 8 bytes per pixel.
Workload 2 (compat toy model, the reference's current_for_state): 25 hypotheses x 4096 pixels.
Ours: the C toy model; baselines: the numpy port's vectorised form (bench/qdot_ref.py) and, on a
small sample, its scalar Python loop (the reference's own approach).
Workload 3 (one trial of an agent, one thread each side): the physical agent (4000 particles,
doc/qdot.md section 7) in C against the same algorithm in numpy (bench/qdot_phys_ref.py), and the
reference's agent in compat mode (fast protocol: budget 512, 50 steps) in C against the numpy
port of the reference (bench/qdot_ref.py run_trial); plus the 100-trial physical benchmark on
every core.
"""
import numpy as np

import fastsci
from fastsci import _fastsci
from harness import Table, timeit

import qdot_phys_ref
import qdot_ref

E2 = 160.21766340
CCC = np.array([[100.0, -20.0], [-20.0, 100.0]])
CCV = np.array([[10.0, 1.0], [1.0, 10.0]])
LEVER = np.array([0.002, 0.002])
COUPLING = np.array([0.12, 0.08])
OFFSET, WIDTH = -0.35, 0.25
N = 2048
CHUNK = 65536


def numpy_sensor(v1, v2, kt):
    """The preset's sensor signal on the grid v1 (columns) x v2 (rows), vectorised numpy."""
    inv = np.linalg.inv(CCC)
    alpha = inv @ CCV
    n = np.array([(a, b) for a in range(4) for b in range(4)], dtype=float)
    c = 0.5 * E2 * np.einsum("si,ij,sj->s", n, inv, n)
    a = n @ alpha  # (16, 2)
    q = n @ COUPLING
    x = np.broadcast_to(v1[None, :], (v2.size, v1.size)).ravel()
    y = np.broadcast_to(v2[:, None], (v2.size, v1.size)).ravel()
    out = np.empty(x.size)
    for s in range(0, x.size, CHUNK):
        xs, ys = x[s:s + CHUNK], y[s:s + CHUNK]
        e = c[:, None] - a[:, 0:1] * xs - a[:, 1:2] * ys
        if kt > 0:
            w = np.exp(-(e - e.min(axis=0)) / kt)
            qb = (q @ w) / w.sum(axis=0)
        else:
            qb = q[np.argmin(e, axis=0)]
        mu = OFFSET + LEVER[0] * xs + LEVER[1] * ys - qb
        out[s:s + CHUNK] = 1.0 / (1.0 + (mu / WIDTH) ** 2)
    return out.reshape(v2.size, v1.size)


def physical(t):
    v = np.linspace(-5, 60, N)
    for kt in (0.0, 0.01):
        dev = fastsci.qdot.Device(c_cc=CCC, c_cv=CCV, kt=kt, sensor_coupling=COUPLING, sensor_lever=LEVER)
        ours1 = dev.sensor_2d(v, v, noise=False, threads=1)
        # equal but at pixels on a transition line, where two states tie to rounding (FMA vs not)
        differ = np.abs(ours1 - numpy_sensor(v, v, kt)) > 1e-9
        assert differ.mean() < 1e-4, f"C and numpy differ at {differ.sum()} pixels"

        base, _ = timeit(lambda: numpy_sensor(v, v, kt), repeat=3)
        for th in (1, 2):
            ours, _ = timeit(lambda: dev.sensor_2d(v, v, noise=False, threads=th), repeat=5)
            what = "ground state" if kt == 0 else "thermal, 16 exp"
            t.add(f"DQD sensor {what}, {th} thread{'s' if th > 1 else ''}", ours, base, "numpy",
                  work=N * N, unit="evals", bytes_moved=8 * N * N, flops=16 * 4 * N * N)


def toy(t):
    rng = np.random.default_rng(3)
    p = qdot_ref.SENSING_PARAMS
    tup = (p.E_c1, p.E_c2, p.t_c, p.T, p.lever_arm, p.noise_level)
    states = np.array([(a, b) for a in range(5) for b in range(5)], dtype=np.intc)
    v1, v2 = rng.uniform(-1, 1, 4096), rng.uniform(-1, 1, 4096)
    np.testing.assert_allclose(_fastsci.qdot_toy_predict(tup, v1, v2, states),
                               qdot_ref.current_for_states(v1, v2, states, p), rtol=1e-12)
    work = 25 * 4096
    ours, _ = timeit(lambda: _fastsci.qdot_toy_predict(tup, v1, v2, states), repeat=20)
    base, _ = timeit(lambda: qdot_ref.current_for_states(v1, v2, states, p), repeat=20)
    t.add("toy current_for_state 25 x 4096", ours, base, "numpy port", work=work, unit="evals")
    # the reference's scalar loop on 25 x 64 pixels, scaled to the same work
    small1, small2 = v1[:64], v2[:64]
    loop, _ = timeit(lambda: qdot_ref.current_for_states_loop(small1, small2, states, p), repeat=3)
    t.add("toy, Python loop (64 px, scaled)", ours, loop * 64, "reference loop", work=work, unit="evals")


def agents(t):
    import time
    # physical agent: C, one thread, 10 trials; numpy, 2 trials (several seconds each)
    c = fastsci.qdot.bench(10, threads=1)
    ours = c["seconds_per_trial"]
    t0 = time.perf_counter()
    res = [qdot_phys_ref.run_trial(k, seed=1, particles=4000) for k in range(2)]
    base = (time.perf_counter() - t0) / 2
    assert all(r["success"] for r in res) and c["success_rate"] >= 0.9
    t.add("physical agent, one trial (1 thread)", ours, base, "numpy same agent", work=1, unit="trials")
    # compat agent, fast protocol
    c = fastsci.qdot.bench(10, compat=True, fast=True, threads=1)
    t0 = time.perf_counter()
    for k in range(10):
        qdot_ref.run_trial(k, 42, budget=512, max_steps=50)
    base = (time.perf_counter() - t0) / 10
    t.add("compat agent, fast trial (1 thread)", c["seconds_per_trial"], base, "numpy port", work=1, unit="trials")
    t0 = time.perf_counter()
    full = fastsci.qdot.bench(100)
    wall = time.perf_counter() - t0
    print(f"  100-trial physical benchmark on {fastsci.get_threads()} threads: {wall:.1f} s wall, "
          f"success {100 * full['success_rate']:.0f} %, {full['measurements_mean']:.0f} measurements", flush=True)
    t.rows.append(("100-trial physical benchmark, all cores", f"{wall * 1e3:.0f}", "", "(goal <= 60 s)", "",
                   f"{100 * full['success_rate']:.0f} % success", ""))


def main():
    t = Table("qdot: forward model", "Evaluations of the device model per second; ours with the thread count "
              "shown, numpy single-threaded as numpy is. Both produce the same values (checked in the run).")
    physical(t)
    toy(t)
    agents(t)
    t.record()


if __name__ == "__main__":
    main()
