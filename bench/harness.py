"""Benchmark harness: time our C path and a Python baseline on the same input in
one run, print both with their ratio, and append the rows to bench/RESULTS.md.

Run through ``make bench`` (or ``/usr/bin/python3 bench/run.py [name ...]``)
with PYTHONPATH pointing at build/python.
"""
import datetime
import os
import platform
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "RESULTS.md")


def timeit(fn, repeat=5, warmup=1, setup=None):
    """Median and minimum wall time of fn() over `repeat` runs after `warmup` runs; setup(),
    if given, runs untimed before every call."""
    for _ in range(warmup):
        if setup:
            setup()
        fn()
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def machine():
    model = platform.processor() or "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def commit():
    try:
        rev = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", HERE, "status", "--porcelain", "--untracked-files=no", "--",
                                ":(top)", ":(top,exclude)bench/RESULTS.md"],
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class Table:
    """Rows of one benchmark: what was measured, ours, baseline, ratio, roofline figure."""

    def __init__(self, name, description):
        self.name = name
        self.description = description
        self.rows = []

    def add(self, case, ours_s, base_s, baseline, work=None, unit="items", bytes_moved=None, flops=None):
        """One comparison. Times are medians in seconds; `work` items per run give rates."""
        ratio = base_s / ours_s if ours_s > 0 else float("inf")
        rate = f"{work / ours_s:,.3g} {unit}/s" if work else ""
        roof = []
        if bytes_moved:
            roof.append(f"{bytes_moved / ours_s * 1e-9:.2f} GB/s")
        if flops:
            roof.append(f"{flops / ours_s * 1e-9:.2f} GFLOP/s")
        row = (case, f"{ours_s * 1e3:.2f}", f"{base_s * 1e3:.2f}", baseline, f"{ratio:.1f}x", rate, ", ".join(roof))
        self.rows.append(row)
        print(f"  {case:<34} ours {ours_s * 1e3:9.2f} ms  {baseline} {base_s * 1e3:9.2f} ms  "
              f"ratio {ratio:6.1f}x  {rate}  {', '.join(roof)}", flush=True)
        return ratio

    def record(self, note=""):
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        new = not os.path.exists(RESULTS)
        with open(RESULTS, "a") as f:
            if new:
                f.write("# Benchmark results\n\nAppended by `make bench`: each run of a benchmark adds one table "
                        "(median of repeated runs; ratio = baseline time / our time).\n")
            f.write(f"\n## {self.name} — {stamp}, commit {commit()}\n\n")
            f.write(f"{self.description}  \nMachine: {machine()}.{' ' + note if note else ''}\n\n")
            f.write("| case | ours (ms) | baseline (ms) | baseline | ratio | our rate | roofline |\n")
            f.write("|---|---:|---:|---|---:|---:|---|\n")
            for r in self.rows:
                f.write("| " + " | ".join(r) + " |\n")
