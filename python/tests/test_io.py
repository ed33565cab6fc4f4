import json
import os

import numpy as np
import pytest

import fastsci

DTYPES = [np.float32, np.float64, np.complex64, np.complex128, np.int32, np.int64, np.uint8, np.uint16]


def sample(dtype, shape):
    n = int(np.prod(shape))
    x = (np.arange(n) * 37 % 101 - 50).astype(np.float64)
    if np.issubdtype(dtype, np.complexfloating):
        x = x + 1j * x[::-1]
    if np.issubdtype(dtype, np.unsignedinteger):
        x = np.abs(x)
    return x.astype(dtype).reshape(shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ["C", "F"])
def test_npy_round_trip(tmp_path, dtype, order):
    a = np.asarray(sample(dtype, (3, 4, 5)), order=order)
    np.save(tmp_path / "np.npy", a)
    b = fastsci.io.load_npy(tmp_path / "np.npy")
    assert b.dtype == a.dtype and b.shape == a.shape
    assert b.flags.f_contiguous == (order == "F")
    np.testing.assert_array_equal(a, b)
    fastsci.io.save_npy(tmp_path / "ours.npy", a)
    c = np.load(tmp_path / "ours.npy")
    assert c.dtype == a.dtype and c.shape == a.shape
    np.testing.assert_array_equal(a, c)


def test_big_endian_and_strided(tmp_path):
    a = sample(np.float64, (6, 7)).astype(">f8")
    np.save(tmp_path / "be.npy", a)
    b = fastsci.io.load_npy(tmp_path / "be.npy")
    assert b.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    s = sample(np.int32, (10, 12))[::3, ::-2]
    s.flags.writeable = False
    fastsci.io.save_npy(tmp_path / "strided.npy", s)
    np.testing.assert_array_equal(np.load(tmp_path / "strided.npy"), s)
    fastsci.io.save_npy(tmp_path / "swapped.npy", a)   # big-endian input is converted
    np.testing.assert_array_equal(np.load(tmp_path / "swapped.npy"), a)


@pytest.mark.parametrize("compress", [False, True])
def test_npz_round_trip(tmp_path, compress):
    arrays = {f"a{i}": sample(t, (2, 3)) for i, t in enumerate(DTYPES)}
    meta = json.dumps({"nphotons": 1e9, "seed": 42})
    fastsci.io.save_npz(tmp_path / "ours.npz", arrays, compress=compress, _metadata=meta)
    with np.load(tmp_path / "ours.npz") as z:
        assert sorted(z.files) == sorted(list(arrays) + ["_metadata"])
        for k, v in arrays.items():
            assert z[k].dtype == v.dtype
            np.testing.assert_array_equal(z[k], v)
        assert json.loads(z["_metadata"].item()) == {"nphotons": 1e9, "seed": 42}
    saver = np.savez_compressed if compress else np.savez
    saver(tmp_path / "np.npz", **arrays, _metadata=np.array(meta))
    back = fastsci.io.load_npz(tmp_path / "np.npz")
    assert back["_metadata"] == meta
    for k, v in arrays.items():
        np.testing.assert_array_equal(back[k], v)


def test_errors_name_the_file(tmp_path):
    with pytest.raises(fastsci.FileError, match="nope.npy"):
        fastsci.io.load_npy(tmp_path / "nope.npy")
    np.save(tmp_path / "ok.npy", np.zeros((100, 100)))
    raw = (tmp_path / "ok.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[:5000])
    with pytest.raises(fastsci.FormatError, match="cut.npy"):
        fastsci.io.load_npy(tmp_path / "cut.npy")
    with pytest.raises(fastsci.UnsupportedError):
        fastsci.io.save_npy(tmp_path / "f16.npy", np.zeros(3, np.float16))
    assert not os.path.exists(tmp_path / "f16.npy")
    with pytest.raises(fastsci.UnsupportedError):
        fastsci.io.save_npz(tmp_path / "bad.npz", {"x": np.array([object()])})
    assert not any(p.name.startswith("bad") or ".tmp" in p.name for p in tmp_path.iterdir())


def test_unsupported_member_names_dtype(tmp_path):
    np.savez(tmp_path / "h.npz", ok=np.zeros(2), half=np.zeros(2, np.float16))
    with pytest.raises(fastsci.UnsupportedError, match="half"):
        fastsci.io.load_npz(tmp_path / "h.npz")


def test_large_members_written_in_parallel_pieces(tmp_path):
    """Writes of 16 MB and more go out as pieces at their own offsets: the file must still be exact."""
    big = np.arange(5_000_003, dtype=np.float64) * 1.5 - 7
    small = np.arange(10, dtype=np.int32)
    fastsci.io.save_npz(tmp_path / "big.npz", {"a": small, "big": big, "b": small[::-1]})
    with np.load(tmp_path / "big.npz") as z:
        np.testing.assert_array_equal(z["big"], big)
        np.testing.assert_array_equal(z["a"], small)
        np.testing.assert_array_equal(z["b"], small[::-1])
    import zipfile
    with zipfile.ZipFile(tmp_path / "big.npz") as zf:
        assert zf.testzip() is None          # every CRC checks
    fastsci.io.save_npy(tmp_path / "big.npy", big)
    np.testing.assert_array_equal(np.load(tmp_path / "big.npy"), big)
