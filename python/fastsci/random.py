"""Counter-based random numbers (Philox4x64-10), identical for any thread count.

Every draw is keyed by ``(seed, stream)`` and the element's index, so the same
call gives the same numbers whatever ``threads`` is. ``raw`` with one chunk
equals ``numpy.random.Philox(key=[seed, stream]).random_raw``.
"""
import operator

import numpy as np

from . import _fastsci

__all__ = ["raw", "uniform", "normal", "poisson"]


def _index(v, what):
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{what}: expected an int, got bool")
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{what}: expected an int, got {type(v).__name__} {v!r}") from None


def _size(size):
    if size is None:
        return (), 1
    shape = (_index(size, "size"),) if np.ndim(size) == 0 else tuple(_index(s, "size") for s in size)
    n = 1
    for s in shape:
        if s < 0:
            raise ValueError(f"size: negative dimension {s}")
        n *= s
    return shape, n


def raw(size=None, *, seed=0, stream=0, threads=0):
    """Raw 64-bit words as uint64."""
    shape, n = _size(size)
    out = _fastsci.random_u64(n, seed=seed, stream=stream, threads=threads)
    return out.reshape(shape) if size is not None else out[0]


def uniform(size=None, *, seed=0, stream=0, threads=0):
    """Doubles uniform in [0, 1) with 53 random bits."""
    shape, n = _size(size)
    out = _fastsci.random_uniform(n, seed=seed, stream=stream, threads=threads)
    return out.reshape(shape) if size is not None else out[0]


def normal(size=None, *, seed=0, stream=0, threads=0):
    """Standard normal doubles."""
    shape, n = _size(size)
    out = _fastsci.random_normal(n, seed=seed, stream=stream, threads=threads)
    return out.reshape(shape) if size is not None else out[0]


def poisson(lam, size=None, *, seed=0, stream=0, threads=0):
    """Poisson counts (int64), exact in distribution for every lam >= 0.

    ``lam`` is a scalar (then ``size`` gives the shape) or an array (then the
    result has its shape and ``size`` must be None or equal to it).
    """
    if lam is None:
        raise TypeError("lam: expected a number or an array of numbers, got None")
    lam = np.asarray(lam)
    if lam.dtype.kind not in "iuf":
        raise TypeError(f"lam: expected real numbers, got dtype {lam.dtype}")
    lam = lam.astype(np.float64, copy=False)
    if lam.ndim == 0:
        shape, n = _size(size)
        out = _fastsci.random_poisson(lam.reshape(1), n, seed=seed, stream=stream, threads=threads)
        return out.reshape(shape) if size is not None else out[0]
    if size is not None and _size(size)[0] != lam.shape:
        raise ValueError(f"size {size} does not match lam.shape {lam.shape}")
    out = _fastsci.random_poisson(np.ascontiguousarray(lam).ravel(), lam.size, seed=seed,
                                  stream=stream, threads=threads)
    return out.reshape(lam.shape)
