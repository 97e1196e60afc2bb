#!/usr/bin/env bash
# Check all 22 TPC-H answers at a scale factor on a release build of OmenDB.
#   scripts/tpch-check.sh [SF] [SHARDS]      (defaults: 0.1 and 2)
# Loads the data in-process generated (tpchgen) over the wire, runs every query once and
# compares each answer with PostgreSQL 15's committed reference (bench/tpch/answers/sfSF/).
# Exits non-zero if any query fails or answers wrongly. scripts/test.sh runs it at SF 0.1; the
# SF 0.01 check runs inside `cargo test` (bench/tests/tpch.rs) with 1 and 2 shards.
set -euo pipefail
sf=${1:-0.1}
shards=${2:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release --bin omendb --bin omendb-bench
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
./target/release/omendb --port "$port" --data-dir "$data" --shards "$shards" --log warn &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
./target/release/omendb-bench tpch --url "postgres://postgres@127.0.0.1:$port/postgres" --sf "$sf" --runs 1
echo "tpch-check: all 22 TPC-H answers right at SF $sf with $shards shard(s)"
