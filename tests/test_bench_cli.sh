#!/usr/bin/env bash
# levi-cl bench / tune as a user runs them: a short bandwidth and GEMM run
# whose JSON must parse and carry the device identity, --compare of result
# files, and the errors of bad input (exit codes, messages naming the input).
# Usage: test_bench_cli.sh LEVI_CL SOURCE_ROOT
set -u
levi=$1
root=$2
"$levi" --device list >/dev/null 2>&1 || { echo "no OpenCL device: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LEVI_CACHE_DIR="$tmp/cache"
pass=0 fail=0
check() { # name, condition (0 = ok)
  if [ "$2" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $1"; fi
}

# a short real run: JSON on stdout only, device identity, positive finite numbers
"$levi" bench bandwidth --budget 1 --json >"$tmp/bw.json" 2>"$tmp/bw.err"
check "bench bandwidth exits 0" $?
python3 - "$tmp/bw.json" <<'PY'
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

"$levi" bench gemm --budget 1 --out "$tmp/gemm.json" --reference "$root/results/openblas-epyc-2c-gemm.json" \
  >"$tmp/gemm.txt" 2>&1
check "bench gemm --out exits 0" $?
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['gemm_path'] in ('clblast', 'openblas') and d['results'] and all(r['group'] == 'gemm' and r['unit'] == 'GFLOP/s' and r['value'] > 0 for r in d['results'])" "$tmp/gemm.json"
check "bench gemm --out writes the GEMM path and GFLOP/s rows" $?
grep -Eq "^geometric mean over 16 shapes: [0-9.]+ GFLOP/s; vs reference over 16 shapes: [0-9.]+x \(medians\)" "$tmp/gemm.txt"
check "bench gemm --reference prints the geometric means" $?

# --compare of committed results: a ratio column
"$levi" bench --compare "$root/results/pocl-epyc-2c-gemm-default.json" \
  "$root/results/pocl-epyc-2c-gemm-tuned.json" >"$tmp/cmp.txt" 2>&1
check "bench --compare exits 0" $?
grep -q "B/A" "$tmp/cmp.txt" && grep -Eq "[0-9]+\.[0-9]+x" "$tmp/cmp.txt"
check "bench --compare prints ratios" $?

# bad input: exit codes and messages that name the input; no output file left
"$levi" bench --compare "$tmp/missing.json" "$root/results/pocl-epyc-2c-gemm-tuned.json" >/dev/null 2>"$tmp/e1"
rc=$?; [ $rc -ne 0 ] && grep -q "missing.json" "$tmp/e1"
check "compare of a missing file fails naming it (rc $rc)" $?
echo '{"format": "levi-cl bench", "results": [' >"$tmp/broken.json"
"$levi" bench --compare "$tmp/broken.json" "$root/results/pocl-epyc-2c-gemm-tuned.json" >/dev/null 2>"$tmp/e2"
rc=$?; [ $rc -ne 0 ] && grep -q "broken.json" "$tmp/e2"
check "compare of a broken file fails naming it (rc $rc)" $?
"$levi" bench nonsense >/dev/null 2>"$tmp/e3"
rc=$?; [ $rc -eq 2 ] && grep -q "nonsense" "$tmp/e3"
check "unknown group exits 2 naming it (rc $rc)" $?
"$levi" bench gemm --budget abc --out "$tmp/never.json" >/dev/null 2>"$tmp/e4"
rc=$?; [ $rc -eq 2 ] && grep -q "abc" "$tmp/e4" && [ ! -e "$tmp/never.json" ]
check "bad --budget exits 2, writes nothing (rc $rc)" $?
"$levi" tune gemm --budget abc >/dev/null 2>"$tmp/e5"
rc=$?; [ $rc -eq 2 ] && grep -q "abc" "$tmp/e5"
check "tune: bad --budget exits 2 (rc $rc)" $?
for cmd in bench tune; do
  "$levi" $cmd --help >"$tmp/h" 2>&1
  rc=$?; [ $rc -eq 0 ] && grep -q "usage" "$tmp/h"
  check "$cmd --help (rc $rc)" $?
done

echo "bench-cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
