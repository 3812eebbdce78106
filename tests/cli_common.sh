# Shared pieces of the command-line test scripts (bash; sourced with
# `. "$(dirname "$0")/cli_common.sh"`). After `cli_begin NAME`, $T is a fresh
# folder removed on exit, with LEVI_CACHE_DIR inside it; `check NAME STATUS`
# counts a pass (status 0) or a failure; `cli_end TITLE` prints the counts
# and returns the script's exit status.

# skip (exit 77) unless levi-cl ($1) sees an OpenCL device
need_device() { "$1" --device list >/dev/null 2>&1 || { echo "no OpenCL device: skipped"; exit 77; }; }

cli_begin() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/levi-$1-XXXXXX")
    trap 'rm -rf "$T"' EXIT
    export LEVI_CACHE_DIR="$T/cache"
    pass=0 fails=0
}

check() { # name, status (0 = ok)
    if [ "$2" -eq 0 ]; then pass=$((pass + 1)); else fails=$((fails + 1)); echo "FAIL: $1" >&2; fi
}

cli_end() {
    echo "$1: $pass passed, $fails failed"
    [ "$fails" -eq 0 ]
}

# with_fault SPEC ARGS...: levi-cl ($L) under the fault shim ($SHIM) with LEVI_FAULT=SPEC
with_fault() {
    spec=$1
    shift
    LD_PRELOAD="$SHIM" LEVI_FAULT="$spec" "$L" "$@"
}

# names next to $1 that look like temporaries or moved-aside copies
leftovers() { ls -d "$1".tmp* "$1".old* 2>/dev/null; }
