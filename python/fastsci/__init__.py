"""fastsci: fast scientific pipelines from one C library.

Submodules: :mod:`fastsci.random` (counter-based Philox4x64-10 generator),
:mod:`fastsci.io` (.npy/.npz). Engines add their own submodules.

Errors raised by the library are subclasses of :class:`fastsci.Error` and of
the matching built-in (``ValueError``, ``OSError``, ...), carrying the
library's one-line message.
"""
from ._fastsci import (  # noqa: F401
    Error,
    FileError,
    FormatError,
    InvalidArgumentError,
    OutOfMemoryError,
    RangeError,
    UnsupportedError,
    get_threads,
    set_quiet,
    set_threads,
    version,
)
from . import io, proton, ptycho, random  # noqa: F401

__version__ = version()
__all__ = ["io", "proton", "ptycho", "random", "version", "set_threads", "get_threads", "set_quiet", "Error",
           "FileError", "FormatError", "InvalidArgumentError", "OutOfMemoryError", "RangeError",
           "UnsupportedError"]
