//! One report of everyone's offers on a product, in one item condition.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::model::channel::Channel;
use crate::model::money::Currency;
use crate::systems::amazon::offer_changed::{AnyOfferChanged, MAX_LISTED_OFFERS};

/// Everyone's offers on one product in one condition, as the channel reported them at
/// one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferSnapshot {
    /// Where the product is sold.
    pub channel: Channel,
    /// The channel's product id: the ASIN on Amazon, the product SKU on Mirakl.
    pub product_id: String,
    /// Amazon's marketplace, when the channel has several.
    pub marketplace_id: Option<String>,
    /// `new`, `used`…, lower-cased: offers are compared within one condition.
    pub condition: String,
    /// When the offers were as reported; an older report than the last recorded one
    /// changes nothing.
    pub observed_at: DateTime<Utc>,
    /// The currency of every price.
    pub currency: Currency,
    /// One offer per seller, the seller's own marked.
    pub offers: Vec<ObservedOffer>,
    /// Whether every offer is listed. Amazon lists the top 20 only: from a full list, a
    /// seller's absence does not mean they stopped selling.
    pub complete: bool,
    /// The product's main sales rank.
    pub sales_rank: Option<i64>,
}

/// One seller's offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedOffer {
    /// The channel's id of the seller.
    pub seller_id: String,
    /// Whether the offer is the seller's own.
    pub is_own: bool,
    /// The item's price, shipping excluded.
    pub listing_price: Decimal,
    /// Shipping, zero when free.
    pub shipping: Decimal,
    /// Whether it holds the buy box.
    pub is_buy_box: bool,
    /// Whether the channel fulfils it (Amazon's FBA).
    pub is_fulfilled_by_channel: bool,
    /// Whether it can ship now.
    pub in_stock: bool,
}

impl ObservedOffer {
    /// What the buyer pays: price plus shipping, the figure offers compete on.
    pub fn landed_price(&self) -> Decimal {
        self.listing_price + self.shipping
    }
}

impl OfferSnapshot {
    /// The offers of an SP-API notification. An offer is the seller's own when its
    /// seller id is one of `own_seller_ids` (the `pricing.own_seller_ids` setting) or
    /// the notification's `SellerId` (the seller it is sent to). A seller listed twice
    /// (fulfilled by Amazon and by themselves) is kept once, at their lowest landed
    /// price, holding the buy box if either offer does.
    pub fn from_notification(notification: &AnyOfferChanged, own_seller_ids: &[String]) -> Self {
        let change = notification.change();
        let trigger = &change.offer_change_trigger;
        let is_own = |seller: &str| {
            seller == change.seller_id.trim() || own_seller_ids.iter().any(|own| own == seller)
        };
        let mut offers: Vec<ObservedOffer> = Vec::with_capacity(change.offers.len());
        for offer in &change.offers {
            let observed = ObservedOffer {
                seller_id: offer.seller_id.trim().to_owned(),
                is_own: is_own(offer.seller_id.trim()),
                listing_price: offer.listing_price.amount,
                shipping: offer.shipping.as_ref().map_or(Decimal::ZERO, |s| s.amount),
                is_buy_box: offer.is_buy_box_winner,
                is_fulfilled_by_channel: offer.is_fulfilled_by_amazon,
                in_stock: offer.is_available(),
            };
            match offers
                .iter_mut()
                .find(|known| known.seller_id == observed.seller_id)
            {
                None => offers.push(observed),
                Some(known) => {
                    let holds_buy_box = known.is_buy_box || observed.is_buy_box;
                    let in_stock = known.in_stock || observed.in_stock;
                    if observed.landed_price() < known.landed_price() {
                        *known = observed;
                    }
                    known.is_buy_box = holds_buy_box;
                    known.in_stock = in_stock;
                }
            }
        }
        let currency = change
            .offers
            .first()
            .map_or(Currency::CAD, |offer| offer.listing_price.currency_code);
        Self {
            channel: Channel::Amazon,
            product_id: trigger.asin.clone(),
            marketplace_id: Some(trigger.marketplace_id.clone()),
            condition: trigger.item_condition.trim().to_lowercase(),
            observed_at: trigger.time_of_offer_change,
            currency,
            offers,
            complete: change.offers.len() < MAX_LISTED_OFFERS,
            sales_rank: change.summary.sales_rankings.first().map(|rank| rank.rank),
        }
    }

    /// The competing offers that can ship now: the seller's own never count.
    pub fn competing(&self) -> impl Iterator<Item = &ObservedOffer> {
        self.offers
            .iter()
            .filter(|offer| !offer.is_own && offer.in_stock)
    }

    /// The lowest competing offer.
    pub fn lowest_competing(&self) -> Option<&ObservedOffer> {
        self.competing().min_by(|a, b| {
            a.landed_price()
                .cmp(&b.landed_price())
                .then_with(|| a.seller_id.cmp(&b.seller_id))
        })
    }

    /// The offer holding the buy box, whoever's it is.
    pub fn buy_box(&self) -> Option<&ObservedOffer> {
        self.offers.iter().find(|offer| offer.is_buy_box)
    }

    /// The seller's own offer, when it is listed.
    pub fn own(&self) -> Option<&ObservedOffer> {
        self.offers.iter().find(|offer| offer.is_own)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn notification(offers: serde_json::Value) -> AnyOfferChanged {
        let document = json!({
            "NotificationType": "ANY_OFFER_CHANGED",
            "EventTime": "2026-03-02T14:00:01Z",
            "NotificationMetadata": {"NotificationId": "n-1", "PublishTime": "2026-03-02T14:00:01Z"},
            "Payload": {"AnyOfferChangedNotification": {
                "SellerId": "AOWN",
                "OfferChangeTrigger": {"MarketplaceId": "A2EUQ1WTGCTBG2", "ASIN": "B0TESTASIN",
                    "ItemCondition": "New", "TimeOfOfferChange": "2026-03-02T14:00:00Z"},
                "Summary": {"SalesRankings": [{"ProductCategoryId": "pc", "Rank": 812}]},
                "Offers": offers
            }}
        });
        AnyOfferChanged::parse(&document.to_string()).unwrap()
    }

    fn offer(seller: &str, price: f64, shipping: f64, buy_box: bool) -> serde_json::Value {
        json!({"SellerId": seller, "ListingPrice": {"Amount": price, "CurrencyCode": "CAD"},
               "Shipping": {"Amount": shipping, "CurrencyCode": "CAD"}, "IsBuyBoxWinner": buy_box})
    }

    #[test]
    fn own_offers_are_marked_by_the_notified_seller_and_the_setting() {
        let snapshot = OfferSnapshot::from_notification(
            &notification(json!([
                offer("AOWN", 50.0, 0.0, true),
                offer("AOTHERACCOUNT", 49.0, 0.0, false),
                offer("ARIVAL", 51.5, 2.25, false)
            ])),
            &["AOTHERACCOUNT".to_owned()],
        );
        assert_eq!(snapshot.condition, "new");
        assert_eq!(snapshot.sales_rank, Some(812));
        assert!(snapshot.complete);
        let own: Vec<_> = snapshot.offers.iter().map(|o| o.is_own).collect();
        assert_eq!(own, [true, true, false]);
        let lowest = snapshot.lowest_competing().unwrap();
        assert_eq!(
            (
                lowest.seller_id.as_str(),
                lowest.landed_price().to_string().as_str()
            ),
            ("ARIVAL", "53.75")
        );
    }

    #[test]
    fn a_seller_listed_twice_is_kept_once_at_their_lowest_price() {
        let snapshot = OfferSnapshot::from_notification(
            &notification(json!([
                offer("ARIVAL", 60.0, 0.0, true),
                offer("ARIVAL", 55.0, 1.0, false)
            ])),
            &[],
        );
        assert_eq!(snapshot.offers.len(), 1);
        assert_eq!(snapshot.offers[0].landed_price().to_string(), "56.0");
        assert!(snapshot.offers[0].is_buy_box);
    }
}
