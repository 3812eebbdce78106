#!/usr/bin/env bash
# Every number of the README's "Performance" section, in one run, into one folder:
# GEMM against OpenBLAS (and OpenBLAS with one thread), training against PyTorch on the
# same cores, every op, data loading, start-up; the machine's load before and after.
#
#   tools/bench_all.sh OUTDIR [BUILDDIR]      (BUILDDIR: default build)
#
# Needs a built levi-cl and levi-openblas-ref; PyTorch (`apt-get install python3-torch`)
# for the training reference (skipped, with a line saying so, when it is missing) and a
# folder of JPEG/PNG images for `bench data` (LEVI_BENCH_IMAGES, default: skipped).
# LEVI_BENCH_DEMO=1 also times `levi-cl demo` and `demo --quick` from an empty cache
# (benchmark, backbone and kernels all built anew; several minutes).
# Each step is independent: a failing step is reported and the run goes on.
set -uo pipefail

out=${1:?usage: tools/bench_all.sh OUTDIR [BUILDDIR]}
build=${2:-build}
cli="$build/levi-cl"
ref="$build/levi-openblas-ref"
budget=${LEVI_BENCH_BUDGET:-20}
[ -x "$cli" ] || { echo "bench_all: $cli: not built (meson setup $build && ninja -C $build)" >&2; exit 2; }
mkdir -p "$out" || exit 2

machine() {
    { echo "== $1: $(date -u +%FT%TZ)"; uptime; nproc; grep -m1 'model name' /proc/cpuinfo; } >> "$out/machine.txt"
}
step() {
    local name=$1; shift
    echo "== $name: $*" | tee -a "$out/log.txt" >&2
    local t0=$SECONDS
    if "$@" >> "$out/log.txt" 2>&1; then
        echo "   ok in $((SECONDS - t0)) s" | tee -a "$out/log.txt" >&2
    else
        echo "   FAILED (exit $?) after $((SECONDS - t0)) s, see $out/log.txt" | tee -a "$out/log.txt" >&2
    fi
}

machine start
"$cli" info >> "$out/machine.txt" 2>&1
step openblas "$ref" --out "$out/openblas-gemm.json"
step openblas-1thread env OPENBLAS_NUM_THREADS=1 "$ref" --out "$out/openblas-gemm-1t.json"
step gemm "$cli" bench gemm --budget "$budget" --reference "$out/openblas-gemm.json" --out "$out/gemm.json"
step gemm-1thread env OPENBLAS_NUM_THREADS=1 "$cli" bench gemm --budget "$budget" \
    --reference "$out/openblas-gemm-1t.json" --out "$out/gemm-1t.json"
step ops "$cli" bench ops --budget "$budget" --out "$out/ops.json"
step bandwidth "$cli" bench bandwidth --budget "$budget" --out "$out/bandwidth.json"
step train "$cli" bench train --budget "$budget" --out "$out/train.json"
if /usr/bin/python3 -c 'import torch' 2> /dev/null; then
    step torch-train /usr/bin/python3 "$(dirname "$0")/torch_train_bench.py" --budget "$budget" \
        --out "$out/torch-train.json"
    step compare "$cli" bench --compare --best "$out/torch-train.json" "$out/train.json"
else
    echo "== torch-train: skipped (no PyTorch: apt-get install python3-torch)" | tee -a "$out/log.txt" >&2
fi
step startup "$cli" bench startup --out "$out/startup.json"
if [ -n "${LEVI_BENCH_IMAGES:-}" ]; then
    step data "$cli" bench data --data "$LEVI_BENCH_IMAGES" --budget "$budget" --out "$out/data.json"
fi
if [ "${LEVI_BENCH_DEMO:-0}" = 1 ]; then
    rm -rf "$out/demo-cache" "$out/demo" "$out/demo-quick"
    step demo-quick env LEVI_CACHE_DIR="$out/demo-cache" "$cli" demo --quick --out "$out/demo-quick"
    rm -rf "$out/demo-cache"
    step demo env LEVI_CACHE_DIR="$out/demo-cache" "$cli" demo --out "$out/demo"
    step demo-warm env LEVI_CACHE_DIR="$out/demo-cache" "$cli" demo --out "$out/demo-warm"
    rm -rf "$out/demo-cache"
fi
machine end
echo "bench_all: results in $out (machine.txt has the load before and after)" >&2
