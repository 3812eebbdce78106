#!/usr/bin/env bash
# Crash consistency of the commands that need an OpenCL device, by fault
# injection (tests/faultshim.c): tune (the stored set survives kill -9, a
# read-only cache is found before the search, --budget holds), pretrain
# (one writer, --force never leaves the output missing, leftovers removed),
# demo (one run per --out, damaged cache entries rebuilt), FIFOs given as
# inputs, stdout on a full device. Tiny sizes; skipped without a device.
# usage: test_faults_device.sh LEVI_CL FAULTSHIM_SO
set -u
L=$1
SHIM=$2
SRC=/usr/share/datasets/fashion-mnist
. "$(dirname "$0")/cli_common.sh"
need_device "$L"
[ -r "$SRC/train-images-idx3-ubyte.gz" ] || { echo "$SRC not installed: skipped"; exit 77; }
cli_begin faults-dev
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; } # seconds since $1
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; } # $1 < $2
DEAD=2147483646

"$L" data fashion-shift --out "$T/fs" --limit 100 >/dev/null 2>&1 || { echo "FAIL: fashion-shift" >&2; exit 1; }

# --- tune --------------------------------------------------------------------------
# the stored set's path (from the error that says none is stored) and a valid set
"$L" tune --show >/dev/null 2>"$T/e"
TF=$(grep -o "(/.*\.json)" "$T/e" | tr -d '()')
[ -n "$TF" ]
r=$?; check "tune --show names the tuning file when none is stored ($(cat "$T/e"))" $r
mkdir -p "$(dirname "$TF")"
"$L" --device list --json | python3 -c '
import json, sys
devs = json.load(sys.stdin)
d = [x for x in devs if x["default"]][0]
json.dump({"format": "levi-cl gemm tuning", "version": 1,
           "device": {"name": d["name"], "vendor": d["vendor"], "driver": d["driver_version"],
                      "platform": d["platform"], "platform_version": d["platform_version"]},
           "GemmRoutine": {"XGEMM_MIN_INDIRECT_SIZE": 48}, "gflops_default": 1, "gflops_tuned": 1e9},
          open(sys.argv[1], "w"))' "$TF"
cp "$TF" "$T/stored.json"
"$L" tune --show >/dev/null 2>&1
check "the hand-written set is valid" $?
# kill -9 at the first program-cache write (after the old tune moved the set aside)
with_fault "open:1:kill:/programs/" tune gemm --budget 30 >/dev/null 2>"$T/e"
rc=$?
cmp -s "$TF" "$T/stored.json" && "$L" tune --show >/dev/null 2>&1 && "$L" --device list | grep -q "GEMM tuned *yes"
r=$?; check "kill -9 during tune keeps the stored set (rc $rc; $(ls "$(dirname "$TF")" | tr '\n' ' '))" $r
# an earlier version's leftover "<file>.previous" is put back
mv "$TF" "$TF.previous"
"$L" --device list | grep -q "GEMM tuned *yes" && [ -f "$TF" ] && [ ! -e "$TF.previous" ]
check "a leftover .previous is restored" $?
# a cache that takes no new file: refused before any search
t0=$(now)
with_fault "open:1+:erofs:/tuning/gemm-" tune gemm --budget 30 >"$T/o" 2>"$T/e"
rc=$?
s=$(elapsed "$t0")
[ $rc -eq 1 ] && grep -q "Read-only file system" "$T/e" && ! grep -q "tuning GEMM on" "$T/o" &&
    lt "$s" 10 && cmp -s "$TF" "$T/stored.json"
r=$?; check "tune with a read-only cache fails before the search (rc $rc, $s s: $(head -c 300 "$T/e"))" $r
# --budget 5 returns within the budget + 25% (+ 1 s for start-up and exit);
# meanwhile a second tune of the device is refused
t0=$(now)
"$L" tune gemm --budget 5 >"$T/o" 2>"$T/e1" &
first=$!
for _ in $(seq 200); do grep -qx "$first" "$TF.lock" 2>/dev/null && break; sleep 0.05; done
"$L" tune gemm --budget 5 >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 1 ] && grep -q "in use by PID $first" "$T/e"
r=$?; check "a second tune of the device fails naming PID $first (rc $rc: $(head -c 200 "$T/e"))" $r
wait $first
rc=$?
s=$(elapsed "$t0")
lt "$s" 7.25 && { [ $rc -eq 0 ] || grep -q "budget" "$T/e1"; } && "$L" tune --show >/dev/null 2>&1
r=$?; check "tune gemm --budget 5 took $s s (rc $rc), the stored set still valid" $r

# --- non-regular inputs never block ----------------------------------------------------
"$L" info >/dev/null 2>&1
entry=$(ls "$LEVI_CACHE_DIR"/programs/* 2>/dev/null | head -1)
if [ -n "$entry" ]; then
    rm -f "$entry" && mkfifo "$entry"
    timeout 60 "$L" info >/dev/null 2>"$T/e"
    rc=$?; [ $rc -eq 0 ] && [ -f "$entry" ]
    check "a FIFO in the program cache is rebuilt, not waited on (rc $rc)" $?
fi
"$L" train --method scratch --data "$T/fs/train" --epochs 1 --batch 16 --out "$T/m.safetensors" >/dev/null 2>&1
check "train scratch (tiny)" $?
mkfifo "$T/model.fifo"
for cmd in "eval --model $T/model.fifo --data $T/fs/test-id" "predict --model $T/model.fifo $T/fs/test-id/0-tshirt/00000.png"; do
    timeout 30 "$L" $cmd >/dev/null 2>"$T/e"
    rc=$?; [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "FIFO" "$T/e"
    r=$?; check "${cmd%% *} --model FIFO fails at once (rc $rc: $(head -c 200 "$T/e"))" $r
done

# --- stdout on a full device ---------------------------------------------------------
png=$(ls "$T"/fs/test-id/0-tshirt/*.png | head -1)
for cmd in "--device list" "--device list --json" "eval --model $T/m.safetensors --data $T/fs/test-id" \
           "eval --model $T/m.safetensors --data $T/fs/test-id --json" "predict --model $T/m.safetensors $png"; do
    "$L" $cmd >/dev/full 2>"$T/e"
    rc=$?; [ $rc -eq 1 ] && grep -q "standard output" "$T/e"
    r=$?; check "$cmd >/dev/full exits 1 (rc $rc)" $r
done

# --- train: resume after the last checkpoint, checked options, one log ------------------
TR="train --method scratch --data $T/fs/train --epochs 2 --batch 16"
with_fault "rename:1:kill:m2.safetensors.tmp." $TR --out "$T/m2.safetensors" >/dev/null 2>&1
rc=$?; [ $rc -eq 137 ] && [ -f "$T/m2.safetensors.ckpt" ] && [ ! -e "$T/m2.safetensors" ]
check "train killed after its last checkpoint, before the model (rc $rc)" $?
"$L" $TR --out "$T/m2.safetensors" --resume "$T/m2.safetensors.ckpt" >"$T/o" 2>"$T/e"
rc=$?; [ $rc -eq 0 ] && [ -f "$T/m2.safetensors" ] && grep -q '"epochs":2' "$T/o" && [ -z "$(leftovers "$T/m2.safetensors")" ]
r=$?; check "resuming a finished checkpoint writes the model (rc $rc: $(tail -c 200 "$T/e"))" $r
"$L" eval --model "$T/m2.safetensors" --data "$T/fs/test-id" >/dev/null 2>&1
check "and the model evaluates" $?
rm -f "$T/m2.safetensors"
with_fault "write:1+:enospc:m2.safetensors.tmp." $TR --out "$T/m2.safetensors" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 1 ] && grep -q "No space left" "$T/e" && [ ! -e "$T/m2.safetensors" ] && [ -z "$(leftovers "$T/m2.safetensors")" ]
r=$?; check "ENOSPC writing the model: exit 1, nothing half-written (rc $rc: $(tail -c 200 "$T/e"))" $r
"$L" $TR --out "$T/m2.safetensors" --resume "$T/m2.safetensors.ckpt" >/dev/null 2>&1 && [ -f "$T/m2.safetensors" ]
check "and --resume then writes it" $?
for opt in "--seed 7" "--lr 0.01" "--limit 3" "--batch 8"; do
    "$L" $TR $opt --out "$T/m2.safetensors" --resume "$T/m2.safetensors.ckpt" >/dev/null 2>"$T/e"
    rc=$?; [ $rc -eq 2 ] && grep -q -- "${opt%% *} is ${opt#* } here but" "$T/e"
    r=$?; check "--resume with $opt is refused naming both values (rc $rc: $(tail -c 200 "$T/e"))" $r
done
python3 - "$T/m2.safetensors.ckpt" "$T/absurd.ckpt" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
h["__metadata__"]["train_state"] = '{"epoch":276447231,"step":12,"seed":0}'
b = json.dumps(h).encode()
b += b" " * (-len(b) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(b)) + b + raw[8 + n:])
PY
"$L" $TR --out "$T/m2.safetensors" --resume "$T/absurd.ckpt" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 1 ] && grep -q "276447231 epochs" "$T/e"
r=$?; check "an absurd stored epoch is refused as it is written (rc $rc: $(tail -c 200 "$T/e"))" $r
# a kill at the end of epoch 2 (its lines logged, its checkpoint not): the log reads as one run
TR3="train --method scratch --data $T/fs/train --epochs 3 --batch 16"
"$L" $TR3 --out "$T/ref.safetensors" --log "$T/ref.jsonl" >/dev/null 2>&1
with_fault "rename:2:kill:m3.safetensors.ckpt.tmp." $TR3 --out "$T/m3.safetensors" --log "$T/m3.jsonl" >/dev/null 2>&1
rc=$?
"$L" $TR3 --out "$T/m3.safetensors" --log "$T/m3.jsonl" --resume "$T/m3.safetensors.ckpt" >/dev/null 2>&1
rc2=$?
python3 - "$T/ref.jsonl" "$T/m3.jsonl" <<'PY'
import json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
key = lambda r: (r["type"], r.get("step", r.get("steps")), r.get("epoch", r.get("epochs")), round(r["loss"], 5))
assert [key(r) for r in got] == [key(r) for r in ref], (len(got), len(ref))
PY
r=$?; check "after a resume the log equals an uninterrupted run's (rc $rc, $rc2; $(wc -l <"$T/m3.jsonl") vs $(wc -l <"$T/ref.jsonl") lines)" $r
cmp -s "$T/m3.safetensors" "$T/ref.safetensors"
check "and so does the model" $?
# one writer per --out; outputs and inputs checked before any work
LD_PRELOAD="$SHIM" LEVI_FAULT="open:1:sleep=2:m4.safetensors.ckpt.tmp." "$L" $TR --out "$T/m4.safetensors" >/dev/null 2>&1 &
first=$!
for _ in $(seq 200); do grep -qx "$first" "$T/m4.safetensors.lock" 2>/dev/null && break; sleep 0.05; done
"$L" $TR --out "$T/m4.safetensors" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 1 ] && grep -q "in use by PID $first" "$T/e"
r=$?; check "a second train --out fails naming PID $first (rc $rc: $(tail -c 200 "$T/e"))" $r
wait $first
check "the first train finishes" $?
mkdir "$T/outdir"
t0=$(now)
"$L" $TR --out "$T/outdir/" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 2 ] && grep -q "is a folder" "$T/e" && lt "$(elapsed "$t0")" 3
r=$?; check "train --out outdir/ fails at once (rc $rc: $(tail -c 200 "$T/e"))" $r
mkdir -p "$T/one/only"
cp "$T"/fs/train/0-tshirt/*.png "$T/one/only/"
"$L" train --method scratch --data "$T/one" --epochs 1 --out "$T/one.safetensors" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 2 ] && grep -q "$T/one holds 1 class folder" "$T/e"
r=$?; check "a one-class ImageFolder's error names the folder (rc $rc: $(tail -c 200 "$T/e"))" $r

# --- a model with many classes: no quadratic output ----------------------------------
mkdir "$T/many"
set -- "$T"/fs/*/*/*.png
for i in $(seq 0 1000); do
    d=$(printf "%s/many/c%04d" "$T" "$i")
    mkdir "$d" && eval "cp \"\${$((i % $# + 1))}\" \"$d/\""
done
n=$(ls "$T/many" | wc -l)
"$L" train --method scratch --data "$T/many" --epochs 1 --batch 64 --out "$T/many.safetensors" >/dev/null 2>"$T/e"
r=$?; check "train scratch on $n classes ($(tail -c 200 "$T/e"))" $r
"$L" eval --model "$T/many.safetensors" --data "$T/many" --confusion "$T/cm.csv" >"$T/o" 2>"$T/e"
rc=$?; [ $rc -eq 0 ] && grep -q "not printed" "$T/o" && [ "$(wc -c <"$T/o")" -lt 200000 ] &&
    [ "$(wc -l <"$T/cm.csv")" -eq $((n + 1)) ] && [ -z "$(leftovers "$T/cm.csv")" ]
r=$?; check "eval of $n classes: no matrix printed ($(wc -c <"$T/o") bytes), --confusion CSV of $n rows (rc $rc)" $r
"$L" eval --model "$T/many.safetensors" --data "$T/many" --json >"$T/o" 2>"$T/e"
rc=$?; [ $rc -eq 0 ] && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["datasets"][0]["confusion"] is None and len(d["datasets"][0]["per_class"]) == int(sys.argv[2])' "$T/o" "$n"
r=$?; check "eval --json of $n classes leaves the matrix out ($(wc -c <"$T/o") bytes, rc $rc)" $r

# --- pretrain -----------------------------------------------------------------------
PT="pretrain --data $T/fs/pretrain --arch vit-tiny --limit 2 --epochs 1 --batch 8"
"$L" $PT --out "$T/bb" >/dev/null 2>&1
rc=$?; [ $rc -eq 0 ] && [ "$(stat -c %a "$T/bb")" = 755 ] && [ -z "$(leftovers "$T/bb")" ]
r=$?; check "pretrain writes a 0755 folder and nothing else (rc $rc, mode $(stat -c %a "$T/bb"))" $r
cp "$T/bb/model.safetensors" "$T/bb1.safetensors"
# --force without RENAME_EXCHANGE, killed between its two renames
with_fault "exchange:1+:einval,rename:1:kill-after:/bb.old." $PT --seed 1 --force --out "$T/bb" >/dev/null 2>&1
rc=$?; [ $rc -eq 137 ] && [ ! -e "$T/bb" ] && [ -n "$(ls -d "$T"/bb.old.* 2>/dev/null)" ]
r=$?; check "pretrain --force killed between the renames (rc $rc: $(ls "$T" | tr '\n' ' '))" $r
mkdir "$T/bb.tmp-Ab12Cd" "$T/bb.tmp.$DEAD"
"$L" $PT --seed 2 --out "$T/bb" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 2 ] && grep -q "not empty" "$T/e" && cmp -s "$T/bb/model.safetensors" "$T/bb1.safetensors" &&
    [ -z "$(leftovers "$T/bb")" ]
r=$?; check "the next pretrain restores bb and removes every leftover (rc $rc; $(leftovers "$T/bb"))" $r
# kill -9 right after the exchange: the new backbone is in place
with_fault "exchange:1:kill-after:/bb" $PT --seed 3 --force --out "$T/bb" >/dev/null 2>&1
rc=$?; [ $rc -eq 137 ] && [ -f "$T/bb/config.json" ] && ! cmp -s "$T/bb/model.safetensors" "$T/bb1.safetensors"
r=$?; check "pretrain --force killed after the exchange: the new backbone is there (rc $rc)" $r
# one writer per --out
LD_PRELOAD="$SHIM" LEVI_FAULT="open:1:sleep=2:/bb.tmp." "$L" $PT --force --out "$T/bb" >/dev/null 2>&1 &
first=$!
for _ in $(seq 200); do grep -qx "$first" "$T/bb.lock" 2>/dev/null && break; sleep 0.05; done
"$L" $PT --force --out "$T/bb" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 1 ] && grep -q "in use by PID $first" "$T/e"
r=$?; check "a second pretrain --out bb fails naming PID $first (rc $rc: $(head -c 200 "$T/e"))" $r
wait $first
check "the first pretrain finishes" $?
[ -z "$(leftovers "$T/bb")" ] && [ ! -e "$T/bb.lock" ]
check "and leaves nothing next to bb" $?

# --- model files whose metadata disagree with themselves ---------------------------------
# edit_meta SRC DST PYTHON: rewrite SRC's __metadata__ (dict m; the config as dict c) into DST
edit_meta() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
m = h["__metadata__"]
c = json.loads(m["config"])
ns = {"m": m, "c": c, "json": json}
exec(sys.argv[3], ns)
m["config"] = ns.get("config_text", json.dumps(ns["c"]))
b = json.dumps(h).encode()
b += b" " * (-len(b) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(b)) + b + raw[8 + n:])
PY
}
"$L" train --method lp --backbone "$T/bb" --data "$T/fs/train" --epochs 1 --batch 16 --out "$T/lp.safetensors" >/dev/null 2>&1
check "train lp (tiny)" $?
# levi's default fusion is late: a checkpoint of a run without --fusion resumes with
# --fusion late and refuses --fusion concat
LV="train --method levi --backbone $T/bb --data $T/fs/train --epochs 1 --batch 16 --out $T/lv.safetensors"
"$L" $LV >/dev/null 2>&1 && rm -f "$T/lv.safetensors" && "$L" $LV --fusion late --resume "$T/lv.safetensors.ckpt" >/dev/null 2>"$T/e"
r=$?; check "levi without --fusion resumes with --fusion late (rc $r: $(tail -c 200 "$T/e"))" $r
"$L" $LV --fusion concat --resume "$T/lv.safetensors.ckpt" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 2 ] && grep -q -- "--fusion is concat here but" "$T/e"
r=$?; check "and refuses --fusion concat (rc $rc: $(tail -c 200 "$T/e"))" $r
for case in "method|m['method'] = 'levi'|'method' is 'levi' but its config's method is 'lp'" \
            "std|c['image_std'] = 0|'image_std' must be positive" \
            "taps|c['taps'] = []|'taps' is empty" \
            "channels|c['channels'] = 3|do not fit the backbone's input"; do
    IFS='|' read -r name code want <<<"$case"
    edit_meta "$T/lp.safetensors" "$T/bad-$name.safetensors" "$code"
    "$L" eval --model "$T/bad-$name.safetensors" --data "$T/fs/test-id" >/dev/null 2>"$T/e"
    rc=$?; [ $rc -eq 1 ] && grep -q "$want" "$T/e" && grep -q "bad-$name.safetensors" "$T/e"
    r=$?; check "a model file with $code is refused naming the file (rc $rc: $(tail -c 200 "$T/e"))" $r
done
# duplicate keys in the config: the last counts, as in Python's json (transformers)
edit_meta "$T/lp.safetensors" "$T/dup.safetensors" \
    "config_text = json.dumps(c).replace('\"num_classes\":', '\"num_classes\": 1, \"num_classes\":', 1)"
"$L" eval --model "$T/dup.safetensors" --data "$T/fs/test-id" >/dev/null 2>"$T/e"
r=$?; check "a config with a duplicate key reads its last value (rc $r: $(tail -c 200 "$T/e"))" $r

# --- demo -------------------------------------------------------------------------------
DEMO="demo --size tiny --methods scratch"
"$L" demo --size tiny --methods scratch,,lp --out "$T/d0" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 2 ] && grep -q "empty name" "$T/e"
check "demo --methods scratch,,lp is refused (rc $rc)" $?
LD_PRELOAD="$SHIM" LEVI_FAULT="open:1:sleep=2:/data.tmp." "$L" $DEMO --out "$T/d1" >/dev/null 2>&1 &
first=$!
for _ in $(seq 200); do grep -qx "$first" "$T/d1.lock" 2>/dev/null && break; sleep 0.05; done
"$L" $DEMO --out "$T/d1" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 1 ] && grep -q "in use by PID $first" "$T/e"
r=$?; check "a second demo --out d1 fails naming PID $first (rc $rc: $(head -c 200 "$T/e"))" $r
wait $first
check "the first demo finishes" $?
# damaged cache entries behind intact markers are rebuilt
bbf=$(ls "$LEVI_CACHE_DIR"/demo/backbone-*/backbone/model.safetensors)
truncate -s 100 "$bbf"
rm -rf "$LEVI_CACHE_DIR"/demo/fashion-shift-*/data/test-ood
"$L" $DEMO --out "$T/d2" >/dev/null 2>"$T/e"
rc=$?; [ $rc -eq 0 ] && grep -q "damaged" "$T/e" && [ -d "$(dirname "$(dirname "$bbf")")" ] &&
    [ "$(stat -c %s "$bbf")" -gt 100 ] && ls -d "$LEVI_CACHE_DIR"/demo/fashion-shift-*/data/test-ood >/dev/null
r=$?; check "demo rebuilds a truncated backbone and a deleted split (rc $rc: $(grep -m2 damaged "$T/e"))" $r

cli_end "faults device"
