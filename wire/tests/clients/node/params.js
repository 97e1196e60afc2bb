// node-pg: parameterised queries through the extended protocol, NULL parameters, typed results.
// Exits non-zero on any failure. Connection: OMENDB_URL. Run with TZ=UTC (dates parse as local).
'use strict';
const assert = require('node:assert/strict');
const { Client, types } = require('pg');

// Read bigint as BigInt and numeric as a string, so no value passes through a double.
types.setTypeParser(types.builtins.INT8, (v) => BigInt(v));
const TABLE = `node_typed_${process.pid}`;

function check(what, got, want) {
  try {
    assert.deepStrictEqual(got, want);
  } catch (e) {
    console.log(`FAIL node-pg: ${what}: got ${String(got)}, want ${String(want)}`);
    process.exit(1);
  }
  console.log(`ok node-pg: ${what}: ${typeof got === 'object' && got !== null && !(got instanceof Date) ? JSON.stringify(got, (k, v) => (typeof v === 'bigint' ? v.toString() : v)) : String(got)}`);
}

async function main() {
  const client = new Client({ connectionString: process.env.OMENDB_URL });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await client.query(`CREATE TABLE ${TABLE} (id integer PRIMARY KEY, big bigint, amount numeric(10,2), label text,
    flag boolean, day date, at timestamp, score double precision)`);
  try {
    const insert = `INSERT INTO ${TABLE} VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;
    let res = await client.query(insert, [1, '9007199254740993', '12.34', 'hello, world', true, '2024-02-29', '2024-02-29 13:14:15.5', 0.25]);
    check('insert rowCount', res.rowCount, 1);
    res = await client.query(insert, [2, null, null, null, null, null, null, null]);
    check('insert with NULL parameters rowCount', res.rowCount, 1);
    for (let i = 3; i <= 8; i++) {
      await client.query({ name: 'ins', text: insert, values: [i, i * 10, (i / 4).toFixed(2), `row ${i}`, i % 2 === 0, `2024-01-0${i}`, `2024-01-0${i} 00:00:00`, i / 8] });
    }

    res = await client.query(`SELECT id, big, amount, label, flag, day, at, score FROM ${TABLE} WHERE id = $1`, [1]);
    const r = res.rows[0];
    check('typed integer', r.id, 1);
    check('typed bigint', r.big, 9007199254740993n);
    check('typed numeric', r.amount, '12.34');
    check('typed text', r.label, 'hello, world');
    check('typed boolean', r.flag, true);
    check('typed date', r.day.toISOString(), '2024-02-29T00:00:00.000Z');
    check('typed timestamp', r.at.toISOString(), '2024-02-29T13:14:15.500Z');
    check('typed double precision', r.score, 0.25);

    res = await client.query(`SELECT big, amount, label, flag, day, at, score FROM ${TABLE} WHERE id = $1`, [2]);
    check('NULL columns read back as null', Object.values(res.rows[0]), [null, null, null, null, null, null, null]);
    res = await client.query(`SELECT id FROM ${TABLE} WHERE label = $1`, [null]);
    check('= NULL parameter matches nothing', res.rows, []);
    res = await client.query(`SELECT count(*) AS n FROM ${TABLE} WHERE big > $1 AND flag = $2`, [35, true]);
    check('count with bigint and boolean parameters', res.rows[0].n, 4n);
    res = await client.query(`SELECT sum(amount) AS s FROM ${TABLE} WHERE day BETWEEN $1 AND $2`, ['2024-01-01', '2024-01-06']);
    check('sum(numeric) with date parameters', res.rows[0].s, '4.50');
    res = await client.query(`SELECT id FROM ${TABLE} WHERE at >= $1 ORDER BY id LIMIT $2`, ['2024-01-07', 5]);
    check('timestamp and LIMIT parameters', res.rows.map((x) => x.id), [1, 7, 8]);
    res = await client.query('SELECT $1::integer + 1 AS v', [41]);
    check('parameter type inference', res.rows[0].v, 42);
    res = await client.query({ text: `SELECT id, label FROM ${TABLE} WHERE id = $1`, values: [3], rowMode: 'array' });
    check('array row mode', res.rows, [[3, 'row 3']]);
    res = await client.query(`UPDATE ${TABLE} SET label = $1 WHERE id = $2`, [null, 1]);
    check('update with NULL parameter rowCount', res.rowCount, 1);
    res = await client.query(`SELECT label FROM ${TABLE} WHERE id = 1`);
    check('updated to NULL', res.rows[0].label, null);
  } finally {
    await client.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await client.end();
  }
  console.log('node-pg: parameterised queries passed');
}

main().catch((e) => {
  console.log(`FAIL node-pg: ${e.stack || e}`);
  process.exit(1);
});
