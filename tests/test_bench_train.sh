#!/usr/bin/env bash
# levi-cl bench train as a user runs it: --profile puts per-step counters in
# every JSON row (0 blocking syncs per steady-state step, with the periodic
# read of the metrics that train --log takes), a batch far beyond the
# device's memory stops at once with the memory error, not a driver error,
# and --batch auto picks the largest batch that fits a small device at once.
# Usage: test_bench_train.sh LEVI_CL
set -u
levi=$1
. "$(dirname "$0")/cli_common.sh"
need_device "$levi"
cli_begin bench-train

"$levi" bench train --profile --budget 1 --json >"$T/train.json" 2>"$T/train.err"
check "bench train --profile --json exits 0" $?
python3 - "$T/train.json" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
rows = d["results"]
assert len(rows) == 4, rows
for r in rows:
    p = r["profile"]
    for k in ("launches_per_step", "gemm_calls_per_step", "blocking_syncs_per_step", "h2d_bytes_per_step",
              "d2h_bytes_per_step", "top_kernels"):
        assert k in p, (k, r["name"])
    # one non-blocking read of the metrics (about 1 KiB) per 32 steps, and nothing else back
    assert p["blocking_syncs_per_step"] == 0 and 0 < p["d2h_bytes_per_step"] <= 64, (r["name"], p)
    assert p["launches_per_step"] > 0 and p["gemm_calls_per_step"] > 0, (r["name"], p)
    assert p["top_kernels"] and all(math.isfinite(k["device_us_per_step"]) for k in p["top_kernels"]), p
PY
check "every row has a profile with 0 blocking syncs per step" $?
grep -q "per step: .* launches, .* GEMM calls, 0.00 blocking syncs" "$T/train.err"
check "the table shows the per-step counters" $?

start=$(date +%s)
"$levi" bench train --model vit-b16 --batch 65536 >"$T/big.out" 2>"$T/big.err"
rc=$?
secs=$(( $(date +%s) - start ))
check "vit-b16 at batch 65536 fails (exit $rc)" $([ $rc -eq 1 ] && echo 0 || echo 1)
grep -q "at batch 65536 needs .* usable; the largest batch that fits is [0-9]" "$T/big.err"
check "the memory error gives both numbers and the batch that fits" $?
check "the memory error comes at once (${secs} s)" $([ "$secs" -le 20 ] && echo 0 || echo 1)
# --batch auto on a device of 2 GiB (PoCL's POCL_MEMORY_LIMIT): the batch that fits, and one more does not
start=$(date +%s)
POCL_MEMORY_LIMIT=2 "$levi" bench train --model vit-b16 --methods ft,levi-cache --batch auto --plan \
  >"$T/auto.out" 2>"$T/auto.err"
rc=$?
secs=$(( $(date +%s) - start ))
check "vit-b16 --batch auto --plan on 2 GiB exits 0 (rc $rc)" $rc
fit=$(sed -n 's/.*ft (full fine-tuning) vit-b16: --batch auto: \([0-9]*\), the largest batch that fits.*/\1/p' "$T/auto.err")
check "--batch auto names the batch of ft (got '$fit')" $([ -n "$fit" ] && [ "$fit" -ge 1 ] && [ "$fit" -lt 64 ] && echo 0 || echo 1)
lfit=$(sed -n 's/.*levi concat, feature cache vit-b16: --batch auto: \([0-9]*\),.*/\1/p' "$T/auto.err")
check "levi with the feature cache fits a larger batch than ft ($lfit > $fit)" \
  $([ -n "$lfit" ] && [ -n "$fit" ] && [ "$lfit" -gt "$fit" ] && echo 0 || echo 1)
check "--batch auto and --plan come at once (${secs} s)" $([ "$secs" -le 20 ] && echo 0 || echo 1)
if [ -n "$fit" ]; then
  POCL_MEMORY_LIMIT=2 "$levi" bench train --model vit-b16 --methods ft --batch $((fit + 1)) --plan \
    >"$T/over.out" 2>"$T/over.err"
  rc=$?
  check "batch $((fit + 1)), one above auto's, fails with the memory error (rc $rc)" \
    $([ $rc -eq 1 ] && grep -q "at batch $((fit + 1)) needs .*the largest batch that fits is $fit " "$T/over.err" && echo 0 || echo 1)
  grep -q "memory: head stage on .* at batch $((fit + 1)): .* usable (parameters .* MiB, gradients .* MiB, optimizer .* MiB, activations .* MiB, workspace .* MiB)" "$T/over.out"
  check "--plan prints the plan of a fixed batch" $?
fi
"$levi" bench train --methods ft,nonsense >/dev/null 2>"$T/methods.err"
check "an unknown --methods key is refused naming it" $([ $? -ne 0 ] && grep -q "'nonsense'" "$T/methods.err" && echo 0 || echo 1)
"$levi" bench train --model vit-z99 >/dev/null 2>"$T/bad.err"
check "an unknown model is refused" $([ $? -ne 0 ] && grep -q "vit-z99" "$T/bad.err" && echo 0 || echo 1)

cli_end "bench train"
