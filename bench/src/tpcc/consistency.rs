//! The consistency conditions 1–4 of clause 3.3.2 (3.3.2.1–3.3.2.4), checked with SQL after a
//! run, per warehouse and district, by grouped queries whose answers are compared here (so the
//! checks need no correlated subqueries from the server).
//!
//! Owns the verdict on the database's state. It must never pass a condition it could not check:
//! a query that fails is a failed condition.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use serde::Serialize;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::load::describe;
use super::numeric::Numeric;

/// Mismatches listed per condition before the rest are only counted.
const SHOWN: usize = 3;

/// One condition's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    pub number: u32,
    pub text: &'static str,
    pub passed: bool,
    /// What was checked (e.g. "10 districts"), or the first mismatches, or the query's error.
    pub detail: String,
}

/// Checks conditions 1–4 on `client`.
pub async fn check(client: &Client) -> Vec<Condition> {
    vec![
        verdict(
            1,
            "W_YTD = sum(D_YTD) per warehouse",
            condition_1(client).await,
        ),
        verdict(
            2,
            "D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID) per district",
            condition_2(client).await,
        ),
        verdict(
            3,
            "max(NO_O_ID) - min(NO_O_ID) + 1 = count(NEW-ORDER rows) per district",
            condition_3(client).await,
        ),
        verdict(
            4,
            "sum(O_OL_CNT) = count(ORDER-LINE rows) per district",
            condition_4(client).await,
        ),
    ]
}

fn verdict(
    number: u32,
    text: &'static str,
    result: Result<Vec<String>, anyhow::Error>,
) -> Condition {
    match result {
        Ok(mismatches) if mismatches.is_empty() => Condition {
            number,
            text,
            passed: true,
            detail: "holds".to_owned(),
        },
        Ok(mismatches) => {
            let mut detail = mismatches[..mismatches.len().min(SHOWN)].join("; ");
            if mismatches.len() > SHOWN {
                detail.push_str(&format!("; and {} more", mismatches.len() - SHOWN));
            }
            Condition {
                number,
                text,
                passed: false,
                detail,
            }
        }
        Err(e) => Condition {
            number,
            text,
            passed: false,
            detail: format!("could not check: {e:#}"),
        },
    }
}

type Key = (i64, i64);

/// Rows of a simple query as text, NULL as `None`.
async fn rows(client: &Client, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
    let messages = client
        .simple_query(sql)
        .await
        .map_err(|e| anyhow!("{sql}: {}", describe(&e)))?;
    Ok(messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

fn int(value: &Option<String>) -> Result<i64> {
    value
        .as_deref()
        .ok_or_else(|| anyhow!("unexpected NULL"))?
        .parse()
        .map_err(|e| anyhow!("not an integer: {e}"))
}

fn num(value: &Option<String>) -> Result<Numeric> {
    let text = value.as_deref().ok_or_else(|| anyhow!("unexpected NULL"))?;
    Numeric::parse(text).ok_or_else(|| anyhow!("not an exact decimal: {text}"))
}

/// `(w, d) -> value` from a query answering (w, d, value) rows, parsed by `parse`.
async fn by_district<T>(
    client: &Client,
    sql: &str,
    parse: fn(&Option<String>) -> Result<T>,
) -> Result<BTreeMap<Key, T>> {
    let mut map = BTreeMap::new();
    for row in rows(client, sql).await? {
        if row.len() != 3 {
            bail!("{sql}: expected 3 columns, got {}", row.len());
        }
        map.insert((int(&row[0])?, int(&row[1])?), parse(&row[2])?);
    }
    Ok(map)
}

async fn condition_1(client: &Client) -> Result<Vec<String>> {
    let warehouses = by_district(client, "SELECT w_id, 0, w_ytd FROM warehouse", num).await?;
    let districts = by_district(
        client,
        "SELECT d_w_id, 0, sum(d_ytd) FROM district GROUP BY d_w_id",
        num,
    )
    .await?;
    if warehouses.is_empty() {
        bail!("no warehouses");
    }
    Ok(warehouses
        .iter()
        .filter(|(key, w_ytd)| districts.get(key) != Some(w_ytd))
        .map(|((w, _), w_ytd)| {
            format!(
                "warehouse {w}: W_YTD {w_ytd} but sum(D_YTD) {:?}",
                districts.get(&(*w, 0)).map(ToString::to_string)
            )
        })
        .collect())
}

async fn condition_2(client: &Client) -> Result<Vec<String>> {
    let next = by_district(
        client,
        "SELECT d_w_id, d_id, d_next_o_id FROM district",
        int,
    )
    .await?;
    let max_order = by_district(
        client,
        "SELECT o_w_id, o_d_id, max(o_id) FROM orders GROUP BY o_w_id, o_d_id",
        int,
    )
    .await?;
    let max_new = by_district(
        client,
        "SELECT no_w_id, no_d_id, max(no_o_id) FROM new_order GROUP BY no_w_id, no_d_id",
        int,
    )
    .await?;
    if next.is_empty() {
        bail!("no districts");
    }
    let mut mismatches = Vec::new();
    for (&(w, d), &next) in &next {
        let o = max_order.get(&(w, d)).copied();
        // A district whose new orders were all delivered has no max(NO_O_ID) to compare.
        let no = max_new.get(&(w, d)).copied();
        if o != Some(next - 1) || no.is_some_and(|no| no != next - 1) {
            mismatches.push(format!(
                "district ({w},{d}): D_NEXT_O_ID - 1 = {} but max(O_ID) = {o:?}, max(NO_O_ID) = {no:?}",
                next - 1
            ));
        }
    }
    Ok(mismatches)
}

async fn condition_3(client: &Client) -> Result<Vec<String>> {
    let answer = rows(
        client,
        "SELECT no_w_id, no_d_id, max(no_o_id) - min(no_o_id) + 1, count(*) FROM new_order \
         GROUP BY no_w_id, no_d_id",
    )
    .await?;
    if answer.is_empty() {
        bail!("no new orders at all");
    }
    let mut mismatches = Vec::new();
    for row in &answer {
        if row.len() != 4 {
            bail!("expected 4 columns, got {}", row.len());
        }
        let (span, count) = (int(&row[2])?, int(&row[3])?);
        if span != count {
            mismatches.push(format!(
                "district ({},{}): max - min + 1 = {span} but {count} rows",
                int(&row[0])?,
                int(&row[1])?
            ));
        }
    }
    Ok(mismatches)
}

async fn condition_4(client: &Client) -> Result<Vec<String>> {
    let line_counts = by_district(
        client,
        "SELECT o_w_id, o_d_id, sum(o_ol_cnt) FROM orders GROUP BY o_w_id, o_d_id",
        int,
    )
    .await?;
    let lines = by_district(
        client,
        "SELECT ol_w_id, ol_d_id, count(*) FROM order_line GROUP BY ol_w_id, ol_d_id",
        int,
    )
    .await?;
    if line_counts.is_empty() {
        bail!("no orders");
    }
    Ok(line_counts
        .iter()
        .filter(|(key, sum)| lines.get(key) != Some(sum))
        .map(|((w, d), sum)| {
            format!(
                "district ({w},{d}): sum(O_OL_CNT) = {sum} but {:?} lines",
                lines.get(&(*w, *d))
            )
        })
        .collect())
}
