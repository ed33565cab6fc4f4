"""Prestack Kirchhoff time migration of SEG-Y data or arrays, and its exact adjoint (modelling).

``migrate`` images prestack traces (a SEG-Y path, or ``traces`` with the source and
receiver coordinates ``sx, sy, gx, gy``) with an RMS velocity (``vrms="t:v,..."`` or
``velocity="V.npy"``) into ``image`` of shape (ny, nx, offset classes, nt), float32.
``model`` applies the adjoint: synthetic traces from a scene (``diffractors``,
``reflectors``) or an ``image``, on a built-in 2-D line or given coordinates.
``info`` prints a SEG-Y file's geometry. The operator: doc/pstm.md.
"""
import numpy as np

from . import _engine

__all__ = ["migrate", "model", "info", "PARAMS"]

#: (name, type, default, help) of every parameter; keywords use '_' for '-'.
PARAMS = _engine.params("pstm", "migrate")


def _coords(kw, names=("sx", "sy", "gx", "gy")):
    for n in names:
        if kw.get(n) is not None:
            kw[n] = np.ascontiguousarray(kw[n], dtype=np.float64)


def migrate(input=None, *, traces=None, threads=0, output=None, progress=False, **params):
    """Migrate a SEG-Y file (``input``) or arrays (``traces`` (ntr, ns) with ``sx, sy, gx, gy``,
    sample interval ``in_dt``). Returns a dict with ``image`` (ny, nx, classes, nt) float32 and
    the run's figures (pairs, seconds, pairs_per_s, traces_per_s, gflops, grid). With
    ``output="image.sgy"`` the image is written as SEG-Y (``.npz``: an archive) and only
    the figures are returned.

    {params}
    """
    if traces is not None:
        params["traces"] = np.ascontiguousarray(traces, dtype=np.float32)
    _coords(params)
    if input is not None:
        params["input"] = str(input)
    return _engine.call("pstm", "migrate", threads=threads, output=output, progress=progress, **params)


def model(*, image=None, threads=0, output=None, **params):
    """Synthetic prestack traces: the adjoint of ``migrate`` applied to a scene (``diffractors``
    x1,tau1,..., ``reflectors`` tau1,dip1,..., Ricker ``ricker`` Hz) or to ``image`` (ny, nx, nt),
    on a built-in 2-D line (``shots``, ``receivers``, spacings) or ``sx, sy, gx, gy``. Returns
    ``traces`` (ntr, ns) float32 and the coordinates, or writes ``output`` (.sgy or .npz).
    """
    if image is not None:
        params["image"] = np.ascontiguousarray(image, dtype=np.float32)
    _coords(params)
    return _engine.call("pstm", "model", threads=threads, output=output, **params)


def info(path):
    """The geometry of a SEG-Y file from its headers (samples are not read): ntraces, ns, dt, t0,
    format, little_endian, shots, offset_min/max, midpoint_x/y_min/max."""
    return _engine.call("pstm", "info", input=str(path))

migrate.__doc__ = migrate.__doc__.replace("{params}", _engine.docstring("pstm", "migrate", "").strip())
