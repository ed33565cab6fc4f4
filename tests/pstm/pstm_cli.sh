#!/usr/bin/env bash
# fastsci pstm from the command line: model writes a SEG-Y line that segyio
# reads, info describes it, migrate images it (SEG-Y and .npz agree, 1 and 2
# threads give the same bytes, a small --memory budget streams the input and
# gives the same bytes), and bad input fails with one line and no output.
set -u
FSCI="$1"
PY="${FSCI_PYTHON:-/usr/bin/python3}"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/pstm.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { local n="$1"; shift; if "$@"; then pass=$((pass+1)); echo "ok   $n"; else fail=$((fail+1)); echo "FAIL $n"; fi; }
run() { "$@" >"$T/out" 2>"$T/err"; echo $? >"$T/rc"; }
rc() { [ "$(cat "$T/rc")" = "$1" ]; }
rc12() { local c; c=$(cat "$T/rc"); [ "$c" = 1 ] || [ "$c" = 2 ]; }
errhas() { head -1 "$T/err" | grep -q -- "$1"; }
oneline() { [ "$(wc -l <"$T/err")" -eq 1 ]; }

V="0:1500,4:3500"
GRID="--dx 12.5 --nt 300 --dt 0.004"
run "$FSCI" pstm model --quiet --vrms $V --shots 12 --receivers 24 --shot-dx 50 --near-offset 100 --ns 300 \
    $GRID --diffractors 400,0.5,600,0.7 --reflectors 0.3,0,0.9,20 -o "$T/line.sgy"
check "model exits 0 and writes a SEG-Y file" eval 'rc 0 && test -s "$T/line.sgy"'
check "segyio reads the modelled line: 288 traces of 300 samples at 4 ms, coordinates and offsets" "$PY" -c "
import segyio, numpy as np
with segyio.open('$T/line.sgy', ignore_geometry=True) as f:
    assert f.tracecount == 288 and len(f.samples) == 300, (f.tracecount, len(f.samples))
    assert abs(segyio.tools.dt(f) - 4000) < 1e-6
    h = f.header[25]
    sc = h[segyio.TraceField.SourceGroupScalar]
    s = (lambda v: v * sc if sc > 0 else v / -sc if sc < 0 else v)
    sx, gx = s(h[segyio.TraceField.SourceX]), s(h[segyio.TraceField.GroupX])
    assert abs(sx - 50) < 1e-6 and abs(gx - (50 + 100 + 25)) < 1e-6, (sx, gx)
    assert h[segyio.TraceField.offset] == 125
    d = f.trace.raw[:]
    assert np.isfinite(d).all() and np.abs(d).max() > 0
"
run "$FSCI" pstm info "$T/line.sgy"
check "info prints traces, samples, shots and offsets" eval 'rc 0 && grep -q "288 traces of 300 samples at 4 ms" "$T/out" && grep -q "shots .*: 12; offsets 100.0 .. 675.0 m" "$T/out"'

run "$FSCI" pstm migrate "$T/line.sgy" --quiet --vrms $V $GRID --aperture 1000 -o "$T/img.sgy"
check "migrate writes a SEG-Y image" eval 'rc 0 && test -s "$T/img.sgy"'
check "migrate prints pairs/s and GFLOP/s" eval 'grep -q "pairs/s" "$T/out" && grep -q "GFLOP/s" "$T/out"'
run "$FSCI" pstm migrate "$T/line.sgy" --quiet --vrms $V $GRID --aperture 1000 --threads 1 -o "$T/img1.sgy"
check "1 and 2 threads: identical image files" cmp -s "$T/img.sgy" "$T/img1.sgy"
run "$FSCI" pstm migrate "$T/line.sgy" --quiet --vrms $V $GRID --aperture 1000 --memory 16 -o "$T/img_s.npz"
run "$FSCI" pstm migrate "$T/line.sgy" --quiet --vrms $V $GRID --aperture 1000 -o "$T/img.npz"
check "the .npz image equals the SEG-Y image; the diffractors are imaged in place" "$PY" -c "
import segyio, numpy as np
img = np.load('$T/img.npz')['image']
assert img.dtype == np.float32 and img.ndim == 4 and img.shape[0] == 1 and img.shape[2] == 1, img.shape
with segyio.open('$T/img.sgy', ignore_geometry=True) as f:
    s = f.trace.raw[:]
    assert s.shape == (img.shape[1], 300), s.shape
    assert f.header[3][segyio.TraceField.CROSSLINE_3D] == 4 and f.header[3][segyio.TraceField.INLINE_3D] == 1
    assert f.header[3][segyio.TraceField.CDP] == 4
    assert np.array_equal(s, img[0, :, 0, :])
"
check "a 16 MB budget (the input streamed in chunks) gives the same bytes" "$PY" -c "
import numpy as np
a = np.load('$T/img.npz')['image']; b = np.load('$T/img_s.npz')['image']
assert np.array_equal(a, b)
"

run "$FSCI" pstm migrate "$T/line.sgy" --quiet --vrms 0:2000 $GRID --aperture 1000 -o "$T/c.npz"
NX=$("$PY" -c "import numpy as np; print(np.load('$T/c.npz')['image'].shape[1])")
"$PY" -c "import numpy as np; np.save('$T/v1.npy', np.full(300, 2000, np.float32)); np.save('$T/v2.npy', np.full(($NX, 300), 2000, np.float32))"
run "$FSCI" pstm migrate "$T/line.sgy" --quiet --velocity "$T/v1.npy" $GRID --aperture 1000 -o "$T/c1.npz"
run "$FSCI" pstm migrate "$T/line.sgy" --quiet --velocity "$T/v2.npy" $GRID --aperture 1000 -o "$T/c2.npz"
check "--velocity (nt,) and (nx, nt) .npy give the --vrms image" "$PY" -c "
import numpy as np
a = np.load('$T/c.npz')['image']
assert np.array_equal(a, np.load('$T/c1.npz')['image']) and np.array_equal(a, np.load('$T/c2.npz')['image'])
"

check "IBM and IEEE copies of the same samples give identical images" "$PY" -c "
import segyio, shutil, numpy as np
src = '$T/line.sgy'
with segyio.open(src, ignore_geometry=True) as f:
    spec = segyio.tools.metadata(f)
    spec.format = 1
    with segyio.create('$T/ibm.sgy', spec) as g:
        g.text[0] = f.text[0]; g.bin = f.bin; g.bin.update(format=1)
        g.header = f.header; g.trace = f.trace
with segyio.open('$T/ibm.sgy', ignore_geometry=True) as f:
    assert f.bin[segyio.BinField.Format] == 1
    x = f.trace.raw[:]
# the IEEE copy: the same headers, format 5, the IBM file's decoded samples as big-endian IEEE
b = bytearray(open('$T/ibm.sgy', 'rb').read())
b[3224:3226] = (5).to_bytes(2, 'big')
n, ns = x.shape
for i in range(n):
    o = 3600 + i * (240 + ns * 4) + 240
    b[o:o + ns * 4] = x[i].astype('>f4').tobytes()
open('$T/ieee.sgy', 'wb').write(b)
with segyio.open('$T/ieee.sgy', ignore_geometry=True) as f:
    assert np.array_equal(f.trace.raw[:], x)
"
run "$FSCI" pstm migrate "$T/ibm.sgy" --quiet --vrms $V $GRID --aperture 1000 -o "$T/i1.npz"
run "$FSCI" pstm migrate "$T/ieee.sgy" --quiet --vrms $V $GRID --aperture 1000 -o "$T/i2.npz"
check "... (the images)" "$PY" -c "
import numpy as np
a = np.load('$T/i1.npz')['image']; b = np.load('$T/i2.npz')['image']
assert np.array_equal(a, b) and np.abs(a).max() > 0
"
"$PY" -c "
import segyio, numpy as np
spec = segyio.spec(); spec.format = 5; spec.samples = np.arange(300) * 4.0; spec.tracecount = 1
with segyio.create('$T/v.sgy', spec) as g:
    g.bin.update(hns=300, hdt=4000); g.header[0] = {segyio.TraceField.TRACE_SAMPLE_INTERVAL: 4000}
    g.trace[0] = np.full(300, 2000, np.float32)
"
run "$FSCI" pstm migrate "$T/line.sgy" --quiet --velocity "$T/v.sgy" $GRID --aperture 1000 -o "$T/c3.npz"
check "--velocity from a one-trace SEG-Y file gives the --vrms image" "$PY" -c "
import numpy as np
assert np.array_equal(np.load('$T/c.npz')['image'], np.load('$T/c3.npz')['image'])
"

# bad input: one line naming the problem, exit 1 or 2, no output file
bad() { local name="$1" msg="$2"; shift 2
    run "$FSCI" pstm "$@" -o "$T/bad.sgy"
    check "$name: exit 1 or 2, the first line names it, no output" eval 'rc12 && errhas "$msg" && [ ! -e "$T/bad.sgy" ]'
    if ! errhas "$msg"; then cat "$T/err"; fi
}
head -c 5000 "$T/line.sgy" >"$T/trunc.sgy"
bad "truncated SEG-Y" "trunc.sgy" migrate "$T/trunc.sgy" --vrms $V $GRID
bad "missing file" "nothere.sgy" migrate "$T/nothere.sgy" --vrms $V $GRID
bad "no velocity" "velocity" migrate "$T/line.sgy" $GRID
bad "velocity entry" "--vrms" migrate "$T/line.sgy" --vrms 0:1500,x $GRID
bad "zero velocity" "--vrms" migrate "$T/line.sgy" --vrms 0:0 $GRID
bad "decreasing times" "--vrms" migrate "$T/line.sgy" --vrms 1:1500,0.5:2000 $GRID
bad "NaN aperture" "--aperture" migrate "$T/line.sgy" --vrms $V --aperture nan $GRID
bad "zero output interval" "--dt" migrate "$T/line.sgy" --vrms $V --dt 0
bad "offset classes" "--offset-classes" migrate "$T/line.sgy" --vrms $V --offset-classes 0,100 $GRID
"$PY" -c "import numpy as np; np.save('$T/v.npy', np.full((7, 300), 2000, np.float32))"
bad "velocity grid not matching" "does not match the output grid" migrate "$T/line.sgy" --velocity "$T/v.npy" $GRID
"$PY" -c "import numpy as np; v = np.full(300, 2000, np.float32); v[7] = np.nan; np.save('$T/vn.npy', v)"
bad "NaN velocity" "vn.npy" migrate "$T/line.sgy" --velocity "$T/vn.npy" $GRID
"$PY" -c "
d = bytearray(open('$T/line.sgy', 'rb').read())
f = bytearray(d); f[3224:3226] = (77).to_bytes(2, 'big'); open('$T/fmt.sgy', 'wb').write(f)
z = bytearray(d); z[3216:3218] = b'\0\0'
for i in range(288):
    o = 3600 + i * (240 + 300 * 4) + 116
    z[o:o + 2] = b'\0\0'
open('$T/dt0.sgy', 'wb').write(z)
"
bad "unknown format code" "fmt.sgy" migrate "$T/fmt.sgy" --vrms $V $GRID
bad "zero sample interval" "dt0.sgy" migrate "$T/dt0.sgy" --vrms $V $GRID
mkfifo "$T/fifo.sgy"
bad "FIFO as input" "fifo.sgy" migrate "$T/fifo.sgy" --vrms $V $GRID
echo old >"$T/keep.sgy"
run "$FSCI" pstm migrate "$T/trunc.sgy" --vrms $V $GRID -o "$T/keep.sgy"
check "a failed run leaves an existing output untouched" eval 'rc12 && [ "$(cat "$T/keep.sgy")" = old ]'

# a file-size limit and Ctrl-C while the image is written: the old file stays, no temporary is left
echo previous >"$T/lim.sgy"
run bash -c 'ulimit -f 40 && exec "$0" pstm migrate "$1" --quiet --vrms 0:1500,4:3500 --nt 300 --aperture 1000 -o "$2"' \
    "$FSCI" "$T/line.sgy" "$T/lim.sgy"
check "ulimit -f: exit 1, the message names lim.sgy and EFBIG, the old file is kept, no temporary" \
    eval 'rc 1 && errhas "lim.sgy: cannot write: File too large" && [ "$(cat "$T/lim.sgy")" = previous ] && [ -z "$(ls -A "$T" | grep -E "\.tmp$")" ]'
"$FSCI" pstm model --quiet --vrms $V --shots 200 --receivers 120 --ns 1000 --nt 1000 -o "$T/big.sgy"
set -m
"$FSCI" pstm migrate "$T/big.sgy" --quiet --vrms $V --nt 1000 --threads 1 -o "$T/int.sgy" 2>"$T/int.err" &
pid=$!
sleep 1
kill -INT "$pid" 2>/dev/null
wait "$pid"
irc=$?
set +m
check "Ctrl-C during the run: exit 130, no output, no temporary" \
    eval '[ $irc = 130 ] && [ ! -e "$T/int.sgy" ] && [ -z "$(ls -A "$T" | grep -E "\.tmp$|fsci-")" ]'
echo "pstm_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
