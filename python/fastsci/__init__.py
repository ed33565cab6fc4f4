"""fastsci: fast scientific pipelines from one C library.

Submodules: :mod:`fastsci.random` (counter-based Philox4x64-10 generator),
:mod:`fastsci.io` (.npy/.npz), and one per registered engine (``fastsci.engines()``
lists them): ``fastsci.ptycho``, ``fastsci.proton``, ... An engine with Python code
of its own has a module file here; any other engine gets a module built from the
registry, with one keyword-only function per command.

Errors raised by the library are subclasses of :class:`fastsci.Error` and of
the matching built-in (``ValueError``, ``OSError``, ...), carrying the
library's one-line message.
"""
import importlib
import importlib.util
import sys

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
from . import _engine, io, random  # noqa: F401
from ._engine import engines

__version__ = version()
__all__ = ["io", "random", "engines", "version", "set_threads", "get_threads", "set_quiet", "Error",
           "FileError", "FormatError", "InvalidArgumentError", "OutOfMemoryError", "RangeError",
           "UnsupportedError"]

for _e in engines():
    _name = _e["name"]
    if importlib.util.find_spec(f"{__name__}.{_name}") is not None:
        _mod = importlib.import_module(f"{__name__}.{_name}")
    else:
        _mod = _engine.module(_name)
        sys.modules[f"{__name__}.{_name}"] = _mod
    globals()[_name] = _mod
    __all__.append(_name)
del _e, _name, _mod
