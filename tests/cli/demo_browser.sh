#!/usr/bin/env bash
# fastsci demo writes report/index.html; headless Chromium loads it and every image decodes.
set -u
FSCI="$1"
T=$(mktemp -d "${FSCI_TEST_TMP:-/tmp}/demo.XXXXXX")
# Chromium's profile holds a Unix socket, whose path must stay short: keep it in /tmp.
PROFILE=$(mktemp -d /tmp/fsci-chrome.XXXXXX)
trap 'rm -rf "$T" "$PROFILE"' EXIT
pass=0 fail=0
check() { local n="$1"; shift; if "$@"; then pass=$((pass+1)); echo "ok   $n"; else fail=$((fail+1)); echo "FAIL $n"; fi; }

"$FSCI" demo --quick --quiet -o "$T/report" 2>"$T/err"
check "demo exits 0" test $? -eq 0
cat "$T/err"
check "index.html written" test -s "$T/report/index.html"
nimg=$(grep -o '<img ' "$T/report/index.html" | wc -l)
check "page has figures" test "$nimg" -ge 2
for src in $(grep -o 'src="[^"]*"' "$T/report/index.html" | sed 's/src="\(.*\)"/\1/'); do
    check "figure $src exists" test -s "$T/report/$src"
    check "figure $src is a complete PNG" "${FSCI_PYTHON:-/usr/bin/python3}" "$(dirname "$0")/check_png.py" "$T/report/$src"
done
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
    echo "FAIL chromium not installed (scripts/install-deps installs it)"; fail=$((fail+1))
else
    timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$PROFILE" --virtual-time-budget=10000 --allow-file-access-from-files \
        --dump-dom "file://$T/report/index.html" >"$T/dom.html" 2>"$T/chrome.err"
    check "chromium loaded the page" grep -q 'fastsci demo report' "$T/dom.html"
    check "every image decoded ($nimg)" grep -q "data-images-ok=\"$nimg\" data-images-bad=\"0\"" "$T/dom.html"
    grep -o 'data-images-[a-z]*="[0-9]*"' "$T/dom.html" | tr '\n' ' '; echo
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
