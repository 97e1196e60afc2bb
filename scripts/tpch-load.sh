#!/usr/bin/env bash
# TPC-H load side by side: OmenDB (COPY … FROM STDIN over the wire, from the existing .tbl files,
# generation excluded) and DuckDB 2.0.1 (COPY from the same files, in memory), alternating round by
# round in one run; prints each round's seconds, OmenDB's resident memory after each load against
# the raw data size, and the medians.
#
#   scripts/tpch-load.sh [SF]        (SF defaults to 1)
#
# Environment (all optional):
#   ROUNDS=3                   rounds (each: a fresh OmenDB server loaded once, DuckDB loaded once)
#   SHARDS=2                   OmenDB shards
#   CONNECTIONS=8              OmenDB client connections loading at once
#   OMENDB_PORT=54341          OmenDB's port for the run
#   OMENDB_SYNC=on             OmenDB's WAL sync setting
#   OMENDB=target/release/omendb   the server binary measured
#   DUCKDB_THREADS=2
#   TBL=target/tpch-compare/tbl-sf<SF>   the .tbl files (generated there if missing)
#   WORK=target/tpch-load      OmenDB's data directory and every round's JSON
#   PEERS=/work/shared/peers   duckdb_tpch.py (its table definitions are used)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sf=${1:-1}
ROUNDS=${ROUNDS:-3}
SHARDS=${SHARDS:-2}
CONNECTIONS=${CONNECTIONS:-8}
OMENDB_PORT=${OMENDB_PORT:-54341}
OMENDB_SYNC=${OMENDB_SYNC:-on}
OMENDB=${OMENDB:-$root/target/release/omendb}
DUCKDB_THREADS=${DUCKDB_THREADS:-2}
TBL=${TBL:-$root/target/tpch-compare/tbl-sf$sf}
WORK=${WORK:-$root/target/tpch-load}
PEERS=${PEERS:-/work/shared/peers}
bench=$root/target/release/omendb-bench
url=postgres://postgres@127.0.0.1:$OMENDB_PORT/postgres
mkdir -p "$WORK"

if [ ! -f "$TBL/.complete" ]; then
  echo "== generating SF $sf .tbl files into $TBL"
  rm -rf "$TBL"
  "$bench" tpch --sf "$sf" --write-tbl "$TBL"
  touch "$TBL/.complete"
fi
raw=$(cat "$TBL"/*.tbl | wc -c)

pid=
stop() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
  fi
}
trap stop EXIT

duckdb_load() {
  python3 - "$TBL" "$PEERS/duckdb_tpch.py" "$DUCKDB_THREADS" <<'PY'
import ast, os, sys, time
import duckdb
tbl, peer, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
# The peer script's own table definitions, so the load is exactly the one it times.
tables = next(ast.literal_eval(n.value) for n in ast.parse(open(peer).read()).body
              if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "TABLES")
con = duckdb.connect()
con.execute(f"SET threads={threads}")
t0 = time.perf_counter()
for t, cols in tables.items():
    con.execute(f"CREATE TABLE {t} ({cols})")
    con.execute(f"COPY {t} FROM '{os.path.join(tbl, t + '.tbl')}' (DELIMITER '|', HEADER false)")
print(f"{time.perf_counter() - t0:.3f}")
PY
}

omendb_load() {
  local out=$1
  stop
  rm -rf "$WORK/data"
  "$OMENDB" --port "$OMENDB_PORT" --listen 127.0.0.1 --shards "$SHARDS" --data-dir "$WORK/data" \
    --log warn --sync "$OMENDB_SYNC" >>"$WORK/omendb.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$OMENDB_PORT") 2>/dev/null && break
    sleep 0.1
  done
  "$bench" tpch --sf "$sf" --url "$url" --load copy --from-tbl "$TBL" --load-only \
    --connections "$CONNECTIONS" --label omendb --shards "$SHARDS" \
    --durability "WAL, --sync $OMENDB_SYNC" --out "$out" >"$out.log" 2>&1 ||
    { tail -5 "$out.log" >&2; return 1; }
  sleep 2
  rss=$(awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$pid/status")
  # The server's CPU seconds (user + system) for start-up and the load: steadier than the wall
  # time on a shared machine.
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$pid/stat")
  o=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['load']['load_s'])" \
    "$out/tpch-omendb-sf$sf.json")
}

omen=() duck=()
echo "round | OmenDB load s | OmenDB server CPU s | OmenDB RSS after load (x raw) | DuckDB load s | load avg"
for r in $(seq "$ROUNDS"); do
  omendb_load "$WORK/round$r"  # sets o, rss and cpu (not in a subshell: it owns the server)
  d=$(duckdb_load)
  omen+=("$o") duck+=("$d")
  printf '%s | %.2f | %.1f | %.2f GiB (%.2fx) | %.2f | %s\n' "$r" "$o" "$cpu" \
    "$(echo "$rss / 2^30" | bc -l)" "$(echo "$rss / $raw" | bc -l)" "$d" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
stop
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mo=$(median "${omen[@]}") md=$(median "${duck[@]}")
printf 'median over %s rounds: OmenDB %.2f s, DuckDB %.2f s, OmenDB / DuckDB = %.2fx (raw data %.2f GiB)\n' \
  "$ROUNDS" "$mo" "$md" "$(echo "$mo / $md" | bc -l)" "$(echo "$raw / 2^30" | bc -l)"
