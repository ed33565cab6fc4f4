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

# a bad value in a map file names the file, the member, the cell and the value (exit 1: a bad file)
"$PY" -c "
import numpy as np
r = np.ones((50, 20)); r[0, 7] = np.nan; np.savez('$T/rspnan.npz', rsp=r)
np.savez('$T/rscat.npz', rsp=np.ones((50, 20)), rscat=np.full((50, 20), -1.0))
d = np.ones((50, 20)); d[49, 19] = 0; np.savez('$T/den.npz', rsp=np.ones((50, 20)), density=d)
np.savez('$T/rsp3d.npz', rsp=np.ones((5, 50, 20)))
"
run "$FSCI" proton run --quiet --energy 70 --nx 20 --nz 50 --phantom "$T/rspnan.npz" -o "$T/bad"
check "NaN in rsp: exit 1, names the file, rsp[0, 7] = nan, no internal field" eval 'rc 1 && oneline && errhas "rspnan.npz: rsp\[0, 7\] = nan: must be in \[0, 10\]" && ! grep -q "materials\." "$T/err" && noout'
run "$FSCI" proton run --quiet --energy 70 --nx 20 --nz 50 --phantom "$T/rscat.npz" -o "$T/bad"
check "negative rscat: exit 1 naming rscat[0, 0] = -1" eval 'rc 1 && errhas "rscat.npz: rscat\[0, 0\] = -1: must be in \[0, 100\]" && noout'
run "$FSCI" proton run --quiet --energy 70 --nx 20 --nz 50 --phantom "$T/den.npz" -o "$T/bad"
check "zero density: exit 1 naming density[49, 19] = 0" eval 'rc 1 && errhas "den.npz: density\[49, 19\] = 0: must be in (0, 25\]" && noout'
bad "3-D rsp: its real shape" "rsp has shape (5, 50, 20), the grid (nz, nx) is (50, 20)" --energy 70 --nz 50 --phantom "$T/rsp3d.npz"

# beam and grid options checked up front: exit 2, the user's option named, no internal field
usage_bad() { # name, expected message fragment, args...
    local name="$1" msg="$2"; shift 2
    run "$FSCI" proton run --quiet --nx 20 "$@" -o "$T/bad"
    check "$name: exit 2 naming the option, no internal field, no output" \
        eval 'rc 2 && errhas "$msg" && ! grep -q "beam\.\|opts\.\|e_max_mev" "$T/err" && noout'
    if ! errhas "$msg"; then cat "$T/err"; fi
}
usage_bad "--angle 90" "angle 90: outside the angular cone +-30.25 degrees of --theta-max" --energy 70 --angle 90
usage_bad "--x0 1e6" "x0 1e+06: outside the grid \[-10, 10\] mm (--nx 20 x --dx 1 mm" --energy 70 --x0 1e6
usage_bad "--energy-spread above the table" "energy 490 with --energy-spread 10: the spectrum reaches 530 MeV" --energy 490 --energy-spread 10
usage_bad "--dx 1e-9 (derived step)" "dx 1e-09 (the step is min(--dx, --dz) unless --step is given): the range energy grid from 1 to 70 MeV needs" --energy 70 --dx 1e-9
usage_bad "--step 1e-9" "step 1e-09: the range energy grid" --energy 70 --step 1e-9 --nz 10
usage_bad "--ne 1e8 (above the table's range)" "ne: 1e8 is outside \[1, 100000\]" --energy 70 --egrid log --ne 1e8
# the energy spread in % of each beam's energy is the spread in MeV; one of the two only
run "$FSCI" proton run --quiet --energy 70 --nx 20 --energy-spread-pct 1 -o "$T/pct"
run "$FSCI" proton run --quiet --energy 70 --nx 20 --energy-spread 0.7 -o "$T/mev"
check "--energy-spread-pct 1 at 70 MeV gives the dose of --energy-spread 0.7" cmp -s "$T/pct/dose.npy" "$T/mev/dose.npy"
usage_bad "both spreads" "energy-spread 1 and --energy-spread-pct 1: give the spread one way only" --energy 70 --energy-spread 1 --energy-spread-pct 1
# straggling (on by default) widens the distal fall-off; off is the CSDA curve
run "$FSCI" proton run --quiet --energy 150 --nx 20 --straggling off -o "$T/s0"
run "$FSCI" proton run --quiet --energy 150 --nx 20 -o "$T/s1"
check "--straggling: d80-20 grows from the grid's to about 1.3 sigma_R (2.2 mm at 150 MeV)" "$PY" -c "
import json
a = json.load(open('$T/s0/summary.json'))['d80_20_mm']; b = json.load(open('$T/s1/summary.json'))['d80_20_mm']
assert a < 1.6 and 1.8 < b < 2.9, (a, b)"
# 500 MeV, the documented maximum, runs (the energy grid is anchored at the top of the table)
run "$FSCI" proton run --quiet --energy 500 --nx 50 --dx 4 --dz 4 --ntheta 41 --straggling off -o "$T/e500"
check "--energy 500 runs; R80 within 1 % of the CSDA range 1170 mm" eval 'rc 0 && awk "/^R80/ {exit !(\$2 > 1158 && \$2 < 1182)}" "$T/out"'
# a grid beyond the machine's memory: refused before allocating, naming the grid options and the size
run "$FSCI" proton run --quiet --energy 70 --nx 1000000 --nz 1000000 -o "$T/bad"
check "--nx 1e6 --nz 1e6: exit 1, one line naming the grid and the memory needed" \
    eval 'rc 1 && oneline && errhas "nx 1000000 x --nz 1000000 cells x --ntheta 121 angles x 40 energy bins held needs about .* of memory but the machine has" && noout'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
