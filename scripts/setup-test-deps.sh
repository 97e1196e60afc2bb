#!/usr/bin/env bash
# Install what OmenDB's tests need on a fresh Debian machine; fast no-op when all is present.
#   scripts/setup-test-deps.sh
# Installs: psql (postgresql-client), pgbench (postgresql-15: Debian ships it with the server,
# in /usr/lib/postgresql/15/bin), a JDK and Debian's pgJDBC (libpostgresql-jdbc-java),
# the pinned Python client libraries (wire/tests/clients/requirements.txt) and node-pg
# (wire/tests/clients/node, from its lockfile). Runs as root without stdin (CI=true) or via sudo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
clients=$root/wire/tests/clients
JDBC_JAR=/usr/share/java/postgresql.jar

say() { echo "setup-test-deps: $*"; }
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_missing=()
command -v psql >/dev/null 2>&1 || apt_missing+=(postgresql-client)
[ -x /usr/lib/postgresql/15/bin/pgbench ] || apt_missing+=(postgresql-15)
command -v javac >/dev/null 2>&1 || apt_missing+=(default-jdk-headless)
[ -f "$JDBC_JAR" ] || apt_missing+=(libpostgresql-jdbc-java)
command -v node >/dev/null 2>&1 || apt_missing+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_missing+=(npm)
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "apt-get install ${apt_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_if_needed apt-get update -qq
  sudo_if_needed apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if ! "$python" - "$clients/requirements.txt" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    name = name.split("[")[0]
    if version(name) != want:
        sys.exit(1)
PY
then
  say "pip install -r wire/tests/clients/requirements.txt"
  "$python" -m pip install -q --disable-pip-version-check --root-user-action=ignore -r "$clients/requirements.txt"
fi

node_dir=$clients/node
if [ ! -f "$node_dir/node_modules/pg/package.json" ] ||
   [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
  say "npm ci in wire/tests/clients/node"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
say "all test dependencies present"
