"""The pstm benchmark's baselines compute doc/pstm.md's operator: the numpy and torch versions
agree with the float64 loop reference on tiny 2-D and 3-D cases, and the migration of one spike
lies on the analytic DSR ellipse (research/pstm.md §4).

Run: /usr/bin/python3 -m pytest bench/test_pstm_baseline.py
"""
import math

import numpy as np
import pytest

import pstm_baseline as B
import pstm_workloads as W

try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False

IMPLS = ["numpy", "numpy2"] + (["torch"] if HAVE_TORCH else [])


def run(impl, *a, **kw):
    if impl == "numpy":
        return B.migrate_numpy(*a, **kw)
    if impl == "numpy2":
        return B.migrate_numpy(*a, threads=2, groups=3, **kw)
    return B.migrate_torch(*a, threads=1, tile=(3, 2), chunk=3, **kw)


def rel_l2(a, ref):
    return float(np.linalg.norm(np.asarray(a, np.float64) - ref) / np.linalg.norm(ref))


def case_2d(t0=0.0):
    sx, sy, gx, gy = W.w1_geometry(360)
    idx = np.arange(3, 360, 41)
    sx, sy, gx, gy = (a[idx] for a in (sx, sy, gx, gy))
    ns, dt = 260, 0.004
    tr = W.synth_traces(sx, sy, gx, gy, ns, dt, 2, seed=3)
    geo = dict(dt=dt, t0=t0, x0=400.0, dx=50.0, nx=14, y0=0.0, dy=12.5, ny=1, nt=130, dtau=0.008,
               v=W.vrms(130, 0.008), aperture=500.0, dim=2)
    return (tr, sx, sy, gx, gy), geo


def case_3d():
    sx, sy, gx, gy = W.w2_geometry(480)
    idx = np.arange(5, 480, 53)
    sx, sy, gx, gy = (a[idx] for a in (sx, sy, gx, gy))
    ns, dt = 200, 0.004
    tr = W.synth_traces(sx, sy, gx, gy, ns, dt, 3, seed=5)
    geo = dict(dt=dt, t0=0.0, x0=1000.0, dx=100.0, nx=8, y0=2300.0, dy=100.0, ny=5, nt=90, dtau=0.008,
               v=W.vrms(90, 0.008), aperture=600.0, dim=3)
    return (tr, sx, sy, gx, gy), geo


OPTS = [
    dict(aa=False, weights=True, angle=60.0, taper=0.1),
    dict(aa=False, weights=False, angle=90.0, taper=0.0),
    dict(aa=True, weights=True, angle=60.0, taper=0.1),
    dict(aa=True, weights=False, angle=45.0, taper=0.3, aa_factor=2.0),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("opt", OPTS, ids=lambda o: f"aa{int(o['aa'])}-w{int(o['weights'])}-{o['angle']:g}deg")
@pytest.mark.parametrize("case", ["2d", "2d-t0", "3d"])
def test_agrees_with_float64_reference(impl, opt, case):
    data, geo = case_2d() if case == "2d" else case_2d(t0=0.1) if case == "2d-t0" else case_3d()
    ref = B.migrate_reference(*data, **geo, **opt)
    # the case is not trivial: a good share of the (column, sample) cells receive energy
    assert np.count_nonzero(ref) > 0.2 * ref.size
    got = run(impl, *data, **geo, **opt)
    assert got.shape == ref.shape and got.dtype == np.float32
    err = rel_l2(got, ref)
    assert err < (1e-3 if opt["aa"] else 1e-4), f"{impl} {case} {opt}: relative L2 {err:.2e}"


def test_prefilter_is_half_derivative_and_derivative():
    """P on a sampled sinusoid: |H| = w^(1/2) (2-D) or w (3-D) and the phase pi/4 or pi/2."""
    ns = 512
    n = B.good_size(2 * ns)
    assert n >= 2 * ns and all(p in (2, 3, 5, 7) for p in _factors(n))
    t = np.arange(ns)
    w = 2 * np.pi * 40 / n                     # an exact bin of the padded length
    d = np.cos(w * t)
    for dim, gain, phase in ((2, math.sqrt(w), math.pi / 4), (3, w, math.pi / 2)):
        q = B.prepare_numpy(d[None, :], dim, aa=False, nfft=n)[0].astype(np.float64)
        qr = B.prepare_reference(d, dim, aa=False, nfft=n)
        expect = gain * np.cos(w * t + phase)
        mid = slice(ns // 4, 3 * ns // 4)     # away from the zero-padding edges
        assert np.max(np.abs(qr[mid] - expect[mid])) < 0.15 * gain
        assert np.max(np.abs(q - qr)) < 1e-5 * np.max(np.abs(qr))


def _factors(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def test_double_integration_h1_is_the_sample():
    """With AA, h = 1 at integer u gives p[u] exactly (doc/pstm.md): 2D[u] - D[u-1] - D[u+1] = p[u]."""
    rng = np.random.default_rng(1)
    d = rng.standard_normal(64)
    p = B.prepare_reference(d, 3, aa=False)
    D = B.prepare_reference(d, 3, aa=True)
    u = np.arange(1, 63)
    np.testing.assert_allclose(2 * D[u] - D[u - 1] - D[u + 1], p[u], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("impl", ["reference"] + IMPLS)
@pytest.mark.parametrize("aa", [False, True])
@pytest.mark.parametrize("half_offset", [0.0, 300.0, 700.0])
def test_impulse_response_on_dsr_ellipse(impl, aa, half_offset):
    """Constant V, one trace whose prepared trace is a zero-phase 25 Hz Ricker at t_d (the input
    is the Ricker taken through the inverse of the 2-D pre-filter): on every column inside the
    angle limit the image peak lies within +-1 output sample of the ellipse
    (x - m)^2/a^2 + z^2/b^2 = 1, a = V t_d / 2, b^2 = a^2 - h^2, tau = 2 z / V; nothing beyond
    tau = t_d + the wavelet's half-length."""
    V, dt, ns, td = 2000.0, 0.004, 400, 1.0
    n, H = B.prefilter_response(ns, 2)
    spec = np.fft.rfft(W.ricker(np.arange(n) * dt - td))
    spec[1:] /= H[1:]
    spec[0] = 0.0
    d = np.fft.irfft(spec, n)[None, :ns].astype(np.float32)
    m = 2000.0
    sx, gx = np.array([m - half_offset]), np.array([m + half_offset])
    sy = gy = np.zeros(1)
    nt, dtau, dx, nx = 300, 0.004, 25.0, 121
    geo = dict(dt=dt, t0=0.0, v=np.full(nt, V), x0=m - 1500.0, dx=dx, nx=nx, y0=0.0, dy=dx, ny=1, nt=nt,
               dtau=dtau, aperture=2000.0, angle=60.0, taper=0.1, aa=aa, weights=True, dim=2)
    if impl == "reference":
        img = B.migrate_reference(d, sx, sy, gx, gy, **geo)[0]
    else:
        img = run(impl, d, sx, sy, gx, gy, **geo)[0]
    a = V * td / 2
    b = math.sqrt(a * a - half_offset ** 2)
    tan = math.tan(math.radians(60.0))
    checked = 0
    for ix in range(nx):
        x = geo["x0"] + ix * dx - m
        if abs(x) >= a:
            continue
        tau = 2.0 * b * math.sqrt(1.0 - (x / a) ** 2) / V
        if abs(x) > 0.85 * tan * V * tau / 2:       # outside the untapered cone
            continue
        k = int(np.argmax(np.abs(img[ix])))
        assert abs(k - tau / dtau) <= 1.0, f"column x = {x:.0f}: peak at {k}, ellipse at {tau / dtau:.2f}"
        checked += 1
    assert checked >= 20
    late = np.abs(img[:, int((td + 0.06) / dtau):]).max()    # the Ricker is < 1e-6 beyond 60 ms
    assert late < 0.02 * np.abs(img).max(), f"energy after t_d: {late:.3g} of {np.abs(img).max():.3g}"


def test_count_pairs_matches_a_loop():
    sx, sy, gx, gy = W.w2_geometry(300)
    idx = np.arange(0, 300, 29)
    sx, sy, gx, gy = (a[idx] for a in (sx, sy, gx, gy))
    x0, dx, nx, y0, dy, ny, nt, R = 900.0, 50.0, 30, 2200.0, 50.0, 14, 7, 650.0
    n = 0
    for i in range(sx.size):
        mx, my = (sx[i] + gx[i]) / 2, (sy[i] + gy[i]) / 2
        for iy in range(ny):
            for ix in range(nx):
                n += math.hypot(mx - x0 - ix * dx, my - y0 - iy * dy) < R
    assert W.count_pairs(sx, sy, gx, gy, x0, dx, nx, y0, dy, ny, nt, R) == (n * nt, n)
    assert n > 0


def test_w1_geometry():
    sx, sy, gx, gy = W.w1_geometry(1000)
    off = gx - sx
    assert off.min() == 262.5 and off.max() == 3237.5 and np.all(sy == 0) and np.all(gy == 0)
    assert np.all(np.diff(np.unique(sx)) == 25.0) and np.unique(sx).size == math.ceil(1000 / 120)
    x0, nx = W.w1_grid(sx, gx)
    m = (sx + gx) / 2
    assert np.allclose((m - x0) / 12.5, np.round((m - x0) / 12.5)) and x0 + (nx - 1) * 12.5 == m.max()
