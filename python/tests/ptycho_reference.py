"""Float64 numpy reference of the ptycho engine's semantics (PtychoPINN's conventions),
written independently of the C code for the tests."""
import numpy as np


def relative_coords(x, y, nn):
    """coords_nn (B,1,2,C), coords_offsets (B,1,2,1), coords_relative (B,1,2,C)."""
    coords_nn = np.stack([x[nn], y[nn]], axis=1)[:, None, :, :]
    offsets = coords_nn.mean(axis=3)[..., None]
    relative = -1.0 * (coords_nn - offsets)
    return coords_nn, offsets, relative


def bilinear_patch(obj, cx, cy, N):
    """patch[r, s] = bilinear(obj, y = r + cy - N//2, x = s + cx - N//2), zeros outside."""
    obj = obj.astype(np.complex128)
    H, W = obj.shape
    r = np.arange(N)[:, None] + cy - N // 2
    s = np.arange(N)[None, :] + cx - N // 2
    y0, x0 = np.floor(r), np.floor(s)
    fy, fx = r - y0, s - x0
    y0, x0 = y0.astype(int), x0.astype(int)

    def tap(yy, xx):
        ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        return np.where(ok, obj[np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1)], 0)

    return ((1 - fy) * (1 - fx) * tap(y0, x0) + (1 - fy) * fx * tap(y0, x0 + 1)
            + fy * (1 - fx) * tap(y0 + 1, x0) + fy * fx * tap(y0 + 1, x0 + 1))


def dataset_scale(patches, probe, nphotons):
    e = (np.abs(patches.astype(np.complex128) * probe.astype(np.complex128)) ** 2).sum(axis=(1, 2))
    return np.sqrt(nphotons / e.mean())


def intensity(patches, probe, scale):
    """fftshift(|FFT2(scale * patch * probe)|^2 / N^2), float64."""
    N = patches.shape[-1]
    ex = scale * patches.astype(np.complex128) * probe.astype(np.complex128)
    return np.fft.fftshift(np.abs(np.fft.fft2(ex)) ** 2 / (N * N), axes=(-2, -1))
