#!/usr/bin/env bash
# ptycho and proton results are bit-identical to a fixed run recorded before the house refactor
# (tests/data/golden.txt): the arrays of a ptycho simulation and a proton run, and the proton CSVs.
# To re-record after a deliberate change of results: FSCI_GOLDEN_RECORD=1 bash this-file fastsci.
set -u
FSCI="$1"
PY="${FSCI_PYTHON:-/usr/bin/python3}"
HERE="$(cd "$(dirname "$0")" && pwd)"
GOLD="$HERE/../data/golden.txt"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/golden.XXXXXX")
trap 'rm -rf "$T"' EXIT
"$FSCI" ptycho simulate --n-images 200 --N 32 --gridsize 2 --nphotons 1e5 --seed 11 --threads 2 --quiet \
    -o "$T/p.npz" || exit 1
"$FSCI" proton run --energy 100 --nx 40 --dx 1 --dz 1 --threads 2 --straggling off --quiet -o "$T/proton" >/dev/null || exit 1
"$FSCI" proton run --energy 70 --phantom slab:bone:10:20 --nx 30 --threads 1 --straggling off --quiet -o "$T/slab" >/dev/null || exit 1
(cd "$T" && "$PY" "$HERE/golden_hash.py" p.npz proton/dose.npy proton/dose_mev.npy proton/dose.raw \
    proton/depth_dose.csv proton/lateral.csv slab/dose.npy slab/depth_dose.csv) >"$T/now.txt" || exit 1
if [ -n "${FSCI_GOLDEN_RECORD:-}" ]; then cp "$T/now.txt" "$GOLD"; echo "recorded $GOLD"; exit 0; fi
# every recorded line must come back unchanged; members added since the recording
# (e.g. ptycho's ground_truth_patches) are listed but not compared
awk 'NR == FNR { rec[$1]; next } ($1 in rec)' "$GOLD" "$T/now.txt" >"$T/cmp.txt"
awk 'NR == FNR { rec[$1]; next } !($1 in rec) { print "not in the record (not compared): " $1 }' "$GOLD" "$T/now.txt"
if diff -u "$GOLD" "$T/cmp.txt"; then
    echo "$(wc -l <"$GOLD") passed, 0 failed"
else
    echo "0 passed, 1 failed"
    exit 1
fi
