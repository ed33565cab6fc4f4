"""PyTorch reference of the n2v2 engine: the U-Net, its raw weight file, one training step for
parity files, the N2V2 training pipeline on one image, timing helpers and artefact scores.

The network, the weight-file order, the loss, the optimiser and the masking rules are the
specification the C engine follows (doc/n2v2_torch_reference.md). Run with /usr/bin/python3
(Debian python3-torch 1.13, numpy; skimage for the test images):

  python3 bench/n2v2_torch.py parity --preset n2v2 --seed 1 --batch 4 --size 64 --out case.npz
  python3 bench/n2v2_torch.py denoise --image camera --sigma 25 --noise-seed 0 --steps 1000 --batch 16 --seed 1
  python3 bench/n2v2_torch.py time --preset n2v2 --batch 4 [--rss]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as Fn
from torch import nn

PRESETS = {
    # N2V2 as published (juglab/n2v PR #121, CAREamics): MaxBlurPool, no top skip, non-residual.
    "n2v2": dict(depth=2, width=32, kernel=3, residual=False, top_skip=False, pool="maxblur",
                 up="bilinear", bias=True),
    # The N2V baseline the checkerboard test compares against.
    "n2v": dict(depth=2, width=32, kernel=3, residual=True, top_skip=True, pool="max", up="bilinear",
                bias=True),
    # OpenHCS HEAD (trissim/openhcs 1480b843): BlurPool without max, ConvTranspose, no conv bias.
    "openhcs": dict(depth=4, width=64, kernel=3, residual=False, top_skip=False, pool="blur",
                    up="convT", bias=False),
}

# Default masking rule of each preset for train_denoise.
PRESET_MASKING = {"n2v2": "n2v2", "n2v": "n2v", "openhcs": "openhcs"}


# --------------------------------------------------------------------------------------------
# Network


class ConvBlock(nn.Module):
    """conv k x k -> BN -> ReLU -> conv k x k -> BN -> ReLU; 'same' zero padding, stride 1."""

    def __init__(self, cin, cout, kernel=3, bias=True):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias)
        self.bn1 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.conv2 = nn.Conv2d(cout, cout, kernel, padding=kernel // 2, bias=bias)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(x)))


class Pool(nn.Module):
    """Downsampling by 2: "max" (2x2 max, stride 2), "blur" (fixed [1,2,1]^T[1,2,1]/16 depthwise,
    stride 2, zero padding 1) or "maxblur" (2x2 max at stride 1, no padding, then the blur)."""

    def __init__(self, kind):
        super().__init__()
        if kind not in ("max", "blur", "maxblur"):
            raise ValueError(f"pool: unknown kind {kind!r} (max, blur, maxblur)")
        self.kind = kind
        b = torch.tensor([1.0, 2.0, 1.0])
        # Not persistent: the blur kernel is fixed and is no part of the state_dict or weight file.
        self.register_buffer("blur", (b[:, None] * b[None, :] / 16.0)[None, None], persistent=False)

    def forward(self, x):
        if self.kind == "max":
            return Fn.max_pool2d(x, 2, stride=2)
        if self.kind == "maxblur":
            x = Fn.max_pool2d(x, 2, stride=1)
        c = x.shape[1]
        return Fn.conv2d(x, self.blur.expand(c, 1, 3, 3).contiguous(), stride=2, padding=1, groups=c)


class DecLevel(nn.Module):
    """Decoder level l: up (ConvTranspose2d c -> F 2^l, k 2, s 2, or bilinear x2), concat
    [up, skip] if the level has a skip, then a ConvBlock to F 2^l."""

    def __init__(self, c, cout, up, skip, kernel, bias):
        super().__init__()
        if up == "convT":
            self.up = nn.ConvTranspose2d(c, cout, 2, stride=2, bias=True)
            cat = cout
        elif up == "bilinear":
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            cat = c
        else:
            raise ValueError(f"up: unknown kind {up!r} (convT, bilinear)")
        self.has_skip = skip
        if skip:
            cat += cout
        self.block = ConvBlock(cat, cout, kernel, bias)

    def forward(self, x, skip):
        x = self.up(x)
        if self.has_skip:
            x = torch.cat([x, skip], dim=1)
        return self.block(x)


class UNet(nn.Module):
    """U-Net of depth D (D stride-2 downsamplings) and width F (first level F channels, F 2^l at
    level l, F 2^D at the bottleneck). Input and output (B, 1, H, W) with H, W multiples of 2^D."""

    def __init__(self, depth=2, width=32, kernel=3, residual=False, top_skip=False, pool="maxblur",
                 up="bilinear", bias=True):
        super().__init__()
        if depth < 1 or width < 1 or kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"UNet: depth {depth}, width {width}, kernel {kernel} "
                             "(need depth >= 1, width >= 1, odd kernel)")
        self.cfg = dict(depth=depth, width=width, kernel=kernel, residual=residual,
                        top_skip=top_skip, pool=pool, up=up, bias=bias)
        self.depth, self.residual, self.top_skip = depth, residual, top_skip
        F = width
        # Registration order = state_dict order = weight-file order: enc, bottom, dec, final.
        self.enc = nn.ModuleList(
            ConvBlock(1 if l == 0 else F << (l - 1), F << l, kernel, bias) for l in range(depth))
        self.bottom = ConvBlock(F << (depth - 1), F << depth, kernel, bias)
        self.dec = nn.ModuleList(
            DecLevel(F << (l + 1), F << l, up, l > 0 or top_skip, kernel, bias)
            for l in range(depth - 1, -1, -1))
        self.final = nn.Conv2d(F, 1, 1, bias=True)
        self.pool = Pool(pool)

    def forward(self, x):
        inp, skips = x, []
        for l, enc in enumerate(self.enc):
            x = enc(x)
            skips.append(x if (l > 0 or self.top_skip) else None)
            x = self.pool(x)
        x = self.bottom(x)
        for i, dec in enumerate(self.dec):
            x = dec(x, skips[self.depth - 1 - i])
        x = self.final(x)
        return x + inp if self.residual else x


def make(preset, **overrides):
    """The network of a preset ("n2v2", "n2v", "openhcs"), with keyword overrides."""
    if preset not in PRESETS:
        raise ValueError(f"preset: unknown {preset!r} ({', '.join(PRESETS)})")
    cfg = dict(PRESETS[preset])
    cfg.update(overrides)
    return UNet(**cfg)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------
# Raw weight file: every state_dict entry except num_batches_tracked, in state_dict order,
# little-endian float32, concatenated, nothing else.


def _exported(model):
    return [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]


def manifest(model):
    """[(name, shape)] of the weight file, in file order."""
    return [(k, tuple(v.shape)) for k, v in _exported(model)]


def flat_weights(model):
    """The weight file's content as one float32 vector."""
    return np.concatenate([v.detach().cpu().numpy().astype("<f4").ravel() for _, v in _exported(model)])


def flat_grads(model):
    """Gradients in weight-file order; zeros for the running statistics (and missing grads)."""
    params = dict(model.named_parameters())
    out = []
    for k, v in _exported(model):
        p = params.get(k)
        g = p.grad if p is not None and p.grad is not None else torch.zeros_like(v)
        out.append(g.detach().cpu().numpy().astype("<f4").ravel())
    return np.concatenate(out)


def export_raw(model, path):
    flat_weights(model).tofile(path)


def load_flat(model, flat):
    """Load a float32 vector in weight-file order into model (exact length required)."""
    flat = np.asarray(flat, dtype="<f4").ravel()
    entries = _exported(model)
    total = sum(v.numel() for _, v in entries)
    if flat.size != total:
        raise ValueError(f"weights: {flat.size} floats, the model needs {total}")
    sd, off = model.state_dict(), 0
    with torch.no_grad():
        for k, v in entries:
            n = v.numel()
            sd[k].copy_(torch.from_numpy(flat[off:off + n].copy()).view_as(v))
            off += n


def import_raw(model, path):
    size = os.path.getsize(path)
    need = 4 * sum(v.numel() for _, v in _exported(model))
    if size != need:
        raise ValueError(f"{path}: {size} bytes, the model needs {need}")
    load_flat(model, np.fromfile(path, dtype="<f4"))


# --------------------------------------------------------------------------------------------
# Training step pieces


def masked_mse(pred, target, mask):
    """sum(mask (pred - target)^2) / sum(mask)."""
    return (mask * (pred - target) ** 2).sum() / mask.sum()


def make_optimizer(model, name="adam", lr=4e-4):
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8,
                                 weight_decay=0.01)
    raise ValueError(f"optimizer: unknown {name!r} (adam, adamw)")


def make_scheduler(opt):
    return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=10,
                                                      threshold=1e-4, threshold_mode="rel")


def parity_case(preset, seed, batch, size, lr, path_npz):
    """Write one parity case (doc/n2v2_torch_reference.md, "Parity file") and return its dict."""
    torch.manual_seed(seed)
    model = make(preset)
    B, H = batch, size
    x = torch.randn(B, 1, H, H)
    target = torch.randn(B, 1, H, H)
    mask = (torch.rand(B, 1, H, H) < 0.01).float()
    if mask.sum() == 0:
        mask[0, 0, 0, 0] = 1.0
    x512 = torch.randn(1, 1, 512, 512)
    weights = flat_weights(model)
    model.eval()
    with torch.no_grad():
        y_eval = model(x)
        y_eval_512 = model(x512)
    model.train()
    opt = make_optimizer(model, "adam", lr)
    opt.zero_grad()
    loss = masked_mse(model(x), target, mask)
    loss.backward()
    grads = flat_grads(model)
    opt.step()
    weights_after = flat_weights(model)
    model.eval()
    with torch.no_grad():
        y_eval_after = model(x)
    f32 = lambda t: t.detach().numpy().astype(np.float32)  # noqa: E731
    case = dict(weights=weights, x=f32(x), target=f32(target), mask=f32(mask), y_eval=f32(y_eval),
                loss=np.float64(loss.item()), grads=grads, weights_after=weights_after,
                x512=f32(x512), y_eval_512=f32(y_eval_512),
                # Beyond the minimum: the step's lr, and the eval forward with weights_after
                # (non-trivial running statistics and BN affine parameters).
                lr=np.float64(lr), y_eval_after=f32(y_eval_after))
    if path_npz:
        np.savez(path_npz, **case)  # uncompressed, for the C npz reader
    return case


# --------------------------------------------------------------------------------------------
# Masking (on one normalised 2-D patch, numpy float32; returns input, mask)


def stratified_points(shape, rng, perc=0.198):
    """N2V stratified blind spots: boxes of side round(sqrt(100/perc)) (22 for 0.198) tile the
    patch from (0, 0), one uniform point per box, points outside the patch dropped.
    Returns an (n, 2) int array of (y, x), boxes in row-major order."""
    box = int(round(math.sqrt(100.0 / perc)))
    if box < 1:
        raise ValueError(f"perc {perc}: box side {box}")
    H, W = shape
    ny, nx = -(-H // box), -(-W // box)
    off = rng.integers(0, box, size=(ny, nx, 2))
    ys = np.arange(ny)[:, None] * box + off[..., 0]
    xs = np.arange(nx)[None, :] * box + off[..., 1]
    keep = (ys < H) & (xs < W)
    return np.stack([ys[keep], xs[keep]], axis=1)


def median_replace(patch, pts, r=2):
    """N2V2 replacement: each blind spot gets np.median (mean of the two middle values for an even
    count) of its (2r+1)^2 window cropped at the patch border, excluding the centre and every
    other blind spot. Values come from the original patch."""
    H, W = patch.shape
    blind = np.zeros((H, W), bool)
    blind[pts[:, 0], pts[:, 1]] = True
    out = patch.copy()
    for y, x in pts:
        y0, y1, x0, x1 = max(0, y - r), min(H, y + r + 1), max(0, x - r), min(W, x + r + 1)
        vals = patch[y0:y1, x0:x1][~blind[y0:y1, x0:x1]]
        if vals.size == 0:
            raise ValueError(f"median_replace: no free pixel in the window of ({y}, {x}), r {r}")
        out[y, x] = np.median(vals)
    return out


def uniform_replace(patch, pts, rng, r=5):
    """N2V uniform_withCP: each blind spot gets the original value of a uniform random pixel of
    its (2r+1)^2 window cropped at the border, the centre included."""
    H, W = patch.shape
    out = patch.copy()
    for y, x in pts:
        yy = rng.integers(max(0, y - r), min(H, y + r + 1))
        xx = rng.integers(max(0, x - r), min(W, x + r + 1))
        out[y, x] = patch[yy, xx]
    return out


def openhcs_mask(patch, rng, prob=0.05):
    """OpenHCS HEAD: Bernoulli(prob) blind spots; each gets the lower median (torch.median: the
    4th smallest of 8) of its 3x3 ring read from the original patch with zero padding."""
    H, W = patch.shape
    m = rng.random((H, W)) < prob
    p = np.pad(patch, 1)
    ring = np.stack([p[1 + dy:1 + dy + H, 1 + dx:1 + dx + W]
                     for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx])
    med = np.sort(ring, axis=0)[3]
    return np.where(m, med, patch).astype(patch.dtype), m.astype(np.float32)


def mask_patch(patch, rng, masking, perc=0.198, prob=0.05):
    """(input, mask) for one patch under the rule "n2v2", "n2v" or "openhcs"."""
    if masking == "openhcs":
        return openhcs_mask(patch, rng, prob)
    pts = stratified_points(patch.shape, rng, perc)
    if masking == "n2v2":
        inp = median_replace(patch, pts, r=2)
    elif masking == "n2v":
        inp = uniform_replace(patch, pts, rng, r=5)
    else:
        raise ValueError(f"masking: unknown {masking!r} (n2v2, n2v, openhcs)")
    m = np.zeros(patch.shape, np.float32)
    m[pts[:, 0], pts[:, 1]] = 1.0
    return inp, m


# --------------------------------------------------------------------------------------------
# Training on one image


def sample_batch(img, rng, batch, patch, masking, augment=True, **mk):
    """Random patches (uniform positions), random flips and 90 degree rotations, masked.
    Returns float32 tensors input, target, mask of shape (batch, 1, patch, patch)."""
    H, W = img.shape
    if H < patch or W < patch:
        raise ValueError(f"image {H}x{W} smaller than the patch {patch}")
    inp = np.empty((batch, 1, patch, patch), np.float32)
    tgt, msk = np.empty_like(inp), np.empty_like(inp)
    for b in range(batch):
        y0, x0 = rng.integers(0, H - patch + 1), rng.integers(0, W - patch + 1)
        p = img[y0:y0 + patch, x0:x0 + patch]
        if augment:
            p = np.rot90(p, rng.integers(4))
            if rng.integers(2):
                p = p[:, ::-1]
        p = np.ascontiguousarray(p, np.float32)
        inp[b, 0], msk[b, 0] = mask_patch(p, rng, masking, **mk)
        tgt[b, 0] = p
    return torch.from_numpy(inp), torch.from_numpy(tgt), torch.from_numpy(msk)


def predict(model, img):
    """Eval-mode prediction of a normalised 2-D image of any size: reflect-padded at the bottom
    and right to a multiple of 2^depth, then cropped back."""
    H, W = img.shape
    m = 1 << model.depth
    ph, pw = -H % m, -W % m
    x = torch.from_numpy(np.ascontiguousarray(img, np.float32))[None, None]
    if ph or pw:
        x = Fn.pad(x, (0, pw, 0, ph), mode="reflect")
    model.eval()
    with torch.no_grad():
        y = model(x)
    return y[0, 0, :H, :W].numpy()


def train_denoise(noisy_image, preset="n2v2", steps=1000, batch=16, patch=64, lr=4e-4, seed=1,
                  masking=None, val_every=100, n_val=8, optimizer="adam", clip=None, threads=2,
                  perc=0.198, prob=0.05, history=None):
    """Train a preset's network on one noisy 2-D image with N2V masking and return the denoised
    image (float64, input units). masking defaults to the preset's rule. `history`, if a list,
    receives (step, mean train loss since the last validation, val loss, lr) rows."""
    torch.set_num_threads(threads)
    masking = masking or PRESET_MASKING[preset]
    img = np.asarray(noisy_image, np.float64)
    mean, std = img.mean(), img.std()
    norm = ((img - mean) / std).astype(np.float32)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model = make(preset)
    opt = make_optimizer(model, optimizer, lr)
    sched = make_scheduler(opt)
    mk = dict(perc=perc, prob=prob)
    vin, vtg, vmk = sample_batch(norm, np.random.default_rng([seed, 1]), n_val, patch, masking, **mk)
    run = []
    for step in range(1, steps + 1):
        model.train()
        inp, tgt, msk = sample_batch(norm, rng, batch, patch, masking, **mk)
        opt.zero_grad(set_to_none=True)
        loss = masked_mse(model(inp), tgt, msk)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        run.append(loss.detach())
        if step % val_every == 0 or step == steps:
            model.eval()
            with torch.no_grad():
                vl = masked_mse(model(vin), vtg, vmk).item()
            sched.step(vl)
            if history is not None:
                history.append((step, float(torch.stack(run).mean()), vl, opt.param_groups[0]["lr"]))
            run = []
    return predict(model, norm).astype(np.float64) * std + mean


def psnr(a, ref, data_range=255.0):
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(ref, np.float64)) ** 2)
    return 10.0 * math.log10(data_range ** 2 / mse)


def test_image(name):
    """A skimage.data image as float64 grey in 0..255."""
    import skimage.data
    import skimage.color
    im = getattr(skimage.data, name)()
    if im.ndim == 3:
        im = skimage.color.rgb2gray(im[..., :3]) * 255.0
    elif im.dtype == np.bool_:
        im = im * 255.0
    elif im.dtype == np.uint16:
        im = im / 257.0
    return np.asarray(im, np.float64)


# --------------------------------------------------------------------------------------------
# Periodic-artefact scores


def _ring_offsets(r0=2.0, r1=4.0):
    d = np.arange(-int(r1), int(r1) + 1)
    dy, dx = np.meshgrid(d, d, indexing="ij")
    rr = np.hypot(dy, dx)
    sel = (rr >= r0) & (rr <= r1)
    return dy[sel], dx[sel]


def checker_index(img, depth):
    """Mean over the U-Net aliasing frequencies (k/2^L, m/2^L) cycles/px, L = 1..depth,
    0 <= k, m < 2^L, DC excluded (each frequency once), of the power |FFT(img - mean)|^2 at that
    bin divided by the median power of the bins 2 to 4 bins away (periodic). Frequencies fall
    on the nearest bin when the size is not a multiple of 2^depth. About 1 to 1.5 for noise
    without artefacts; grows with a periodic pattern of period 2^L."""
    a = np.asarray(img, np.float64)
    H, W = a.shape
    P = np.abs(np.fft.fft2(a - a.mean())) ** 2
    dy, dx = _ring_offsets()
    bins = set()
    for L in range(1, depth + 1):
        n = 1 << L
        for k in range(n):
            for m in range(n):
                b = (int(round(k * H / n)) % H, int(round(m * W / n)) % W)
                if b != (0, 0):
                    bins.add(b)
    ratios = []
    for by, bx in sorted(bins):
        ring = P[(by + dy) % H, (bx + dx) % W]
        ratios.append(P[by, bx] / max(np.median(ring), 1e-300))
    return float(np.mean(ratios))


def polyphase_score(img):
    """|mu00 + mu11 - mu01 - mu10| / 4 over the means of the 2x2 phases (the amplitude of a
    +-a checkerboard)."""
    a = np.asarray(img, np.float64)
    H, W = a.shape[0] & ~1, a.shape[1] & ~1
    a = a[:H, :W]
    mu = [[a[i::2, j::2].mean() for j in (0, 1)] for i in (0, 1)]
    return float(abs(mu[0][0] + mu[1][1] - mu[0][1] - mu[1][0]) / 4.0)


# --------------------------------------------------------------------------------------------
# Benchmark helpers


def time_train(preset, batch, steps=20, warmup=3, threads=2, size=64, optimizer="adam"):
    """Median ms of one training step (forward + masked MSE + backward + optimiser step) on
    random data with a fixed mask of density 0.2 % (round(0.002 size^2) points a patch)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = make(preset)
    model.train()
    opt = make_optimizer(model, optimizer, 4e-4)
    x = torch.randn(batch, 1, size, size)
    tgt = torch.randn(batch, 1, size, size)
    npt = max(1, round(0.002 * size * size))
    mask = torch.zeros(batch, 1, size * size)
    for b in range(batch):
        mask[b, 0, torch.randperm(size * size)[:npt]] = 1.0
    mask = mask.view(batch, 1, size, size)
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = masked_mse(model(x), tgt, mask)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times[warmup:])


def time_infer(preset, size=512, reps=5, threads=2, warmup=1):
    """Median ms of one eval-mode no_grad forward of a (1, 1, size, size) slice."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = make(preset)
    model.eval()
    x = torch.randn(1, 1, size, size)
    times = []
    with torch.no_grad():
        for i in range(warmup + reps):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times[warmup:])


# A small launcher process runs the measurement as its own child and reports
# RUSAGE_CHILDREN. Linux keeps the pre-exec RSS of a forked process in its ru_maxrss, so a
# child forked straight from this (torch-sized) process would report at least our own RSS.
_RSS_LAUNCHER = """
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_mb(what, preset, batch=4, threads=2, steps=5, warmup=1, size=None):
    """Peak RSS (MB) of a fresh Python process that imports torch and runs time_train ("train")
    or time_infer ("infer"); the torch import alone is about 240 MB."""
    args = [sys.executable, os.path.abspath(__file__), "time", "--preset", preset, "--batch",
            str(batch), "--threads", str(threads), "--steps", str(steps), "--warmup", str(warmup),
            "--reps", str(steps), "--what", what]
    if size:
        args += ["--size", str(size)]
    out = subprocess.run([sys.executable, "-c", _RSS_LAUNCHER] + args, capture_output=True,
                         text=True, check=True).stdout.split()
    if int(out[0]):
        raise RuntimeError(f"peak_rss_mb: {' '.join(args)} exited with {out[0]}")
    return int(out[1]) / 1024.0  # Linux: KiB


# --------------------------------------------------------------------------------------------
# Command line


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("parity", help="write one parity case (.npz)")
    p.add_argument("--preset", default="n2v2", choices=list(PRESETS))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--out", required=True)
    p.add_argument("--raw", help="also write the initial weights as a raw file")
    d = sub.add_parser("denoise", help="train on a noisy skimage image, print PSNR")
    d.add_argument("--image", default="camera")
    d.add_argument("--sigma", type=float, default=25.0)
    d.add_argument("--noise-seed", type=int, default=0)
    d.add_argument("--preset", default="n2v2", choices=list(PRESETS))
    d.add_argument("--masking", choices=["n2v2", "n2v", "openhcs"])
    d.add_argument("--steps", type=int, default=1000)
    d.add_argument("--batch", type=int, default=16)
    d.add_argument("--patch", type=int, default=64)
    d.add_argument("--lr", type=float, default=4e-4)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--val-every", type=int, default=100)
    d.add_argument("--optimizer", default="adam", choices=["adam", "adamw"])
    d.add_argument("--clip", type=float)
    d.add_argument("--threads", type=int, default=2)
    d.add_argument("--out", help="save the denoised image (.npy, float64)")
    d.add_argument("--verbose", action="store_true")
    t = sub.add_parser("time", help="median ms per training step and per 512^2 slice (JSON)")
    t.add_argument("--preset", default="n2v2", choices=list(PRESETS))
    t.add_argument("--batch", type=int, default=4)
    t.add_argument("--steps", type=int, default=20)
    t.add_argument("--warmup", type=int, default=3)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--size", type=int, help="patch (train, default 64) or slice (infer, default 512)")
    t.add_argument("--reps", type=int, default=5)
    t.add_argument("--what", default="both", choices=["train", "infer", "both"])
    t.add_argument("--rss", action="store_true", help="also peak RSS of fresh processes")
    a = ap.parse_args(argv)

    if a.cmd == "parity":
        case = parity_case(a.preset, a.seed, a.batch, a.size, a.lr, a.out)
        if a.raw:
            case["weights"].astype("<f4").tofile(a.raw)
        print(json.dumps(dict(out=a.out, preset=a.preset, n_weights=int(case["weights"].size),
                              loss=float(case["loss"]))))
    elif a.cmd == "denoise":
        clean = test_image(a.image)
        noisy = clean + a.sigma * np.random.default_rng(a.noise_seed).standard_normal(clean.shape)
        hist = []
        t0 = time.perf_counter()
        den = train_denoise(noisy, a.preset, a.steps, a.batch, a.patch, a.lr, a.seed, a.masking,
                            val_every=a.val_every, optimizer=a.optimizer, clip=a.clip,
                            threads=a.threads, history=hist)
        wall = time.perf_counter() - t0
        if a.verbose:
            for h in hist:
                print(f"step {h[0]:6d}  train {h[1]:.5f}  val {h[2]:.5f}  lr {h[3]:.2e}", file=sys.stderr)
        if a.out:
            np.save(a.out, den)
        depth = PRESETS[a.preset]["depth"]
        print(json.dumps(dict(image=a.image, sigma=a.sigma, noise_seed=a.noise_seed, preset=a.preset,
                              masking=a.masking or PRESET_MASKING[a.preset], steps=a.steps,
                              batch=a.batch, seed=a.seed, psnr_noisy=round(psnr(noisy, clean), 3),
                              psnr_denoised=round(psnr(den, clean), 3), wall_s=round(wall, 1),
                              checker_index=round(checker_index(den, depth), 4),
                              polyphase=round(polyphase_score(den), 5))))
    else:
        out = dict(preset=a.preset, batch=a.batch, threads=a.threads,
                   params=n_params(make(a.preset)))
        if a.what in ("train", "both"):
            out["train_ms"] = round(time_train(a.preset, a.batch, a.steps, a.warmup, a.threads,
                                               size=a.size or 64), 2)
        if a.what in ("infer", "both"):
            out["infer_ms"] = round(time_infer(a.preset, a.size or 512, a.reps, a.threads), 2)
        if a.rss:
            for w in (["train", "infer"] if a.what == "both" else [a.what]):
                out[f"peak_rss_mb_{w}"] = round(peak_rss_mb(w, a.preset, a.batch, a.threads,
                                                            size=a.size), 1)
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
