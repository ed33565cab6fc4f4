"""Poisson draws: fastsci's Philox4x64-10 sampler against numpy's Generator(Philox).

Workload: 10^7 draws at lam = 0.5, 20 and 1e4 (scalar lam), and 10^7 draws with one
lam per element, log-uniform in [1e-2, 1e6] (the mix of a diffraction pattern, most
means above 10), seed fixed. The baseline is what a numpy user writes:
Generator(Philox(seed)).poisson(lam, n) or .poisson(lam_array), single-threaded as numpy is. Ours uses every core (results do not depend on the
thread count). Roofline: the output is 8 bytes per draw.
"""
import numpy as np

import fastsci
from harness import Table, timeit

N = 10_000_000


def main():
    t = Table("rng: Poisson draws", f"{N:.0e} int64 Poisson draws per run, scalar lam; "
              f"fastsci with {fastsci.get_threads()} threads vs numpy Generator(Philox).poisson.")
    gen = np.random.Generator(np.random.Philox(12345))
    for lam in (0.5, 20.0, 1e4):
        ours, _ = timeit(lambda: fastsci.random.poisson(lam, N, seed=12345))
        base, _ = timeit(lambda: gen.poisson(lam, N))
        t.add(f"lam = {lam:g}", ours, base, "numpy", work=N, unit="draws", bytes_moved=8 * N)
        x = fastsci.random.poisson(lam, N, seed=1)
        assert abs(x.mean() - lam) < 6 * np.sqrt(lam / N), "Poisson mean off"
    lam_arr = np.exp(np.random.default_rng(7).uniform(np.log(1e-2), np.log(1e6), N))
    ours, _ = timeit(lambda: fastsci.random.poisson(lam_arr, seed=12345))
    base, _ = timeit(lambda: gen.poisson(lam_arr))
    t.add("per-element lam 1e-2..1e6", ours, base, "numpy", work=N, unit="draws", bytes_moved=16 * N)
    x = fastsci.random.poisson(lam_arr, seed=1)
    z = (x - lam_arr) / np.sqrt(lam_arr)
    assert abs(z.mean()) < 6 / np.sqrt(N) and abs(z.var() - 1) < 0.01, "per-element Poisson moments off"
    ours, _ = timeit(lambda: fastsci.random.uniform(N, seed=1))
    base, _ = timeit(lambda: gen.random(N))
    t.add("uniform doubles", ours, base, "numpy", work=N, unit="draws", bytes_moved=8 * N)
    ours, _ = timeit(lambda: fastsci.random.normal(N, seed=1))
    base, _ = timeit(lambda: gen.standard_normal(N))
    t.add("standard normal doubles", ours, base, "numpy", work=N, unit="draws", bytes_moved=8 * N)
    t.record()


if __name__ == "__main__":
    main()
