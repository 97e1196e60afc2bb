//! The SQL of the five transactions (clauses 2.4–2.8), prepared once per terminal with explicit
//! parameter types, so no server has to infer them and every value travels in binary.
//!
//! Owns the statement texts. It must never build SQL from values: every value is a parameter.

use anyhow::{Result, anyhow};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Statement};

use super::generate::DISTRICTS_PER_WAREHOUSE;
use super::load::describe;

const INT4: Type = Type::INT4;
const NUMERIC: Type = Type::NUMERIC;
const TIMESTAMP: Type = Type::TIMESTAMP;
const TEXT: Type = Type::TEXT;

/// Every statement a terminal runs, prepared on its connection.
pub struct Statements {
    // New-Order (clause 2.4.2)
    pub no_warehouse: Statement,
    pub no_district: Statement,
    pub no_district_update: Statement,
    pub no_customer: Statement,
    pub no_order_insert: Statement,
    pub no_new_order_insert: Statement,
    pub no_item: Statement,
    /// One per district: the stock row with that district's S_DIST_xx.
    pub no_stock: Vec<Statement>,
    pub no_stock_update: Statement,
    pub no_order_line_insert: Statement,
    // Payment (clause 2.5.2)
    pub pay_warehouse_update: Statement,
    pub pay_warehouse: Statement,
    pub pay_district_update: Statement,
    pub pay_district: Statement,
    pub pay_customer: Statement,
    pub pay_customer_update: Statement,
    pub pay_customer_update_bad_credit: Statement,
    pub pay_history_insert: Statement,
    // Payment and Order-Status: a customer by last name
    pub customers_by_name: Statement,
    // Order-Status (clause 2.6.2)
    pub os_customer: Statement,
    pub os_last_order: Statement,
    pub os_lines: Statement,
    // Delivery (clause 2.7.4)
    pub dl_oldest_new_order: Statement,
    pub dl_delete_new_order: Statement,
    pub dl_order: Statement,
    pub dl_order_update: Statement,
    pub dl_lines_update: Statement,
    pub dl_lines_sum: Statement,
    pub dl_customer_update: Statement,
    // Stock-Level (clause 2.8.2)
    pub sl_district: Statement,
    pub sl_low_stock: Statement,
}

async fn prepare(client: &Client, sql: &str, types: &[Type]) -> Result<Statement> {
    client
        .prepare_typed(sql, types)
        .await
        .map_err(|e| anyhow!("prepare {sql}: {}", describe(&e)))
}

impl Statements {
    pub async fn prepare(client: &Client) -> Result<Statements> {
        let c = client;
        let mut no_stock = Vec::new();
        for d in 1..=DISTRICTS_PER_WAREHOUSE {
            let sql = format!(
                "SELECT s_quantity, s_data, s_dist_{d:02} FROM stock \
                 WHERE s_w_id = $1 AND s_i_id = $2 FOR UPDATE"
            );
            no_stock.push(prepare(c, &sql, &[INT4, INT4]).await?);
        }
        Ok(Statements {
            no_warehouse: prepare(c, "SELECT w_tax FROM warehouse WHERE w_id = $1", &[INT4])
                .await?,
            no_district: prepare(
                c,
                "SELECT d_tax, d_next_o_id FROM district WHERE d_w_id = $1 AND d_id = $2 FOR UPDATE",
                &[INT4, INT4],
            )
            .await?,
            no_district_update: prepare(
                c,
                "UPDATE district SET d_next_o_id = d_next_o_id + 1 WHERE d_w_id = $1 AND d_id = $2",
                &[INT4, INT4],
            )
            .await?,
            no_customer: prepare(
                c,
                "SELECT c_discount, c_last, c_credit FROM customer \
                 WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3",
                &[INT4, INT4, INT4],
            )
            .await?,
            no_order_insert: prepare(
                c,
                "INSERT INTO orders (o_w_id, o_d_id, o_id, o_c_id, o_entry_d, o_carrier_id, \
                 o_ol_cnt, o_all_local) VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)",
                &[INT4, INT4, INT4, INT4, TIMESTAMP, INT4, INT4],
            )
            .await?,
            no_new_order_insert: prepare(
                c,
                "INSERT INTO new_order (no_w_id, no_d_id, no_o_id) VALUES ($1, $2, $3)",
                &[INT4, INT4, INT4],
            )
            .await?,
            no_item: prepare(
                c,
                "SELECT i_price, i_name, i_data FROM item WHERE i_id = $1",
                &[INT4],
            )
            .await?,
            no_stock,
            no_stock_update: prepare(
                c,
                "UPDATE stock SET s_quantity = $3, s_ytd = s_ytd + $4, \
                 s_order_cnt = s_order_cnt + 1, s_remote_cnt = s_remote_cnt + $5 \
                 WHERE s_w_id = $1 AND s_i_id = $2",
                &[INT4, INT4, INT4, INT4, INT4],
            )
            .await?,
            no_order_line_insert: prepare(
                c,
                "INSERT INTO order_line (ol_w_id, ol_d_id, ol_o_id, ol_number, ol_i_id, \
                 ol_supply_w_id, ol_delivery_d, ol_quantity, ol_amount, ol_dist_info) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9)",
                &[INT4, INT4, INT4, INT4, INT4, INT4, INT4, NUMERIC, TEXT],
            )
            .await?,
            pay_warehouse_update: prepare(
                c,
                "UPDATE warehouse SET w_ytd = w_ytd + $2 WHERE w_id = $1",
                &[INT4, NUMERIC],
            )
            .await?,
            pay_warehouse: prepare(
                c,
                "SELECT w_name, w_street_1, w_street_2, w_city, w_state, w_zip \
                 FROM warehouse WHERE w_id = $1",
                &[INT4],
            )
            .await?,
            pay_district_update: prepare(
                c,
                "UPDATE district SET d_ytd = d_ytd + $3 WHERE d_w_id = $1 AND d_id = $2",
                &[INT4, INT4, NUMERIC],
            )
            .await?,
            pay_district: prepare(
                c,
                "SELECT d_name, d_street_1, d_street_2, d_city, d_state, d_zip \
                 FROM district WHERE d_w_id = $1 AND d_id = $2",
                &[INT4, INT4],
            )
            .await?,
            pay_customer: prepare(
                c,
                "SELECT c_first, c_middle, c_last, c_street_1, c_street_2, c_city, c_state, \
                 c_zip, c_phone, c_since, c_credit, c_credit_lim, c_discount, c_balance, c_data \
                 FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3 FOR UPDATE",
                &[INT4, INT4, INT4],
            )
            .await?,
            pay_customer_update: prepare(
                c,
                "UPDATE customer SET c_balance = c_balance - $4, \
                 c_ytd_payment = c_ytd_payment + $4, c_payment_cnt = c_payment_cnt + 1 \
                 WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3",
                &[INT4, INT4, INT4, NUMERIC],
            )
            .await?,
            pay_customer_update_bad_credit: prepare(
                c,
                "UPDATE customer SET c_balance = c_balance - $4, \
                 c_ytd_payment = c_ytd_payment + $4, c_payment_cnt = c_payment_cnt + 1, \
                 c_data = $5 WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3",
                &[INT4, INT4, INT4, NUMERIC, TEXT],
            )
            .await?,
            pay_history_insert: prepare(
                c,
                "INSERT INTO history (h_c_id, h_c_d_id, h_c_w_id, h_d_id, h_w_id, h_date, \
                 h_amount, h_data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[INT4, INT4, INT4, INT4, INT4, TIMESTAMP, NUMERIC, TEXT],
            )
            .await?,
            customers_by_name: prepare(
                c,
                "SELECT c_id FROM customer WHERE c_w_id = $1 AND c_d_id = $2 AND c_last = $3 \
                 ORDER BY c_first",
                &[INT4, INT4, TEXT],
            )
            .await?,
            os_customer: prepare(
                c,
                "SELECT c_balance, c_first, c_middle, c_last FROM customer \
                 WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3",
                &[INT4, INT4, INT4],
            )
            .await?,
            os_last_order: prepare(
                c,
                "SELECT o_id, o_entry_d, o_carrier_id FROM orders \
                 WHERE o_w_id = $1 AND o_d_id = $2 AND o_c_id = $3 ORDER BY o_id DESC LIMIT 1",
                &[INT4, INT4, INT4],
            )
            .await?,
            os_lines: prepare(
                c,
                "SELECT ol_i_id, ol_supply_w_id, ol_quantity, ol_amount, ol_delivery_d \
                 FROM order_line WHERE ol_w_id = $1 AND ol_d_id = $2 AND ol_o_id = $3",
                &[INT4, INT4, INT4],
            )
            .await?,
            dl_oldest_new_order: prepare(
                c,
                "SELECT no_o_id FROM new_order WHERE no_w_id = $1 AND no_d_id = $2 \
                 ORDER BY no_o_id LIMIT 1 FOR UPDATE",
                &[INT4, INT4],
            )
            .await?,
            dl_delete_new_order: prepare(
                c,
                "DELETE FROM new_order WHERE no_w_id = $1 AND no_d_id = $2 AND no_o_id = $3",
                &[INT4, INT4, INT4],
            )
            .await?,
            dl_order: prepare(
                c,
                "SELECT o_c_id FROM orders WHERE o_w_id = $1 AND o_d_id = $2 AND o_id = $3",
                &[INT4, INT4, INT4],
            )
            .await?,
            dl_order_update: prepare(
                c,
                "UPDATE orders SET o_carrier_id = $4 \
                 WHERE o_w_id = $1 AND o_d_id = $2 AND o_id = $3",
                &[INT4, INT4, INT4, INT4],
            )
            .await?,
            dl_lines_update: prepare(
                c,
                "UPDATE order_line SET ol_delivery_d = $4 \
                 WHERE ol_w_id = $1 AND ol_d_id = $2 AND ol_o_id = $3",
                &[INT4, INT4, INT4, TIMESTAMP],
            )
            .await?,
            dl_lines_sum: prepare(
                c,
                "SELECT sum(ol_amount) FROM order_line \
                 WHERE ol_w_id = $1 AND ol_d_id = $2 AND ol_o_id = $3",
                &[INT4, INT4, INT4],
            )
            .await?,
            dl_customer_update: prepare(
                c,
                "UPDATE customer SET c_balance = c_balance + $4, \
                 c_delivery_cnt = c_delivery_cnt + 1 \
                 WHERE c_w_id = $1 AND c_d_id = $2 AND c_id = $3",
                &[INT4, INT4, INT4, NUMERIC],
            )
            .await?,
            sl_district: prepare(
                c,
                "SELECT d_next_o_id FROM district WHERE d_w_id = $1 AND d_id = $2",
                &[INT4, INT4],
            )
            .await?,
            sl_low_stock: prepare(
                c,
                "SELECT count(DISTINCT s_i_id) FROM order_line, stock \
                 WHERE ol_w_id = $1 AND ol_d_id = $2 AND ol_o_id < $3 AND ol_o_id >= $4 \
                 AND s_w_id = $1 AND s_i_id = ol_i_id AND s_quantity < $5",
                &[INT4, INT4, INT4, INT4, INT4],
            )
            .await?,
        })
    }
}
