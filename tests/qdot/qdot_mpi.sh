#!/usr/bin/env bash
# fastsci qdot bench under mpirun: trials spread over 2 ranks give the same trials.csv as 1 rank
# (apart from the seconds column), for the physical agent and the compat agent; rank 0 alone
# prints and writes.
set -u
FSCI="$1"
MPI="${FSCI_MPIEXEC:-mpirun}"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/qdot_mpi.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
pass=0 fail=0
check() { local n="$1"; shift; if "$@"; then pass=$((pass+1)); echo "ok   $n"; else fail=$((fail+1)); echo "FAIL $n"; fi; }
# the seconds column differs between runs; everything else must not
strip() { cut -d, -f"$2" "$1"; }

"$FSCI" qdot bench --compat off --n-trials 5 --particles 500 --threads 1 --quiet -o "$T/one" >/dev/null
"$MPI" -np 2 "$FSCI" qdot bench --compat off --n-trials 5 --particles 500 --threads 1 --quiet -o "$T/two" >"$T/out2"
check "physical: 2 ranks equal 1 rank" eval '[ -s "$T/two/trials.csv" ] && [ "$(strip "$T/one/trials.csv" 1-10,12-)" = "$(strip "$T/two/trials.csv" 1-10,12-)" ]'
check "rank 0 alone prints" eval '[ "$(grep -c "physical agent" "$T/out2")" -eq 1 ]'
"$FSCI" qdot bench --fast --no-dqc-gate --threads 1 --quiet -o "$T/c1" >/dev/null
"$MPI" -np 2 "$FSCI" qdot bench --fast --no-dqc-gate --threads 1 --quiet -o "$T/c2" >/dev/null
check "compat: 2 ranks equal 1 rank" eval '[ -s "$T/c2/trials.csv" ] && [ "$(strip "$T/c1/trials.csv" 1-8,10-)" = "$(strip "$T/c2/trials.csv" 1-8,10-)" ]'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
