"""fastsci.pstm against data built here from analytic traveltimes (not by fastsci's own
modelling, so kinematic errors cannot cancel): point diffractors and dipping planes in a
constant-velocity medium, migrated; and the anti-aliasing trade-off on coarse sampling.

Traveltimes (constant V): a diffractor p: t = (|s - p| + |g - p|) / V; a plane reflector:
t = |s' - g| / V with s' the source mirrored in the plane. In the time image (x, tau) the
plane z(x) = z0 + (x - xc) tan(phi) sits at tau = 2 z / V, so its dip in (x, V tau / 2)
is phi.
"""
import math

import numpy as np
import pytest

import fastsci.pstm as pstm

V = 2000.0


def ricker(t, f):
    a = (math.pi * f * t) ** 2
    return (1 - 2 * a) * np.exp(-a)


def line(shots, receivers, shot_dx, rec_dx, near, x0=0.0):
    s = x0 + np.repeat(np.arange(shots) * shot_dx, receivers)
    g = s + near + np.tile(np.arange(receivers) * rec_dx, shots)
    z = np.zeros_like(s)
    return s.astype(np.float64), z, g.astype(np.float64), z.copy()


def synth(times, amps, ns, dt, f):
    """Traces with a Ricker wavelet at each time of `times` (ntr x nev)."""
    t = np.arange(ns) * dt
    d = np.zeros((times.shape[0], ns))
    for j in range(times.shape[1]):
        d += amps[:, j:j + 1] * ricker(t[None, :] - times[:, j:j + 1], f)
    return d.astype(np.float32)


def plane_times(sx, gx, xc, z0, phi):
    n = np.array([-math.sin(phi), math.cos(phi)])
    p0 = np.array([xc, z0])
    dist = (sx - p0[0]) * n[0] + (0 - p0[1]) * n[1]
    mx, mz = sx - 2 * dist * n[0], -2 * dist * n[1]
    return np.hypot(mx - gx, mz) / V


def migrate(sx, sy, gx, gy, d, dt, dx, nt, **kw):
    return pstm.migrate(traces=d, sx=sx, sy=sy, gx=gx, gy=gy, in_dt=dt, vrms=f"0:{V:g}", dx=dx, nt=nt, dt=dt,
                        **kw)


def test_point_diffractors_are_imaged_in_place():
    sx, sy, gx, gy = line(60, 60, 50.0, 25.0, 100.0)
    dt, ns = 0.004, 500
    pts = [(1500.0, 500.0), (2200.0, 900.0), (2800.0, 700.0)]
    t = np.stack([(np.hypot(sx - px, pz) + np.hypot(gx - px, pz)) / V for px, pz in pts], axis=1)
    d = synth(t, np.ones_like(t), ns, dt, 25.0)
    for aa in (False, True):
        r = migrate(sx, sy, gx, gy, d, dt, 12.5, ns, aperture=2500.0, aa=aa)
        img = r["image"][0, :, 0, :]
        for px, pz in pts:
            ix0, k0 = round((px - r["x0"]) / r["dx"]), round(2 * pz / V / dt)
            win = np.abs(img[ix0 - 10:ix0 + 11, k0 - 15:k0 + 16])
            i, k = np.unravel_index(np.argmax(win), win.shape)
            tol = 2 if aa else 1
            assert abs(i - 10) <= 1 and abs(k - 15) <= tol, (aa, px, pz, i - 10, k - 15)


@pytest.mark.parametrize("dip", [0.0, 15.0, 30.0, 45.0])
def test_dipping_plane_has_its_dip(dip):
    phi = math.radians(dip)
    # midpoints from 50 to 4800 m: the specular points of the evaluated part (x = xc +- 400,
    # z = z0 +- 400 tan(phi)) lie up to z tan(phi) down-dip, inside the line for every dip here
    sx, sy, gx, gy = line(160, 30, 25.0, 25.0, 100.0)
    dt, ns = 0.004, 600
    xc, z0 = 2000.0, 600.0
    t = plane_times(sx, gx, xc, z0, phi)[:, None]
    d = synth(t, np.ones_like(t), ns, dt, 25.0)
    r = migrate(sx, sy, gx, gy, d, dt, 12.5, ns, aperture=2500.0, angle=80.0, x0=xc - 500, y0=0.0, nx=81)
    img = r["image"][0, :, 0, :]
    xs, taus = [], []
    for ix in range(img.shape[0]):
        x = r["x0"] + ix * r["dx"]
        if abs(x - xc) > 400:
            continue
        tau = 2 * (z0 + (x - xc) * math.tan(phi)) / V
        k0 = round(tau / dt)
        lo, hi = max(k0 - 20, 0), min(k0 + 21, ns)
        k = lo + int(np.argmax(img[ix, lo:hi]))  # the wavelet's positive peak
        if 0 < k < ns - 1:  # parabolic refinement
            a, b, c = img[ix, k - 1], img[ix, k], img[ix, k + 1]
            den = a - 2 * b + c
            k = k + (0.5 * (a - c) / den if den != 0 else 0.0)
        xs.append(x)
        taus.append(k * dt)
    slope = np.polyfit(xs, np.array(taus) * V / 2, 1)[0]
    print(f"dip {dip}: measured {math.degrees(math.atan(slope)):.3f} degrees")
    assert abs(math.degrees(math.atan(slope)) - dip) <= 1.0, (dip, math.degrees(math.atan(slope)))


def test_anti_aliasing_cuts_alias_noise_and_keeps_the_flat_event():
    """Coarse sampling (50 m receivers and shots, 60 Hz): a flat and a 40-degree plane.
    Alias energy = image energy outside +-40 ms of both true events in the central part."""
    sx, sy, gx, gy = line(40, 48, 50.0, 50.0, 100.0)
    dt, ns = 0.002, 800
    xc = 0.5 * (sx.min() + gx.max())
    t = np.stack([plane_times(sx, gx, xc, 400.0, 0.0), plane_times(sx, gx, xc, 900.0, math.radians(40))], axis=1)
    d = synth(t, np.ones_like(t), ns, dt, 60.0)
    res = {}
    for aa in (False, True):
        r = migrate(sx, sy, gx, gy, d, dt, 25.0, ns, aperture=2000.0, aa=aa)
        img = r["image"][0, :, 0, :].astype(np.float64)
        x = r["x0"] + np.arange(img.shape[0]) * r["dx"]
        central = np.abs(x - xc) <= 600
        tau = np.arange(ns) * dt
        tf = 2 * 400.0 / V
        td = 2 * (900.0 + (x - xc) * math.tan(math.radians(40))) / V
        near = (np.abs(tau[None, :] - tf) <= 0.04) | (np.abs(tau[None, :] - td[:, None]) <= 0.04)
        alias = float(np.sum(img[central][~near[central]] ** 2))
        kf = round(tf / dt)
        flat = float(np.mean(np.max(np.abs(img[central, kf - 10:kf + 11]), axis=1)))
        res[aa] = (alias, flat)
    cut = res[False][0] / res[True][0]
    change = abs(res[True][1] / res[False][1] - 1)
    print(f"alias energy cut {cut:.2f}x, flat event amplitude change {100 * change:.1f} %")
    assert cut >= 2.0, (cut, res)
    assert change <= 0.10, (change, res)
