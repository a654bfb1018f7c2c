//! Offers: OF21 (`GET /api/offers`, the shop's offers, filtered by SKU), OF24
//! (`POST /api/offers`, create, update or delete offers), OF02
//! (`GET /api/offers/imports/{import}`, one offer import's status) and OF04
//! (`GET /api/offers/imports`, the shop's recent offer imports).
//!
//! OF24 is the way a price goes out to Best Buy, and three of its properties shape
//! how it is used:
//!
//! - **It rewrites the whole offer.** A field left out is reset (the quantity to 0, the
//!   description and the discount deleted). An update is therefore built from the offer
//!   as OF21 just returned it, with only the price changed ([`price_update`]).
//! - **It is asynchronous.** The answer is an import id; the import runs later
//!   (`WAITING`, `RUNNING`, then `COMPLETE` or `FAILED`), and a line it could not apply
//!   is counted in `lines_in_error`. OF02 tells how it ended.
//! - **It has no idempotency key.** A request whose answer was lost may have started an
//!   import; sending it again writes the offer twice, the second time from a read that
//!   may be stale. A failure says what may have happened through
//!   [`MiraklError::send_effect`], and an ambiguous one is settled by reading the offer
//!   back (OF21) and the imports started since (OF04).

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{MiraklClient, MiraklError, MiraklRequest};
use crate::model::received::{decimal, optional_decimal, Received};
use crate::ops::retry::RetryPolicy;

/// One offer as OF21 lists it: the fields sellerops reads. The whole document is kept
/// ([`Received::raw`]), since an update must carry every field back.
#[derive(Debug, Clone, Deserialize)]
pub struct MiraklOffer {
    /// Mirakl's id of the offer.
    pub offer_id: i64,
    /// The seller's SKU of the offer.
    pub shop_sku: String,
    /// The price a buyer pays now: the discount price while a discount runs.
    #[serde(deserialize_with = "decimal")]
    pub price: Decimal,
    #[serde(default)]
    pub quantity: Option<i64>,
    #[serde(default)]
    pub currency_iso_code: Option<String>,
    /// The prices in force, with the price before any discount.
    #[serde(default)]
    pub applicable_pricing: Option<ApplicablePricing>,
}

/// An offer's prices in force.
#[derive(Debug, Clone, Deserialize)]
pub struct ApplicablePricing {
    /// The price before any discount: what OF24's `price` sets.
    #[serde(default, deserialize_with = "optional_decimal")]
    pub unit_origin_price: Option<Decimal>,
}

impl MiraklOffer {
    /// The offer's own price, the one OF24's `price` sets: the price before a discount
    /// when Mirakl shows one, else the price.
    pub fn origin_price(&self) -> Decimal {
        self.applicable_pricing
            .as_ref()
            .and_then(|pricing| pricing.unit_origin_price)
            .unwrap_or(self.price)
    }
}

#[derive(Debug, Deserialize)]
struct OfferPage {
    offers: Vec<Received<MiraklOffer>>,
}

/// OF21 filtered by `shop_sku`: the shop's offer with exactly that SKU, if any. A
/// transient failure is retried as `policy` allows.
pub async fn find_offer(
    client: &MiraklClient,
    shop_sku: &str,
    policy: RetryPolicy,
) -> Result<Option<Received<MiraklOffer>>, MiraklError> {
    let mut request = MiraklRequest::new("OF21", Method::GET, "/api/offers");
    request.query = vec![("sku", shop_sku.to_owned()), ("max", "10".to_owned())];
    let page: OfferPage = client.send_retrying(request, policy).await?.json("OF21")?;
    Ok(page
        .offers
        .into_iter()
        .find(|offer| offer.value.shop_sku == shop_sku))
}

/// The offer fields OF24 takes that OF21 returns under the same name; each one left
/// out of an update would be reset.
const CARRIED_AS_IS: &[&str] = &[
    "shop_sku",
    "state_code",
    "quantity",
    "description",
    "internal_description",
    "price_additional_info",
    "leadtime_to_ship",
    "min_order_quantity",
    "max_order_quantity",
    "min_quantity_alert",
    "package_quantity",
    "product_tax_code",
    "allow_quote_requests",
];

/// An offer could not be turned into its update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("offer cannot be updated from what OF21 returned: {0}")]
pub struct UnusableOffer(String);

/// OF24's entry for `offer` (OF21's JSON text) with its price set to `price` and every
/// other field as it is: the fields OF24 shares with OF21 copied, the logistic class
/// by its code, the availability dates, the discount (price, dates and ranges) and the
/// custom fields under OF24's names. The product is named by Mirakl's product SKU.
/// Channel-specific prices (`all_prices`) and eco-contributions are not carried: the
/// shop sets neither.
pub fn price_update(offer: &str, price: Decimal) -> Result<Value, UnusableOffer> {
    let offer: Map<String, Value> =
        serde_json::from_str(offer).map_err(|err| UnusableOffer(err.to_string()))?;
    let present = |name: &str| offer.get(name).filter(|value| !value.is_null()).cloned();
    let mut update = Map::new();
    for name in CARRIED_AS_IS {
        if let Some(value) = present(name) {
            update.insert((*name).to_owned(), value);
        }
    }
    if !update.contains_key("shop_sku") || !update.contains_key("state_code") {
        return Err(UnusableOffer(
            "it has no shop_sku or no state_code".to_owned(),
        ));
    }
    if let Some(product_sku) = present("product_sku") {
        // `SKU`: the reference is Mirakl's own product SKU (not an EAN or UPC).
        update.insert("product_id".into(), product_sku);
        update.insert("product_id_type".into(), json!("SKU"));
    }
    if let Some(code) = present("logistic_class").and_then(|class| class.get("code").cloned()) {
        update.insert("logistic_class".into(), code);
    }
    for (from, to) in [
        ("available_start_date", "available_started"),
        ("available_end_date", "available_ended"),
    ] {
        if let Some(value) = present(from) {
            update.insert(to.to_owned(), value);
        }
    }
    if let Some(discount) = present("discount").and_then(|discount| discount_update(&discount)) {
        update.insert("discount".into(), discount);
    }
    if let Some(Value::Array(fields)) = present("offer_additional_fields") {
        let fields: Vec<Value> = fields
            .iter()
            .filter_map(|field| {
                Some(json!({"code": field.get("code")?, "value": field.get("value")?}))
            })
            .collect();
        if !fields.is_empty() {
            update.insert("offer_additional_fields".into(), Value::Array(fields));
        }
    }
    update.insert("price".into(), json_amount(price)?);
    update.insert("update_delete".into(), json!("update"));
    Ok(Value::Object(update))
}

/// OF21's discount as OF24 takes it, when there is one.
fn discount_update(discount: &Value) -> Option<Value> {
    let mut update = Map::new();
    if let Some(price) = discount.get("discount_price").filter(|v| !v.is_null()) {
        update.insert("price".into(), price.clone());
    }
    for name in ["start_date", "end_date"] {
        if let Some(value) = discount.get(name).filter(|v| !v.is_null()) {
            update.insert(name.to_owned(), value.clone());
        }
    }
    if let Some(Value::Array(ranges)) = discount.get("ranges") {
        if !ranges.is_empty() {
            update.insert("ranges".into(), Value::Array(ranges.clone()));
        }
    }
    (update.contains_key("price") || update.contains_key("ranges")).then_some(Value::Object(update))
}

/// An amount as a JSON number with its cents, as Mirakl takes prices.
fn json_amount(amount: Decimal) -> Result<Value, UnusableOffer> {
    serde_json::from_str(&amount.round_dp(2).to_string())
        .map_err(|err| UnusableOffer(format!("price {amount} is not a JSON number: {err}")))
}

/// OF24's answer: the import that will apply the update.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OfferImportId {
    pub import_id: i64,
}

/// OF24: sends `offers` (entries built by [`price_update`]); Mirakl answers 201 with the
/// import id. `policy` retries only what provably never left or was turned away (the
/// shared client never repeats a POST that may have arrived).
pub async fn update_offers(
    client: &MiraklClient,
    offers: Vec<Value>,
    policy: RetryPolicy,
) -> Result<OfferImportId, MiraklError> {
    let mut request = MiraklRequest::new("OF24", Method::POST, "/api/offers");
    request.body = Some(json!({ "offers": offers }));
    client.send_retrying(request, policy).await?.json("OF24")
}

/// An offer import's progress (OF02, and each entry of OF04).
#[derive(Debug, Clone, Deserialize)]
pub struct OfferImport {
    pub import_id: i64,
    /// `WAITING_SYNCHRONIZATION_PRODUCT`, `WAITING`, `RUNNING`, `COMPLETE` or `FAILED`.
    pub status: String,
    #[serde(default)]
    pub date_created: Option<DateTime<Utc>>,
    #[serde(default)]
    pub lines_in_error: i64,
    #[serde(default)]
    pub lines_in_success: i64,
    /// Why the import ended as it did, in Mirakl's words.
    #[serde(default)]
    pub reason_status: Option<String>,
    #[serde(default)]
    pub has_error_report: bool,
}

impl OfferImport {
    /// Still to run or running: its outcome is not known yet.
    pub fn is_pending(&self) -> bool {
        matches!(
            self.status.as_str(),
            "WAITING_SYNCHRONIZATION_PRODUCT" | "WAITING" | "RUNNING"
        )
    }
}

/// OF02: one import's status. A transient failure is retried as `policy` allows.
pub async fn import_status(
    client: &MiraklClient,
    import_id: i64,
    policy: RetryPolicy,
) -> Result<OfferImport, MiraklError> {
    let request = MiraklRequest::new(
        "OF02",
        Method::GET,
        format!("/api/offers/imports/{import_id}"),
    );
    client.send_retrying(request, policy).await?.json("OF02")
}

#[derive(Debug, Deserialize)]
struct ImportPage {
    data: Vec<OfferImport>,
}

/// OF04: the shop's offer imports made through the API since `since` (its first page,
/// which holds the latest ones). A transient failure is retried as `policy` allows.
pub async fn imports_since(
    client: &MiraklClient,
    since: DateTime<Utc>,
    policy: RetryPolicy,
) -> Result<Vec<OfferImport>, MiraklError> {
    let mut request = MiraklRequest::new("OF04", Method::GET, "/api/offers/imports");
    request.query = vec![
        (
            "start_date",
            since.to_rfc3339_opts(SecondsFormat::Secs, true),
        ),
        ("origins", "API".to_owned()),
    ];
    let page: ImportPage = client.send_retrying(request, policy).await?.json("OF04")?;
    Ok(page.data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn amount(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    const OFFER: &str = r#"{
        "offer_id": 2101, "shop_sku": "SKU-1", "product_sku": "BB-PROD-9",
        "price": 79.99, "quantity": 7, "state_code": "11", "currency_iso_code": "CAD",
        "description": "Sealed box", "internal_description": null,
        "leadtime_to_ship": 2, "logistic_class": {"code": "M", "label": "Medium"},
        "min_quantity_alert": 1, "package_quantity": 1, "active": true,
        "available_start_date": "2026-01-01T00:00:00Z",
        "discount": {"discount_price": 79.99, "start_date": "2026-11-01T00:00:00Z",
                     "end_date": "2026-12-31T00:00:00Z", "origin_price": 89.99, "ranges": []},
        "applicable_pricing": {"price": 79.99, "unit_origin_price": 89.99, "volume_prices": []},
        "offer_additional_fields": [{"code": "warranty", "type": "STRING", "value": "1y"}],
        "total_price": 79.99, "product_title": "Widget"
    }"#;

    #[test]
    fn an_update_changes_the_price_and_carries_every_other_field() {
        let update = price_update(OFFER, amount("84.5")).unwrap();
        assert_eq!(
            update,
            json!({
                "shop_sku": "SKU-1", "state_code": "11", "quantity": 7,
                "description": "Sealed box", "leadtime_to_ship": 2,
                "min_quantity_alert": 1, "package_quantity": 1,
                "product_id": "BB-PROD-9", "product_id_type": "SKU",
                "logistic_class": "M",
                "available_started": "2026-01-01T00:00:00Z",
                "discount": {"price": 79.99, "start_date": "2026-11-01T00:00:00Z",
                             "end_date": "2026-12-31T00:00:00Z"},
                "offer_additional_fields": [{"code": "warranty", "value": "1y"}],
                "price": 84.5, "update_delete": "update"
            })
        );
    }

    #[test]
    fn the_origin_price_is_the_one_an_update_sets() {
        let offer: MiraklOffer = serde_json::from_str(OFFER).unwrap();
        assert_eq!(offer.price, amount("79.99"));
        assert_eq!(offer.origin_price(), amount("89.99"));
    }

    #[test]
    fn an_offer_without_its_state_cannot_be_updated() {
        assert!(price_update(r#"{"shop_sku": "SKU-1", "price": 1}"#, amount("2")).is_err());
    }

    #[test]
    fn an_import_is_pending_until_it_completes_or_fails() {
        let import = |status: &str| OfferImport {
            import_id: 1,
            status: status.to_owned(),
            date_created: None,
            lines_in_error: 0,
            lines_in_success: 0,
            reason_status: None,
            has_error_report: false,
        };
        assert!(import("WAITING").is_pending());
        assert!(import("RUNNING").is_pending());
        assert!(!import("COMPLETE").is_pending());
        assert!(!import("FAILED").is_pending());
    }
}
