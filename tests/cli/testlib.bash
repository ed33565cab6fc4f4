# Shared by the CLI test scripts that source it: counters, ok/bad reporting and the
# check that no temporary file of the atomic writer is left. (Not a test itself: the
# test glob takes *.sh only.)
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
# no_tmp DIR: no temporary file or directory of the atomic writer left in DIR
no_tmp() { [ -z "$(find "$1" -name '*.tmp' 2>/dev/null | head -1)" ]; }
