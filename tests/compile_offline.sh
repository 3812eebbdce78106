#!/usr/bin/env bash
# Vendor portability without the hardware: compile every kernel file in cl/
# offline, with the build options the runtime uses, for
#   Intel Xe   ocloc (Debian intel-opencl-icd)   -device dg2, tgllp
#   AMD        clang-14 amdgcn-amd-amdhsa        -mcpu=gfx906, gfx1030
#   NVIDIA     clang-14 nvptx64-nvidia-nvcl      PTX
# One line per file × target; any compile error fails the run (the compiler's
# messages are printed). Exits 77 (skipped) when neither ocloc nor clang-14 is
# installed. Kernel files are globbed at run time, so new ones are covered.
#
#   tests/compile_offline.sh [SOURCE_ROOT]      (default: the folder above this script)
set -uo pipefail
root=${1:-"$(cd "$(dirname "$0")/.." && pwd)"}
cl_dir="$root/cl"

# The runtime's options (src/runtime/context.c, derive_build_options): every
# device we target reports OpenCL C 1.2, and ctx->wg is min(64, device max).
opts="-cl-std=CL1.2 -DLEVI_WG=64"
ctx_c="$root/src/runtime/context.c"
if [ -f "$ctx_c" ] && ! { grep -q -- '-cl-std=CL1.2' "$ctx_c" && grep -q -- '-DLEVI_WG=%zu' "$ctx_c"; }; then
    echo "compile_offline: the build options in $ctx_c changed; update opts in $0" >&2
    exit 1
fi

have_ocloc=0; command -v ocloc >/dev/null 2>&1 && have_ocloc=1
clang=""; for c in clang-14 clang; do command -v "$c" >/dev/null 2>&1 && { clang=$c; break; }; done
if [ $have_ocloc = 0 ] && [ -z "$clang" ]; then
    echo "compile_offline: neither ocloc nor clang-14 is installed: skipped"
    exit 77
fi

shopt -s nullglob
files=("$cl_dir"/*.cl)
if [ ${#files[@]} -eq 0 ]; then
    echo "compile_offline: no .cl files in $cl_dir" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/levi-offline-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0; ok=0; skipped=0

# run NAME FILE COMMAND...: one result line; the log is shown on failure
run() {
    local target=$1 file=$2; shift 2
    local log="$tmp/log"
    if "$@" >"$log" 2>&1; then
        printf '  ok    %-22s %s\n' "$(basename "$file")" "$target"
        ok=$((ok + 1))
    else
        printf '  FAIL  %-22s %s\n' "$(basename "$file")" "$target"
        sed 's/^/        /' "$log" | head -40
        fail=$((fail + 1))
    fi
}

skip() {
    printf '  skip  %-22s %s (%s not installed)\n' "$(basename "$2")" "$1" "$3"
    skipped=$((skipped + 1))
}

echo "compile_offline: ${#files[@]} files, options \"$opts\""
for f in "${files[@]}"; do
    for dev in dg2 tgllp; do
        if [ $have_ocloc = 1 ]; then
            run "intel-$dev (ocloc)" "$f" ocloc compile -file "$f" -device "$dev" -options "$opts" \
                -out_dir "$tmp/ocloc" -output kernel
        else
            skip "intel-$dev" "$f" ocloc
        fi
    done
    for gfx in gfx906 gfx1030; do
        if [ -n "$clang" ]; then
            # shellcheck disable=SC2086
            run "amd-$gfx ($clang)" "$f" "$clang" $opts -Xclang -finclude-default-header \
                -target amdgcn-amd-amdhsa -mcpu="$gfx" -nogpulib -c -o /dev/null "$f"
        else
            skip "amd-$gfx" "$f" clang-14
        fi
    done
    if [ -n "$clang" ]; then
        # PTX text only (-S): the host assembler does not read PTX
        # shellcheck disable=SC2086
        run "nvidia-ptx ($clang)" "$f" "$clang" $opts -Xclang -finclude-default-header \
            -target nvptx64-nvidia-nvcl -nogpulib -S -o /dev/null "$f"
    else
        skip "nvidia-ptx" "$f" clang-14
    fi
done
echo "compile_offline: $ok ok, $fail failed, $skipped skipped"
[ $fail -eq 0 ]
