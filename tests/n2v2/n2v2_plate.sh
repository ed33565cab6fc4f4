#!/usr/bin/env bash
# fastsci n2v2 on a plate (no MPI): a folder or a list of TIFFs, denoised file by file into
# OUTDIR/<name>. One model per file gives the single-file runs' bytes; --shared-model on gives
# `train FIRST` + `predict --model`; a file that fails gets no output (an old one is kept) while
# the others are written; bad plates are refused with one line before anything is computed.
set -u
FSCI="$1"
PY="${FSCI_PYTHON:-/usr/bin/python3}"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/n2v2_plate.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { local n="$1"; shift; if "$@"; then pass=$((pass+1)); echo "ok   $n"; else fail=$((fail+1)); echo "FAIL $n"; fi; }
run() { "$@" >"$T/out" 2>"$T/err"; echo $? >"$T/rc"; }
rc() { [ "$(cat "$T/rc")" = "$1" ]; }
errhas() { head -1 "$T/err" | grep -q -- "$1"; }
oneline() { [ "$(wc -l <"$T/err")" -eq 1 ]; }
refused() { rc "$1" && oneline && errhas "$2"; } # exit code, one line on stderr naming $2
same_files() { local a="$1" b="$2"; shift 2; for f in "$@"; do cmp -s "$a/$f" "$b/$f" || return 1; done; }

SMALL="--depth 2 --width 4 --epochs 1 --steps 2 --batch 2 --patch 32 --val-patches 2 --threads 1 --quiet"
NAMES="a.tif b.tif c.tiff"
"$PY" -c "
import numpy as np, tifffile, os
rng = np.random.default_rng(1)
def img(h, w, k, z=None):
    y, x = np.mgrid[0:h, 0:w]
    clean = 1000 + 400 * np.sin(x / (5.0 + k)) * np.cos(y / 7.0)
    shape = (z, h, w) if z else (h, w)
    return np.clip(clean + 60 * rng.standard_normal(shape), 0, 65535).astype(np.uint16)
for d in ('in', 'mixed', 'bad', 'empty'):
    os.makedirs('$T/' + d)
tifffile.imwrite('$T/in/a.tif', img(48, 40, 0, 2), photometric='minisblack')
tifffile.imwrite('$T/in/b.tif', img(40, 56, 1), photometric='minisblack')
tifffile.imwrite('$T/in/c.tiff', img(36, 36, 2), photometric='minisblack')
open('$T/in/.hidden.tif', 'wb').write(b'not a TIFF: hidden files are skipped')
open('$T/in/notes.txt', 'w').write('not an image')
os.makedirs('$T/in/sub.tif')  # a folder is not a file of the plate
for n in ('a.tif', 'c.tiff'):
    open('$T/mixed/' + n, 'wb').write(open('$T/in/' + n, 'rb').read())
    open('$T/bad/' + n, 'wb').write(open('$T/in/' + n, 'rb').read())
nan = img(40, 56, 1).astype(np.float32); nan[5, 6] = np.nan  # readable header, fails when read
tifffile.imwrite('$T/mixed/b.tif', nan, photometric='minisblack')
open('$T/bad/b.tif', 'wb').write(b'this is not a TIFF file at all')
"
mkdir "$T/single"
for f in $NAMES; do "$FSCI" n2v2 denoise "$T/in/$f" $SMALL -o "$T/single/$f" >/dev/null; done

run "$FSCI" n2v2 denoise "$T/in" $SMALL -o "$T/o1"
check "a folder: exit 0, one output per TIFF (hidden files, other files and sub-folders skipped)" \
    eval 'rc 0 && [ "$(ls "$T/o1" | tr "\n" " ")" = "a.tif b.tif c.tiff " ]'
check "a folder: the bytes of the single-file runs, file by file" same_files "$T/single" "$T/o1" $NAMES
check "one line per file in name order, files done / total, then the summary" eval '
    [ "$(grep -c "^\[[1-3]/3\] " "$T/out")" = 3 ] && grep -q "^\[1/3\] .*in/a.tif -> .*o1/a.tif: 2 x 48 x 40" "$T/out" &&
    grep -q "^\[3/3\] .*in/c.tiff" "$T/out" && tail -1 "$T/out" | grep -q "^denoised 3 files (one model per file) on 1 rank"'
check "tifffile reads the outputs: the input's dtype (uint16) and shape" "$PY" -c "
import tifffile
for n in '$NAMES'.split():
    a, b = tifffile.imread('$T/in/' + n), tifffile.imread('$T/o1/' + n)
    assert a.shape == b.shape and b.dtype.name == 'uint16' and b.std() > 0, (n, a.shape, b.shape, b.dtype)
"
run "$FSCI" n2v2 denoise "$T/in/c.tiff" "$T/in/a.tif" "$T/in/b.tif" $SMALL -o "$T/o2"
check "a list in another order: the same bytes (a file's model does not depend on the others)" \
    eval 'rc 0 && same_files "$T/o1" "$T/o2" $NAMES'

# one shared model: trained on the first file by name, equal to train + predict --model
run "$FSCI" n2v2 denoise "$T/in" $SMALL --shared-model on --save-model "$T/shared.fsnn" -o "$T/o3"
check "--shared-model on: exit 0, 3 outputs and the model" eval 'rc 0 && test -s "$T/shared.fsnn" && [ "$(ls "$T/o3" | wc -l)" = 3 ]'
"$FSCI" n2v2 train "$T/in/a.tif" $SMALL -o "$T/first.fsnn" >/dev/null
check "the shared model is the first file's model (identical model files)" cmp -s "$T/shared.fsnn" "$T/first.fsnn"
run "$FSCI" n2v2 predict "$T/in" --model "$T/first.fsnn" --quiet -o "$T/o4"
check "predict on a folder: exit 0, the shared-model plate's bytes" eval 'rc 0 && same_files "$T/o3" "$T/o4" $NAMES'
check "the shared model really is shared: b.tif differs from its own-model output" \
    eval '! cmp -s "$T/o1/b.tif" "$T/o3/b.tif"'
run "$FSCI" n2v2 predict "$T/in/b.tif" "$T/in/a.tif" --model "$T/first.fsnn" --dtype float32 --quiet -o "$T/o5"
check "predict on a list with --dtype float32: float32 files equal to the uint16 ones after rounding" "$PY" -c "
import numpy as np, tifffile, os
assert sorted(os.listdir('$T/o5')) == ['a.tif', 'b.tif']
for n in ('a.tif', 'b.tif'):
    f, u = tifffile.imread('$T/o5/' + n), tifffile.imread('$T/o4/' + n)
    assert f.dtype == np.float32 and np.array_equal(np.clip(np.floor(f + 0.5), 0, 65535).astype(np.uint16), u)
"

# a file that fails while running: no output for it (an old one is kept), the others are written
mkdir "$T/o6" && echo old >"$T/o6/b.tif"
run "$FSCI" n2v2 denoise "$T/mixed" $SMALL -o "$T/o6"
check "a NaN pixel in one file: exit 1, one line naming the file and the pixel" refused 1 "mixed/b.tif: slice 0 pixel (5, 6) is nan"
check "its old output is untouched, no temporary file is left" eval '[ "$(cat "$T/o6/b.tif")" = old ] && [ "$(ls -A "$T/o6" | wc -l)" = 3 ]'
check "the other files are written, with the single-file runs' bytes" same_files "$T/single" "$T/o6" a.tif c.tiff
check "the failed file has its line among the others" eval 'grep -q "^\[2/3\] .*mixed/b.tif: failed, no output" "$T/out" && [ "$(grep -c "^\[" "$T/out")" = 3 ]'

# refused before anything is computed or written
run "$FSCI" n2v2 denoise "$T/bad" $SMALL -o "$T/o7"
check "an unreadable TIFF in the folder: exit 1, one line naming it, no output folder" eval 'refused 1 "bad/b.tif" && [ ! -e "$T/o7" ]'
echo keep >"$T/file"
run "$FSCI" n2v2 denoise "$T/in" $SMALL -o "$T/file"
check "OUTDIR is a regular file: exit 2, one line, the file untouched" eval 'refused 2 "$T/file: not a folder" && [ "$(cat "$T/file")" = keep ]'
run "$FSCI" n2v2 denoise "$T/empty" $SMALL -o "$T/o8"
check "an empty folder: exit 2, one line naming it" eval 'refused 2 "empty: no .tif or .tiff files" && [ ! -e "$T/o8" ]'
run "$FSCI" n2v2 denoise "$T/in" $SMALL
check "no -o: exit 2" refused 2 "-o OUTDIR is required"
run "$FSCI" n2v2 denoise "$T/in/a.tif" "$T/in" $SMALL -o "$T/o9"
check "the same name twice: exit 2, naming both" refused 2 "in/a.tif and .*in/a.tif: the same name"
run "$FSCI" n2v2 denoise "$T/in" $SMALL -o "$T/in"
check "-o the input folder: exit 2 (it would overwrite the inputs)" refused 2 "would overwrite the input"
run "$FSCI" n2v2 denoise "$T/in" $SMALL --save-model "$T/m.fsnn" -o "$T/o9"
check "--save-model with one model per file: exit 2" eval 'refused 2 "one model per file" && [ ! -e "$T/m.fsnn" ]'
run "$FSCI" n2v2 denoise "$T/in/a.tif" "$T/x.npy" $SMALL -o "$T/o9"
check "a list with a non-TIFF file: exit 2, naming it" refused 2 "x.npy: not a TIFF"
run "$FSCI" n2v2 denoise "$T/in/a.tif" "$T/in/b.tif" $SMALL -o "$T/o9.tif"
check "-o naming a file for several inputs: exit 2" refused 2 "o9.tif: names a file"
run "$FSCI" n2v2 train "$T/in/a.tif" "$T/in/b.tif" $SMALL -o "$T/m.fsnn"
check "train takes one input: exit 2" eval 'rc 2 && errhas "unexpected argument"'
check "nothing was written by the refused runs" eval '[ ! -e "$T/o9" ] && [ ! -e "$T/o9.tif" ] && [ ! -e "$T/m.fsnn" ]'

# Python: fastsci.n2v2.denoise_files
PYDIR="$(dirname "$FSCI")/python"
if [ -d "$PYDIR/fastsci" ]; then
    check "Python denoise_files: the CLI plate's bytes, per file and shared" env PYTHONPATH="$PYDIR" "$PY" -c "
import filecmp, os, fastsci, fastsci.n2v2 as n2v2
S = dict(depth=2, width=4, epochs=1, steps=2, batch=2, patch=32, val_patches=2, threads=1)
out = n2v2.denoise_files('$T/in', '$T/p1', **S)
assert [os.path.basename(p) for p in out] == '$NAMES'.split(), out
assert all(filecmp.cmp(p, '$T/o1/' + os.path.basename(p), shallow=False) for p in out)
out = n2v2.denoise_files(['$T/in/a.tif', '$T/in/c.tiff'], '$T/p2', shared_model=True, **S)
assert all(filecmp.cmp(p, '$T/o3/' + os.path.basename(p), shallow=False) for p in out), out
try:
    n2v2.denoise_files('$T/empty', '$T/p3', **S)
    raise SystemExit('an empty folder was accepted')
except fastsci.InvalidArgumentError as e:
    assert 'no .tif' in str(e), e
"
fi
echo "n2v2_plate: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
