"""Vectorised numpy implementation of the proton engine's three transport operators.

The same discretisation as fastsci's engine (doc/proton.md, "One step"), driven by
the tables of the engine's plan (``_fastsci_bench.proton_bench_tables``), on a
dense phase space psi[E][theta][z][x] (float32) with a periodic angular grid:

- ``scatter`` (A_theta): per energy bin a symmetric circular convolution along theta
  with the bin's kernel (taps for offsets -h..h), bins grouped by kernel width so
  each group is one broadcast multiply-add per tap;
- ``energy`` (A_E): each bin's weight, times its nuclear survival factor, moves to
  its target bins (-1: the cutoff, -2: unused), i.e. a shift down one bin in water
  on a residual-range grid;
- ``stream`` (A_stream): per angle the 4-tap bilinear pull
  out(z, x) = sum_{a,b} wz[a] wx[b] in(z - iv - a, x - iu - b), wz = (1 - fv, fv),
  wx = (1 - fu, fu), zero outside the grid, vectorised over E, z and x;
- ``step``: stream(energy(scatter(psi))), the engine's operator order.

All arithmetic is float32 except where noted; this is what a numpy user would write.
"""
import numpy as np


class NumpyProton:
    """The three operators for one plan's tables (a dict from proton_bench_tables)."""

    def __init__(self, tables):
        t = tables
        self.ne, self.nth, self.nz, self.nx = (int(t[k]) for k in ("ne", "ntheta", "nz", "nx"))
        # scattering kernels grouped by half-width h: (bins, stacked taps (nbins, 2h + 1))
        groups = {}
        for k, w in enumerate(t["kernels"]):
            w = np.asarray(w, dtype=np.float32)
            if not np.allclose(w, w[::-1], rtol=0, atol=0):
                raise ValueError(f"kernel of bin {k} is not symmetric")
            groups.setdefault((len(w) - 1) // 2, []).append(k)
        self.kgroups = []
        for h, bins in sorted(groups.items()):
            bins = np.array(bins)
            taps = np.stack([np.asarray(t["kernels"][k], dtype=np.float32) for k in bins])
            contiguous = bool(np.all(np.diff(bins) == 1))
            sel = slice(int(bins[0]), int(bins[-1]) + 1) if contiguous else bins
            self.kgroups.append((h, sel, taps))
        # energy transfer: one (sources, targets, factor) triple per target slot q
        target, weight = np.asarray(t["target"]), np.asarray(t["weight"])
        survival = np.asarray(t["survival"], dtype=np.float32)
        self.transfers = []
        for q in range(target.shape[1]):
            src = np.nonzero(target[:, q] >= 0)[0]
            if src.size == 0:
                continue
            dst = target[src, q]
            if len(np.unique(dst)) != len(dst):
                raise ValueError("energy transfer targets are not distinct (only water on RANGE grids is supported)")
            fac = (weight[src, q].astype(np.float32) * survival[src]).astype(np.float32)
            self.transfers.append((src, dst, fac[:, None, None, None]))
        # streaming stencils per angle
        self.stencils = [(int(t["iu"][a]), np.float32(t["fu"][a]), int(t["iv"][a]), np.float32(t["fv"][a]))
                         for a in range(self.nth)]

    def scatter(self, psi):
        out = np.empty_like(psi)
        for h, sel, taps in self.kgroups:
            src = psi[sel]
            # circular padding along theta once, then one multiply-add per tap pair
            ext = np.concatenate([src[:, -h:], src, src[:, :h]], axis=1) if h else src
            acc = out[sel] if isinstance(sel, slice) else np.empty_like(src)
            np.multiply(taps[:, h, None, None, None], src, out=acc)
            tmp = np.empty_like(src)
            for d in range(1, h + 1):
                # symmetric kernel: tap d multiplies the neighbours at theta - d and theta + d
                np.add(ext[:, h - d:h - d + self.nth], ext[:, h + d:h + d + self.nth], out=tmp)
                tmp *= taps[:, h + d, None, None, None]
                acc += tmp
            if not isinstance(sel, slice):
                out[sel] = acc
        return out

    def energy(self, psi):
        out = np.zeros_like(psi)
        for i, (src, dst, fac) in enumerate(self.transfers):
            if np.all(np.diff(src) == 1) and np.all(np.diff(dst) == 1):
                # a shift between contiguous ranges of bins: slices, no fancy-index copies
                s0, d0, n = int(src[0]), int(dst[0]), len(src)
                if i == 0:  # out is still zero
                    np.multiply(fac, psi[s0:s0 + n], out=out[d0:d0 + n])
                else:
                    out[d0:d0 + n] += fac * psi[s0:s0 + n]
            else:
                out[dst] += fac * psi[src]
        return out

    @staticmethod
    def _add_shifted(out, src, w, dz, dx):
        """out[..., z, x] += w * src[..., z - dz, x - dx] where the source index is inside the grid."""
        nz, nx = src.shape[-2:]
        z0, z1 = max(0, dz), min(nz, nz + dz)
        x0, x1 = max(0, dx), min(nx, nx + dx)
        if z0 < z1 and x0 < x1:
            out[..., z0:z1, x0:x1] += w * src[..., z0 - dz:z1 - dz, x0 - dx:x1 - dx]

    def stream(self, psi):
        out = np.zeros_like(psi)
        one = np.float32(1)
        for a, (iu, fu, iv, fv) in enumerate(self.stencils):
            src, dst = psi[:, a], out[:, a]
            for dz, wz in ((iv, one - fv), (iv + 1, fv)):
                for dx, wx in ((iu, one - fu), (iu + 1, fu)):
                    w = np.float32(wz * wx)
                    if w != 0:
                        self._add_shifted(dst, src, w, dz, dx)
        return out

    def step(self, psi):
        return self.stream(self.energy(self.scatter(psi)))
