"""Every registered engine command as a Python function.

The C library keeps the registry (name, commands, parameter tables, array inputs,
output kind); this module turns each command into a keyword-only function, so an
engine with no Python code of its own still appears as ``fastsci.<engine>``.
"""
import json
import math
import types

from . import _fastsci

_CTX = ("output", "threads", "seed", "progress", "quiet")


def engines():
    """The registry: a list of dicts (name, summary, commands with params and inputs)."""
    return _fastsci.engines()


def _command(engine, command):
    for e in _fastsci.engines():
        if e["name"] == engine:
            for c in e["commands"]:
                if c["name"] == command:
                    return c
    raise ValueError(f"no command '{engine} {command}'")


def _number(v):
    return math.nan if v is None else v


def call(engine, command, **kw):
    """Run ``fastsci ENGINE COMMAND`` with keyword parameters (``-`` in a name becomes ``_``).

    ``output``, ``threads``, ``seed``, ``progress`` and ``quiet`` are the shared options;
    keywords named after the command's inputs are arrays. Returns the outputs (arrays and
    strings) with the run's summary figures merged in; undefined figures are NaN.
    """
    cmd = _command(engine, command)
    ctx = {k: kw.pop(k) for k in _CTX if k in kw and kw[k] is not None}
    arrays = {k: kw.pop(k) for k in list(kw) if k in cmd["inputs"]}
    out = _fastsci.run(engine, command, params=kw, inputs=arrays, **ctx)
    summary = out.pop("summary", None)
    if summary:
        figures = json.loads(summary)
        for k, v in figures.items():
            out[k] = {a: _number(b) for a, b in v.items()} if isinstance(v, dict) else _number(v)
    return out


def params(engine, command):
    """(name, type, default, help) of a command's parameters; keywords use '_' for '-'."""
    return [(n.replace("-", "_"), t, d, h) for n, t, d, h in _command(engine, command)["params"]]


def docstring(engine, command, head):
    lines = "\n    ".join(f"{n} ({t}) [{d}]: {h}" for n, t, d, h in params(engine, command))
    return f"{head}\n\n    Keyword parameters (defaults in brackets):\n\n    {lines}\n"


def function(engine, command):
    """A keyword-only function running one command."""
    cmd = _command(engine, command)

    def run(**kw):
        return call(engine, command, **kw)

    run.__name__ = command.replace("-", "_")
    run.__qualname__ = run.__name__
    run.__doc__ = docstring(engine, command, cmd["summary"] + (
        f"\n\n    Array inputs: {', '.join(cmd['inputs'])}." if cmd["inputs"] else ""))
    return run


def module(engine):
    """A module with one function per command, for an engine without Python code of its own."""
    e = next(x for x in _fastsci.engines() if x["name"] == engine)
    m = types.ModuleType(f"fastsci.{engine}", e["summary"])
    names = []
    for c in e["commands"]:
        f = function(engine, c["name"])
        setattr(m, f.__name__, f)
        names.append(f.__name__)
    m.__all__ = names
    return m
