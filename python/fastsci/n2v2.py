"""Self-supervised denoising of images and (z, y, x) stacks with a U-Net (Noise2Void 2).

``denoise(stack, **params)`` trains on the noisy stack itself, then predicts it, and returns
the denoised array (same shape; dtype of the input unless ``dtype=``). ``train(stack, ...)``
returns a :class:`Model` with ``.predict(stack)`` and ``.save(path)``; ``load(path)`` reads a
model file written by ``fastsci n2v2 train``. Presets: ``n2v2`` (published N2V2), ``n2v``
(the N2V baseline), ``openhcs`` (the OpenHCS function's network). See doc/n2v2.md.
"""
import os
import tempfile

import numpy as np

from . import _engine, _fastsci

__all__ = ["denoise", "denoise_files", "train", "load", "Model", "PARAMS"]

#: (name, type, default, help) of every parameter; keywords use '_' for '-'.
PARAMS = _engine.params("n2v2", "denoise")


def _stack(stack):
    a = np.asarray(stack)
    if a.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        a = a.astype(np.float32)
    if a.ndim not in (2, 3):
        raise ValueError(f"stack: {a.ndim} dimensions (an image (y, x) or a stack (z, y, x))")
    return np.ascontiguousarray(a)


class Model:
    """A trained network and the normalisation of its training data."""

    def __init__(self, data, figures=None):
        self._data = bytes(data)
        self.figures = dict(figures or {})

    def save(self, path):
        """Write the model file (.fsnn) to ``path`` (atomically)."""
        path = os.fspath(path)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(self._data)
        os.replace(tmp, path)

    def predict(self, stack, *, threads=0, **params):
        """Denoise ``stack`` (y, x) or (z, y, x); returns the array (``tile``, ``tta``, ``dtype``)."""
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "model.fsnn")
            self.save(p)
            out = _engine.call("n2v2", "predict", stack=_stack(stack), model=p, threads=threads, quiet=True,
                               **params)
        return out["denoised"]


def load(path):
    """A :class:`Model` from a file written by ``fastsci n2v2 train`` or :meth:`Model.save`."""
    with open(path, "rb") as f:
        return Model(f.read())


def train(stack, *, threads=0, seed=None, progress=False, **params):
    """Train on the noisy ``stack`` and return a :class:`Model` (its ``figures``: steps,
    best_val_loss, train_seconds, patches_per_s, mean, std)."""
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "model.fsnn")
        out = _engine.call("n2v2", "train", stack=_stack(stack), output=p, threads=threads, seed=seed,
                           progress=progress, quiet=not progress, **params)
        with open(p, "rb") as f:
            return Model(f.read(), {k: v for k, v in out.items() if not isinstance(v, np.ndarray)})


def denoise(stack, *, threads=0, seed=None, progress=False, **params):
    """Train on ``stack``, then denoise it (the OpenHCS function's workflow); returns the array."""
    out = _engine.call("n2v2", "denoise", stack=_stack(stack), threads=threads, seed=seed, progress=progress,
                       quiet=not progress, **params)
    return out["denoised"]


denoise.__doc__ += "\n" + _engine.docstring("n2v2", "denoise", "").strip()


def denoise_files(paths, outdir, *, threads=0, seed=None, progress=False, shared_model=False, **params):
    """Denoise TIFF files into ``outdir`` (created if missing), each to ``outdir/<its name>``.

    ``paths``: a folder (its ``*.tif`` and ``*.tiff``, sorted by name) or a list of TIFF files
    and folders. One model per file, trained as ``denoise`` would on that file alone, or with
    ``shared_model=True`` one model trained on the first file for all. A file that fails gets
    no output, the others are written, and the exception (a ``fastsci.Error``) names it.
    Returns the output paths.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    paths = [os.fsdecode(p) for p in paths]
    outdir = os.fsdecode(outdir)
    params = {k.replace("_", "-"): v for k, v in params.items()}
    params["shared-model"] = bool(shared_model)
    _fastsci.run("n2v2", "denoise", params=params, output=outdir, paths=paths, threads=threads, seed=seed,
                 progress=progress, quiet=not progress)
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p)
                            if not f.startswith(".") and f.lower().endswith((".tif", ".tiff"))
                            and not os.path.isdir(os.path.join(p, f)))
        else:
            files.append(p)
    return [os.path.join(outdir, os.path.basename(f)) for f in files]
