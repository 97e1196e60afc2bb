#!/usr/bin/env bash
# pgbench throughput, OmenDB beside PostgreSQL 15 on the same machine in the same run.
#   scripts/bench-pgbench.sh [seconds]        (default 20)
# OmenDB: the release binary, started here with its defaults (--sync on, one shard per core)
# in a fresh data directory. PostgreSQL: the server on 127.0.0.1:$PGPORT (default 55432) with
# its defaults (synchronous_commit on), database $PG_DB. Both: pgbench -i -s $SCALE, then
# -c 8 -j 2 -T seconds -M prepared with tpcb-like and select-only. Prints pgbench's tps lines.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_RUN=${1:-20}
SCALE=${SCALE:-1}
PGPORT=${PGPORT:-55432}
PG_DB=${PG_DB:-pgbench_ref}
OMENDB_PORT=${OMENDB_PORT:-5599}
PGBENCH=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
data=$(mktemp -d /tmp/omendb-pgbench.XXXXXX)

[ -x "$root/target/release/omendb" ] || cargo build --release -p omendb-wire --manifest-path "$root/Cargo.toml"
"$root/target/release/omendb" --port "$OMENDB_PORT" --data-dir "$data" >"$data.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
for _ in $(seq 100); do
  psql -X -q -h 127.0.0.1 -p "$OMENDB_PORT" -U postgres -c 'SELECT 1' postgres >/dev/null 2>&1 && break
  sleep 0.1
done

omendb=(-h 127.0.0.1 -p "$OMENDB_PORT" -U postgres postgres)
postgres=(-h 127.0.0.1 -p "$PGPORT" -U postgres "$PG_DB")
"$PGBENCH" -q -i -s "$SCALE" "${omendb[@]}" 2>&1 | tail -1
"$PGBENCH" -q -i -s "$SCALE" "${postgres[@]}" 2>&1 | tail -1
for script in tpcb-like select-only; do
  for target in omendb postgres; do
    declare -n conn=$target
    tps=$("$PGBENCH" -c 8 -j 2 -T "$SECONDS_PER_RUN" -M prepared -b "$script" "${conn[@]}" 2>&1 |
      grep -E '^(tps|number of failed)' | tr '\n' ' ')
    echo "$target $script: $tps"
  done
done
