"""numpy side of tests/core/test_npy.c.

    npy_roundtrip.py write DIR   numpy writes .npy/.npz files for the C test to read
    npy_roundtrip.py check DIR   numpy loads the files the C test wrote and checks them

Values follow one formula shared with test_npy.c: element with logical C-order
flat index i holds

    float:    i/3 - 7                       (computed in double, then rounded)
    complex:  (i/3 - 7) + (0.5 - i/7) j
    int32:    7919 i - 50000
    int64:    3037000493 i - 2**40
    uint8:    (37 i + 11) mod 256
    uint16:   (2654 i + 3) mod 65536

Exit status 0 when everything matches; failures are printed one per line.
"""
import io
import json
import os
import sys
import zipfile

import numpy as np

CODES = ["f4", "f8", "c8", "c16", "i4", "i8", "u1", "u2"]
SHAPE = (3, 4, 5)
META = {"engine": "ptycho", "note": "grüße ✓ 😀", "n": 3}
META_JSON = json.dumps(META, ensure_ascii=False, sort_keys=True)
STRINGS = {"ascii": "hello", "latin": "grüße", "cjk": "日本語", "emoji": "a😀b", "empty": ""}


def values(code, shape):
    n = int(np.prod(shape, dtype=np.int64))
    i = np.arange(n, dtype=np.int64)
    f = i / 3.0 - 7.0
    if code in ("f4", "f8"):
        a = f.astype(np.dtype(code))
    elif code in ("c8", "c16"):
        a = np.empty(n, dtype=np.complex128)
        a.real = f
        a.imag = 0.5 - i / 7.0
        a = a.astype(np.dtype(code))
    elif code == "i4":
        a = (i * 7919 - 50000).astype(np.int32)
    elif code == "i8":
        a = i * 3037000493 - 2**40
    elif code == "u1":
        a = ((i * 37 + 11) % 256).astype(np.uint8)
    elif code == "u2":
        a = ((i * 2654 + 3) % 65536).astype(np.uint16)
    else:
        raise ValueError(code)
    return a.reshape(shape)


def make(code, shape, fortran=False, big=False):
    a = values(code, shape)
    if big:
        a = a.astype(a.dtype.newbyteorder(">"))
    return np.array(a, order="F" if fortran else "C")  # keeps 0-d arrays 0-d


def npz_members():
    return {
        "a": make("f8", (3, 4)),
        "b": make("i4", (2, 3, 4), fortran=True, big=True),
        "c": make("u1", (7,)),
        "s": make("f4", ()),
        "z": make("c16", (2, 0)),
        "_metadata": np.array(META_JSON),
        "meta_be": np.array(META_JSON).astype(">U%d" % len(META_JSON)),
    }


def write(d):
    os.makedirs(d, exist_ok=True)
    for code in CODES:
        for order in "CF":
            for bo in ("le", "be"):
                a = make(code, SHAPE, fortran=order == "F", big=bo == "be")
                np.save(os.path.join(d, "%s_%s_%s.npy" % (code, order, bo)), a)
    np.save(os.path.join(d, "scalar_f8.npy"), make("f8", ()))
    np.save(os.path.join(d, "scalar_c16_be.npy"), make("c16", (), big=True))
    np.save(os.path.join(d, "empty_f4.npy"), make("f4", (0, 3)))
    np.save(os.path.join(d, "empty_i8_F.npy"), make("i8", (4, 0, 2), fortran=True))
    np.save(os.path.join(d, "nd8_i4.npy"), make("i4", (2, 1, 2, 3, 1, 2, 2, 1)))
    np.save(os.path.join(d, "nd8_f8_F_be.npy"), make("f8", (2, 1, 2, 3, 1, 2, 2, 1), True, True))
    np.save(os.path.join(d, "vec_u2.npy"), make("u2", (11,)))
    for ver, name, arr in (((2, 0), "v2_f8.npy", make("f8", SHAPE)),
                           ((3, 0), "v3_c8_be.npy", make("c8", SHAPE, big=True))):
        with open(os.path.join(d, name), "wb") as f:
            np.lib.format.write_array(f, arr, version=ver)
    np.save(os.path.join(d, "unicode.npy"), np.array("text"))
    np.save(os.path.join(d, "half.npy"), np.zeros(3, np.float16))
    np.save(os.path.join(d, "bool.npy"), np.zeros(3, bool))
    np.save(os.path.join(d, "object.npy"), np.array([1, "a"], dtype=object), allow_pickle=True)

    np.savez(os.path.join(d, "plain.npz"), **npz_members())
    m = npz_members()
    m["big"] = np.zeros(200000, np.float64)  # compresses ~1000:1
    m["big"][::1000] = 1.5
    np.savez_compressed(os.path.join(d, "compressed.npz"), **m)
    # zipfile puts zip64 records in the central directory and the end records
    # only past ZIP64_LIMIT; lower it so a small archive has all of them.
    saved = zipfile.ZIP64_LIMIT
    zipfile.ZIP64_LIMIT = 0
    try:
        np.savez(os.path.join(d, "zip64.npz"), **npz_members())
        np.savez_compressed(os.path.join(d, "zip64c.npz"), **npz_members())
    finally:
        zipfile.ZIP64_LIMIT = saved
    return 0


FAILS = []


def fail(msg):
    FAILS.append(msg)
    print("FAIL " + msg)


def check_npy_bytes(path, expect, fortran):
    """Header as numpy writes it (byte for byte), version 1.0, data at a multiple of 64."""
    with open(path, "rb") as f:
        raw = f.read()
    ref = io.BytesIO()
    np.lib.format.write_array(ref, expect if not fortran else np.asfortranarray(expect))
    ref = ref.getvalue()
    f = io.BytesIO(raw)
    ver = np.lib.format.read_magic(f)
    shape, fo, dt = np.lib.format._read_array_header(f, ver)
    off = f.tell()
    if ver != (1, 0):
        fail("%s: version %s" % (path, ver))
    if off % 64:
        fail("%s: data offset %d not a multiple of 64" % (path, off))
    if fo != fortran:
        fail("%s: fortran_order %s, expected %s" % (path, fo, fortran))
    if raw[:off] != ref[:off]:
        fail("%s: header %r differs from numpy's %r" % (path, raw[:off], ref[:off]))
    if raw != ref:
        fail("%s: bytes differ from numpy.save" % path)


def check_array(tag, got, expect, fortran=None):
    if got.dtype != expect.dtype.newbyteorder("="):
        fail("%s: dtype %s, expected %s" % (tag, got.dtype, expect.dtype))
    if got.dtype.byteorder not in ("=", "|", "<"):
        fail("%s: byte order %r is not native little-endian" % (tag, got.dtype.byteorder))
    if got.shape != expect.shape:
        fail("%s: shape %s, expected %s" % (tag, got.shape, expect.shape))
        return
    if not np.array_equal(got, expect):
        fail("%s: values differ" % tag)
    if fortran is not None and got.ndim > 1 and got.size > 1:
        if fortran and not (got.flags.f_contiguous and not got.flags.c_contiguous):
            fail("%s: expected Fortran order" % tag)
        if not fortran and not got.flags.c_contiguous:
            fail("%s: expected C order" % tag)


def check_npz(path, expect, method, zip64=False):
    with zipfile.ZipFile(path) as zf:
        bad = zf.testzip()
        if bad is not None:
            fail("%s: CRC error in %s" % (path, bad))
        names = sorted(i.filename for i in zf.infolist())
        want = sorted(k + ".npy" for k in expect)
        if names != want:
            fail("%s: members %s, expected %s" % (path, names, want))
        for info in zf.infolist():
            if info.compress_type != method:
                fail("%s: %s compress_type %d, expected %d" % (path, info.filename, info.compress_type, method))
            if zip64 and info.extra[:2] != b"\x01\x00":
                fail("%s: %s has no zip64 extra field in the directory" % (path, info.filename))
            if info.date_time != (1980, 1, 1, 0, 0, 0):
                fail("%s: %s date %s" % (path, info.filename, info.date_time))
    with open(path, "rb") as f:
        raw = f.read()
    if zip64 and raw.find(b"PK\x06\x06") < 0:
        fail("%s: no zip64 end-of-central-directory record" % path)
    with np.load(path) as z:
        for k, (e, fo) in expect.items():
            if isinstance(e, str):
                v = z[k]
                if v.dtype.kind != "U" or v.shape != () or v.item() != e:
                    fail("%s: string %s = %r (%s %s), expected %r" % (path, k, v, v.dtype, v.shape, e))
            else:
                check_array("%s[%s]" % (path, k), z[k], e, fo)


def npz_expect():
    """Members of the archives test_npy.c writes (name -> (value, fortran))."""
    e = {}
    for code in CODES:
        e["m_" + code] = (values(code, SHAPE), False)
    e["fortran"] = (values("c8", SHAPE), True)
    e["strided"] = (values("f8", (4, 6))[::-1, ::2], False)
    e["scalar"] = (values("i8", ()), False)
    e["empty"] = (values("u2", (3, 0)), False)
    e["_metadata"] = (META_JSON, None)
    for k, s in STRINGS.items():
        e["str_" + k] = (s, None)
    return {k: v if isinstance(v[0], np.ndarray) else (v[0], None) for k, v in e.items()}


def check(d):
    for code in CODES:
        for order in "CF":
            p = os.path.join(d, "c_%s_%s.npy" % (code, order))
            check_npy_bytes(p, values(code, SHAPE), order == "F")
            check_array(p, np.load(p), values(code, SHAPE), order == "F")
    strided = values("f8", (4, 6))[::-1, ::2]
    p = os.path.join(d, "c_strided.npy")
    check_npy_bytes(p, np.ascontiguousarray(strided), False)
    check_array(p, np.load(p), strided, False)
    for name, code, shape, fo in (("c_scalar.npy", "i8", (), False),
                                  ("c_empty.npy", "c8", (2, 0, 3), False),
                                  ("c_nd8.npy", "u2", (2, 1, 2, 3, 1, 2, 2, 1), False),
                                  ("c_nd8_F.npy", "f4", (2, 1, 2, 3, 1, 2, 2, 1), True)):
        p = os.path.join(d, name)
        check_npy_bytes(p, values(code, shape), fo)
        check_array(p, np.load(p), values(code, shape), fo)

    e = npz_expect()
    check_npz(os.path.join(d, "c_stored.npz"), e, zipfile.ZIP_STORED)
    check_npz(os.path.join(d, "c_deflated.npz"), e, zipfile.ZIP_DEFLATED)
    check_npz(os.path.join(d, "c_zip64.npz"), e, zipfile.ZIP_STORED, zip64=True)
    check_npz(os.path.join(d, "c_zip64_deflated.npz"), e, zipfile.ZIP_DEFLATED, zip64=True)
    stream = {"big": (values("f4", (64, 1000)), False), "small": (values("u1", (5,)), False),
              "_metadata": (META_JSON, None)}
    check_npz(os.path.join(d, "c_stream.npz"), stream, zipfile.ZIP_DEFLATED)
    check_npz(os.path.join(d, "c_stream_stored.npz"), stream, zipfile.ZIP_STORED)
    leftovers = [f for f in os.listdir(d) if f.endswith(".tmp")]
    if leftovers:
        fail("temporary files left behind: %s" % leftovers)
    print("npy_roundtrip check: %s" % ("all files match" if not FAILS else "%d problems" % len(FAILS)))
    return 1 if FAILS else 0


def main(argv):
    if len(argv) != 3 or argv[1] not in ("write", "check"):
        print(__doc__)
        return 2
    return write(argv[2]) if argv[1] == "write" else check(argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
