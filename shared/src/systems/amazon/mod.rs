//! Amazon Selling Partner API documents. Only notifications are read so far: SP-API
//! delivers them to an SQS queue, one notification JSON per message body.

pub mod offer_changed;

pub use offer_changed::{AnyOfferChanged, OfferChange, OfferChangeTrigger, SpMoney, SpOffer};
