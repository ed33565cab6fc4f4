#!/usr/bin/env bash
# fastsci pstm under mpirun: 2 ranks write the same image bytes as 1 rank and
# as the plain (no mpirun) run.
set -u
FSCI="$1"
MPI="${FSCI_MPIEXEC:-mpirun}"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/pstm_mpi.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
pass=0 fail=0
check() { local n="$1"; shift; if "$@"; then pass=$((pass+1)); echo "ok   $n"; else fail=$((fail+1)); echo "FAIL $n"; fi; }
V="0:1500,4:3500"
A=(--vrms $V --dx 12.5 --nt 300 --dt 0.004 --aperture 1000 --tile 4)
"$FSCI" pstm model --quiet --vrms $V --shots 12 --receivers 24 --shot-dx 50 --near-offset 100 --ns 300 \
    --dx 12.5 --nt 300 --diffractors 400,0.5 -o "$T/line.sgy" || { echo "FAIL model"; exit 1; }
"$FSCI" pstm migrate "$T/line.sgy" --quiet "${A[@]}" -o "$T/plain.sgy"
check "plain run" test -s "$T/plain.sgy"
"$MPI" -np 1 "$FSCI" pstm migrate "$T/line.sgy" --quiet --threads 1 "${A[@]}" -o "$T/r1.sgy" >"$T/o1" 2>&1
check "mpirun -np 1 exits 0 and writes" test -s "$T/r1.sgy"
"$MPI" -np 2 "$FSCI" pstm migrate "$T/line.sgy" --threads 1 "${A[@]}" -o "$T/r2.sgy" >"$T/o2" 2>&1
rc=$?
"$FSCI" pstm migrate "$T/line.sgy" --threads 1 "${A[@]}" -o "$T/p1.sgy" >"$T/o0" 2>&1
pairs() { grep -o "[0-9.e+]* pairs in" "$1"; }
check "2 ranks: one rank reports (MPI is running: the other rank is silent), with the plain run's pair count" \
    eval '[ "$(grep -c "^migrated" "$T/o2")" = 1 ] && [ "$(pairs "$T/o2")" = "$(pairs "$T/o0")" ]' 
check "mpirun -np 2 exits 0 and writes" eval '[ $rc = 0 ] && test -s "$T/r2.sgy"'
[ $rc = 0 ] || cat "$T/o2"
check "1 rank and 2 ranks: identical bytes" cmp -s "$T/r1.sgy" "$T/r2.sgy"
check "2 ranks and the plain run: identical bytes" cmp -s "$T/plain.sgy" "$T/r2.sgy"
"$FSCI" pstm migrate "$T/line.sgy" --quiet "${A[@]}" --aa on -o "$T/aa.sgy"
"$MPI" -np 2 "$FSCI" pstm migrate "$T/line.sgy" --quiet --threads 1 "${A[@]}" --aa on --memory 16 -o "$T/aa2.sgy" \
    >"$T/o3" 2>&1
check "2 ranks with anti-aliasing and the input streamed in chunks: the plain run's bytes" cmp -s "$T/aa.sgy" "$T/aa2.sgy"
echo "pstm_mpi: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
