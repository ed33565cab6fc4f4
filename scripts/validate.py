"""make validate: long-running checks of the science, each printed with its figure and
PASS/FAIL and recorded in doc/VALIDATION.md. Engines add their checks to CHECKS."""
import datetime
import os
import subprocess
import sys
import time

import numpy as np
from scipy import stats

import fastsci

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "doc", "VALIDATION.md")


def poisson_large_samples():
    """Poisson sampler: 10^7 draws per lambda over 12 decades, mean/variance z and chi-square."""
    rows, ok = [], True
    for i, lam in enumerate([1e-4, 1e-2, 0.3, 1, 5, 9.999, 10, 25, 300, 1e4, 1e6, 1e9]):
        # A seed per lambda: with one seed the samples would share their uniforms
        # and the z-scores would be correlated across lambdas.
        x = fastsci.random.poisson(lam, 10_000_000, seed=2026 + i)
        n = x.size
        zm = (x.mean() - lam) / np.sqrt(lam / n)
        # var of the sample variance of a Poisson: (lam + 2 lam^2 (n/(n-1))) / n
        zv = (x.var(ddof=1) - lam) / np.sqrt((lam + 2 * lam * lam) / n)
        lo, hi = stats.poisson.ppf(1e-7, lam), stats.poisson.ppf(1 - 1e-7, lam)
        edges = np.unique(np.linspace(lo, hi + 1, 60).astype(np.int64))
        obs = np.histogram(x, bins=np.append(edges, np.iinfo(np.int64).max))[0]
        cdf = stats.poisson.cdf(np.append(edges - 1, np.iinfo(np.int64).max - 1), lam)
        exp = np.diff(cdf) * n
        exp[0] += stats.poisson.cdf(edges[0] - 1, lam) * n
        keep = exp >= 5
        o2, e2 = obs[keep], exp[keep]
        o2 = np.append(o2, obs[~keep].sum())
        e2 = np.append(e2, exp[~keep].sum())
        if e2[-1] < 5:
            o2[-2] += o2[-1]
            e2[-2] += e2[-1]
            o2, e2 = o2[:-1], e2[:-1]
        p = stats.chisquare(o2, e2 * o2.sum() / e2.sum()).pvalue if len(o2) > 1 else 1.0
        good = abs(zm) < 4 and abs(zv) < 4 and p > 1e-3
        ok &= good
        rows.append(f"lam={lam:g}: z_mean={zm:+.2f} z_var={zv:+.2f} chi2 p={p:.3f}")
    return ok, "; ".join(rows)


def philox_long_stream():
    """Philox raw words equal numpy.random.Philox over 10^7 words for 3 keys, chunk by chunk."""
    n, chunk, ok = 10_000_000, 1024, True
    for seed, stream in [(0, 0), (1, 2), (2**63, 99)]:
        a = fastsci.random.raw(n, seed=seed, stream=stream)
        key = np.array([seed, stream], np.uint64)
        # Chunk c of a fill is numpy's stream for counter [0, 0, c, 0].
        for c in range(0, (n + chunk - 1) // chunk):
            ref = np.random.Philox(key=key, counter=np.array([0, 0, c, 0], np.uint64)).random_raw(chunk)
            got = a[c * chunk:(c + 1) * chunk]
            if not np.array_equal(got, ref[:got.size]):
                return False, f"key ({seed}, {stream}) chunk {c} differs"
    return ok, f"3 keys x {n} words identical to numpy"


CHECKS = [poisson_large_samples, philox_long_stream]


def main(argv):
    chosen = [c for c in CHECKS if not argv or any(a in c.__name__ for a in argv)]
    results = []
    for check in chosen:
        t0 = time.perf_counter()
        ok, figure = check()
        dt = time.perf_counter() - t0
        status = "PASS" if ok else "FAIL"
        print(f"{status} {check.__name__} ({dt:.1f} s): {check.__doc__.strip()}\n     {figure}", flush=True)
        results.append((check, status, figure, dt))
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    with open(OUT, "w") as f:
        f.write("# Validation\n\nWritten by `make validate` "
                f"({datetime.date.today()}, commit {rev or 'unknown'}). Each check states what it "
                "verifies; the figure is what this run measured.\n\n| check | result | figure | time |\n"
                "|---|---|---|---:|\n")
        for check, status, figure, dt in results:
            f.write(f"| {check.__doc__.strip()} | {status} | {figure} | {dt:.1f} s |\n")
    return 0 if all(r[1] == "PASS" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
