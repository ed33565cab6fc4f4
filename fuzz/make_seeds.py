"""Write small seed inputs for the fuzz targets: make_seeds.py OUTDIR.

OUTDIR/png: PNGs of every colour type and several bit depths, one interlaced,
encoded here with zlib (no imaging library). OUTDIR/npz: .npz archives of
several dtypes, stored and deflated, plus one with a duplicate member name.
OUTDIR/segy: SEG-Y files of every sample format the pstm reader takes (1, 2,
3, 5, 8) in both byte orders, one with an extended textual header, one with
the interval only in the trace header. Each file is a few kilobytes at most."""
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


def segy(fmt, big=True, ns=5, ntr=3, dt_bin=2000, dt_trace=2000, ext=0):
    """Textual header (blanks), binary header, ntr traces of ns samples."""
    e = ">" if big else "<"
    code = {1: "I", 2: "i", 3: "h", 5: "f", 8: "b"}[fmt]
    binh = bytearray(400)
    struct.pack_into(e + "h", binh, 16, dt_bin)
    struct.pack_into(e + "H", binh, 20, ns)
    struct.pack_into(e + "h", binh, 24, fmt)
    struct.pack_into(e + "h", binh, 300, 0x0100)
    struct.pack_into(e + "h", binh, 302, 1)
    struct.pack_into(e + "h", binh, 304, ext)
    out = b"\x40" * 3200 + bytes(binh) + b"\x40" * (3200 * ext)
    for i in range(ntr):
        th = bytearray(240)
        struct.pack_into(e + "i", th, 8, 100 + i)  # field record
        struct.pack_into(e + "i", th, 36, 25 * i)  # offset
        struct.pack_into(e + "h", th, 70, -100)  # coordinate scalar
        struct.pack_into(e + "4i", th, 72, 1000 * i, 5, 1000 * i + 2500, -5)
        struct.pack_into(e + "hH", th, 114, ns, dt_trace)
        struct.pack_into(e + "2i", th, 180, 1000 * i + 1250, 0)
        if fmt == 1:  # IBM float: 0x41100000 is 1.0, then small exact values
            vals = [0x41100000 + (k << 16) for k in range(ns)]
        else:
            vals = [(k - 2) * (i + 1) for k in range(ns)]
        out += bytes(th) + b"".join(struct.pack(e + code, v) for v in vals)
    return out


def segys():
    for fmt in (1, 2, 3, 5, 8):
        yield f"f{fmt}_msb.sgy", segy(fmt)
        yield f"f{fmt}_lsb.sgy", segy(fmt, big=False)
    yield "ext1.sgy", segy(5, ext=1)
    yield "dt_trace.sgy", segy(1, big=False, dt_bin=0, dt_trace=4000)


def main(out):
    for sub, files in (("png", pngs()), ("npz", npzs()), ("segy", segys())):
        d = pathlib.Path(out) / sub
        d.mkdir(parents=True, exist_ok=True)
        for name, data in files:
            (d / name).write_bytes(data)


if __name__ == "__main__":
    main(sys.argv[1])
