"""fastsci.pstm from numpy: modelling and migration round trips, exact adjointness through
the public API, thread independence, SEG-Y output read back by segyio, and bad input."""
import numpy as np
import pytest

import fastsci
import fastsci.pstm as pstm

V = "0:1500,4:3500"
LINE = dict(vrms=V, shots=16, receivers=32, shot_dx=50.0, near_offset=100.0, ns=300, in_dt=0.004, dx=12.5,
            nt=300, dt=0.004, aperture=1200.0)


def _model(**kw):
    return pstm.model(**{**LINE, **kw})


def test_diffractor_is_imaged_at_its_position():
    d = _model(diffractors=(500.0, 0.6), ricker=25.0)
    assert d["traces"].shape == (16 * 32, 300) and d["traces"].dtype == np.float32
    r = pstm.migrate(traces=d["traces"], sx=d["sx"], sy=d["sy"], gx=d["gx"], gy=d["gy"], **{
        k: v for k, v in LINE.items() if k not in ("shots", "receivers", "shot_dx", "near_offset", "ns")})
    img = r["image"]
    assert img.ndim == 4 and img.shape[0] == 1 and img.shape[2] == 1 and img.shape[3] == 300
    env = np.abs(img[0, :, 0, :])
    ix, k = np.unravel_index(np.argmax(env), env.shape)
    x = r["x0"] + ix * r["dx"]
    assert abs(x - 500.0) <= 12.5 + 1e-9, x
    assert abs(k - 150) <= 1, k
    assert r["pairs"] > 0 and r["pairs_per_s"] > 0 and r["dim"] == 2


def _dot_mismatch(g, mig, ntr, ns, rng):
    """|<L m, d> - <m, L' d>| / max(|.|, |.|) for a random image m and random data d, and the
    mismatch over the larger sum of |terms| (the float32 floor, robust to a sum that cancels)."""
    probe = pstm.migrate(traces=np.zeros((ntr, ns), np.float32), **g, **mig)
    ny, nx = probe["image"].shape[:2]
    m = rng.standard_normal((ny, nx, mig["nt"])).astype(np.float32)
    d = rng.standard_normal((ntr, ns)).astype(np.float32)
    Lm = pstm.model(image=m, ns=ns, **g, **mig)["traces"]
    Ltd = pstm.migrate(traces=d, **g, **mig)["image"][:, :, 0, :]
    ta = Lm.ravel().astype(np.float64) * d.ravel().astype(np.float64)
    tb = m.ravel().astype(np.float64) * Ltd.ravel().astype(np.float64)
    a, b = float(ta.sum()), float(tb.sum())
    floor = abs(a - b) / max(np.abs(ta).sum(), np.abs(tb).sum())
    return abs(a - b) / max(abs(a), abs(b)), floor, (a, b)


@pytest.mark.parametrize("aa", [False, True])
@pytest.mark.parametrize("seed", [5, 6, 7])
def test_model_is_the_adjoint_of_migrate(aa, seed):
    """<L m, d> = <m, L' d> through the public API on the built-in line, pre-filter and weights on,
    with and without anti-aliasing (a float32 trace of D and float modelling taps gave 3e-5 .. 2e-4,
    5e-8 .. 1e-7 of the sum of |terms|; now 4e-7 .. 4e-6 and 1e-9, as without AA)."""
    geo = _model(diffractors=(500.0, 0.6))
    g = dict(sx=geo["sx"], sy=geo["sy"], gx=geo["gx"], gy=geo["gy"])
    mig = dict(vrms=V, in_dt=0.004, dx=12.5, nt=300, dt=0.004, aperture=1200.0, aa=aa)
    rel, floor, ab = _dot_mismatch(g, mig, geo["traces"].shape[0], 300, np.random.default_rng(seed))
    assert rel <= 1e-5 and floor <= 1e-8, (ab, rel, floor)


@pytest.mark.parametrize("aa", [False, True])
@pytest.mark.parametrize("seed", [5, 6])
def test_model_is_the_adjoint_of_migrate_3d(aa, seed):
    """The same in 3-D (derivative pre-filter, slope in x and y), with and without anti-aliasing:
    random sources and receivers over a 3-D grid. (The modelling buffer is double in both: in
    float it limited 3-D without AA to 1.6e-5 relative on larger surveys.)"""
    rng = np.random.default_rng(seed)
    ntr = 200
    sx, sy = rng.uniform(0, 600, ntr), rng.uniform(0, 600, ntr)
    g = dict(sx=sx, sy=sy, gx=sx + rng.uniform(-400, 400, ntr), gy=sy + rng.uniform(-400, 400, ntr))
    mig = dict(vrms=V, in_dt=0.004, dx=25.0, dy=25.0, nt=150, dt=0.004, aperture=400.0, aa=aa, dim="3")
    rel, floor, ab = _dot_mismatch(g, mig, ntr, 150, rng)
    assert rel <= 1e-5 and floor <= 1e-8, (ab, rel, floor)


def test_threads_do_not_change_the_image():
    d = _model(reflectors=(0.5, 15.0))
    kw = dict(traces=d["traces"], sx=d["sx"], sy=d["sy"], gx=d["gx"], gy=d["gy"], vrms=V, in_dt=0.004, dx=12.5,
              nt=300, dt=0.004, aperture=1200.0, aa=True)
    a = pstm.migrate(threads=1, **kw)["image"]
    b = pstm.migrate(threads=2, **kw)["image"]
    assert np.array_equal(a, b)


def test_offset_classes_split_the_stack():
    d = _model(diffractors=(500.0, 0.6))
    kw = dict(traces=d["traces"], sx=d["sx"], sy=d["sy"], gx=d["gx"], gy=d["gy"], vrms=V, in_dt=0.004, dx=12.5,
              nt=300, dt=0.004, aperture=1200.0)
    one = pstm.migrate(**kw)["image"][:, :, 0, :]
    cig = pstm.migrate(offset_classes=(0.0, 400.0, 3), **kw)["image"]
    assert cig.shape[2] == 3
    np.testing.assert_allclose(cig.sum(axis=2), one, rtol=0, atol=1e-5 * np.abs(one).max())


def test_segy_output_reads_back(tmp_path):
    segyio = pytest.importorskip("segyio")
    d = _model(diffractors=(500.0, 0.6))
    out = tmp_path / "img.sgy"
    r = pstm.migrate(traces=d["traces"], sx=d["sx"], sy=d["sy"], gx=d["gx"], gy=d["gy"], vrms=V, in_dt=0.004,
                     dx=12.5, nt=300, dt=0.004, aperture=1200.0, output=str(out))
    assert "image" not in r and r["pairs"] > 0
    with segyio.open(str(out), ignore_geometry=True) as f:
        assert len(f.samples) == 300 and f.tracecount == r["nx"]
    g = pstm.info(out)
    assert g["ntraces"] == r["nx"] and g["ns"] == 300 and abs(g["dt"] - 0.004) < 1e-12 and g["format"] == 5
    assert abs(g["midpoint_x_min"] - r["x0"]) < 0.01 and abs(g["midpoint_x_max"] - (r["x0"] + (r["nx"] - 1) * 12.5)) < 0.01


def test_bad_input():
    d = _model(diffractors=(500.0, 0.6))
    with pytest.raises(ValueError, match="velocity"):
        pstm.migrate(traces=d["traces"], sx=d["sx"], sy=d["sy"], gx=d["gx"], gy=d["gy"])
    with pytest.raises(ValueError, match="gy"):
        pstm.migrate(traces=d["traces"], sx=d["sx"], sy=d["sy"], gx=d["gx"], vrms=V)
    t = d["traces"].copy()
    t[3, 7] = np.nan
    with pytest.raises(ValueError, match="trace 3"):
        pstm.migrate(traces=t, sx=d["sx"], sy=d["sy"], gx=d["gx"], gy=d["gy"], vrms=V)
    with pytest.raises(ValueError, match="sx"):
        pstm.migrate(traces=d["traces"], sx=d["sx"][:-1], sy=d["sy"], gx=d["gx"], gy=d["gy"], vrms=V)
    with pytest.raises(fastsci.Error):
        pstm.migrate("/nonexistent/file.sgy", vrms=V)
