#!/usr/bin/env bash
# Produce or check the sqllogictest corpus's expected output against PostgreSQL 15.
#   scripts/slt-reference.sh --check        run wire/tests/slt/*.slt against PostgreSQL; must pass
#   scripts/slt-reference.sh --regenerate   rewrite the expected results/SQLSTATEs from PostgreSQL
#   scripts/slt-reference.sh --all-tests    run every wire end-to-end test against PostgreSQL
#                                           (slt, errors, concurrency, clients): the tests' own check
# Not run in CI (it needs a PostgreSQL 15 server). It uses the server on 127.0.0.1:$PGPORT if
# one answers there, else starts one with the peers script ($PEER_SCRIPT, default
# ../shared/peers/postgres.sh beside the repository; PEER_DIR is where its cluster lives).
# Tests run in a database of their own ($SLT_DB), created when missing, so they never touch
# other users' tables.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PGPORT=${PGPORT:-55432}
SLT_DB=${SLT_DB:-omendb_reference}
PEER_SCRIPT=${PEER_SCRIPT:-$root/../shared/peers/postgres.sh}
export PEER_DIR=${PEER_DIR:-$root/../peer-data/postgres}

mode=${1:-}
case $mode in
  --check | --regenerate | --all-tests) ;;
  *) echo "usage: $0 --check | --regenerate | --all-tests" >&2; exit 2 ;;
esac

pg() { psql -X -q -A -t -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"; }

if ! pg -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
  [ -x "$PEER_SCRIPT" ] || [ -f "$PEER_SCRIPT" ] || {
    echo "no PostgreSQL on 127.0.0.1:$PGPORT and no peers script at $PEER_SCRIPT" >&2; exit 1; }
  PGPORT=$PGPORT bash "$PEER_SCRIPT" start
fi
version=$(pg -d postgres -c 'SHOW server_version')
case $version in
  15.*) ;;
  *) echo "the reference must be PostgreSQL 15; 127.0.0.1:$PGPORT runs $version" >&2; exit 1 ;;
esac
if [ "$(pg -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$SLT_DB'")" != 1 ]; then
  pg -d postgres -c "CREATE DATABASE $SLT_DB"
fi
export OMENDB_TEST_URL=postgres://postgres@127.0.0.1:$PGPORT/$SLT_DB
echo "reference: PostgreSQL $version, $OMENDB_TEST_URL"

cd "$root"
case $mode in
  --check) cargo test -p omendb-wire --test slt ;;
  --regenerate)
    OMENDB_SLT_REGENERATE=1 cargo test -p omendb-wire --test slt
    git -C "$root" diff --stat -- wire/tests/slt
    ;;
  --all-tests) cargo test -p omendb-wire --test slt --test errors --test concurrency --test clients ;;
esac
