"""The seed's examples, verbatim, through psycopg 3 or psycopg2 (argv[1]: psycopg | psycopg2).

Creates `events` and `orders`, inserts the seed's rows, and checks the seed's two queries
return exactly the rows just inserted. Exits non-zero on any failure. Connection: OMENDB_URL.
"""
import os
import sys
from decimal import Decimal

DRIVER = sys.argv[1] if len(sys.argv) > 1 else "psycopg"
URL = os.environ["OMENDB_URL"]

SEED = [
    "CREATE TABLE events (id SERIAL PRIMARY KEY, user_id INTEGER, event_type TEXT, created_at TIMESTAMP DEFAULT NOW())",
    "INSERT INTO events (user_id, event_type) VALUES (123, 'purchase'), (456, 'signup');",
]
EVENTS_QUERY = "SELECT event_type, COUNT(*) FROM events WHERE created_at > NOW() - INTERVAL '5 minutes' GROUP BY event_type;"
# The seed shows no CREATE for orders; this is the table its INSERT and SELECT imply.
ORDERS_SETUP = [
    "CREATE TABLE orders (customer_id INTEGER, amount NUMERIC(10,2), created_at TIMESTAMP DEFAULT NOW())",
    "INSERT INTO orders (customer_id, amount) VALUES (123, 49.99);",
]
ORDERS_QUERY = "SELECT customer_id, SUM(amount) FROM orders WHERE created_at > NOW() - INTERVAL '1 hour' GROUP BY customer_id;"


def connect():
    if DRIVER == "psycopg":
        import psycopg

        return psycopg.connect(URL, autocommit=True)
    if DRIVER == "psycopg2":
        import psycopg2

        conn = psycopg2.connect(URL)
        conn.autocommit = True
        return conn
    sys.exit(f"unknown driver {DRIVER}")


def check(what, got, want):
    if got != want:
        print(f"FAIL {DRIVER}: {what}: got {got!r}, want {want!r}")
        sys.exit(1)
    print(f"ok {DRIVER}: {what}: {got!r}")


def main():
    conn = connect()
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS events")
    cur.execute("DROP TABLE IF EXISTS orders")
    try:
        for sql in SEED:
            cur.execute(sql)
        check("INSERT INTO events rowcount", cur.rowcount, 2)
        cur.execute(EVENTS_QUERY)
        check("events by type, last 5 minutes", sorted(cur.fetchall()), [("purchase", 1), ("signup", 1)])
        for sql in ORDERS_SETUP:
            cur.execute(sql)
        check("INSERT INTO orders rowcount", cur.rowcount, 1)
        cur.execute(ORDERS_QUERY)
        check("orders by customer, last hour", cur.fetchall(), [(123, Decimal("49.99"))])
    finally:
        cur.execute("DROP TABLE IF EXISTS events")
        cur.execute("DROP TABLE IF EXISTS orders")
        conn.close()
    print(f"{DRIVER}: seed examples passed")


main()
