//! The initial database population of TPC-C clause 4.3.3.1: rows of every table for N
//! warehouses, rendered as `COPY … FROM STDIN` text or as multi-row INSERT statements.
//!
//! Owns what the loader sends. It must never depend on a connection: a unit of work is generated
//! on a blocking thread and handed over as finished text.

use super::numeric::Numeric;
use super::random::{Constants, Rng};

/// Items in the catalogue, stock rows per warehouse (clause 4.3.3.1 / 1.2.1).
pub const ITEMS: i64 = 100_000;
pub const DISTRICTS_PER_WAREHOUSE: i64 = 10;
pub const CUSTOMERS_PER_DISTRICT: i64 = 3_000;
/// Orders per district at load time; the last 900 are still new (undelivered).
pub const ORDERS_PER_DISTRICT: i64 = 3_000;
pub const FIRST_NEW_ORDER: i64 = 2_101;
/// Customers whose last name is their number minus one, not NURand (clause 4.3.3.1).
const CUSTOMERS_WITH_SEQUENTIAL_NAMES: i64 = 1_000;
/// Opening balances and counters of clause 4.3.3.1.
const WAREHOUSE_YTD_CENTS: i64 = 30_000_000;
const DISTRICT_YTD_CENTS: i64 = 3_000_000;
const CUSTOMER_CREDIT_LIMIT_CENTS: i64 = 5_000_000;
const CUSTOMER_BALANCE_CENTS: i64 = -1_000;
const CUSTOMER_YTD_PAYMENT_CENTS: i64 = 1_000;
const HISTORY_AMOUNT_CENTS: i64 = 1_000;
const BAD_CREDIT_PERCENT: i64 = 10;
/// Rows per INSERT statement when the server has no COPY.
const ROWS_PER_INSERT: usize = 500;

/// One column value of a generated row.
#[derive(Debug, Clone)]
pub enum Value {
    Int(i64),
    /// A numeric printed with this many decimals.
    Num(Numeric, u32),
    Text(String),
    /// A timestamp literal (text PostgreSQL parses).
    Timestamp(&'static str),
    Null,
}

/// The rows of one table that one unit of work produced.
#[derive(Debug)]
pub struct TableRows {
    pub table: &'static str,
    pub rows: Vec<Vec<Value>>,
}

impl TableRows {
    fn new(table: &'static str) -> TableRows {
        TableRows {
            table,
            rows: Vec::new(),
        }
    }

    /// The rows as `COPY … FROM STDIN` text (tab-separated, `\N` for NULL).
    pub fn copy_text(&self) -> String {
        let mut out = String::new();
        for row in &self.rows {
            for (i, value) in row.iter().enumerate() {
                if i > 0 {
                    out.push('\t');
                }
                match value {
                    Value::Int(v) => out.push_str(&v.to_string()),
                    Value::Num(v, scale) => out.push_str(&v.to_text(*scale)),
                    Value::Text(s) => push_copy_escaped(&mut out, s),
                    Value::Timestamp(s) => out.push_str(s),
                    Value::Null => out.push_str("\\N"),
                }
            }
            out.push('\n');
        }
        out
    }

    /// The rows as INSERT statements of up to [`ROWS_PER_INSERT`] rows each.
    pub fn insert_statements(&self) -> Vec<String> {
        self.rows
            .chunks(ROWS_PER_INSERT)
            .map(|chunk| {
                let mut sql = format!("INSERT INTO {} VALUES ", self.table);
                for (r, row) in chunk.iter().enumerate() {
                    sql.push_str(if r == 0 { "(" } else { ",(" });
                    for (i, value) in row.iter().enumerate() {
                        if i > 0 {
                            sql.push(',');
                        }
                        push_sql_literal(&mut sql, value);
                    }
                    sql.push(')');
                }
                sql
            })
            .collect()
    }
}

fn push_copy_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn push_sql_literal(sql: &mut String, value: &Value) {
    match value {
        Value::Int(v) => sql.push_str(&v.to_string()),
        Value::Num(v, scale) => sql.push_str(&v.to_text(*scale)),
        Value::Text(s) => {
            sql.push('\'');
            sql.push_str(&s.replace('\'', "''"));
            sql.push('\'');
        }
        Value::Timestamp(s) => {
            sql.push_str("TIMESTAMP '");
            sql.push_str(s);
            sql.push('\'');
        }
        Value::Null => sql.push_str("NULL"),
    }
}

/// A piece of the population loaded as one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Items,
    /// The warehouse row and its districts.
    Warehouse(i64),
    Stock(i64),
    /// Customers and their history rows.
    Customers(i64),
    /// Orders, their lines, and the new (undelivered) orders.
    Orders(i64),
}

impl Unit {
    /// Every unit for `warehouses` warehouses, the big ones first.
    pub fn all(warehouses: i64) -> Vec<Unit> {
        let mut units = vec![Unit::Items];
        for w in 1..=warehouses {
            units.extend([
                Unit::Stock(w),
                Unit::Orders(w),
                Unit::Customers(w),
                Unit::Warehouse(w),
            ]);
        }
        units
    }

    /// Generates the unit's rows; `now` is the load's timestamp literal.
    pub fn generate(self, seed: u64, now: &'static str) -> Vec<TableRows> {
        let mut rng = Rng::seeded(seed ^ self.salt());
        match self {
            Unit::Items => vec![items(&mut rng)],
            Unit::Warehouse(w) => warehouse(&mut rng, w),
            Unit::Stock(w) => vec![stock(&mut rng, w)],
            Unit::Customers(w) => customers(&mut rng, w, now),
            Unit::Orders(w) => orders(&mut rng, w, now),
        }
    }

    /// A distinct seed offset per unit, so units generated in parallel draw different values.
    fn salt(self) -> u64 {
        let (kind, w) = match self {
            Unit::Items => (1, 0),
            Unit::Warehouse(w) => (2, w),
            Unit::Stock(w) => (3, w),
            Unit::Customers(w) => (4, w),
            Unit::Orders(w) => (5, w),
        };
        (kind << 32 | w as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn money(cents: i64) -> Value {
    Value::Num(Numeric::from_cents(cents), 2)
}

/// A rate in [0, max_ten_thousandths] / 10 000, printed with four decimals.
fn rate(rng: &mut Rng, max_ten_thousandths: i64) -> Value {
    Value::Num(Numeric(rng.uniform(0, max_ten_thousandths)), 4)
}

/// Street 1, street 2, city, state, zip (clause 4.3.2.7 ranges).
fn address(rng: &mut Rng) -> [Value; 5] {
    [
        text(rng.a_string(10, 20)),
        text(rng.a_string(10, 20)),
        text(rng.a_string(10, 20)),
        text(rng.a_string(2, 2).to_uppercase()),
        text(rng.zip()),
    ]
}

fn items(rng: &mut Rng) -> TableRows {
    let mut out = TableRows::new("item");
    for i in 1..=ITEMS {
        out.rows.push(vec![
            Value::Int(i),
            Value::Int(rng.uniform(1, 10_000)),
            text(rng.a_string(14, 24)),
            money(rng.uniform(100, 10_000)),
            text(rng.data_with_original()),
        ]);
    }
    out
}

/// The tax rate's upper bound, 0.2000 (clause 4.3.3.1).
const MAX_TAX: i64 = 2_000;
/// The customer discount's upper bound, 0.5000.
const MAX_DISCOUNT: i64 = 5_000;

fn warehouse(rng: &mut Rng, w: i64) -> Vec<TableRows> {
    let mut warehouses = TableRows::new("warehouse");
    let mut row = vec![Value::Int(w), text(rng.a_string(6, 10))];
    row.extend(address(rng));
    row.extend([rate(rng, MAX_TAX), money(WAREHOUSE_YTD_CENTS)]);
    warehouses.rows.push(row);
    let mut districts = TableRows::new("district");
    for d in 1..=DISTRICTS_PER_WAREHOUSE {
        let mut row = vec![Value::Int(w), Value::Int(d), text(rng.a_string(6, 10))];
        row.extend(address(rng));
        row.extend([
            rate(rng, MAX_TAX),
            money(DISTRICT_YTD_CENTS),
            Value::Int(ORDERS_PER_DISTRICT + 1),
        ]);
        districts.rows.push(row);
    }
    vec![warehouses, districts]
}

fn stock(rng: &mut Rng, w: i64) -> TableRows {
    let mut out = TableRows::new("stock");
    for i in 1..=ITEMS {
        let mut row = vec![
            Value::Int(w),
            Value::Int(i),
            Value::Int(rng.uniform(10, 100)),
        ];
        row.extend((0..DISTRICTS_PER_WAREHOUSE).map(|_| text(rng.a_string(24, 24))));
        row.extend([
            Value::Int(0),
            Value::Int(0),
            Value::Int(0),
            text(rng.data_with_original()),
        ]);
        out.rows.push(row);
    }
    out
}

fn customers(rng: &mut Rng, w: i64, now: &'static str) -> Vec<TableRows> {
    let load = Constants::for_load(rng);
    let mut customers = TableRows::new("customer");
    let mut history = TableRows::new("history");
    for d in 1..=DISTRICTS_PER_WAREHOUSE {
        for c in 1..=CUSTOMERS_PER_DISTRICT {
            let last = if c <= CUSTOMERS_WITH_SEQUENTIAL_NAMES {
                super::random::last_name(c - 1)
            } else {
                rng.last_name(&load)
            };
            let mut row = vec![
                Value::Int(w),
                Value::Int(d),
                Value::Int(c),
                text(rng.a_string(8, 16)),
                text("OE"),
                text(last),
            ];
            row.extend(address(rng));
            let credit = if rng.uniform(1, 100) <= BAD_CREDIT_PERCENT {
                "BC"
            } else {
                "GC"
            };
            row.extend([
                text(rng.n_string(16, 16)),
                Value::Timestamp(now),
                text(credit),
                money(CUSTOMER_CREDIT_LIMIT_CENTS),
                rate(rng, MAX_DISCOUNT),
                money(CUSTOMER_BALANCE_CENTS),
                money(CUSTOMER_YTD_PAYMENT_CENTS),
                Value::Int(1),
                Value::Int(0),
                text(rng.a_string(300, 500)),
            ]);
            customers.rows.push(row);
            history.rows.push(vec![
                Value::Int(c),
                Value::Int(d),
                Value::Int(w),
                Value::Int(d),
                Value::Int(w),
                Value::Timestamp(now),
                money(HISTORY_AMOUNT_CENTS),
                text(rng.a_string(12, 24)),
            ]);
        }
    }
    vec![customers, history]
}

fn orders(rng: &mut Rng, w: i64, now: &'static str) -> Vec<TableRows> {
    let mut orders = TableRows::new("orders");
    let mut lines = TableRows::new("order_line");
    let mut new_orders = TableRows::new("new_order");
    for d in 1..=DISTRICTS_PER_WAREHOUSE {
        let customers = permutation(rng, CUSTOMERS_PER_DISTRICT);
        for o in 1..=ORDERS_PER_DISTRICT {
            let delivered = o < FIRST_NEW_ORDER;
            let line_count = rng.uniform(5, 15);
            orders.rows.push(vec![
                Value::Int(w),
                Value::Int(d),
                Value::Int(o),
                Value::Int(customers[(o - 1) as usize]),
                Value::Timestamp(now),
                if delivered {
                    Value::Int(rng.uniform(1, 10))
                } else {
                    Value::Null
                },
                Value::Int(line_count),
                Value::Int(1),
            ]);
            for number in 1..=line_count {
                lines.rows.push(vec![
                    Value::Int(w),
                    Value::Int(d),
                    Value::Int(o),
                    Value::Int(number),
                    Value::Int(rng.uniform(1, ITEMS)),
                    Value::Int(w),
                    if delivered {
                        Value::Timestamp(now)
                    } else {
                        Value::Null
                    },
                    Value::Int(5),
                    if delivered {
                        money(0)
                    } else {
                        money(rng.uniform(1, 999_999))
                    },
                    text(rng.a_string(24, 24)),
                ]);
            }
            if !delivered {
                new_orders
                    .rows
                    .push(vec![Value::Int(w), Value::Int(d), Value::Int(o)]);
            }
        }
    }
    vec![orders, lines, new_orders]
}

/// A random permutation of 1..=n (Fisher–Yates).
fn permutation(rng: &mut Rng, n: i64) -> Vec<i64> {
    let mut values: Vec<i64> = (1..=n).collect();
    for i in (1..values.len()).rev() {
        let j = rng.uniform(0, i as i64) as usize;
        values.swap(i, j);
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-01 00:00:00";

    #[test]
    fn a_warehouse_has_the_spec_cardinalities() {
        let rows = |unit: Unit| unit.generate(1, NOW);
        let count = |tables: &[TableRows], name: &str| {
            tables.iter().find(|t| t.table == name).unwrap().rows.len()
        };
        let orders = rows(Unit::Orders(1));
        assert_eq!(count(&orders, "orders"), 30_000);
        assert_eq!(count(&orders, "new_order"), 9_000);
        let lines = count(&orders, "order_line");
        assert!((150_000..=450_000).contains(&lines), "{lines}");
        let customers = rows(Unit::Customers(1));
        assert_eq!(count(&customers, "customer"), 30_000);
        assert_eq!(count(&customers, "history"), 30_000);
        assert_eq!(count(&rows(Unit::Warehouse(1)), "district"), 10);
    }

    #[test]
    fn copy_and_insert_render_nulls_and_quotes() {
        let table = TableRows {
            table: "t",
            rows: vec![vec![
                Value::Int(1),
                Value::Null,
                text("it's\t"),
                money(-1000),
            ]],
        };
        assert_eq!(table.copy_text(), "1\t\\N\tit's\\t\t-10.00\n");
        assert_eq!(
            table.insert_statements(),
            vec!["INSERT INTO t VALUES (1,NULL,'it''s\t',-10.00)".to_owned()]
        );
    }

    #[test]
    fn permutation_holds_every_number_once() {
        let mut p = permutation(&mut Rng::seeded(1), 3000);
        p.sort_unstable();
        assert_eq!(p, (1..=3000).collect::<Vec<_>>());
    }
}
