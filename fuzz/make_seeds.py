"""Write small seed inputs for the fuzz targets: make_seeds.py OUTDIR.

OUTDIR/png: PNGs of every colour type and several bit depths, one interlaced,
encoded here with zlib (no imaging library). OUTDIR/npz: .npz archives of
several dtypes, stored and deflated, plus one with a duplicate member name.
Each file is a few hundred bytes at most."""
import io
import pathlib
import struct
import sys
import warnings
import zipfile
import zlib

import numpy as np


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(width, height, ctype, depth, rows, interlace=0, plte=None):
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, ctype, 0, 0, interlace))
    if plte is not None:
        out += chunk(b"PLTE", plte)
    raw = b"".join(b"\x00" + r for r in rows)  # filter type 0 on every row
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def pngs():
    yield "rgb8.png", png(3, 2, 2, 8, [bytes(range(9)), bytes(range(9, 18))])
    yield "gray1.png", png(8, 2, 0, 1, [b"\xa5", b"\x5a"])
    yield "gray16.png", png(2, 2, 0, 16, [b"\x00\x01\xff\xfe", b"\x80\x00\x7f\xff"])
    yield "palette4.png", png(4, 2, 3, 4, [b"\x01\x23", b"\x32\x10"], plte=bytes(range(12)))
    yield "rgba16.png", png(2, 1, 6, 16, [bytes(range(16))])
    yield "graya8.png", png(2, 1, 4, 8, [b"\x10\x20\x30\x40"])
    yield "interlaced.png", png(1, 1, 2, 8, [b"\x01\x02\x03"], interlace=1)


def npz(arrays, compress):
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, **arrays)
    return buf.getvalue()


def npzs():
    arrays = {"f": np.arange(6, dtype="<f4").reshape(2, 3), "c": np.array([1 + 2j], dtype="<c8"),
              "i": np.array([[1], [2]], dtype=">i8"), "u": np.arange(3, dtype="u2"), "s": np.array("hé")}
    yield "mixed_stored.npz", npz(arrays, False)
    yield "mixed_deflated.npz", npz(arrays, True)
    yield "fortran.npz", npz({"x": np.asfortranarray(np.arange(6.0).reshape(2, 3))}, True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for v in (1.0, 2.0):
            b = io.BytesIO()
            np.save(b, np.array([v]))
            z.writestr("a.npy", b.getvalue())
    yield "duplicate.npz", buf.getvalue()


def main(out):
    for sub, files in (("png", pngs()), ("npz", npzs())):
        d = pathlib.Path(out) / sub
        d.mkdir(parents=True, exist_ok=True)
        for name, data in files:
            (d / name).write_bytes(data)


if __name__ == "__main__":
    main(sys.argv[1])
