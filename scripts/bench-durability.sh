#!/usr/bin/env bash
# Durability benchmarks, OmenDB beside PostgreSQL 15 in the same run:
#   1. commits/s of single-row INSERTs with 1, 8, 64 clients (both durable: WAL fdatasync /
#      synchronous_commit=on), alternating servers, 3 rounds of SECONDS each;
#   2. COPY of TPC-H lineitem SF 1 (tpchgen) from the same file, and OmenDB's restart time after.
# Results go to bench/results/commits.md and bench/results/copy.md.
#   scripts/bench-durability.sh [commits|copy|all]   (env: SECONDS_PER_RUN, ROUNDS, SHARDS, SYNC, COPY_ROUNDS)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
what=${1:-all}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-3}
SHARDS=${SHARDS:-2}
SYNC=${SYNC:-on}
OPORT=${OPORT:-6560}
PEER_DIR=${PEER_DIR:-/work/peer-data/postgres}
data=${OMENDB_BENCH_DIR:-$root/bench/data}
mkdir -p "$data" bench/results

cargo build --release -p omendb-wire -p omendb-bench >/dev/null
omendb=$root/target/release/omendb
bench=$root/target/release/omendb-bench

# Start the shared PostgreSQL only if it is not running (others may be using it).
PEER_DIR=$PEER_DIR /work/shared/peers/postgres.sh status >/dev/null 2>&1 ||
  PEER_DIR=$PEER_DIR /work/shared/peers/postgres.sh start
pg_url=postgres://postgres@127.0.0.1:55432/postgres
pg_version=$(psql -X -At "$pg_url" -c 'show server_version')
pg_sync=$(psql -X -At "$pg_url" -c 'show synchronous_commit')
commit=$(git rev-parse --short HEAD)$(git diff --quiet || echo "-dirty")
om_url=postgres://postgres@127.0.0.1:$OPORT/postgres

server_pid=
start_omendb() {
  "$omendb" --port "$OPORT" --data-dir "$data/omendb" --shards "$SHARDS" --sync "$SYNC" --log warn \
    >>"$data/omendb.log" 2>&1 &
  server_pid=$!
  until psql -X -At "$om_url" -c 'select 1' >/dev/null 2>&1; do sleep 0.05; done
}
stop_omendb() { kill -TERM "$server_pid"; wait "$server_pid" || true; }
trap '[ -n "$server_pid" ] && kill -9 $server_pid 2>/dev/null || true' EXIT

header() {
  cat <<HDR
Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) vCPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),
Linux $(uname -r). OmenDB commit $commit, release build, --shards $SHARDS, WAL sync **$SYNC**
(fdatasync before the commit is acknowledged). PostgreSQL $pg_version, synchronous_commit=**$pg_sync**,
settings of /work/shared/peers/postgres.sh. Same machine, same run, servers alternated.
HDR
}

if [ "$what" = commits ] || [ "$what" = all ]; then
  rm -rf "$data/omendb"
  start_omendb
  {
    echo "# Commit rate: single-row INSERTs, autocommit, prepared statement"
    echo
    header
    echo
    echo "$SECONDS_PER_RUN s per run, $ROUNDS runs per server and client count; every counted commit"
    echo "was checked to be in the table afterwards."
    echo
    "$bench" commits "$om_url" "$pg_url" "$SECONDS_PER_RUN" "$ROUNDS"
  } >bench/results/commits.md.tmp
  mv bench/results/commits.md.tmp bench/results/commits.md
  stop_omendb
  cat bench/results/commits.md
fi

if [ "$what" = copy ] || [ "$what" = all ]; then
  rm -rf "$data/omendb"
  start_omendb
  out=$("$bench" copy "$om_url" "$pg_url" "$data/lineitem-sf1.tbl" 1 "${COPY_ROUNDS:-3}")
  stop_omendb
  restart_start=$(date +%s.%N)
  start_omendb
  rows=$(psql -X -At "$om_url" -c 'select count(*) from lineitem')
  restart=$(echo "$(date +%s.%N) - $restart_start" | bc)
  wal=$(du -sh "$data/omendb" | cut -f1)
  stop_omendb
  {
    echo "# COPY FROM STDIN: TPC-H lineitem SF 1"
    echo
    header
    echo
    echo "Same file for both (tpchgen 4, dbgen-identical rows, trailing '|' stripped), text format"
    echo "with DELIMITER '|', table without constraints on both; row counts checked after each load."
    echo
    echo '```'
    echo "$out"
    echo '```'
    echo
    echo "OmenDB restart after the load (SIGTERM, start, first answer to count(*) = $rows rows): ${restart} s;"
    echo "data directory $wal."
  } >bench/results/copy.md
  cat bench/results/copy.md
fi
