#!/usr/bin/env bash
# TPC-C side by side (issue 7's must-show 3): OmenDB and PostgreSQL 15 each loaded afresh with
# the same number of warehouses by `omendb-bench tpcc` (spec data, then bench/tpcc/indexes.sql),
# then for each terminal count the two runs back to back, OmenDB first, so both see the same
# hour's disk. Every run checks consistency conditions 1-4 afterwards (a failure fails the
# script). Prints each run's tpmC, the ratio and the load average; the full reports (latency
# percentiles per transaction) are in $WORK.
#
#   scripts/tpcc-compare.sh [WAREHOUSES]        (defaults to 10)
#
# Environment (all optional):
#   TERMINALS="8 32"  DURATION=60  WARMUP=10
#   SHARDS=2  OMENDB_PORT=54661  OMENDB_SYNC=on
#   PG_URL=postgres://postgres@127.0.0.1:55432/tpcc_idx   (the database is created if missing)
#   PEERS=/work/shared/peers  PEER_DIR=/work/peer-data/postgres   the shared PostgreSQL cluster
#   WORK=target/tpcc-compare   OmenDB's data directory (removed afterwards) and the reports
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/omendb-server.sh
source "$root/scripts/omendb-server.sh"

warehouses=${1:-10}
TERMINALS=${TERMINALS:-8 32}
DURATION=${DURATION:-60}
WARMUP=${WARMUP:-10}
SHARDS=${SHARDS:-2}
OMENDB_PORT=${OMENDB_PORT:-54661}
OMENDB_SYNC=${OMENDB_SYNC:-on}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:55432/tpcc_idx}
PEERS=${PEERS:-/work/shared/peers}
export PEER_DIR=${PEER_DIR:-/work/peer-data/postgres}
WORK=${WORK:-$root/target/tpcc-compare}
bench=$root/target/release/omendb-bench
omen_url=postgres://postgres@127.0.0.1:$OMENDB_PORT/postgres
mkdir -p "$WORK"
log() { printf '\n== %s\n' "$*"; }

log "building release binaries (omendb, omendb-bench)"
cargo build --release -p omendb-wire --bin omendb -p omendb-bench --bin omendb-bench
bash "$PEERS/postgres.sh" start

start_omendb "$OMENDB_PORT" "$WORK/omendb-data" "$WORK/omendb.log" --shards "$SHARDS" \
  --sync "$OMENDB_SYNC" --log info

# A one-terminal run of a few seconds loads each system (the harness loads unless --skip-load).
log "loading $warehouses warehouses into OmenDB and PostgreSQL"
"$bench" tpcc --url "$omen_url" --warehouses "$warehouses" --terminals 1 --duration 5 --warmup 0 \
  --label omendb-load --out "$WORK" | grep -E '^Load'
"$bench" tpcc --url "$PG_URL" --warehouses "$warehouses" --terminals 1 --duration 5 --warmup 0 \
  --label postgresql-load --out "$WORK" | grep -E '^Load'

tpmc() { sed -nE 's/^\*\*tpmC ([0-9]+)\*\*.*/\1/p' "$1"; }
for t in $TERMINALS; do
  for system in omendb postgresql; do
    url=$omen_url
    [ "$system" = postgresql ] && url=$PG_URL
    log "$system, $t terminals, ${DURATION}s after ${WARMUP}s warm-up (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    "$bench" tpcc --url "$url" --skip-load --warehouses "$warehouses" --terminals "$t" \
      --duration "$DURATION" --warmup "$WARMUP" --label "$system-t$t" --out "$WORK" \
      >"$WORK/$system-t$t.log" 2>&1 ||
      { tail -20 "$WORK/$system-t$t.log" >&2; exit 1; }
    grep -E '^\*\*tpmC|^\| (New-Order|Payment|Order-Status|Delivery|Stock-Level) |condition' \
      "$WORK/$system-t$t.log"
  done
  o=$(tpmc "$WORK/omendb-t$t.log") p=$(tpmc "$WORK/postgresql-t$t.log")
  printf '\n%s terminals: OmenDB %s tpmC, PostgreSQL %s tpmC, OmenDB / PostgreSQL = %.2fx\n' \
    "$t" "$o" "$p" "$(echo "$o / $p" | bc -l)"
done
log "OmenDB checkpoints during the runs (commits pause while one freezes)"
grep -E 'checkpoint [0-9]+:' "$WORK/omendb.log" | sed -E 's/^.*(checkpoint [0-9]+:)/\1/' || true
