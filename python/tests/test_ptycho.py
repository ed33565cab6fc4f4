import json
import os
import subprocess

import numpy as np
import pytest
from scipy.spatial import cKDTree

import fastsci
from ptycho_reference import bilinear_patch, dataset_scale, intensity, relative_coords

CLI = os.environ.get("FSCI_CLI")


@pytest.fixture(scope="module")
def small():
    """A small noise-free run and its inputs."""
    d = fastsci.ptycho.simulate(n_images=300, N=32, gridsize=2, K=6, nphotons=1e6, noise=False, seed=7, raw=True)
    return d


def test_keys_dtypes_shapes(small):
    B, C, N = 300, 4, 32
    expect = {"diffraction": ((B, N, N, C), np.float32), "Y": ((B, N, N, C), np.complex64),
              "X_full": ((B, N, N, C), np.float32), "coords_offsets": ((B, 1, 2, 1), np.float64),
              "coords_relative": ((B, 1, 2, C), np.float64), "nn_indices": ((B, C), np.int32),
              "diff3d": ((300, N, N), np.float32), "xcoords": ((300,), np.float64),
              "ycoords": ((300,), np.float64), "xcoords_start": ((300,), np.float64),
              "ycoords_start": ((300,), np.float64), "probeGuess": ((N, N), np.complex64),
              "objectGuess": ((112, 112), np.complex64), "scan_index": ((300,), np.int64)}
    for k, (shape, dt) in expect.items():
        assert small[k].shape == shape and small[k].dtype == dt, k
    meta = json.loads(small["_metadata"])
    phys, extra = meta["physics_parameters"], meta["additional_parameters"]
    assert phys["N"] == N and phys["gridsize"] == 2 and extra["K"] == 6 and extra["seed"] == 7
    assert phys["nphotons"] == 1e6 and extra["intensity_scale"] == pytest.approx(small["intensity_scale"])


def test_offsets_match_float64_reference(small):
    _, off, rel = relative_coords(small["xcoords"], small["ycoords"], small["nn_indices"])
    np.testing.assert_allclose(small["coords_offsets"], off, rtol=0, atol=1e-12)
    np.testing.assert_allclose(small["coords_relative"], rel, rtol=0, atol=1e-12)


def test_groups_are_k_nearest_neighbours(small):
    x, y, nn = small["xcoords"], small["ycoords"], small["nn_indices"]
    K = 6
    for b in range(nn.shape[0]):
        assert len(set(nn[b])) == 4
    nn2 = fastsci.ptycho.group(x, y, K=K, gridsize=2, nsamples=300, seed=7)
    np.testing.assert_array_equal(nn2, nn)
    # fewer groups than positions: the seeds are a random sample without replacement
    tree = cKDTree(np.column_stack([x, y]))
    nn3, seeds = fastsci.ptycho.group(x, y, K=K, gridsize=2, nsamples=150, seed=8, return_seeds=True)
    assert nn3.shape == (150, 4) and len(set(seeds.tolist())) == 150
    assert not np.array_equal(np.sort(seeds), np.arange(150))
    for b, s in enumerate(seeds):
        d, _ = tree.query([x[s], y[s]], k=K + 1)
        for j in nn3[b]:
            assert j != s
            assert np.hypot(x[j] - x[s], y[j] - y[s]) <= d[-1] + 1e-12   # among the K nearest (ties allowed)
    again = fastsci.ptycho.group(x, y, K=K, gridsize=2, nsamples=150, seed=8)
    np.testing.assert_array_equal(again, nn3)
    other = fastsci.ptycho.group(x, y, K=K, gridsize=2, nsamples=150, seed=9)
    assert not np.array_equal(other, nn3)


def test_patches_follow_ptychopinn_sampling_centre(small):
    """Y[b,:,:,c] is the bilinear patch at offsets + relative = 2*mean - coord (PtychoPINN's sign)."""
    obj, N = small["objectGuess"], 32
    off, rel = small["coords_offsets"], small["coords_relative"]
    scale = np.abs(obj).max()
    for b in (0, 17, 299):
        for c in range(4):
            cx = off[b, 0, 0, 0] + rel[b, 0, 0, c]
            cy = off[b, 0, 1, 0] + rel[b, 0, 1, c]
            ref = bilinear_patch(obj, cx, cy, N)
            assert np.abs(small["Y"][b, :, :, c] - ref).max() <= 1e-6 * scale


def test_asymmetric_group_sign():
    """A group whose members are not symmetric about their mean: the patch of member c is taken at
    the point reflection of its position through the group centre, not at the position."""
    obj = fastsci.ptycho.builtin_object("lines", 96, seed=3)
    x = np.array([30.0, 62.0, 35.0, 55.5])
    y = np.array([28.0, 33.0, 60.0, 50.25])
    d = fastsci.ptycho.simulate(object_array=obj, xcoords=x, ycoords=y, N=16, gridsize=2, K=4, n_groups=1,
                                noise=False, raw=False, seed=1)
    nn = d["nn_indices"][0]
    mx, my = x[nn].mean(), y[nn].mean()
    for c in range(4):
        at_reflection = bilinear_patch(obj, 2 * mx - x[nn[c]], 2 * my - y[nn[c]], 16)
        at_position = bilinear_patch(obj, x[nn[c]], y[nn[c]], 16)
        np.testing.assert_allclose(d["Y"][0, :, :, c], at_reflection, atol=1e-6)
        assert np.abs(d["Y"][0, :, :, c] - at_position).max() > 1e-2


def test_extraction_exactness():
    rng = np.random.default_rng(0)
    obj = (rng.standard_normal((50, 60)) + 1j * rng.standard_normal((50, 60))).astype(np.complex64)
    # integer centres: exact crops
    p = fastsci.ptycho.extract_patches(obj, [20.0, 30.0], [25.0, 24.0], 16)
    np.testing.assert_array_equal(p[0], obj[25 - 8:25 + 8, 20 - 8:20 + 8])
    np.testing.assert_array_equal(p[1], obj[24 - 8:24 + 8, 30 - 8:30 + 8])
    # random fractional centres, some partly or wholly outside: float64 reference
    cx = rng.uniform(-20, 80, 200)
    cy = rng.uniform(-20, 70, 200)
    p = fastsci.ptycho.extract_patches(obj, cx, cy, 16)
    ref = np.stack([bilinear_patch(obj, a, b, 16) for a, b in zip(cx, cy)])
    assert np.abs(p - ref).max() <= 1e-6 * np.abs(obj).max()
    # wholly outside: zeros
    far = fastsci.ptycho.extract_patches(obj, [500.0], [-300.5], 16)
    assert not far.any()
    # an affine ramp is reproduced to float rounding
    yy, xx = np.mgrid[0:50, 0:60]
    ramp = (0.25 * xx - 0.5 * yy + 3 + 1j * (0.125 * yy + 1)).astype(np.complex64)
    cx, cy = 30.3, 20.7
    p = fastsci.ptycho.extract_patches(ramp, [cx], [cy], 8)[0]
    r, s = np.mgrid[0:8, 0:8]
    X, Y = s + cx - 4, r + cy - 4
    exact = (0.25 * X - 0.5 * Y + 3 + 1j * (0.125 * Y + 1)).astype(np.complex64)
    np.testing.assert_array_equal(p, exact)


def test_noise_free_diffraction_matches_reference(small):
    N, s = 32, small["intensity_scale"]
    Y = small["Y"].transpose(0, 3, 1, 2).reshape(-1, N, N)
    probe = small["probeGuess"]
    assert s == pytest.approx(dataset_scale(Y, probe, 1e6), rel=1e-6)
    I = intensity(Y[:200], probe, s)
    A_ref = np.sqrt(I) / s
    A = small["diffraction"].transpose(0, 3, 1, 2).reshape(-1, N, N)[:200]
    assert np.abs(A - A_ref).max() <= 1e-5 * A_ref.max()
    # Parseval per pattern: sum A^2 = sum |patch * probe|^2
    e = (np.abs(Y[:200].astype(np.complex128) * probe) ** 2).sum(axis=(1, 2))
    np.testing.assert_allclose((A.astype(np.float64) ** 2).sum(axis=(1, 2)), e, rtol=1e-5)
    # X_full normalisation (PtychoPINN's normalize_data)
    diff = small["diffraction"].astype(np.float64)
    norm = np.float32(np.sqrt((N / 2) ** 2 / np.mean((diff ** 2).sum(axis=(1, 2)))))
    np.testing.assert_allclose(small["X_full"], norm * small["diffraction"], rtol=1e-6)


def test_raw_patterns_are_centred_on_positions(small):
    N = 32
    obj, probe = small["objectGuess"], small["probeGuess"]
    x, y = small["xcoords"], small["ycoords"]
    P = np.stack([bilinear_patch(obj, a, b, N) for a, b in zip(x, y)])
    s = dataset_scale(P, probe, 1e6)
    assert small["intensity_scale_raw"] == pytest.approx(s, rel=1e-6)
    A_ref = np.sqrt(intensity(P[:50], probe, s)) / s
    assert np.abs(small["diff3d"][:50] - A_ref).max() <= 1e-5 * A_ref.max()


def test_photon_counts_and_thread_independence():
    kw = dict(n_images=400, N=32, nphotons=1e5, seed=11, raw=False)
    a = fastsci.ptycho.simulate(threads=1, **kw)
    b = fastsci.ptycho.simulate(threads=2, **kw)
    for k in ("diffraction", "Y", "X_full", "nn_indices"):
        np.testing.assert_array_equal(a[k], b[k])
    s = a["intensity_scale"]
    counts = np.rint((a["diffraction"].astype(np.float64) * s) ** 2)
    totals = counts.sum(axis=(1, 2)).ravel()
    sigma = np.sqrt(1e5 / totals.size)
    assert abs(totals.mean() - 1e5) < 5 * sigma, (totals.mean(), sigma)
    assert a["mean_counts"] == pytest.approx(totals.mean(), rel=1e-9)
    # counts are integers: amplitude * s squares to an integer
    assert np.abs((a["diffraction"].astype(np.float64) * s) ** 2 - counts).max() < 1e-2


def test_flat_layout_is_channel_reordered():
    kw = dict(n_images=50, N=16, noise=False, seed=3, raw=False)
    ch = fastsci.ptycho.simulate(layout="channel", **kw)
    fl = fastsci.ptycho.simulate(layout="flat", **kw)
    assert fl["diffraction"].shape == (200, 16, 16)
    np.testing.assert_array_equal(fl["diffraction"], ch["diffraction"].transpose(0, 3, 1, 2).reshape(-1, 16, 16))
    np.testing.assert_array_equal(fl["Y"], ch["Y"].transpose(0, 3, 1, 2).reshape(-1, 16, 16))


def test_gridsize_one_and_errors():
    d = fastsci.ptycho.simulate(n_images=40, N=16, gridsize=1, K=4, noise=False, raw=True, seed=2)
    assert d["nn_indices"].shape == (40, 1)
    # with C = 1 the sampling centre is the position itself: grouped = raw patterns of the seeds
    np.testing.assert_allclose(d["diffraction"][:, :, :, 0] * d["intensity_scale"],
                               d["diff3d"][d["nn_indices"][:, 0]] * d["intensity_scale_raw"], rtol=1e-5, atol=1e-4)
    with pytest.raises(fastsci.InvalidArgumentError, match="K"):
        fastsci.ptycho.simulate(n_images=40, N=16, gridsize=2, K=3)
    with pytest.raises(fastsci.InvalidArgumentError, match="outside"):
        fastsci.ptycho.simulate(n_images=3, N=16, xcoords=[1.0, 2.0, 500.0], ycoords=[5.0, 5.0, 5.0], gridsize=1)
    obj = fastsci.ptycho.builtin_object("lines", 64)
    obj[3, 4] = np.nan
    with pytest.raises(fastsci.InvalidArgumentError, match=r"\(3, 4\)"):
        fastsci.ptycho.simulate(object_array=obj, n_images=20, N=16)
    with pytest.raises(fastsci.InvalidArgumentError, match="N x N"):
        fastsci.ptycho.simulate(probe_array=np.ones((8, 8), np.complex64), n_images=20, N=16)
    with pytest.raises(TypeError, match="nphoton"):
        fastsci.ptycho.simulate(nphoton=3)


@pytest.mark.skipif(not CLI, reason="needs FSCI_CLI")
def test_cli_writes_loadable_npz(tmp_path):
    out = tmp_path / "d.npz"
    r = subprocess.run([CLI, "ptycho", "simulate", "--n-images", "200", "--N", "32", "--seed", "5", "--quiet",
                        "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with np.load(out) as z:
        assert z["diffraction"].shape == (200, 32, 32, 4) and z["Y"].dtype == np.complex64
        assert z["diff3d"].shape == (200, 32, 32)
        assert json.loads(z["_metadata"].item())["additional_parameters"]["seed"] == 5
        py = fastsci.ptycho.simulate(n_images=200, N=32, seed=5)
        np.testing.assert_array_equal(z["diffraction"], py["diffraction"])


# ---- PtychoPINN's reader (ptycho/metadata.py, MetadataManager), reimplemented from its source ----

def ptychopinn_load_with_metadata(path):
    """MetadataManager.load_with_metadata: every member, and _metadata parsed as JSON."""
    data_dict, metadata = {}, None
    with np.load(path, allow_pickle=True) as data:
        for key in data.files:
            if key == "_metadata":
                encoded = np.asarray(data[key])
                assert encoded.shape == () and encoded.dtype.kind in {"U", "S", "O"}, encoded.dtype
                text = encoded.item()
                if isinstance(text, bytes):
                    text = text.decode("utf-8")
                metadata = json.loads(text)
            else:
                data_dict[key] = data[key]
    return data_dict, metadata


def ptychopinn_get_nphotons(metadata, default=1e9):
    """MetadataManager.get_nphotons: the default when the key is not where it looks."""
    if metadata is None:
        return default
    return metadata.get("physics_parameters", {}).get("nphotons", default)


def ptychopinn_config(metadata):
    """load_config_from_metadata's reads, with its defaults."""
    phys, train = metadata.get("physics_parameters", {}), metadata.get("training_parameters", {})
    return phys.get("N", 64), phys.get("gridsize", 1), phys.get("nphotons", 1e9), train.get("n_images", 1000)


OLD_FLAT_KEYS = ("generator nphotons seed N gridsize K K_requested n_images n_groups noise layout intensity_scale "
                 "intensity_scale_raw X_full_norm local_offset_sign object object_shape probe probe_scale positions "
                 "raw oversampling pool_size version").split()


@pytest.mark.parametrize("nph", [1e4, 1e9])
def test_ptychopinn_reads_our_photon_count(tmp_path, nph):
    out = tmp_path / "d.npz"
    fastsci.ptycho.simulate(n_images=200, N=32, gridsize=2, nphotons=nph, seed=3, output=str(out))
    data, meta = ptychopinn_load_with_metadata(out)
    assert meta is not None and meta["schema_version"] == "1.0.0"
    assert "nphotons" in meta["physics_parameters"]  # not PtychoPINN's default standing in for it
    assert ptychopinn_get_nphotons(meta) == nph
    assert ptychopinn_config(meta) == (32, 2, nph, 200)
    ci = meta["creation_info"]
    assert ci["script"] == "fastsci ptycho simulate" and ci["hostname"] and ci["generator"].startswith("fastsci ")
    assert ci["timestamp"].endswith("Z") and meta["data_transformations"] == []
    gt = data["ground_truth_patches"]
    assert gt.shape == (200, 32, 32, 1) and gt.dtype == np.complex64
    # and our own reader agrees
    assert fastsci.ptycho.nphotons(out) == nph
    assert fastsci.ptycho.load_metadata(out) == meta


def test_old_flat_metadata_still_read(tmp_path):
    """Files written before the schema: PtychoPINN falls back to 1e9; our reader finds 1e4."""
    flat = dict.fromkeys(OLD_FLAT_KEYS, 0)
    flat.update(generator="fastsci 0.1.0", nphotons=1e4, seed=9, N=32, gridsize=2, K=4, n_images=200,
                layout="channel", version=1)
    path = tmp_path / "old.npz"
    np.savez(path, xcoords=np.zeros(3), _metadata=np.array(json.dumps(flat)))
    _, meta = ptychopinn_load_with_metadata(path)
    assert ptychopinn_get_nphotons(meta) == 1e9  # the bug this schema fixes
    m = fastsci.ptycho.load_metadata(path)
    assert m["schema_version"] is None and m["creation_info"] == {"generator": "fastsci 0.1.0"}
    assert m["physics_parameters"] == {"nphotons": 1e4, "gridsize": 2, "N": 32}
    assert m["training_parameters"] == {"n_images": 200}
    assert m["additional_parameters"]["seed"] == 9 and m["additional_parameters"]["version"] == 1
    assert "nphotons" not in m["additional_parameters"]
    assert fastsci.ptycho.nphotons(path) == 1e4
    np.savez(tmp_path / "none.npz", _metadata=np.array(json.dumps({"seed": 1})))
    with pytest.raises(KeyError):
        fastsci.ptycho.nphotons(tmp_path / "none.npz")


def test_ground_truth_patches_match_float64_reference(small):
    obj, gt = small["objectGuess"], small["ground_truth_patches"]
    x, y = small["xcoords"], small["ycoords"]
    assert gt.shape == (300, 32, 32, 1) and gt.dtype == np.complex64
    ref = np.stack([bilinear_patch(obj, x[p], y[p], 32) for p in range(len(x))])
    err = np.abs(gt[..., 0] - ref).max()
    assert err <= 1e-6 * np.abs(obj).max(), err
    # a half-pixel shift is far outside the tolerance: the check can fail
    shifted = bilinear_patch(obj, x[0] + 0.5, y[0], 32)
    assert np.abs(gt[0, ..., 0] - shifted).max() > 1e3 * 1e-6 * np.abs(obj).max()


def test_ground_truth_patches_are_gridsize1_Y():
    """At gridsize 1 the sampling centres are the scan positions: Y of group b is the
    ground truth of its position nn_indices[b, 0], bit for bit (one extraction code)."""
    d = fastsci.ptycho.simulate(n_images=150, N=16, gridsize=1, K=4, seed=2, noise=False)
    nn = d["nn_indices"][:, 0]
    assert d["Y"].shape == (150, 16, 16, 1)
    np.testing.assert_array_equal(d["Y"], d["ground_truth_patches"][nn])


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.dtype, a.shape, a.view(np.uint8).tobytes()


@pytest.mark.parametrize("layout", ["channel", "flat"])
def test_arrays_filled_in_place_equal_the_npz_bitwise(tmp_path, layout):
    """The memory path (arrays filled in place) and the file path (streamed, written while
    computing) give the same bits, with 1 and 2 threads, noise on, diff3d included."""
    kw = dict(n_images=150, N=32, gridsize=2, K=5, nphotons=1e5, noise=True, seed=13, raw=True, layout=layout)
    ref = None
    for threads in (1, 2):
        path = tmp_path / f"d{threads}.npz"
        fastsci.ptycho.simulate(threads=threads, output=str(path), **kw)
        mem = fastsci.ptycho.simulate(threads=threads, **kw)
        with np.load(path, allow_pickle=False) as z:
            names = [k for k in z.files if k != "_metadata"]
            assert {"Y", "diffraction", "X_full", "diff3d", "ground_truth_patches"} <= set(names)
            for k in names:
                assert _bits(mem[k]) == _bits(z[k]), (threads, k)
            if ref is None:
                ref = {k: _bits(z[k]) for k in names}
            else:
                assert {k: _bits(z[k]) for k in names} == ref   # independent of the thread count


def test_returned_arrays_are_the_engine_buffers():
    """The big outputs come back as the library's own buffers (base: a fastsci capsule), not copies."""
    d = fastsci.ptycho.simulate(n_images=40, N=16, gridsize=2, nphotons=1e4, seed=3, raw=True)
    for k in ("Y", "diffraction", "X_full", "diff3d", "ground_truth_patches"):
        a = d[k]
        assert not a.flags.owndata and a.flags.c_contiguous and a.flags.writeable, k
        assert type(a.base).__name__ == "PyCapsule", k


def test_discard_runs_the_pipeline_and_keeps_only_the_summary():
    """_fastsci.run(discard=True): a null sink, the compute-only timing of the benchmark."""
    params = dict(n_images=60, N=16, gridsize=2, nphotons=1e4, raw=False)
    out = fastsci._fastsci.run("ptycho", "simulate", params=params, threads=2, seed=5, discard=True)
    assert set(out) == {"summary"}
    full = fastsci.ptycho.simulate(threads=2, seed=5, **params)
    figures = json.loads(out["summary"])
    assert figures["intensity_scale"] == full["intensity_scale"]
    assert figures["X_full_norm"] == full["X_full_norm"]
    with pytest.raises(ValueError, match="no output"):
        fastsci._fastsci.run("ptycho", "simulate", params=params, output="x.npz", discard=True)
