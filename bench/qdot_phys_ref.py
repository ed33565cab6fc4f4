"""A tuning agent for the physical constant-interaction simulator, in numpy: the reference design
of fastsci's physical agent (doc/qdot.md section 7) and its Python baseline.

The device is unknown within a documented prior. The agent reads the charge sensor of the true
device (fastsci.qdot.Device, which counts as the instrument) and keeps a belief over the device's
capacitances as weighted particles. Sensor details (offset, lever arms, couplings) are nuisance:
the likelihood uses only where the sensor steps, i.e. which neighbouring pixels change charge
state, so it does not depend on them.

    /usr/bin/python3 bench/qdot_phys_ref.py --n-trials 20 --seed 1
"""
import argparse
import time

import numpy as np
from scipy.ndimage import uniform_filter

import fastsci

E2 = 160.21766340  # e^2 / (1 aF) in meV
LO, HI = 0.0, 60.0  # gate bounds, mV
NMAX = 4
STATES = np.array([(a, b) for a in range(NMAX + 1) for b in range(NMAX + 1)], dtype=float)
TARGET = 1 * (NMAX + 1) + 1  # state index of (1, 1)


def prior(rng, n):
    """Capacitances (aF): totals 80-120, mutual 5-30, plungers 8-12, cross 0-2. Columns: C1, C2, Cm,
    g11, g12, g21, g22."""
    return np.column_stack([rng.uniform(80, 120, n), rng.uniform(80, 120, n), rng.uniform(5, 30, n),
                            rng.uniform(8, 12, n), rng.uniform(0, 2, n), rng.uniform(0, 2, n),
                            rng.uniform(8, 12, n)])


def true_device(rng):
    th = prior(rng, 1)[0]
    c = [[th[0], -th[2]], [-th[2], th[1]]]
    cv = [[th[3], th[4]], [th[5], th[6]]]
    dev = fastsci.qdot.Device(c_cc=c, c_cv=cv, nmax=NMAX, kt=0.01,
                              sensor_lever=list(rng.uniform(0.001, 0.003, 2)),
                              sensor_coupling=list(rng.uniform(0.06, 0.15, 2)),
                              sensor_offset=float(rng.uniform(-0.5, -0.2)), white=0.01, pink=0.005)
    return th, dev


def tables(th):
    """Per particle: c[p, s] = 1/2 n.Ec.n and a[p, s, g] = (alpha^T n)_g."""
    c1, c2, cm = th[:, 0], th[:, 1], th[:, 2]
    det = c1 * c2 - cm * cm
    inv = np.stack([np.stack([c2, cm], -1), np.stack([cm, c1], -1)], -2) / det[:, None, None]
    cv = th[:, 3:7].reshape(-1, 2, 2)
    alpha = inv @ cv
    c = 0.5 * E2 * np.einsum("si,pij,sj->ps", STATES, inv, STATES)
    a = np.einsum("si,pig->psg", STATES, alpha)
    return c, a


def ground(c, a, v):
    """Ground-state index per particle and voltage point: (P, K) from v (K, 2)."""
    e = c[:, :, None] - np.einsum("psg,kg->psk", a, v)
    return np.argmin(e, axis=1)


def grid(x0, x1, y0, y1, nx, ny):
    xs, ys = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([gx.ravel(), gy.ravel()])


PRIOR_LO = np.array([80, 80, 5, 8, 0, 0, 8.0])
PRIOR_HI = np.array([120, 120, 30, 12, 2, 2, 12.0])


class Belief:
    def __init__(self, rng, n):
        self.rng = rng
        self.th = prior(rng, n)
        self.c, self.a = tables(self.th)
        self.logw = np.zeros(n)
        self.scans = []

    def update(self, pts, shape, obs):
        """Edge likelihood of a scan: obs (ny, nx) sensor values at pts (ny*nx, 2)."""
        self.scans.append((pts, shape, obs))
        self.logw += self._loglik(pts, shape, obs)
        self.logw -= self.logw.max()

    def refine(self, rounds=3, scale=0.05):
        """Resample-move: draw particles by weight, jitter them (a Gaussian of `scale` times the prior's
        width, kept inside the prior) and weigh them again by every scan so far."""
        for r in range(rounds):
            w = np.exp(self.logw)
            w /= w.sum()
            idx = self.rng.choice(len(w), size=len(w), p=w)
            th = self.th[idx] + self.rng.normal(0, 1, self.th.shape) * (PRIOR_HI - PRIOR_LO) * scale / (r + 1)
            self.th = np.clip(th, PRIOR_LO, PRIOR_HI)
            self.c, self.a = tables(self.th)
            self.logw = np.zeros(len(w))
            for pts, shape, obs in self.scans:
                self.logw += self._loglik(pts, shape, obs)
            self.logw -= self.logw.max()

    def _loglik(self, pts, shape, obs):
        ny, nx = shape
        dh = np.abs(np.diff(obs, axis=1)).ravel()
        dv = np.abs(np.diff(obs, axis=0)).ravel()
        d = np.concatenate([dh, dv])
        sig = max(1.4826 * np.median(d) / np.sqrt(2), 1e-4)  # noise of one pixel (most pairs: no edge)
        l_no = -0.5 * (d / (np.sqrt(2) * sig)) ** 2 - np.log(np.sqrt(2) * sig * np.sqrt(np.pi / 2))
        l_edge = np.log(0.8 / 0.5 * (d < 0.5) + 0.2 * np.exp(l_no) + 1e-300)
        llr = l_edge - l_no
        out = np.empty(len(self.logw))
        for p0 in range(0, len(self.logw), 1000):
            st = ground(self.c[p0:p0 + 1000], self.a[p0:p0 + 1000], pts).reshape(-1, ny, nx)
            eh = (st[:, :, 1:] != st[:, :, :-1]).reshape(len(st), -1)
            ev = (st[:, 1:, :] != st[:, :-1, :]).reshape(len(st), -1)
            out[p0:p0 + 1000] = np.concatenate([eh, ev], axis=1) @ llr
        return out

    def p_state(self, pts, s=TARGET):
        """Posterior probability of state s at each point (particles below 1e-9 of the largest weight
        are left out: their total is below 1e-9 * N of the mass)."""
        w = np.exp(self.logw)
        keep = np.nonzero(w > 1e-9 * w.max())[0]
        w = w[keep] / w[keep].sum()
        acc = np.zeros(len(pts))
        for p0 in range(0, len(keep), 500):
            k = keep[p0:p0 + 500]
            st = ground(self.c[k], self.a[k], pts)
            acc += w[p0:p0 + 500] @ (st == s)
        return acc

    def ess(self):
        w = np.exp(self.logw)
        return w.sum() ** 2 / (w * w).sum()


def scan(dev, x0, x1, y0, y1, nx, ny, seed):
    r = dev.simulate(x_range=[x0, x1], y_range=[y0, y1], nx=nx, ny=ny, seed=seed, states=False)
    return r["signal"]


def run_trial(trial, seed=1, particles=8000, p_goal=0.95, retries=2):
    rng = np.random.default_rng([seed, trial])
    t0 = time.perf_counter()
    th, dev = true_device(rng)
    bel = Belief(rng, particles)
    meas, stage = 0, "COARSE_SURVEY"
    # coarse survey: 16 x 16 over the whole window
    xs, ys, pts = grid(LO, HI, LO, HI, 16, 16)
    bel.update(pts, (16, 16), scan(dev, LO, HI, LO, HI, 16, 16, seed * 1000 + trial))
    bel.refine()
    meas += 256
    _, _, fine = grid(LO, HI, LO, HI, 61, 61)
    v = None
    for attempt in range(retries + 1):
        stage = "NAVIGATION"
        # the most probable (1, 1) point, averaged over +-3 mV so that it keeps away from the cell's edges
        p11 = uniform_filter(bel.p_state(fine).reshape(61, 61), size=7, mode="constant").ravel()
        v = fine[np.argmax(p11)]
        stage = "VERIFICATION"
        h = 6.0
        x0, x1 = max(LO, v[0] - h), min(HI, v[0] + h)
        y0, y1 = max(LO, v[1] - h), min(HI, v[1] + h)
        _, _, lp = grid(x0, x1, y0, y1, 12, 12)
        bel.update(lp, (12, 12), scan(dev, x0, x1, y0, y1, 12, 12, seed * 1000 + trial + 7919 * (attempt + 1)))
        bel.refine(rounds=2, scale=0.02)
        meas += 144
        p = bel.p_state(v[None, :])[0]
        if p >= p_goal:
            stage = "COMPLETE"
            break
    else:
        stage = "FAILED"
    # the true ground state at v, from the true capacitances
    c_true, a_true = tables(th[None, :])
    s_true = ground(c_true, a_true, v[None, :])[0, 0]
    success = stage == "COMPLETE" and s_true == TARGET
    return dict(success=bool(success), stage=stage, measurements=meas, s_true=int(s_true), v=v,
                ess=bel.ess(), seconds=time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--particles", type=int, default=8000)
    a = ap.parse_args()
    res = [run_trial(t, a.seed, a.particles) for t in range(a.n_trials)]
    succ = np.mean([r["success"] for r in res])
    meas = np.mean([r["measurements"] for r in res])
    wrong = sum(r["stage"] == "COMPLETE" and not r["success"] for r in res)
    print(f"success {100 * succ:.0f} % ({wrong} completed in the wrong state), measurements {meas:.0f}, "
          f"{np.mean([r['seconds'] for r in res]):.2f} s/trial, ESS median {np.median([r['ess'] for r in res]):.0f}")
    for r in res:
        if not r["success"]:
            print("  fail:", r["stage"], "true state", divmod(r["s_true"], NMAX + 1), "at", np.round(r["v"], 1))


if __name__ == "__main__":
    main()
