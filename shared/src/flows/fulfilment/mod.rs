//! Order fulfilment: accept what can be fulfilled, buy the label, tell the marketplace.
//!
//! - [`acceptance`]: decides a Best Buy order waiting for acceptance (OR21), reserving
//!   stock first so concurrent orders never oversell.
//! - [`stock`]: availability and reservations, through a variant's own stock or its bill
//!   of materials, and how a reservation follows its order (consumed when it ships,
//!   released when it is cancelled, refused, refunded or never progresses).
//! - [`labels`]: the resumable label flow (Canada Post label → PDF in S3 → OR23 → OR24).
//! - [`parcel`]: weight and size of the parcel from product data.
//!
//! Both work queues carry an [`OrderMessage`].

pub mod acceptance;
pub mod labels;
pub mod parcel;
pub mod stock;

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::model::channel::Channel;
use crate::ops::errors::ProcessError;
use crate::systems::mirakl::order_state::OrderState;

/// `ops.process_failures.process_name` of the acceptance flow.
pub const ACCEPTANCE_PROCESS: &str = "OrderAcceptance";
/// `ops.process_failures.process_name` of the label flow.
pub const LABEL_PROCESS: &str = "ShippingLabel";

/// The body of an accept-queue or label-queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderMessage {
    /// `sales.orders.id`.
    pub order_id: Uuid,
    /// The order's channel; only `bestbuy_ca` is fulfilled here.
    pub channel: String,
    /// The marketplace's order id (Mirakl `order_id`).
    pub external_id: String,
}

impl OrderMessage {
    /// A message for a Best Buy order.
    pub fn best_buy(order_id: Uuid, external_id: &str) -> Self {
        Self {
            order_id,
            channel: Channel::BestBuyCa.as_str().to_owned(),
            external_id: external_id.to_owned(),
        }
    }

    /// Parses an SQS body; a body that is not this shape is permanent.
    pub fn parse(body: Option<&str>) -> Result<Self, ProcessError> {
        let body = body.ok_or_else(|| ProcessError::permanent("the message has no body"))?;
        let message: Self = serde_json::from_str(body).map_err(|err| {
            ProcessError::permanent(format!(
                "the message is not {{order_id, channel, external_id}}: {err}"
            ))
        })?;
        if message.channel != Channel::BestBuyCa.as_str() {
            return Err(ProcessError::permanent(format!(
                "order {} is on channel {:?}; only bestbuy_ca orders are fulfilled here",
                message.external_id, message.channel
            )));
        }
        Ok(message)
    }

    /// The body as JSON, for the outbox.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "order_id": self.order_id,
            "channel": self.channel,
            "external_id": self.external_id,
        })
    }
}

/// Sets the order's current status and appends it to its history, in the caller's
/// transaction. `source` names who saw or made the change.
pub(crate) async fn record_status(
    tx: &mut PgConnection,
    order_id: Uuid,
    status: &OrderState,
    source: &str,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update sales.orders set status = $2 where id = $1 and status <> $2",
        order_id,
        status as &OrderState,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "insert into sales.order_status_history (order_id, status, source, note)
         values ($1, $2, $3, $4)",
        order_id,
        status as &OrderState,
        source,
        note,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A message for a ProcessError that has no deeper cause.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Reason(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_of_another_channel_or_shape_is_refused_by_name() {
        let err = OrderMessage::parse(Some(
            r#"{"order_id":"6f0c6c1e-1a53-4d55-9b57-3d3f4a8f7f10","channel":"shopify","external_id":"1001"}"#,
        ))
        .unwrap_err();
        assert!(err.to_string().contains("shopify"), "{err}");
        assert!(OrderMessage::parse(Some("not json")).is_err());
    }
}
