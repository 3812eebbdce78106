#!/usr/bin/env bash
# levi-cl bench / tune as a user runs them: a short bandwidth and GEMM run
# whose JSON must parse and carry the device identity, --compare of result
# files, and the errors of bad input (exit codes, messages naming the input).
# Usage: test_bench_cli.sh LEVI_CL SOURCE_ROOT
set -u
levi=$1
root=$2
. "$(dirname "$0")/cli_common.sh"
need_device "$levi"
cli_begin bench-cli

# a short real run: JSON on stdout only, device identity, positive finite numbers
"$levi" bench bandwidth --budget 1 --json >"$T/bw.json" 2>"$T/bw.err"
check "bench bandwidth exits 0" $?
python3 - "$T/bw.json" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
assert d["device"]["name"] and d["device"]["driver"] and d["levi_version"], d
rows = d["results"]
assert len(rows) >= 3, rows
for r in rows:
    assert r["unit"] == "GB/s" and math.isfinite(r["value"]) and r["value"] > 0, r
    assert r["min_s"] <= r["median_s"] <= r["max_s"], r
PY
check "bench bandwidth JSON has the device and positive GB/s" $?

"$levi" bench gemm --budget 1 --out "$T/gemm.json" --reference "$root/results/openblas-epyc-2c-gemm.json" \
  >"$T/gemm.txt" 2>&1
check "bench gemm --out exits 0" $?
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['gemm_path'] in ('clblast', 'openblas') and d['results'] and all(r['group'] == 'gemm' and r['unit'] == 'GFLOP/s' and r['value'] > 0 for r in d['results'])" "$T/gemm.json"
check "bench gemm --out writes the GEMM path and GFLOP/s rows" $?
grep -Eq "^geometric mean over 16 shapes: [0-9.]+ GFLOP/s; vs reference over 16 shapes: [0-9.]+x \(medians\)" "$T/gemm.txt"
check "bench gemm --reference prints the geometric means" $?

# --compare of committed results: a ratio column
"$levi" bench --compare "$root/results/v1-clblast/pocl-epyc-2c-gemm-default.json" \
  "$root/results/v1-clblast/pocl-epyc-2c-gemm-tuned.json" >"$T/cmp.txt" 2>&1
check "bench --compare exits 0" $?
grep -q "B/A" "$T/cmp.txt" && grep -Eq "[0-9]+\.[0-9]+x" "$T/cmp.txt"
check "bench --compare prints ratios" $?

# bad input: exit codes and messages that name the input; no output file left
"$levi" bench --compare "$T/missing.json" "$root/results/v1-clblast/pocl-epyc-2c-gemm-tuned.json" >/dev/null 2>"$T/e1"
rc=$?; [ $rc -ne 0 ] && grep -q "missing.json" "$T/e1"
check "compare of a missing file fails naming it (rc $rc)" $?
echo '{"format": "levi-cl bench", "results": [' >"$T/broken.json"
"$levi" bench --compare "$T/broken.json" "$root/results/v1-clblast/pocl-epyc-2c-gemm-tuned.json" >/dev/null 2>"$T/e2"
rc=$?; [ $rc -ne 0 ] && grep -q "broken.json" "$T/e2"
check "compare of a broken file fails naming it (rc $rc)" $?
"$levi" bench nonsense >/dev/null 2>"$T/e3"
rc=$?; [ $rc -eq 2 ] && grep -q "nonsense" "$T/e3"
check "unknown group exits 2 naming it (rc $rc)" $?
"$levi" bench gemm --budget abc --out "$T/never.json" >/dev/null 2>"$T/e4"
rc=$?; [ $rc -eq 2 ] && grep -q "abc" "$T/e4" && [ ! -e "$T/never.json" ]
check "bad --budget exits 2, writes nothing (rc $rc)" $?
"$levi" tune gemm --budget abc >/dev/null 2>"$T/e5"
rc=$?; [ $rc -eq 2 ] && grep -q "abc" "$T/e5"
check "tune: bad --budget exits 2 (rc $rc)" $?
for cmd in bench tune; do
  "$levi" $cmd --help >"$T/h" 2>&1
  rc=$?; [ $rc -eq 0 ] && grep -q "usage" "$T/h"
  check "$cmd --help (rc $rc)" $?
done

cli_end "bench-cli"
