#!/bin/sh
# levi-cl data as a user meets it: exit codes (2 usage, 1 failure), errors that
# name the bad input, no output left behind on failure, and a tiny benchmark
# generated twice with identical bytes. No OpenCL device needed.
# usage: test_data_cli.sh LEVI_CL
set -u
L=$1
SRC=/usr/share/datasets/fashion-mnist
T=$(mktemp -d "${TMPDIR:-/tmp}/levi-data-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
# expect RC PATTERN ARGS...: run levi-cl, check the exit code and that stderr matches
expect() {
    want=$1 pat=$2
    shift 2
    "$L" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -ne "$want" ] || ! grep -q -- "$pat" "$T/err"; then
        echo "FAIL: levi-cl $* -> exit $rc (want $want), stderr:" >&2
        cat "$T/err" >&2
        fails=$((fails + 1))
    fi
}
expect 2 "usage" data
expect 2 "unknown subcommand 'nope'" data nope
expect 2 "needs --out" data fashion-shift
expect 2 "unexpected argument '--bogus'" data fashion-shift --out "$T/x" --bogus
expect 2 "subdomain 'sepia'" data fashion-shift --out "$T/x" --subdomain sepia
expect 2 "rho-b" data fashion-shift --out "$T/x" --rho-b 1.5
expect 2 "limit" data fashion-shift --out "$T/x" --limit 0
expect 1 "source folder '$T/nosrc'" data fashion-shift --out "$T/x" --source "$T/nosrc"
mkdir "$T/emptysrc"
expect 1 "train-images-idx3-ubyte.gz" data fashion-shift --out "$T/x" --source "$T/emptysrc"
[ -e "$T/x" ] && { echo "FAIL: a failed run left $T/x behind" >&2; fails=$((fails + 1)); }
expect 1 "cannot open folder '$T/missing'" data show "$T/missing" --out "$T/s.png"
expect 1 "not a folder" data stats /etc/passwd
expect 2 "needs DIR" data stats
if [ -r "$SRC/train-images-idx3-ubyte.gz" ]; then
    for d in a b; do
        "$L" data fashion-shift --out "$T/$d" --limit 20 --seed 3 --subdomain blur >/dev/null 2>&1 ||
            { echo "FAIL: fashion-shift --limit 20 ($d)" >&2; fails=$((fails + 1)); }
    done
    diff -r "$T/a" "$T/b" >/dev/null || { echo "FAIL: two identical runs differ" >&2; fails=$((fails + 1)); }
    expect 2 "not empty (pass --force" data fashion-shift --out "$T/a" --limit 20
    "$L" data stats "$T/a" --json >"$T/stats.json" || fails=$((fails + 1))
    grep -q '"test-ood":{"classes":{.*"total":20}' "$T/stats.json" ||
        { echo "FAIL: stats --json: $(cat "$T/stats.json")" >&2; fails=$((fails + 1)); }
    "$L" data show "$T/a" --out "$T/sheet.png" --per-class 1 >/dev/null || fails=$((fails + 1))
    [ -s "$T/sheet.png" ] || { echo "FAIL: no contact sheet" >&2; fails=$((fails + 1)); }
    expect 1 "sheet.png" data show "$T/a" --out "$T/no/such/sheet.png"
    ls "$T/no" >/dev/null 2>&1 && { echo "FAIL: show left output behind" >&2; fails=$((fails + 1)); }
else
    echo "note: $SRC not installed: generator checks left out"
fi
[ "$fails" -eq 0 ] && echo "data CLI: all checks passed"
exit $((fails > 0))
