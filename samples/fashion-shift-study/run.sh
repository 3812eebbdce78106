#!/bin/sh
# The full fashion-shift study: every method, several seeds, then the table of
# mean ± spread. Usage: run.sh [OUT_DIR]        (default ./fashion-shift-study)
# Environment: SIZE=full|quick|tiny (full), SEEDS="0 1 2", LEVI_CL=levi-cl,
#              METHODS=scratch,lp,ft,lora,levi,levi+lora,
#              TEXT=1: the same on text-shift with all-MiniLM-L6-v2 (demo --text)
set -eu
OUT=${1:-fashion-shift-study}
LEVI_CL=${LEVI_CL:-levi-cl}
SIZE=${SIZE:-full}
SEEDS=${SEEDS:-"0 1 2"}
METHODS=${METHODS:-scratch,lp,ft,lora,levi,levi+lora}
HERE=$(cd "$(dirname "$0")" && pwd)

results=""
for seed in $SEEDS; do
    echo "== seed $seed =="
    # data and backbone come from the cache after the first seed
    "$LEVI_CL" demo ${TEXT:+--text} --size "$SIZE" --seed "$seed" --methods "$METHODS" --out "$OUT/seed-$seed"
    results="$results $OUT/seed-$seed/results.json"
done
# shellcheck disable=SC2086
python3 "$HERE/summarize.py" $results | tee "$OUT/summary.md"
