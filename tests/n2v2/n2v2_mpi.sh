#!/usr/bin/env bash
# fastsci n2v2 on a plate under mpirun: files spread over 2 ranks give the same bytes as 1 rank,
# as the plain run and as the single-file runs, with one model per file, one shared model (sent
# from rank 0) and predict --model; rank 0 alone prints; a file failing on rank 1 fails the run
# while both ranks write their other files.
set -u
FSCI="$1"
PY="${FSCI_PYTHON:-/usr/bin/python3}"
MPI="${FSCI_MPIEXEC:-mpirun}"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/n2v2_mpi.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
pass=0 fail=0
check() { local n="$1"; shift; if "$@"; then pass=$((pass+1)); echo "ok   $n"; else fail=$((fail+1)); echo "FAIL $n"; fi; }
same_files() { local a="$1" b="$2"; shift 2; for f in "$@"; do cmp -s "$a/$f" "$b/$f" || return 1; done; }

SMALL="--depth 2 --width 4 --epochs 1 --steps 2 --batch 2 --patch 32 --val-patches 2 --threads 1 --quiet"
NAMES="a.tif b.tif c.tif"
"$PY" -c "
import numpy as np, tifffile, os
rng = np.random.default_rng(2)
os.makedirs('$T/in'); os.makedirs('$T/mixed')
for k, (n, h, w) in enumerate([('a.tif', 48, 40), ('b.tif', 40, 56), ('c.tif', 36, 36)]):
    y, x = np.mgrid[0:h, 0:w]
    img = 1000 + 400 * np.sin(x / (5.0 + k)) * np.cos(y / 7.0) + 60 * rng.standard_normal((h, w))
    tifffile.imwrite('$T/in/' + n, np.clip(img, 0, 65535).astype(np.uint16), photometric='minisblack')
    open('$T/mixed/' + n, 'wb').write(open('$T/in/' + n, 'rb').read())
open('$T/mixed/d.tif', 'wb').write(open('$T/in/a.tif', 'rb').read())
nan = tifffile.imread('$T/in/b.tif').astype(np.float32); nan[2, 3] = np.nan
tifffile.imwrite('$T/mixed/b.tif', nan, photometric='minisblack')  # file 1: rank 1
"
mkdir "$T/single"
for f in $NAMES; do "$FSCI" n2v2 denoise "$T/in/$f" $SMALL -o "$T/single/$f" >/dev/null; done
"$FSCI" n2v2 denoise "$T/in" $SMALL -o "$T/plain" >/dev/null
check "plain plate: the single-file runs' bytes" same_files "$T/single" "$T/plain" $NAMES

"$MPI" -np 1 "$FSCI" n2v2 denoise "$T/in" $SMALL -o "$T/r1" >"$T/o1" 2>&1
check "mpirun -np 1: the plain plate's bytes" same_files "$T/plain" "$T/r1" $NAMES
"$MPI" -np 2 "$FSCI" n2v2 denoise "$T/in" $SMALL -o "$T/r2" >"$T/o2" 2>&1
rc=$?
[ $rc = 0 ] || cat "$T/o2"
check "mpirun -np 2: exit 0, 3 outputs" eval '[ $rc = 0 ] && [ "$(ls "$T/r2" | wc -l)" = 3 ]'
check "mpirun -np 2: the bytes of -np 1, of the plain plate and of the single-file runs" \
    eval 'same_files "$T/r1" "$T/r2" $NAMES && same_files "$T/single" "$T/r2" $NAMES'
check "rank 0 alone prints: one line per file (files 0 and 2 on rank 0, file 1 on rank 1), one summary" eval '
    [ "$(grep -c "^\[[1-3]/3\] " "$T/o2")" = 3 ] && grep -q "^\[1/3\] .*(rank 0)$" "$T/o2" &&
    grep -q "^\[2/3\] .*(rank 1)$" "$T/o2" && grep -q "^\[3/3\] .*(rank 0)$" "$T/o2" &&
    [ "$(grep -c "^denoised 3 files (one model per file) on 2 ranks" "$T/o2")" = 1 ]'

# one shared model: rank 0 trains on a.tif and sends the weights to rank 1
"$FSCI" n2v2 train "$T/in/a.tif" $SMALL -o "$T/first.fsnn" >/dev/null
"$FSCI" n2v2 predict "$T/in" --model "$T/first.fsnn" --threads 1 --quiet -o "$T/pred" >/dev/null
"$MPI" -np 2 "$FSCI" n2v2 denoise "$T/in" $SMALL --shared-model on --save-model "$T/shared.fsnn" -o "$T/s2" \
    >"$T/o3" 2>&1
rc=$?
[ $rc = 0 ] || cat "$T/o3"
check "--shared-model on, 2 ranks: exit 0, rank 0 saved the first file's model" \
    eval '[ $rc = 0 ] && cmp -s "$T/shared.fsnn" "$T/first.fsnn"'
check "--shared-model on, 2 ranks: the bytes of train + predict --model (b.tif predicted on rank 1)" \
    same_files "$T/pred" "$T/s2" $NAMES
"$MPI" -np 2 "$FSCI" n2v2 predict "$T/in" --model "$T/first.fsnn" --threads 1 --quiet -o "$T/p2" >"$T/o4" 2>&1
check "predict on a folder, 2 ranks: the plain predict's bytes" same_files "$T/pred" "$T/p2" $NAMES

# b.tif (file 1, rank 1) fails when read; d.tif (file 3) is rank 1's next file
"$MPI" -np 2 "$FSCI" n2v2 denoise "$T/mixed" $SMALL -o "$T/f2" >"$T/o5" 2>&1
rc=$?
check "a NaN file on rank 1: the run fails naming it" eval '[ $rc != 0 ] && grep -q "mixed/b.tif: slice 0 pixel (2, 3) is nan" "$T/o5"'
check "...no output for it, and both ranks write their other files (the single-file runs' bytes)" eval '
    [ ! -e "$T/f2/b.tif" ] && same_files "$T/single" "$T/f2" a.tif c.tif && cmp -s "$T/single/a.tif" "$T/f2/d.tif"'
echo "n2v2_mpi: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
