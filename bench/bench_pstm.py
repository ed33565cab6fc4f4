"""pstm: prestack Kirchhoff time migration, fastsci.pstm.migrate vs numpy and PyTorch baselines.

Workloads (bench/pstm_workloads.py, research/pstm.md §7.1): W1-1K and W1-10K (2-D line, 1,000 or
10,000 traces of 1,000 samples into the CMP bins at 12.5 m covering their midpoints, 1,000
samples, aperture 2.5 km, 60 deg) and W2-1K (3-D narrow-azimuth, 1,000 traces of 500 samples into
200 x 200 bins at 25 m, 500 samples, aperture 1 km, 60 deg); W1-100K as well with
FSCI_BENCH_PSTM_BIG=1. For W1-10K the bench also prints the issue's goals (ours vs numpy single-
and two-threaded), our rate against the core's peak for the kernel's flop mix
(_fastsci_bench.pstm_mix_peak), and 1 vs 2 MPI ranks through the CLI on a SEG-Y copy. V_rms(t) =
1500 + 500 t m/s, taper 0.1, amplitude weights on; AA off and on. The work is the pair count of
doc/pstm.md: sum over traces of (columns with midpoint distance < aperture) x output samples
(pstm_workloads.count_pairs); rates are pairs/s and traces/s of that.

Baselines (bench/pstm_baseline.py): the vectorised numpy migration (1 thread; 2 = traces split
between 2 Python threads) and the PyTorch "original approach" (output tiles, torch CPU,
torch.set_num_threads(1); two torch threads only oversubscribed these 2 cores). They run once each, on an evenly strided subset of the traces
(W1-1K: all of them; W2-1K: FSCI_BENCH_PSTM_SUB2, default 250; W1-10K: FSCI_BENCH_PSTM_SUB1,
default 1000) and their time is scaled to the whole workload by the pair counts (pairs per
trace vary little inside one workload). Ours, when fastsci.pstm exists, runs on the whole
workload (median of up to 3 runs) with 1 and 2 threads, and once on the subset, whose image is
compared with the numpy baseline's (relative L2). Without fastsci.pstm the bench runs the
baselines alone, prints "fastsci.pstm not available" and records them with numpy (1 thread) in
the "ours" column.

Run time at the defaults: ~4 minutes for the baselines on a 2-core Xeon (numpy ~9e7 pairs/s
without AA, ~4e7 with; torch 2-4x slower single-threaded), ~+3 minutes with
FSCI_BENCH_PSTM_BIG=1; ours adds seconds.

GFLOP/s: flops per live sample (a sample inside the aperture, the angle cone and the trace,
pstm_workloads.count_live, estimated on <= 100 traces of the subset) times the live samples,
over the time. Per live sample, counting +, -, *, /, sqrt as one flop each and floor, min, max,
clamps and loads as none (doc/pstm.md §1 as written, with 1/ts and 1/tg shared):
  ts = sqrt(Q + ds2 S) 3, tg 3, u = (ts + tg - t0)/dt 3, phi = u - floor u 1, lerp 3,
  W_ang = (rho - r) irho 2, A: 1/ts, 1/tg 2 + c-bar 3 + Q/(ts tg) 2 + sqrt (2-D only) 1 + product 1,
  w = W_ap W_ang A 2, I += w v 2                      -> 28 flops (2-D), 27 (3-D) without AA;
  AA adds the slope (sx-ox)/ts + (gx-ox)/tg 3 (3-D: + the y term 3 and the hypot 4; 2-D |.| 0),
  gamma = S |.| 1, h = 1 + c gamma 2, u -+ h 2, two more lerps 8, (2 D(u) - D(u-h) - D(u+h))/h^2 5
                                                      -> 49 flops (2-D), 55 (3-D) with AA.
Environment: FSCI_BENCH_PSTM_BIG, FSCI_BENCH_PSTM_SUB1, FSCI_BENCH_PSTM_SUB2.
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # numpy's part: ufuncs are single-threaded; no BLAS threads either

import time  # noqa: E402

import numpy as np  # noqa: E402

import pstm_baseline as B  # noqa: E402
import pstm_workloads as W  # noqa: E402
from harness import Table, timeit  # noqa: E402

BIG = os.environ.get("FSCI_BENCH_PSTM_BIG", "0") not in ("", "0")
SUB1 = int(os.environ.get("FSCI_BENCH_PSTM_SUB1", "1000"))
SUB2 = int(os.environ.get("FSCI_BENCH_PSTM_SUB2", "250"))
FLOPS = {(2, False): 28, (2, True): 49, (3, False): 27, (3, True): 55}
THREADS = (1, 2)


def load_ours():
    try:
        import fastsci.pstm as P
        return P
    except ImportError:
        return None


def have_torch():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def base_kw(w):
    return dict(dt=w["dt"], t0=w["t0"], v=w["v"], x0=w["x0"], dx=w["dx"], nx=w["nx"], y0=w["y0"],
                dy=w["dy"], ny=w["ny"], nt=w["nt"], dtau=w["dtau"], aperture=w["aperture"], angle=w["angle"],
                taper=w["taper"], dim=w["dim"], weights=True)


def ours_call(P, w, idx, aa, threads):
    return lambda: P.migrate(traces=w["traces"][idx], sx=w["sx"][idx], sy=w["sy"][idx], gx=w["gx"][idx],
                             gy=w["gy"][idx], in_dt=w["dt"], in_t0=w["t0"], vrms=W.VRMS, x0=w["x0"],
                             dx=w["dx"], nx=w["nx"], y0=w["y0"], dy=w["dy"], ny=w["ny"], nt=w["nt"],
                             dt=w["dtau"], aperture=w["aperture"], angle=w["angle"], taper=w["taper"], aa=aa,
                             weights=True, dim=str(w["dim"]), threads=threads)


def rel_l2(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def once(fn, cpu=None):
    """Wall seconds of one call and its result; cpu, a list, gets the process CPU seconds."""
    c0, t0 = time.process_time(), time.perf_counter()
    r = fn()
    t = time.perf_counter() - t0
    if cpu is not None:
        cpu.append(time.process_time() - c0)
    return t, r


def median_runs(fn, budget=20.0, repeat=3):
    t, r = once(fn)
    if t > budget:
        return t, r
    med, _ = timeit(fn, repeat=max(1, min(repeat, int(budget / max(t, 1e-9)))), warmup=0)
    return med, r


def add(t, case, ours_s, base_s, baseline, pairs, ntr, flops):
    t.add(case, ours_s, base_s, baseline, work=pairs, unit="pairs", flops=flops)
    row = list(t.rows[-1])
    row[5] = f"{pairs / ours_s:,.3g} pairs/s, {ntr / ours_s:,.0f} traces/s"
    t.rows[-1] = tuple(row)


def bench_case(t, P, name, n, sub, notes, ours=None):
    """ours (a dict) receives {(aa, threads): (seconds, pairs evaluated)} of our runs."""
    w = W.workload(name, n)
    geo = (w["x0"], w["dx"], w["nx"], w["y0"], w["dy"], w["ny"], w["nt"], w["aperture"])
    pairs, _ = W.count_pairs(w["sx"], w["sy"], w["gx"], w["gy"], *geo)
    sub = min(sub, n)
    idx = np.unique(np.linspace(0, n - 1, sub).round().astype(int))
    psub, _ = W.count_pairs(w["sx"][idx], w["sy"][idx], w["gx"][idx], w["gy"][idx], *geo)
    few = idx[np.unique(np.linspace(0, idx.size - 1, min(100, idx.size)).round().astype(int))]
    pfew, _ = W.count_pairs(w["sx"][few], w["sy"][few], w["gx"][few], w["gy"][few], *geo)
    live = W.count_live(w["sx"][few], w["sy"][few], w["gx"][few], w["gy"][few], w["x0"], w["dx"], w["nx"],
                        w["y0"], w["dy"], w["ny"], w["nt"], w["dtau"], w["v"], w["aperture"], w["angle"],
                        w["ns"], w["dt"], w["t0"]) * pairs / pfew
    label = f"{name}-{n / 1000:g}K"
    scale = pairs / psub
    print(f"-- {label}: {n} traces x {w['ns']} samples -> {w['ny']} x {w['nx']} x {w['nt']}, "
          f"{pairs:.3g} pairs ({pairs / n:.3g}/trace), live {live / pairs:.0%}; baselines on {idx.size} traces "
          f"(x{scale:.2f})", flush=True)
    notes.append(f"{label}: {pairs:.3g} pairs, {pairs / n:.3g}/trace, live samples {live / pairs:.0%}; "
                 f"baselines on {idx.size} of {n} traces, times scaled by {scale:.2f}")
    kw = base_kw(w)
    a = [w[k][idx] for k in ("traces", "sx", "sy", "gx", "gy")]
    impls = [("numpy", B.migrate_numpy)] + ([("torch", B.migrate_torch)] if have_torch() else [])
    for nm, fn in impls:                  # warm-up (imports, FFT plans, thread pools), untimed
        for th in (THREADS if nm == "numpy" else (1,)):
            fn(*[x[:4] for x in a], aa=True, threads=th, **kw)
    for aa in (False, True):
        fl = FLOPS[(w["dim"], aa)] * live
        tag = f"{label} AA {'on' if aa else 'off'}"
        base = {}
        ref = None
        for nm, fn in impls:
            for th in (THREADS if nm == "numpy" else (1,)):  # torch: one thread (2 only oversubscribed here)
                cpu = []
                ts, img = once(lambda: fn(*a, aa=aa, threads=th, **kw), cpu)
                base[(nm, th)] = ts * scale
                if nm == "numpy" and th == 1:
                    ref = img
                else:
                    err = rel_l2(img, ref)
                    notes.append(f"{tag}: {nm} {th}T vs numpy 1T relative L2 {err:.1e}")
                notes.append(f"{tag}: {nm} {th}T {psub / ts:.3g} pairs/s wall, {psub / cpu[0]:.3g} per CPU second")
                print(f"  {tag:<18} {nm} {th}T: {ts:7.2f} s (CPU {cpu[0]:6.2f} s) on the subset = {psub / ts:.3g} pairs/s, "
                      f"{idx.size / ts:,.0f} traces/s, {FLOPS[(w['dim'], aa)] * live / scale / ts * 1e-9:.2f} "
                      f"GFLOP/s (live)", flush=True)
        if ours is not None:
            for th in THREADS:
                ours[("numpy", aa, th)] = base[("numpy", th)]
        if P is None:
            for (nm, th), bs in base.items():
                if (nm, th) != ("numpy", 1):
                    add(t, f"{tag} numpy 1T vs", base[("numpy", 1)], bs, f"{nm} {th}T", pairs, n, fl)
            continue
        _, mine = once(ours_call(P, w, idx, aa, 2))
        err = rel_l2(np.asarray(mine["image"])[:, :, 0, :], ref)
        print(f"  {tag}: ours vs numpy on the subset: relative L2 {err:.2e}", flush=True)
        notes.append(f"{tag}: ours vs numpy relative L2 {err:.1e}")
        del mine
        for th in THREADS:
            s, r = median_runs(ours_call(P, w, slice(None), aa, th))
            if ours is not None:
                ours[(aa, th)] = (s, r.get("pairs", float("nan")))
            print(f"  {tag:<18} ours {th}T: {s:7.3f} s (engine {r.get('seconds', float('nan')):.3f} s, "
                  f"{r.get('pairs', 0):.3g} pairs counted) = {pairs / s:.3g} pairs/s, {n / s:,.0f} traces/s",
                  flush=True)
            for nm, _ in impls:
                if (nm, th) in base:
                    add(t, f"{tag} {th}T", s, base[(nm, th)], f"{nm} {th}T", pairs, n, fl)
            del r


def main():
    P = load_ours()
    if P is None:
        print("  fastsci.pstm not available: baselines only", flush=True)
    if not have_torch():
        print("  torch not available (Debian python3-torch): numpy baseline only", flush=True)
    cases = [("W1", 1000, 1000), ("W1", 10000, SUB1), ("W2", 1000, SUB2)] + ([("W1", 100000, SUB1)] if BIG else [])
    what = "fastsci.pstm.migrate" if P else "baselines only (fastsci.pstm not available): numpy 1T in the 'ours' column"
    t = Table("pstm: prestack Kirchhoff time migration, W1/W2",
              f"{what}; workloads of research/pstm.md §7.1 (bench/pstm_workloads.py), weights on, taper 0.1, "
              "60 deg; pairs = traces x columns in aperture x output samples; baselines "
              "(bench/pstm_baseline.py: vectorised numpy, PyTorch output tiles) on a trace subset, scaled "
              "by pairs; GFLOP/s from 28/49 (2-D) or 27/55 (3-D) flops per live sample (AA off/on)")
    notes = [f"load average at start {os.getloadavg()[0]:.1f} (2-thread figures need two idle cores)"]
    t0 = time.perf_counter()
    w1 = {}
    for name, n, sub in cases:
        bench_case(t, P, name, n, sub, notes, w1 if (name, n) == ("W1", 10000) else None)
    if P is not None:
        for aa in (False, True):
            r1 = w1[("numpy", aa, 1)] / w1[(aa, 1)][0]
            r2 = w1[("numpy", aa, 1)] / w1[(aa, 2)][0]
            r22 = min(w1[("numpy", aa, th)] for th in THREADS) / w1[(aa, 2)][0]
            msg = (f"W1-10K AA {'on' if aa else 'off'}: ours 1T {r1:.1f}x numpy (goal >= 10x), ours 2T {r2:.1f}x numpy "
                   f"(goal >= 20x; {r22:.1f}x numpy split over 2 threads)")
            print(f"  {msg}: {'PASS' if r1 >= 10 and r2 >= 20 else 'FAIL'}", flush=True)
            notes.append(msg)
        kernel_peak(w1, notes)
        mpi_ranks(t, notes)
    print(f"  total {time.perf_counter() - t0:.0f} s", flush=True)
    notes.append(f"load average at the end {os.getloadavg()[0]:.1f}")
    t.record("; ".join(notes) + ".")


def kernel_peak(w1, notes):
    """Our W1-10K rate against the core's peak for the kernel's flop mix (AA off, 1 thread)."""
    import _fastsci_bench as F
    peak = max(F.pstm_mix_peak(threads=1) for _ in range(3))
    s, pairs = w1.get((False, 1), (float("nan"), float("nan")))
    frac = pairs / s / peak
    print(f"  W1-10K AA off, 1 thread: {pairs / s:.3g} samples/s evaluated = {100 * frac:.0f} % of the core's peak "
          f"for the kernel's flop mix ({peak:.3g}/s: 3 sqrt, 1 division, ~20 FMA per sample, L1-resident, "
          f"no gathers; bench/ext/py_pstm_bench.c) (goal >= 50 %): {'PASS' if frac >= 0.5 else 'FAIL'}",
          flush=True)
    notes.append(f"W1-10K AA off 1 thread: {pairs / s:.3g} samples/s = {100 * frac:.0f} % of the flop-mix peak "
                 f"{peak:.3g}/s (goal 50 %)")


def mpi_ranks(t, notes):
    """W1-10K from a SEG-Y file through the CLI: mpirun -np 1 and -np 2, one thread per rank."""
    import shutil
    import subprocess
    import tempfile
    cli, mpirun = os.environ.get("FSCI_CLI"), shutil.which("mpirun")
    if not cli or not mpirun:
        print("  MPI: skipped (needs FSCI_CLI and mpirun)", flush=True)
        return
    try:
        import segyio
    except ImportError:
        print("  MPI: skipped (needs python3-segyio)", flush=True)
        return
    w = W.workload("W1", 10000)
    tmp = tempfile.mkdtemp(prefix="pstm_bench_")
    path = os.path.join(tmp, "w1.sgy")
    spec = segyio.spec()
    spec.format, spec.samples, spec.tracecount = 5, np.arange(w["ns"]) * w["dt"] * 1e3, w["traces"].shape[0]
    with segyio.create(path, spec) as f:
        f.bin.update(hns=w["ns"], hdt=int(round(w["dt"] * 1e6)))
        for i in range(spec.tracecount):
            f.header[i] = {segyio.TraceField.SourceGroupScalar: -100,
                           segyio.TraceField.SourceX: int(round(w["sx"][i] * 100)),
                           segyio.TraceField.SourceY: int(round(w["sy"][i] * 100)),
                           segyio.TraceField.GroupX: int(round(w["gx"][i] * 100)),
                           segyio.TraceField.GroupY: int(round(w["gy"][i] * 100)),
                           segyio.TraceField.TRACE_SAMPLE_INTERVAL: int(round(w["dt"] * 1e6))}
        f.trace = w["traces"]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    args = [cli, "pstm", "migrate", path, "--threads", "1", "--vrms", W.VRMS, "--x0", str(w["x0"]),
            "--y0", str(w["y0"]), "--dx", str(w["dx"]), "--nx", str(w["nx"]), "--nt", str(w["nt"]), "--dt",
            str(w["dtau"]), "--aperture", str(w["aperture"]), "--angle", str(w["angle"]), "--taper",
            str(w["taper"])]
    import re
    times, engine = {}, {}
    for np_ in (1, 2):
        out = os.path.join(tmp, f"r{np_}.sgy")
        secs = []

        def run():
            p = subprocess.run([mpirun, "-np", str(np_)] + args + ["-o", out], env=env, check=True,
                               capture_output=True, text=True)
            secs.append(float(re.search(r"pairs in ([0-9.]+) s", p.stdout).group(1)))
        times[np_], _ = timeit(run, repeat=3, warmup=1)
        engine[np_] = float(np.median(secs[1:]))
    same = open(os.path.join(tmp, "r1.sgy"), "rb").read() == open(os.path.join(tmp, "r2.sgy"), "rb").read()
    shutil.rmtree(tmp, ignore_errors=True)
    sp, se = times[1] / times[2], engine[1] / engine[2]
    print(f"  W1-10K from SEG-Y, AA off, 1 thread per rank: mpirun -np 1 {times[1]:.2f} s, -np 2 {times[2]:.2f} s "
          f"wall = {sp:.2f}x; the migration itself (read, prepare, kernel, write) {engine[1]:.2f} s vs "
          f"{engine[2]:.2f} s = {se:.2f}x (goal >= 1.7x): {'PASS' if sp >= 1.7 else 'FAIL'} on wall time; images "
          f"identical: {same}", flush=True)
    t.add("W1-10K SEG-Y, 2 MPI ranks vs 1 (wall)", times[2], times[1], "mpirun -np 1")
    notes.append(f"MPI W1-10K from SEG-Y: 1 rank {times[1]:.2f} s, 2 ranks {times[2]:.2f} s wall = {sp:.2f}x "
                 f"(goal 1.7x; the migration phase {se:.2f}x), identical bytes {same}")


if __name__ == "__main__":
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
