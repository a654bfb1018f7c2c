//! OR11 (`GET /api/orders`): Mirakl's order model and the paged list call.
//!
//! Only the fields sellerops uses are modelled; the whole document is kept as received
//! (see [`crate::model::received`]). Amounts are exact decimals read from the JSON numbers'
//! own digits.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::order_state::OrderState;
use super::{MiraklClient, MiraklError, MiraklRequest};
use crate::model::received::{decimal, optional_decimal};
use crate::ops::retry::RetryPolicy;

/// One order as OR11 (and an order webhook) describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct MiraklOrder {
    /// Mirakl's order id, e.g. `BBY-00012345-A`: the order's id on the channel.
    pub order_id: String,
    /// The id the customer sees (several orders may share it).
    #[serde(default)]
    pub commercial_id: Option<String>,
    pub order_state: OrderState,
    /// When the customer placed it.
    pub created_date: DateTime<Utc>,
    /// When Mirakl last changed it: the newer version of an order wins.
    pub last_updated_date: DateTime<Utc>,
    /// ISO 4217 code, `CAD` on Best Buy Canada.
    pub currency_iso_code: String,
    /// Sum of the lines' prices, shipping excluded.
    #[serde(deserialize_with = "decimal")]
    pub price: Decimal,
    /// Shipping charged to the customer.
    #[serde(default, deserialize_with = "optional_decimal")]
    pub shipping_price: Option<Decimal>,
    /// Price plus shipping.
    #[serde(deserialize_with = "decimal")]
    pub total_price: Decimal,
    /// Best Buy's commission on the order.
    #[serde(default, deserialize_with = "optional_decimal")]
    pub total_commission: Option<Decimal>,
    /// The latest time to ship.
    #[serde(default)]
    pub shipping_deadline: Option<DateTime<Utc>>,
    /// Mirakl's shipping method code (`STD`, `EXP`…).
    #[serde(default)]
    pub shipping_type_code: Option<String>,
    /// The payment type as the spec requires it (`paymentType`).
    #[serde(default, rename = "paymentType")]
    pub payment_type_required: Option<String>,
    /// The payment type as the spec's own example names it (`payment_type`).
    #[serde(default)]
    pub payment_type: Option<String>,
    /// The customer's relay address for order notifications; hashed, never stored.
    #[serde(default)]
    pub customer_notification_email: Option<String>,
    /// Who bought it.
    pub customer: MiraklCustomer,
    /// What was bought.
    pub order_lines: Vec<MiraklOrderLine>,
}

/// The order's customer.
#[derive(Debug, Clone, Deserialize)]
pub struct MiraklCustomer {
    /// Mirakl's customer id, stable across the customer's orders.
    pub customer_id: String,
    /// Given name.
    #[serde(default)]
    pub firstname: Option<String>,
    /// Family name.
    #[serde(default)]
    pub lastname: Option<String>,
    /// Where to ship; absent on some platforms before acceptance.
    #[serde(default)]
    pub shipping_address: Option<MiraklAddress>,
}

/// A postal address as Mirakl sends it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MiraklAddress {
    /// Given name.
    #[serde(default)]
    pub firstname: Option<String>,
    /// Family name.
    #[serde(default)]
    pub lastname: Option<String>,
    /// Company, when shipping to one.
    #[serde(default)]
    pub company: Option<String>,
    /// First street line.
    #[serde(default)]
    pub street_1: Option<String>,
    /// Second street line.
    #[serde(default)]
    pub street_2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    /// Province code, e.g. `ON`.
    #[serde(default)]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub zip_code: Option<String>,
    /// ISO 3166 alpha-3 (`CAN`).
    #[serde(default)]
    pub country_iso_code: Option<String>,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
}

/// One order line.
#[derive(Debug, Clone, Deserialize)]
pub struct MiraklOrderLine {
    /// Mirakl's line id, e.g. `BBY-00012345-A-1`.
    pub order_line_id: String,
    /// 1-based position in the order.
    pub order_line_index: i32,
    /// The line's own state.
    #[serde(default)]
    pub order_line_state: Option<OrderState>,
    /// The shop's SKU of the offer: looked up in `catalog.shop_sku_map`.
    pub offer_sku: String,
    /// Product title as listed.
    #[serde(default)]
    pub product_title: Option<String>,
    /// Units ordered.
    pub quantity: i32,
    /// Price of one unit.
    #[serde(deserialize_with = "decimal")]
    pub price_unit: Decimal,
    /// Price of the line (unit price × quantity), shipping excluded.
    #[serde(deserialize_with = "decimal")]
    pub price: Decimal,
    /// Shipping charged for the line.
    #[serde(default, deserialize_with = "optional_decimal")]
    pub shipping_price: Option<Decimal>,
    /// Taxes on the line's price.
    #[serde(default)]
    pub taxes: Vec<MiraklTax>,
    /// Taxes on the line's shipping.
    #[serde(default)]
    pub shipping_taxes: Vec<MiraklTax>,
    /// Refunds of the line, whatever their state.
    #[serde(default)]
    pub refunds: Vec<MiraklRefund>,
}

/// One refund of an order line.
#[derive(Debug, Clone, Deserialize)]
pub struct MiraklRefund {
    /// Mirakl's refund id.
    pub id: String,
    /// Units refunded; Mirakl calls it informative only, and it is the only count of
    /// refunded units it gives.
    #[serde(default)]
    pub quantity: Option<i32>,
}

/// One tax amount (GST, HST, PST, QST…).
#[derive(Debug, Clone, Deserialize)]
pub struct MiraklTax {
    #[serde(deserialize_with = "decimal")]
    pub amount: Decimal,
    /// Mirakl's tax code.
    #[serde(default)]
    pub code: Option<String>,
}

impl MiraklOrder {
    /// The payment type under either of its names.
    pub fn payment(&self) -> Option<&str> {
        self.payment_type_required
            .as_deref()
            .or(self.payment_type.as_deref())
    }
}

impl MiraklOrderLine {
    /// Whether the refunds, requested or paid, cover every unit of the line.
    pub fn refunded_in_full(&self) -> bool {
        let refunded: i64 = self
            .refunds
            .iter()
            .filter_map(|refund| refund.quantity)
            .map(i64::from)
            .sum();
        self.quantity > 0 && refunded >= i64::from(self.quantity)
    }

    /// All taxes on the line, price and shipping.
    pub fn tax_total(&self) -> Decimal {
        self.taxes
            .iter()
            .chain(&self.shipping_taxes)
            .map(|tax| tax.amount)
            .sum()
    }
}

/// One page of OR11.
#[derive(Debug, Deserialize)]
pub struct OrderPage {
    /// The orders' JSON texts, each read on its own
    /// ([`crate::model::received::Received::from_raw`]): one order
    /// that cannot be read is refused by itself and never costs its page.
    pub orders: Vec<Box<RawValue>>,
    /// How many orders match the query across all pages.
    pub total_count: u64,
}

/// Which orders to list: those changed since `updated_since`, one page at a time.
#[derive(Debug, Clone, Copy)]
pub struct OrdersChangedSince {
    /// OR11 `start_update_date`.
    pub updated_since: DateTime<Utc>,
    /// OR11 `offset`.
    pub offset: u64,
    /// OR11 `max` (at most 100).
    pub max: u32,
}

/// OR11: one page of orders changed since a time, oldest created first; a transient
/// failure is retried as `policy` allows.
pub async fn list_orders(
    client: &MiraklClient,
    query: OrdersChangedSince,
    policy: RetryPolicy,
) -> Result<OrderPage, MiraklError> {
    let mut request = MiraklRequest::new("OR11", Method::GET, "/api/orders");
    request.query = vec![
        (
            "start_update_date",
            query
                .updated_since
                .to_rfc3339_opts(SecondsFormat::Secs, true),
        ),
        ("offset", query.offset.to_string()),
        ("max", query.max.to_string()),
        ("sort", "dateCreated".to_owned()),
        ("order", "asc".to_owned()),
    ];
    client.send_retrying(request, policy).await?.json("OR11")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn a_line_is_refunded_in_full_only_when_its_refunds_cover_every_unit() {
        let mut order: MiraklOrder = serde_json::from_str(ORDER).unwrap();
        let line = &mut order.order_lines[0];
        assert!(!line.refunded_in_full());
        line.quantity = 2;
        line.refunds = serde_json::from_str(r#"[{"id": "R-1", "quantity": 1}]"#).unwrap();
        assert!(!line.refunded_in_full());
        line.refunds =
            serde_json::from_str(r#"[{"id": "R-1", "quantity": 1}, {"id": "R-2", "quantity": 1}]"#)
                .unwrap();
        assert!(line.refunded_in_full());
    }

    const ORDER: &str = r#"{
        "order_id": "BBY-1-A", "commercial_id": "BBY-1", "order_state": "SHIPPING",
        "created_date": "2026-03-02T14:18:43Z", "last_updated_date": "2026-03-02T14:59:58Z",
        "currency_iso_code": "CAD", "price": 19.99, "shipping_price": 0, "total_price": 19.99,
        "total_commission": 2.4, "payment_type": "VISA",
        "customer": {"customer_id": "C-1", "firstname": "Ana", "lastname": "Roy",
                     "shipping_address": null},
        "order_lines": [{"order_line_id": "BBY-1-A-1", "order_line_index": 1,
            "offer_sku": "LT-T480", "quantity": 1, "price_unit": 19.99, "price": 19.99,
            "taxes": [{"amount": 2.6, "code": "HST"}], "shipping_taxes": [{"amount": 0.01}]}]
    }"#;

    #[test]
    fn an_order_reads_its_money_exactly_and_accepts_either_payment_field() {
        let order: MiraklOrder = serde_json::from_str(ORDER).unwrap();
        assert_eq!(order.total_price, Decimal::from_str("19.99").unwrap());
        assert_eq!(order.payment(), Some("VISA"));
        assert!(order.customer.shipping_address.is_none());
        assert_eq!(
            order.order_lines[0].tax_total(),
            Decimal::from_str("2.61").unwrap()
        );
    }
}
