//! Competitor offers: what the channel reports about everyone's offers on a product the
//! seller sells, recorded so that price rules can react to them and the seller hears
//! of what changed.
//!
//! - [`snapshot`]: one report of a product's offers in one condition ([`OfferSnapshot`]),
//!   read from an SP-API `ANY_OFFER_CHANGED` notification; the seller's own offers are
//!   marked as such and never count as a competitor's.
//! - [`changes`]: the alerts a snapshot raises against what was known before, with
//!   their severities: a pure function.
//! - [`record`]: the recording, in one transaction per snapshot: the competitor product
//!   upserted, its offers and price history written, its alerts raised, and the
//!   seller's affected listings returned for re-evaluation.
//!
//! # What the price decision reads
//!
//! A listing's competing offers are the rows of `competitors.offers` of the products it
//! is tracked for (`competitors.tracked_listings`) that are `in_stock`, priced at
//! `landed_price`, with `is_buy_box` and `is_own` as the decision's `Offer` takes them.

pub mod changes;
pub mod record;
pub mod snapshot;

pub use changes::{detect_changes, AlertDraft, AlertKind, KnownOffer, Severity};
pub use record::{record_notification, record_offers, CompetitorSettings, RecordedOffers};
pub use snapshot::{ObservedOffer, OfferSnapshot};
