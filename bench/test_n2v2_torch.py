"""The n2v2 PyTorch reference (bench/n2v2_torch.py) follows doc/n2v2_torch_reference.md: the
weight-file order and shapes, the skip and residual wiring, the pooling layers, the masking rules
(one blind spot a box, no blind spot inside another's median, 5 % Bernoulli with a zero-padded
lower median), the parity file and the artefact scores.

Run: /usr/bin/python3 -m pytest -s bench/test_n2v2_torch.py   (about 10 s)
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as Fn

import n2v2_torch as T

torch.set_num_threads(2)


def block_entries(cin, cout, k, bias):
    """(suffix, shape) of one ConvBlock in the weight file, from the specification."""
    out = []
    for conv, bn, ci in (("conv1", "bn1", cin), ("conv2", "bn2", cout)):
        out.append((f"{conv}.weight", (cout, ci, k, k)))
        if bias:
            out.append((f"{conv}.bias", (cout,)))
        out += [(f"{bn}.{n}", (cout,)) for n in ("weight", "bias", "running_mean", "running_var")]
    return out


def spec_manifest(depth, width, kernel, residual, top_skip, pool, up, bias):
    """The weight-file manifest written out from the specification text."""
    F, k, man = width, kernel, []
    for l in range(depth):
        man += [(f"enc.{l}.{n}", s) for n, s in block_entries(1 if l == 0 else F * 2 ** (l - 1), F * 2 ** l, k, bias)]
    man += [(f"bottom.{n}", s) for n, s in block_entries(F * 2 ** (depth - 1), F * 2 ** depth, k, bias)]
    for i, l in enumerate(range(depth - 1, -1, -1)):
        c = F * 2 ** (l + 1)
        if up == "convT":
            man += [(f"dec.{i}.up.weight", (c, F * 2 ** l, 2, 2)), (f"dec.{i}.up.bias", (F * 2 ** l,))]
            cat = F * 2 ** l
        else:
            cat = c
        if l > 0 or top_skip:
            cat += F * 2 ** l
        man += [(f"dec.{i}.block.{n}", s) for n, s in block_entries(cat, F * 2 ** l, k, bias)]
    return man + [("final.weight", (1, F, 1, 1)), ("final.bias", (1,))]


@pytest.mark.parametrize("preset", list(T.PRESETS))
def test_manifest_matches_specification(preset):
    model = T.make(preset)
    man = T.manifest(model)
    spec = spec_manifest(**T.PRESETS[preset])
    assert man == spec
    assert man[0][0] == "enc.0.conv1.weight" and [n for n, _ in man[-2:]] == ["final.weight", "final.bias"]
    assert not any("num_batches_tracked" in n or "blur" in n for n, _ in man)
    # Parameters = manifest minus running statistics.
    n_par = sum(int(np.prod(s)) for n, s in spec if "running" not in n)
    assert T.n_params(model) == n_par
    print(f"\n{preset}: {n_par:,} parameters, {len(man)} weight-file entries, "
          f"{sum(int(np.prod(s)) for _, s in man):,} floats")


def test_manifest_key_shapes():
    d = dict(T.manifest(T.make("n2v2")))
    assert d["enc.0.conv1.weight"] == (32, 1, 3, 3)
    assert d["bottom.conv2.weight"] == (128, 128, 3, 3)
    assert d["dec.0.block.conv1.weight"] == (64, 192, 3, 3)  # bilinear 128 + skip 64
    assert d["dec.1.block.conv1.weight"] == (32, 64, 3, 3)  # no top skip
    d = dict(T.manifest(T.make("n2v")))
    assert d["dec.1.block.conv1.weight"] == (32, 96, 3, 3)  # with top skip
    d = dict(T.manifest(T.make("openhcs")))
    assert "enc.0.conv1.bias" not in d
    assert d["dec.0.up.weight"] == (1024, 512, 2, 2)
    assert d["dec.0.block.conv1.weight"] == (512, 1024, 3, 3)
    assert d["dec.3.block.conv1.weight"] == (64, 64, 3, 3)


def test_export_import_round_trip(tmp_path):
    torch.manual_seed(0)
    a = T.make("n2v2")
    a.train()
    a(torch.randn(2, 1, 32, 32))  # non-trivial running statistics
    path = tmp_path / "w.raw"
    T.export_raw(a, path)
    floats = sum(int(np.prod(s)) for _, s in T.manifest(a))
    assert path.stat().st_size == 4 * floats
    torch.manual_seed(1)
    b = T.make("n2v2")
    T.import_raw(b, path)
    sa, sb = a.state_dict(), b.state_dict()
    for k in sa:
        if not k.endswith("num_batches_tracked"):
            assert torch.equal(sa[k], sb[k]), k
    # First entry at offset 0, last at the end, little-endian float32.
    raw = np.fromfile(path, dtype="<f4")
    assert np.array_equal(raw[:288], sa["enc.0.conv1.weight"].numpy().ravel())
    assert raw[-1] == sa["final.bias"].item()
    x = torch.randn(1, 1, 32, 32)
    a.eval(), b.eval()
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
    short = tmp_path / "short.raw"
    raw[:-1].tofile(short)
    with pytest.raises(ValueError):
        T.import_raw(b, short)


def test_skip_order_up_first():
    torch.manual_seed(0)
    model = T.make("n2v2").eval()
    got = {}
    model.bottom.register_forward_hook(lambda m, i, o: got.__setitem__("bottom", o))
    model.enc[1].register_forward_hook(lambda m, i, o: got.__setitem__("skip1", o))
    model.dec[0].block.register_forward_hook(lambda m, i, o: got.__setitem__("cat", i[0]))
    model.dec[1].block.register_forward_hook(lambda m, i, o: got.__setitem__("top", i[0]))
    with torch.no_grad():
        model(torch.randn(2, 1, 32, 32))
    up = Fn.interpolate(got["bottom"], scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.equal(got["cat"][:, :128], up)
    assert torch.equal(got["cat"][:, 128:], got["skip1"])
    assert got["top"].shape[1] == 64  # level 0 without its skip


def test_residual_and_final():
    x = torch.randn(2, 1, 32, 32)
    for preset, expect in (("n2v", x), ("n2v2", torch.zeros_like(x))):
        model = T.make(preset).eval()
        with torch.no_grad():
            model.final.weight.zero_()
            model.final.bias.zero_()
            assert torch.equal(model(x), expect), preset


def test_pool_sizes_and_kernels():
    x = torch.randn(1, 3, 64, 64)
    assert T.Pool("max")(x).shape[-1] == 32
    assert T.Pool("blur")(x).shape[-1] == 32
    assert Fn.max_pool2d(x, 2, stride=1).shape[-1] == 63
    assert T.Pool("maxblur")(x).shape[-1] == 32
    # The blur keeps a constant away from the zero-padded border and removes Nyquist.
    c = T.Pool("blur")(torch.full((1, 1, 16, 16), 2.0))
    assert torch.allclose(c[0, 0, 1:, 1:], torch.tensor(2.0))
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    cb = ((-1.0) ** (yy + xx)).float()[None, None]
    assert T.Pool("blur")(cb)[0, 0, 1:, 1:].abs().max() < 1e-6
    # maxblur = stride-1 2x2 max, then the same blur; one interior value by hand.
    a = torch.randn(1, 1, 8, 8)
    m = Fn.max_pool2d(a, 2, stride=1)[0, 0]
    w = torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    assert torch.allclose(T.Pool("maxblur")(a)[0, 0, 1, 2], (m[1:4, 3:6] * w).sum(), atol=1e-6)
    assert list(T.Pool("maxblur").state_dict()) == []


@pytest.mark.parametrize("preset", list(T.PRESETS))
def test_output_shapes(preset):
    torch.manual_seed(0)
    model = T.make(preset).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 64, 64)).shape == (2, 1, 64, 64)
    img = np.random.default_rng(0).standard_normal((37, 45)).astype(np.float32)
    assert T.predict(model, img).shape == (37, 45)


def test_predict_pads_at_bottom_right_only():
    torch.manual_seed(0)
    model = T.make("n2v2", residual=True).eval()
    with torch.no_grad():
        model.final.weight.zero_()
        model.final.bias.zero_()
    img = np.random.default_rng(1).standard_normal((30, 37)).astype(np.float32)
    assert np.array_equal(T.predict(model, img), img)  # identity net: no shift


def test_stratified_one_point_per_box():
    for shape in ((64, 64), (50, 70)):
        for seed in range(20):
            pts = T.stratified_points(shape, np.random.default_rng(seed), 0.198)
            box = 22
            assert ((pts >= 0) & (pts < np.array(shape))).all()
            cells = [tuple(p) for p in pts // box]
            assert len(set(cells)) == len(cells)  # at most one a box
            ny, nx = -(-shape[0] // box), -(-shape[1] // box)
            full = [(i, j) for i in range(ny) for j in range(nx)
                    if (i + 1) * box <= shape[0] and (j + 1) * box <= shape[1]]
            assert set(full) <= set(cells)  # boxes inside the patch always have theirs
    # 64 = 22 + 22 + 20: 4 full boxes, 4 cut to 22x20 (point inside with p = 20/22), 1 to 20x20.
    counts = [len(T.stratified_points((64, 64), np.random.default_rng(s))) for s in range(1000)]
    assert min(counts) >= 4 and max(counts) <= 9
    assert np.mean(counts) == pytest.approx(4 + 4 * 20 / 22 + (20 / 22) ** 2, abs=0.1)


def test_median_never_uses_another_blind_spot():
    # Adversarial: a 4x4 cluster of blind spots valued 1 in a field of 0. Any blind spot inside
    # a 5x5 median would push it to 1 (up to 15 of 24 values), a correct rule gives 0.
    patch = np.zeros((16, 16), np.float32)
    pts = np.array([(y, x) for y in range(6, 10) for x in range(6, 10)])
    patch[pts[:, 0], pts[:, 1]] = 1.0
    out = T.median_replace(patch, pts, r=2)
    assert (out[pts[:, 0], pts[:, 1]] == 0).all()
    # NaN sentinels on the blind spots of real stratified draws, also at borders.
    rng = np.random.default_rng(3)
    for _ in range(50):
        p = rng.standard_normal((64, 64)).astype(np.float32)
        pts = T.stratified_points(p.shape, rng, 5.0)  # box 4: neighbours within reach
        p[pts[:, 0], pts[:, 1]] = np.nan
        out = T.median_replace(p, pts, r=2)
        assert np.isfinite(out[pts[:, 0], pts[:, 1]]).all()


def test_median_value_and_border_crop():
    p = np.arange(36, dtype=np.float32).reshape(6, 6)
    pts = np.array([(0, 0), (3, 3)])
    out = T.median_replace(p, pts, r=2)
    # (0, 0): window rows 0..2, cols 0..2 minus the centre -> 8 values, mean of the middle two.
    w = np.delete(p[0:3, 0:3].ravel(), 0)
    assert out[0, 0] == np.median(w) == (w[3] + w[4]) / 2
    # (3, 3): rows 1..5, cols 1..5 minus itself; (0, 0) is outside the window.
    w = [p[y, x] for y in range(1, 6) for x in range(1, 6) if (y, x) != (3, 3)]
    assert out[3, 3] == np.median(w)
    keep = np.ones_like(p, bool)
    keep[pts[:, 0], pts[:, 1]] = False
    assert np.array_equal(out[keep], p[keep])


def test_openhcs_density_and_lower_median_zero_pad():
    rng = np.random.default_rng(0)
    frac = np.mean([T.openhcs_mask(np.zeros((512, 512), np.float32), rng)[1].mean() for _ in range(4)])
    assert abs(frac - 0.05) < 0.0015
    ones = np.ones((5, 5), np.float32)
    inp, m = T.openhcs_mask(ones, rng, prob=1.0)
    assert m.all()
    assert inp[0, 0] == 0.0  # corner ring: 3 ones, 5 zeros -> 4th smallest 0
    assert inp[0, 2] == 1.0  # edge ring: 5 ones, 3 zeros -> 4th smallest 1
    assert inp[2, 2] == 1.0
    v = np.arange(9, dtype=np.float32).reshape(3, 3) + 1
    inp, _ = T.openhcs_mask(np.pad(v, 1, constant_values=100), rng, prob=1.0)
    assert inp[2, 2] == 4.0  # ring 1..9 without 5: lower median is 4, numpy's would be 4.5


def test_uniform_with_centre():
    p = np.arange(400, dtype=np.float32).reshape(20, 20)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(3000):
        v = T.uniform_replace(p, np.array([(1, 18)]), rng, r=5)[1, 18]
        seen.add(int(v))
    expect = {int(p[y, x]) for y in range(0, 7) for x in range(13, 20)}  # cropped window
    assert seen == expect  # every pixel of the cropped window, the centre included


def test_mask_patch_marks_blind_spots():
    rng = np.random.default_rng(5)
    p = rng.standard_normal((64, 64)).astype(np.float32)
    for masking in ("n2v2", "n2v"):
        inp, m = T.mask_patch(p, rng, masking)
        assert 4 <= m.sum() <= 9
        assert np.array_equal(inp[m == 0], p[m == 0])
    inp, m = T.mask_patch(p, rng, "openhcs")
    assert np.array_equal(inp[m == 0], p[m == 0])


def test_parity_case_self_consistent(tmp_path):
    path = tmp_path / "c.npz"
    T.parity_case("n2v2", 1, 2, 32, 1e-3, str(path))
    c = np.load(path)
    for k in ("weights", "x", "target", "mask", "y_eval", "grads", "weights_after", "x512", "y_eval_512"):
        assert c[k].dtype == np.float32, k
    assert c["loss"].dtype == np.float64 and c["loss"].shape == ()
    assert c["mask"].sum() >= 1 and set(np.unique(c["mask"])) <= {0.0, 1.0}
    model = T.make("n2v2")
    T.load_flat(model, c["weights"])
    model.eval()
    with torch.no_grad():
        assert np.array_equal(model(torch.from_numpy(c["x"])).numpy(), c["y_eval"])
    model.train()
    loss = T.masked_mse(model(torch.from_numpy(c["x"])), torch.from_numpy(c["target"]),
                        torch.from_numpy(c["mask"]))
    assert loss.item() == pytest.approx(float(c["loss"]), rel=1e-6)
    # The first Adam step moves each parameter by lr g / (|g| + eps); running stats get
    # zero gradients in the file and their own update.
    is_par = np.concatenate([np.full(int(np.prod(s)), "running" not in n) for n, s in T.manifest(model)])
    g, dw = c["grads"].astype(np.float64), (c["weights_after"] - c["weights"]).astype(np.float64)
    assert (g[~is_par] == 0).all() and (dw[~is_par] != 0).any()
    assert np.allclose(dw[is_par], -1e-3 * g[is_par] / (np.abs(g[is_par]) + 1e-8), atol=2e-7)


def test_train_denoise_smoke():
    rng = np.random.default_rng(0)
    clean = np.tile(np.linspace(0, 200, 40), (40, 1))
    noisy = clean + 25 * rng.standard_normal(clean.shape)
    hist = []
    den = T.train_denoise(noisy, "n2v2", steps=4, batch=2, patch=32, seed=1, val_every=2, history=hist)
    assert den.shape == noisy.shape and np.isfinite(den).all()
    assert [h[0] for h in hist] == [2, 4]
    inp, tgt, msk = T.sample_batch(noisy.astype(np.float32), rng, 3, 32, "n2v2")
    assert inp.shape == tgt.shape == msk.shape == (3, 1, 32, 32)
    assert torch.equal(inp[msk == 0], tgt[msk == 0]) and (inp[msk == 1] != tgt[msk == 1]).any()


def test_artefact_scores():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:256, :256]
    noise = rng.standard_normal((256, 256))
    base = T.checker_index(noise, 2)
    assert base < 3
    assert T.checker_index(noise + 0.2 * (-1.0) ** (yy + xx), 2) > 30 * base
    p4 = 0.2 * np.cos(np.pi / 2 * xx)  # period 4: seen at depth 2, not at depth 1
    assert T.checker_index(noise + p4, 2) > 30 * base
    assert T.checker_index(noise + p4, 1) < 3
    assert T.polyphase_score(0.3 * (-1.0) ** (yy + xx) + 5.0) == pytest.approx(0.3)
    assert T.polyphase_score(np.cos(np.pi / 2 * xx)) == pytest.approx(0.0, abs=1e-12)
