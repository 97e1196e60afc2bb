//! Order-Status (clause 2.6): a customer's balance and the lines of their newest order; read only.

use tokio_postgres::Client;

use super::{CustomerKey, Home, Outcome, TxnError, resolve_customer};
use crate::tpcc::generate::DISTRICTS_PER_WAREHOUSE;
use crate::tpcc::numeric::Numeric;
use crate::tpcc::random::Rng;
use crate::tpcc::statements::Statements;

#[derive(Debug, Clone)]
pub struct OrderStatusInput {
    pub d_id: i32,
    pub customer: CustomerKey,
}

impl OrderStatusInput {
    pub fn draw(rng: &mut Rng, home: &Home) -> OrderStatusInput {
        OrderStatusInput {
            d_id: rng.uniform(1, DISTRICTS_PER_WAREHOUSE) as i32,
            customer: CustomerKey::draw(rng, &home.constants),
        }
    }
}

pub async fn run(
    client: &Client,
    st: &Statements,
    home: &Home,
    input: &OrderStatusInput,
) -> Result<Outcome, TxnError> {
    let (w, d) = (home.w_id, input.d_id);
    let c_id = resolve_customer(client, st, w, d, &input.customer).await?;
    let customer = client.query_one(&st.os_customer, &[&w, &d, &c_id]).await?;
    let _balance: Numeric = customer.try_get(0)?;
    // Every customer has an order from the load; one without is still a valid answer.
    if let Some(order) = client
        .query_opt(&st.os_last_order, &[&w, &d, &c_id])
        .await?
    {
        let o_id: i32 = order.try_get(0)?;
        let lines = client.query(&st.os_lines, &[&w, &d, &o_id]).await?;
        for line in &lines {
            let _amount: Numeric = line.try_get(3)?;
        }
    }
    Ok(Outcome::Committed)
}
