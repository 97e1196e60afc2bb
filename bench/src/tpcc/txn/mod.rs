//! The five TPC-C transactions (clauses 2.4–2.8): their inputs, drawn by the terminal as the spec
//! says, and their processing over one connection inside BEGIN … COMMIT.
//!
//! Owns what each transaction reads and writes. It must never retry or time anything itself: the
//! terminal does both, so a retried transaction reruns with the same inputs and one clock.

mod delivery;
mod new_order;
mod order_status;
mod payment;
mod stock_level;

use std::fmt;

use serde::Serialize;
use tokio_postgres::Client;

pub use delivery::DeliveryInput;
pub use new_order::{NewOrderInput, OrderLineInput};
pub use order_status::OrderStatusInput;
pub use payment::PaymentInput;
pub use stock_level::StockLevelInput;

use super::generate::CUSTOMERS_PER_DISTRICT;
use super::random::{A_C_ID, Constants, Rng};
use super::statements::Statements;

/// The five transaction types, in the order reports list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Kind {
    NewOrder,
    Payment,
    OrderStatus,
    Delivery,
    StockLevel,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::NewOrder,
        Kind::Payment,
        Kind::OrderStatus,
        Kind::Delivery,
        Kind::StockLevel,
    ];

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::NewOrder => "New-Order",
            Kind::Payment => "Payment",
            Kind::OrderStatus => "Order-Status",
            Kind::Delivery => "Delivery",
            Kind::StockLevel => "Stock-Level",
        })
    }
}

/// The inputs of one transaction, drawn once so a retry reruns the same work.
#[derive(Debug, Clone)]
pub enum Input {
    NewOrder(NewOrderInput),
    Payment(PaymentInput),
    OrderStatus(OrderStatusInput),
    Delivery(DeliveryInput),
    StockLevel(StockLevelInput),
}

/// What the terminal knows when it draws inputs: its home warehouse and district, the number of
/// warehouses, the run's C constants.
#[derive(Debug, Clone, Copy)]
pub struct Home {
    pub w_id: i32,
    /// The terminal's fixed district for Stock-Level (clause 2.8.1.2).
    pub d_id: i32,
    pub warehouses: i32,
    pub constants: Constants,
}

impl Input {
    pub fn draw(kind: Kind, rng: &mut Rng, home: &Home) -> Input {
        match kind {
            Kind::NewOrder => Input::NewOrder(NewOrderInput::draw(rng, home)),
            Kind::Payment => Input::Payment(PaymentInput::draw(rng, home)),
            Kind::OrderStatus => Input::OrderStatus(OrderStatusInput::draw(rng, home)),
            Kind::Delivery => Input::Delivery(DeliveryInput::draw(rng)),
            Kind::StockLevel => Input::StockLevel(StockLevelInput::draw(rng)),
        }
    }
}

/// How a transaction ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Committed,
    /// New-Order's deliberate rollback on an unused item number (clause 2.4.2.3).
    RolledBack,
    /// Delivery committed but found no new order in this many districts (clause 2.7.4.2).
    DeliveredSkipping(u32),
}

/// Why a transaction failed.
#[derive(Debug)]
pub enum TxnError {
    Db(tokio_postgres::Error),
    /// The database answered something the spec's data rules out (e.g. no customer by a name
    /// every district holds).
    Unexpected(String),
}

impl From<tokio_postgres::Error> for TxnError {
    fn from(e: tokio_postgres::Error) -> TxnError {
        TxnError::Db(e)
    }
}

impl fmt::Display for TxnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxnError::Db(e) => f.write_str(&super::load::describe(e)),
            TxnError::Unexpected(what) => f.write_str(what),
        }
    }
}

/// Runs one transaction from BEGIN to COMMIT (or its deliberate ROLLBACK). On an error the
/// transaction is left open: the caller rolls back.
pub async fn run(
    client: &Client,
    st: &Statements,
    home: &Home,
    input: &Input,
) -> Result<Outcome, TxnError> {
    client.batch_execute("BEGIN").await?;
    let outcome = match input {
        Input::NewOrder(i) => new_order::run(client, st, home, i).await?,
        Input::Payment(i) => payment::run(client, st, home, i).await?,
        Input::OrderStatus(i) => order_status::run(client, st, home, i).await?,
        Input::Delivery(i) => delivery::run(client, st, home, i).await?,
        Input::StockLevel(i) => stock_level::run(client, st, home, i).await?,
    };
    let end = if outcome == Outcome::RolledBack {
        "ROLLBACK"
    } else {
        "COMMIT"
    };
    client.batch_execute(end).await?;
    Ok(outcome)
}

/// How Payment and Order-Status name their customer (clauses 2.5.1.2, 2.6.1.2).
#[derive(Debug, Clone)]
pub enum CustomerKey {
    Id(i32),
    LastName(String),
}

/// Percentage of Payment and Order-Status transactions that find the customer by last name.
const BY_LAST_NAME_PERCENT: i64 = 60;

impl CustomerKey {
    fn draw(rng: &mut Rng, constants: &Constants) -> CustomerKey {
        if rng.uniform(1, 100) <= BY_LAST_NAME_PERCENT {
            CustomerKey::LastName(rng.last_name(constants))
        } else {
            CustomerKey::Id(draw_customer_id(rng, constants))
        }
    }
}

/// A customer number by NURand(1023, 1, 3000).
fn draw_customer_id(rng: &mut Rng, constants: &Constants) -> i32 {
    rng.nurand(A_C_ID, constants.c_id, 1, CUSTOMERS_PER_DISTRICT) as i32
}

/// The customer's number: by id as given, by last name the one at position ⌈n/2⌉ of those with
/// that name ordered by first name (clause 2.5.2.2).
async fn resolve_customer(
    client: &Client,
    st: &Statements,
    w_id: i32,
    d_id: i32,
    key: &CustomerKey,
) -> Result<i32, TxnError> {
    match key {
        CustomerKey::Id(id) => Ok(*id),
        CustomerKey::LastName(name) => {
            let rows = client
                .query(&st.customers_by_name, &[&w_id, &d_id, name])
                .await?;
            let middle = rows.len().div_ceil(2);
            match middle.checked_sub(1).and_then(|i| rows.get(i)) {
                Some(row) => Ok(row.try_get(0)?),
                None => Err(TxnError::Unexpected(format!(
                    "no customer named {name} in warehouse {w_id} district {d_id}"
                ))),
            }
        }
    }
}
