//! Stock-Level (clause 2.8): how many distinct items of the district's last 20 orders are below
//! a stock threshold; read only, and the only TPC-C transaction with a join.

use tokio_postgres::Client;

use super::{Home, Outcome, TxnError};
use crate::tpcc::random::Rng;
use crate::tpcc::statements::Statements;

/// How many of the district's newest orders Stock-Level examines.
const RECENT_ORDERS: i32 = 20;

#[derive(Debug, Clone)]
pub struct StockLevelInput {
    pub threshold: i32,
}

impl StockLevelInput {
    pub fn draw(rng: &mut Rng) -> StockLevelInput {
        StockLevelInput {
            threshold: rng.uniform(10, 20) as i32,
        }
    }
}

pub async fn run(
    client: &Client,
    st: &Statements,
    home: &Home,
    input: &StockLevelInput,
) -> Result<Outcome, TxnError> {
    let (w, d) = (home.w_id, home.d_id);
    let next: i32 = client
        .query_one(&st.sl_district, &[&w, &d])
        .await?
        .try_get(0)?;
    let oldest = next - RECENT_ORDERS;
    let _low: i64 = client
        .query_one(
            &st.sl_low_stock,
            &[&w, &d, &next, &oldest, &input.threshold],
        )
        .await?
        .try_get(0)?;
    Ok(Outcome::Committed)
}
