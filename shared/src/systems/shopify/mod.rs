//! Shopify webhook documents: orders and customers as Shopify sends them. Recording them
//! is [`crate::flows::recording::shopify`]'s job.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::received::{decimal, optional_decimal};

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
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Units.
    pub quantity: i32,
    /// Price of one unit.
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
    /// Company.
    #[serde(default)]
    pub company: Option<String>,
    /// First street line.
    #[serde(default)]
    pub address1: Option<String>,
    /// Second street line.
    #[serde(default)]
    pub address2: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// Province code.
    #[serde(default)]
    pub province_code: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub zip: Option<String>,
    /// ISO alpha-2.
    #[serde(default)]
    pub country_code: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
}

impl ShopifyOrder {
    /// The order's state in one word: cancelled, fulfilled/partial, else its payment state.
    pub fn status(&self) -> &str {
        if self.cancelled_at.is_some() {
            "cancelled"
        } else if let Some(fulfillment) = self.fulfillment_status.as_deref() {
            fulfillment
        } else {
            self.financial_status.as_deref().unwrap_or("open")
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
