import numpy as np
import pytest

import fastsci


def test_raw_equals_numpy_philox():
    for seed, stream in [(0, 0), (42, 7), (2**64 - 1, 123456789)]:
        ours = fastsci.random.raw(1000, seed=seed, stream=stream)
        ref = np.random.Philox(key=np.array([seed, stream], dtype=np.uint64)).random_raw(1000)
        assert ours.dtype == np.uint64
        np.testing.assert_array_equal(ours, ref)


def test_shapes_and_dtypes():
    assert fastsci.random.uniform((3, 4), seed=1).shape == (3, 4)
    x = fastsci.random.poisson(2.0, (5, 6), seed=1)
    assert x.dtype == np.int64 and x.shape == (5, 6)
    assert isinstance(fastsci.random.poisson(3.0, seed=2), np.int64)
    lam = np.linspace(0, 50, 24).reshape(2, 3, 4)
    y = fastsci.random.poisson(lam, seed=3)
    assert y.shape == lam.shape and y[0, 0, 0] == 0


def test_poisson_map_statistics():
    lam = np.repeat([0.01, 1.0, 30.0, 1e5], 250_000)
    x = fastsci.random.poisson(lam, seed=11).reshape(4, -1)
    for row, l in zip(x, [0.01, 1.0, 30.0, 1e5]):
        z = (row.mean() - l) / np.sqrt(l / row.size)
        assert abs(z) < 4.5, (l, z)
        assert abs(row.var() / l - 1) < 0.02


def test_non_contiguous_and_read_only_lam():
    base = np.full((40, 40), 4.0)
    lam = base[::2, ::3]
    lam.flags.writeable = False
    x = fastsci.random.poisson(lam, seed=5)
    assert x.shape == lam.shape
    np.testing.assert_array_equal(x, fastsci.random.poisson(np.ascontiguousarray(lam), seed=5))


def test_threads_do_not_change_results():
    a = fastsci.random.poisson(12.5, 200_001, seed=9, threads=1)
    b = fastsci.random.poisson(12.5, 200_001, seed=9, threads=2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fastsci.random.normal(50_000, seed=1, threads=1),
                                  fastsci.random.normal(50_000, seed=1, threads=2))


def test_errors_become_exceptions():
    with pytest.raises(fastsci.InvalidArgumentError, match="nan"):
        fastsci.random.poisson(np.array([1.0, np.nan]), seed=1)
    with pytest.raises(ValueError):
        fastsci.random.poisson(-1.0, 10)
    with pytest.raises(ValueError):
        fastsci.random.poisson(np.ones(3), size=(4,))
    with pytest.raises(fastsci.Error):
        fastsci.set_threads(-2)
