"""fastsci.n2v2 end to end: training reproducibility, prediction geometry (tiles equal the
whole image away from the borders, no shift, any size, TTA), dtypes, model files, errors."""
import numpy as np
import pytest

import fastsci

# a tiny network keeps the tests fast; the geometry does not depend on its size
SMALL = dict(depth=2, width=4, epochs=1, steps=3, batch=2, patch=32, val_patches=2)


def noisy(shape, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[-2], 0:shape[-1]]
    clean = 100 + 50 * np.sin(x / 7.0) * np.cos(y / 11.0)
    img = clean + 10 * rng.standard_normal(shape)
    return img.astype(np.float32)


@pytest.fixture(scope="module")
def model():
    return fastsci.n2v2.train(noisy((96, 96)), seed=5, **SMALL)


def test_same_seed_same_threads_bit_identical():
    img = noisy((80, 72))
    a = fastsci.n2v2.denoise(img, seed=3, threads=2, **SMALL)
    b = fastsci.n2v2.denoise(img, seed=3, threads=2, **SMALL)
    assert a.tobytes() == b.tobytes()
    c = fastsci.n2v2.denoise(img, seed=4, threads=2, **SMALL)
    assert a.tobytes() != c.tobytes()


def test_thread_count_does_not_change_the_result():
    img = noisy((64, 64))
    a = fastsci.n2v2.denoise(img, seed=3, threads=1, **SMALL)
    b = fastsci.n2v2.denoise(img, seed=3, threads=2, **SMALL)
    assert a.tobytes() == b.tobytes()


def test_tiles_equal_whole_image_away_from_borders(model):
    img = noisy((300, 260), seed=1)
    whole = model.predict(img, tile=0)
    margin = 32  # the tiny network's margin: 2^depth * ceil(reach / 2^depth) <= 32
    for tile in (96, 128):
        tiled = model.predict(img, tile=tile)
        inner = (slice(margin, -margin), slice(margin, -margin))
        err = np.max(np.abs(tiled[inner] - whole[inner])) / np.max(np.abs(whole))
        assert err < 1e-4, (tile, err)


def identity_model(tmp_path):
    """An n2v (residual) model whose final 1x1 convolution is zero: it returns its input, so any
    shift, crop or padding error in prediction shows up exactly."""
    import zlib
    m = fastsci.n2v2.train(noisy((64, 64)), preset="n2v", **SMALL)
    data = bytearray(m._data)
    width = SMALL["width"]
    end = len(data) - 4  # the CRC follows the weights; the final conv (weights, bias) is last
    data[end - 4 * (width + 1):end] = bytes(4 * (width + 1))
    data[end:] = (zlib.crc32(bytes(data[:end])) & 0xFFFFFFFF).to_bytes(4, "little")
    return fastsci.n2v2.Model(bytes(data))


def test_no_shift_any_size(tmp_path):
    ident = identity_model(tmp_path)
    for shape in ((101, 77), (64, 64), (33, 130)):
        img = noisy(shape, seed=shape[0])
        for tile in (0, 96):
            out = ident.predict(img, tile=tile)
            assert out.shape == img.shape
            assert np.max(np.abs(out - img)) < 1e-4 * np.max(np.abs(img)), (shape, tile)


def test_tta_averages_eight_transforms(model):
    img = noisy((64, 48), seed=4)
    plain = model.predict(img)
    tta = model.predict(img, tta=True)
    assert tta.shape == img.shape
    assert not np.array_equal(plain, tta)
    # TTA of a symmetric input under a flip is itself symmetric
    sym = np.concatenate([img, img[:, ::-1]], axis=1)
    out = model.predict(sym, tta=True)
    assert np.max(np.abs(out - out[:, ::-1])) < 1e-3 * np.max(np.abs(out))


def test_dtypes_kept_and_stack_slices(model):
    img = noisy((2, 64, 64))
    u16 = np.clip(img * 100, 0, 65535).astype(np.uint16)
    out = model.predict(u16)
    assert out.dtype == np.uint16 and out.shape == u16.shape
    u8 = np.clip(img, 0, 255).astype(np.uint8)
    assert model.predict(u8).dtype == np.uint8
    f = model.predict(u8, dtype="float32")
    assert f.dtype == np.float32
    # slices are predicted independently: slice 1 alone gives the same
    one = model.predict(img[1])
    assert np.array_equal(model.predict(img)[1], one)


def test_model_file_round_trip(model, tmp_path):
    p = tmp_path / "m.fsnn"
    model.save(p)
    again = fastsci.n2v2.load(p)
    img = noisy((64, 64))
    assert np.array_equal(model.predict(img), again.predict(img))


def test_errors(model, tmp_path):
    with pytest.raises(ValueError, match="patch"):
        fastsci.n2v2.train(noisy((40, 40)), **dict(SMALL, patch=64))
    bad = noisy((64, 64))
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match=r"pixel \(3, 5\) is nan"):
        fastsci.n2v2.denoise(bad, **SMALL)
    with pytest.raises(ValueError, match="preset"):
        fastsci.n2v2.denoise(noisy((64, 64)), preset="unet")
    p = tmp_path / "m.fsnn"
    model.save(p)
    data = bytearray(p.read_bytes())
    data[8] = 99  # the version field
    p.write_bytes(bytes(data))
    with pytest.raises(fastsci.FormatError, match="version 99"):
        fastsci.n2v2.load(p).predict(noisy((32, 32)))
