"""Strict PNG check for report figures: signature, every chunk's CRC, IHDR first,
IEND last, and the IDAT stream inflating to exactly the image's size.
(Browsers draw truncated PNGs without complaint, so the page check alone would
not catch a figure cut short.) Usage: check_png.py FILE..."""
import struct
import sys
import zlib

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def check(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return "not a PNG signature"
    pos, chunks, idat = 8, [], b""
    while pos < len(data):
        if pos + 12 > len(data):
            return f"truncated chunk header at byte {pos}"
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            return f"chunk {ctype!r} truncated"
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(ctype + body) != crc:
            return f"bad CRC in chunk {ctype!r}"
        chunks.append(ctype)
        if ctype == b"IHDR":
            w, h, depth, color = struct.unpack(">IIBB", body[:10])
        if ctype == b"IDAT":
            idat += body
        pos += 12 + length
    if not chunks or chunks[0] != b"IHDR" or chunks[-1] != b"IEND":
        return f"chunk order {chunks[:1]}...{chunks[-1:]}"
    raw = zlib.decompress(idat)
    expect = h * (1 + (w * CHANNELS[color] * depth + 7) // 8)
    if len(raw) != expect:
        return f"pixel data {len(raw)} bytes, expected {expect}"
    return None


bad = 0
for p in sys.argv[1:]:
    err = check(p)
    if err:
        print(f"{p}: {err}")
        bad += 1
sys.exit(1 if bad else 0)
