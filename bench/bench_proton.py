"""Proton transport: fastsci's engine against a vectorised numpy implementation of the same operators.

(a) The dense reference grid of doc/proton.md: 200 E x 72 theta (periodic) x 40 z x
40 x = 23.04 M float32 cells, dense = true, prune = 0, bilinear streaming, RANGE
grid of exactly 200 bins (ds = (R(230) - R(1)) / 200), a fixed pseudo-random psi
(_fastsci_bench.proton_bench_setup). Ours with 2 threads; the baseline is
bench/proton_baseline.py (numpy, single-threaded, float32, driven by the same plan
tables). Per operator and per step: median of 7 runs, each on the
initial psi (ours: reset before each call, timed in C around the call). After 10 steps
both phase spaces must agree to 1e-5 of max psi.

Bytes moved (GB/s = bytes / time) count the passes over psi the engine actually makes, one
read and one write of psi (4 bytes a cell) each, plus the per-bin angle sums W (8 bytes per
(bin, z, x)) where they are written and read back: A_theta alone 2 psi; A_E alone 3 psi
(the angle sums read psi, the gather reads and writes it) + 2 W; A_stream alone 2 psi; the
step (RANGE grid in water: A_E is the dose accounting plus a shift by one bin that A_stream
does in the same pass, see doc/proton_physics.md) 4 psi + 2 W: A_theta's pass (which also
forms W) and A_stream's. Write-allocate reads are not counted, as STREAM does not count them.
The STREAM triad (bench/ext/py_proton_bench.c) runs in the same process right after the
step timings with the same thread count; the bandwidth goal is step GB/s >= 80 % of it.
The step with straggling (the engine's default physics; off here so that the numpy
baseline applies) is timed on a second state with the same grid and psi: goal <= 1.15 x
the CSDA step.
(b) The full 150 MeV pencil beam on the default plan with sparsity on
(fastsci.proton.run(energy=150), every default), total wall seconds against the
2 s goal.
"""
import statistics

import numpy as np

import fastsci
import _fastsci_bench as F
from harness import Table, timeit
from proton_baseline import NumpyProton

DENSE = dict(ne=200, ntheta=72, nz=40, nx=40, threads=2)
STEP_GOAL_MS, STEP_STRETCH_MS = 60.0, 25.0
BW_GOAL = 0.8  # step GB/s / STREAM triad GB/s
STRAGGLING_GOAL = 1.15  # straggling step time / CSDA step time
REPEAT = 7
RATIO_GOAL, RATIO_STRETCH = 10.0, 30.0
PENCIL_GOAL_S = 2.0
VERIFY_STEPS = 10


def time_op(h, op, repeat=REPEAT):
    """Median seconds of one application of op to the initial psi (reset before each, not timed)."""
    times = []
    for _ in range(repeat + 1):  # the first is a warm-up
        F.proton_bench_reset(h)
        times.append(F.proton_bench_apply(h, op))
    return statistics.median(times[1:])


def verdict(ok, stretch):
    return "PASS (stretch met)" if stretch else ("PASS" if ok else "FAIL")


def main():
    h = F.proton_bench_setup(**DENSE)
    tab = F.proton_bench_tables(h)
    base = NumpyProton(tab)
    ncell = tab["ne"] * tab["ntheta"] * tab["nz"] * tab["nx"]
    psi0 = F.proton_bench_psi(h, True)
    print(f"  dense grid {tab['ne']} x {tab['ntheta']} x {tab['nz']} x {tab['nx']} = {ncell / 1e6:.2f} M cells, "
          f"ds = {tab['ds_mm']:.4f} mm, state {tab['mem_bytes'] / 1e6:.0f} MB, {tab['nthreads']} threads", flush=True)

    # correctness first: 10 steps of each
    F.proton_bench_reset(h)
    F.proton_bench_apply(h, "step", VERIFY_STEPS)
    ours_psi = F.proton_bench_psi(h)
    ref = psi0
    for _ in range(VERIFY_STEPS):
        ref = base.step(ref)
    err = float(np.max(np.abs(ours_psi.astype(np.float64) - ref)) / np.max(ref))
    agree = err <= 1e-5
    print(f"  after {VERIFY_STEPS} steps: max|dpsi| / max psi = {err:.2e} (limit 1e-5): {'PASS' if agree else 'FAIL'}",
          flush=True)

    t = Table("proton: dense transport step and 150 MeV pencil beam",
              f"Dense {tab['ne']} E x {tab['ntheta']} theta (periodic) x {tab['nz']} x {tab['nx']} "
              f"({ncell / 1e6:.2f} M cells, prune 0, bilinear): fastsci with {tab['nthreads']} threads vs "
              f"numpy (bench/proton_baseline.py); bytes = the passes over psi each operator makes (read + "
              f"write, 4 B/cell) + the angle sums (8 B per bin and cell, written and read): scatter 2 psi, "
              f"energy 3 psi + 2 W, stream 2 psi, step 4 psi + 2 W (A_E's shift is done in A_stream's "
              f"pass). Pencil: fastsci.proton.run(energy=150) with default settings (sparse) against the "
              f"{PENCIL_GOAL_S:g} s goal.")
    psi_bytes = 4 * ncell
    w_bytes = 8 * tab["ne"] * tab["nz"] * tab["nx"]  # the angle sums W of all bins
    moved = {"scatter": 2 * psi_bytes, "energy": 3 * psi_bytes + 2 * w_bytes, "stream": 2 * psi_bytes,
             "step": 4 * psi_bytes + 2 * w_bytes}
    flops = {"scatter": 5 * ncell, "energy": ncell, "stream": 7 * ncell, "step": 13 * ncell}
    times = {}
    for op in ("scatter", "energy", "stream", "step"):
        ours = time_op(h, op)
        fn = getattr(base, op)
        numpy_s, _ = timeit(lambda: fn(psi0), repeat=5)
        times[op] = (ours, numpy_s)
        t.add(f"dense {op}" if op != "step" else "dense step", ours, numpy_s, "numpy",
              bytes_moved=moved[op], flops=flops[op])
    # the STREAM triad right after our step timings, same threads
    step_s = time_op(h, "step")
    stream_gbs = F.stream_triad(threads=tab["nthreads"])
    step_ms = step_s * 1e3
    ratio = times["step"][1] / step_s
    step_gbs = moved["step"] / step_s / 1e9
    frac = step_gbs / stream_gbs
    print(f"  STREAM triad {stream_gbs:.1f} GB/s ({tab['nthreads']} threads); dense step moves "
          f"{moved['step'] / 1e9:.3f} GB (4 psi + 2 W) in {step_ms:.1f} ms = {step_gbs:.1f} GB/s = "
          f"{100 * frac:.0f} % of STREAM (goal >= {100 * BW_GOAL:.0f} %): {verdict(frac >= BW_GOAL, False)}")
    for op in ("scatter", "energy", "stream"):
        gbs = moved[op] / times[op][0] / 1e9
        print(f"    {op}: {times[op][0] * 1e3:.1f} ms, {moved[op] / 1e9:.3f} GB, {gbs:.1f} GB/s = "
              f"{100 * gbs / stream_gbs:.0f} % of STREAM")
    hs = F.proton_bench_setup(**DENSE, straggling=True)
    strag_s = time_op(hs, "step")
    plain_s = time_op(h, "step")  # the CSDA step again, next to it
    del hs
    sratio = strag_s / plain_s
    print(f"  step with straggling {strag_s * 1e3:.1f} ms vs {plain_s * 1e3:.1f} ms without = {sratio:.2f}x "
          f"(goal <= {STRAGGLING_GOAL:g}x): {verdict(sratio <= STRAGGLING_GOAL, False)}")
    print(f"  dense step {step_ms:.1f} ms (goal <= {STEP_GOAL_MS:g}, stretch {STEP_STRETCH_MS:g}): "
          f"{verdict(step_ms <= STEP_GOAL_MS, step_ms <= STEP_STRETCH_MS)}")
    print(f"  vs numpy {ratio:.1f}x (goal >= {RATIO_GOAL:g}x, stretch {RATIO_STRETCH:g}x): "
          f"{verdict(ratio >= RATIO_GOAL, ratio >= RATIO_STRETCH)}")
    del h, base, ref, ours_psi, psi0

    res = {}

    def pencil():
        res["r"] = fastsci.proton.run(energy=150)

    wall, _ = timeit(pencil, repeat=5)
    r = res["r"]
    t.add("150 MeV pencil, default plan", wall, PENCIL_GOAL_S, "goal")
    print(f"  150 MeV pencil: {wall:.3f} s wall ({r['seconds']:.3f} s in the engine, {r['steps']} steps, "
          f"R80 {r['R80']:.2f} mm) (goal <= {PENCIL_GOAL_S:g} s): {verdict(wall <= PENCIL_GOAL_S, False)}")
    t.record(note=f"10-step agreement {err:.1e} of max psi ({'PASS' if agree else 'FAIL'} at 1e-5); "
                  f"dense step {step_ms:.1f} ms, {ratio:.1f}x numpy; pencil {wall:.2f} s. STREAM triad (same "
                  f"run, 3 x 160 MB, {tab['nthreads']} threads) {stream_gbs:.1f} GB/s; the dense step moves "
                  f"{moved['step'] / 1e9:.3f} GB (4 psi + 2 W) at {step_gbs:.1f} GB/s = {100 * frac:.0f} % of "
                  f"STREAM (issue 9 goal >= {100 * BW_GOAL:.0f} %). Step with straggling {strag_s * 1e3:.1f} ms "
                  f"vs {plain_s * 1e3:.1f} ms CSDA = {sratio:.2f}x (goal <= {STRAGGLING_GOAL:g}x).")
    if not agree:
        raise SystemExit("bench proton: engine and numpy baseline disagree")


if __name__ == "__main__":
    main()
