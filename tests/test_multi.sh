#!/usr/bin/env bash
# Several devices and ranks from the command line, at the demo's `tiny` size
# (fashion-shift limited to 200 images per class, a vit-tiny backbone
# pretrained for one epoch on 20 per class, training on 20 per class for one
# epoch at batch 32): each way of spreading the work must give the per-step
# loss of the single-device run within 1e-5, and the same accuracy.
#   placement   train and eval --backbone-device 1 (pipeline, LEVI_PROFILE=1
#               must show both stages busy at once)
#   devices     train --devices 0,1 for levi (head gradients) and ft (all),
#               pretrain --devices 0,1, bench train --devices 0,1
#   mpirun      mpirun -np 2 levi-cl train, pretrain and bench train; ranks
#               that disagree on an option;
#               a rank killed mid-run (every rank gone, non-zero, in time)
# Needs two OpenCL devices (POCL_DEVICES="pthread pthread"); the mpirun part
# needs a levi-cl built with MPI.
#   test_multi.sh LEVI_CL HAVE_MPI(0|1)
set -uo pipefail
L=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") # the test runs in a temporary folder
have_mpi=$2
if [ "$("$L" --device list --json 2>/dev/null | grep -c '"index"')" -lt 2 ]; then
  echo "fewer than two OpenCL devices (POCL_DEVICES=\"pthread pthread\" gives two): skipped"
  exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/levi-multi-XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
run() { # name, then the levi-cl arguments; output in name.out / name.err
  local name=$1; shift
  "$L" "$@" >"$name.out" 2>"$name.err" || { bad "$name: exit $?"; tail -n 20 "$name.err"; return 1; }
}
# Per-step losses of two --log files within 1e-5, same steps; same final accuracy.
same_steps() {
  python3 - "$1" "$2" <<'PY' || bad "$1 vs $2"
import json, math, sys
def load(p):
    rows = [json.loads(l) for l in open(p)]
    return [r for r in rows if r["type"] == "step"], [r for r in rows if r["type"] == "epoch"]
(a, ea), (b, eb) = load(sys.argv[1]), load(sys.argv[2])
assert len(a) == len(b) and a, f"{len(a)} steps against {len(b)}"
worst = 0.0
for x, y in zip(a, b):
    d = abs(x["loss"] - y["loss"])
    assert math.isfinite(x["loss"]) and math.isfinite(y["loss"]) and d <= 1e-5, f"step {x['step']}: {x['loss']} vs {y['loss']}"
    assert x["acc"] == y["acc"], f"step {x['step']}: accuracy {x['acc']} vs {y['acc']}"
    worst = max(worst, d)
assert ea[-1]["acc"] == eb[-1]["acc"], f"epoch accuracy {ea[-1]['acc']} vs {eb[-1]['acc']}"
print(f"ok: {sys.argv[1]} = {sys.argv[2]}: {len(a)} steps, worst loss difference {worst:.2g}")
PY
}

"$L" data fashion-shift --out fs --limit 200 --seed 0 >data.log 2>&1 || { cat data.log; exit 1; }
"$L" --device 0 pretrain --data fs/pretrain --arch vit-tiny --epochs 1 --batch 32 --limit 20 --seed 0 --out vit \
  >pre.log 2>pre.err || { cat pre.log pre.err; exit 1; }
TRAIN=(--backbone vit --data fs/train --limit 20 --epochs 1 --batch 32 --seed 0)

# --- bad placements: exit 2 with a message naming the problem, before any work
badopt() { # expected message, then the levi-cl arguments
  local want=$1; shift
  "$L" "$@" >bad.out 2>bad.err; local rc=$?
  [ "$rc" = 2 ] && grep -q -- "$want" bad.err || { bad "levi-cl $*: exit $rc, expected 2 and '$want'"; cat bad.err; }
}
badopt "is named twice" train --devices 0,0 --method levi "${TRAIN[@]}" --out bad.st
badopt "either --device or --devices" --device 0 train --devices 0,1 --method levi "${TRAIN[@]}" --out bad.st
badopt "not supported" train --devices 0,1 --backbone-device 1 --method levi "${TRAIN[@]}" --out bad.st
badopt "out of range" train --devices 0,99 --method levi "${TRAIN[@]}" --out bad.st
badopt "takes no --backbone-device" train --backbone-device 1 --method scratch --data fs/train --out bad.st
[ -e bad.st ] && bad "a model was written by a run with bad options"

# --- placement: backbone stage on device 1, head on device 0 --------------------
run one-nc --device 0 train --method levi "${TRAIN[@]}" --cache-features off --log one-nc.jsonl --out one-nc.st
LEVI_PROFILE=1 run placed --device 0 train --backbone-device 1 --method levi "${TRAIN[@]}" --cache-features off \
  --log placed.jsonl --out placed.st && same_steps one-nc.jsonl placed.jsonl
# The pipeline: both devices computed at the same time.
both=$(sed -n 's/.*both busy \([0-9.]*\) s.*/\1/p' placed.err)
python3 -c "import sys; sys.exit(0 if float('${both:-0}') > 0 else 1)" || bad "placement: no overlap in LEVI_PROFILE=1 output"
grep -q '"devices":\["[^"]*","[^"]*"\]' placed.out || bad "placement: the summary does not name both devices"
run eval-one --device 0 eval --model one-nc.st --data fs/test-ood --limit 10 --batch 16 --json
run eval-placed --device 0 eval --backbone-device 1 --model one-nc.st --data fs/test-ood --limit 10 --batch 16 --json
cmp -s eval-one.out eval-placed.out || bad "eval --backbone-device differs from eval on one device"

# --- data parallel in one process ------------------------------------------------
for method in levi ft; do
  run "one-$method" --device 0 train --method "$method" "${TRAIN[@]}" --log "one-$method.jsonl" --out "one-$method.st" &&
    run "dev-$method" train --devices 0,1 --method "$method" "${TRAIN[@]}" --log "dev-$method.jsonl" \
      --out "dev-$method.st" && same_steps "one-$method.jsonl" "dev-$method.jsonl"
done
grep -q '"world_size":1,"devices":\["[^"]*","[^"]*"\]' dev-levi.out || bad "--devices: world_size/devices not in the summary"
# pretrain (the trainer's ft on a fresh ViT) over both devices: the same backbone
same_summary() { # two stdout files of levi-cl pretrain
  python3 - "$1" "$2" <<'PY' || bad "$1 vs $2"
import json, math, sys
a, b = (json.loads(open(p).read().splitlines()[-1]) for p in sys.argv[1:3])
assert math.isfinite(a["loss"]) and abs(a["loss"] - b["loss"]) <= 1e-5 and a["acc"] == b["acc"] and a["steps"] == b["steps"], (a, b)
print(f"ok: {sys.argv[1]} = {sys.argv[2]}: loss {a['loss']} vs {b['loss']}, accuracy {a['acc']}")
PY
}
PRE=(pretrain --data fs/pretrain --arch vit-tiny --epochs 1 --batch 32 --limit 20 --seed 0)
run pre-dev "${PRE[@]}" --devices 0,1 --out vit-dev && same_summary pre.log pre-dev.out
# bench train over both devices: a one-device and a two-device row per method
bench_ok() { # file, world size
  python3 - "$1" "$2" <<'PY' || bad "bench train: $1"
import json, math, sys
d = json.load(open(sys.argv[1]))
rows = d["results"]
assert d["world_size"] == int(sys.argv[2]) and len(rows) == 8, (d.get("world_size"), len(rows))
for one, two in zip(rows[0::2], rows[1::2]):
    assert one["devices"] == 1 and two["devices"] == 2 and two["global_batch"] == 2 * one["global_batch"], two
    e = two["scaling_efficiency"]
    assert math.isfinite(e) and e > 0 and one["value"] > 0, two
print(f"ok: bench train over 2 devices ({sys.argv[1]}): efficiency",
      ", ".join(f"{r['scaling_efficiency']:.2f}" for r in rows[1::2]))
PY
}
run bench-dev bench train --devices 0,1 --batch 8 --budget 0.5 --out bench-dev.json && bench_ok bench-dev.json 1

# --- Open MPI ranks ----------------------------------------------------------------
if [ "$have_mpi" = 1 ] && command -v mpirun >/dev/null; then
  MPI=(mpirun --allow-run-as-root --oversubscribe -np 2 -x POCL_DEVICES -x LEVI_CACHE_DIR -x LEVI_COMM_TIMEOUT)
  export LEVI_COMM_TIMEOUT=60
  if timeout -s KILL 120 "${MPI[@]}" "$L" train --method levi "${TRAIN[@]}" --log mpi.jsonl --out mpi.st \
      >mpi.out 2>mpi.err; then
    same_steps one-levi.jsonl mpi.jsonl
    grep -q '"world_size":2' mpi.out || bad "mpirun: world_size 2 not in the summary"
    [ "$(grep -c '"type":"summary"' mpi.out)" = 1 ] || bad "mpirun: the summary is not printed once (rank 0 only)"
  else
    bad "mpirun -np 2 levi-cl train: exit $?"; tail -n 20 mpi.err
  fi
  timeout -s KILL 120 "${MPI[@]}" "$L" "${PRE[@]}" --out vit-mpi >pre-mpi.out 2>pre-mpi.err &&
    same_summary pre.log pre-mpi.out || { bad "mpirun pretrain: exit $?"; tail -n 5 pre-mpi.err; }
  timeout -s KILL 120 "${MPI[@]}" "$L" bench train --batch 8 --budget 0.5 --out bench-mpi.json >bench-mpi.out \
    2>bench-mpi.err && bench_ok bench-mpi.json 2 || { bad "mpirun bench train: exit $?"; tail -n 5 bench-mpi.err; }
  # Ranks that disagree: one clear error, every rank exits non-zero.
  timeout -s KILL 120 "${MPI[@]}" sh -c \
    'lr=0.001; [ "$OMPI_COMM_WORLD_RANK" = 1 ] && lr=0.002; exec "$0" train --method levi "$@" --lr $lr --out cfg.st' \
    "$L" "${TRAIN[@]}" >cfg.out 2>cfg.err && bad "mpirun with different --lr per rank succeeded"
  grep -q "ranks disagree on the configuration: option '--lr' is '0.002' on rank 1 but '0.001' on rank 0" cfg.err ||
    { bad "mpirun: no clear error for ranks that disagree"; tail -n 5 cfg.err; }
  [ -e cfg.st ] && bad "mpirun: a model was written although the ranks disagree"
  # Rank 1 is killed two seconds in; rank 0 must not hang.
  t0=$(date +%s)
  timeout -s KILL 120 "${MPI[@]}" sh -c \
    'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then exec timeout -s KILL 2 "$0" "$@"; else exec "$0" "$@"; fi' \
    "$L" train --method levi "${TRAIN[@]}" --epochs 500 --out die.st >die.out 2>die.err
  rc=$?
  dt=$(( $(date +%s) - t0 ))
  if [ "$rc" = 0 ] || [ "$dt" -ge 120 ]; then bad "a killed rank: exit $rc after ${dt}s"; tail -n 5 die.err
  else echo "ok: a killed rank: every rank gone, exit $rc after ${dt}s"; fi
  for _ in 1 2 3 4 5 6 7 8 9 10; do pgrep -f "die.st" >/dev/null || break; sleep 0.5; done
  pgrep -f "die.st" >/dev/null && bad "a killed rank: processes left 5 s after mpirun ended"
else
  echo "built without MPI: the mpirun part is skipped"
fi
exit $fail
