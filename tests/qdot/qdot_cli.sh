#!/usr/bin/env bash
# fastsci qdot from the command line: simulate (.npz with the documented members, the ground
# states on the honeycomb the triple points predict, .npy and .png), the agents (bench, tune),
# classify with the shipped weights; bad devices, scans, bounds, budgets and weight files fail
# with one line, a non-zero exit and no output (an existing file untouched).
set -u
FSCI="$1"
PY="${FSCI_PYTHON:-/usr/bin/python3}"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/qdot.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { local n="$1"; shift; if "$@"; then pass=$((pass+1)); echo "ok   $n"; else fail=$((fail+1)); echo "FAIL $n"; fi; }
run() { "$@" >"$T/out" 2>"$T/err"; echo $? >"$T/rc"; }
rc() { [ "$(cat "$T/rc")" = "$1" ]; }
rc12() { local c; c=$(cat "$T/rc"); [ "$c" = 1 ] || [ "$c" = 2 ]; }
errhas() { head -1 "$T/err" | grep -q -- "$1"; }
oneline() { [ "$(wc -l <"$T/err")" -eq 1 ]; }
failed_cleanly() { rc12 && oneline && errhas "$1" && [ ! -e "$2" ]; }

run "$FSCI" qdot simulate --nx 120 --ny 100 --white 0.01 --seed 3 -o "$T/d.npz"
check "simulate writes an .npz" eval 'rc 0 && test -s "$T/d.npz" && grep -q "16 states" "$T/out"'
check "members, shapes and the honeycomb" "$PY" -c "
import numpy as np
d = np.load('$T/d.npz')
assert set(d.files) == {'signal', 'states', 'v1', 'v2', 'triple_points', 'triple_kind'}, d.files
assert d['signal'].shape == (100, 120) and d['states'].dtype == np.int32
assert d['v1'].shape == (120,) and d['v2'].shape == (100,)
assert d['triple_points'].shape == (18, 2) and set(d['triple_kind']) == {0, 1}
# every electron triple point of a cell inside the scan has the cell's three states within 2 pixels
st, v1, v2 = d['states'], d['v1'], d['v2']
seen = 0
for (x, y), k, cell in zip(d['triple_points'], d['triple_kind'], np.repeat(np.arange(9), 2)):
    if k or not (v1[2] < x < v1[-3] and v2[2] < y < v2[-3]):
        continue
    n1, n2 = divmod(cell, 3)
    i, j = np.searchsorted(v1, x), np.searchsorted(v2, y)
    near = set(st[j - 2:j + 2, i - 2:i + 2].ravel())
    assert {4 * n1 + n2, 4 * (n1 + 1) + n2, 4 * n1 + n2 + 1} <= near, (n1, n2, near)
    seen += 1
assert seen >= 3, seen
"
run "$FSCI" qdot simulate --nx 50 --ny 40 --signal current -o "$T/c.npy"
check "an .npy holds the signal" "$PY" -c "
import numpy as np
a = np.load('$T/c.npy'); assert a.shape == (40, 50) and 0 <= a.min() and a.max() <= 1.0001"
run "$FSCI" qdot simulate --nx 64 --ny 64 -o "$T/d.png"
check "a .png is written" eval 'rc 0 && head -c 8 "$T/d.png" | grep -q PNG'
run "$FSCI" qdot simulate --preset single --x-range 0,40 --nx 100 --signal charge -o "$T/s.npz"
check "a single dot gives a staircase" "$PY" -c "
import numpy as np
a = np.load('$T/s.npz')['signal']; assert a.shape == (1, 100)
assert np.all(np.diff(a[0]) >= -1e-9) and a[0, 0] < 0.01 and a[0, -1] > 1.99"

run "$FSCI" qdot simulate --c-cc 100,-150,-150,100 --c-cv 10,1,1,10 -o "$T/bad.npz"
check "a c_cc that is not positive definite" failed_cleanly "not positive definite" "$T/bad.npz"
run "$FSCI" qdot simulate --c-cc 100,-20,-10,100 --c-cv 10,1,1,10 -o "$T/bad.npz"
check "an asymmetric c_cc" failed_cleanly "not symmetric" "$T/bad.npz"
run "$FSCI" qdot simulate --c-cc 100,-20,-20 --c-cv 10,1,1,10 -o "$T/bad.npz"
check "a c_cc that is not square" failed_cleanly "c-cc" "$T/bad.npz"
run "$FSCI" qdot simulate --c-cc 100,-20,-20,100 --c-cv 10,1,1 -o "$T/bad.npz"
check "a c_cv of the wrong size" failed_cleanly "c-cv" "$T/bad.npz"
run "$FSCI" qdot simulate --kt 0 --signal current -o "$T/bad.npz"
check "current at kT = 0" failed_cleanly "kT > 0" "$T/bad.npz"
run "$FSCI" qdot simulate --nmax 64 -o "$T/bad.npz"
check "too many states" failed_cleanly "states exceeds" "$T/bad.npz"
run "$FSCI" qdot simulate --gy 0 -o "$T/bad.npz"
check "the same gate twice" failed_cleanly "gy" "$T/bad.npz"
run "$FSCI" qdot simulate --x-range 1 -o "$T/bad.npz"
check "a one-value range" failed_cleanly "x-range" "$T/bad.npz"
run "$FSCI" qdot simulate --white nan -o "$T/bad.npz"
check "NaN noise" eval 'rc 2 && errhas "white" && [ ! -e "$T/bad.npz" ]'
echo keep >"$T/keep.npz"
run "$FSCI" qdot simulate --c-cc 100,-150,-150,100 --c-cv 10,1,1,10 -o "$T/keep.npz"
check "an existing file is untouched" eval 'rc12 && [ "$(cat "$T/keep.npz")" = keep ]'

# the agents
run "$FSCI" qdot bench --compat off --n-trials 4 --particles 1000 -o "$T/pb"
check "physical bench: summary.json and trials.csv" "$PY" -c "
import json, csv
s = json.load(open('$T/pb/summary.json')); rows = list(csv.DictReader(open('$T/pb/trials.csv')))
assert s['n_trials'] == 4 and len(rows) == 4 and s['success_rate'] >= 0.75, s
assert all(int(r['total_measurements']) <= 2048 for r in rows)"
run "$FSCI" qdot bench --fast -o "$T/cb"
check "compat bench: the reference's fast protocol" "$PY" -c "
import json; s = json.load(open('$T/cb/summary.json')); assert s['n_trials'] == 10 and s['budget'] == 512, s"
run "$FSCI" qdot tune --compat off --trial 3 -o "$T/traj.png"
check "tune draws a trajectory" eval 'rc 0 && head -c 8 "$T/traj.png" | grep -q PNG && grep -q "success" "$T/out"'
run "$FSCI" qdot tune --compat off --trial 4 --particles 1000 -o "$T/ptune"
check "physical tune logs its decisions" "$PY" -c "
import json; lines = [json.loads(l) for l in open('$T/ptune/governance.jsonl')]
assert [l['action'] for l in lines][:2] == ['mission_start', 'survey_16x16'] and lines[-1]['action'] == 'mission_end'
assert json.load(open('$T/ptune/summary.json'))['total_measurements'] == lines[-1]['measurements']"
run "$FSCI" qdot tune --no-dqc-gate -o "$T/tune"
check "compat tune writes its governance log" "$PY" -c "
import json; lines = [json.loads(l) for l in open('$T/tune/governance.jsonl')]
assert lines[0]['action'] == 'mission_start' and len(lines) > 3"
run "$FSCI" qdot bench --compat off --bounds 60,0 -o "$T/bad"
check "reversed voltage bounds" failed_cleanly "reversed" "$T/bad"
run "$FSCI" qdot bench --compat off --budget 0 -o "$T/bad"
check "budget 0" eval 'rc 2 && errhas "budget" && [ ! -e "$T/bad" ]'
"$PY" -c "
import numpy as np; np.save('$T/p.npy', np.random.default_rng(0).uniform(0, 1, (3, 64, 64)))
np.save('$T/p32.npy', np.zeros((32, 32)))"
SRC="${FSCI_SOURCE_DIR:-$(dirname "$0")/../..}"
run "$FSCI" qdot classify "$T/p.npy" --weights "$SRC/data/qdot_classifier.fsqc" -o "$T/lab.npz"
check "classify: labels of three patches" "$PY" -c "
import numpy as np; d = np.load('$T/lab.npz'); assert d['label'].shape == (3,) and np.allclose(d['probs'].sum(1), 1, atol=1e-5)"
head -c 1000 "$SRC/data/qdot_classifier.fsqc" >"$T/trunc.fsqc"
run "$FSCI" qdot classify "$T/p.npy" --weights "$T/trunc.fsqc" -o "$T/bad.npz"
check "a truncated weight file" failed_cleanly "truncated" "$T/bad.npz"
run "$FSCI" qdot classify "$T/p32.npy" --weights "$SRC/data/qdot_classifier.fsqc" -o "$T/bad.npz"
check "a patch of the wrong shape" failed_cleanly "64 x 64" "$T/bad.npz"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
