"""asyncpg: parameterised queries through the extended protocol (binary format throughout),
NULL parameters, and typed results. Exits non-zero on any failure. Connection: OMENDB_URL."""
import asyncio
import datetime
import os
import sys
from decimal import Decimal

import asyncpg

URL = os.environ["OMENDB_URL"]
TABLE = f"asyncpg_typed_{os.getpid()}"

ROW1 = (1, 9007199254740993, Decimal("12.34"), "hello, world", True,
        datetime.date(2024, 2, 29), datetime.datetime(2024, 2, 29, 13, 14, 15, 500000), 0.25)


def check(what, got, want):
    if got != want or type(got) is not type(want):
        print(f"FAIL asyncpg: {what}: got {got!r} ({type(got).__name__}), want {want!r} ({type(want).__name__})")
        sys.exit(1)
    print(f"ok asyncpg: {what}: {got!r}")


async def main():
    conn = await asyncpg.connect(URL)
    await conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    await conn.execute(
        f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, big bigint, amount numeric(10,2), label text,"
        " flag boolean, day date, at timestamp, score double precision)")
    try:
        insert = f"INSERT INTO {TABLE} VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        status = await conn.execute(insert, *ROW1)
        check("insert status", status, "INSERT 0 1")
        await conn.execute(insert, 2, None, None, None, None, None, None, None)
        await conn.executemany(insert, [(i, i * 10, Decimal(i) / 4, f"row {i}", i % 2 == 0,
                                         datetime.date(2024, 1, i), datetime.datetime(2024, 1, i, 0, 0), i / 8)
                                        for i in range(3, 9)])

        row = await conn.fetchrow(f"SELECT id, big, amount, label, flag, day, at, score FROM {TABLE} WHERE id = $1", 1)
        names = ["integer", "bigint", "numeric", "text", "boolean", "date", "timestamp", "double precision"]
        for name, got, want in zip(names, row.values(), ROW1):
            check(f"typed {name}", got, want)

        nulls = await conn.fetchrow(f"SELECT big, amount, label, flag, day, at, score FROM {TABLE} WHERE id = $1", 2)
        check("NULL columns read back as None", list(nulls.values()), [None] * 7)

        # A NULL parameter compares unknown: no rows; IS NULL through a parameter finds the row.
        check("= NULL parameter", await conn.fetch(f"SELECT id FROM {TABLE} WHERE label = $1", None), [])
        check("coalesce with NULL parameter",
              await conn.fetchval(f"SELECT coalesce($1::text, label) FROM {TABLE} WHERE id = 1", None), "hello, world")

        count = await conn.fetchval(f"SELECT count(*) FROM {TABLE} WHERE big > $1 AND flag = $2", 35, True)
        check("count with bigint and boolean parameters", count, 4)
        total = await conn.fetchval(f"SELECT sum(amount) FROM {TABLE} WHERE day BETWEEN $1 AND $2",
                                    datetime.date(2024, 1, 1), datetime.date(2024, 1, 6))
        check("sum(numeric) with date parameters", total, Decimal("4.50"))
        ids = [r["id"] for r in await conn.fetch(
            f"SELECT id FROM {TABLE} WHERE at >= $1 ORDER BY id LIMIT $2", datetime.datetime(2024, 1, 7), 5)]
        check("timestamp parameter and LIMIT parameter", ids, [1, 7, 8])
        check("parameter type inference", await conn.fetchval("SELECT $1::integer + 1", 41), 42)
        check("float parameter", await conn.fetchval(f"SELECT score * $1 FROM {TABLE} WHERE id = 1", 4.0), 1.0)

        stmt = await conn.prepare(f"SELECT label FROM {TABLE} WHERE id = $1")
        labels = [await stmt.fetchval(i) for i in (3, 4, 99)]
        check("prepared statement reused", labels, ["row 3", "row 4", None])

        status = await conn.execute(f"UPDATE {TABLE} SET label = $1 WHERE id = $2", None, 1)
        check("update with NULL parameter", status, "UPDATE 1")
        check("updated to NULL", await conn.fetchval(f"SELECT label IS NULL FROM {TABLE} WHERE id = 1"), True)
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        await conn.close()
    print("asyncpg: parameterised queries passed")


asyncio.run(main())
