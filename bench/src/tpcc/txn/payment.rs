//! Payment (clause 2.5): a customer pays; the warehouse's, district's and customer's balances
//! move, a history row records it; 15% of payments go to a customer of a remote warehouse.

use std::time::SystemTime;

use tokio_postgres::Client;

use super::{CustomerKey, Home, Outcome, TxnError, resolve_customer};
use crate::tpcc::generate::DISTRICTS_PER_WAREHOUSE;
use crate::tpcc::numeric::Numeric;
use crate::tpcc::random::Rng;
use crate::tpcc::statements::Statements;

/// Percentage of payments whose customer belongs to the home district (clause 2.5.1.2).
const LOCAL_PERCENT: i64 = 85;
/// The payment amount's bounds, in cents: [1.00, 5000.00].
const MIN_AMOUNT_CENTS: i64 = 100;
const MAX_AMOUNT_CENTS: i64 = 500_000;
/// C_DATA's length limit (clause 2.5.2.2: the new data is truncated to 500 characters).
const C_DATA_MAX: usize = 500;
/// The credit rating whose customers get their payments logged in C_DATA.
const BAD_CREDIT: &str = "BC";

#[derive(Debug, Clone)]
pub struct PaymentInput {
    pub d_id: i32,
    pub c_w_id: i32,
    pub c_d_id: i32,
    pub customer: CustomerKey,
    pub amount: Numeric,
}

impl PaymentInput {
    pub fn draw(rng: &mut Rng, home: &Home) -> PaymentInput {
        let d_id = rng.uniform(1, DISTRICTS_PER_WAREHOUSE) as i32;
        let local = home.warehouses == 1 || rng.uniform(1, 100) <= LOCAL_PERCENT;
        let (c_w_id, c_d_id) = if local {
            (home.w_id, d_id)
        } else {
            (
                rng.uniform_except(1, i64::from(home.warehouses), i64::from(home.w_id)) as i32,
                rng.uniform(1, DISTRICTS_PER_WAREHOUSE) as i32,
            )
        };
        PaymentInput {
            d_id,
            c_w_id,
            c_d_id,
            customer: CustomerKey::draw(rng, &home.constants),
            amount: Numeric::from_cents(rng.uniform(MIN_AMOUNT_CENTS, MAX_AMOUNT_CENTS)),
        }
    }
}

pub async fn run(
    client: &Client,
    st: &Statements,
    home: &Home,
    input: &PaymentInput,
) -> Result<Outcome, TxnError> {
    let (w, d, amount) = (home.w_id, input.d_id, input.amount);
    client
        .execute(&st.pay_warehouse_update, &[&w, &amount])
        .await?;
    let warehouse = client.query_one(&st.pay_warehouse, &[&w]).await?;
    let w_name: &str = warehouse.try_get(0)?;
    client
        .execute(&st.pay_district_update, &[&w, &d, &amount])
        .await?;
    let district = client.query_one(&st.pay_district, &[&w, &d]).await?;
    let d_name: &str = district.try_get(0)?;
    let (c_w, c_d) = (input.c_w_id, input.c_d_id);
    let c_id = resolve_customer(client, st, c_w, c_d, &input.customer).await?;
    let customer = client
        .query_one(&st.pay_customer, &[&c_w, &c_d, &c_id])
        .await?;
    let credit: &str = customer.try_get(10)?;
    if credit == BAD_CREDIT {
        let old: &str = customer.try_get(14)?;
        let mut data = format!("{c_id} {c_d} {c_w} {d} {w} {}|{old}", amount.to_text(2));
        truncate_chars(&mut data, C_DATA_MAX);
        client
            .execute(
                &st.pay_customer_update_bad_credit,
                &[&c_w, &c_d, &c_id, &amount, &data],
            )
            .await?;
    } else {
        client
            .execute(&st.pay_customer_update, &[&c_w, &c_d, &c_id, &amount])
            .await?;
    }
    // H_DATA: W_NAME and D_NAME separated by four spaces (clause 2.5.2.2).
    let h_data = format!("{w_name}    {d_name}");
    let now = SystemTime::now();
    client
        .execute(
            &st.pay_history_insert,
            &[&c_id, &c_d, &c_w, &d, &w, &now, &amount, &h_data],
        )
        .await?;
    Ok(Outcome::Committed)
}

fn truncate_chars(s: &mut String, max: usize) {
    if let Some((at, _)) = s.char_indices().nth(max) {
        s.truncate(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tpcc::random::Constants;

    #[test]
    fn fifteen_percent_are_remote_and_sixty_by_name() {
        let mut rng = Rng::seeded(2);
        let home = Home {
            w_id: 2,
            d_id: 1,
            warehouses: 3,
            constants: Constants::for_run(&mut rng),
        };
        let (mut remote, mut by_name) = (0, 0);
        const N: usize = 20_000;
        for _ in 0..N {
            let input = PaymentInput::draw(&mut rng, &home);
            remote += usize::from(input.c_w_id != 2);
            by_name += usize::from(matches!(input.customer, CustomerKey::LastName(_)));
            assert!((MIN_AMOUNT_CENTS * 100..=MAX_AMOUNT_CENTS * 100).contains(&input.amount.0));
        }
        assert!((2_600..3_400).contains(&remote), "{remote}");
        assert!((11_400..12_600).contains(&by_name), "{by_name}");
    }

    #[test]
    fn c_data_is_cut_at_500_characters() {
        let mut s = "x".repeat(600);
        truncate_chars(&mut s, C_DATA_MAX);
        assert_eq!(s.len(), 500);
    }
}
