"""Ptychography training data in PtychoPINN's layout, simulated by fastsci's C engine.

``simulate`` runs the whole pipeline (positions, grouping, bilinear patches,
far-field diffraction, Poisson noise) and returns a dict of ndarrays with
PtychoPINN's keys, or writes them to an .npz file with ``output=``. The stages
are available on their own: ``group``, ``extract_patches``, ``diffract``,
``builtin_object``, ``disk_probe``. Conventions: doc/ptycho.md.
"""
import json
import os
from collections.abc import Mapping

import numpy as np

from . import _engine, _fastsci

__all__ = ["simulate", "group", "extract_patches", "diffract", "builtin_object", "disk_probe", "load_metadata",
           "nphotons", "PARAMS"]

#: (name, type, default, help) of every simulation parameter; keywords use '_' for '-'.
PARAMS = _engine.params("ptycho", "simulate")


def simulate(*, seed=42, threads=0, output=None, object_array=None, probe_array=None, xcoords=None,
             ycoords=None, **params):
    """Simulate a dataset. Keyword parameters (defaults in brackets):

    {params}

    Arrays may replace the files: ``object_array`` (complex 2-D), ``probe_array``
    (complex N x N), ``xcoords``/``ycoords`` (float64 pixel coordinates).
    Returns a dict with the NPZ members (diff3d, xcoords, ycoords, xcoords_start,
    ycoords_start, probeGuess, objectGuess, scan_index, diffraction, Y, X_full,
    coords_offsets, coords_relative, coords_nn, nn_indices, ground_truth_patches,
    _metadata) and the run's
    figures (intensity_scale, X_full_norm, mean_counts, timings). With
    ``output="file.npz"`` the members are written there and only the figures are returned.
    """
    return _engine.call("ptycho", "simulate", seed=seed, threads=threads, output=output, object_array=object_array,
                        probe_array=probe_array, xcoords=xcoords, ycoords=ycoords, **params)


simulate.__doc__ = simulate.__doc__.format(params="\n    ".join(
    f"{n} ({t}) [{d}]: {h}" for n, t, d, h in PARAMS))


def group(xcoords, ycoords, K=4, gridsize=2, nsamples=None, seed=42, *, oversampling=False, pool_size=0,
          threads=0, return_seeds=False):
    """PtychoPINN's sample-then-group rule: (B, gridsize**2) int32 indices of scan positions.

    ``nsamples`` groups (default: one per position); each group is gridsize**2 of the
    K nearest neighbours of a random seed position (the seed itself excluded).
    ``return_seeds=True`` also returns the seed index of each group.
    """
    return _fastsci.ptycho_group(xcoords, ycoords, K=K, gridsize=gridsize,
                                 nsamples=-1 if nsamples is None else int(nsamples), seed=seed,
                                 oversampling=oversampling, pool_size=pool_size, threads=threads,
                                 return_seeds=return_seeds)


def extract_patches(obj, cx, cy, N, *, threads=0):
    """Patches (P, N, N) complex64: bilinear(obj, y = r + cy - N//2, x = s + cx - N//2), zero outside."""
    return _fastsci.ptycho_extract(obj, np.ravel(cx), np.ravel(cy), int(N), threads=threads)


def diffract(patches, probe, scale, *, noise=False, seed=0, threads=0):
    """Amplitudes (P, N, N) float32 of exit waves scale * patch * probe: sqrt(|FFT2|^2 / N^2) / scale,
    fftshifted, or sqrt(Poisson counts) / scale with ``noise=True``."""
    return _fastsci.ptycho_diffract(patches, np.asarray(probe, np.complex64), float(scale), noise=noise,
                                    seed=seed, threads=threads)


def builtin_object(kind="lines", size=224, seed=42):
    """A synthetic complex64 object: 'lines' (PtychoPINN's) or 'star' (Siemens star)."""
    return _fastsci.ptycho_object(kind, int(size), seed=seed)


def disk_probe(N=64, scale=0.7):
    """PtychoPINN's low-pass disk probe, complex64 (N, N)."""
    return _fastsci.ptycho_probe(int(N), scale=scale)


#: The sections of PtychoPINN's metadata schema 1.0.0 (ptycho/metadata.py) and,
#: for the flat metadata of the first fastsci files, where each top-level key goes.
_SECTIONS = {"physics_parameters": ("nphotons", "gridsize", "N"), "training_parameters": ("n_images",)}


def _metadata_text(source):
    if isinstance(source, Mapping):
        text = source["_metadata"]
    else:
        path = os.fspath(source)
        # our files hold a 0-d unicode array: no pickle needed (nor allowed)
        with np.load(path, allow_pickle=False) as z:
            if "_metadata" not in z.files:
                raise KeyError(f"{path}: no _metadata member")
            text = z["_metadata"]
    a = np.asarray(text)
    if a.shape != () or a.dtype.kind not in "US":
        raise ValueError(f"_metadata is {a.dtype} of shape {a.shape}, not a JSON string")
    text = a.item()
    return text.decode("utf-8") if isinstance(text, bytes) else text


def load_metadata(source):
    """The ``_metadata`` of a ptycho .npz file (a path) or of a ``simulate()`` result (a dict),
    as a dict in PtychoPINN's schema 1.0.0: ``schema_version``, ``creation_info``,
    ``physics_parameters`` (nphotons, gridsize, N), ``training_parameters`` (n_images),
    ``data_transformations`` and ``additional_parameters`` (seed, K, scales, ...).

    The flat metadata of files written before that schema is returned in the same layout,
    with ``schema_version`` None and its ``generator`` in ``creation_info``.
    """
    meta = json.loads(_metadata_text(source))
    if not isinstance(meta, dict):
        raise ValueError("_metadata is not a JSON object")
    if "schema_version" in meta:
        return meta
    flat = dict(meta)
    out = {"schema_version": None, "creation_info": {}}
    if "generator" in flat:
        out["creation_info"]["generator"] = flat.pop("generator")
    for section, keys in _SECTIONS.items():
        out[section] = {k: flat.pop(k) for k in keys if k in flat}
    out["data_transformations"] = []
    out["additional_parameters"] = flat
    return out


def nphotons(source):
    """The photon count a ptycho dataset was simulated with (``physics_parameters.nphotons``,
    or the top-level ``nphotons`` of the flat metadata). Unlike PtychoPINN's
    ``MetadataManager.get_nphotons`` there is no default: KeyError if it is missing."""
    phys = load_metadata(source)["physics_parameters"]
    if "nphotons" not in phys:
        raise KeyError("the metadata has no nphotons")
    return float(phys["nphotons"])
