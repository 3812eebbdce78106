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

# fail MESSAGE: count a failure ($fails) and say why
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# expect STATUS PATTERN ARGS...: levi-cl ($L) with ARGS must exit with STATUS and
# print PATTERN (stdout or stderr, kept in $T/out and $T/err); a failure otherwise
expect() {
    want=$1 pat=$2
    shift 2
    "$L" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -ne "$want" ] || ! grep -q -- "$pat" "$T/err" "$T/out"; then
        echo "FAIL: levi-cl $* -> exit $rc (want $want, '$pat'), output:" >&2
        cat "$T/out" "$T/err" >&2
        fails=$((fails + 1))
    fi
}
