//! Shopify webhook documents: orders into the canonical order tables, customers into the
//! `etl.shopify_customers` envelope (the raw document less e-mail addresses).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::channel::Channel;
use crate::customer_email::EmailPepper;
use crate::received::{decimal, optional_decimal, Received};
use crate::recording::order::{
    record_channel_customer, record_order, ChannelOrder, ChannelOrderLine, OrderCustomer,
    RecordedOrder, ShipTo,
};
use crate::recording::{hash_email, SeenBy};

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

/// Records a Shopify order through the shared order path, in the caller's transaction.
pub async fn record_shopify_order(
    tx: &mut PgConnection,
    received: &Received<ShopifyOrder>,
    pepper: &EmailPepper,
) -> Result<RecordedOrder, sqlx::Error> {
    let order = &received.value;
    let external_id = order.id.to_string();
    let customer_id = order.customer.as_ref().map(|c| c.id.to_string());
    let email = order
        .customer
        .as_ref()
        .and_then(|c| c.email.as_deref())
        .or(order.email.as_deref());
    let address = order.shipping_address.as_ref();
    let line_ids: Vec<String> = order.line_items.iter().map(|l| l.id.to_string()).collect();
    let lines = order
        .line_items
        .iter()
        .zip(&line_ids)
        .enumerate()
        .map(|(index, (line, line_id))| ChannelOrderLine {
            external_line_id: line_id,
            line_number: i32::try_from(index + 1).unwrap_or(i32::MAX),
            sku: line.sku.as_deref().unwrap_or(""),
            title: line.title.as_deref(),
            quantity: line.quantity,
            unit_price: line.price,
            line_total: line.price * Decimal::from(line.quantity),
            shipping: None,
            tax: None,
            status: None,
        })
        .collect();
    let channel_order = ChannelOrder {
        channel: Channel::Shopify,
        external_id: &external_id,
        commercial_id: order.name.as_deref(),
        status: order.status(),
        currency: &order.currency,
        subtotal: order.subtotal_price,
        shipping: None,
        tax: order.total_tax,
        commission: None,
        total: order.total_price,
        payment_method: None,
        placed_at: order.created_at,
        last_updated_at: order.updated_at,
        shipping_deadline: None,
        shipping_method_code: None,
        ship_to: address.map(|a| ShipTo {
            name: Some(
                [a.first_name.as_deref(), a.last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .filter(|n| !n.is_empty()),
            company: a.company.clone(),
            line1: a.address1.clone(),
            line2: a.address2.clone(),
            city: a.city.clone(),
            province: a.province_code.clone(),
            postal_code: a.zip.clone(),
            country_code: a
                .country_code
                .clone()
                .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())),
            phone: a.phone.clone(),
        }),
        customer: customer_id.as_deref().map(|id| OrderCustomer {
            external_id: id,
            email: hash_email(email, pepper),
            region: address.and_then(|a| a.province_code.as_deref()),
        }),
        lines,
        raw_payload: received.raw(),
    };
    record_order(tx, &channel_order, SeenBy::ShopifyWebhook).await
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

/// Upserts a customer document into `etl.shopify_customers` (keyed by store and Shopify
/// id) and links it to its `sales.customers` row. Returns that row's id.
pub async fn record_shopify_customer(
    tx: &mut PgConnection,
    shop_domain: &str,
    received: &Received<ShopifyCustomer>,
    pepper: &EmailPepper,
) -> Result<Uuid, sqlx::Error> {
    let customer = &received.value;
    let shopify_id = customer.id.to_string();
    let email = hash_email(customer.email.as_deref(), pepper);
    let customer_id =
        record_channel_customer(tx, Channel::Shopify, &shopify_id, email, None, None).await?;
    sqlx::query(
        "insert into etl.shopify_customers as s
             (shop_domain, shopify_customer_id, customer_id, email_hash, data)
         values ($1, $2, $3, $4, ops.redact_email_addresses($5)::jsonb)
         on conflict on constraint shopify_customers_shop_domain_customer_id_key do update set
             customer_id = excluded.customer_id,
             email_hash = coalesce(excluded.email_hash, s.email_hash),
             data = excluded.data
         where $6::timestamptz is null
            or s.data ->> 'updated_at' is null
            or (s.data ->> 'updated_at')::timestamptz <= $6",
    )
    .bind(shop_domain)
    .bind(&shopify_id)
    .bind(customer_id)
    .bind(email.as_ref().map(|hash| hash.as_bytes().as_slice()))
    .bind(received.raw())
    .bind(customer.updated_at)
    .execute(&mut *tx)
    .await?;
    Ok(customer_id)
}
