//! The pricing queue's messages.
//!
//! # Format
//!
//! Messages the product writes itself are JSON objects with a `kind`:
//!
//! - `{"kind": "reevaluate_listings", "listing_ids": ["<uuid>", …], "reason": "stock_changed"}`:
//!   evaluate these listings again (a cost, a stock level or a rule changed).
//! - `{"kind": "reevaluate_all", "reason": "rule_changed"}`: evaluate every listing.
//! - `{"kind": "apply_price_change", "price_change_id": "<uuid>", "listing_id": "<uuid>",
//!   "channel": "amazon", "price": "24.99", "currency": "CAD", "old_price": "26.99"}`: a
//!   decided price the seller enabled apply for, to send to the channel.
//!   `price_change_id` is the `pricing.price_decisions` row; its outbox dedup id is
//!   `apply-price:<price_change_id>`.
//!
//! Amazon's SP-API notifications arrive on the same queue as Amazon writes them (an
//! envelope with a `NotificationType`); they are read as [`PricingMessage::SpApi`] and
//! handed on as they are.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ops::errors::ProcessError;
use crate::ops::outbox::{enqueue, WorkQueue};

/// One message of the pricing queue.
#[derive(Debug, Clone, PartialEq)]
pub enum PricingMessage {
    /// Evaluate these listings again.
    Reevaluate(ReevaluateListings),
    /// Evaluate every listing.
    ReevaluateAll {
        /// Why, for the logs.
        reason: String,
    },
    /// Send a decided price to its channel.
    ApplyPriceChange(ApplyPriceChange),
    /// An Amazon SP-API notification (`ANY_OFFER_CHANGED`), as Amazon sent it.
    SpApi {
        /// `NotificationType`.
        notification_type: String,
        /// The whole notification.
        notification: Value,
    },
}

/// "Re-evaluate these listings".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReevaluateListings {
    /// `catalog.shop_sku_map.id` of each listing.
    pub listing_ids: Vec<Uuid>,
    /// What changed (`stock_changed`, `cost_changed`, `rule_changed`…), for the logs.
    #[serde(default)]
    pub reason: String,
}

/// "Apply a price change": a stored decision whose price goes out to the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyPriceChange {
    /// The stored decision (`pricing.price_decisions.id`).
    pub price_change_id: Uuid,
    /// The listing it prices.
    pub listing_id: Uuid,
    /// The listing's channel (`amazon`, `bestbuy_ca`…).
    pub channel: String,
    /// The price to set.
    #[serde(with = "rust_decimal::serde::str")]
    pub price: Decimal,
    /// Its currency.
    pub currency: String,
    /// The price it replaces.
    #[serde(with = "rust_decimal::serde::str")]
    pub old_price: Decimal,
}

impl ApplyPriceChange {
    /// The outbox dedup id: one message per stored price change.
    pub fn dedup_id(&self) -> String {
        apply_dedup_id(self.price_change_id)
    }

    /// The message body.
    pub fn to_json(&self) -> Value {
        tagged("apply_price_change", self)
    }
}

/// The outbox dedup id of the apply message of price change `price_change_id`.
pub fn apply_dedup_id(price_change_id: Uuid) -> String {
    format!("apply-price:{price_change_id}")
}

impl ReevaluateListings {
    /// The message body.
    pub fn to_json(&self) -> Value {
        tagged("reevaluate_listings", self)
    }
}

fn tagged(kind: &str, message: &impl Serialize) -> Value {
    let mut body =
        serde_json::to_value(message).unwrap_or_else(|_| Value::Object(Default::default()));
    if let Value::Object(fields) = &mut body {
        fields.insert("kind".to_owned(), Value::String(kind.to_owned()));
    }
    body
}

impl PricingMessage {
    /// Reads an SQS body. A body that is none of the shapes above is permanent, with a
    /// reason naming what was expected.
    pub fn parse(body: Option<&str>) -> Result<Self, ProcessError> {
        let body = body.ok_or_else(|| ProcessError::permanent("the message has no body"))?;
        let value: Value = serde_json::from_str(body).map_err(|err| {
            ProcessError::permanent(format!("the pricing message is not JSON: {err}"))
        })?;
        if let Some(notification_type) = value.get("NotificationType").and_then(Value::as_str) {
            return Ok(PricingMessage::SpApi {
                notification_type: notification_type.to_owned(),
                notification: value,
            });
        }
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ProcessError::permanent(
                    "the pricing message has neither a kind (reevaluate_listings, \
                     reevaluate_all, apply_price_change) nor an SP-API NotificationType",
                )
            })?
            .to_owned();
        let read = |what: &str, err: serde_json::Error| {
            ProcessError::permanent(format!("the {what} message is malformed: {err}"))
        };
        match kind.as_str() {
            "reevaluate_listings" => serde_json::from_value(value)
                .map(PricingMessage::Reevaluate)
                .map_err(|err| read("reevaluate_listings", err)),
            "reevaluate_all" => Ok(PricingMessage::ReevaluateAll {
                reason: value
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            }),
            "apply_price_change" => serde_json::from_value(value)
                .map(PricingMessage::ApplyPriceChange)
                .map_err(|err| read("apply_price_change", err)),
            other => Err(ProcessError::permanent(format!(
                "unknown pricing message kind {other:?}: expected reevaluate_listings, \
                 reevaluate_all or apply_price_change"
            ))),
        }
    }
}

/// Queues "re-evaluate these listings" in the caller's transaction, through the outbox,
/// so the message exists exactly when the change that caused it does. Nothing is queued
/// for no listings. Returns whether a message was written.
pub async fn enqueue_reevaluation(
    tx: &mut PgConnection,
    listing_ids: &[Uuid],
    reason: &str,
) -> Result<bool, sqlx::Error> {
    if listing_ids.is_empty() {
        return Ok(false);
    }
    let message = ReevaluateListings {
        listing_ids: listing_ids.to_vec(),
        reason: reason.to_owned(),
    };
    // Every change is its own message: a later change of the same listings must not be
    // taken for a duplicate of this one.
    let dedup_id = format!("reevaluate:{}", Uuid::now_v7());
    enqueue(tx, WorkQueue::Pricing, &dedup_id, &message.to_json()).await
}

/// Queues a re-evaluation of the active listings of `variant_ids` (a stock level or a
/// cost changed), in the caller's transaction.
pub async fn enqueue_reevaluation_of_variants(
    tx: &mut PgConnection,
    variant_ids: &[Uuid],
    reason: &str,
) -> Result<bool, sqlx::Error> {
    if variant_ids.is_empty() {
        return Ok(false);
    }
    let listing_ids: Vec<Uuid> = sqlx::query_scalar!(
        "select l.id from catalog.shop_sku_map l
         where l.variant_id = any($1) and l.listing_status = 'active'
         order by l.id",
        variant_ids,
    )
    .fetch_all(&mut *tx)
    .await?;
    enqueue_reevaluation(tx, &listing_ids, reason).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reevaluation_reads_back_as_written() {
        let message = ReevaluateListings {
            listing_ids: vec![Uuid::nil()],
            reason: "stock_changed".into(),
        };
        let body = message.to_json().to_string();
        assert_eq!(
            PricingMessage::parse(Some(&body)).unwrap(),
            PricingMessage::Reevaluate(message)
        );
    }

    #[test]
    fn an_apply_message_carries_amounts_as_strings_and_reads_back() {
        let message = ApplyPriceChange {
            price_change_id: Uuid::nil(),
            listing_id: Uuid::nil(),
            channel: "amazon".into(),
            price: Decimal::new(2499, 2),
            currency: "CAD".into(),
            old_price: Decimal::new(2699, 2),
        };
        let body = message.to_json();
        assert_eq!(body["price"], "24.99");
        assert_eq!(body["kind"], "apply_price_change");
        assert_eq!(
            message.dedup_id(),
            "apply-price:00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            PricingMessage::parse(Some(&body.to_string())).unwrap(),
            PricingMessage::ApplyPriceChange(message)
        );
    }

    #[test]
    fn an_sp_api_notification_is_told_apart_by_its_type() {
        let body =
            r#"{"NotificationVersion":"1.0","NotificationType":"ANY_OFFER_CHANGED","Payload":{}}"#;
        let PricingMessage::SpApi {
            notification_type, ..
        } = PricingMessage::parse(Some(body)).unwrap()
        else {
            panic!("not an SP-API notification");
        };
        assert_eq!(notification_type, "ANY_OFFER_CHANGED");
    }

    #[test]
    fn a_body_of_no_known_shape_is_permanent_and_says_what_was_expected() {
        for body in [
            "not json",
            r#"{"hello": 1}"#,
            r#"{"kind": "reprice"}"#,
            r#"{"kind": "reevaluate_listings", "listing_ids": ["x"]}"#,
        ] {
            let err = PricingMessage::parse(Some(body)).unwrap_err();
            assert!(
                matches!(err, ProcessError::Permanent { .. }),
                "{body}: {err}"
            );
        }
        let err = PricingMessage::parse(Some(r#"{"hello": 1}"#)).unwrap_err();
        assert!(err.to_string().contains("reevaluate_listings"), "{err}");
    }
}
