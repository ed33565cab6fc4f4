#!/usr/bin/env bash
# Hostile files and conditions through the CLI: /dev/null and FIFO destinations, FIFO and directory inputs,
# a file-size limit (ulimit -f), a full disk (a tiny tmpfs, when mounting is allowed), a proton output set
# that fails half-way, SIGINT during a write, JSON outputs read back by Python's json, and the Python
# module's save_npz key checks. Every check: one clear line, non-zero exit, no temporary file left.
set -u
FSCI="$1"
PY="${FSCI_PYTHON:-/usr/bin/python3}"
SRC="${FSCI_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/hostile.XXXXXX")
MNT=""
cleanup() {
    [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/testlib.bash"
# one_line FILE: the error output is exactly one line
one_line() { [ "$(wc -l <"$1")" -eq 1 ]; }

# 1. -o /dev/null writes in place: /dev/null stays a character device
if "$FSCI" random poisson --n 10 -o /dev/null 2>"$T/err" && [ -c /dev/null ]; then
    ok "-o /dev/null discards the output and leaves a character device"
else
    bad "-o /dev/null: $(cat "$T/err")"
fi

# 2. a FIFO destination is refused at once (timeout: blocking would hang)
mkfifo "$T/fifo"
timeout 20 "$FSCI" random poisson --n 10 -o "$T/fifo" 2>"$T/err"
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "fifo: is a FIFO" "$T/err" && one_line "$T/err" && [ -p "$T/fifo" ]; then
    ok "-o FIFO is refused with one line"
else
    bad "-o FIFO (rc $rc): $(cat "$T/err")"
fi

# 3. FIFO and directory inputs are refused at once
timeout 20 "$FSCI" info "$T/fifo" >/dev/null 2>"$T/err"
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "fifo: is a FIFO, not a regular file" "$T/err"; then
    ok "info FIFO is refused without blocking"
else
    bad "info FIFO (rc $rc): $(cat "$T/err")"
fi
mkdir "$T/d.npy"
if ! timeout 20 "$FSCI" info "$T/d.npy" >/dev/null 2>"$T/err" && grep -q "is a directory, not a regular file" "$T/err"; then
    ok "info DIRECTORY is refused"
else
    bad "info DIRECTORY: $(cat "$T/err")"
fi

# 4. a file-size limit is an error naming the file (not a SIGXFSZ crash); the old file stays
mkdir "$T/lim"
echo previous >"$T/lim/big.npy"
(ulimit -f 200 && exec "$FSCI" random poisson --n 1000000 -o "$T/lim/big.npy") 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "big.npy: cannot write: File too large" "$T/err" && one_line "$T/err" &&
    [ "$(cat "$T/lim/big.npy")" = previous ] && no_tmp "$T/lim"; then
    ok "ulimit -f: EFBIG reported, old file kept, no temporary"
else
    bad "ulimit -f (rc $rc): $(cat "$T/err")"
fi

# 5. a full disk (tmpfs of 64 KiB, when this process may mount)
mkdir "$T/full"
if mount -t tmpfs -o size=64k tmpfs "$T/full" 2>/dev/null; then
    MNT="$T/full"
    echo previous >"$T/full/x.npy"
    "$FSCI" random poisson --n 100000 -o "$T/full/x.npy" 2>"$T/err"
    rc=$?
    # refused before drawing (the size is known), or ENOSPC at the write: one line either way
    if [ $rc -eq 1 ] && grep -qE "x.npy would need 800.1 kB but .*full has .* free|x.npy: cannot write: No space left on device" "$T/err" &&
        one_line "$T/err" && [ "$(cat "$T/full/x.npy")" = previous ] && no_tmp "$T/full"; then
        ok "full disk: refused naming the size (or ENOSPC), old file kept, no temporary"
    else
        bad "full disk (rc $rc): $(cat "$T/err")"
    fi
    "$FSCI" proton run --energy 70 --nx 60 --quiet -o "$T/full/run" >/dev/null 2>"$T/err"
    rc=$?
    if [ $rc -ne 0 ] && [ ! -e "$T/full/run" ] && no_tmp "$T/full"; then
        ok "full disk: proton run -o DIR leaves no directory and no temporary"
    else
        bad "full disk proton (rc $rc): $(cat "$T/err"); $(ls -a "$T/full")"
    fi
    umount "$T/full" && MNT=""
else
    echo "skip full disk: cannot mount a tmpfs here"
fi

# 6. proton run -o DIR that fails on one file keeps the whole old set
"$FSCI" proton run --energy 70 --nx 20 --quiet -o "$T/run" >/dev/null 2>"$T/err" || bad "proton run: $(cat "$T/err")"
cp -r "$T/run" "$T/run.before"
rm "$T/run/summary.json" && mkdir "$T/run/summary.json"
"$FSCI" proton run --energy 90 --nx 20 --quiet -o "$T/run" >/dev/null 2>"$T/err"
rc=$?
same=1
for f in dose.npy dose_mev.npy dose.raw dose.mhd depth_dose.csv lateral.csv; do
    cmp -s "$T/run/$f" "$T/run.before/$f" || same=0
done
if [ $rc -ne 0 ] && [ $same -eq 1 ] && grep -q "summary.json: is a directory" "$T/err" && no_tmp "$T/run"; then
    ok "proton run -o DIR failing on one file leaves the old set whole"
else
    bad "proton mixed set (rc $rc, same $same): $(cat "$T/err")"
fi

# 7. SIGINT / SIGTERM during a long write remove the temporary file (needs the
#    CLI's main to call fsci_atomic_install_signal_cleanup)
if grep -q fsci_atomic_install_signal_cleanup "$SRC"/cli/*.c 2>/dev/null; then
    # job control on: background jobs then keep the default SIGINT action
    set -m
    for sig in INT TERM; do
        mkdir "$T/$sig"
        "$FSCI" ptycho simulate --n-images 20000 --N 64 --gridsize 2 --quiet -o "$T/$sig/p.npz" 2>/dev/null &
        pid=$!
        for _ in $(seq 200); do [ -n "$(find "$T/$sig" -name '*.tmp')" ] && break; sleep 0.02; done
        kill -$sig $pid
        wait $pid
        rc=$?
        want=$((128 + $(kill -l $sig)))
        if [ $rc -eq $want ] && no_tmp "$T/$sig" && [ ! -e "$T/$sig/p.npz" ]; then
            ok "SIG$sig during a write: exit $want, no temporary, no output"
        else
            bad "SIG$sig (rc $rc, want $want): $(ls -a "$T/$sig" | tr '\n' ' ')"
        fi
    done
    set +m
else
    echo "skip SIGINT: the CLI does not call fsci_atomic_install_signal_cleanup yet"
fi

# 8. JSON: undefined proton figures are null; ptycho _metadata has PtychoPINN's schema and our keys
"$FSCI" proton run --energy 70 --nz 1 --nx 10 --max-loss 1 --quiet -o "$T/nz1" >/dev/null 2>"$T/err"
if "$PY" - "$T/nz1/summary.json" <<'EOF'; then
import json, sys
d = json.load(open(sys.argv[1]))
assert d["nz"] == 1 and d["R80_mm"] is None and d["R90_mm"] is None and d["d80_20_mm"] is None, d
EOF
    ok "proton --nz 1: summary.json has R80_mm null"
else
    bad "proton --nz 1 summary.json: $(cat "$T/err")"
fi
"$FSCI" ptycho simulate --n-images 20 --N 16 --gridsize 1 --seed 5 --quiet -o "$T/p.npz" 2>"$T/err"
if "$PY" - "$T/p.npz" <<'EOF'; then
import json, sys
import numpy as np
z = np.load(sys.argv[1])
assert z["_metadata"].shape == () and z["_metadata"].dtype.kind == "U", z["_metadata"].dtype
d = json.loads(z["_metadata"].item())
assert list(d) == ("schema_version creation_info physics_parameters training_parameters data_transformations "
                   "additional_parameters").split(), list(d)
assert list(d["creation_info"]) == "timestamp script hostname generator fastsci_version".split(), d["creation_info"]
assert d["creation_info"]["generator"].startswith("fastsci ")
assert list(d["physics_parameters"]) == ["nphotons", "gridsize", "N"] and d["physics_parameters"]["N"] == 16
assert d["training_parameters"] == {"n_images": 20} and d["data_transformations"] == []
keys = ("seed K K_requested n_groups noise layout intensity_scale intensity_scale_raw X_full_norm local_offset_sign "
        "object object_shape probe probe_scale positions raw oversampling pool_size version").split()
a = d["additional_parameters"]
assert list(a) == keys, list(a)
assert a["seed"] == 5 and a["version"] == 2
EOF
    ok "ptycho _metadata parses as JSON in PtychoPINN's schema with our keys"
else
    bad "ptycho _metadata: $(cat "$T/err")"
fi

# 9. the Python module's save_npz: a NUL in a key is a ValueError, a non-str key a TypeError
PYDIR="$(dirname "$FSCI")/python"
if [ -d "$PYDIR/fastsci" ]; then
    if PYTHONPATH="$PYDIR" "$PY" - "$T/k.npz" <<'EOF'; then
import sys
import numpy as np
import fastsci.io as io
for bad, exc, text in (({"a\0b": np.zeros(2)}, ValueError, "NUL"), ({1: np.zeros(2)}, TypeError, "int"),
                       ({"s": "x\0y"}, ValueError, "NUL")):
    try:
        io.save_npz(sys.argv[1], bad)
    except exc as e:
        assert text in str(e), e
    else:
        raise SystemExit(f"no {exc.__name__} for {bad!r}")
EOF
        ok "python save_npz rejects NUL and non-str keys"
    else
        bad "python save_npz key checks"
    fi
else
    echo "skip python: module not built"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
