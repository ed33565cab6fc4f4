"""pstm benchmark workloads (research/pstm.md §7.1): deterministic geometry, output grids and
synthetic traces, and the work count of doc/pstm.md.

W1, 2-D line: shots every 25 m along x (y = 0), 120 receivers at 25 m on one side (ahead of
the shot), offsets 262.5 ... 3,237.5 m, 1,000 samples at 4 ms; traces in shot order (trace i is
receiver i % 120 of shot i // 120). Output CMP bins at 12.5 m covering the midpoints of the
traces used, 1,000 samples at 4 ms, aperture 2.5 km, angle 60 deg, V_rms(t) = 1500 + 500 t m/s.

W2, small 3-D: narrow-azimuth marine geometry (our choice). Sail lines along x, 300 m apart in
y; on each, shots every 50 m; every shot records 4 streamers at cross-line offsets -75, -25, 25,
75 m from the source, 60 channels each at 25 m inline, the first 200 m behind the source
(offsets about 200 ... 1,677 m), so 240 traces a shot, in shot order. The first sail line runs
at y = 2,500 m (the middle of the output) from x = 1,500 m, 100 shots a line, so the first
1K ... 24K traces lie on it and 1K traces have their midpoints well inside the grid (each
trace sees the whole 1 km aperture disc, ~5,000 columns). Output 200 x 200 bins at 25 m from
(0, 0), 500 samples at 4 ms, aperture 1 km, angle 60 deg, the same V_rms(t).

Trace data (both): a few point diffractors (25 Hz Ricker wavelets at the DSR time of each
diffractor with the RMS velocity at its own time), plus 1 % band-limited noise from a fixed
seed. The timings do not depend on the data (no branch on sample values); the events make the
image meaningful for the comparisons.
"""
import numpy as np

DT = 0.004
V0, V1 = 1500.0, 500.0          # V_rms(t) = V0 + V1 t, m/s
VRMS = "0:1500,4:3500"         # the same law as the engine's piecewise-linear string

W1 = dict(name="W1", dim=2, ns=1000, dt=DT, nt=1000, dtau=DT, dx=12.5, dy=12.5, aperture=2500.0,
          angle=60.0, taper=0.1)
W2 = dict(name="W2", dim=3, ns=500, dt=DT, nt=500, dtau=DT, nx=200, ny=200, dx=25.0, dy=25.0,
          x0=0.0, y0=0.0, aperture=1000.0, angle=60.0, taper=0.1)


def vrms(nt, dtau):
    """V_rms at the output samples tau_k = k dtau, float64 [nt]."""
    return V0 + V1 * np.arange(nt) * dtau


def w1_geometry(n):
    """sx, sy, gx, gy (float64 [n]) of the first n traces of W1."""
    i = np.arange(n)
    shot, rec = i // 120, i % 120
    sx = 25.0 * shot
    gx = sx + 262.5 + 25.0 * rec
    z = np.zeros(n)
    return sx.astype(np.float64), z, gx.astype(np.float64), z.copy()


def w1_grid(sx, gx, dx=12.5):
    """Output grid covering the midpoints: x0, nx (bins centred on the CMPs, y = 0, ny = 1)."""
    m = 0.5 * (sx + gx)
    x0 = float(m.min())
    nx = int(round((float(m.max()) - x0) / dx)) + 1
    return x0, nx


def w2_geometry(n):
    """sx, sy, gx, gy (float64 [n]) of the first n traces of W2."""
    i = np.arange(n)
    shot, tr = i // 240, i % 240
    line, k = shot // 100, shot % 100
    cable, ch = tr // 60, tr % 60
    sx = 1500.0 + 50.0 * k
    sy = 2500.0 + 300.0 * line
    gx = sx - 200.0 - 25.0 * ch
    gy = sy + (-75.0 + 50.0 * cable)
    return sx.astype(np.float64), sy.astype(np.float64), gx.astype(np.float64), gy.astype(np.float64)


def ricker(t, f=25.0):
    a = (np.pi * f * t) ** 2
    return (1.0 - 2.0 * a) * np.exp(-a)


def diffractors(dim):
    """(x, y, tau) of the synthetic point diffractors."""
    if dim == 2:
        return np.array([[1000.0, 0.0, 0.8], [1600.0, 0.0, 1.6], [2200.0, 0.0, 2.4]])
    return np.array([[2000.0, 2500.0, 0.6], [2400.0, 2450.0, 1.0], [2800.0, 2550.0, 1.4]])


def synth_traces(sx, sy, gx, gy, ns, dt, dim, noise=0.01, seed=7, chunk=2048):
    """Traces [n, ns] float32: Ricker diffractions at the DSR times plus band-limited noise."""
    n = sx.size
    out = np.empty((n, ns), np.float32)
    t = np.arange(ns) * dt
    rng = np.random.default_rng(seed)
    kern = ricker(np.arange(-12, 13) * dt)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        d = np.zeros((b - a, ns))
        for xd, yd, td in diffractors(dim):
            v = V0 + V1 * td
            q = (td / 2) ** 2
            tt = (np.sqrt(q + ((sx[a:b] - xd) ** 2 + (sy[a:b] - yd) ** 2) / v ** 2)
                  + np.sqrt(q + ((gx[a:b] - xd) ** 2 + (gy[a:b] - yd) ** 2) / v ** 2))
            d += ricker(t[None, :] - tt[:, None])
        if noise:
            wn = rng.standard_normal((b - a, ns + kern.size - 1))
            bl = np.stack([np.convolve(r, kern, mode="valid") for r in wn])
            d += noise * bl / max(bl.std(), 1e-30)
        out[a:b] = d
    return out


def workload(name, n, data=True):
    """Everything one run needs: dict with traces, geometry, grid and options."""
    if name == "W1":
        w = dict(W1)
        sx, sy, gx, gy = w1_geometry(n)
        x0, nx = w1_grid(sx, gx, w["dx"])
        w.update(x0=x0, nx=nx, y0=0.0, ny=1)
    elif name == "W2":
        w = dict(W2)
        sx, sy, gx, gy = w2_geometry(n)
    else:
        raise ValueError(f"workload: unknown name {name!r} (W1 or W2)")
    w.update(n=n, sx=sx, sy=sy, gx=gx, gy=gy, t0=0.0, v=vrms(w["nt"], w["dtau"]))
    w["traces"] = synth_traces(sx, sy, gx, gy, w["ns"], w["dt"], w["dim"]) if data else None
    return w


def columns(x0, dx, nx, y0, dy, ny):
    """Surface positions of the output columns, ox, oy float64 [ny * nx] (x fastest)."""
    oy, ox = np.meshgrid(y0 + dy * np.arange(ny), x0 + dx * np.arange(nx), indexing="ij")
    return ox.ravel(), oy.ravel()


def count_pairs(sx, sy, gx, gy, x0, dx, nx, y0, dy, ny, nt, aperture, chunk=512):
    """The work of doc/pstm.md: sum over traces of (output columns with midpoint distance
    r < aperture, i.e. W_ap > 0) x nt output samples. Returns (pairs, trace-column pairs)."""
    ox, oy = columns(x0, dx, nx, y0, dy, ny)
    mx, my = 0.5 * (sx + gx), 0.5 * (sy + gy)
    cols = 0
    for a in range(0, mx.size, chunk):
        r2 = (mx[a:a + chunk, None] - ox[None, :]) ** 2 + (my[a:a + chunk, None] - oy[None, :]) ** 2
        cols += int(np.count_nonzero(r2 < aperture * aperture))
    return cols * nt, cols


def count_live(sx, sy, gx, gy, x0, dx, nx, y0, dy, ny, nt, dtau, v, aperture, angle, ns, dt, t0=0.0):
    """The samples that carry work (weights on, no AA): pairs with r < aperture and samples k >= 1
    inside the angle cone (rho_k > r) whose traveltime lies inside the trace (0 <= u < ns - 1).
    This is what doc/pstm.md's loop bounds visit at most; used for GFLOP/s. Loops over traces."""
    ox, oy = columns(x0, dx, nx, y0, dy, ny)
    tau = np.arange(nt) * dtau
    v = np.asarray(v, np.float64)
    Q, S = (tau / 2) ** 2, 1.0 / v ** 2
    rho = np.full(nt, np.inf) if angle >= 90 else np.maximum.accumulate(np.tan(np.radians(angle)) * v * tau / 2)
    n = 0
    for i in range(sx.size):
        mx, my = 0.5 * (sx[i] + gx[i]), 0.5 * (sy[i] + gy[i])
        r = np.hypot(mx - ox, my - oy)
        sel = r < aperture
        ds2 = ((sx[i] - ox[sel]) ** 2 + (sy[i] - oy[sel]) ** 2)[:, None]
        dg2 = ((gx[i] - ox[sel]) ** 2 + (gy[i] - oy[sel]) ** 2)[:, None]
        u = (np.sqrt(Q + ds2 * S) + np.sqrt(Q + dg2 * S) - t0) / dt
        live = (rho[None, :] > r[sel][:, None]) & (u >= 0) & (u < ns - 1)
        live[:, 0] = False
        n += int(np.count_nonzero(live))
    return n
