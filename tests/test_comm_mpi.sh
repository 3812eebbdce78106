#!/usr/bin/env bash
# The comm layer across two Open MPI ranks (comm_mpi_check.c): sums,
# configuration check, and a rank that dies, exits with an error, or hangs —
# each time every rank must be gone, with a non-zero exit, within a timeout.
# Skipped (77) when levi-cl was built without MPI.
#   test_comm_mpi.sh CHECK_PROGRAM HAVE_MPI(0|1)
set -uo pipefail
check=$1
if [ "$2" != 1 ] || ! command -v mpirun >/dev/null; then
  echo "built without MPI (or no mpirun): skipped"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
# --oversubscribe: two ranks on a machine that may have fewer cores;
# --allow-run-as-root: CI runs as root.
run() {
  local limit=$1; shift
  rm -f "$tmp"/rank*
  LEVI_TEST_PIDS=$tmp timeout -s KILL "$limit" \
    mpirun --allow-run-as-root --oversubscribe -np 2 "$@" >"$tmp/out" 2>&1
}
left_over() { # pids of ranks still running (a zombie has ended)
  local p s
  for f in "$tmp"/rank*; do
    [ -f "$f" ] || continue
    p=$(cat "$f")
    s=$(ps -o stat= -p "$p" 2>/dev/null) || continue
    case "$s" in Z*) ;; *) echo "$p" ;; esac
  done
}

for mode in sums config; do
  if run 120 "$check" "$mode"; then
    echo "ok: $mode"
  else
    echo "FAIL: $mode (exit $?)"; cat "$tmp/out"; fail=1
  fi
done

# A rank that dies, one that exits with an error, one that hangs (rank 0
# gives up after LEVI_COMM_TIMEOUT=3 s): mpirun must end with a non-zero
# status well before the limit, and no rank may be left.
for mode in die exit hang; do
  t0=$(date +%s)
  LEVI_COMM_TIMEOUT=3 run 60 -x LEVI_COMM_TIMEOUT "$check" "$mode"
  rc=$?
  dt=$(( $(date +%s) - t0 ))
  sleep 0.5
  left=$(left_over)
  if [ "$rc" = 0 ] || [ "$dt" -ge 60 ] || [ -n "$left" ] || [ ! -f "$tmp/rank0" ]; then
    echo "FAIL: $mode: exit $rc after ${dt}s, ranks left: ${left:-none}"; cat "$tmp/out"; fail=1
    [ -n "$left" ] && kill -KILL $left 2>/dev/null
  else
    echo "ok: $mode: every rank gone, exit $rc after ${dt}s"
  fi
  if [ "$mode" = hang ] && ! grep -q "did not complete within 3 s" "$tmp/out"; then
    echo "FAIL: hang: rank 0 did not report the timeout"; cat "$tmp/out"; fail=1
  fi
done
exit $fail
