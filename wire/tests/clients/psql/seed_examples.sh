#!/usr/bin/env bash
# The seed's examples, verbatim, through psql; checks the rows the two queries return.
# Connection: OMENDB_URL. Exits non-zero on any failure.
set -euo pipefail
url=${OMENDB_URL:?OMENDB_URL must name the server}
psql_run() { psql "$url" -X -q -A -t -F '|' -v ON_ERROR_STOP=1 "$@"; }
cleanup() { psql_run -c 'SET client_min_messages = warning' -c 'DROP TABLE IF EXISTS events' -c 'DROP TABLE IF EXISTS orders'; }
check() {
  if [ "$2" != "$3" ]; then
    printf 'FAIL psql: %s:\n--- got\n%s\n--- want\n%s\n' "$1" "$2" "$3"; exit 1
  fi
  printf 'ok psql: %s: %s\n' "$1" "$(echo "$2" | tr '\n' ' ')"
}
cleanup
trap cleanup EXIT

events=$(psql_run <<'SQL' | sort
CREATE TABLE events (id SERIAL PRIMARY KEY, user_id INTEGER, event_type TEXT, created_at TIMESTAMP DEFAULT NOW());
INSERT INTO events (user_id, event_type) VALUES (123, 'purchase'), (456, 'signup');
SELECT event_type, COUNT(*) FROM events WHERE created_at > NOW() - INTERVAL '5 minutes' GROUP BY event_type;
SQL
)
check "events by type, last 5 minutes" "$events" "$(printf 'purchase|1\nsignup|1')"

# The seed shows no CREATE for orders; this is the table its INSERT and SELECT imply.
orders=$(psql_run <<'SQL'
CREATE TABLE orders (customer_id INTEGER, amount NUMERIC(10,2), created_at TIMESTAMP DEFAULT NOW());
INSERT INTO orders (customer_id, amount) VALUES (123, 49.99);
SELECT customer_id, SUM(amount) FROM orders WHERE created_at > NOW() - INTERVAL '1 hour' GROUP BY customer_id;
SQL
)
check "orders by customer, last hour" "$orders" "123|49.99"

echo "psql: seed examples passed"
