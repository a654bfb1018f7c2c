//! Shopify webhook documents: orders and customers as Shopify sends them. Recording them
//! is [`crate::flows::recording::shopify`]'s job. [`admin`] reads orders through the
//! Admin GraphQL API, for the reconciliation, as these same documents.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::received::{decimal, optional_decimal};

pub mod admin;

/// The `X-Shopify-Topic` values sellerops records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopifyTopic {
    /// `orders/create` or `orders/updated`.
    Order,
    /// `customers/create` or `customers/update`.
    Customer,
}

impl ShopifyTopic {
    /// The topic, or `None` for one sellerops acknowledges and ignores.
    pub fn parse(topic: &str) -> Option<Self> {
        match topic.trim() {
            "orders/create" | "orders/updated" => Some(Self::Order),
            "customers/create" | "customers/update" => Some(Self::Customer),
            _ => None,
        }
    }
}

/// A Shopify order (REST resource, as webhooks send it). Money arrives as strings.
#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyOrder {
    /// Shopify's order id.
    pub id: u64,
    /// `#1021`: what the customer sees.
    #[serde(default)]
    pub name: Option<String>,
    /// The buyer's address; hashed, never stored.
    #[serde(default)]
    pub email: Option<String>,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it last changed: the newer version wins.
    pub updated_at: DateTime<Utc>,
    /// When it was cancelled.
    #[serde(default)]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// ISO 4217.
    pub currency: String,
    /// What the customer pays.
    #[serde(deserialize_with = "decimal")]
    pub total_price: Decimal,
    /// Lines after discounts, before shipping and tax.
    #[serde(default, deserialize_with = "optional_decimal")]
    pub subtotal_price: Option<Decimal>,
    /// Taxes.
    #[serde(default, deserialize_with = "optional_decimal")]
    pub total_tax: Option<Decimal>,
    /// Whether the line prices include the taxes (then the total does not add them).
    #[serde(default)]
    pub taxes_included: Option<bool>,
    /// Discounts on the order.
    #[serde(default, deserialize_with = "optional_decimal")]
    pub total_discounts: Option<Decimal>,
    /// Tips the customer added.
    #[serde(default, deserialize_with = "optional_decimal")]
    pub total_tip_received: Option<Decimal>,
    /// Shipping charged, one line per shipping method.
    #[serde(default)]
    pub shipping_lines: Vec<ShopifyShippingLine>,
    /// `paid`, `pending`, `refunded`, …
    #[serde(default)]
    pub financial_status: Option<String>,
    /// `fulfilled`, `partial` or null.
    #[serde(default)]
    pub fulfillment_status: Option<String>,
    /// The buyer.
    #[serde(default)]
    pub customer: Option<ShopifyOrderCustomer>,
    /// What was bought.
    #[serde(default)]
    pub line_items: Vec<ShopifyLineItem>,
    /// Where it ships.
    #[serde(default)]
    pub shipping_address: Option<ShopifyAddress>,
}

/// The buyer as an order names them.
#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyOrderCustomer {
    /// Shopify's customer id.
    pub id: u64,
    /// Their address; hashed, never stored.
    #[serde(default)]
    pub email: Option<String>,
}

/// One line item.
#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyLineItem {
    /// Shopify's line item id.
    pub id: u64,
    /// The variant's SKU; looked up in `catalog.shop_sku_map`.
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// Units.
    pub quantity: i32,
    /// Price of one unit.
    #[serde(deserialize_with = "decimal")]
    pub price: Decimal,
}

/// One shipping line of an order.
#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyShippingLine {
    /// What the customer pays for it.
    #[serde(deserialize_with = "decimal")]
    pub price: Decimal,
}

/// A Shopify address.
#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyAddress {
    /// Given name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    /// First street line.
    #[serde(default)]
    pub address1: Option<String>,
    /// Second street line.
    #[serde(default)]
    pub address2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub province_code: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub zip: Option<String>,
    /// ISO alpha-2.
    #[serde(default)]
    pub country_code: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

impl ShopifyOrder {
    /// The order's status in one word: cancelled, else its fulfilment state, else its
    /// payment state.
    pub fn status(&self) -> ShopifyOrderStatus {
        if self.cancelled_at.is_some() {
            ShopifyOrderStatus::Cancelled
        } else if let Some(fulfillment) = self.fulfillment_status.as_deref() {
            ShopifyOrderStatus::from(fulfillment)
        } else {
            self.financial_status
                .as_deref()
                .map_or(ShopifyOrderStatus::Open, ShopifyOrderStatus::from)
        }
    }
}

/// A Shopify order's status in one word ([`ShopifyOrder::status`]), as
/// `sales.orders.status` keeps it.
///
/// Shopify may add words: one this code does not know is kept as
/// [`ShopifyOrderStatus::Other`] with Shopify's spelling and recorded like any other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ShopifyOrderStatus {
    /// `cancelled_at` is set.
    Cancelled,
    /// Fulfilment: every line shipped.
    Fulfilled,
    /// Fulfilment: some lines shipped.
    Partial,
    /// Fulfilment: the items went back to stock.
    Restocked,
    /// Payment: not captured yet.
    Pending,
    /// Payment: authorised, not captured.
    Authorized,
    /// Payment: partly paid.
    PartiallyPaid,
    /// Payment: paid.
    Paid,
    /// Payment: partly refunded.
    PartiallyRefunded,
    /// Payment: refunded.
    Refunded,
    /// Payment: the authorisation was voided.
    Voided,
    /// Neither fulfilment nor payment has a state yet.
    Open,
    /// A word this code does not know, as Shopify spells it.
    Other(String),
}

impl ShopifyOrderStatus {
    /// Shopify's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            ShopifyOrderStatus::Cancelled => "cancelled",
            ShopifyOrderStatus::Fulfilled => "fulfilled",
            ShopifyOrderStatus::Partial => "partial",
            ShopifyOrderStatus::Restocked => "restocked",
            ShopifyOrderStatus::Pending => "pending",
            ShopifyOrderStatus::Authorized => "authorized",
            ShopifyOrderStatus::PartiallyPaid => "partially_paid",
            ShopifyOrderStatus::Paid => "paid",
            ShopifyOrderStatus::PartiallyRefunded => "partially_refunded",
            ShopifyOrderStatus::Refunded => "refunded",
            ShopifyOrderStatus::Voided => "voided",
            ShopifyOrderStatus::Open => "open",
            ShopifyOrderStatus::Other(status) => status,
        }
    }
}

impl From<&str> for ShopifyOrderStatus {
    fn from(status: &str) -> Self {
        match status {
            "cancelled" => ShopifyOrderStatus::Cancelled,
            "fulfilled" => ShopifyOrderStatus::Fulfilled,
            "partial" => ShopifyOrderStatus::Partial,
            "restocked" => ShopifyOrderStatus::Restocked,
            "pending" => ShopifyOrderStatus::Pending,
            "authorized" => ShopifyOrderStatus::Authorized,
            "partially_paid" => ShopifyOrderStatus::PartiallyPaid,
            "paid" => ShopifyOrderStatus::Paid,
            "partially_refunded" => ShopifyOrderStatus::PartiallyRefunded,
            "refunded" => ShopifyOrderStatus::Refunded,
            "voided" => ShopifyOrderStatus::Voided,
            "open" => ShopifyOrderStatus::Open,
            other => ShopifyOrderStatus::Other(other.to_owned()),
        }
    }
}

/// A Shopify customer document: the fields sellerops reads; the rest is kept as received.
#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyCustomer {
    /// Shopify's customer id.
    pub id: u64,
    /// Their address; hashed, never stored.
    #[serde(default)]
    pub email: Option<String>,
    /// When it last changed: the newer version wins.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_word_reads_back_as_spelled_and_an_unknown_one_is_kept() {
        for spelled in [
            "cancelled",
            "fulfilled",
            "partial",
            "restocked",
            "pending",
            "authorized",
            "partially_paid",
            "paid",
            "partially_refunded",
            "refunded",
            "voided",
            "open",
        ] {
            let status = ShopifyOrderStatus::from(spelled);
            assert!(!matches!(status, ShopifyOrderStatus::Other(_)), "{spelled}");
            assert_eq!(status.as_str(), spelled);
        }
        assert_eq!(
            ShopifyOrderStatus::from("on_hold").as_str(),
            "on_hold",
            "a word Shopify adds later"
        );
    }

    #[test]
    fn cancellation_wins_over_fulfilment_which_wins_over_payment() {
        let order = |cancelled: bool, fulfillment: Option<&str>, financial: Option<&str>| {
            let mut order: ShopifyOrder = serde_json::from_value(serde_json::json!({
                "id": 1, "created_at": "2026-03-02T10:00:00Z",
                "updated_at": "2026-03-02T10:00:00Z", "currency": "CAD", "total_price": "1.00",
                "fulfillment_status": fulfillment, "financial_status": financial,
            }))
            .unwrap();
            if cancelled {
                order.cancelled_at = Some(order.created_at);
            }
            order.status()
        };
        assert_eq!(
            order(true, Some("fulfilled"), Some("paid")),
            ShopifyOrderStatus::Cancelled
        );
        assert_eq!(
            order(false, Some("partial"), Some("paid")),
            ShopifyOrderStatus::Partial
        );
        assert_eq!(order(false, None, Some("paid")), ShopifyOrderStatus::Paid);
        assert_eq!(order(false, None, None), ShopifyOrderStatus::Open);
    }
}
