//! The Listings Items API (2021-08-01): `getListingsItem` (one listing with its
//! offers) and `patchListingsItem` (a JSON Patch of its attributes), for the seller's
//! price.
//!
//! A price goes out as a `replace` of `/attributes/purchasable_offer` carrying the
//! marketplace, the currency and `our_price` ([`price_patch`]). Amazon validates the
//! patch at once and answers `ACCEPTED` (with a submission id; the listing changes
//! within minutes) or `INVALID` (with issues): an `INVALID` answer is a refusal like a
//! 4xx. The patch has no idempotency key; a lost answer is settled by reading the
//! listing's offers back.

use reqwest::Method;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AmazonClient, AmazonError, AmazonRequest};
use crate::model::received::decimal;
use crate::ops::retry::RetryPolicy;

/// A listing as `getListingsItem` returns it, with the parts read here.
#[derive(Debug, Clone, Deserialize)]
pub struct ListingsItem {
    pub sku: String,
    #[serde(default)]
    pub summaries: Vec<ItemSummary>,
    #[serde(default)]
    pub offers: Vec<ItemOffer>,
}

/// A listing's summary in one marketplace.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemSummary {
    pub marketplace_id: String,
    /// The product type a patch must name.
    pub product_type: String,
}

/// A listing's offer in one marketplace.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemOffer {
    pub marketplace_id: String,
    /// `B2C` (shoppers) or `B2B`.
    pub offer_type: String,
    pub price: Money,
}

/// An amount with its currency; SP-API writes the amount as a decimal string.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    pub currency_code: String,
    #[serde(deserialize_with = "decimal")]
    pub amount: Decimal,
}

impl ListingsItem {
    /// The shoppers' (`B2C`) price in `marketplace_id`, when the listing has an offer.
    pub fn our_price(&self, marketplace_id: &str) -> Option<&Money> {
        self.offers
            .iter()
            .find(|offer| offer.marketplace_id == marketplace_id && offer.offer_type == "B2C")
            .map(|offer| &offer.price)
    }

    /// The listing's product type in `marketplace_id`.
    pub fn product_type(&self, marketplace_id: &str) -> Option<&str> {
        self.summaries
            .iter()
            .find(|summary| summary.marketplace_id == marketplace_id)
            .map(|summary| summary.product_type.as_str())
    }
}

/// The SKU as one URL path segment: SP-API asks for every special character encoded.
fn sku_segment(sku: &str) -> String {
    percent_encoding::utf8_percent_encode(sku, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn path(client: &AmazonClient, sku: &str) -> String {
    format!(
        "/listings/2021-08-01/items/{}/{}",
        sku_segment(client.seller_id()),
        sku_segment(sku)
    )
}

/// `getListingsItem`: the listing `sku` with its summaries and offers; `None` when
/// Amazon has no such listing (404). A transient failure is retried as `policy`
/// allows.
pub async fn get_listings_item(
    client: &AmazonClient,
    sku: &str,
    policy: RetryPolicy,
) -> Result<Option<ListingsItem>, AmazonError> {
    let mut request = AmazonRequest::new("getListingsItem", Method::GET, path(client, sku));
    request.query = vec![
        ("marketplaceIds", client.marketplace_id().to_owned()),
        ("includedData", "summaries,offers".to_owned()),
    ];
    match client.send_retrying(request, policy).await {
        Ok(answer) => serde_json::from_slice(&answer.body)
            .map(Some)
            .map_err(|err| AmazonError::UnexpectedBody {
                operation: "getListingsItem".into(),
                reason: err.to_string(),
            }),
        Err(AmazonError::Rejected { status: 404, .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// `patchListingsItem`'s body setting the price of `sku` to `price` in `currency` on
/// `marketplace_id`: one `replace` of `purchasable_offer` with `our_price`'s schedule.
pub fn price_patch(
    product_type: &str,
    marketplace_id: &str,
    currency: &str,
    price: Decimal,
) -> Value {
    let amount: Value = serde_json::from_str(&price.round_dp(2).to_string())
        .unwrap_or_else(|_| json!(price.round_dp(2).to_string()));
    json!({
        "productType": product_type,
        "patches": [{
            "op": "replace",
            "path": "/attributes/purchasable_offer",
            "value": [{
                "marketplace_id": marketplace_id,
                "currency": currency,
                "our_price": [{"schedule": [{"value_with_tax": amount}]}]
            }]
        }]
    })
}

/// `patchListingsItem`'s answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionResponse {
    pub sku: String,
    /// `ACCEPTED` or `INVALID`.
    pub status: String,
    pub submission_id: String,
    #[serde(default)]
    pub issues: Vec<Issue>,
}

/// A problem Amazon found with a submission.
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub code: String,
    pub message: String,
    /// `ERROR`, `WARNING` or `INFO`.
    pub severity: String,
}

impl SubmissionResponse {
    /// The errors Amazon found, one line, when it did not accept the patch.
    pub fn refusal(&self) -> Option<String> {
        if self.status == "ACCEPTED" {
            return None;
        }
        let errors: Vec<String> = self
            .issues
            .iter()
            .filter(|issue| issue.severity == "ERROR")
            .map(|issue| format!("{}: {}", issue.code, issue.message))
            .collect();
        Some(if errors.is_empty() {
            format!("submission {}", self.status)
        } else {
            errors.join("; ")
        })
    }
}

/// `patchListingsItem`: sends `body` (from [`price_patch`]) for `sku`. `policy` retries
/// only what provably never left or was turned away.
pub async fn patch_listings_item(
    client: &AmazonClient,
    sku: &str,
    body: Value,
    policy: RetryPolicy,
) -> Result<SubmissionResponse, AmazonError> {
    let mut request = AmazonRequest::new("patchListingsItem", Method::PATCH, path(client, sku));
    request.query = vec![("marketplaceIds", client.marketplace_id().to_owned())];
    request.body = Some(body);
    let answer = client.send_retrying(request, policy).await?;
    serde_json::from_slice(&answer.body).map_err(|err| AmazonError::UnexpectedBody {
        operation: "patchListingsItem".into(),
        reason: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn the_patch_replaces_the_purchasable_offer_with_our_price() {
        let body = price_patch(
            "PRODUCT",
            "A2EUQ1WTGCTBG2",
            "CAD",
            Decimal::from_str("84.50").unwrap(),
        );
        assert_eq!(
            body,
            json!({
                "productType": "PRODUCT",
                "patches": [{"op": "replace", "path": "/attributes/purchasable_offer",
                    "value": [{"marketplace_id": "A2EUQ1WTGCTBG2", "currency": "CAD",
                               "our_price": [{"schedule": [{"value_with_tax": 84.5}]}]}]}]
            })
        );
    }

    #[test]
    fn an_invalid_submission_is_a_refusal_naming_its_errors() {
        let response: SubmissionResponse = serde_json::from_str(
            r#"{"sku":"S","status":"INVALID","submissionId":"x","issues":[
                {"code":"90220","message":"price is below the minimum","severity":"ERROR"},
                {"code":"1","message":"note","severity":"INFO"}]}"#,
        )
        .unwrap();
        assert_eq!(
            response.refusal().as_deref(),
            Some("90220: price is below the minimum")
        );
    }

    #[test]
    fn the_b2c_price_of_the_marketplace_is_ours() {
        let item: ListingsItem = serde_json::from_str(
            r#"{"sku":"S","summaries":[{"marketplaceId":"A2EUQ1WTGCTBG2","asin":"B0","productType":"LUGGAGE",
                "status":["BUYABLE"],"itemName":"x","createdDate":"2021-02-01T00:00:00Z","lastUpdatedDate":"2021-03-01T00:00:00Z"}],
               "offers":[{"marketplaceId":"A2EUQ1WTGCTBG2","offerType":"B2B","price":{"currencyCode":"CAD","amount":"80.00"}},
                         {"marketplaceId":"A2EUQ1WTGCTBG2","offerType":"B2C","price":{"currencyCode":"CAD","amount":"89.99"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            item.our_price("A2EUQ1WTGCTBG2").unwrap().amount,
            Decimal::from_str("89.99").unwrap()
        );
        assert_eq!(item.product_type("A2EUQ1WTGCTBG2"), Some("LUGGAGE"));
    }
}
