//! Mirakl's order states, and a narrow OR11 read: where one order (and each of its lines)
//! stands on Mirakl now.
//!
//! The full OR11 order model lives with the recording path; fulfilment only needs the
//! state, to reconcile an `ORDER_INVALID_STATE` answer and to know when an accepted
//! order has been debited and reached `SHIPPING`.

use std::fmt;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};
use uuid::Uuid;

use super::{MiraklClient, MiraklError, MiraklRequest};
use crate::ops::retry::RetryPolicy;

/// A Mirakl order or order line state (OR11 `order_state`, `order_line_state`), stored
/// as Mirakl spells it in `sales.orders.status` and the status history.
///
/// Mirakl may add states: one this code does not know is kept as [`OrderState::Other`]
/// with Mirakl's spelling, recorded like any other and acted on by no rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "String")]
pub enum OrderState {
    /// Held by the operator's checks before the shop sees it.
    Staging,
    /// Waiting for the shop to accept or refuse it (OR21).
    WaitingAcceptance,
    /// Accepted; the customer's payment is not taken yet.
    WaitingDebit,
    /// Accepted; the customer's payment is being taken.
    WaitingDebitPayment,
    /// Accepted and debited: the shop must ship it.
    Shipping,
    /// The shop confirmed the shipment (OR24).
    Shipped,
    /// Waiting for the customer to collect it.
    ToCollect,
    /// The customer confirmed receipt.
    Received,
    /// Nothing more can happen to it.
    Closed,
    /// The shop refused it.
    Refused,
    /// Cancelled.
    Canceled,
    /// A line only: the customer opened an incident.
    IncidentOpen,
    /// A line only: refunded.
    Refunded,
    /// A state this code does not know, as Mirakl spells it.
    Other(String),
}

impl OrderState {
    /// Mirakl's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            OrderState::Staging => "STAGING",
            OrderState::WaitingAcceptance => "WAITING_ACCEPTANCE",
            OrderState::WaitingDebit => "WAITING_DEBIT",
            OrderState::WaitingDebitPayment => "WAITING_DEBIT_PAYMENT",
            OrderState::Shipping => "SHIPPING",
            OrderState::Shipped => "SHIPPED",
            OrderState::ToCollect => "TO_COLLECT",
            OrderState::Received => "RECEIVED",
            OrderState::Closed => "CLOSED",
            OrderState::Refused => "REFUSED",
            OrderState::Canceled => "CANCELED",
            OrderState::IncidentOpen => "INCIDENT_OPEN",
            OrderState::Refunded => "REFUNDED",
            OrderState::Other(state) => state,
        }
    }

    /// Accepted, still waiting for the customer's payment to be taken.
    pub fn is_waiting_for_debit(&self) -> bool {
        matches!(
            self,
            OrderState::WaitingDebit | OrderState::WaitingDebitPayment
        )
    }

    /// Refused or cancelled: nothing will ship.
    pub fn is_dead(&self) -> bool {
        matches!(self, OrderState::Refused | OrderState::Canceled)
    }

    /// Shipped or later.
    pub fn is_shipped(&self) -> bool {
        matches!(
            self,
            OrderState::Shipped | OrderState::ToCollect | OrderState::Received | OrderState::Closed
        )
    }
}

impl OrderState {
    fn known(state: &str) -> Option<Self> {
        Some(match state {
            "STAGING" => OrderState::Staging,
            "WAITING_ACCEPTANCE" => OrderState::WaitingAcceptance,
            "WAITING_DEBIT" => OrderState::WaitingDebit,
            "WAITING_DEBIT_PAYMENT" => OrderState::WaitingDebitPayment,
            "SHIPPING" => OrderState::Shipping,
            "SHIPPED" => OrderState::Shipped,
            "TO_COLLECT" => OrderState::ToCollect,
            "RECEIVED" => OrderState::Received,
            "CLOSED" => OrderState::Closed,
            "REFUSED" => OrderState::Refused,
            "CANCELED" => OrderState::Canceled,
            "INCIDENT_OPEN" => OrderState::IncidentOpen,
            "REFUNDED" => OrderState::Refunded,
            _ => return None,
        })
    }
}

impl From<&str> for OrderState {
    fn from(state: &str) -> Self {
        OrderState::known(state).unwrap_or_else(|| OrderState::Other(state.to_owned()))
    }
}

impl From<String> for OrderState {
    fn from(state: String) -> Self {
        OrderState::known(&state).unwrap_or(OrderState::Other(state))
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Type<Postgres> for OrderState {
    fn type_info() -> PgTypeInfo {
        <&str as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <&str as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for OrderState {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Postgres>>::encode(self.as_str(), buf)
    }
}

impl<'r> Decode<'r, Postgres> for OrderState {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <&str as Decode<Postgres>>::decode(value).map(OrderState::from)
    }
}

/// Where an order and each of its lines stand on Mirakl, as OR11 shows them now.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderSnapshot {
    /// Mirakl's `order_id`.
    pub order_id: String,
    pub order_state: OrderState,
    /// When Mirakl last changed the order.
    #[serde(default)]
    pub last_updated_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub order_lines: Vec<LineSnapshot>,
}

/// Where one line stands on Mirakl.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LineSnapshot {
    /// Mirakl's `order_line_id`.
    pub order_line_id: String,
    pub order_line_state: OrderState,
}

#[derive(Deserialize)]
struct OrderList {
    orders: Vec<OrderSnapshot>,
}

/// Reads one order's state with OR11 `GET /api/orders?order_ids=<id>`; `None` when
/// Mirakl does not know the order.
pub async fn read_order_state(
    client: &MiraklClient,
    external_id: &str,
    order_id: Uuid,
    policy: RetryPolicy,
) -> Result<Option<OrderSnapshot>, MiraklError> {
    let mut request = MiraklRequest::new("OR11", Method::GET, "/api/orders");
    request.query = vec![("order_ids", external_id.to_owned())];
    request.order_id = Some(order_id);
    let response = client.send_retrying(request, policy).await?;
    let list: OrderList = response.json("OR11")?;
    Ok(list
        .orders
        .into_iter()
        .find(|order| order.order_id == external_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_read_from_a_full_or11_answer() {
        let body = r#"{"orders":[{"order_id":"BB-7-A","order_state":"SHIPPING",
            "last_updated_date":"2026-03-02T10:00:00Z","commercial_id":"BB-7",
            "order_lines":[{"order_line_id":"BB-7-A-1","order_line_state":"SHIPPING","quantity":1}]}],
            "total_count":1}"#;
        let list: OrderList = serde_json::from_str(body).unwrap();
        assert_eq!(list.orders[0].order_state, OrderState::Shipping);
        assert_eq!(list.orders[0].order_lines[0].order_line_id, "BB-7-A-1");
    }

    #[test]
    fn every_state_mirakl_documents_reads_back_as_spelled() {
        for spelled in [
            "STAGING",
            "WAITING_ACCEPTANCE",
            "WAITING_DEBIT",
            "WAITING_DEBIT_PAYMENT",
            "SHIPPING",
            "SHIPPED",
            "TO_COLLECT",
            "RECEIVED",
            "CLOSED",
            "REFUSED",
            "CANCELED",
            "INCIDENT_OPEN",
            "REFUNDED",
        ] {
            let state = OrderState::from(spelled);
            assert!(!matches!(state, OrderState::Other(_)), "{spelled}");
            assert_eq!(state.as_str(), spelled);
        }
    }

    #[test]
    fn a_state_mirakl_adds_later_is_kept_as_spelled_and_acted_on_by_no_rule() {
        let state: OrderState = serde_json::from_str(r#""WAITING_SCORING""#).unwrap();
        assert_eq!(state, OrderState::Other("WAITING_SCORING".into()));
        assert_eq!(state.to_string(), "WAITING_SCORING");
        assert!(!state.is_waiting_for_debit() && !state.is_dead() && !state.is_shipped());
    }
}
