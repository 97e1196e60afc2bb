#!/usr/bin/env bash
# TPC-H at a large scale factor on this machine (issue 6's "SF 10 runs all 22 queries correctly,
# with peak RSS reported"): a fresh OmenDB server loads the generated data by COPY over the wire
# (generation included), runs the 22 queries once after a warm-up, checks every answer against
# PostgreSQL 15's answers on the same data, and reports the load time, the query times and the
# server's peak and final resident memory (VmHWM, VmRSS).
#
#   scripts/tpch-sf10.sh [SF]        (SF defaults to 10)
#
# Reference answers: $ANSWERS when it holds all 22 (q01.csv … q22.csv; bench/tpch/answers/sf<SF>
# where committed); otherwise PostgreSQL's, taken here
# from the shared cluster ($PG_URL; loading SF 10 into it takes several minutes, and its Q18 needs
# ~20 GB of free disk for temporary files).
#
# Environment (all optional):
#   SHARDS=2  CONNECTIONS=8   OmenDB shards and loading connections
#   OMENDB_PORT=54352
#   PG_URL=postgres://postgres@127.0.0.1:55432/tpch<SF>   (the database is created if missing)
#   PEERS=/work/shared/peers  PEER_DIR=/work/peer-data/postgres   the shared PostgreSQL cluster
#   WORK=target/tpch-sf<SF>   OmenDB's data directory (removed afterwards) and the reports
#   ANSWERS=bench/tpch/answers/sf<SF> if committed, else $WORK/answers (written when incomplete)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/omendb-server.sh
source "$root/scripts/omendb-server.sh"

sf=${1:-10}
SHARDS=${SHARDS:-2}
CONNECTIONS=${CONNECTIONS:-8}
OMENDB_PORT=${OMENDB_PORT:-54352}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:55432/tpch${sf//./_}}
PEERS=${PEERS:-/work/shared/peers}
export PEER_DIR=${PEER_DIR:-/work/peer-data/postgres}
WORK=${WORK:-$root/target/tpch-sf$sf}
committed=$root/bench/tpch/answers/sf$sf
if [ -z "${ANSWERS:-}" ]; then
  ANSWERS=$WORK/answers
  [ -d "$committed" ] && ANSWERS=$committed
fi
bench=$root/target/release/omendb-bench
mkdir -p "$WORK"
log() { printf '\n== %s\n' "$*"; }

log "building release binaries (omendb, omendb-bench)"
cargo build --release -p omendb-wire --bin omendb -p omendb-bench --bin omendb-bench

complete() { [ "$(ls "$ANSWERS"/q[0-2][0-9].csv 2>/dev/null | wc -l)" -eq 22 ]; }
if ! complete; then
  log "reference answers: loading SF $sf into PostgreSQL ($PG_URL) and taking its answers"
  bash "$PEERS/postgres.sh" start
  "$bench" tpch --sf "$sf" --url "$PG_URL" --load auto --load-only --pg-indexes --label postgresql \
    --out "$WORK/postgresql"
  rm -rf "$ANSWERS"
  "$bench" tpch --sf "$sf" --reference-url "$PG_URL" --load skip --write-answers "$ANSWERS" \
    --timeout 3600
  complete || { echo "PostgreSQL did not answer all 22 queries: see above" >&2; exit 1; }
fi

start_omendb "$OMENDB_PORT" "$WORK/omendb-data" "$WORK/omendb.log" --shards "$SHARDS" --log warn

log "OmenDB ($SHARDS shards): load SF $sf by COPY, then the 22 queries (one warm-up, one timed run)"
status=0
"$bench" tpch --sf "$sf" --url "postgres://postgres@127.0.0.1:$OMENDB_PORT/postgres" --load auto \
  --connections "$CONNECTIONS" --runs 1 --answers "$ANSWERS" --label omendb --shards "$SHARDS" \
  --durability "WAL, --sync on" --out "$WORK/omendb" || status=$?
log "OmenDB server memory after the load and all queries"
grep -E '^(VmHWM|VmRSS):' "/proc/$omendb_pid/status"
exit "$status"
