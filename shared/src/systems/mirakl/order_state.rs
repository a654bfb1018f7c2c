//! A narrow OR11 read: where one order (and each of its lines) stands on Mirakl now.
//!
//! The full OR11 order model lives with the recording path; fulfilment only needs the
//! state, to reconcile an `ORDER_INVALID_STATE` answer and to know when an accepted
//! order has been debited and reached `SHIPPING`.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use uuid::Uuid;

use super::{MiraklClient, MiraklError, MiraklRequest};
use crate::ops::retry::RetryPolicy;

/// An order's current state on Mirakl.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderState {
    /// Mirakl's `order_id`.
    pub order_id: String,
    /// `WAITING_ACCEPTANCE`, `WAITING_DEBIT`, `SHIPPING`, `SHIPPED`, `REFUSED`, …
    pub order_state: String,
    /// When Mirakl last changed the order.
    #[serde(default)]
    pub last_updated_date: Option<DateTime<Utc>>,
    /// Each line's state.
    #[serde(default)]
    pub order_lines: Vec<OrderLineState>,
}

/// One line's current state on Mirakl.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderLineState {
    /// Mirakl's `order_line_id`.
    pub order_line_id: String,
    /// Same vocabulary as the order, plus `INCIDENT_OPEN` and `REFUNDED`.
    pub order_line_state: String,
}

#[derive(Deserialize)]
struct OrderList {
    orders: Vec<OrderState>,
}

impl OrderState {
    /// Accepted and debited: labels may be bought, OR23/OR24 may be sent.
    pub fn is_shipping(&self) -> bool {
        self.order_state == "SHIPPING"
    }

    /// Accepted, still waiting for the customer's payment to be taken.
    pub fn is_waiting_for_debit(&self) -> bool {
        matches!(
            self.order_state.as_str(),
            "WAITING_DEBIT" | "WAITING_DEBIT_PAYMENT"
        )
    }

    /// Refused or cancelled: nothing will ship.
    pub fn is_dead(&self) -> bool {
        matches!(self.order_state.as_str(), "REFUSED" | "CANCELED")
    }

    /// Shipped or later.
    pub fn is_shipped(&self) -> bool {
        matches!(
            self.order_state.as_str(),
            "SHIPPED" | "TO_COLLECT" | "RECEIVED" | "CLOSED"
        )
    }
}

/// Reads one order's state with OR11 `GET /api/orders?order_ids=<id>`; `None` when
/// Mirakl does not know the order.
pub async fn read_order_state(
    client: &MiraklClient,
    external_id: &str,
    order_id: Uuid,
    policy: RetryPolicy,
) -> Result<Option<OrderState>, MiraklError> {
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
        assert!(list.orders[0].is_shipping());
        assert_eq!(list.orders[0].order_lines[0].order_line_id, "BB-7-A-1");
    }
}
