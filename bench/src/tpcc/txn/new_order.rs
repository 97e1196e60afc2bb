//! New-Order (clause 2.4): enter an order of 5–15 lines, updating stock, in one transaction; 1%
//! of them name an unused item last and roll back.

use std::time::SystemTime;

use tokio_postgres::Client;

use super::{Home, Outcome, TxnError, draw_customer_id};
use crate::tpcc::generate::{DISTRICTS_PER_WAREHOUSE, ITEMS};
use crate::tpcc::numeric::Numeric;
use crate::tpcc::random::{A_OL_I_ID, ORIGINAL, Rng};
use crate::tpcc::statements::Statements;

/// Percentage of New-Orders that end in a deliberate rollback (clause 2.4.1.4).
const ROLLBACK_PERCENT: i64 = 1;
/// Percentage of order lines supplied by a remote warehouse (clause 2.4.1.5).
const REMOTE_LINE_PERCENT: i64 = 1;
/// An item number no item has: the rollback's "unused value".
const UNUSED_ITEM: i32 = ITEMS as i32 + 1;
/// Stock is replenished by 91 when an order would take it below 10 (clause 2.4.2.2).
const STOCK_FLOOR: i32 = 10;
const STOCK_REFILL: i32 = 91;

#[derive(Debug, Clone)]
pub struct OrderLineInput {
    pub i_id: i32,
    pub supply_w_id: i32,
    pub quantity: i32,
}

#[derive(Debug, Clone)]
pub struct NewOrderInput {
    pub d_id: i32,
    pub c_id: i32,
    pub lines: Vec<OrderLineInput>,
}

impl NewOrderInput {
    pub fn draw(rng: &mut Rng, home: &Home) -> NewOrderInput {
        let d_id = rng.uniform(1, DISTRICTS_PER_WAREHOUSE) as i32;
        let c_id = draw_customer_id(rng, &home.constants);
        let count = rng.uniform(5, 15) as usize;
        let rollback = rng.uniform(1, 100) <= ROLLBACK_PERCENT;
        let lines = (0..count)
            .map(|n| {
                let i_id = if rollback && n == count - 1 {
                    UNUSED_ITEM
                } else {
                    rng.nurand(A_OL_I_ID, home.constants.ol_i_id, 1, ITEMS) as i32
                };
                let remote = home.warehouses > 1 && rng.uniform(1, 100) <= REMOTE_LINE_PERCENT;
                let supply_w_id = if remote {
                    rng.uniform_except(1, i64::from(home.warehouses), i64::from(home.w_id)) as i32
                } else {
                    home.w_id
                };
                OrderLineInput {
                    i_id,
                    supply_w_id,
                    quantity: rng.uniform(1, 10) as i32,
                }
            })
            .collect();
        NewOrderInput { d_id, c_id, lines }
    }
}

pub async fn run(
    client: &Client,
    st: &Statements,
    home: &Home,
    input: &NewOrderInput,
) -> Result<Outcome, TxnError> {
    let (w, d, c) = (home.w_id, input.d_id, input.c_id);
    let w_tax: Numeric = client
        .query_one(&st.no_warehouse, &[&w])
        .await?
        .try_get(0)?;
    let district = client.query_one(&st.no_district, &[&w, &d]).await?;
    let d_tax: Numeric = district.try_get(0)?;
    let o_id: i32 = district.try_get(1)?;
    client.execute(&st.no_district_update, &[&w, &d]).await?;
    let c_discount: Numeric = client
        .query_one(&st.no_customer, &[&w, &d, &c])
        .await?
        .try_get(0)?;
    let all_local = i32::from(input.lines.iter().all(|l| l.supply_w_id == w));
    let line_count = input.lines.len() as i32;
    let now = SystemTime::now();
    client
        .execute(
            &st.no_order_insert,
            &[&w, &d, &o_id, &c, &now, &line_count, &all_local],
        )
        .await?;
    client
        .execute(&st.no_new_order_insert, &[&w, &d, &o_id])
        .await?;
    let stock = &st.no_stock[(d - 1) as usize];
    let mut total = Numeric::ZERO;
    for (number, line) in (1..).zip(&input.lines) {
        let Some(item) = client.query_opt(&st.no_item, &[&line.i_id]).await? else {
            return Ok(Outcome::RolledBack);
        };
        let price: Numeric = item.try_get(0)?;
        let i_data: &str = item.try_get(2)?;
        let s = client
            .query_one(stock, &[&line.supply_w_id, &line.i_id])
            .await?;
        let s_quantity: i32 = s.try_get(0)?;
        let s_data: &str = s.try_get(1)?;
        let dist_info: &str = s.try_get(2)?;
        let quantity = if s_quantity >= line.quantity + STOCK_FLOOR {
            s_quantity - line.quantity
        } else {
            s_quantity - line.quantity + STOCK_REFILL
        };
        let remote = i32::from(line.supply_w_id != w);
        client
            .execute(
                &st.no_stock_update,
                &[
                    &line.supply_w_id,
                    &line.i_id,
                    &quantity,
                    &line.quantity,
                    &remote,
                ],
            )
            .await?;
        let amount = Numeric(price.0 * i64::from(line.quantity));
        // The brand-generic flag of the terminal output (clause 2.4.2.2); nothing stores it.
        let _brand_generic = i_data.contains(ORIGINAL) && s_data.contains(ORIGINAL);
        client
            .execute(
                &st.no_order_line_insert,
                &[
                    &w,
                    &d,
                    &o_id,
                    &number,
                    &line.i_id,
                    &line.supply_w_id,
                    &line.quantity,
                    &amount,
                    &dist_info,
                ],
            )
            .await?;
        total = total + amount;
    }
    // The order total of the terminal output: sum × (1 − discount) × (1 + w_tax + d_tax).
    let _total = total_due(total, c_discount, w_tax, d_tax);
    Ok(Outcome::Committed)
}

/// `sum × (1 − discount) × (1 + w_tax + d_tax)` in ten-thousandths (rates have four decimals).
fn total_due(sum: Numeric, discount: Numeric, w_tax: Numeric, d_tax: Numeric) -> i128 {
    const ONE: i128 = 10_000;
    let sum = i128::from(sum.0);
    sum * (ONE - i128::from(discount.0)) / ONE * (ONE + i128::from(w_tax.0) + i128::from(d_tax.0))
        / ONE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tpcc::random::Constants;

    #[test]
    fn about_one_percent_roll_back_and_only_on_the_last_line() {
        let mut rng = Rng::seeded(1);
        let home = Home {
            w_id: 1,
            d_id: 1,
            warehouses: 4,
            constants: Constants::for_run(&mut rng),
        };
        let mut rollbacks = 0;
        let mut remote = 0;
        let mut lines = 0;
        for _ in 0..20_000 {
            let input = NewOrderInput::draw(&mut rng, &home);
            assert!((5..=15).contains(&input.lines.len()));
            let unused: Vec<usize> = input
                .lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.i_id == UNUSED_ITEM)
                .map(|(i, _)| i)
                .collect();
            if !unused.is_empty() {
                assert_eq!(unused, vec![input.lines.len() - 1]);
                rollbacks += 1;
            }
            lines += input.lines.len();
            remote += input.lines.iter().filter(|l| l.supply_w_id != 1).count();
        }
        assert!((120..=280).contains(&rollbacks), "{rollbacks}");
        let remote_share = remote as f64 / lines as f64;
        assert!((0.005..0.015).contains(&remote_share), "{remote_share}");
    }

    #[test]
    fn total_applies_discount_and_taxes() {
        // 100.00 × (1 − 0.1) × (1 + 0.05 + 0.05) = 99.00
        let t = total_due(
            Numeric::from_cents(10_000),
            Numeric(1_000),
            Numeric(500),
            Numeric(500),
        );
        assert_eq!(t, 990_000);
    }
}
