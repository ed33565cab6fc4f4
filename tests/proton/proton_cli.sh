#!/usr/bin/env bash
# fastsci proton from the command line: run writes every output (numpy reads
# them, the MetaImage header matches the raw file), pdd prints its table, and
# bad input fails with the message naming the flag and no output left behind.
set -u
FSCI="$1"
PY="${FSCI_PYTHON:-/usr/bin/python3}"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/proton.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { local n="$1"; shift; if "$@"; then pass=$((pass+1)); echo "ok   $n"; else fail=$((fail+1)); echo "FAIL $n"; fi; }
run() { "$@" >"$T/out" 2>"$T/err"; echo $? >"$T/rc"; }
rc() { [ "$(cat "$T/rc")" = "$1" ]; }
rc12() { local c; c=$(cat "$T/rc"); [ "$c" = 1 ] || [ "$c" = 2 ]; }
errhas() { head -1 "$T/err" | grep -q -- "$1"; }
oneline() { [ "$(wc -l <"$T/err")" -eq 1 ]; }
noout() { [ ! -e "$T/bad" ]; }
bad() { # name, expected message fragment, args...
    local name="$1" msg="$2"; shift 2
    run "$FSCI" proton run --quiet --nx 20 "$@" -o "$T/bad"
    check "$name: exit 1 or 2, first line names the problem, no output directory" eval 'rc12 && errhas "$msg" && noout'
    if ! errhas "$msg"; then cat "$T/err"; fi
}

run "$FSCI" proton run --energy 100 --nx 40 --quiet -o "$T/out100"
check "run exits 0" rc 0
check "run prints R80, R90, peak, d80-20 and the balance" eval 'grep -q "R80 .* R90 .* peak .* d80-20" "$T/out" && grep -q "balance weight" "$T/out" && grep -q "balance MeV" "$T/out"'
for f in dose.npy dose_mev.npy dose.mhd dose.raw depth_dose.csv lateral.csv summary.json; do
    check "run wrote $f" test -s "$T/out100/$f"
done
check "no temporary files left" eval '[ -z "$(ls -A "$T/out100" | grep -E "\.tmp$")" ]'
check "numpy reads the outputs; MHD header matches dose.raw; summary is consistent" "$PY" -c "
import json, numpy as np
d = '$T/out100'
g = np.load(d + '/dose.npy'); m = np.load(d + '/dose_mev.npy')
assert g.dtype == np.float64 and g.ndim == 2 and g.shape == m.shape and g.shape[1] == 40, g.shape
hdr = dict(l.split(' = ', 1) for l in open(d + '/dose.mhd').read().splitlines())
nx, nz = map(int, hdr['DimSize'].split())
assert (nz, nx) == g.shape and hdr['ElementType'] == 'MET_DOUBLE' and hdr['ElementDataFile'] == 'dose.raw'
assert hdr['ObjectType'] == 'Image' and hdr['NDims'] == '2' and hdr['BinaryDataByteOrderMSB'] == 'False'
raw = np.fromfile(d + '/dose.raw', '<f8')
assert raw.size == nx * nz and np.array_equal(raw.reshape(nz, nx), g)
dd = np.loadtxt(d + '/depth_dose.csv', delimiter=',', skiprows=1)
assert dd.shape == (nz, 2) and np.allclose(dd[:, 1], m.sum(axis=1), rtol=1e-6, atol=1e-12)
lat = np.loadtxt(d + '/lateral.csv', delimiter=',', skiprows=1)
assert lat.shape == (nx, 5) and lat[:, 1:].sum() > 0
s = json.load(open(d + '/summary.json'))
assert abs(s['R80_mm'] - 77.17) < 1.0, s['R80_mm']
assert s['R90_mm'] < s['R80_mm'] and s['peak_depth_mm'] < s['R90_mm'] and 0 < s['d80_20_mm'] < 3
assert abs(s['balance_weight']['residual']) < 1e-5 and abs(s['balance_energy_mev']['residual']) < 1e-5
assert abs(s['balance_energy_mev']['deposited'] - m.sum()) < 1e-6 * m.sum()
"

run "$FSCI" proton pdd --energy 70,150 --nx 20 --quiet -o "$T/pdd.csv"
check "pdd exits 0" rc 0
check "pdd prints the table header and one row per energy" eval 'grep -q "CSDA_PSTAR_mm" "$T/out" && [ "$(grep -cE "^ +(70|150)\.000 " "$T/out")" -eq 2 ]'
check "pdd CSV: R80 within 1 mm of the PSTAR CSDA range" "$PY" -c "
import numpy as np
a = np.loadtxt('$T/pdd.csv', delimiter=',', skiprows=1)
assert a.shape == (2, 5) and np.all(np.abs(a[:, 3]) < 1.0), a
"

"$PY" -c "import numpy as np; np.savez('$T/map.npz', rsp=np.ones((10, 20)))"
bad "energy 600" "energy: 600 MeV is above the PSTAR table" --energy 600
bad "--dx 0" "dx: 0 must be > 0" --dx 0
bad "NaN" "dz: 'nan' is not a finite number" --dz nan
bad "wrong map shape" "rsp has shape (10, 20)" --phantom "$T/map.npz" --nz 50
bad "bad slab" "is not slab:bone" --phantom slab:steel:1:2
: >"$T/afile"
run "$FSCI" proton run --quiet --energy 70 --nx 20 -o "$T/afile"
check "-o naming a file: exit 1, file untouched, no temporaries" eval 'rc 1 && [ ! -s "$T/afile" ] && [ -z "$(ls -A "$T" | grep -E "\.tmp$")" ]'
run "$FSCI" proton run --quiet --energy 600 -o "$T/bad"
check "validation error is a single line" oneline

# beam losses (doc/proton.md, "Beam losses"): above 20 % the run fails naming the parameter
bad "cone too narrow" "scattered out of the angular cone (widen --theta-max, now 0.001 degrees)" --energy 70 --theta-max 0.001
bad "one energy bin" "left the grid" --energy 70 --egrid uniform --ne 1
bad "grid too shallow" "left the grid (enlarge it: .*--nz 1 x --dz 1 mm deep" --energy 70 --nz 1
check "loss error is a single line without internal field names" eval 'oneline && ! grep -q "opts\." "$T/err"'
# between 1 % and 20 %: a warning on stderr, none with --quiet, and the run succeeds
run "$FSCI" proton run --energy 100 --spot-sigma 5 --nx 14 -o "$T/warn"
check "1-20 % lost: exit 0 with one warning naming the loss" eval 'rc 0 && grep -q "warning: .* left the grid" "$T/err"'
run "$FSCI" proton run --quiet --energy 100 --spot-sigma 5 --nx 14 -o "$T/warnq"
check "--quiet: no warning" eval 'rc 0 && [ ! -s "$T/err" ]'
# a lung slab needs a wider energy window and a deeper grid: both sized automatically
run "$FSCI" proton run --quiet --energy 100 --nx 20 --phantom slab:lung:0:50 -o "$T/lung"
check "slab:lung:0:50 runs; R80 = water R80 + 0.7 x 50 mm within 2 mm" eval 'rc 0 && ! grep -q "opts\." "$T/err" && awk "/^R80/ {exit !(\$2 > 110 && \$2 < 114)}" "$T/out"'
# messages name the user's parameter and its value, never an internal field
bad "--dz tiny" "dz 1e-09: covering .* depth cells, more than 1000000; raise --dz or set --nz" --dz 1e-9
check "--dz message names no internal field" eval '! grep -q "opts\." "$T/err"'
bad "--step out of range" "step 1e+06: must be a number in" --step 1e6 --nz 10

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
