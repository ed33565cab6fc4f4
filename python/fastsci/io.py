"""Reading and writing numpy's .npy and .npz files through fastsci's C readers.

The readers check every size against the file before allocating and raise
:class:`fastsci.FormatError` naming the file for truncated or corrupt input.
Writes are atomic: a temporary file is renamed into place when complete.
"""
import os

from . import _fastsci

__all__ = ["load", "save", "save_npz", "load_npy", "save_npy", "load_npz"]


def load_npy(path):
    """Read a .npy file into an ndarray (C or Fortran order as stored)."""
    return _fastsci.npy_load(os.fspath(path))


def save_npy(path, array):
    """Write an ndarray (any strides) as .npy."""
    _fastsci.npy_save(os.fspath(path), array)


def load_npz(path):
    """Read every member of a .npz into a dict; 0-d string members become str."""
    return _fastsci.npz_load(os.fspath(path))


def save_npz(path, arrays=None, *, compress=False, **kwargs):
    """Write a dict (and/or keyword arrays) as .npz; str values become 0-d string members."""
    members = dict(arrays or {})
    both = sorted(set(members) & set(kwargs), key=str)
    if both:
        raise TypeError(f"save_npz: member {both[0]!r} given both in the dict and as a keyword")
    members.update(kwargs)
    _fastsci.npz_save(os.fspath(path), members, compress=compress)


def load(path):
    """Read a .npy (ndarray) or .npz (dict) file, chosen by extension."""
    p = os.fspath(path)
    return load_npz(p) if p.endswith(".npz") else load_npy(p)


def save(path, array):
    """Write an ndarray as .npy."""
    save_npy(path, array)
