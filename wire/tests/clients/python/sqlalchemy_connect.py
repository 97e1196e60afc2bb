"""SQLAlchemy 2 over psycopg 3: connects (SQLAlchemy asks for version(), current_schema(),
transaction isolation, standard_conforming_strings and a pg_type lookup at connect) and runs
queries with bound parameters. Exits non-zero on any failure. Connection: OMENDB_URL."""
import os
import sys

from sqlalchemy import create_engine, text

URL = os.environ["OMENDB_URL"].replace("postgres://", "postgresql+psycopg://", 1)
TABLE = f"sqla_t_{os.getpid()}"


def check(what, got, want):
    if got != want:
        print(f"FAIL sqlalchemy: {what}: got {got!r}, want {want!r}")
        sys.exit(1)
    print(f"ok sqlalchemy: {what}: {got!r}")


engine = create_engine(URL)
with engine.connect() as conn:
    print(f"ok sqlalchemy: connected, server version info {engine.dialect.server_version_info}")
    check("SELECT 1", conn.execute(text("SELECT 1")).scalar(), 1)
    check("bound parameter", conn.execute(text("SELECT :x + 1"), {"x": 41}).scalar(), 42)
with engine.begin() as conn:
    conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
    conn.execute(text(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, name text)"))
try:
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO {TABLE} (id, name) VALUES (:id, :name)"),
                     [{"id": 1, "name": "one"}, {"id": 2, "name": None}])
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, name FROM {TABLE} ORDER BY id")).all()
        check("rows inserted through executemany", [tuple(r) for r in rows], [(1, "one"), (2, None)])
finally:
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
engine.dispose()
print("sqlalchemy: connect and query passed")
