"""numpy/scipy baselines for fastsci's ptycho engine (PtychoPINN's data pipeline).

Three variants of the same computation, each taking the inputs our engine takes
(object complex64 (H, W), probe complex64 (N, N), xcoords/ycoords float64,
seed, nphotons) and producing the arrays our engine writes:

- "old":   all-pairs grouping (``cdist`` + ``argpartition`` for every point, the
           O(n^2) structure the design note describes), per-patch full-canvas
           bilinear shift (``scipy.ndimage.shift(order=1)`` of the real and the
           imaginary part of the padded object, then crop), ``np.fft.fft2`` and
           ``default_rng(seed).poisson``.
- "fixed": PtychoPINN's sample-then-group grouping (cKDTree queried for the seed
           points only); extraction and physics as "old" (the fix did not touch them).
- "best":  an honest best-effort numpy reference: the same grouping as "fixed",
           vectorised gather-bilinear on (N+1)^2 windows in chunks (complex64),
           ``scipy.fft.fft2(workers=2)`` on complex64 in chunks, fftshift folded
           into the probe as a (-1)^(r+s) checkerboard, ``Generator(PCG64).poisson``
           (Philox on request: numpy's Poisson is slower with it).

Semantics (hoidn/PtychoPINN, ptycho/raw_data.py and ptycho/diffsim.py at 712c23f;
see doc/ptycho.md):

- groups: ``np.random.seed(seed)``; seeds = ``np.random.choice(n, B, replace=False)``,
  or all points in order when B == n; the K nearest non-self neighbours of each seed;
  per seed ``np.random.choice(neighbours, C, replace=False)`` in a Python loop.
- coords_nn (B,1,2,C) = [x, y][nn]; coords_offsets = mean over C; coords_relative =
  -(coords_nn - offsets); the sampling centre of pattern b*C + c is
  offsets + relative = 2*mean - coord (the TF convention, section 1.2).
- patch[r, s] = bilinear(obj, y = r + cy - N/2, x = s + cx - N/2), zeros outside.
- s = sqrt(nphotons / mean_p sum |patch_p * probe|^2); I = fftshift(|FFT2(s*patch*probe)|^2 / N^2);
  diffraction = sqrt(Poisson(I)) / s (noise) or sqrt(I) / s (no noise), float32.
- channel layout (B, N, N, C): pattern b*C + c is [b, :, :, c].
- X_full = float32(sqrt((N/2)^2 / mean_(b,c) sum_xy diff^2)) * diff.

Every variant computes the centres in float64 (PtychoPINN casts them to float32
before the TF translate; the difference is ~1e-5 pixel).
"""
import time

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

VARIANTS = ("old", "fixed", "best")
#: the grouped keys written by every variant (and by fastsci's engine with raw=False)
NPZ_KEYS = ("diffraction", "Y", "X_full", "coords_offsets", "coords_relative", "nn_indices",
            "xcoords", "ycoords", "probeGuess", "objectGuess")


# ---- deterministic inputs -------------------------------------------------------------------

def object_side(N):
    """Side of the synthetic object: round(3.5 N), as run_with_synthetic_lines.py (224 for N=64)."""
    return int(round(3.5 * N))


def make_object(N, seed=7, nlines=400):
    """A deterministic 'lines'-like complex64 object of side round(3.5 N): random
    line segments, Gaussian-blurred, as amplitude in [0.5, 1] and a smooth phase."""
    W = object_side(N)
    rng = np.random.default_rng(seed)
    img = np.zeros((W, W))
    t = np.linspace(0.0, 1.0, 4 * W)
    for _ in range(nlines):
        y0, x0, y1, x1 = rng.uniform(0, W - 1, 4)
        img[np.rint(y0 + t * (y1 - y0)).astype(int), np.rint(x0 + t * (x1 - x0)).astype(int)] += 1.0
    img = ndimage.gaussian_filter(img, 1.0)
    amp = 0.5 + 0.5 * img / img.max()
    yy, xx = np.mgrid[0:W, 0:W] / W
    phase = 1.5 * np.sin(2 * np.pi * xx) * np.cos(3 * np.pi * yy) + 0.5 * img / img.max()
    return (amp * np.exp(1j * phase)).astype(np.complex64)


def make_probe(N, scale=0.7):
    """A PtychoPINN-style low-pass disk probe: a centred disk of radius scale*N/4 in
    frequency space, transformed to real space, normalised to max |probe| = 1."""
    k = np.fft.fftfreq(N) * N
    ky, kx = np.meshgrid(k, k, indexing="ij")
    disk = (kx * kx + ky * ky <= (scale * N / 4) ** 2).astype(np.complex128)
    p = np.fft.fftshift(np.fft.ifft2(disk))
    return (p / np.abs(p).max()).astype(np.complex64)


def make_positions(N, n=5000, seed=42):
    """n scan positions uniform in [N/2, W - N/2] (simulate_and_save's buffer N/2), float64."""
    W = object_side(N)
    rng = np.random.default_rng(seed)
    return rng.uniform(N / 2, W - N / 2, n), rng.uniform(N / 2, W - N / 2, n)


# ---- grouping -------------------------------------------------------------------------------

def _check_group_args(n, K, C):
    if n < C:
        raise ValueError(f"Dataset has only {n} points but {C} coordinates per group requested.")
    if K < C:
        raise ValueError(f"K={K} must be >= C={C}")


def _seeds(n, nsamples):
    """PtychoPINN's seed choice (global numpy RNG, already seeded)."""
    b = min(nsamples, n)
    return np.arange(n) if b == n else np.random.choice(np.arange(n), size=b, replace=False)


def _choose(neighbours, seeds, C):
    """Per seed, C of its neighbours without replacement (one np.random.choice per seed, as
    PtychoPINN; the seed itself joins the pool only if fewer than C neighbours exist)."""
    groups = np.zeros((len(seeds), C), dtype=np.int32)
    for i in range(len(seeds)):
        avail = neighbours[i]
        if len(avail) < C:
            avail = np.concatenate([[seeds[i]], avail])
        groups[i] = np.random.choice(avail, size=C, replace=len(avail) < C)
    return groups


def group_fixed(xcoords, ycoords, K=4, gridsize=2, nsamples=5000, seed=42):
    """Sample-then-group (PtychoPINN _generate_groups_efficiently): (B, C) int32."""
    C = gridsize * gridsize
    n = len(xcoords)
    if seed is not None:
        np.random.seed(seed)
    _check_group_args(n, K, C)
    seeds = _seeds(n, nsamples)
    if C == 1:
        return seeds[:, None].astype(np.int32)
    coords = np.column_stack([xcoords, ycoords])
    _, nbr = cKDTree(coords).query(coords[seeds], k=min(K + 1, n))
    return _choose(nbr[:, 1:K + 1], seeds, C)


def group_old(xcoords, ycoords, K=4, gridsize=2, nsamples=5000, seed=42):
    """All-pairs grouping: the full n x n distance matrix (``cdist``) and ``argpartition``
    for every point, then the same seed and per-seed choice as group_fixed. With distinct
    distances it returns exactly group_fixed's groups (same RNG calls, same neighbour order)."""
    C = gridsize * gridsize
    n = len(xcoords)
    if seed is not None:
        np.random.seed(seed)
    _check_group_args(n, K, C)
    coords = np.column_stack([xcoords, ycoords])
    d = cdist(coords, coords)
    k1 = min(K + 1, n)
    part = np.argpartition(d, k1 - 1, axis=1)[:, :k1]
    order = np.argsort(np.take_along_axis(d, part, axis=1), axis=1, kind="stable")
    nbr_all = np.take_along_axis(part, order, axis=1)   # self first, then by distance
    del d
    seeds = _seeds(n, nsamples)
    if C == 1:
        return seeds[:, None].astype(np.int32)
    return _choose(nbr_all[seeds, 1:K + 1], seeds, C)


def group_coords(xcoords, ycoords, nn):
    """coords_offsets (B,1,2,1), coords_relative (B,1,2,C) and the flat sampling centres
    cx, cy (P = B*C, pattern b*C + c) of PtychoPINN's get_relative_coords / get_image_patches."""
    coords_nn = np.stack([xcoords[nn], ycoords[nn]], axis=1)[:, None, :, :]   # (B,1,2,C)
    offsets = np.mean(coords_nn, axis=3)[..., None]
    relative = -1.0 * (coords_nn - offsets)      # local_offset_sign = -1
    centre = offsets + relative
    return offsets, relative, centre[:, 0, 0, :].reshape(-1), centre[:, 0, 1, :].reshape(-1)


# ---- patch extraction -----------------------------------------------------------------------

def extract_per_patch_shift(obj, cx, cy, N, C, count=None):
    """PtychoPINN's per-patch loop: pad the object by N/2 zeros, shift the whole padded canvas
    (real and imaginary part separately, bilinear, zeros outside) by (-cy, -cx), keep [:N, :N].
    scipy.ndimage.shift gives out[i] = in[i - shift], so out[r, s] = padded[r + cy, s + cx]
    = obj[r + cy - N/2, s + cx - N/2]. Returns Y in channel layout (B, N, N, C) complex64;
    with `count`, only the first `count` patterns are computed (the rest stay zero)."""
    h = N // 2
    P = len(cx)
    count = P if count is None else min(count, P)
    pad_re = np.pad(obj.real.astype(np.float32), h)
    pad_im = np.pad(obj.imag.astype(np.float32), h)
    Y = np.zeros((P // C, N, N, C), dtype=np.complex64)
    for i in range(count):
        sh = (-cy[i], -cx[i])
        re = ndimage.shift(pad_re, sh, order=1, mode="constant", cval=0.0)
        im = ndimage.shift(pad_im, sh, order=1, mode="constant", cval=0.0)
        Y[i // C, :, :, i % C] = re[:N, :N] + 1j * im[:N, :N]
    return Y


def _bilinear_setup(obj, cx, cy, N):
    """Integer window origin and fractions of every pattern, and the (N+1)^2 windows of the
    object zero-padded far enough that every window lies inside."""
    h = N // 2
    y0 = np.asarray(cy, np.float64) - h
    x0 = np.asarray(cx, np.float64) - h
    iy = np.floor(y0).astype(np.int64)
    ix = np.floor(x0).astype(np.int64)
    fy = (y0 - iy).astype(np.float32)
    fx = (x0 - ix).astype(np.float32)
    H, W = obj.shape
    pad = int(max(1, -iy.min(), -ix.min(), iy.max() + N + 1 - H, ix.max() + N + 1 - W))
    objp = np.pad(obj.astype(np.complex64, copy=False), pad)
    win = sliding_window_view(objp, (N + 1, N + 1))
    return win, iy + pad, ix + pad, fy, fx


def extract_vectorised(obj, cx, cy, N, C, chunk_groups=64, first=None, count=None):
    """Vectorised gather-bilinear: per chunk of groups, gather the (N+1)^2 windows with one
    fancy index, then two in-place lerps (x, then y) on the float32 view of the complex64
    windows. Returns Y (B, N, N, C) complex64. `first`/`count` (patterns, multiples of C)
    restrict the work to a slice of groups."""
    win, iy, ix, fy, fx = _bilinear_setup(obj, cx, cy, N)
    P = len(cx)
    B = P // C
    g_first = 0 if first is None else first // C
    g_end = B if count is None else min(B, g_first + -(-count // C))
    Y = np.empty((g_end - g_first, N, N, C), dtype=np.complex64)
    Yv = Y.transpose(0, 3, 1, 2)                 # (B, C, N, N) view
    n_max = chunk_groups * C
    t = np.empty((n_max, N + 1, 2 * N), np.float32)
    o = np.empty((n_max, N, 2 * N), np.float32)
    for g0 in range(g_first, g_end, chunk_groups):
        g1 = min(g_end, g0 + chunk_groups)
        p = slice(g0 * C, g1 * C)
        n = (g1 - g0) * C
        w = win[iy[p], ix[p]].view(np.float32)   # (n, N+1, 2(N+1)): re, im interleaved
        tt, oo = t[:n], o[:n]
        np.subtract(w[:, :, 2:], w[:, :, :-2], out=tt)     # x lerp: a + fx (b - a)
        tt *= fx[p][:, None, None]
        tt += w[:, :, :-2]
        np.subtract(tt[:, 1:], tt[:, :-1], out=oo)         # y lerp
        oo *= fy[p][:, None, None]
        oo += tt[:, :-1]
        Yv[g0 - g_first:g1 - g_first] = oo.view(np.complex64).reshape(g1 - g0, C, N, N)
    return Y


# ---- diffraction ----------------------------------------------------------------------------

def dataset_scale(Y, probe, nphotons, chunk_groups=64):
    """s = sqrt(nphotons / mean_p sum_xy |patch_p * probe|^2) (diffsim.scale_nphotons): per-pattern
    sums in float32 (as TF), accumulated over patterns in float64."""
    B, N, _, C = Y.shape
    p2 = (probe.real.astype(np.float32) ** 2 + probe.imag.astype(np.float32) ** 2).ravel()
    total = 0.0
    for g0 in range(0, B, chunk_groups):
        a = Y[g0:g0 + chunk_groups]
        a2 = a.real * a.real
        a2 += a.imag * a.imag
        total += float((p2 @ a2.reshape(-1, N * N, C)).sum(dtype=np.float64))
    return float(np.sqrt(nphotons / (total / (B * C))))


def normalise(diff, chunk_groups=256):
    """X_full = float32(sqrt((N/2)^2 / mean_(b,c) sum_xy diff^2)) * diff (raw_data.normalize_data)."""
    B, N, _, C = diff.shape
    total = 0.0
    for g0 in range(0, B, chunk_groups):
        d = diff[g0:g0 + chunk_groups].astype(np.float64)
        total += float(np.einsum("bxyc,bxyc->", d, d))
    return np.float32(np.sqrt((N / 2) ** 2 / (total / (B * C)))) * diff


def diffract_numpy(Y, probe, nphotons, seed=42, noise=True, chunk_groups=64, scale=None):
    """The "old"/"fixed" physics: np.fft.fft2 (complex128), fftshift, default_rng(seed).poisson,
    in chunks of groups (the draws follow the flat order b*C + c, whatever the chunk size).
    Returns (diffraction (B, N, N, C) float32, s)."""
    B, N, _, C = Y.shape
    s = dataset_scale(Y, probe, nphotons) if scale is None else scale
    rng = np.random.default_rng(seed)
    diff = np.empty((B, N, N, C), dtype=np.float32)
    dv = diff.transpose(0, 3, 1, 2)
    for g0 in range(0, B, chunk_groups):
        psi = s * Y[g0:g0 + chunk_groups].transpose(0, 3, 1, 2) * probe
        I = np.fft.fftshift(np.abs(np.fft.fft2(psi)) ** 2 / (N * N), axes=(-2, -1))
        amp = np.sqrt(rng.poisson(I)) / s if noise else np.sqrt(I) / s
        dv[g0:g0 + chunk_groups] = amp
    return diff, s


def diffract_best(Y, probe, nphotons, seed=42, noise=True, chunk_groups=64, workers=2, scale=None,
                  bitgen="pcg64"):
    """Best-effort numpy physics: complex64 scipy.fft.fft2(workers=2) in chunks of 4*chunk_groups
    patterns, fftshift folded into the probe (for even N, FFT(x * (-1)^(r+s))[k] =
    FFT(x)[(k + N/2) mod N] = fftshift(FFT(x))[k]), intensity in float32, and
    Generator(bitgen(seed)).poisson. bitgen "pcg64" (default_rng's generator; numpy's Poisson is
    ~1.5x faster with it than with Philox on this machine) or "philox".
    Returns (diffraction (B, N, N, C) float32, s)."""
    B, N, _, C = Y.shape
    s = dataset_scale(Y, probe, nphotons) if scale is None else scale
    r = np.arange(N)
    checker = np.where((r[:, None] + r[None, :]) % 2 == 0, 1.0, -1.0)
    probe_s = (s * checker * probe).astype(np.complex64)
    gen = np.random.Generator({"pcg64": np.random.PCG64, "philox": np.random.Philox}[bitgen](seed))
    inv_n2 = np.float32(1.0 / (N * N))
    inv_s = np.float32(1.0 / s)
    diff = np.empty((B, N, N, C), dtype=np.float32)
    dv = diff.transpose(0, 3, 1, 2)
    for g0 in range(0, B, chunk_groups):
        psi = Y[g0:g0 + chunk_groups].transpose(0, 3, 1, 2) * probe_s
        F = scipy.fft.fft2(psi, workers=workers, overwrite_x=True)
        I = F.real * F.real
        I += F.imag * F.imag
        I *= inv_n2
        if noise:
            amp = np.sqrt(gen.poisson(I).astype(np.float32))
        else:
            amp = np.sqrt(I)
        amp *= inv_s
        dv[g0:g0 + chunk_groups] = amp
    return diff, s


# ---- write ----------------------------------------------------------------------------------

def write_npz(path, arrays):
    """Uncompressed NPZ (np.savez) of the grouped keys, in NPZ_KEYS order."""
    np.savez(path, **{k: arrays[k] for k in NPZ_KEYS})


# ---- whole variants -------------------------------------------------------------------------

def run_variant(variant, obj, probe, xcoords, ycoords, K=4, gridsize=2, n_groups=None, seed=42,
                nphotons=1e9, noise=True, output=None, patch_limit=None):
    """Run one baseline end to end on the given inputs.

    Returns (arrays, times): arrays holds NPZ_KEYS (+ 'intensity_scale'); times the wall
    seconds of 'group' (incl. coordinates), 'extract', 'diffract' (scale, FFT, noise, X_full),
    'write' (0 without `output`) and 'total'. For "old"/"fixed", `patch_limit` runs the
    per-patch loop on the first patch_limit patterns only and extrapolates its time linearly
    to all patterns (times['extract_measured'], times['extract_count'] keep the raw figures);
    the remaining patterns are then filled by the vectorised extractor, untimed, so that the
    later stages see the full data set.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}")
    obj = np.asarray(obj, np.complex64)
    probe = np.asarray(probe, np.complex64)
    xcoords = np.asarray(xcoords, np.float64)
    ycoords = np.asarray(ycoords, np.float64)
    N = probe.shape[0]
    C = gridsize * gridsize
    nsamples = len(xcoords) if n_groups is None else n_groups
    times = {}

    t0 = time.perf_counter()
    grouper = group_old if variant == "old" else group_fixed
    nn = grouper(xcoords, ycoords, K, gridsize, nsamples, seed)
    offsets, relative, cx, cy = group_coords(xcoords, ycoords, nn)
    times["group"] = time.perf_counter() - t0

    P = len(cx)
    t0 = time.perf_counter()
    if variant == "best":
        Y = extract_vectorised(obj, cx, cy, N, C)
        times["extract"] = time.perf_counter() - t0
    else:
        count = P if patch_limit is None else max(C, min(P, (patch_limit // C) * C))
        Y = extract_per_patch_shift(obj, cx, cy, N, C, count=count)
        t = time.perf_counter() - t0
        times["extract_measured"], times["extract_count"] = t, count
        times["extract"] = t * P / count
        if count < P:
            Y[count // C:] = extract_vectorised(obj, cx, cy, N, C, first=count)

    t0 = time.perf_counter()
    if variant == "best":
        diff, s = diffract_best(Y, probe, nphotons, seed=seed, noise=noise)
    else:
        diff, s = diffract_numpy(Y, probe, nphotons, seed=seed, noise=noise)
    X_full = normalise(diff)
    times["diffract"] = time.perf_counter() - t0

    arrays = dict(diffraction=diff, Y=Y, X_full=X_full, coords_offsets=offsets,
                  coords_relative=relative, nn_indices=nn, xcoords=xcoords, ycoords=ycoords,
                  probeGuess=probe, objectGuess=obj, intensity_scale=s)
    t0 = time.perf_counter()
    if output is not None:
        write_npz(output, arrays)
    times["write"] = time.perf_counter() - t0 if output is not None else 0.0
    times["total"] = times["group"] + times["extract"] + times["diffract"] + times["write"]
    return arrays, times


def _selftest():
    """Small consistency checks of the baselines against each other and the patch formula."""
    N, C = 32, 4
    obj, probe = make_object(N), make_probe(N)
    x, y = make_positions(N, n=200, seed=1)
    g_old, g_fix = group_old(x, y, 4, 2, 150, 3), group_fixed(x, y, 4, 2, 150, 3)
    assert np.array_equal(g_old, g_fix), "old and fixed grouping differ"
    g_all = group_fixed(x, y, 4, 2, 200, 3)
    d = cdist(np.column_stack([x, y]), np.column_stack([x, y]))
    for b in range(200):       # B == n: seed b, group = its 4 nearest non-self neighbours
        assert set(g_all[b]) == set(np.argsort(d[b])[1:5]), "group is not the 4-NN of its seed"
    off, rel, cx, cy = group_coords(x, y, g_fix)
    assert np.allclose(cx.reshape(-1, C), 2 * x[g_fix].mean(1, keepdims=True) - x[g_fix])
    Y1 = extract_per_patch_shift(obj, cx, cy, N, C, count=40)[:10]
    Y2 = extract_vectorised(obj, cx, cy, N, C)
    assert np.abs(Y1 - Y2[:10]).max() < 1e-5 * np.abs(obj).max(), "per-patch and vectorised differ"
    # the formula itself at one pattern, with a point well inside
    p = 5
    r, s_ = 3, 7
    yy, xx = r + cy[p] - N / 2, s_ + cx[p] - N / 2
    i, j = int(np.floor(yy)), int(np.floor(xx))
    a, b = yy - i, xx - j
    ref = ((1 - a) * (1 - b) * obj[i, j] + (1 - a) * b * obj[i, j + 1]
           + a * (1 - b) * obj[i + 1, j] + a * b * obj[i + 1, j + 1])
    assert abs(Y2[p // C, r, s_, p % C] - ref) < 1e-5, "bilinear formula"
    d1, s1 = diffract_numpy(Y2, probe, 1e9, noise=False)
    d2, s2 = diffract_best(Y2, probe, 1e9, noise=False)
    assert abs(s1 / s2 - 1) < 1e-12
    assert np.abs(d1 - d2).max() < 1e-4 * d1.max(), "numpy and best diffraction differ"
    # Parseval: sum A^2 = sum |patch * probe|^2
    e = np.sum(np.abs(Y2[0, :, :, 0] * probe) ** 2)
    assert abs(np.sum(d1[0, :, :, 0].astype(np.float64) ** 2) / e - 1) < 1e-5
    dn, s = diffract_best(Y2, probe, 1e6, noise=True)
    counts = (dn.astype(np.float64) * s) ** 2
    assert abs(counts.sum(axis=(1, 2)).mean() / 1e6 - 1) < 1e-2
    out = {}
    for v in VARIANTS:
        arrays, _ = run_variant(v, obj, probe, x, y, n_groups=150, nphotons=1e6, noise=False,
                                patch_limit=80)
        x2 = np.sum(arrays["X_full"].astype(np.float64) ** 2, axis=(1, 2))
        assert abs(x2.mean() / (N / 2) ** 2 - 1) < 1e-5, "X_full normalisation"
        out[v] = arrays
    for v in ("fixed", "best"):
        assert np.array_equal(out[v]["nn_indices"], out["old"]["nn_indices"])
        dv, do = out[v]["diffraction"], out["old"]["diffraction"]
        assert np.abs(dv - do).max() < 1e-4 * do.max(), f"{v} and old differ"
    print("ptycho_baselines: self-test passed")


if __name__ == "__main__":
    _selftest()
