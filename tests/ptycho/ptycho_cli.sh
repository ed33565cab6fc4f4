#!/usr/bin/env bash
# fastsci ptycho from the command line: a valid run, thread independence, and bad input
# (one clear line, non-zero exit, no output file left behind).
set -u
FSCI="$1"
PY="${FSCI_PYTHON:-/usr/bin/python3}"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/ptycho.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { local n="$1"; shift; if "$@"; then pass=$((pass+1)); echo "ok   $n"; else fail=$((fail+1)); echo "FAIL $n"; fi; }
run() { "$@" >"$T/out" 2>"$T/err"; echo $? >"$T/rc"; }
rc() { [ "$(cat "$T/rc")" = "$1" ]; }
errhas() { grep -q -- "$1" "$T/err"; }
oneline() { [ "$(wc -l <"$T/err")" -eq 1 ]; }
noout() { [ ! -e "$T/o.npz" ] && [ -z "$(ls "$T" | grep -E '\.tmp$')" ]; }
bad() { # name, expected message fragment, args...
    local name="$1" msg="$2"; shift 2
    run "$FSCI" ptycho simulate --quiet "$@" -o "$T/o.npz"
    check "$name: exit 1, one line naming the problem, no output" eval 'rc 1 && errhas "$msg" && oneline && noout'
    if ! errhas "$msg"; then cat "$T/err"; fi
}

base=(--n-images 300 --N 32 --seed 4 --quiet)
# _metadata's creation_info holds the time and host name: with SOURCE_DATE_EPOCH
# (reproducible-builds.org) the time is fixed and the files are byte-identical
SOURCE_DATE_EPOCH=1700000000 run "$FSCI" ptycho simulate "${base[@]}" --threads 1 -o "$T/a.npz"
check "simulate runs" rc 0
SOURCE_DATE_EPOCH=1700000000 run "$FSCI" ptycho simulate "${base[@]}" --threads 2 -o "$T/b.npz"
check "--threads 1 and 2 with SOURCE_DATE_EPOCH: identical files" cmp -s "$T/a.npz" "$T/b.npz"
check "SOURCE_DATE_EPOCH=1700000000 is the metadata timestamp" "$PY" -c "
import json, numpy as np
m = json.loads(np.load('$T/a.npz')['_metadata'].item())
assert m['creation_info']['timestamp'] == '2023-11-14T22:13:20Z', m['creation_info']
"
# without it: the same arrays, the same metadata except creation_info, and the time of the run
run env -u SOURCE_DATE_EPOCH "$FSCI" ptycho simulate "${base[@]}" --threads 2 -o "$T/b2.npz"
check "--threads 2 without SOURCE_DATE_EPOCH: same arrays and metadata but creation_info, a current timestamp" \
    "$PY" -c "
import datetime, json, numpy as np
a, b = np.load('$T/a.npz'), np.load('$T/b2.npz')
assert a.files == b.files, (a.files, b.files)
for k in a.files:
    if k != '_metadata':
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
ma, mb = json.loads(a['_metadata'].item()), json.loads(b['_metadata'].item())
ta = ma.pop('creation_info'); tb = mb.pop('creation_info')
assert ma == mb and list(ta) == list(tb), (ta, tb)
t = datetime.datetime.strptime(tb['timestamp'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
assert abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) < 3600, tb
"
run env SOURCE_DATE_EPOCH=yesterday "$FSCI" ptycho simulate --n-images 20 --N 16 --quiet -o "$T/o.npz"
check "malformed SOURCE_DATE_EPOCH: exit 1, one line naming it, no output" \
    eval 'rc 1 && errhas "SOURCE_DATE_EPOCH: .yesterday. is not a number of seconds" && oneline && noout'
check "numpy loads the NPZ with PtychoPINN's keys" "$PY" -c "
import numpy as np
z = np.load('$T/a.npz')
need = {'diff3d','xcoords','ycoords','xcoords_start','ycoords_start','probeGuess','objectGuess','scan_index',
        'diffraction','Y','X_full','coords_offsets','coords_relative','nn_indices','_metadata',
        'ground_truth_patches'}
assert need <= set(z.files), need - set(z.files)
assert z['diffraction'].shape == (300, 32, 32, 4) and z['diffraction'].dtype == np.float32
g = z['ground_truth_patches']
assert g.shape == (300, 32, 32, 1) and g.dtype == np.complex64, (g.shape, g.dtype)
"
# fastsci info reads the photon count from PtychoPINN's schema and from the flat metadata of older files
SOURCE_DATE_EPOCH=0 run "$FSCI" ptycho simulate --n-images 40 --N 16 --gridsize 1 --nphotons 1e4 --quiet -o "$T/e.npz"
run "$FSCI" info "$T/e.npz"
check "info: ground_truth_patches and the metadata in PtychoPINN's schema" eval 'rc 0 &&
    grep -q "ground_truth_patches *complex64 *(40, 16, 16, 1)" "$T/out" &&
    grep -q "PtychoPINN metadata schema 1.0.0" "$T/out" &&
    grep -q "nphotons 10000, N 16, gridsize 1, n_images 40" "$T/out" &&
    grep -q "created 1970-01-01T00:00:00Z by fastsci " "$T/out"'
"$PY" -c "
import json, numpy as np
flat = {'generator': 'fastsci 0.1.0', 'nphotons': 10000.0, 'seed': 1, 'N': 32, 'gridsize': 2, 'K': 4, 'n_images': 300}
np.savez('$T/flat.npz', xcoords=np.zeros(3), _metadata=np.array(json.dumps(flat)))
"
run "$FSCI" info "$T/flat.npz"
check "info: the flat metadata of older files" eval 'rc 0 && grep -q "flat metadata" "$T/out" &&
    grep -q "nphotons 10000, N 32, gridsize 2, n_images 300" "$T/out" && grep -q "created by fastsci 0.1.0" "$T/out"'
run "$FSCI" ptycho simulate --n-images 300 --N 32 --profile --quiet -o "$T/c.npz"
check "--profile shows the stages" eval 'rc 0 && errhas "ptycho.group" && errhas "ptycho.fft" && errhas "ptycho.noise" && errhas "ptycho.write" && errhas "ptycho.extract"'

# positions file, grouping alone
"$PY" -c "
import numpy as np
r = np.random.default_rng(1)
np.savez('$T/pos.npz', xcoords=r.uniform(20, 90, 200), ycoords=r.uniform(20, 90, 200))
np.savez('$T/outside.npz', xcoords=np.array([10.0, 20.0, 5000.0]), ycoords=np.array([10.0, 20.0, 30.0]))
np.savez('$T/wrongdtype.npz', xcoords=np.arange(5, dtype=np.int32), ycoords=np.arange(5, dtype=np.int32))
o = np.ones((112, 112), np.complex64); o[5, 6] = np.nan; np.save('$T/nanobj.npy', o)
p = np.ones((32, 32), np.complex64); p[1, 2] = np.inf; np.save('$T/infprobe.npy', p)
np.save('$T/probe16.npy', np.ones((16, 16), np.complex64))
np.save('$T/realobj.npy', np.ones((112, 112), np.float32))
open('$T/garbage.npy', 'wb').write(b'not a numpy file at all')
"
run "$FSCI" ptycho group --positions "$T/pos.npz" --K 6 --gridsize 2 --seed 3 --quiet -o "$T/g.npz"
check "group writes nn_indices" eval 'rc 0 && "$PY" -c "import numpy as np; z=np.load(\"$T/g.npz\"); assert z[\"nn_indices\"].shape == (200, 4)"'
run "$FSCI" ptycho simulate --positions "$T/pos.npz" --N 32 --object-size 112 --quiet -o "$T/d.npz"
check "simulate with a positions file" rc 0

bad "positions outside the object" "xcoords\[2\] = 5000 is outside" --positions "$T/outside.npz" --gridsize 1 --N 16
bad "positions of the wrong dtype" "float64 1-D expected" --positions "$T/wrongdtype.npz" --N 16
bad "NaN in the object" "(5, 6) = nan" --object "$T/nanobj.npy" --N 32 --n-images 50
bad "inf in the probe" "(1, 2) = inf" --probe "$T/infprobe.npy" --N 32 --n-images 50
bad "probe not N x N" "probe shape (16, 16) is not N x N = (32, 32)" --probe "$T/probe16.npy" --N 32 --n-images 50
bad "object not complex" "dtype float32 is not complex" --object "$T/realobj.npy" --N 32 --n-images 50
bad "K < C" "--K: 3 is smaller than C" --K 3 --gridsize 2 --n-images 50 --N 16
bad "unreadable object file" "missing.npy" --object "$T/missing.npy" --N 16 --n-images 50
bad "corrupt object file" "garbage.npy" --object "$T/garbage.npy" --N 16 --n-images 50
bad "more groups than positions without oversampling" "oversampling" --n-images 50 --n-groups 80 --N 16
# --n-images counts random positions: with a positions file it is an error (PtychoPINN has no such pair)
"$PY" -c "
import numpy as np
r = np.random.default_rng(2)
np.savez('$T/pos30.npz', xcoords=r.uniform(20, 90, 30), ycoords=r.uniform(20, 90, 30))
"
bad "--n-images with a positions file" "--n-images: 20 conflicts with the 30 positions of" \
    --positions "$T/pos30.npz" --n-images 20 --N 32 --object-size 112
run "$FSCI" ptycho simulate --positions "$T/pos30.npz" --n-images 30 --N 32 --object-size 112 --quiet -o "$T/p30.npz"
check "--n-images equal to the file's count is accepted" rc 0
# --K above the number of positions: PtychoPINN clamps it (min(K + 1, n) neighbours); we warn and record it
run "$FSCI" ptycho simulate --positions "$T/pos30.npz" --K 31 --N 32 --object-size 112 -o "$T/k31.npz"
check "--K 31 with 30 positions: runs, warns naming --K 31" eval 'rc 0 && errhas "warning: ptycho: --K 31 is more than the 30 positions"'
check "--K 31 with 30 positions: metadata records K = 30 and K_requested = 31" "$PY" -c "
import json, numpy as np
m = json.loads(np.load('$T/k31.npz')['_metadata'].item())['additional_parameters']
assert m['K'] == 30 and m['K_requested'] == 31, m
"
run "$FSCI" ptycho simulate --positions "$T/pos30.npz" --K 31 --N 32 --object-size 112 --quiet -o "$T/k31q.npz"
check "--K 31 with --quiet: no warning" eval 'rc 0 && [ ! -s "$T/err" ]'
run "$FSCI" ptycho simulate --positions "$T/pos30.npz" --K 30 --N 32 --object-size 112 --quiet -o "$T/k30.npz"
check "--K 31 and --K 30 give the same groups" "$PY" -c "
import numpy as np
a, b = np.load('$T/k31.npz'), np.load('$T/k30.npz')
assert (a['nn_indices'] == b['nn_indices']).all()
"
# requests larger than the disk or the memory are refused before computing, an existing output untouched
echo keep >"$T/o.npz"
run "$FSCI" ptycho simulate --N 1024 --n-images 1e6 --quiet -o "$T/o.npz"
check "output larger than the free disk: exit 1, one line naming the size, output untouched" \
    eval 'rc 1 && errhas "would need [0-9.]* TB but" && errhas "\-\-N 1024" && oneline && [ "$(cat "$T/o.npz")" = keep ]'
run "$FSCI" ptycho simulate --N 1024 --n-images 1e6 --compress --quiet -o "$T/o.npz"
check "working memory larger than the machine: exit 1, one line naming the size" \
    eval 'rc 1 && errhas "needs about [0-9.]* TB of memory but the machine has" && oneline && [ "$(cat "$T/o.npz")" = keep ]'
rm -f "$T/o.npz"
check "no temporary file left behind" eval '[ -z "$(ls -a "$T" | grep -E "\.tmp")" ]'

run "$FSCI" ptycho simulate --nphotons -5 -o "$T/o.npz"
check "bad parameter: usage error" eval 'rc 2 && errhas "--nphotons: -5 is outside" && noout'
run "$FSCI" ptycho simulate --n-images 20 --N 16 --quiet -o "$T/nodir/o.npz"
check "unwritable output: exit 1" eval 'rc 1 && errhas "nodir"'
run "$FSCI" ptycho frobnicate
check "unknown subcommand: exit 2" eval 'rc 2 && errhas "unknown subcommand"'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
