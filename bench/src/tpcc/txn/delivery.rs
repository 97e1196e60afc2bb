//! Delivery (clause 2.7): deliver the oldest undelivered order of each of the warehouse's ten
//! districts. Run in-line by the terminal, as one transaction (the spec allows deferring it to a
//! queue; this driver does not, and the report says so).

use std::time::SystemTime;

use tokio_postgres::Client;

use super::{Home, Outcome, TxnError};
use crate::tpcc::generate::DISTRICTS_PER_WAREHOUSE;
use crate::tpcc::numeric::Numeric;
use crate::tpcc::random::Rng;
use crate::tpcc::statements::Statements;

#[derive(Debug, Clone)]
pub struct DeliveryInput {
    pub carrier_id: i32,
}

impl DeliveryInput {
    pub fn draw(rng: &mut Rng) -> DeliveryInput {
        DeliveryInput {
            carrier_id: rng.uniform(1, 10) as i32,
        }
    }
}

pub async fn run(
    client: &Client,
    st: &Statements,
    home: &Home,
    input: &DeliveryInput,
) -> Result<Outcome, TxnError> {
    let w = home.w_id;
    let now = SystemTime::now();
    let mut skipped = 0;
    for d in 1..=DISTRICTS_PER_WAREHOUSE as i32 {
        let Some(oldest) = client.query_opt(&st.dl_oldest_new_order, &[&w, &d]).await? else {
            skipped += 1;
            continue;
        };
        let o_id: i32 = oldest.try_get(0)?;
        // Another terminal of this warehouse may have delivered it meanwhile.
        if client
            .execute(&st.dl_delete_new_order, &[&w, &d, &o_id])
            .await?
            == 0
        {
            skipped += 1;
            continue;
        }
        let c_id: i32 = client
            .query_one(&st.dl_order, &[&w, &d, &o_id])
            .await?
            .try_get(0)?;
        client
            .execute(&st.dl_order_update, &[&w, &d, &o_id, &input.carrier_id])
            .await?;
        client
            .execute(&st.dl_lines_update, &[&w, &d, &o_id, &now])
            .await?;
        let sum: Option<Numeric> = client
            .query_one(&st.dl_lines_sum, &[&w, &d, &o_id])
            .await?
            .try_get(0)?;
        let sum = sum.unwrap_or(Numeric::ZERO);
        client
            .execute(&st.dl_customer_update, &[&w, &d, &c_id, &sum])
            .await?;
    }
    Ok(if skipped == 0 {
        Outcome::Committed
    } else {
        Outcome::DeliveredSkipping(skipped)
    })
}
