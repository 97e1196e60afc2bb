#!/usr/bin/env bash
# pgbench throughput, OmenDB beside PostgreSQL 15 on the same machine in the same run.
#   scripts/bench-pgbench.sh [seconds]        (default 20)
# OmenDB: the release binary ($OMENDB_BIN), started here with its defaults (--sync on, one
# shard per core) in a fresh data directory. PostgreSQL: the server on 127.0.0.1:$PGPORT
# (default 55432) with its defaults (synchronous_commit on), database $PG_DB. Both:
# pgbench -i -s $SCALE (default 10), then for every script in $SCRIPTS and mode in $MODES:
# pgbench -c 8 -j 2 -T seconds -M mode -b script, OmenDB and PostgreSQL back to back (so both
# see the same machine load). Prints pgbench's tps lines, the ratio and the load average.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_RUN=${1:-20}
SCALE=${SCALE:-10}
SCRIPTS=${SCRIPTS:-tpcb-like select-only}
MODES=${MODES:-simple extended prepared}
PGPORT=${PGPORT:-55432}
PG_DB=${PG_DB:-pgbench_ref}
OMENDB_PORT=${OMENDB_PORT:-5599}
OMENDB_BIN=${OMENDB_BIN:-$root/target/release/omendb}
PGBENCH=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
data=$(mktemp -d /tmp/omendb-pgbench.XXXXXX)

[ -x "$OMENDB_BIN" ] || cargo build --release -p omendb-wire --bin omendb --manifest-path "$root/Cargo.toml"
"$OMENDB_BIN" --port "$OMENDB_PORT" --data-dir "$data" >"$data.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
for _ in $(seq 100); do
  psql -X -q -h 127.0.0.1 -p "$OMENDB_PORT" -U postgres -c 'SELECT 1' postgres >/dev/null 2>&1 && break
  sleep 0.1
done
psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -c "CREATE DATABASE $PG_DB" postgres 2>/dev/null || true

omendb=(-h 127.0.0.1 -p "$OMENDB_PORT" -U postgres postgres)
postgres=(-h 127.0.0.1 -p "$PGPORT" -U postgres "$PG_DB")
echo "omendb init: $("$PGBENCH" -q -i -s "$SCALE" "${omendb[@]}" 2>&1 | tail -1)"
echo "postgres init: $("$PGBENCH" -q -i -s "$SCALE" "${postgres[@]}" 2>&1 | tail -1)"
tps_of() { sed -nE 's/^tps = ([0-9.]+).*/\1/p'; }
for script in $SCRIPTS; do
  for mode in $MODES; do
    declare -A tps=()
    for target in omendb postgres; do
      declare -n conn=$target
      out=$("$PGBENCH" -c 8 -j 2 -T "$SECONDS_PER_RUN" -M "$mode" -b "$script" "${conn[@]}" 2>&1)
      tps[$target]=$(tps_of <<<"$out")
      failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' <<<"$out")
      echo "$target $script $mode: tps ${tps[$target]:-?} failed ${failed:-?}"
    done
    echo "ratio $script $mode: $(awk -v a="${tps[omendb]:-0}" -v b="${tps[postgres]:-1}" 'BEGIN{printf "%.2f", a/b}')x  load: $(cut -d' ' -f1-3 /proc/loadavg)"
  done
done
