"""n2v2: U-Net training steps and 512x512 inference, fastsci vs PyTorch 1.13, same network.

Both sides use 2 threads (torch.set_num_threads(2)) and the same network (bench/n2v2_torch.py
is the reference the parity tests check the C network against). A training step is forward +
masked MSE + backward + Adam on 64 x 64 patches; ours also draws the patches and masks them
(fastsci.n2v2.train with one epoch, no validation), PyTorch's uses a fixed batch and mask.
Our per-step time is the difference of two runs (N2 and N1 steps) divided by N2 - N1, so the
one-off set-up (plans, allocation) is excluded as it is for PyTorch's warm-up steps.
Inference: one 512 x 512 slice, eval mode, whole image (ours: the difference of a 6-slice
and a 1-slice prediction, divided by 5). Peak RSS: a fresh process running 5 training steps.
The oneDNN peak is PyTorch's conv2d (oneDNN) on a 16 x 64 x 64 x 64 input, 64 -> 64, 3 x 3.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import fastsci
from harness import Table

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import n2v2_torch as R  # noqa: E402

CONFIGS = [("n2v2", 4), ("n2v2", 16), ("openhcs", 4)]
THREADS = 2
N1, N2 = 3, 13
REPS = 3
GOAL_TRAIN, STRETCH_TRAIN, GOAL_INFER, GOAL_PEAK = 1.5, 2.0, 1.5, 0.60


def noisy_image(n=256):
    rng = np.random.default_rng(0)
    return (100 + 20 * rng.standard_normal((n, n))).astype(np.float32)


def our_train_seconds(preset, batch, steps):
    m = fastsci.n2v2.train(noisy_image(), preset=preset, batch=batch, epochs=1, steps=steps, val_patches=0,
                           threads=THREADS, seed=1)
    return m.figures["train_seconds"], m.figures["macs_per_patch"]


def our_step_ms(preset, batch):
    per = []
    macs = 0
    for _ in range(REPS):
        t1, macs = our_train_seconds(preset, batch, N1)
        t2, _ = our_train_seconds(preset, batch, N2)
        per.append((t2 - t1) / (N2 - N1))
    return 1e3 * statistics.median(per), macs


def our_infer_ms(preset):
    model = fastsci.n2v2.train(noisy_image(128), preset=preset, batch=2, epochs=1, steps=1, val_patches=0,
                               threads=THREADS)
    rng = np.random.default_rng(1)
    one = rng.standard_normal((1, 512, 512)).astype(np.float32)
    six = rng.standard_normal((6, 512, 512)).astype(np.float32)
    per = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        model.predict(one, threads=THREADS)
        t1 = time.perf_counter()
        model.predict(six, threads=THREADS)
        t2 = time.perf_counter()
        per.append(((t2 - t1) - (t1 - t0)) / 5)
    return 1e3 * statistics.median(per)


_LAUNCH = """
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def our_peak_rss_mb(preset, batch):
    cli = os.environ.get("FSCI_CLI") or os.path.join(HERE, "..", "build", "fastsci")
    with tempfile.TemporaryDirectory() as d:
        img = os.path.join(d, "img.npy")
        np.save(img, noisy_image())
        args = [cli, "n2v2", "train", img, "--preset", preset, "--batch", str(batch), "--epochs", "1", "--steps",
                "5", "--val-patches", "0", "--threads", str(THREADS), "--quiet", "-o", os.path.join(d, "m.fsnn")]
        out = subprocess.run([sys.executable, "-c", _LAUNCH] + args, capture_output=True, text=True,
                             check=True).stdout.split()
    if int(out[0]):
        raise RuntimeError(f"{' '.join(args)} exited with {out[0]}")
    return int(out[1]) / 1024.0


def onednn_peak_gflops():
    """The best of oneDNN's 3x3 convolution forward through PyTorch (its CPU convolutions are oneDNN)
    over a few layer shapes of these networks: (batch, channels in = out, side)."""
    import torch
    torch.set_num_threads(THREADS)
    best = 0.0
    for n, c, side in ((16, 64, 64), (1, 32, 512), (4, 128, 32), (4, 256, 16)):
        x = torch.randn(n, c, side, side)
        w = torch.randn(c, c, 3, 3)
        with torch.no_grad():
            for _ in range(2):
                torch.nn.functional.conv2d(x, w, padding=1)
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                torch.nn.functional.conv2d(x, w, padding=1)
                ts.append(time.perf_counter() - t0)
        best = max(best, 2 * n * c * c * 9 * side * side / statistics.median(ts) * 1e-9)
    return best


def verdict(ok):
    return "PASS" if ok else "FAIL"


def main():
    load = os.getloadavg()[0]
    print(f"  load average before the run: {load:.2f} (the timings are only fair on an idle machine)", flush=True)
    peak = onednn_peak_gflops()
    print(f"  oneDNN 3x3 conv peak (PyTorch conv2d, {THREADS} threads): {peak:.1f} GFLOP/s", flush=True)
    t = Table("n2v2: U-Net training and inference vs PyTorch 1.13",
              f"Training step (64 x 64 patches, Adam) and 512 x 512 inference, {THREADS} threads each, same "
              f"network (presets of bench/n2v2_torch.py). FLOPs = 3 x forward MACs x 2 per patch. oneDNN conv "
              f"peak measured in the same run: {peak:.1f} GFLOP/s. Load average at the start: {load:.2f}.")
    notes = []
    for preset, batch in CONFIGS:
        ours, macs = our_step_ms(preset, batch)
        torch_ms = R.time_train(preset, batch, steps=10, warmup=3, threads=THREADS)
        flops = 6 * macs * batch
        ratio = t.add(f"train {preset} batch {batch}", ours / 1e3, torch_ms / 1e3, "PyTorch", work=batch,
                      unit="patches", flops=flops)
        eff = flops / (ours / 1e3) * 1e-9 / peak
        notes.append(f"train {preset} b{batch}: {ratio:.2f}x PyTorch (goal {GOAL_TRAIN}x, stretch "
                     f"{STRETCH_TRAIN}x) {verdict(ratio >= GOAL_TRAIN)}; {100 * eff:.0f} % of the oneDNN peak")
        if preset == "openhcs":
            notes.append(f"openhcs training throughput {100 * eff:.0f} % of the oneDNN peak (goal "
                         f"{100 * GOAL_PEAK:.0f} %): {verdict(eff >= GOAL_PEAK)}")
    for preset in ("n2v2", "openhcs"):
        ours = our_infer_ms(preset)
        torch_ms = R.time_infer(preset, size=512, reps=3, threads=THREADS)
        model = fastsci.n2v2.train(noisy_image(128), preset=preset, batch=2, epochs=1, steps=1, val_patches=0)
        macs512 = model.figures["macs_per_patch"] * (512 * 512) / (64 * 64)
        ratio = t.add(f"infer {preset} 512x512", ours / 1e3, torch_ms / 1e3, "PyTorch", work=1, unit="slices",
                      flops=2 * macs512)
        notes.append(f"inference {preset}: {ratio:.2f}x PyTorch (goal {GOAL_INFER}x) {verdict(ratio >= GOAL_INFER)}")
    for preset, batch in CONFIGS:
        ours = our_peak_rss_mb(preset, batch)
        theirs = R.peak_rss_mb("train", preset, batch=batch, threads=THREADS, steps=5)
        notes.append(f"peak RSS train {preset} b{batch}: ours {ours:.0f} MB, PyTorch {theirs:.0f} MB: "
                     f"{verdict(ours <= theirs)}")
    for n in notes:
        print("  " + n, flush=True)
    t.record("; ".join(notes) + ".")


if __name__ == "__main__":
    main()
