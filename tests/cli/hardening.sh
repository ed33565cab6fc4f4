#!/usr/bin/env bash
# The hardening list, checked as a hostile user through the CLI and the Python module.
# Contract for every bad input: one clear line on stderr naming the input, the field and the
# value; exit 1 (exit 2 for usage errors: bad options or parameter values); no temporary file
# or directory left behind; an existing output untouched (checksums before/after).
# Items already covered elsewhere (tests/cli/hostile_io.sh, tests/ptycho/ptycho_cli.sh,
# tests/proton/proton_cli.sh, python/tests/test_house.py, python/tests/test_io.py) are not
# repeated; this file adds the missing cases and ~40 hostile inputs of its own.
# Comments starting "Was:" record what a probe found before the fix each check guards.
set -u
FSCI="$1"
PY="${FSCI_PYTHON:-/usr/bin/python3}"
PYDIR="$(cd "$(dirname "$FSCI")" && pwd)/python"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/hardening.XXXXXX")
MNT=""
IMMUTABLE=""
cleanup() {
    [ -n "$IMMUTABLE" ] && chattr -i "$IMMUTABLE" 2>/dev/null
    [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/testlib.bash"
# check NAME CMD...: ok when CMD succeeds; on failure show the last stderr
check() {
    local name="$1"
    shift
    if "$@"; then ok "$name"; else bad "$name (rc $(cat "$T/rc" 2>/dev/null), stderr: $(head -c 400 "$T/err" 2>/dev/null | tr '\n' '|'))"; fi
}
# run CMD...: stdout, stderr and status into $T/out, $T/err, $T/rc; every stderr is kept in $T/allerr
run() {
    "$@" >"$T/out" 2>"$T/err"
    echo $? >"$T/rc"
    cat "$T/err" >>"$T/allerr"
}
rc() { [ "$(cat "$T/rc")" = "$1" ]; }
errhas() { head -1 "$T/err" | grep -q -- "$1"; }
errnot() { ! grep -q -- "$1" "$T/err"; }
oneline() { [ "$(wc -l <"$T/err")" -eq 1 ]; }
# usage: the message line plus the usage line
usage2() { [ "$(wc -l <"$T/err")" -le 2 ] && grep -q "^usage:" "$T/err"; }
sum_dir() { (cd "$1" && sha1sum -- * 2>/dev/null); }
pyrun() { PYTHONPATH="$PYDIR" "$PY" "$@"; }
# the Python checks need the module (the sanitizer build has none)
HAVE_PY=""
if [ -d "$PYDIR/fastsci" ]; then HAVE_PY=1; else echo "skip the Python checks: no module in $PYDIR"; fi
: >"$T/allerr"

# fixtures
pyrun - "$T" <<'EOF' || bad "fixtures could not be made"
import io, os, struct, sys, zipfile
import numpy as np
t = sys.argv[1]
j = lambda n: os.path.join(t, n)
def npy(a):
    b = io.BytesIO(); np.save(b, a); return b.getvalue()
r = np.random.default_rng(2)
np.savez(j("pos30.npz"), xcoords=r.uniform(20, 90, 30), ycoords=r.uniform(20, 90, 30))
np.savez(j("pos0.npz"), xcoords=np.zeros(0), ycoords=np.zeros(0))
np.savez(j("pos1.npz"), xcoords=np.array([50.0]), ycoords=np.array([50.0]))
np.savez(j("rsp32.npz"), rsp=np.ones((50, 20), np.float32))
np.savez(j("rsp64.npz"), rsp=np.ones((50, 20), np.float64))
np.savez(j("rspnan.npz"), rsp=np.where(np.arange(1000).reshape(50, 20) == 7, np.nan, 1.0))
np.savez(j("rsp3d.npz"), rsp=np.ones((5, 50, 20)))
with zipfile.ZipFile(j("dup.npz"), "w") as z:
    z.writestr("a.npy", npy(np.zeros(3)))
    z.writestr("a.npy", npy(np.ones(4)))
with zipfile.ZipFile(j("dupobj.npz"), "w") as z:
    for _ in range(2):
        z.writestr("objectGuess.npy", npy(np.ones((112, 112), np.complex64)))
def raw_npy(name, header, payload):
    h = header.encode()
    h = h + b" " * (118 - len(h)) + b"\n"
    open(j(name), "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + payload)
raw_npy("hugeshape.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (100000, 100000), }", b"\0" * 16)
raw_npy("ovfshape.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3037000500, 3037000500), }", b"\0" * 16)
raw_npy("dupkey.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'shape': (1000000000,) }", b"\0" * 24)
b = io.BytesIO(); np.savez(b, objectGuess=np.ones((112, 112), np.complex64)); raw = b.getvalue()
open(j("trunc.npz"), "wb").write(raw[:len(raw) // 2])
c = bytearray(raw); c[200] ^= 0xFF; open(j("crc.npz"), "wb").write(bytes(c))
b = io.BytesIO(); np.savez_compressed(b, x=np.arange(10000.0)); c = bytearray(b.getvalue()); c[300] ^= 0x55
open(j("deflate.npz"), "wb").write(bytes(c))
open(j("empty.npy"), "wb").close()
np.save(j("obj0.npy"), np.ones((0, 0), np.complex64))
EOF
mkfifo "$T/f.npy" "$T/f.npz"
: >"$T/afile"

# ---------------------------------------------------------------------------------------------
# 1. -o /dev/null for every file command: written in place, /dev/null stays a character device
#    (random poisson and the FIFO destination are in hostile_io.sh)
devnull_ok() {
    if [ -c /dev/null ]; then return 0; fi
    echo "!!! /dev/null was replaced by a regular file: restoring it"
    rm -f /dev/null && mknod -m 666 /dev/null c 1 3
    return 1
}
run "$FSCI" ptycho simulate --quiet --N 16 --n-images 20 -o /dev/null
check "1. ptycho simulate -o /dev/null: exit 0, /dev/null still a character device" eval 'rc 0 && devnull_ok'
run "$FSCI" ptycho group --quiet --positions "$T/pos30.npz" -o /dev/null
check "1. ptycho group -o /dev/null: exit 0, character device" eval 'rc 0 && devnull_ok'
run "$FSCI" proton pdd --quiet --energy 70 --nx 10 -o /dev/null
check "1. proton pdd -o /dev/null: exit 0, character device" eval 'rc 0 && devnull_ok'
run "$FSCI" proton run --quiet --energy 70 --nx 10 -o /dev/null
check "1. proton run -o /dev/null (a folder command): exit 1, one line, character device" \
    eval 'rc 1 && errhas "/dev/null" && oneline && devnull_ok'
ln -s /dev/null "$T/lnull.npy"
run "$FSCI" random uniform --n 3 -o "$T/lnull.npy"
check "1. -o SYMLINK-to-/dev/null: /dev/null still a character device" eval 'rc 0 && devnull_ok'
run timeout 10 "$FSCI" ptycho simulate --quiet --N 16 --n-images 20 -o "$T/f.npz"
check "1. ptycho simulate -o FIFO: refused at once, one line" eval 'rc 1 && errhas "f.npz: is a FIFO" && oneline && [ -p "$T/f.npz" ]'
run timeout 10 "$FSCI" proton pdd --quiet --energy 70 --nx 10 -o "$T/f.npz"
check "1. proton pdd -o FIFO: refused at once" eval 'rc 1 && errhas "f.npz: is a FIFO" && oneline'

# ---------------------------------------------------------------------------------------------
# 2. a file-size limit: ptycho simulate and proton run -o DIR (random poisson is in hostile_io.sh)
mkdir "$T/lim"
echo previous >"$T/lim/out.npz"
run bash -c 'ulimit -f 200 && exec "$0" ptycho simulate --n-images 300 --N 32 --quiet -o "$1"' "$FSCI" "$T/lim/out.npz"
check "2. ulimit -f: ptycho simulate: exit 1, one line naming out.npz and EFBIG, old file kept, no temporary" \
    eval 'rc 1 && errhas "out.npz: cannot write: File too large" && oneline && [ "$(cat "$T/lim/out.npz")" = previous ] && no_tmp "$T/lim"'
"$FSCI" proton run --energy 70 --nx 20 --quiet -o "$T/lim/run" >/dev/null 2>&1
sum_dir "$T/lim/run" >"$T/lim.sum"
run bash -c 'ulimit -f 200 && exec "$0" proton run --energy 150 --nx 200 --quiet -o "$1"' "$FSCI" "$T/lim/run"
check "2. ulimit -f: proton run -o existing DIR: exit 1, EFBIG, old set whole, no temporary" \
    eval 'rc 1 && errhas "File too large" && oneline && [ "$(sum_dir "$T/lim/run")" = "$(cat "$T/lim.sum")" ] && no_tmp "$T/lim"'
# Was: the message names the writer's temporary path (lim/run/.fsci-PID-0.tmp/dose.npy),
# a path that no longer exists, instead of the user's output lim/run/dose.npy
check "2. ulimit -f: proton run message names DIR/dose.npy, not the temporary directory" \
    eval 'errhas "lim/run/dose.npy: cannot write: File too large" && errnot "\.tmp"'
run bash -c 'ulimit -f 200 && exec "$0" proton run --energy 150 --nx 200 --quiet -o "$1"' "$FSCI" "$T/lim/new"
check "2. ulimit -f: proton run -o NEW DIR: exit 1, no directory, no temporary" \
    eval 'rc 1 && errhas "File too large" && [ ! -e "$T/lim/new" ] && no_tmp "$T/lim"'

# ---------------------------------------------------------------------------------------------
# 3. signals during a write (hostile_io.sh: SIGINT/SIGTERM on a new ptycho output)
set -m
mkdir "$T/sig"
echo keep >"$T/sig/x.npz"
"$FSCI" ptycho simulate --n-images 20000 --N 64 --quiet -o "$T/sig/x.npz" 2>/dev/null &
pid=$!
for _ in $(seq 300); do [ -n "$(find "$T/sig" -name '*.tmp')" ] && break; sleep 0.02; done
kill -INT $pid
wait $pid
echo $? >"$T/rc"
check "3. SIGINT over an existing output: exit 130, old file kept, no temporary" \
    eval 'rc 130 && [ "$(cat "$T/sig/x.npz")" = keep ] && no_tmp "$T/sig"'
"$FSCI" proton run --energy 70 --nx 20 --quiet -o "$T/sig/run" >/dev/null 2>&1
sum_dir "$T/sig/run" >"$T/sig.sum"
for s in TERM HUP; do
    "$FSCI" proton run --energy 150 --nx 100 --quiet -o "$T/sig/run" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 300); do [ -n "$(find "$T/sig/run" -name '*.tmp')" ] && break; sleep 0.01; done
    kill -$s $pid
    wait $pid
    echo $? >"$T/rc"
    check "3. SIG$s during proton run -o existing DIR: exit $((128 + $(kill -l $s))), old set whole, no temporary" \
        eval 'rc $((128 + $(kill -l $s))) && [ "$(sum_dir "$T/sig/run")" = "$(cat "$T/sig.sum")" ] && no_tmp "$T/sig"'
done
set +m

# ---------------------------------------------------------------------------------------------
# 4. FIFO inputs never block (info FIFO is in hostile_io.sh)
for a in "--object $T/f.npy" "--object $T/f.npz" "--probe $T/f.npy" "--probe $T/f.npz" "--positions $T/f.npz"; do
    run timeout 10 "$FSCI" ptycho simulate --quiet --N 16 --n-images 20 $a -o "$T/o.npz"
    check "4. ptycho simulate ${a%% *} FIFO ${a##*.}: exit 1, one line, no output" \
        eval 'rc 1 && errhas "is a FIFO, not a regular file" && oneline && [ ! -e "$T/o.npz" ]'
done
run timeout 10 "$FSCI" ptycho group --quiet --positions "$T/f.npz" -o "$T/o.npz"
check "4. ptycho group --positions FIFO: exit 1, one line" eval 'rc 1 && errhas "f.npz: is a FIFO" && oneline'
# Was: proton --phantom FILE problems (FIFO, missing, directory, garbage) exit 2 with the usage
# line, while ptycho --object/--probe/--positions FILE problems exit 1: a bad input file is not a usage error
for what in fifo missing dir garbage; do
    case $what in
        fifo) p="$T/f.npz" want="is a FIFO" ;;
        missing) p="$T/missing.npz" want="missing.npz: cannot open: No such file" ;;
        dir) mkdir -p "$T/d.npz" && p="$T/d.npz" want="is a directory" ;;
        garbage) echo garbage >"$T/g.npz" && p="$T/g.npz" want="g.npz: not a zip archive" ;;
    esac
    run timeout 10 "$FSCI" proton run --quiet --energy 70 --nx 20 --phantom "$p" -o "$T/pr"
    check "4. proton run --phantom $what: not a hang, names the file, no output" eval 'errhas "$want" && [ ! -e "$T/pr" ]'
    check "4. proton run --phantom $what: exit 1 and one line like ptycho --object (was exit 2)" eval 'rc 1 && oneline'
done
run timeout 10 "$FSCI" proton pdd --quiet --energy 70 --nx 20 --phantom "$T/f.npz"
check "4. proton pdd --phantom FIFO: no hang, names the FIFO" eval 'errhas "is a FIFO"'

# ---------------------------------------------------------------------------------------------
# 5. proton run -o DIR failing on one output keeps the old set (summary.json as a directory and a
#    full disk for a new DIR are in hostile_io.sh): an immutable file in the middle of the set, a
#    full tmpfs under an existing set
"$FSCI" proton run --energy 70 --nx 20 --quiet -o "$T/set" >/dev/null 2>&1
sum_dir "$T/set" >"$T/set.sum"
if chattr +i "$T/set/lateral.csv" 2>/dev/null; then
    IMMUTABLE="$T/set/lateral.csv"
    run "$FSCI" proton run --energy 90 --nx 20 --quiet -o "$T/set"
    chattr -i "$T/set/lateral.csv" && IMMUTABLE=""
    check "5. immutable lateral.csv in DIR: exit 1 naming it, every old file kept, no temporary" \
        eval 'rc 1 && errhas "set/lateral.csv" && oneline && [ "$(sum_dir "$T/set")" = "$(cat "$T/set.sum")" ] && no_tmp "$T/set"'
else
    echo "skip immutable file: chattr +i is not permitted here"
fi
mkdir "$T/full"
if mount -t tmpfs -o size=256k tmpfs "$T/full" 2>/dev/null; then
    MNT="$T/full"
    "$FSCI" proton run --energy 70 --nx 20 --quiet -o "$T/full/run" >/dev/null 2>&1
    sum_dir "$T/full/run" >"$T/full.sum"
    run "$FSCI" proton run --energy 70 --nx 200 --quiet -o "$T/full/run"
    check "5. full tmpfs under an existing set: exit 1, ENOSPC, old set whole, no temporary" \
        eval 'rc 1 && errhas "No space left on device" && oneline && [ "$(sum_dir "$T/full/run")" = "$(cat "$T/full.sum")" ] && no_tmp "$T/full"'
    # Was: as in 2., the message names full/run/.fsci-PID-0.tmp/dose.raw
    check "5. full tmpfs: the message names full/run/<file>, not the temporary directory" eval 'errnot "\.tmp"'
    echo previous >"$T/full/x.npz"
    run "$FSCI" ptycho simulate --n-images 300 --N 32 --quiet -o "$T/full/x.npz"
    # refused up front ("would need 21.1 MB but ... has 204.8 kB free") or ENOSPC while writing
    check "5. full tmpfs: ptycho simulate: exit 1 naming x.npz and the lack of space, old file kept" \
        eval 'rc 1 && errhas "x.npz" && errhas "No space left on device\|free" && oneline && [ "$(cat "$T/full/x.npz")" = previous ] && no_tmp "$T/full"'
    umount "$T/full" && MNT=""
else
    echo "skip full tmpfs: cannot mount here"
fi

# ---------------------------------------------------------------------------------------------
# 6. --nz 1 without --max-loss fails naming --max-loss (the null R80 is in hostile_io.sh)
run "$FSCI" proton run --quiet --energy 150 --nz 1 --nx 20 -o "$T/nz1"
check "6. --nz 1 without --max-loss: exit 1, one line naming --max-loss, no output" \
    eval 'rc 1 && errhas "max-loss" && oneline && [ ! -e "$T/nz1" ]'
run "$FSCI" proton pdd --quiet --energy 150 --nz 1 --nx 20 --max-loss 1 -o "$T/nz1.csv"
check "6. pdd --nz 1 --max-loss 1: R80 is nan in the CSV, never 0" \
    eval 'rc 0 && [ "$(sed -n 2p "$T/nz1.csv" | cut -d, -f3)" = nan ]'

# ---------------------------------------------------------------------------------------------
# 8. duplicate .npz member names, through the CLI and Python
run "$FSCI" info "$T/dup.npz"
check "8. info: duplicate member refused naming file and member" eval 'rc 1 && errhas "dup.npz: member .a.npy.: duplicate member name" && oneline'
run "$FSCI" ptycho simulate --quiet --N 32 --n-images 20 --object "$T/dupobj.npz" -o "$T/o.npz"
check "8. ptycho --object with a duplicate member: exit 1 naming it, no output" \
    eval 'rc 1 && errhas "dupobj.npz: member .objectGuess.npy.: duplicate" && oneline && [ ! -e "$T/o.npz" ]'
if [ -n "$HAVE_PY" ]; then
pyrun - "$T" <<'EOF' >"$T/err" 2>&1 && ok "8. python load_npz: duplicate member is a FormatError naming the member" || bad "8. python load_npz duplicate: $(tail -1 "$T/err")"
import sys
import fastsci
try:
    fastsci.io.load_npz(sys.argv[1] + "/dup.npz")
except fastsci.FormatError as e:
    assert "dup.npz" in str(e) and "'a.npy'" in str(e) and "duplicate" in str(e), e
else:
    raise SystemExit("no error")
EOF
fi

# ---------------------------------------------------------------------------------------------
# 9. one energy bin names --ne (proton_cli.sh checks "left the grid" only)
run "$FSCI" proton run --quiet --energy 70 --nx 20 --egrid uniform --ne 1 -o "$T/ne1"
check "9. --egrid uniform --ne 1: exit 1, one line naming --ne, no output" eval 'rc 1 && errhas "\-\-ne" && oneline && [ ! -e "$T/ne1" ]'
run "$FSCI" proton pdd --quiet --energy 70 --nx 20 --theta-max 0.001
check "9. pdd --theta-max 0.001: exit 1 naming --theta-max" eval 'rc 1 && errhas "widen --theta-max" && oneline'

# ---------------------------------------------------------------------------------------------
# 11. messages name the input
run "$FSCI" proton run --quiet --energy 70 --nx 20 --nz 50 --phantom "$T/rsp32.npz" -o "$T/p32"
"$FSCI" proton run --quiet --energy 70 --nx 20 --nz 50 --phantom "$T/rsp64.npz" -o "$T/p64" >/dev/null 2>&1
check "11. float32 rsp phantom is converted: the same dose as the float64 map" \
    eval 'rc 0 && cmp -s "$T/p32/dose.npy" "$T/p64/dose.npy"'
run "$FSCI" ptycho simulate --noise maybe --quiet -o "$T/o.npz"
check "11. --noise maybe: exit 2 naming --noise and 'maybe'" eval 'rc 2 && errhas "\-\-noise: .maybe." && usage2 && [ ! -e "$T/o.npz" ]'
run "$FSCI" proton pdd --energy 70 -o /nonexistent/x.csv
check "11. pdd -o /nonexistent/x.csv: exit 1, one line naming the path and the reason" \
    eval 'rc 1 && errhas "/nonexistent/x.csv" && errhas "does not exist\|No such file" && oneline'
# fail fast, checked without timing: with a grid too large to plan, the path error must come first
run "$FSCI" proton pdd --energy 70 --nx 1000000 --nz 1000000 -o /nonexistent/x.csv
check "11. pdd checks -o before computing" eval 'rc 1 && errhas "/nonexistent/x.csv"'
# Was: a regular file used as the folder is reported as "folder 'afile' does not exist"
# (the reason is ENOTDIR, "Not a directory")
run "$FSCI" proton pdd --quiet --energy 70 --nx 20 -o "$T/afile/x.csv"
check "11. pdd -o FILE/x.csv: the reason is 'Not a directory', not 'does not exist'" \
    eval 'rc 1 && errhas "afile" && errhas "Not a directory\|not a folder" && oneline'
# Was: the value check names an internal field (materials.rsp) and not the file
run "$FSCI" proton run --quiet --energy 70 --nx 20 --nz 50 --phantom "$T/rspnan.npz" -o "$T/pn"
check "11. NaN in the rsp map: exit 1 naming rspnan.npz, member rsp, [0, 7] and nan; no internal field" \
    eval 'rc 1 && errhas "rspnan.npz" && errhas "rsp\[0, 7\] = nan" && errnot "materials\." && oneline && [ ! -e "$T/pn" ]'
# Was: a 3-D rsp (5, 50, 20) is reported as "rsp has shape (5, 50)"
run "$FSCI" proton run --quiet --energy 70 --nx 20 --nz 50 --phantom "$T/rsp3d.npz" -o "$T/p3"
check "11. 3-D rsp map: refused reporting its real shape (5, 50, 20)" eval 'errhas "(5, 50, 20)" && [ ! -e "$T/p3" ]'

# ---------------------------------------------------------------------------------------------
# 12. FSCI_NUM_THREADS from the CLI (Python is in test_house.py)
for v in abc 0 -1 1.5 99999999; do
    FSCI_NUM_THREADS=$v run "$FSCI" random uniform --n 3 -o "$T/t.npy"
    check "12. FSCI_NUM_THREADS=$v: exit 1, one line naming the variable and the value, no output" \
        eval 'rc 1 && errhas "FSCI_NUM_THREADS: .$v." && oneline && [ ! -e "$T/t.npy" ]'
done
FSCI_NUM_THREADS=abc run "$FSCI" random uniform --n 3 --threads 2 -o "$T/t.npy"
check "12. --threads overrides a bad FSCI_NUM_THREADS" rc 0
rm -f "$T/t.npy"

# ---------------------------------------------------------------------------------------------
# 13. empty list values through the CLI (Python is in test_house.py)
for v in "100,,200" "100," ",100"; do
    run "$FSCI" proton run --quiet --energy "$v" -o "$T/e"
    check "13. proton run --energy '$v': exit 2 naming the empty value" eval 'rc 2 && errhas "\-\-energy: .$v. has an empty value" && usage2 && [ ! -e "$T/e" ]'
done
run "$FSCI" proton pdd --quiet --energy 100,,200
check "13. proton pdd --energy 100,,200: exit 2" eval 'rc 2 && errhas "empty value"'

# ---------------------------------------------------------------------------------------------
# Hostile inputs of our own: outputs
mkdir "$T/outdir"
echo x >"$T/outdir/keep"
for c in "random uniform --n 3" "ptycho simulate --quiet --N 16 --n-images 20" "ptycho group --quiet --positions $T/pos30.npz" \
    "proton pdd --quiet --energy 70 --nx 10"; do
    run "$FSCI" $c -o "$T/outdir"
    check "H. ${c%% --*} -o EXISTING DIRECTORY: exit 1, one line, directory untouched" \
        eval 'rc 1 && errhas "outdir" && oneline && [ "$(ls -A "$T/outdir")" = keep ] && no_tmp "$T"'
done
run "$FSCI" proton run --quiet --energy 70 --nx 10 -o "$T/afile"
check "H. proton run -o FILE: exit 1, the file untouched" eval 'rc 1 && oneline && [ -f "$T/afile" ] && [ ! -s "$T/afile" ]'
for c in "ptycho simulate --quiet --N 16 --n-images 20" "proton run --quiet --energy 70 --nx 10" "random uniform --n 3"; do
    run "$FSCI" $c -o ""
    check "H. ${c%% --*} -o '': a usage error naming -o (the message, then the usage line)" eval 'errhas "\-o/--output: empty path" && [ "$(wc -l <"$T/err")" -eq 2 ]'
    # Was: an empty -o is a bad option value but exits 1 (random: "atomic write: NULL or empty output path")
    check "H. ${c%% --*} -o '': exit 2 (a usage error)" rc 2
done
for c in "random uniform --n 3" "ptycho simulate --quiet --N 16 --n-images 20" "proton pdd --quiet --energy 70 --nx 10"; do
    run "$FSCI" $c -o /dev/full
    check "H. ${c%% --*} -o /dev/full: exit 1, ENOSPC naming /dev/full" eval 'rc 1 && errhas "/dev/full: cannot write: No space left on device" && oneline'
done
# Was: random computes every draw before it finds that the output folder is missing (the
# others check -o first), and then blames "a temporary file"; with --n 1e12 it reports out of memory
run "$FSCI" random uniform --n 1000000000000 -o /nonexistent/x.npy
check "H. random -o /nonexistent/x.npy: the path error comes before computing" \
    eval 'rc 1 && errhas "/nonexistent" && errnot "temporary" && oneline'
run "$FSCI" ptycho group --quiet --positions "$T/pos30.npz" -o /nonexistent/g.npz
check "H. ptycho group -o /nonexistent/g.npz: exit 1 naming the folder" eval 'rc 1 && errhas "/nonexistent" && oneline'
# Was: demo creates missing parent folders (as root: any path), where every other command
# refuses a missing folder; checked inside the test folder only
run "$FSCI" demo --quick --only core --quiet -o "$T/no/such/rep"
check "H. demo -o MISSING/PARENT/rep: exit 1 like the other commands, nothing created" eval 'rc 1 && [ ! -e "$T/no" ]'
rm -rf "$T/no"
run "$FSCI" demo --quick --only core --quiet -o "$T/afile"
check "H. demo -o FILE: exit 1 naming it, the file untouched" eval 'rc 1 && errhas "afile" && oneline && [ ! -s "$T/afile" ]'
run "$FSCI" demo --only bogus -o "$T/dm"
check "H. demo --only bogus: exit 2 naming it" eval 'rc 2 && errhas "\-\-only: no section .bogus." && [ ! -e "$T/dm" ]'
# Was: write errors on stdout are ignored (exit 0, output lost)
run "$FSCI" info "$T/pos30.npz"
if [ -w /dev/full ]; then
    "$FSCI" info "$T/pos30.npz" >/dev/full 2>"$T/err"
    echo $? >"$T/rc"
    check "H. info >/dev/full: exit 1 reporting the stdout write error" eval 'rc 1 && oneline'
    "$FSCI" version >/dev/full 2>"$T/err"
    echo $? >"$T/rc"
    check "H. version >/dev/full: exit 1 reporting the stdout write error" rc 1
fi

# inputs
for f in hugeshape.npy ovfshape.npy dupkey.npy trunc.npz empty.npy; do
    run "$FSCI" info "$T/$f"
    check "H. info $f: exit 1, one line naming the file" eval 'rc 1 && errhas "$f" && oneline'
done
run "$FSCI" ptycho simulate --quiet --N 32 --n-images 20 --object "$T/hugeshape.npy" -o "$T/o.npz"
check "H. --object whose header claims 80 GB: refused before allocating, naming it" eval 'rc 1 && errhas "hugeshape.npy: header declares shape (100000, 100000)" && oneline && [ ! -e "$T/o.npz" ]'
run "$FSCI" ptycho simulate --quiet --N 32 --n-images 20 --object "$T/crc.npz" -o "$T/o.npz"
check "H. --object with a CRC mismatch: exit 1 naming member and CRC" eval 'rc 1 && errhas "crc.npz: member .objectGuess.npy.: CRC-32 mismatch" && oneline && [ ! -e "$T/o.npz" ]'
if [ -n "$HAVE_PY" ]; then
pyrun - "$T" <<'EOF' >"$T/err" 2>&1 && ok "H. python load_npz: corrupt deflate stream is a FormatError naming the file" || bad "H. python corrupt deflate: $(tail -1 "$T/err")"
import sys
import fastsci
try:
    fastsci.io.load_npz(sys.argv[1] + "/deflate.npz")
except fastsci.FormatError as e:
    assert "deflate.npz" in str(e) and "'x.npy'" in str(e), e
else:
    raise SystemExit("no error")
EOF
fi
run "$FSCI" ptycho simulate --quiet --N 32 --n-images 20 --object "$T/obj0.npy" -o "$T/o.npz"
check "H. --object of shape (0, 0): exit 1 naming it" eval 'rc 1 && errhas "obj0.npy: empty shape" && oneline'
run "$FSCI" info /dev/zero
check "H. info /dev/zero: refused (character device), no hang" eval 'rc 1 && errhas "/dev/zero: is a character device" && oneline'
run timeout 10 "$FSCI" ptycho simulate --quiet --N 16 --n-images 20 --object /dev/zero -o "$T/o.npz"
check "H. --object /dev/zero: refused" eval 'rc 1 && errhas "/dev/zero" && oneline'
# Was: an empty --object/--probe says "input: NULL or empty path" (exit 1), naming no option
for o in object probe; do
    run "$FSCI" ptycho simulate --quiet --N 16 --n-images 20 --$o "" -o "$T/o.npz"
    check "H. --$o '': exit 2 naming --$o" eval 'rc 2 && errhas "\-\-$o" && [ ! -e "$T/o.npz" ]'
done
# Was: an empty positions file is reported as "has 0 xcoords but 0 ycoords"
run "$FSCI" ptycho simulate --quiet --N 32 --object-size 112 --positions "$T/pos0.npz" -o "$T/o.npz"
check "H. --positions with no positions: exit 1, a message that does not contradict itself" \
    eval 'rc 1 && errhas "pos0.npz" && errnot "0 xcoords but 0 ycoords" && oneline'
# Was: one position with --gridsize 2 says "group: npoints = 1 is smaller than C", naming
# neither the file nor --gridsize
run "$FSCI" ptycho simulate --quiet --N 32 --object-size 112 --positions "$T/pos1.npz" -o "$T/o.npz"
check "H. --positions with 1 position and --gridsize 2: names the file and --gridsize" \
    eval 'rc 1 && errhas "pos1.npz" && errhas "\-\-gridsize" && oneline'

# numbers
for a in "--N nan" "--N 1e400" "--nphotons inf" "--n-images -1" "--gridsize 0" "--K 0" "--layout bogus" "--probe-scale nan" \
    "--threads 0" "--threads 100000" "--raw maybe"; do
    run "$FSCI" ptycho simulate --quiet --N 32 --n-images 20 $a -o "$T/o.npz"
    check "H. ptycho simulate $a: exit 2 naming ${a%% *}" eval 'rc 2 && errhas "${a%% *}" && usage2 && [ ! -e "$T/o.npz" ]'
done
for a in "--lam nan" "--lam inf" "--lam 1e16" "--lam ''" "--n 2.5" "--n nan" "--seed -1" "--seed 18446744073709551616" "--seed 1e3" \
    "--stream -1"; do
    eval run "$FSCI" random poisson $a -o "$T/r.npy"
    check "H. random poisson $a: exit 2 naming ${a%% *}" eval 'rc 2 && errhas "${a%% *}" && usage2 && [ ! -e "$T/r.npy" ]'
done
# Was: the help promises --stream up to 9.2e18 and Python takes any 64-bit stream, but
# 2^63 - 1 is refused, and 2^63 is reported as "not an integer"
run "$FSCI" random uniform --n 3 --stream 9223372036854775807 -o "$T/r.npy"
check "H. random --stream 2^63-1 (an int64, help: 0..9.2e18): accepted" rc 0
run "$FSCI" random uniform --n 3 --stream 9223372036854775808 -o "$T/r.npy"
check "H. random --stream 2^63: if refused, not called 'not an integer'" eval 'rc 0 || errnot "not an integer"'
rm -f "$T/r.npy"
# Was: more draws than memory: "array: out of memory for N bytes" names neither --n nor the
# machine's memory (ptycho refuses such requests up front naming the size); a request just below
# the machine's memory is not refused and the kernel kills the process. Checked safely under ulimit -v.
if [ -z "${ASAN_OPTIONS:-}" ]; then # AddressSanitizer cannot start under ulimit -v
run bash -c 'ulimit -v 2000000 && exec "$0" random poisson --n 400000000 -o "$1"' "$FSCI" "$T/r.npy"
check "H. random --n beyond the memory: exit 1, one line naming --n" eval 'rc 1 && errhas "\-\-n" && oneline && [ ! -e "$T/r.npy" ]'
fi
for a in "--energy 0.5" "--energy 1e9" "--energy nan" "--phantom slab:bone:50:10" "--phantom slab:bone:nan:5" "--phantom slab:bone:0" \
    "--dx -1" "--dz 0" "--max-loss nan" "--max-loss -0.1" "--egrid bogus" "--stream bogus" "--mcs bogus" "--nx 0"; do
    run "$FSCI" proton run --quiet --nx 20 --energy 70 $a -o "$T/pr"
    check "H. proton run $a: exit 2 naming ${a%% *}" eval 'rc 2 && errhas "${a%% *}" && [ ! -e "$T/pr" ]'
done
# Was: --energy 500 is within the documented range ("at most 500 (PSTAR)") but fails with
# "beam.energy_mev = 500: above the top bin value 499.153 MeV of the grid (raise e_max_mev)":
# internal names, and no option the user can change
run "$FSCI" proton run --quiet --nx 100 --dx 2 --dz 2 --energy 500 -o "$T/pr"
check "H. proton run --energy 500 (the documented maximum): runs, or names --energy without internal fields" \
    eval 'rc 0 || (errhas "\-\-energy" && errnot "beam\.\|e_max_mev")'
rm -rf "$T/pr"
# Was: internal field names in beam checks (beam.angle_deg, beam.x_mm)
run "$FSCI" proton run --quiet --nx 20 --energy 70 --angle 90 -o "$T/pr"
check "H. proton run --angle 90: exit 1 or 2 naming --angle, no internal field" eval '! rc 0 && errhas "\-\-angle" && errnot "beam\." && oneline'
run "$FSCI" proton run --quiet --nx 20 --energy 70 --x0 1e6 -o "$T/pr"
check "H. proton run --x0 1e6: names --x0, no internal field" eval '! rc 0 && errhas "\-\-x0" && errnot "beam\." && oneline'
# Was: --dx 1e-9 is blamed on "--step 1e-09 mm", which the user never set
run "$FSCI" proton run --quiet --nx 20 --energy 70 --dx 1e-9 -o "$T/pr"
check "H. proton run --dx 1e-9: names --dx" eval '! rc 0 && errhas "\-\-dx" && oneline && [ ! -e "$T/pr" ]'
# Was: --help gives --ne the range 1..1e8, the run refuses above 1e5 with exit 1
run "$FSCI" proton run --quiet --nx 20 --energy 70 --egrid log --ne 100000000 -o "$T/pr"
check "H. proton run --ne 1e8 (the help's maximum): a usage error (exit 2) if refused" eval 'rc 0 || rc 2'
rm -rf "$T/pr"
# Was: a grid too large to hold: "plan: out of memory" names neither the size nor an option
run "$FSCI" proton run --quiet --energy 70 --nx 1000000 --nz 1000000 -o "$T/pr"
check "H. proton run --nx 1e6 --nz 1e6: exit 1 naming the grid options and the size" \
    eval 'rc 1 && errhas "\-\-nx" && oneline && [ ! -e "$T/pr" ]'

# ---------------------------------------------------------------------------------------------
# Python: hostile keyword arguments not covered by test_house.py
if [ -n "$HAVE_PY" ]; then
pyrun - "$T" <<'EOF' >"$T/py.out" 2>&1
import sys
import numpy as np
import fastsci
t = sys.argv[1]
fails = []
def expect(label, exc, text, f, *a, **k):
    try:
        f(*a, **k)
    except exc as e:
        if text not in str(e):
            fails.append(f"{label}: {type(e).__name__} without {text!r}: {e}")
    except Exception as e:
        fails.append(f"{label}: {type(e).__name__} ({e}), expected {exc.__name__}")
    else:
        fails.append(f"{label}: no exception")
u = fastsci.random.uniform
expect("uniform stream=-1", ValueError, "stream", u, 3, stream=-1)
expect("uniform stream=2**64", ValueError, "stream", u, 3, stream=2**64)
expect("uniform threads=-1", ValueError, "threads", u, 3, threads=-1)
expect("uniform seed=1.5", TypeError, "seed", u, 3, seed=1.5)
expect("uniform seed=True", TypeError, "seed", u, 3, seed=True)
expect("uniform size=-1", ValueError, "size", u, -1)
expect("poisson lam=nan", ValueError, "nan", fastsci.random.poisson, float("nan"), size=3)
# Was: the Poisson mean checks name the C function: "fsci_rng_fill_poisson: lam[0] = nan ..."
try:
    fastsci.random.poisson(-1.0, size=3)
except ValueError as e:
    if "fsci_" in str(e):
        fails.append(f"poisson lam=-1: message names a C function: {e}")
expect("proton energy=nan", ValueError, "energy", fastsci.proton.run, energy=float("nan"), nx=10)
expect("proton energy=''", ValueError, "energy", fastsci.proton.run, energy="", nx=10)
expect("proton egrid=bogus", ValueError, "egrid", fastsci.proton.run, energy=70, nx=10, egrid="bogus")
expect("proton phantom missing", fastsci.FileError, "nope.npz", fastsci.proton.run, energy=70, nx=10, phantom=t + "/nope.npz")
expect("pdd energy=nan", ValueError, "energy", fastsci.proton.pdd, energy=float("nan"))
# Was: an int beyond 64 bits is an OverflowError "int too big to convert", naming no keyword
expect("proton nx=2**70", ValueError, "nx", fastsci.proton.run, energy=70, nx=2**70)
expect("ptycho N=3", ValueError, "N", fastsci.ptycho.simulate, n_images=10, N=3)
expect("ptycho nphotons=nan", ValueError, "nphotons", fastsci.ptycho.simulate, n_images=10, N=16, nphotons=float("nan"))
expect("ptycho object=dir", fastsci.FileError, "is a directory", fastsci.ptycho.simulate, n_images=10, N=16, object=t)
expect("ptycho object=FIFO", fastsci.FileError, "is a FIFO", fastsci.ptycho.simulate, n_images=10, N=16, object=t + "/f.npy")
expect("ptycho huge", ValueError, "TB", fastsci.ptycho.simulate, n_images=1000000, N=1024)
io = fastsci.io
expect("load_npy dir", fastsci.FileError, "is a directory", io.load_npy, t)
expect("load_npy FIFO", fastsci.FileError, "is a FIFO", io.load_npy, t + "/f.npy")
expect("load_npy ovfshape", ValueError, "overflows", io.load_npy, t + "/ovfshape.npy")
expect("save_npy dir", ValueError, "is a directory", io.save_npy, t, np.zeros(3))
expect("save_npy FIFO", ValueError, "is a FIFO", io.save_npy, t + "/f.npy", np.zeros(3))
expect("save_npz '/' in key", ValueError, "path separator", io.save_npz, t + "/k.npz", {"a/../../b": np.zeros(1)})
expect("save_npz empty key", ValueError, "empty member name", io.save_npz, t + "/k.npz", {"": np.zeros(1)})
expect("save_npz bytes key", TypeError, "bytes", io.save_npz, t + "/k.npz", {b"a": np.zeros(1)})
expect("save_npz huge key", ValueError, "too long", io.save_npz, t + "/k.npz", {"a" * 70000: np.zeros(1)})
expect("save_npz None value", fastsci.UnsupportedError, "a: dtype", io.save_npz, t + "/k.npz", {"a": None})
# the same member given in the dict and as a keyword: a TypeError, as Python's own "multiple values"
expect("save_npz 'a' twice (dict and keyword)", TypeError, "'a'", io.save_npz, t + "/k2.npz", {"a": np.zeros(1)}, a=np.ones(1))
import os
left = [n for n in os.listdir(t) if n.startswith("k.npz") or n.endswith(".tmp")]
if left:
    fails.append(f"files left behind: {left}")
for f in fails:
    print("FAIL", f)
sys.exit(1 if fails else 0)
EOF
prc=$?
grep "^FAIL" "$T/py.out" | while read -r line; do echo "  python: $line"; done
if [ $prc -eq 0 ]; then ok "python: hostile keyword arguments"; else bad "python: hostile keyword arguments ($(grep -c '^FAIL' "$T/py.out") failed, listed above; $(grep -v '^FAIL' "$T/py.out" | tail -1))"; fi
fi

# ---------------------------------------------------------------------------------------------
# across every message above: no internal field (opts.) and no C function name (fsci_)
check "no message names opts." eval '! grep -q "opts\." "$T/allerr"'
check "no message names a C function (fsci_)" eval '! grep -q "fsci_" "$T/allerr"'
check "no temporary left anywhere in the test folder" no_tmp "$T"
check "/dev/null is still a character device at the end" devnull_ok

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
