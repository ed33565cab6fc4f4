"""Write small seed inputs for the fuzz targets: make_seeds.py OUTDIR.

OUTDIR/png: PNGs of every colour type and several bit depths, one interlaced,
encoded here with zlib (no imaging library). OUTDIR/npz: .npz archives of
several dtypes, stored and deflated, plus one with a duplicate member name.
OUTDIR/segy: SEG-Y files of every sample format the pstm reader takes (1, 2,
3, 5, 8) in both byte orders, one with an extended textual header, one with
the interval only in the trace header. OUTDIR/tiff: TIFF stacks built byte by
byte here (uint8, uint16, float32; none, LZW, deflate, horizontal predictor;
both byte orders, classic and BigTIFF, strips and tiles; an RGB, a 12-bit and
a two-size file that the reader refuses), plus a few from tifffile when it is
installed. OUTDIR/qdot: the shipped qdot classifier weights and truncations of them (the only
seeds above a few kilobytes: a valid weight file is 1.26 MB)."""
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


def lzw(data):
    """TIFF LZW (MSB-first codes, 'early change') without compressing: every
    byte is a literal 9-bit code, with a Clear code before the table would need
    10-bit codes."""
    codes, bits, nbits = [256], 0, 0
    for i, b in enumerate(data):
        if i and i % 250 == 0:
            codes.append(256)
        codes.append(b)
    codes.append(257)
    out = bytearray()
    for c in codes:
        bits, nbits = (bits << 9) | c, nbits + 9
        while nbits >= 8:
            out.append((bits >> (nbits - 8)) & 0xFF)
            nbits -= 8
    if nbits:
        out.append((bits << (8 - nbits)) & 0xFF)
    return bytes(out)


def tiff(pages, bo="<", big=False, comp=1, pred=1, tile=None, rps=None, spp=1, photo=1, bits=None):
    """A TIFF of 2-D arrays `pages` (spp > 1: 3-D, samples last)."""
    e = bo
    out = bytearray(b"II" if e == "<" else b"MM")
    out += struct.pack(e + "HHHQ", 43, 8, 0, 0) if big else struct.pack(e + "HI", 42, 0)
    link = 8 if big else 4
    for a in pages:
        h, w = a.shape[:2]
        fmt = 3 if a.dtype.kind == "f" else 1
        nbits = bits or a.dtype.itemsize * 8
        if tile:
            chunks = []
            for y in range(0, h, tile):
                for x in range(0, w, tile):
                    c = np.zeros((tile, tile) + a.shape[2:], a.dtype)
                    part = a[y:y + tile, x:x + tile]
                    c[:part.shape[0], :part.shape[1]] = part
                    chunks.append(c)
        else:
            r = rps or h
            chunks = [a[y:y + r] for y in range(0, h, r)]
        offs, counts = [], []
        for c in chunks:
            if pred == 2:
                c = c.copy()
                c[:, 1:] = np.diff(c, axis=1)
            raw = c.astype(c.dtype.newbyteorder(e)).tobytes()
            if bits == 12:
                raw = raw[: len(raw) * 3 // 4]
            raw = {1: raw, 5: lzw(raw), 8: zlib.compress(raw)}[comp]
            if len(out) % 2:
                out += b"\0"
            offs.append(len(out))
            counts.append(len(raw))
            out += raw
        big_t = 16 if big else 4
        tags = [(256, 4, [w]), (257, 4, [h]), (258, 3, [nbits] * spp), (259, 3, [comp]), (262, 3, [photo]),
                (277, 3, [spp]), (284, 3, [1]), (339, 3, [fmt] * spp)]
        if pred != 1:
            tags.append((317, 3, [pred]))
        if tile:
            tags += [(322, 4, [tile]), (323, 4, [tile]), (324, big_t, offs), (325, big_t, counts)]
        else:
            tags += [(273, big_t, offs), (278, 4, [rps or h]), (279, big_t, counts)]
        tags.sort()
        size = {3: "H", 4: "I", 16: "Q"}
        slot = 8 if big else 4
        if len(out) % 2:
            out += b"\0"
        entries = []
        for tag, typ, vals in tags:  # values that do not fit go before the directory
            data = struct.pack(e + size[typ] * len(vals), *vals)
            if len(data) > slot:
                entries.append((tag, typ, len(vals), struct.pack(e + ("Q" if big else "I"), len(out))))
                out += data
            else:
                entries.append((tag, typ, len(vals), data.ljust(slot, b"\0")))
        ifd = len(out)
        struct.pack_into(e + ("Q" if big else "I"), out, link, ifd)
        out += struct.pack(e + ("Q" if big else "H"), len(entries))
        for tag, typ, n, data in entries:
            out += struct.pack(e + ("HHQ" if big else "HHI"), tag, typ, n) + data
        link = len(out)
        out += bytes(slot)
    return bytes(out)


def tiffs():
    yy, xx = np.mgrid[0:13, 0:11]
    stacks = {"u1": [((31 * p + 7 * yy + 3 * xx) % 256).astype("u1") for p in range(2)],
              "u2": [((7919 * p + 263 * yy + 31 * xx + 5) % 65536).astype("u2") for p in range(2)],
              "f4": [((1000 * p + 53 * yy + xx) * 0.25 - 100.5).astype("f4") for p in range(2)]}
    for dt, pages in stacks.items():
        for comp, cname in ((1, "none"), (5, "lzw"), (8, "deflate")):
            yield f"{dt}_{cname}_le.tif", tiff(pages, comp=comp, rps=4)
            yield f"{dt}_{cname}_be_big.tif", tiff(pages, bo=">", big=True, comp=comp)
        yield f"{dt}_lzw_tiles.tif", tiff(pages, comp=5, tile=16)
        if dt != "f4":
            yield f"{dt}_deflate_pred2_be.tif", tiff(pages, bo=">", comp=8, pred=2, rps=5)
    rgb = np.arange(4 * 4 * 3, dtype="u1").reshape(4, 4, 3)
    yield "rgb.tif", tiff([rgb], spp=3, photo=2)
    yield "bits12.tif", tiff([np.arange(16, dtype="u2").reshape(4, 4)], bits=12)
    yield "two_sizes.tif", tiff([stacks["u1"][0], stacks["u1"][0][:5]])
    try:
        import tifffile
    except ImportError:
        return
    for kw in ({"compression": "zlib", "predictor": 2}, {"bigtiff": True, "tile": (16, 16)}, {"byteorder": ">"}):
        buf = io.BytesIO()
        tifffile.imwrite(buf, np.stack(stacks["u2"]), photometric="minisblack", **kw)
        yield "tifffile_" + "_".join(str(k) for k in kw) + ".tif", buf.getvalue()


def qdots():
    """The shipped classifier weights (data/qdot_classifier.fsqc: a valid file, which mutation alone
    rarely reaches past the CRC-32) and truncations of it."""
    f = pathlib.Path(__file__).resolve().parent.parent / "data" / "qdot_classifier.fsqc"
    if not f.exists():
        return
    data = f.read_bytes()
    yield "shipped.fsqc", data
    for n in (0, 8, 87, 88, 1000, len(data) // 2, len(data) - 4, len(data) - 1):
        yield f"trunc_{n}.fsqc", data[:n]


def main(out):
    for sub, files in (("png", pngs()), ("npz", npzs()), ("segy", segys()), ("tiff", tiffs()),
                       ("qdot", qdots())):
        d = pathlib.Path(out) / sub
        d.mkdir(parents=True, exist_ok=True)
        for name, data in files:
            (d / name).write_bytes(data)


if __name__ == "__main__":
    main(sys.argv[1])
