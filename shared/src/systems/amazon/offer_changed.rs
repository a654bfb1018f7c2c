//! The SP-API `ANY_OFFER_CHANGED` notification: Amazon sends one when any of the top 20
//! offers on a product the seller sells changes, per item condition, and lists those
//! offers (the seller's own among them) with a summary of the product's prices.
//!
//! # Format
//!
//! The SQS message body is the notification itself, PascalCase, no SNS envelope:
//! `NotificationType`, `EventTime`, `NotificationMetadata.NotificationId`, and
//! `Payload.AnyOfferChangedNotification` with `SellerId` (the subscribed seller),
//! `OfferChangeTrigger` (`ASIN`, `MarketplaceId`, `ItemCondition`,
//! `TimeOfOfferChange`), `Summary` and `Offers`. Amounts are JSON numbers and are read
//! from their text, never through a float.
//!
//! A notification that cannot be used is refused with the path of the field at fault
//! (`Payload.AnyOfferChangedNotification.Offers[1].ListingPrice.Amount: …`). Fields
//! this product does not use are not required, so a notification Amazon enriches later
//! still reads.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::model::field_path::InvalidField;
use crate::model::money::Currency;
use crate::model::received::{decimal, Received};

/// The notification type this module reads.
pub const NOTIFICATION_TYPE: &str = "ANY_OFFER_CHANGED";

/// Amazon lists at most this many offers; an offer missing from a full list may only
/// have dropped below the top 20.
pub const MAX_LISTED_OFFERS: usize = 20;

/// An `ANY_OFFER_CHANGED` notification, as SP-API delivers it to SQS.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AnyOfferChanged {
    /// Always `ANY_OFFER_CHANGED` once parsed.
    pub notification_type: String,
    /// When Amazon created the notification.
    pub event_time: DateTime<Utc>,
    /// Its id and delivery details.
    pub notification_metadata: NotificationMetadata,
    /// What changed.
    pub payload: Payload,
}

/// Who the notification is for and its id.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationMetadata {
    /// Amazon's id of this notification: the same on every redelivery.
    pub notification_id: String,
    /// When Amazon published it.
    pub publish_time: DateTime<Utc>,
}

/// The notification's payload.
#[derive(Debug, Clone, Deserialize)]
pub struct Payload {
    /// The offers of one product, in one condition.
    #[serde(rename = "AnyOfferChangedNotification")]
    pub any_offer_changed: OfferChange,
}

/// The offers of one product, in one condition, after a change.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OfferChange {
    /// The merchant id of the seller the notification is sent to: offers under it are
    /// the seller's own.
    pub seller_id: String,
    /// Which product and condition changed, and when.
    pub offer_change_trigger: OfferChangeTrigger,
    /// Offer counts, lowest and buy-box prices, sales ranks.
    #[serde(default)]
    pub summary: Summary,
    /// The top offers, the seller's own included.
    pub offers: Vec<SpOffer>,
}

/// The product and condition whose offers changed.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OfferChangeTrigger {
    /// The marketplace (`A2EUQ1WTGCTBG2` is Amazon.ca).
    pub marketplace_id: String,
    /// The product.
    #[serde(rename = "ASIN")]
    pub asin: String,
    /// `new`, `used`… (Amazon's casing varies).
    pub item_condition: String,
    /// When the offers changed: the time their prices are recorded at.
    pub time_of_offer_change: DateTime<Utc>,
    /// `External`, `Internal`, `Featured`…
    #[serde(default)]
    pub offer_change_type: Option<String>,
}

/// The parts of the notification's summary this product reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Summary {
    /// Offers on the product by condition and fulfilment channel, all of them, not only
    /// the listed ones.
    #[serde(default)]
    pub number_of_offers: Vec<OfferCount>,
    /// Sales ranks by category; the first is the product's main one.
    #[serde(default)]
    pub sales_rankings: Vec<SalesRank>,
}

/// How many offers a condition and fulfilment channel have.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OfferCount {
    /// `new`, `used`…
    pub condition: String,
    /// `Amazon` or `Merchant`.
    #[serde(default)]
    pub fulfillment_channel: Option<String>,
    /// The count.
    pub offer_count: u32,
}

/// The product's rank in one category.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SalesRank {
    /// Amazon's category id.
    pub product_category_id: String,
    /// 1 is the best seller.
    pub rank: i64,
}

/// One seller's offer on the product.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SpOffer {
    /// The merchant id of the seller making the offer.
    pub seller_id: String,
    /// The item's price, shipping excluded.
    pub listing_price: SpMoney,
    /// Shipping, absent for free shipping.
    #[serde(default)]
    pub shipping: Option<SpMoney>,
    /// When the item ships: an offer not `available` now is out of stock.
    #[serde(default)]
    pub shipping_time: Option<ShippingTime>,
    /// Whether Amazon ships it.
    #[serde(default)]
    pub is_fulfilled_by_amazon: bool,
    /// Whether the offer holds the buy box.
    #[serde(default)]
    pub is_buy_box_winner: bool,
}

impl SpOffer {
    /// What the buyer pays: listing price plus shipping.
    pub fn landed_price(&self) -> Decimal {
        self.listing_price.amount + self.shipping.as_ref().map_or(Decimal::ZERO, |s| s.amount)
    }

    /// Whether the item can ship now. Amazon marks a back-ordered offer
    /// `futureWithDate` or `futureWithoutDate`; no shipping time says nothing against it.
    pub fn is_available(&self) -> bool {
        self.shipping_time
            .as_ref()
            .and_then(|time| time.availability_type.as_deref())
            .is_none_or(|kind| kind.eq_ignore_ascii_case("available"))
    }
}

/// When an offer ships.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShippingTime {
    /// `available`, `futureWithDate` or `futureWithoutDate`.
    #[serde(default)]
    pub availability_type: Option<String>,
}

/// An amount as SP-API writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SpMoney {
    /// Read from the number's own text.
    #[serde(deserialize_with = "decimal")]
    pub amount: Decimal,
    /// ISO 4217.
    pub currency_code: Currency,
}

impl AnyOfferChanged {
    /// Reads a notification from an SQS message body and checks what the recording
    /// relies on: the type, the ASIN, seller ids, amounts that are not negative and
    /// one currency throughout.
    ///
    /// # Errors
    /// The field at fault, by its path in the notification, and what is wrong with it.
    pub fn parse(body: &str) -> Result<Self, InvalidField> {
        let raw: Box<RawValue> = serde_json::from_str(body)
            .map_err(|err| InvalidField::new("", format!("the notification is not JSON: {err}")))?;
        let notification = Received::<Self>::from_raw(raw)?.value;
        notification.check()?;
        Ok(notification)
    }

    /// The change itself.
    pub fn change(&self) -> &OfferChange {
        &self.payload.any_offer_changed
    }

    fn check(&self) -> Result<(), InvalidField> {
        if self.notification_type != NOTIFICATION_TYPE {
            return Err(InvalidField::new(
                "NotificationType",
                format!(
                    "expected {NOTIFICATION_TYPE}, got {:?}",
                    self.notification_type
                ),
            ));
        }
        const CHANGE: &str = "Payload.AnyOfferChangedNotification";
        if self.notification_metadata.notification_id.trim().is_empty() {
            return Err(InvalidField::new(
                "NotificationMetadata.NotificationId",
                "must not be empty",
            ));
        }
        let change = self.change();
        if change.seller_id.trim().is_empty() {
            return Err(InvalidField::new(
                format!("{CHANGE}.SellerId"),
                "must not be empty",
            ));
        }
        let asin = &change.offer_change_trigger.asin;
        if asin.len() != 10 || !asin.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(InvalidField::new(
                format!("{CHANGE}.OfferChangeTrigger.ASIN"),
                format!("must be an ASIN, ten letters or digits, got {asin:?}"),
            ));
        }
        if change.offer_change_trigger.item_condition.trim().is_empty() {
            return Err(InvalidField::new(
                format!("{CHANGE}.OfferChangeTrigger.ItemCondition"),
                "must not be empty",
            ));
        }
        let mut currency: Option<(Currency, String)> = None;
        for (index, offer) in change.offers.iter().enumerate() {
            let at = format!("{CHANGE}.Offers[{index}]");
            if offer.seller_id.trim().is_empty() {
                return Err(InvalidField::new(
                    format!("{at}.SellerId"),
                    "must not be empty",
                ));
            }
            let amounts = std::iter::once(("ListingPrice", &offer.listing_price))
                .chain(offer.shipping.iter().map(|s| ("Shipping", s)));
            for (name, money) in amounts {
                let field = format!("{at}.{name}");
                if money.amount < Decimal::ZERO {
                    return Err(InvalidField::new(
                        format!("{field}.Amount"),
                        format!("must not be negative, got {}", money.amount),
                    ));
                }
                match &currency {
                    None => currency = Some((money.currency_code, field)),
                    Some((first, first_field)) if *first != money.currency_code => {
                        return Err(InvalidField::new(
                            format!("{field}.CurrencyCode"),
                            format!(
                                "{} differs from {first} in {first_field}: one notification \
                                 is priced in one currency",
                                money.currency_code
                            ),
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn notification() -> Value {
        json!({
            "NotificationVersion": "1.0",
            "NotificationType": "ANY_OFFER_CHANGED",
            "PayloadVersion": "1.0",
            "EventTime": "2026-03-02T14:00:01.120Z",
            "NotificationMetadata": {
                "ApplicationId": "amzn1.sp.solution.test",
                "SubscriptionId": "sub-1",
                "PublishTime": "2026-03-02T14:00:01.500Z",
                "NotificationId": "n-1"
            },
            "Payload": {"AnyOfferChangedNotification": {
                "SellerId": "AOWNSELLER01",
                "OfferChangeTrigger": {
                    "MarketplaceId": "A2EUQ1WTGCTBG2",
                    "ASIN": "B0TESTASIN",
                    "ItemCondition": "new",
                    "TimeOfOfferChange": "2026-03-02T14:00:00.000Z",
                    "OfferChangeType": "External"
                },
                "Summary": {"NumberOfOffers": [{"Condition": "new", "FulfillmentChannel": "Merchant", "OfferCount": 2}]},
                "Offers": [
                    {"SellerId": "AOWNSELLER01", "ListingPrice": {"Amount": 49.99, "CurrencyCode": "CAD"},
                     "Shipping": {"Amount": 0.0, "CurrencyCode": "CAD"}, "IsBuyBoxWinner": true},
                    {"SellerId": "ARIVAL00001", "ListingPrice": {"Amount": 45.10, "CurrencyCode": "CAD"},
                     "Shipping": {"Amount": 4.99, "CurrencyCode": "CAD"},
                     "ShippingTime": {"AvailabilityType": "futureWithoutDate"}}
                ]
            }}
        })
    }

    fn refusal(document: Value) -> String {
        AnyOfferChanged::parse(&document.to_string())
            .expect_err("notification accepted")
            .to_string()
    }

    #[test]
    fn a_notification_is_read_with_exact_amounts() {
        let parsed = AnyOfferChanged::parse(&notification().to_string()).unwrap();
        let change = parsed.change();
        assert_eq!(parsed.notification_metadata.notification_id, "n-1");
        assert_eq!(change.offer_change_trigger.asin, "B0TESTASIN");
        assert_eq!(change.offers[1].landed_price().to_string(), "50.09");
        assert_eq!(change.offers[0].listing_price.amount.to_string(), "49.99");
        assert!(change.offers[0].is_buy_box_winner && change.offers[0].is_available());
        assert!(!change.offers[1].is_available());
        assert_eq!(change.summary.number_of_offers[0].offer_count, 2);
    }

    #[test]
    fn a_missing_field_is_named_by_its_path() {
        let mut document = notification();
        document["Payload"]["AnyOfferChangedNotification"]["Offers"][1]["ListingPrice"]
            .as_object_mut()
            .unwrap()
            .remove("Amount");
        assert_eq!(
            refusal(document),
            "Payload.AnyOfferChangedNotification.Offers[1].ListingPrice: missing field `Amount`"
        );
    }

    #[test]
    fn an_amount_that_is_not_a_plain_decimal_is_refused() {
        let mut document = notification();
        document["Payload"]["AnyOfferChangedNotification"]["Offers"][0]["ListingPrice"]["Amount"] =
            json!("cheap");
        let message = refusal(document);
        assert!(
            message
                .starts_with("Payload.AnyOfferChangedNotification.Offers[0].ListingPrice.Amount: "),
            "{message}"
        );
    }

    #[test]
    fn another_notification_type_is_refused() {
        let mut document = notification();
        document["NotificationType"] = json!("ORDER_CHANGE");
        assert_eq!(
            refusal(document),
            "NotificationType: expected ANY_OFFER_CHANGED, got \"ORDER_CHANGE\""
        );
    }

    #[test]
    fn a_bad_asin_a_negative_amount_and_mixed_currencies_are_refused() {
        let mut document = notification();
        document["Payload"]["AnyOfferChangedNotification"]["OfferChangeTrigger"]["ASIN"] =
            json!("123");
        assert!(refusal(document).starts_with(
            "Payload.AnyOfferChangedNotification.OfferChangeTrigger.ASIN: must be an ASIN"
        ));

        let mut document = notification();
        document["Payload"]["AnyOfferChangedNotification"]["Offers"][1]["Shipping"]["Amount"] =
            json!(-1);
        assert_eq!(
            refusal(document),
            "Payload.AnyOfferChangedNotification.Offers[1].Shipping.Amount: must not be negative, got -1"
        );

        let mut document = notification();
        document["Payload"]["AnyOfferChangedNotification"]["Offers"][1]["ListingPrice"]
            ["CurrencyCode"] = json!("USD");
        assert!(refusal(document).starts_with(
            "Payload.AnyOfferChangedNotification.Offers[1].ListingPrice.CurrencyCode: USD differs from CAD"
        ));
    }

    #[test]
    fn a_body_that_is_not_json_says_so() {
        assert!(AnyOfferChanged::parse("not json")
            .unwrap_err()
            .to_string()
            .starts_with("the notification is not JSON"));
    }
}
