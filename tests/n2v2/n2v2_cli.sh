#!/usr/bin/env bash
# fastsci n2v2 from the command line: train on a TIFF stack written by tifffile, predict into
# TIFF (dtype kept, LZW, tifffile reads it back) and .npz, denoise in one go; bad input fails
# with one line, a non-zero exit and no output file (existing files untouched).
set -u
FSCI="$1"
PY="${FSCI_PYTHON:-/usr/bin/python3}"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/n2v2.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { local n="$1"; shift; if "$@"; then pass=$((pass+1)); echo "ok   $n"; else fail=$((fail+1)); echo "FAIL $n"; fi; }
run() { "$@" >"$T/out" 2>"$T/err"; echo $? >"$T/rc"; }
rc() { [ "$(cat "$T/rc")" = "$1" ]; }
rc12() { local c; c=$(cat "$T/rc"); [ "$c" = 1 ] || [ "$c" = 2 ]; }
errhas() { head -1 "$T/err" | grep -q -- "$1"; }
oneline() { [ "$(wc -l <"$T/err")" -eq 1 ]; }
failed_cleanly() { rc12 && oneline && errhas "$1" && [ ! -e "$2" ]; }

SMALL="--depth 2 --width 4 --epochs 1 --steps 2 --batch 2 --patch 32 --val-patches 2 --quiet"
"$PY" -c "
import numpy as np, tifffile
rng = np.random.default_rng(0)
y, x = np.mgrid[0:70, 0:90]
clean = 1000 + 400 * np.sin(x / 6.0) * np.cos(y / 9.0)
stack = np.stack([clean + 60 * rng.standard_normal(clean.shape) for _ in range(3)])
tifffile.imwrite('$T/stack.tif', np.clip(stack, 0, 65535).astype(np.uint16), compression='zlib', photometric='minisblack')
tifffile.imwrite('$T/rgb.tif', np.zeros((40, 40, 3), np.uint8), photometric='rgb')
tifffile.imwrite('$T/u32.tif', np.zeros((40, 40), np.uint32))
nan = stack[0].astype(np.float32); nan[7, 9] = np.nan
np.save('$T/nan.npy', nan)
np.save('$T/small.npy', stack[0, :20, :20].astype(np.float32))
open('$T/trunc.tif', 'wb').write(open('$T/stack.tif', 'rb').read()[:3000])
"

run "$FSCI" n2v2 train "$T/stack.tif" $SMALL -o "$T/m.fsnn"
check "train writes a model file" eval 'rc 0 && test -s "$T/m.fsnn" && grep -q "trained n2v2" "$T/out"'
run "$FSCI" n2v2 predict "$T/stack.tif" --model "$T/m.fsnn" --compression deflate --quiet -o "$T/out.tif"
check "predict writes a TIFF" eval 'rc 0 && test -s "$T/out.tif"'
check "tifffile reads 3 uint16 pages of 70 x 90, deflate" "$PY" -c "
import tifffile
with tifffile.TiffFile('$T/out.tif') as f:
    a = f.asarray()
    assert a.shape == (3, 70, 90) and a.dtype.name == 'uint16', (a.shape, a.dtype)
    assert f.pages[0].compression in (8, 32946), f.pages[0].compression
    assert a.std() > 0
"
run "$FSCI" n2v2 predict "$T/stack.tif" --model "$T/m.fsnn" --dtype float32 --quiet -o "$T/out.npz"
check "the .npz prediction equals the TIFF one after rounding" "$PY" -c "
import numpy as np, tifffile
a = np.load('$T/out.npz')['denoised']; b = tifffile.imread('$T/out.tif')
assert a.dtype == np.float32 and a.shape == b.shape
assert np.array_equal(np.clip(np.floor(a + 0.5), 0, 65535).astype(np.uint16), b)
"
run "$FSCI" n2v2 denoise "$T/stack.tif" $SMALL --save-model "$T/m2.fsnn" -o "$T/den.tif"
check "denoise writes the image and the model" eval 'rc 0 && test -s "$T/den.tif" && test -s "$T/m2.fsnn"'
check "same seed and threads: identical model files" eval 'cmp -s "$T/m.fsnn" "$T/m2.fsnn"'

# bad input: one line, exit 1 or 2, nothing written
run "$FSCI" n2v2 denoise "$T/trunc.tif" $SMALL -o "$T/x1.tif"
check "truncated TIFF refused" failed_cleanly "trunc.tif" "$T/x1.tif"
run "$FSCI" n2v2 denoise "$T/rgb.tif" $SMALL -o "$T/x2.tif"
check "RGB TIFF refused naming the field" failed_cleanly "rgb.tif" "$T/x2.tif"
run "$FSCI" n2v2 denoise "$T/u32.tif" $SMALL -o "$T/x3.tif"
check "unsupported sample format refused" failed_cleanly "u32.tif" "$T/x3.tif"
run "$FSCI" n2v2 denoise "$T/nan.npy" $SMALL -o "$T/x4.tif"
check "NaN pixel refused with its position" failed_cleanly "pixel (7, 9) is nan" "$T/x4.tif"
run "$FSCI" n2v2 denoise "$T/small.npy" $SMALL -o "$T/x5.tif"
check "patch larger than the image refused" failed_cleanly "larger than the image" "$T/x5.tif"
"$PY" -c "
d = bytearray(open('$T/m.fsnn', 'rb').read()); d[8] = 7; open('$T/v7.fsnn', 'wb').write(bytes(d))
d = bytearray(open('$T/m.fsnn', 'rb').read()); d[200] ^= 1; open('$T/bad.fsnn', 'wb').write(bytes(d))
open('$T/short.fsnn', 'wb').write(open('$T/m.fsnn', 'rb').read()[:100])
"
run "$FSCI" n2v2 predict "$T/stack.tif" --model "$T/v7.fsnn" -o "$T/x6.tif"
check "model file from another version refused" failed_cleanly "version 7" "$T/x6.tif"
run "$FSCI" n2v2 predict "$T/stack.tif" --model "$T/bad.fsnn" -o "$T/x7.tif"
check "corrupt model file refused (checksum)" failed_cleanly "checksum" "$T/x7.tif"
run "$FSCI" n2v2 predict "$T/stack.tif" --model "$T/short.fsnn" -o "$T/x8.tif"
check "truncated model file refused" failed_cleanly "short.fsnn" "$T/x8.tif"
run "$FSCI" n2v2 train "$T/stack.tif" $SMALL --patch 30 -o "$T/x9.fsnn"
check "patch not a multiple of 2^depth refused" failed_cleanly "patch 30" "$T/x9.fsnn"
run "$FSCI" n2v2 denoise "$T/stack.tif" $SMALL --tile 40 -o "$T/x13.tif"
check "an unusable tile refused before training (usage error)" eval 'rc 2 && oneline && errhas "tile 40" && [ ! -e "$T/x13.tif" ] && [ ! -s "$T/out" ]'
run "$FSCI" n2v2 train "$T/stack.tif" $SMALL -o "$T/x10.tif"
check "train -o must name a .fsnn file" failed_cleanly ".fsnn" "$T/x10.tif"
mkfifo "$T/fifo.tif"
run timeout 10 "$FSCI" n2v2 denoise "$T/fifo.tif" $SMALL -o "$T/x11.tif"
check "a FIFO as input is refused at once" failed_cleanly "fifo.tif" "$T/x11.tif"
echo keep >"$T/keep.tif"
run "$FSCI" n2v2 denoise "$T/nan.npy" $SMALL -o "$T/keep.tif"
check "a failing run leaves an existing output untouched" eval 'rc12 && [ "$(cat "$T/keep.tif")" = keep ]'
run bash -c "ulimit -f 20; exec '$FSCI' n2v2 predict '$T/stack.tif' --model '$T/m.fsnn' --dtype float32 --quiet -o '$T/x12.tif'"
check "file-size limit: one line, no output" eval 'rc12 && oneline && [ ! -e "$T/x12.tif" ]'

# Ctrl-C while the TIFF is written: exit 130, the old file is kept, no temporary is left
"$PY" -c "
import numpy as np, tifffile
tifffile.imwrite('$T/long.tif', np.random.default_rng(1).normal(1000, 50, (60, 256, 256)).astype(np.float32),
                 photometric='minisblack')"
echo previous >"$T/int.tif"
set -m
"$FSCI" n2v2 predict "$T/long.tif" --model "$T/m.fsnn" --tta on --quiet -o "$T/int.tif" 2>"$T/int.err" &
pid=$!
sleep 1.5
kill -INT "$pid" 2>/dev/null
wait "$pid"
irc=$?
set +m
check "Ctrl-C during predict: exit 130, the old output kept, no temporary" \
    eval '[ $irc = 130 ] && [ "$(cat "$T/int.tif")" = previous ] && [ -z "$(ls -A "$T" | grep -E "\.tmp|fsci-")" ]'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
