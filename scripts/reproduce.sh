#!/usr/bin/env bash
# Reproduce every published figure in bench/results/, one step after another on this machine,
# OmenDB beside the peers measured in the same step (PostgreSQL 15 from /work/shared/peers,
# DuckDB 2.0.1 through its peer script). Each step is a script or a benchmark of its own; this
# one only runs them in order and keeps each step's output in $LOGS. Takes a few hours, most of
# it PostgreSQL's TPC-H SF 10 load and queries; run the steps alone to redo one figure.
#
#   scripts/reproduce.sh [STEP ...]     (default: every step, in this order)
#
# Steps and what they write or print:
#   tpch       scripts/tpch-compare.sh 1: TPC-H SF 1, three systems → bench/results/tpch.md
#   load       scripts/tpch-load.sh 1: the SF 1 load against DuckDB's, five interleaved rounds
#   sf10       scripts/tpch-sf10.sh 10: TPC-H SF 10, every answer checked, peak memory
#   kernels    cargo bench: SIMD kernels (criterion, gungraun), segment and learned-index benches
#   durability scripts/bench-durability.sh all → bench/results/commits.md and copy.md
#   pgbench    scripts/bench-pgbench.sh 15 (tpcb-like and select-only, three modes)
#   tpcc       scripts/tpcc-compare.sh 10: TPC-C at 8 and 32 terminals
#
# Environment: passed through to the steps (e.g. PEER_DIR, ROUNDS); LOGS=target/reproduce.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
LOGS=${LOGS:-$root/target/reproduce}
mkdir -p "$LOGS"
export PEER_DIR=${PEER_DIR:-/work/peer-data/postgres}

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(tpch load sf10 kernels durability pgbench tpcc)

run() {
  local name=$1
  shift
  printf '\n===== %s: %s (%s)\n' "$name" "$*" "$(date -u '+%F %T UTC')"
  "$@" 2>&1 | tee "$LOGS/$name.log"
}

for step in "${steps[@]}"; do
  case $step in
    tpch) run tpch env ROUNDS="${ROUNDS:-2}" RUNS="${RUNS:-3}" scripts/tpch-compare.sh 1 ;;
    load) run load env CONNECTIONS=8 ROUNDS=5 scripts/tpch-load.sh 1 ;;
    sf10) run sf10 scripts/tpch-sf10.sh 10 ;;
    kernels)
      run kernels-simd cargo bench -p omendb-bench --bench kernels -- simd
      run kernels-instructions cargo bench -p omendb-bench --bench kernels_instructions
      run segment cargo bench -p omendb-bench --bench segment
      for b in learned_static learned_updatable learned_report; do
        run "$b" cargo bench -p omendb-bench --bench "$b"
      done
      ;;
    durability) run durability scripts/bench-durability.sh all ;;
    pgbench) run pgbench env SCRIPTS="tpcb-like select-only" scripts/bench-pgbench.sh 15 ;;
    tpcc) run tpcc scripts/tpcc-compare.sh 10 ;;
    *)
      echo "unknown step '$step' (tpch load sf10 kernels durability pgbench tpcc)" >&2
      exit 2
      ;;
  esac
done
printf '\nEvery step done; logs in %s\n' "$LOGS"
