//! The alerts a new snapshot of a product's offers raises against what was known of them
//! before. Pure: the recording loads the known offers and writes what this returns.
//!
//! # Alerts and their severities
//!
//! The first snapshot of a product in a condition sets the baseline and raises nothing:
//! alerts are about changes. "Undercuts" means the competing offer's landed price is
//! below the seller's own offer's in the same snapshot.
//!
//! | alert | when | severity |
//! |---|---|---|
//! | `buy_box_lost` | the seller's offer held the buy box and no longer does | `critical` |
//! | `buy_box_won` | the seller's offer holds the buy box and did not | `low` |
//! | `price_drop` | a competitor's landed price fell by at least the threshold percent | `high` when it now undercuts the seller or fell by twice the threshold, else `medium` |
//! | `price_increase` | a competitor's landed price rose by at least the threshold percent | `medium` when that offer was the lowest competing one or held the buy box (room to raise), else `low` |
//! | `new_competitor` | a seller not seen before offers the product | `high` when it undercuts the seller or holds the buy box, else `medium` |
//! | `out_of_stock` | a competitor's offer cannot ship now, or left a complete list of offers | `medium` when it was the lowest competing offer or held the buy box, else `low` |
//! | `back_in_stock` | a competitor who was out of stock can ship again | `high` when it undercuts the seller, else `low` |
//!
//! Changes of the seller's own offer raise only the buy-box alerts.

use std::collections::HashMap;
use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

use super::snapshot::{ObservedOffer, OfferSnapshot};

/// What was known of one seller's offer before the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownOffer {
    /// The channel's id of the seller.
    pub seller_id: String,
    /// Whether it is the seller's own.
    pub is_own: bool,
    /// Price plus shipping.
    pub landed_price: Decimal,
    /// Whether it held the buy box.
    pub is_buy_box: bool,
    /// Whether it could ship.
    pub in_stock: bool,
}

/// The kinds of competitor alert (`competitors.alerts.alert_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// A competitor's price fell.
    PriceDrop,
    /// A competitor's price rose.
    PriceIncrease,
    /// A seller started offering the product.
    NewCompetitor,
    /// A competitor cannot ship any more.
    OutOfStock,
    /// A competitor can ship again.
    BackInStock,
    /// The seller's offer took the buy box.
    BuyBoxWon,
    /// The seller's offer lost the buy box.
    BuyBoxLost,
}

impl AlertKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::PriceDrop => "price_drop",
            AlertKind::PriceIncrease => "price_increase",
            AlertKind::NewCompetitor => "new_competitor",
            AlertKind::OutOfStock => "out_of_stock",
            AlertKind::BackInStock => "back_in_stock",
            AlertKind::BuyBoxWon => "buy_box_won",
            AlertKind::BuyBoxLost => "buy_box_lost",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            AlertKind::PriceDrop,
            AlertKind::PriceIncrease,
            AlertKind::NewCompetitor,
            AlertKind::OutOfStock,
            AlertKind::BackInStock,
            AlertKind::BuyBoxWon,
            AlertKind::BuyBoxLost,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgently the seller should look (`low` < `medium` < `high` < `critical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// For information.
    Low,
    /// Worth a look today.
    Medium,
    /// Costs sales until handled.
    High,
    /// Sales are being lost now.
    Critical,
}

impl Severity {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The severity stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|severity| severity.as_str() == name)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alert to raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertDraft {
    /// What happened.
    pub kind: AlertKind,
    /// How urgent it is.
    pub severity: Severity,
    /// The competing seller it is about; for buy-box alerts, the other holder (the
    /// new one when lost, the previous one when won), if any.
    pub seller_id: Option<String>,
    /// A price, or a buy-box holder, before.
    pub previous_value: Option<String>,
    /// The same after.
    pub new_value: Option<String>,
    /// For price changes: the change in percent of the old price, to the hundredth.
    pub change_pct: Option<Decimal>,
}

/// The alerts `snapshot` raises against the `known` offers of the same product and
/// condition, with price changes counted from `threshold_pct` percent.
pub fn detect_changes(
    known: &[KnownOffer],
    snapshot: &OfferSnapshot,
    threshold_pct: Decimal,
) -> Vec<AlertDraft> {
    if known.is_empty() {
        return Vec::new();
    }
    let mut alerts = Vec::new();
    let known_by_seller: HashMap<&str, &KnownOffer> = known
        .iter()
        .map(|offer| (offer.seller_id.as_str(), offer))
        .collect();
    let own_price = snapshot
        .own()
        .filter(|own| own.in_stock)
        .map(ObservedOffer::landed_price);
    let undercuts = |price: Decimal| own_price.is_some_and(|own| price < own);
    let known_lowest = known
        .iter()
        .filter(|offer| !offer.is_own && offer.in_stock)
        .map(|offer| offer.landed_price)
        .min();
    let was_leading = |offer: &KnownOffer| {
        offer.is_buy_box || (offer.in_stock && Some(offer.landed_price) == known_lowest)
    };

    for offer in snapshot.offers.iter().filter(|offer| !offer.is_own) {
        let price = offer.landed_price();
        let Some(before) = known_by_seller.get(offer.seller_id.as_str()) else {
            let severity = if (offer.in_stock && undercuts(price)) || offer.is_buy_box {
                Severity::High
            } else {
                Severity::Medium
            };
            alerts.push(AlertDraft {
                kind: AlertKind::NewCompetitor,
                severity,
                seller_id: Some(offer.seller_id.clone()),
                previous_value: None,
                new_value: Some(cents(price)),
                change_pct: None,
            });
            continue;
        };
        match (before.in_stock, offer.in_stock) {
            (true, false) => alerts.push(out_of_stock(before, was_leading(before))),
            (false, true) => alerts.push(AlertDraft {
                kind: AlertKind::BackInStock,
                severity: if undercuts(price) {
                    Severity::High
                } else {
                    Severity::Low
                },
                seller_id: Some(offer.seller_id.clone()),
                previous_value: Some("out of stock".to_owned()),
                new_value: Some(cents(price)),
                change_pct: None,
            }),
            _ => {}
        }
        if before.landed_price > Decimal::ZERO && price != before.landed_price {
            let change_pct = ((price - before.landed_price) / before.landed_price
                * Decimal::ONE_HUNDRED)
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            if change_pct.abs() >= threshold_pct {
                let (kind, severity) = if change_pct < Decimal::ZERO {
                    let steep = change_pct.abs() >= threshold_pct * Decimal::TWO;
                    let severity = if (offer.in_stock && undercuts(price)) || steep {
                        Severity::High
                    } else {
                        Severity::Medium
                    };
                    (AlertKind::PriceDrop, severity)
                } else {
                    let severity = if was_leading(before) {
                        Severity::Medium
                    } else {
                        Severity::Low
                    };
                    (AlertKind::PriceIncrease, severity)
                };
                alerts.push(AlertDraft {
                    kind,
                    severity,
                    seller_id: Some(offer.seller_id.clone()),
                    previous_value: Some(cents(before.landed_price)),
                    new_value: Some(cents(price)),
                    change_pct: Some(change_pct),
                });
            }
        }
    }

    if snapshot.complete {
        let listed: Vec<&str> = snapshot
            .offers
            .iter()
            .map(|offer| offer.seller_id.as_str())
            .collect();
        for gone in known
            .iter()
            .filter(|offer| !offer.is_own && offer.in_stock)
            .filter(|offer| !listed.contains(&offer.seller_id.as_str()))
        {
            alerts.push(out_of_stock(gone, was_leading(gone)));
        }
    }

    let held = known.iter().any(|offer| offer.is_own && offer.is_buy_box);
    let holds = snapshot
        .offers
        .iter()
        .any(|offer| offer.is_own && offer.is_buy_box);
    let holder_before = known
        .iter()
        .find(|offer| offer.is_buy_box)
        .map(|offer| offer.seller_id.clone());
    let holder_now = snapshot.buy_box().map(|offer| offer.seller_id.clone());
    if held && !holds {
        alerts.push(AlertDraft {
            kind: AlertKind::BuyBoxLost,
            severity: Severity::Critical,
            seller_id: holder_now.clone(),
            previous_value: holder_before,
            new_value: holder_now,
            change_pct: None,
        });
    } else if holds && !held {
        alerts.push(AlertDraft {
            kind: AlertKind::BuyBoxWon,
            severity: Severity::Low,
            seller_id: holder_before.clone(),
            previous_value: holder_before,
            new_value: holder_now,
            change_pct: None,
        });
    }
    alerts
}

/// A price as the seller reads it: to the cent, trailing zeros kept (`150.00`).
fn cents(price: Decimal) -> String {
    let mut price = price.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    price.rescale(2);
    price.to_string()
}

fn out_of_stock(before: &KnownOffer, was_leading: bool) -> AlertDraft {
    AlertDraft {
        kind: AlertKind::OutOfStock,
        severity: if was_leading {
            Severity::Medium
        } else {
            Severity::Low
        },
        seller_id: Some(before.seller_id.clone()),
        previous_value: Some(cents(before.landed_price)),
        new_value: Some("out of stock".to_owned()),
        change_pct: None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::channel::Channel;
    use crate::model::money::Currency;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn known(seller: &str, price: &str, buy_box: bool, in_stock: bool) -> KnownOffer {
        KnownOffer {
            seller_id: seller.to_owned(),
            is_own: seller == "OWN",
            landed_price: dec(price),
            is_buy_box: buy_box,
            in_stock,
        }
    }

    fn seen(seller: &str, price: &str, buy_box: bool, in_stock: bool) -> ObservedOffer {
        ObservedOffer {
            seller_id: seller.to_owned(),
            is_own: seller == "OWN",
            listing_price: dec(price),
            shipping: Decimal::ZERO,
            is_buy_box: buy_box,
            is_fulfilled_by_channel: false,
            in_stock,
        }
    }

    fn snapshot(offers: Vec<ObservedOffer>) -> OfferSnapshot {
        OfferSnapshot {
            channel: Channel::Amazon,
            product_id: "B0TESTASIN".to_owned(),
            marketplace_id: None,
            condition: "new".to_owned(),
            observed_at: Utc.with_ymd_and_hms(2026, 3, 2, 14, 0, 0).unwrap(),
            currency: Currency::CAD,
            offers,
            complete: true,
            sales_rank: None,
        }
    }

    fn kinds(alerts: &[AlertDraft]) -> Vec<(AlertKind, Severity, Option<&str>)> {
        alerts
            .iter()
            .map(|a| (a.kind, a.severity, a.seller_id.as_deref()))
            .collect()
    }

    const FIVE: Decimal = Decimal::from_parts(5, 0, 0, false, 0);

    #[test]
    fn the_first_snapshot_is_the_baseline() {
        let now = snapshot(vec![
            seen("OWN", "50", true, true),
            seen("A", "40", false, true),
        ]);
        assert!(detect_changes(&[], &now, FIVE).is_empty());
    }

    #[test]
    fn a_drop_that_undercuts_the_seller_is_high_and_one_that_does_not_is_medium() {
        let before = [
            known("OWN", "50", true, true),
            known("A", "60", false, true),
        ];
        let undercut = detect_changes(
            &before,
            &snapshot(vec![
                seen("OWN", "50", true, true),
                seen("A", "49", false, true),
            ]),
            dec("5"),
        );
        // 60 → 49 is −18.33 %, above twice the threshold too.
        assert_eq!(
            kinds(&undercut),
            [(AlertKind::PriceDrop, Severity::High, Some("A"))]
        );
        assert_eq!(undercut[0].change_pct, Some(dec("-18.33")));
        assert_eq!(undercut[0].previous_value.as_deref(), Some("60.00"));

        let mild = detect_changes(
            &before,
            &snapshot(vec![
                seen("OWN", "50", true, true),
                seen("A", "56.40", false, true),
            ]),
            dec("5"),
        );
        assert_eq!(
            kinds(&mild),
            [(AlertKind::PriceDrop, Severity::Medium, Some("A"))]
        );
        assert_eq!(mild[0].change_pct, Some(dec("-6.00")));
    }

    #[test]
    fn a_change_under_the_threshold_raises_nothing_and_the_threshold_itself_does() {
        let before = [
            known("OWN", "50", true, true),
            known("A", "100", false, true),
        ];
        let small = snapshot(vec![
            seen("OWN", "50", true, true),
            seen("A", "95.01", false, true),
        ]);
        assert!(detect_changes(&before, &small, FIVE).is_empty());
        let exact = snapshot(vec![
            seen("OWN", "50", true, true),
            seen("A", "105", false, true),
        ]);
        // The lowest competing offer rose: room to raise.
        assert_eq!(
            kinds(&detect_changes(&before, &exact, FIVE)),
            [(AlertKind::PriceIncrease, Severity::Medium, Some("A"))]
        );
    }

    #[test]
    fn an_increase_by_an_offer_that_did_not_lead_is_low() {
        let before = [
            known("OWN", "50", true, true),
            known("A", "55", false, true),
            known("B", "70", false, true),
        ];
        let now = snapshot(vec![
            seen("OWN", "50", true, true),
            seen("A", "55", false, true),
            seen("B", "80", false, true),
        ]);
        assert_eq!(
            kinds(&detect_changes(&before, &now, FIVE)),
            [(AlertKind::PriceIncrease, Severity::Low, Some("B"))]
        );
    }

    #[test]
    fn a_new_competitor_is_high_when_it_undercuts_and_medium_otherwise() {
        let before = [known("OWN", "50", true, true)];
        let now = snapshot(vec![
            seen("OWN", "50", true, true),
            seen("CHEAP", "45", false, true),
            seen("DEAR", "65", false, true),
        ]);
        assert_eq!(
            kinds(&detect_changes(&before, &now, FIVE)),
            [
                (AlertKind::NewCompetitor, Severity::High, Some("CHEAP")),
                (AlertKind::NewCompetitor, Severity::Medium, Some("DEAR")),
            ]
        );
    }

    #[test]
    fn out_of_stock_and_back_in_stock() {
        let before = [
            known("OWN", "50", true, true),
            known("A", "48", false, true),
            known("B", "70", false, true),
            known("C", "45", false, false),
        ];
        // A cannot ship any more, B left the (complete) list, C is back, under the seller.
        let now = snapshot(vec![
            seen("OWN", "50", true, true),
            seen("A", "48", false, false),
            seen("C", "45", false, true),
        ]);
        assert_eq!(
            kinds(&detect_changes(&before, &now, FIVE)),
            [
                (AlertKind::OutOfStock, Severity::Medium, Some("A")),
                (AlertKind::BackInStock, Severity::High, Some("C")),
                (AlertKind::OutOfStock, Severity::Low, Some("B")),
            ]
        );
    }

    #[test]
    fn an_offer_missing_from_a_full_list_is_not_called_out_of_stock() {
        let before = [
            known("OWN", "50", true, true),
            known("B", "70", false, true),
        ];
        let mut now = snapshot(vec![seen("OWN", "50", true, true)]);
        now.complete = false;
        assert!(detect_changes(&before, &now, FIVE).is_empty());
    }

    #[test]
    fn the_buy_box_lost_is_critical_and_won_is_low() {
        let before = [
            known("OWN", "50", true, true),
            known("A", "52", false, true),
        ];
        let lost = detect_changes(
            &before,
            &snapshot(vec![
                seen("OWN", "50", false, true),
                seen("A", "52", true, true),
            ]),
            FIVE,
        );
        assert_eq!(
            kinds(&lost),
            [(AlertKind::BuyBoxLost, Severity::Critical, Some("A"))]
        );
        assert_eq!(
            (
                lost[0].previous_value.as_deref(),
                lost[0].new_value.as_deref()
            ),
            (Some("OWN"), Some("A"))
        );

        let before = [
            known("OWN", "50", false, true),
            known("A", "52", true, true),
        ];
        let won = detect_changes(
            &before,
            &snapshot(vec![
                seen("OWN", "50", true, true),
                seen("A", "52", false, true),
            ]),
            FIVE,
        );
        assert_eq!(
            kinds(&won),
            [(AlertKind::BuyBoxWon, Severity::Low, Some("A"))]
        );
    }

    #[test]
    fn the_sellers_own_price_changes_raise_nothing() {
        let before = [
            known("OWN", "50", true, true),
            known("A", "52", false, true),
        ];
        let now = snapshot(vec![
            seen("OWN", "30", true, true),
            seen("A", "52", false, true),
        ]);
        assert!(detect_changes(&before, &now, FIVE).is_empty());
    }
}
