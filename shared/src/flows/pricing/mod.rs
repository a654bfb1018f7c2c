//! Keeping every price inside the seller's rules: the decision for one listing, as a
//! pure function of its facts, and the rules it applies.
//!
//! - [`rules`]: price rules as written (`pricing.price_rules`), their configs read and
//!   checked per rule type; a bad config is refused naming the type and the field.
//! - [`schedule`]: the cron window of a time-based rule, in the seller's time zone (the
//!   accepted cron syntax is documented there).
//! - [`margin`]: net margin at a price, the floor price a margin needs, and the
//!   rounding to cents each figure uses.
//! - [`decision`]: the decision over one listing's facts, competing offers and a
//!   [`RuleBook`], with its explanation.
//! - [`check`]: the `price-check` command's JSON-lines contract, one case per line.
//!
//! Those are pure: no database, clock or network. Around them, the evaluation
//! (`evaluate-pricing-rules`):
//!
//! - [`load`]: settings, rules, listings with landed costs, and competitor offers, one
//!   query each for a full run, a few per page for given listings.
//! - [`landed_cost`]: every variant's landed cost for a full run, its bills walked here
//!   (the figures of `inventory.landed_costs_at`).
//! - [`evaluate`]: a run: load, decide each listing page by page, write what changed
//!   (a page's write overlapping the next page's deciding).
//! - [`unchanged`]: whether anything a full run reads changed since the last complete
//!   one (a run with nothing changed stops at once).
//! - [`write`]: decisions with their explanations, the summary in current prices,
//!   price history, audit log and "apply a price change" messages, set-based.
//! - [`message`]: the pricing queue's messages, and queueing a re-evaluation.
//! - [`rule_store`]: writing a rule, refused when its config cannot be read.
//! - [`supplier_prices`]: writing a supplier's price for a component, checked, and the
//!   listings whose landed cost it feeds re-evaluated.
//! - [`competitors`]: competitor offers reported by the channel (SP-API
//!   `ANY_OFFER_CHANGED`), recorded with their price history and the alerts they raise.
//! - [`apply`]: a price the seller lets go out, pushed to its channel (Mirakl's offer
//!   update, Amazon's listing patch) exactly once; its plan is pure, its flow does the
//!   I/O.
//! - [`automation`]: automation rules that turn a listing's figures and its competitors'
//!   changes into tasks and alerts, within cooldowns and daily limits.
//! - [`offer_changes`]: a competitor offer change from the pricing queue: recorded, its
//!   listings re-evaluated, the automation rules run.
//!
//! Competitor recording and rule firing keep their pure parts (the alerts a report
//! raises, whether a rule fires) apart from their set-based writes.
//!
//! Money is [`Decimal`] throughout, never a float; JSON numbers are read from their
//! decimal text.

pub mod apply;
pub mod automation;
pub mod check;
pub mod competitors;
pub mod decision;
pub mod evaluate;
pub mod landed_cost;
pub mod load;
pub mod margin;
pub mod message;
pub mod offer_changes;
pub mod rule_store;
pub mod rules;
pub mod schedule;
pub mod supplier_prices;
pub mod unchanged;
pub mod write;

pub use decision::{decide, Bound, Decision, Explanation, Flag, ListingFacts, Offer, RuleBook};
pub use evaluate::{evaluate_prices, EvaluationOptions, EvaluationReport, Selection};
pub use margin::{ChannelFees, Margins};
pub use message::{enqueue_reevaluation, enqueue_reevaluation_of_variants, PricingMessage};
pub use rules::{PriceRule, RuleConfig, RuleConfigError, RuleDefinition, RuleScope, RuleType};

use rust_decimal::Decimal;
use serde_json::Value;

use crate::model::money::parse_plain_amount;

/// Reads a number written as a JSON number (`2.5`) or a decimal string (`"2.5"`),
/// exactly. A JSON number is read from the shortest text that gives it back, which for
/// any number written with up to fifteen significant digits is the text as written.
pub(crate) fn decimal_from_json(value: &Value) -> Result<Decimal, String> {
    match value {
        Value::String(text) => parse_plain_amount(text).map_err(|err| err.to_string()),
        Value::Number(number) => {
            let text = number.to_string();
            let parsed = if text.contains(['e', 'E']) {
                Decimal::from_scientific(&text)
            } else {
                Decimal::from_str_exact(&text)
            };
            parsed.map_err(|_| format!("must be a decimal number, got {text}"))
        }
        other => Err(format!("must be a number, got {}", rules::json_kind(other))),
    }
}
