#!/usr/bin/env bash
# Runs one test program under Oclgrind, the OpenCL device simulator that
# checks every kernel for out-of-bounds accesses, data races and reads of
# uninitialized memory, and every API call for misuse. Used by the meson test
# setup 'oclgrind' (tests/meson.build):
#
#   meson test -C build --setup=oclgrind --suite ops --print-errorlogs
#
# Oclgrind interprets kernels (CLBlast's GEMM kernels too), so the suites run
# with LEVI_TEST_SMALL=1 and use tiny sizes. Fails when the program fails or
# when Oclgrind logged any error; the log is printed. Exits 77 (skipped) when
# oclgrind is not installed.
#
#   tests/oclgrind_wrap.sh PROGRAM [ARGS...]
set -uo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $0 PROGRAM [ARGS...]" >&2
    exit 2
fi
if ! command -v oclgrind >/dev/null 2>&1; then
    echo "oclgrind_wrap: oclgrind is not installed: skipped"
    exit 77
fi
export LEVI_TEST_SMALL=1
# Oclgrind 21.10's --uninitialized plugin aborts on LLVM's `freeze`
# instruction, which the optimizer emits (e.g. for i / n with i % n), so
# kernels are built with -cl-opt-disable here; their program binaries get a
# cache folder of their own.
if [ -n "${LEVI_CACHE_DIR:-}" ] && [ "$LEVI_CACHE_DIR" != off ]; then
    export LEVI_CACHE_DIR="$LEVI_CACHE_DIR/oclgrind-opt-disable"
fi
log=$(mktemp "${TMPDIR:-/tmp}/levi-oclgrind-XXXXXX.log")
trap 'rm -f "$log"' EXIT
start=$(date +%s)
oclgrind --check-api --data-races --uninitialized --max-errors 50 --build-options -cl-opt-disable \
    --log "$log" "$@"
rc=$?
echo "oclgrind_wrap: $(basename "$1") exited $rc after $(( $(date +%s) - start )) s under oclgrind"
if [ -s "$log" ]; then
    echo "oclgrind_wrap: Oclgrind reported problems:" >&2
    cat "$log" >&2
    [ $rc -eq 0 ] && rc=1
fi
# a skipped suite (77) has nothing to check
exit $rc
