#!/usr/bin/env bash
# Run every OmenDB test: the one command a newcomer needs.
#   scripts/test.sh [extra cargo test arguments]
# Runs `cargo test --workspace`, which builds the `omendb` binary and includes the end-to-end
# tests in wire/tests: the sqllogictest corpus (slt), SQLSTATE errors, 200 concurrent
# connections, and the real clients (psql, psycopg 3, psycopg2, asyncpg, SQLAlchemy, node-pg,
# pgJDBC, tokio-postgres). It installs nothing: it checks the clients are present and, if not,
# says to run scripts/setup-test-deps.sh once.
# OMENDB_TEST_URL=postgres://user@host:port/db runs the end-to-end tests against that server
# instead of a fresh omendb (scripts/slt-reference.sh --all-tests does so against PostgreSQL).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

missing=()
command -v cargo >/dev/null || missing+=("cargo (Rust toolchain)")
command -v psql >/dev/null || missing+=(psql)
command -v node >/dev/null || missing+=(node)
[ -d wire/tests/clients/node/node_modules/pg ] || missing+=("node-pg (wire/tests/clients/node)")
command -v javac >/dev/null || missing+=(javac)
[ -f /usr/share/java/postgresql.jar ] || missing+=("pgJDBC (libpostgresql-jdbc-java)")
"${PYTHON:-python3}" -c 'import psycopg, psycopg2, asyncpg, sqlalchemy' 2>/dev/null ||
  missing+=("python client libraries (wire/tests/clients/requirements.txt)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'test.sh: missing: %s\n' "${missing[@]}" >&2
  echo "test.sh: run scripts/setup-test-deps.sh once to install them" >&2
  exit 1
fi

start=$(date +%s)
# --no-fail-fast: one failing test binary must not hide the results of the others.
cargo test --workspace --no-fail-fast "$@"
# TPC-H at SF 0.1 on a release build: every answer checked against PostgreSQL's.
scripts/tpch-check.sh 0.1 2
echo "test.sh: all tests passed in $(( $(date +%s) - start ))s"
