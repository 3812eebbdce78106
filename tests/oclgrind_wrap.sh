#!/usr/bin/env bash
# Runs one test program under Oclgrind, the OpenCL device simulator that
# checks every kernel for out-of-bounds accesses and data races, and every API
# call for misuse. Used by the meson test setup 'oclgrind' (tests/meson.build):
#
#   meson test -C build --setup=oclgrind --suite ops --print-errorlogs
#
# Oclgrind interprets kernels (CLBlast's GEMM kernels too), so the suites run
# with LEVI_TEST_SMALL=1 and use tiny sizes. Fails when the program fails or
# when Oclgrind reported any problem (its messages are printed). Exits 77
# (skipped) when oclgrind is not installed.
#
# Oclgrind 21.10 (Debian 12) has three defects this script works around:
#  * --uninitialized: a host write into part of a buffer (clEnqueueWriteBuffer
#    at an offset, clEnqueueFillBuffer, which stores pattern by pattern)
#    reallocates the shadow of the whole buffer to the size of that write and
#    stores the "initialized" bits at the offset, past the end of the new
#    shadow: false reports and heap corruption. levi writes tensor views at
#    offsets by design, so the check is opt-in: LEVI_OCLGRIND_UNINIT=1.
#  * the same plugin aborts on LLVM's `freeze` instruction, which the
#    optimizer emits (i / n next to i % n): kernels are built with
#    -cl-opt-disable here, and their binaries get a cache folder of their own.
#  * --log reopens (truncates) its file for every OpenCL context, so a
#    program that creates several contexts loses the earlier reports; the
#    reports are read from stderr instead.
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
if [ -n "${LEVI_CACHE_DIR:-}" ] && [ "$LEVI_CACHE_DIR" != off ]; then
    export LEVI_CACHE_DIR="$LEVI_CACHE_DIR/oclgrind-opt-disable"
fi
checks=(--check-api --data-races)
[ "${LEVI_OCLGRIND_UNINIT:-0}" != 0 ] && checks+=(--uninitialized)

errs=$(mktemp "${TMPDIR:-/tmp}/levi-oclgrind-XXXXXX.txt")
trap 'rm -f "$errs"' EXIT
start=$(date +%s)
oclgrind "${checks[@]}" --max-errors 100 --build-options -cl-opt-disable "$@" 2>"$errs"
rc=$?
cat "$errs" >&2
# Oclgrind's reports: kernel diagnostics carry a "<tab>Kernel: name" line,
# API misuse a banner, plus fatal errors and the error-limit notice.
problems=$(grep -c -E $'^\tKernel: |^Oclgrind - OpenCL runtime error detected|^OCLGRIND FATAL ERROR|errors generated - suppressing' "$errs")
echo "oclgrind_wrap: $(basename "$1") exited $rc after $(($(date +%s) - start)) s under oclgrind" \
     "(${checks[*]}); $problems Oclgrind reports"
if [ "$problems" -gt 0 ] && [ $rc -eq 0 ]; then
    rc=1
fi
exit $rc
