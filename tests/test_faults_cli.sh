#!/usr/bin/env bash
# Crash consistency of levi-cl's host-only outputs, by fault injection
# (tests/faultshim.c through LD_PRELOAD): kill -9 at exact file events,
# ENOSPC, concurrent writers, leftovers of dead processes, stdout on a full
# device, FIFOs given as inputs. No OpenCL device needed.
# usage: test_faults_cli.sh LEVI_CL FAULTSHIM_SO SOURCE_ROOT
set -u
L=$1
SHIM=$2
ROOT=$3
SRC=/usr/share/datasets/fashion-mnist
. "$(dirname "$0")/cli_common.sh"
cli_begin faults-cli
# the shim is preloaded after ASan's runtime when levi-cl is built with it
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
seed_is() { grep -Eq '"seed":[[:space:]]*"'"$2"'"' "$1/manifest.json"; } # DIR N
DEAD=2147483646 # above pid_max: never a live process

# --- stdout on a full device: exit status 1, never a silent short file ---------
"$L" --help >/dev/full 2>"$T/e"
rc=$?; [ $rc -eq 1 ] && grep -q "standard output" "$T/e"
check "--help >/dev/full exits 1 (rc $rc)" $?
cp "$ROOT/results/v1-clblast/pocl-epyc-2c-gemm-default.json" "$T/a.json"
"$L" bench --compare "$T/a.json" "$T/a.json" >"$T/cmp.txt" 2>"$T/e"
rc=$?
if [ $rc -eq 0 ]; then
    "$L" bench --compare "$T/a.json" "$T/a.json" >/dev/full 2>"$T/e"
    rc=$?; [ $rc -eq 1 ] && grep -q "standard output" "$T/e"
    check "bench --compare >/dev/full exits 1 (rc $rc)" $?
else
    echo "note: bench --compare of the sample file failed ($(cat "$T/e")): /dev/full check left out"
fi

# --- FIFOs and other non-regular inputs never block ----------------------------
mkfifo "$T/fifo.json"
timeout 10 "$L" bench --compare "$T/fifo.json" "$T/a.json" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 1 ] && grep -q "FIFO" "$T/e"
r=$?; check "bench --compare of a FIFO fails at once naming it (rc $rc: $(head -c 200 "$T/e"))" $r

if [ ! -r "$SRC/train-images-idx3-ubyte.gz" ]; then
    echo "note: $SRC not installed: fashion-shift checks left out"
    echo "faults CLI: $pass passed, $fails failed"
    exit $((fails > 0))
fi
gen() { "$L" data fashion-shift --limit 20 "$@" >/dev/null 2>>"$T/gen.log"; }
FS="data fashion-shift --limit 20"

# --- --force replacement: the output is never missing ---------------------------
gen --out "$T/dd" --seed 1
check "fashion-shift --limit 20" $?
# a kill right after the first rename that touches dd (before: dd moved aside)
with_fault "rename:1:kill-after:/dd" $FS --out "$T/dd" --seed 2 --force >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 137 ] && [ -f "$T/dd/manifest.json" ]
r=$?; check "kill -9 after the first rename of --force: dd still present (rc $rc; $(ls "$T" | tr '\n' ' '))" $r
gen --out "$T/dd" --seed 2 --force
rc=$?; [ $rc -eq 0 ] && [ -z "$(leftovers "$T/dd")" ] && seed_is "$T/dd" 2
r=$?; check "the rerun succeeds and leaves nothing next to dd (rc $rc; $(leftovers "$T/dd"))" $r
# a file system without RENAME_EXCHANGE: two renames, killed between them
with_fault "exchange:1+:einval,rename:1:kill-after:/dd.old." $FS --out "$T/dd" --seed 3 --force >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 137 ] && [ ! -e "$T/dd" ] && [ -n "$(ls -d "$T"/dd.old.* 2>/dev/null)" ]
r=$?; check "fallback: killed between the renames leaves dd.old.PID (rc $rc; $(ls "$T" | tr '\n' ' '))" $r
"$L" data stats "$T/dd" >/dev/null 2>&1 # a reader sees nothing: the next writer repairs it
with_fault "exchange:1+:einval" $FS --out "$T/dd" --seed 3 --force >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 0 ] && [ -z "$(leftovers "$T/dd")" ] && seed_is "$T/dd" 3
r=$?; check "fallback: the rerun restores, replaces and cleans up (rc $rc; $(leftovers "$T/dd"))" $r
# without --force the restored output is refused, not lost
with_fault "exchange:1+:einval,rename:1:kill-after:/dd.old." $FS --out "$T/dd" --seed 4 --force >/dev/null 2>&1
"$L" $FS --out "$T/dd" --seed 4 >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 2 ] && grep -q "not empty" "$T/e" && seed_is "$T/dd" 3 &&
    [ -z "$(leftovers "$T/dd")" ]
check "recovery without --force brings the previous output back (rc $rc)" $?

# --- leftovers of dead processes are removed by the next writer -----------------
with_fault "open:30:kill:/ee.tmp." $FS --out "$T/ee" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 137 ] && [ -n "$(leftovers "$T/ee")" ] && [ ! -e "$T/ee" ]
check "kill -9 while generating leaves only ee.tmp.PID (rc $rc)" $?
mkdir -p "$T/ee.tmp.$DEAD/train" "$T/ee.old.$DEAD" "$T/ee.tmp-Ab12Cd"
echo x >"$T/ee.tmp.$DEAD.0"
echo x >"$T/ee.lock"
gen --out "$T/ee"
rc=$?; [ $rc -eq 0 ] && [ -z "$(leftovers "$T/ee")" ] && [ ! -e "$T/ee.lock" ]
r=$?; check "the next run removes every temporary of dead writers (rc $rc; $(leftovers "$T/ee"))" $r
sleep 1000 &
live=$!
mkdir "$T/ee.tmp.$live"
gen --out "$T/ee" --force
rc=$?; [ $rc -eq 0 ] && [ -d "$T/ee.tmp.$live" ]
check "a temporary of a live process is kept (rc $rc)" $?
kill $live 2>/dev/null
wait $live 2>/dev/null
rmdir "$T/ee.tmp.$live"

# --- ENOSPC: a clear error, nothing half-written, the old output intact ---------
with_fault "open:40+:enospc:/ee.tmp." $FS --out "$T/ee" --seed 9 --force >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 1 ] && grep -q "No space left" "$T/e" && [ -z "$(leftovers "$T/ee")" ] &&
    seed_is "$T/ee" 0
r=$?; check "ENOSPC while generating: exit 1, old output kept, no temporary (rc $rc: $(head -c 300 "$T/e"))" $r
with_fault "write:1+:enospc:sheet.png" data show "$T/ee" --out "$T/sheet.png" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 1 ] && grep -q "No space left" "$T/e" && [ ! -e "$T/sheet.png" ] && [ -z "$(leftovers "$T/sheet.png")" ]
r=$?; check "ENOSPC writing the contact sheet: exit 1, no file (rc $rc: $(head -c 300 "$T/e"))" $r

# --- one writer per output: the second gets "in use by PID" ---------------------
LD_PRELOAD="$SHIM" LEVI_FAULT="open:1:sleep=4:/ff.tmp." "$L" $FS --out "$T/ff" >/dev/null 2>"$T/e1" &
first=$!
for _ in $(seq 200); do grep -qx "$first" "$T/ff.lock" 2>/dev/null && break; sleep 0.05; done
"$L" $FS --out "$T/ff" --seed 5 >/dev/null 2>"$T/e2"
rc=$?; [ $rc -eq 1 ] && grep -q "in use by PID $first" "$T/e2"
r=$?; check "a second fashion-shift --out ff fails naming PID $first (rc $rc: $(head -c 300 "$T/e2"))" $r
wait $first
rc=$?; [ $rc -eq 0 ] && seed_is "$T/ff" 0 && [ ! -e "$T/ff.lock" ]
check "the first writer finishes and removes its lock (rc $rc)" $?

# --- data text-shift: the same guarantees -------------------------------------------
for s in games sound; do
    i=0
    while [ $i -lt 30 ]; do
        printf 'Package: %s-%02d\nSection: %s\nSource: %s-src%02d\nDescription: %s tool %d\n\n' "$s" $i "$s" "$s" $i "$s" $i
        i=$((i + 1))
    done
done >"$T/pk.txt"
TS="data text-shift --source $T/pk.txt --classes games,sound --train-per-class 5 --test-per-class 4"
"$L" $TS --out "$T/ts" --seed 1 >/dev/null 2>&1
check "text-shift" $?
with_fault "rename:1:kill-after:/ts" $TS --out "$T/ts" --seed 2 --force >/dev/null 2>&1
rc=$?; [ $rc -eq 137 ] && [ -f "$T/ts/manifest.json" ]
check "text-shift --force killed after its first rename: ts still present (rc $rc)" $?
"$L" $TS --out "$T/ts" --seed 2 --force >/dev/null 2>&1 && [ -z "$(leftovers "$T/ts")" ]
check "the next text-shift removes what the killed one left" $?
LD_PRELOAD="$SHIM" LEVI_FAULT="open:1:sleep=2:/ts.tmp." "$L" $TS --out "$T/ts" --force >/dev/null 2>&1 &
first=$!
for _ in $(seq 200); do grep -qx "$first" "$T/ts.lock" 2>/dev/null && break; sleep 0.05; done
"$L" $TS --out "$T/ts" --force >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 1 ] && grep -q "in use by PID $first" "$T/e"
check "a second text-shift --out ts fails naming PID $first (rc $rc)" $?
wait $first

# --- outputs are checked before any work ------------------------------------------
"$L" data show "$T/ee" --out "$T/shdir/" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 2 ] && grep -q "is a folder" "$T/e"
check "data show --out DIR/ is refused (rc $rc)" $?
t0=$(date +%s)
"$L" bench gemm --budget 100 --out "$T/benchdir/" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 2 ] && grep -q "is a folder" "$T/e" && [ $(($(date +%s) - t0)) -lt 10 ]
check "bench --out DIR/ is refused before benchmarking (rc $rc)" $?
touch "$T/afile"
"$L" $FS --out "$T/afile" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 2 ] && grep -q "not a folder" "$T/e"
check "fashion-shift --out FILE is refused (rc $rc)" $?
"$L" data stats "$T/ee" --json >/dev/full 2>"$T/e"
rc=$?; [ $rc -eq 1 ] && grep -q "standard output" "$T/e"
check "data stats --json >/dev/full exits 1 (rc $rc)" $?

cli_end "faults CLI"
