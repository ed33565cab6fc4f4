"""Quantum-dot devices: the constant-interaction simulator (doc/qdot.md).

Capacitances in aF, gate voltages in mV, energies in meV::

    import numpy as np, fastsci
    dev = fastsci.qdot.Device(c_cc=[[100, -20], [-20, 100]], c_cv=[[10, 1], [1, 10]], kt=0.01)
    v = np.linspace(-5, 60, 200)
    img = dev.sensor_2d(v, v)           # (len(v2), len(v1)), row j is v2[j]
    tp = dev.triple_points()            # analytic (x, y) and kind (0 electron, 1 hole)
"""
import numpy as np

from . import _engine

PARAMS = _engine.params("qdot", "simulate")
_DEVICE_KEYS = ("preset", "c_cc", "c_cv", "nmax", "kt", "sensor_lever", "sensor_coupling", "sensor_offset",
                "sensor_width", "sensor_period", "white", "pink", "telegraph", "telegraph_rate", "jump_rate",
                "jump_size")


def _flat(x):
    return None if x is None else [float(v) for v in np.asarray(x, dtype=np.float64).ravel()]


def _even_axis(v):
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 1 or v.size < 1:
        return False
    if v.size < 3:
        return True
    d = np.diff(v)
    return bool(np.allclose(d, d[0], rtol=1e-9, atol=1e-12 * max(1.0, float(np.abs(v).max()))))


class Device:
    """A device of the constant-interaction model.

    c_cc: the dots' Maxwell capacitance matrix (N x N, aF); c_cv: dot-to-gate capacitances (N x G, aF);
    without them the preset ("dqd" or "single") is used. Other keywords as ``fastsci qdot simulate``
    (nmax, kt, sensor_*, white, pink, telegraph, telegraph_rate, jump_rate, jump_size). Bad values raise
    at construction (e.g. a c_cc that is not positive definite).
    """

    def __init__(self, c_cc=None, c_cv=None, **params):
        unknown = set(params) - set(_DEVICE_KEYS)
        if unknown:
            raise TypeError(f"Device: unexpected keyword argument(s) {sorted(unknown)}")
        self._p = {k: v for k, v in params.items() if v is not None}
        if c_cc is not None or c_cv is not None:
            if c_cc is None or c_cv is None:
                raise ValueError("Device: give c_cc and c_cv together")
            self._p["c_cc"], self._p["c_cv"] = _flat(c_cc), _flat(c_cv)
        for k in ("sensor_lever", "sensor_coupling"):
            if k in self._p:
                self._p[k] = _flat(self._p[k])
        r = self._call(nx=2, ny=2, noise=False)  # validates the device now
        self.lever_arms = np.asarray(r["lever_arms"], dtype=np.float64).reshape(int(r["ndots"]), int(r["ngates"]))
        self.ndots, self.ngates, self.nstates = int(r["ndots"]), int(r["ngates"]), int(r["nstates"])

    def _call(self, **kw):
        return _engine.call("qdot", "simulate", quiet=True, **self._p, **kw)

    def _map(self, signal, v1, v2, noise, seed, gates, base, threads):
        gx, gy = gates
        kw = dict(signal=signal, gx=gx, gy=gy, threads=threads)
        if base is not None:
            kw["base"] = _flat(base)
        v1 = np.asarray(v1, dtype=np.float64)
        v2 = np.asarray(v2, dtype=np.float64)
        if _even_axis(v1) and _even_axis(v2):
            r = self._call(x_range=[v1[0], v1[-1]], y_range=[v2[0], v2[-1]], nx=v1.size, ny=v2.size,
                           noise=bool(noise), seed=seed, states=False, **kw)
            return r["signal"]
        if noise:
            raise ValueError("noise follows the scan order: give evenly spaced 1-D axes (or noise=False)")
        if v1.ndim == 1 and v2.ndim == 1:
            v1, v2 = np.meshgrid(v1, v2)
        if v1.shape != v2.shape:
            raise ValueError(f"v1 {v1.shape} and v2 {v2.shape}: give 1-D axes or arrays of one shape")
        r = self._call(v1=np.ascontiguousarray(v1), v2=np.ascontiguousarray(v2), noise=False, **kw)
        return r["signal"]

    def sensor_2d(self, v1, v2, *, noise=True, seed=0, gates=(0, 1), base=None, threads=0):
        """Charge-sensor signal over gates[0] = v1 (columns) and gates[1] = v2 (rows), mV.

        Evenly spaced 1-D axes give a scan (with the device's noise unless noise=False); other
        inputs are evaluated point by point (1-D axes on their grid, or arrays of one shape)."""
        return self._map("sensor", v1, v2, noise, seed, gates, base, threads)

    def current_2d(self, v1, v2, *, noise=True, seed=0, gates=(0, 1), base=None, threads=0):
        """Transport current through the dots (non-zero near triple points), as sensor_2d."""
        return self._map("current", v1, v2, noise, seed, gates, base, threads)

    def charge_2d(self, v1, v2, *, noise=False, seed=0, gates=(0, 1), base=None, threads=0):
        """Total occupation sum_i <n_i> (thermal at kt > 0), as sensor_2d."""
        return self._map("charge", v1, v2, noise, seed, gates, base, threads)

    def simulate(self, **scan):
        """The whole ``fastsci qdot simulate`` result for this device: signal, states, v1, v2,
        triple_points, triple_kind and the summary figures."""
        return self._call(**scan)

    def triple_points(self, gates=(0, 1), base=None):
        """Analytic triple points of a double dot: (xy (k, 2) in mV, kind (k,) 0 electron 1 hole)."""
        kw = dict(gx=gates[0], gy=gates[1], nx=2, ny=2, noise=False)
        if base is not None:
            kw["base"] = _flat(base)
        r = self._call(**kw)
        if "triple_points" not in r:
            raise ValueError("triple points need a double dot and two gates")
        return r["triple_points"], r["triple_kind"]


def simulate(**params):
    """``fastsci qdot simulate`` as a function (see its parameters below)."""
    return _engine.call("qdot", "simulate", **params)


simulate.__doc__ += "\n" + _engine.docstring("qdot", "simulate", "").strip()


def run_trial(trial=0, *, compat=False, seed=42, threads=0, **params):
    """One trial of the tuning agent: the physical agent (compat=False) on a device drawn from its
    prior, or the reference's agent on its toy model (compat=True). Returns the trial's figures
    (success, final voltage v, true_state, total_measurements, ...; compat: the stage reached and,
    under "governance.jsonl", the decision log)."""
    return _engine.call("qdot", "tune", trial=trial, compat=compat, seed=seed, threads=threads, quiet=True,
                        **params)


def bench(n_trials=100, *, compat=False, seed=42, threads=0, **params):
    """``fastsci qdot bench``: many trials; returns the summary figures and "trials.csv"."""
    return _engine.call("qdot", "bench", n_trials=n_trials, compat=compat, seed=seed, threads=threads, quiet=True,
                        **params)


def classify(patches, weights):
    """Charge-state labels of raw 64 x 64 sensor patches ((64, 64) or (n, 64, 64)) with the TinyCNN
    ensemble in `weights` (.fsqc; the shipped one is data/qdot_classifier.fsqc). Returns probs (n, 3),
    label (n,) with 0 double dot, 1 single dot, 2 misc, confidence and disagreement (n,)."""
    p = np.ascontiguousarray(patches, dtype=np.float64)
    return _engine.call("qdot", "classify", patches=p, weights=str(weights), quiet=True)
