"""pstm baselines: doc/pstm.md's migration three ways, for the benchmark and its tests.

- migrate_numpy: the best vectorised numpy we could write. Input-trace-centric: per input trace,
  the output columns inside the aperture (sorted by midpoint distance and cut into a few
  groups, so that each group starts at the first sample inside its angle cone) x the output
  samples, in float32, as one block of ufunc calls; image columns updated by fancy indexing.
  threads > 1 splits the traces between Python threads (numpy releases the GIL inside ufuncs),
  each with its own image, summed at the end.
- migrate_torch: the "original approach" of the desktop app the engine replaces (PyTorch on
  CPU, output-point-centric with tiles; research/pstm.md §2), written here from that
  description: per output tile, the traces whose midpoints lie within aperture + tile radius,
  in chunks, as (traces x tile columns x samples) tensors gathered with torch.take and summed
  over traces. Pairs of a tile outside the aperture are computed and weighted 0.
- migrate_reference: plain float64 loops over traces, columns and samples (tiny inputs; tests).

All three compute exactly doc/pstm.md §1 (pre-filter, optional double integration, DSR
traveltime, aperture/angle tapers, amplitude weight, linear interpolation or the LCB
triangle). The velocity is V_rms(tau) at the output samples, the same for every column
(v: float64 [nt]). The loop bounds of doc/pstm.md are only a saving: samples they skip
contribute nothing (outside the cone W_ang = 0; past the trace end the sample is masked), so
masking every sample gives the same image.
Output: image [ny, nx, nt] float32 (one offset class).
"""
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.fft

HMAX = 25.0  # LCB cap on the triangle half-length, samples (doc/pstm.md)


# ---- input side ----------------------------------------------------------------------------

def good_size(n):
    """Smallest m >= n whose only prime factors are 2, 3, 5, 7 (FFTW's fast sizes)."""
    m = n
    while True:
        k = m
        for p in (2, 3, 5, 7):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


def prefilter_response(ns, dim, nfft=None):
    """n and H on the rfft bins j = 0 ... n/2 (complex128)."""
    n = nfft or good_size(2 * ns)
    w = 2.0 * np.pi * np.arange(n // 2 + 1) / n
    if dim == 2:
        H = np.sqrt(w) * np.exp(1j * np.pi / 4)
    else:
        H = 1j * w
    H[0] = 0.0
    if n % 2 == 0:
        H[-1] = H[-1].real
    return n, H


def prepare_numpy(traces, dim, aa, nfft=None, workers=1):
    """Prepared traces q (doc/pstm.md §1): P d, or A C P d with anti-aliasing; float32 [ntr, ns]."""
    d = np.ascontiguousarray(traces, np.float32)
    ns = d.shape[1]
    n, H = prefilter_response(ns, dim, nfft)
    spec = scipy.fft.rfft(d, n, axis=1, workers=workers)
    spec *= H.astype(np.complex64)
    p = scipy.fft.irfft(spec, n, axis=1, workers=workers)[:, :ns]
    if not aa:
        return np.ascontiguousarray(p, np.float32)
    c = np.cumsum(p, axis=1, dtype=np.float64)
    D = np.cumsum(c[:, ::-1], axis=1)[:, ::-1]
    return np.ascontiguousarray(D, np.float32)


# ---- output side ---------------------------------------------------------------------------

def _ramp_inv(R, f):
    """1 / (f R) for the linear taper (W = clip((R - r) / (f R), 0, 1)); inf for f = 0."""
    with np.errstate(divide="ignore"):
        return np.where(R > 0, 1.0 / (f * R) if f > 0 else np.inf, 0.0)


def tables(v, nt, dtau, angle, taper):
    """Per-sample tables shared by every column: tau, Q, S, rho (running max), irho."""
    tau = np.arange(nt) * dtau
    v = np.asarray(v, np.float64)
    Q = (tau / 2) ** 2
    S = 1.0 / v ** 2
    if angle >= 90.0:
        rho = np.full(nt, np.inf)
        irho = np.zeros(nt)
    else:
        rho = np.maximum.accumulate(math.tan(math.radians(angle)) * v * tau / 2)
        irho = _ramp_inv(rho, taper)
    return dict(tau=tau, Q=Q, S=S, rho=rho, irho=irho, cone=angle < 90.0)


def _aa_dx(dim, dx, dy):
    return dx if dim == 2 else 0.5 * (dx + dy)


# ---- float64 reference ---------------------------------------------------------------------

def prepare_reference(d, dim, aa, nfft=None):
    """Float64 prepared trace of one trace d [ns] (pre-filter through numpy's FFT, explicit sums)."""
    d = np.asarray(d, np.float64)
    ns = d.size
    n, H = prefilter_response(ns, dim, nfft)
    p = np.fft.irfft(np.fft.rfft(d, n) * H, n)[:ns]
    if not aa:
        return p
    c = np.zeros(ns)
    acc = 0.0
    for i in range(ns):
        acc += p[i]
        c[i] = acc
    D = np.zeros(ns)
    acc = 0.0
    for i in range(ns - 1, -1, -1):
        acc += c[i]
        D[i] = acc
    return D


def migrate_reference(traces, sx, sy, gx, gy, dt, t0, v, x0, dx, nx, y0, dy, ny, nt, dtau, aperture,
                      angle, taper, aa, weights, dim, aa_factor=1.0, nfft=None):
    """doc/pstm.md's migration by explicit loops over (trace, column, sample), all float64."""
    ntr, ns = np.shape(traces)
    img = np.zeros((ny, nx, nt))
    tab = tables(v, nt, dtau, angle, taper)
    cone = angle < 90.0
    aadx = _aa_dx(dim, dx, dy)
    for it in range(ntr):
        q = prepare_reference(traces[it], dim, aa, nfft)
        s = (float(sx[it]), float(sy[it]))
        g = (float(gx[it]), float(gy[it]))
        mx, my = 0.5 * (s[0] + g[0]), 0.5 * (s[1] + g[1])
        for iy in range(ny):
            for ix in range(nx):
                ox, oy = x0 + ix * dx, y0 + iy * dy
                r = math.hypot(mx - ox, my - oy)
                if r >= aperture:
                    continue
                wap = 1.0 if r <= (1 - taper) * aperture else (aperture - r) / (taper * aperture)
                ds2 = (s[0] - ox) ** 2 + (s[1] - oy) ** 2
                dg2 = (g[0] - ox) ** 2 + (g[1] - oy) ** 2
                for k in range(nt):
                    tau, Q, S = tab["tau"][k], tab["Q"][k], tab["S"][k]
                    if cone:
                        rho = tab["rho"][k]
                        if r >= rho:
                            continue
                        wang = 1.0 if r <= (1 - taper) * rho else (rho - r) / (taper * rho)
                    else:
                        wang = 1.0
                    ts = math.sqrt(Q + ds2 * S)
                    tg = math.sqrt(Q + dg2 * S)
                    if weights:
                        if tau == 0.0:
                            continue
                        cbar = (tau / 2) * (1 / ts + 1 / tg) / 2
                        A = cbar * (Q / (ts * tg)) ** (0.5 if dim == 2 else 1.0)
                    else:
                        A = 1.0
                    u = (ts + tg - t0) / dt

                    def lerp(x):
                        i = math.floor(x)
                        return q[i] + (x - i) * (q[i + 1] - q[i])

                    if not aa:
                        if u < 0 or math.floor(u) + 1 > ns - 1:
                            continue
                        val = lerp(u)
                    else:
                        ax = (s[0] - ox) / ts + (g[0] - ox) / tg if ts > 0 and tg > 0 else 0.0
                        ay = (s[1] - oy) / ts + (g[1] - oy) / tg if ts > 0 and tg > 0 else 0.0
                        gam = S * math.hypot(ax, ay)
                        h = min(1.0 + aa_factor * gam * aadx / dt, HMAX)
                        if u - h < 0 or math.floor(u + h) + 1 > ns - 1:
                            continue
                        val = (2 * lerp(u) - lerp(u - h) - lerp(u + h)) / (h * h)
                    img[iy, ix, k] += wap * wang * A * val
    return img


# ---- numpy ---------------------------------------------------------------------------------

class _Plan:
    """Per-run constants of the numpy and torch baselines."""

    def __init__(self, ns, dt, t0, v, x0, dx, nx, y0, dy, ny, nt, dtau, aperture, angle, taper, aa,
                 weights, dim, aa_factor):
        self.ns, self.dt, self.t0 = ns, dt, t0
        self.x0, self.dx, self.nx, self.y0, self.dy, self.ny, self.nt = x0, dx, nx, y0, dy, ny, nt
        self.R, self.f, self.aa, self.weights, self.dim = aperture, taper, aa, weights, dim
        self.tab = tables(v, nt, dtau, angle, taper)
        self.cone = self.tab["cone"]
        self.Q = self.tab["Q"].astype(np.float32)
        self.S = self.tab["S"].astype(np.float32)
        self.hq = np.sqrt(self.tab["Q"]).astype(np.float32)          # tau / 2
        self.rho = self.tab["rho"].astype(np.float32)
        self.irho = self.tab["irho"].astype(np.float32)
        self.ap_inv = float(_ramp_inv(np.float64(aperture), taper))
        self.aa_scale = np.float32(aa_factor * _aa_dx(dim, dx, dy) / dt)
        self.inv_dt = np.float32(1.0 / dt)
        # tau_k >= t0 + (ns - 1) dt leaves the trace for every pair (t >= tau)
        self.k1 = int(np.searchsorted(self.tab["tau"], t0 + (ns - 1) * dt, side="left"))
        self.kmin = 1 if weights else 0                              # A = 0 at tau = 0

    def window(self, mx, my):
        """Flat indices, ox, oy, r of the columns with r < R around midpoint (mx, my)."""
        R = self.R
        ia = max(0, math.ceil((mx - R - self.x0) / self.dx))
        ib = min(self.nx - 1, math.floor((mx + R - self.x0) / self.dx))
        ja = max(0, math.ceil((my - R - self.y0) / self.dy)) if self.ny > 1 else 0
        jb = min(self.ny - 1, math.floor((my + R - self.y0) / self.dy)) if self.ny > 1 else 0
        if ib < ia or jb < ja:
            e = np.empty(0)
            return e.astype(np.int64), e, e, e
        ix = np.arange(ia, ib + 1)
        iy = np.arange(ja, jb + 1)
        ox = self.x0 + self.dx * ix
        oy = self.y0 + self.dy * iy
        r = np.hypot(mx - ox[None, :], my - oy[:, None])
        jj, ii = np.nonzero(r < R)
        return (iy[jj] * self.nx + ix[ii]), ox[ii], oy[jj], r[jj, ii]

    def k0(self, rmin):
        """First sample with a non-zero weight for a column at midpoint distance >= rmin."""
        k = int(np.searchsorted(self.tab["rho"], rmin, side="right")) if self.cone else 0
        return max(k, self.kmin)


def _lerp_np(q, x, ns):
    """q(x) by linear interpolation, indices clamped (the caller masks invalid x)."""
    fl = np.floor(x)
    i = fl.astype(np.int32)
    np.maximum(i, 0, out=i)
    np.minimum(i, ns - 2, out=i)
    fl -= x
    np.negative(fl, out=fl)                   # phi = x - floor(x)
    q0 = q.take(i)
    q1 = q.take(i + 1)
    q1 -= q0
    q1 *= fl
    q1 += q0
    return q1


def _numpy_trace(pl, q, sx, sy, gx, gy, img, groups):
    ns = pl.ns
    mx, my = 0.5 * (sx + gx), 0.5 * (sy + gy)
    flat, ox, oy, r = pl.window(mx, my)
    if flat.size == 0:
        return
    order = np.argsort(r, kind="stable")
    # a few groups of >= 64 columns: each starts at its own first sample inside the cone
    for part in np.array_split(order, max(1, min(groups, order.size // 64))):
        cols, gox, goy, gr = flat[part], ox[part], oy[part], r[part]
        k0 = pl.k0(float(gr[0]))
        k1 = pl.k1
        if k1 <= k0:
            continue
        sl = slice(k0, k1)
        Q, S = pl.Q[sl], pl.S[sl]
        dsx, dsy = (sx - gox).astype(np.float32), (sy - goy).astype(np.float32)
        dgx, dgy = (gx - gox).astype(np.float32), (gy - goy).astype(np.float32)
        ds2 = (dsx * dsx + dsy * dsy)[:, None]
        dg2 = (dgx * dgx + dgy * dgy)[:, None]
        ts = ds2 * S
        ts += Q
        np.sqrt(ts, out=ts)
        tg = dg2 * S
        tg += Q
        np.sqrt(tg, out=tg)
        u = ts + tg
        if pl.t0:
            u -= np.float32(pl.t0)
        u *= pl.inv_dt
        # weight: aperture x cone x amplitude
        wap = np.clip((pl.R - gr) * pl.ap_inv, 0.0, 1.0) if np.isfinite(pl.ap_inv) else (gr < pl.R) * 1.0
        if pl.cone:
            if np.isfinite(pl.irho[sl]).all():
                w = pl.rho[sl] - gr.astype(np.float32)[:, None]
                w *= pl.irho[sl]
                np.maximum(w, np.float32(0.0), out=w)
                np.minimum(w, np.float32(1.0), out=w)
            else:
                w = ((gr[:, None] < pl.rho[sl]) & (pl.rho[sl] > 0)).astype(np.float32)
            w *= wap.astype(np.float32)[:, None]
        else:
            w = np.broadcast_to(wap.astype(np.float32)[:, None], ts.shape).copy()
        if pl.weights or pl.aa:
            with np.errstate(divide="ignore"):
                its = np.reciprocal(ts)
                itg = np.reciprocal(tg)
            if k0 == 0:                       # ts or tg = 0 only at tau = 0: gamma = 0 there
                its[~np.isfinite(its)] = 0.0
                itg[~np.isfinite(itg)] = 0.0
        if pl.weights:
            a = its + itg
            a *= pl.hq[sl] * np.float32(0.5)             # c-bar
            sp = its * itg
            sp *= Q                                       # (tau/2)^2 / (ts tg)
            if pl.dim == 2:
                np.sqrt(sp, out=sp)
            a *= sp
            w *= a
        if not pl.aa:
            valid = u >= 0
            valid &= u < ns - 1
            val = _lerp_np(q, u, ns)
        else:
            ax = dsx[:, None] * its
            ax += dgx[:, None] * itg
            if np.any(dsy) or np.any(dgy):
                ay = dsy[:, None] * its
                ay += dgy[:, None] * itg
                gam = np.hypot(ax, ay)
            else:
                gam = np.abs(ax, out=ax)
            gam *= S
            h = gam
            h *= pl.aa_scale
            h += np.float32(1.0)
            np.minimum(h, np.float32(HMAX), out=h)
            um = u - h
            up = u + h
            valid = um >= 0
            valid &= up < ns - 1
            val = _lerp_np(q, u, ns)
            val *= np.float32(2.0)
            val -= _lerp_np(q, um, ns)
            val -= _lerp_np(q, up, ns)
            h *= h
            val /= h
        val *= w
        val *= valid
        img[cols, sl] += val


def migrate_numpy(traces, sx, sy, gx, gy, dt, t0, v, x0, dx, nx, y0, dy, ny, nt, dtau, aperture, angle,
                  taper, aa, weights, dim, aa_factor=1.0, nfft=None, threads=1, groups=4):
    """doc/pstm.md's migration, vectorised per input trace; image [ny, nx, nt] float32."""
    ntr, ns = np.shape(traces)
    pl = _Plan(ns, dt, t0, v, x0, dx, nx, y0, dy, ny, nt, dtau, aperture, angle, taper, aa, weights, dim,
               aa_factor)
    q = prepare_numpy(traces, dim, aa, nfft, workers=threads)

    def work(a, b):
        img = np.zeros((ny * nx, nt), np.float32)
        for it in range(a, b):
            _numpy_trace(pl, q[it], float(sx[it]), float(sy[it]), float(gx[it]), float(gy[it]), img, groups)
        return img

    if threads <= 1 or ntr < 2:
        img = work(0, ntr)
    else:
        bounds = np.linspace(0, ntr, threads + 1).astype(int)
        with ThreadPoolExecutor(threads) as ex:
            parts = list(ex.map(lambda ab: work(*ab), zip(bounds[:-1], bounds[1:])))
        img = parts[0]
        for p in parts[1:]:
            img += p
    return img.reshape(ny, nx, nt)


# ---- torch ("original approach") -----------------------------------------------------------

def prepare_torch(torch, traces, dim, aa, nfft=None):
    d = torch.from_numpy(np.ascontiguousarray(traces, np.float32))
    ns = d.shape[1]
    n, H = prefilter_response(ns, dim, nfft)
    spec = torch.fft.rfft(d, n=n, dim=1) * torch.from_numpy(H.astype(np.complex64))
    p = torch.fft.irfft(spec, n=n, dim=1)[:, :ns]
    if not aa:
        return p.contiguous()
    c = torch.cumsum(p.double(), dim=1)
    D = torch.flip(torch.cumsum(torch.flip(c, [1]), dim=1), [1])
    return D.float().contiguous()


def migrate_torch(traces, sx, sy, gx, gy, dt, t0, v, x0, dx, nx, y0, dy, ny, nt, dtau, aperture, angle,
                  taper, aa, weights, dim, aa_factor=1.0, nfft=None, threads=None, tile=None, chunk=32):
    """The same operator, output-tile-centric in PyTorch on the CPU; image [ny, nx, nt] float32.
    threads: torch.set_num_threads for the call (None: leave it)."""
    import torch
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            return _torch_run(torch, traces, sx, sy, gx, gy, dt, t0, v, x0, dx, nx, y0, dy, ny, nt, dtau,
                              aperture, angle, taper, aa, weights, dim, aa_factor, nfft, tile, chunk)
    finally:
        torch.set_num_threads(old)


def _torch_lerp(torch, qf, base, x, ns):
    fl = torch.floor(x)
    phi = x - fl
    i = fl.to(torch.int64).clamp_(0, ns - 2) + base
    q0 = torch.take(qf, i)
    return q0 + phi * (torch.take(qf, i + 1) - q0)


def _torch_run(torch, traces, sx, sy, gx, gy, dt, t0, v, x0, dx, nx, y0, dy, ny, nt, dtau, aperture, angle,
               taper, aa, weights, dim, aa_factor, nfft, tile, chunk):
    ntr, ns = np.shape(traces)
    pl = _Plan(ns, dt, t0, v, x0, dx, nx, y0, dy, ny, nt, dtau, aperture, angle, taper, aa, weights, dim,
               aa_factor)
    q = prepare_torch(torch, traces, dim, aa, nfft)
    img = np.zeros((ny, nx, nt), np.float32)
    if tile is None:
        tile = (32, 1) if ny == 1 else (8, 8)
    tx, ty = tile
    mx, my = 0.5 * (np.asarray(sx) + gx), 0.5 * (np.asarray(sy) + gy)
    T = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.float32))  # noqa: E731
    k1 = pl.k1
    finite_ap = np.isfinite(pl.ap_inv)
    for jy in range(0, ny, ty):
        for jx in range(0, nx, tx):
            ix = np.arange(jx, min(nx, jx + tx))
            iy = np.arange(jy, min(ny, jy + ty))
            oxg, oyg = np.meshgrid(x0 + dx * ix, y0 + dy * iy)
            ox, oy = oxg.ravel(), oyg.ravel()
            cx, cy = ox.mean(), oy.mean()
            rad = float(np.hypot(ox - cx, oy - cy).max())
            cand = np.nonzero(np.hypot(mx - cx, my - cy) < aperture + rad)[0]
            if cand.size == 0:
                continue
            rall = np.hypot(mx[cand, None] - ox[None, :], my[cand, None] - oy[None, :])
            k0 = pl.k0(float(rall.min()))
            if k1 <= k0:
                continue
            sl = slice(k0, k1)
            Q, S = T(pl.Q[sl]), T(pl.S[sl])
            rho, irho, hq = T(pl.rho[sl]), T(pl.irho[sl]), T(pl.hq[sl])
            acc = torch.zeros((ox.size, k1 - k0), dtype=torch.float32)
            for a in range(0, cand.size, chunk):
                c = cand[a:a + chunk]
                r = T(rall[a:a + chunk])[:, :, None]
                dsx, dsy = T(sx[c, None] - ox[None, :]), T(sy[c, None] - oy[None, :])
                dgx, dgy = T(gx[c, None] - ox[None, :]), T(gy[c, None] - oy[None, :])
                ds2 = (dsx * dsx + dsy * dsy)[:, :, None]
                dg2 = (dgx * dgx + dgy * dgy)[:, :, None]
                ts = torch.sqrt(Q + ds2 * S)
                tg = torch.sqrt(Q + dg2 * S)
                u = (ts + tg - t0) * pl.inv_dt
                if finite_ap:
                    w = ((aperture - r) * pl.ap_inv).clamp_(0.0, 1.0)
                else:
                    w = (r < aperture).float()
                if pl.cone:
                    if bool(torch.isfinite(irho).all()):
                        w = w * ((rho - r) * irho).clamp_(0.0, 1.0)
                    else:
                        w = w * ((r < rho) & (rho > 0)).float()
                if weights or aa:
                    its = torch.where(ts > 0, 1.0 / ts, torch.zeros_like(ts))
                    itg = torch.where(tg > 0, 1.0 / tg, torch.zeros_like(tg))
                if weights:
                    cbar = hq * (its + itg) * 0.5
                    sp = Q * its * itg
                    w = w * cbar * (torch.sqrt(sp) if dim == 2 else sp)
                qf = q[c].reshape(-1)
                base = (torch.arange(c.size, dtype=torch.int64) * ns)[:, None, None]
                if not aa:
                    valid = (u >= 0) & (u < ns - 1)
                    val = _torch_lerp(torch, qf, base, u, ns)
                else:
                    ax = dsx[:, :, None] * its + dgx[:, :, None] * itg
                    ay = dsy[:, :, None] * its + dgy[:, :, None] * itg
                    h = torch.clamp(1.0 + pl.aa_scale * S * torch.hypot(ax, ay), max=HMAX)
                    valid = (u - h >= 0) & (u + h < ns - 1)
                    val = (2.0 * _torch_lerp(torch, qf, base, u, ns) - _torch_lerp(torch, qf, base, u - h, ns)
                           - _torch_lerp(torch, qf, base, u + h, ns)) / (h * h)
                acc += (w * val * valid).sum(0)
            img[iy[:, None], ix[None, :], sl] += acc.numpy().reshape(iy.size, ix.size, -1)
    return img
