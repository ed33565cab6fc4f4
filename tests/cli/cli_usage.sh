#!/usr/bin/env bash
# The fastsci program: dispatch, usage errors (exit 2, one line + usage), failures
# (exit 1, no partial output), thread-count independence of outputs.
set -u
FSCI="$1"
PY="${FSCI_PYTHON:-/usr/bin/python3}"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { # name, condition-command...
    local name="$1"; shift
    if "$@"; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}
run() { # run CMD..., capture stdout/stderr/status
    "$@" >"$T/out" 2>"$T/err"; echo $? >"$T/rc"
}
rc() { [ "$(cat "$T/rc")" = "$1" ]; }
errhas() { grep -q -- "$1" "$T/err"; }
outhas() { grep -q -- "$1" "$T/out"; }
errlines() { [ "$(wc -l <"$T/err")" -le "$1" ]; }

run "$FSCI" --help
check "--help lists commands" eval 'rc 0 && outhas "demo" && outhas "random" && outhas "help on a command"'
run "$FSCI" version
check "version" eval 'rc 0 && outhas "^fastsci [0-9]"'
run "$FSCI" help random
check "help <cmd>" eval 'rc 0 && outhas "usage: fastsci random" && outhas "--lam" && outhas "--threads"'
run "$FSCI" random --help
cp "$T/out" "$T/help1"; run "$FSCI" help random
check "help X equals X --help" cmp -s "$T/out" "$T/help1"
run "$FSCI" proton run --help
cp "$T/out" "$T/help1"; run "$FSCI" help proton run
check "help ENGINE COMMAND equals ENGINE COMMAND --help" eval 'rc 0 && cmp -s "$T/out" "$T/help1" && outhas "--max-loss"'
run "$FSCI" --help
check "--help lists exactly the registered engines" eval '[ "$(sed -n "/^engines:/,/^$/p" "$T/out" | grep -c "^  ")" -eq 5 ] && outhas "^  ptycho " && outhas "^  proton " && outhas "^  pstm " && outhas "^  n2v2 " && outhas "^  qdot "'
run "$FSCI" ptycho frobnicate
check "unknown engine command: exit 2 naming it" eval 'rc 2 && errhas "unknown subcommand frobnicate"'
run "$FSCI"
check "no command: exit 2" eval 'rc 2 && errhas "usage:"'
run "$FSCI" frobnicate
check "unknown command: exit 2, one line + usage" eval 'rc 2 && errhas "unknown command .frobnicate." && errlines 2'
run "$FSCI" random poisson --bogus 3 -o "$T/x.npy"
check "unknown option: exit 2" eval 'rc 2 && errhas "unknown option .--bogus." && errhas "usage:" && errlines 2'
run "$FSCI" random poisson --lam abc -o "$T/x.npy"
check "bad number names option and value" eval 'rc 2 && errhas "--lam: .abc. is not a number"'
run "$FSCI" random poisson --lam -1 -o "$T/x.npy"
check "out of range names value" eval 'rc 2 && errhas "--lam: -1 is outside"'
run "$FSCI" random poisson --threads zero -o "$T/x.npy"
check "bad --threads" eval 'rc 2 && errhas "--threads: .zero."'
run "$FSCI" random poisson --seed -5 -o "$T/x.npy"
check "bad --seed" eval 'rc 2 && errhas "--seed"'
check "no output after usage errors" test ! -e "$T/x.npy"

run "$FSCI" random poisson --lam 7.5 --n 300000 --seed 9 --threads 1 -o "$T/p1.npy"
check "poisson draws written" eval 'rc 0 && test -s "$T/p1.npy"'
run "$FSCI" random poisson --lam 7.5 --n 300000 --seed 9 --threads 2 -o "$T/p2.npy"
check "--threads 1 and 2 give identical files" cmp -s "$T/p1.npy" "$T/p2.npy"
run "$FSCI" random normal --n 100001 --seed 3 --threads 1 -o "$T/n1.npy"
run "$FSCI" random normal --n 100001 --seed 3 --threads 2 -o "$T/n2.npy"
check "normal: identical for 1 and 2 threads" cmp -s "$T/n1.npy" "$T/n2.npy"
check "numpy reads the CLI output" "$PY" -c "
import numpy as np, sys
x = np.load('$T/p1.npy'); assert x.dtype == np.int64 and x.shape == (300000,)
z = (x.mean() - 7.5) / np.sqrt(7.5 / x.size); assert abs(z) < 5, z
"
run "$FSCI" info "$T/p1.npy"
check "info" eval 'rc 0 && outhas "int64 (300000,)"'
run "$FSCI" random poisson --profile --quiet --n 1000 -o "$T/p3.npy"
check "--profile prints the table" eval 'rc 0 && errhas "random.draw" && errhas "GB/s"'

run "$FSCI" info "$T/missing.npy"
check "missing file: exit 1, names file" eval 'rc 1 && errhas "missing.npy" && errlines 1'
head -c 100 "$T/p1.npy" >"$T/trunc.npy"
run "$FSCI" info "$T/trunc.npy"
check "truncated file: exit 1, one line" eval 'rc 1 && errhas "trunc.npy" && errlines 1'
run "$FSCI" random uniform --n 10 -o "$T/no/such/dir/x.npy"
check "unwritable output: exit 1" eval 'rc 1 && errhas "no/such/dir"'
check "no temp files left" eval '[ -z "$(ls -A "$T" | grep -v -E "^(out|err|rc|help1|p1.npy|p2.npy|p3.npy|n1.npy|n2.npy|trunc.npy)$")" ]'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
