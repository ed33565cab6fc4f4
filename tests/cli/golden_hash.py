"""Checksums of the numeric results of fixed runs, one line per array: name, dtype, shape, sha256.

Used by tests/cli/golden_outputs.sh to show that refactors leave ptycho and proton results bit-identical.
String members (metadata, JSON) are left out: their formatting may change; their values are tested elsewhere.
"""
import hashlib
import pathlib
import sys

import numpy as np


def line(name, a):
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(a.dtype.str.encode() + repr(a.shape).encode() + a.tobytes()).hexdigest()
    return f"{name} {a.dtype.str} {a.shape} {h}"


def main(paths):
    out = []
    for p in map(pathlib.Path, paths):
        if p.suffix == ".npz":
            z = np.load(p, allow_pickle=False)
            for k in sorted(z.files):
                if z[k].dtype.kind != "U":
                    out.append(line(f"{p.name}:{k}", z[k]))
        elif p.suffix == ".npy":
            out.append(line(p.name, np.load(p)))
        else:  # CSV and raw: the bytes themselves
            out.append(f"{p.name} bytes {hashlib.sha256(p.read_bytes()).hexdigest()}")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
