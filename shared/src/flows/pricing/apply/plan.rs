//! What to do next with a stored price change, decided from facts alone: its send
//! state, whether it is its listing's newest, what the channel shows, and what the
//! channel answered. No I/O; [`super`] reads the facts and carries the steps out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::systems::http::SendEffect;

/// How far a price change got (`pricing.price_changes.send_state`; the migration
/// describes each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendState {
    Stored,
    Sending,
    Accepted,
    Applied,
    Refused,
    Superseded,
}

impl SendState {
    /// The spelling in `send_state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Sending => "sending",
            Self::Accepted => "accepted",
            Self::Applied => "applied",
            Self::Refused => "refused",
            Self::Superseded => "superseded",
        }
    }

    /// The state `name` spells, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Stored,
            Self::Sending,
            Self::Accepted,
            Self::Applied,
            Self::Refused,
            Self::Superseded,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
    }

    /// Whether the change's request is over, one way or another: the channel took it
    /// (applied or accepted and awaiting confirmation), refused it, or it was replaced.
    pub fn is_settled(self) -> bool {
        !matches!(self, Self::Stored | Self::Sending)
    }
}

/// Where a price goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceChannel {
    /// Best Buy Canada, through Mirakl's offer update (OF24).
    BestBuy,
    /// Amazon.ca, through the Listings Items patch.
    Amazon,
}

impl PriceChannel {
    /// The channel `sales.channel` names, when prices can be applied there.
    pub fn parse(channel: &str) -> Option<Self> {
        match channel {
            "bestbuy_ca" => Some(Self::BestBuy),
            "amazon" => Some(Self::Amazon),
            _ => None,
        }
    }

    /// The spelling in `sales.channel`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BestBuy => "bestbuy_ca",
            Self::Amazon => "amazon",
        }
    }

    /// The channel's name for a person.
    pub fn label(self) -> &'static str {
        match self {
            Self::BestBuy => "Best Buy",
            Self::Amazon => "Amazon",
        }
    }
}

/// Whether a decided price goes out to the channel: only where the seller enabled
/// applying, for the listing or for the rule that proposed the price. Suggesting is the
/// default.
pub fn apply_enabled(listing_applies: bool, winning_rule_applies: Option<bool>) -> bool {
    listing_applies || winning_rule_applies.unwrap_or(false)
}

/// The first step for a change as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstStep {
    /// Settled before: nothing to do.
    Nothing,
    /// A newer change of the listing exists: this one is never sent.
    Supersede,
    /// Read the channel's offer, then send unless the price is already there.
    ReadThenSend,
    /// A request may have reached the channel: reconcile before anything else.
    Reconcile,
}

/// What to do first with a change in `state`; `newest` says whether it is its listing's
/// newest change.
pub fn first_step(state: SendState, newest: bool) -> FirstStep {
    match state {
        state if state.is_settled() => FirstStep::Nothing,
        _ if !newest => FirstStep::Supersede,
        SendState::Stored => FirstStep::ReadThenSend,
        _ => FirstStep::Reconcile,
    }
}

/// Whether the channel shows `intended`: prices are compared to the cent.
pub fn same_price(shown: Decimal, intended: Decimal) -> bool {
    shown.round_dp(2) == intended.round_dp(2)
}

/// How long a request in doubt may still be taking effect on a channel that applies
/// asynchronously and offers no way to see its pending work (Amazon's listing
/// submissions land within minutes): until then a price not yet shown is waited for,
/// not sent again.
pub const AMAZON_SETTLE: Duration = Duration::from_secs(10 * 60);

/// How an ambiguous request is settled once the channel has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciled {
    /// The price is there: the request did its work; adopt it.
    Adopt,
    /// The request may still be taking effect: try again later, send nothing.
    Wait,
    /// The request provably did not take effect: send again.
    SendAgain,
}

/// Settles a Best Buy change in doubt: `price_shown` whether the offer carries the
/// price, `import_pending` whether an offer import started since the attempt is still
/// waiting or running (it may be ours).
pub fn reconcile_best_buy(price_shown: bool, import_pending: bool) -> Reconciled {
    match (price_shown, import_pending) {
        (true, _) => Reconciled::Adopt,
        (false, true) => Reconciled::Wait,
        (false, false) => Reconciled::SendAgain,
    }
}

/// Settles an Amazon change in doubt: `price_shown` whether the listing's offer carries
/// the price; an attempt younger than [`AMAZON_SETTLE`] may still land.
pub fn reconcile_amazon(
    price_shown: bool,
    attempted_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Reconciled {
    let settle = chrono::TimeDelta::from_std(AMAZON_SETTLE).unwrap_or(chrono::TimeDelta::MAX);
    match price_shown {
        true => Reconciled::Adopt,
        false if now - attempted_at < settle => Reconciled::Wait,
        false => Reconciled::SendAgain,
    }
}

/// What a failed update request leaves the change as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Provably not sent: back to `stored`, sent by the next delivery.
    BackToStored,
    /// Refused by the channel: `refused`, with a task for a person.
    Refuse,
    /// In doubt: stays `sending`; the next delivery reconciles first.
    StaySending,
}

/// The state a failed request leaves, from what it may have done.
pub fn after_failure(effect: SendEffect) -> AfterFailure {
    match effect {
        SendEffect::NeverLeft => AfterFailure::BackToStored,
        SendEffect::Refused => AfterFailure::Refuse,
        SendEffect::Ambiguous => AfterFailure::StaySending,
    }
}

/// How an accepted change's asynchronous work ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Not known yet.
    Pending,
    /// The channel carries the price.
    Applied,
    /// The channel did not apply it; the reason in its words.
    Refused(String),
}

/// Reads a Mirakl offer import's status: still running, complete without a line in
/// error, or failed (a line in error is this change's, as each import carries one
/// offer).
pub fn best_buy_import(
    status: &str,
    lines_in_error: i64,
    reason_status: Option<&str>,
) -> Confirmation {
    match status {
        "COMPLETE" if lines_in_error == 0 => Confirmation::Applied,
        "COMPLETE" | "FAILED" => Confirmation::Refused(format!(
            "Mirakl offer import {status} with {lines_in_error} line(s) in error{}",
            reason_status
                .filter(|reason| !reason.trim().is_empty())
                .map(|reason| format!(": {}", reason.trim()))
                .unwrap_or_default()
        )),
        _ => Confirmation::Pending,
    }
}

/// The title of a refused change's task.
pub fn refusal_title(
    channel: PriceChannel,
    shop_sku: &str,
    old_price: Option<Decimal>,
    new_price: Decimal,
) -> String {
    match old_price {
        Some(old) => format!(
            "{} refused the price change of {shop_sku} from {old} to {new_price}",
            channel.label()
        ),
        None => format!(
            "{} refused the price change of {shop_sku} to {new_price}",
            channel.label()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn amount(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn states_round_trip_and_only_stored_and_sending_are_open() {
        for state in [
            SendState::Stored,
            SendState::Sending,
            SendState::Accepted,
            SendState::Applied,
            SendState::Refused,
            SendState::Superseded,
        ] {
            assert_eq!(SendState::parse(state.as_str()), Some(state));
        }
        assert_eq!(SendState::parse("sent"), None);
        assert!(!SendState::Stored.is_settled());
        assert!(!SendState::Sending.is_settled());
        assert!(SendState::Accepted.is_settled());
    }

    #[test]
    fn suggesting_is_the_default_and_either_setting_applies() {
        assert!(!apply_enabled(false, None));
        assert!(!apply_enabled(false, Some(false)));
        assert!(apply_enabled(true, None));
        assert!(apply_enabled(false, Some(true)));
    }

    #[test]
    fn only_the_newest_open_change_is_sent_and_one_in_doubt_is_reconciled_first() {
        assert_eq!(first_step(SendState::Stored, true), FirstStep::ReadThenSend);
        assert_eq!(first_step(SendState::Sending, true), FirstStep::Reconcile);
        assert_eq!(first_step(SendState::Stored, false), FirstStep::Supersede);
        assert_eq!(first_step(SendState::Sending, false), FirstStep::Supersede);
        for settled in [
            SendState::Accepted,
            SendState::Applied,
            SendState::Refused,
            SendState::Superseded,
        ] {
            assert_eq!(first_step(settled, true), FirstStep::Nothing);
            assert_eq!(first_step(settled, false), FirstStep::Nothing);
        }
    }

    #[test]
    fn prices_are_compared_to_the_cent() {
        assert!(same_price(amount("84.5"), amount("84.50")));
        assert!(same_price(amount("84.499"), amount("84.50")));
        assert!(!same_price(amount("84.49"), amount("84.50")));
    }

    #[test]
    fn a_best_buy_change_in_doubt_waits_for_a_pending_import() {
        assert_eq!(reconcile_best_buy(true, true), Reconciled::Adopt);
        assert_eq!(reconcile_best_buy(true, false), Reconciled::Adopt);
        assert_eq!(reconcile_best_buy(false, true), Reconciled::Wait);
        assert_eq!(reconcile_best_buy(false, false), Reconciled::SendAgain);
    }

    #[test]
    fn an_amazon_change_in_doubt_waits_until_its_submission_could_have_landed() {
        let attempted = DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let later = |minutes| attempted + chrono::TimeDelta::minutes(minutes);
        assert_eq!(
            reconcile_amazon(true, attempted, later(1)),
            Reconciled::Adopt
        );
        assert_eq!(
            reconcile_amazon(false, attempted, later(9)),
            Reconciled::Wait
        );
        assert_eq!(
            reconcile_amazon(false, attempted, later(10)),
            Reconciled::SendAgain
        );
    }

    #[test]
    fn a_failure_is_retried_only_when_it_never_left() {
        assert_eq!(
            after_failure(SendEffect::NeverLeft),
            AfterFailure::BackToStored
        );
        assert_eq!(after_failure(SendEffect::Refused), AfterFailure::Refuse);
        assert_eq!(
            after_failure(SendEffect::Ambiguous),
            AfterFailure::StaySending
        );
    }

    #[test]
    fn an_import_with_a_line_in_error_is_a_refusal_naming_mirakls_reason() {
        assert_eq!(best_buy_import("RUNNING", 0, None), Confirmation::Pending);
        assert_eq!(best_buy_import("COMPLETE", 0, None), Confirmation::Applied);
        assert_eq!(
            best_buy_import("COMPLETE", 1, Some(" price below the minimum ")),
            Confirmation::Refused(
                "Mirakl offer import COMPLETE with 1 line(s) in error: price below the minimum"
                    .to_owned()
            )
        );
        assert!(matches!(
            best_buy_import("FAILED", 0, None),
            Confirmation::Refused(_)
        ));
    }

    #[test]
    fn a_refusal_task_names_the_channel_the_offer_and_both_prices() {
        assert_eq!(
            refusal_title(
                PriceChannel::BestBuy,
                "SKU-1",
                Some(amount("89.99")),
                amount("84.50")
            ),
            "Best Buy refused the price change of SKU-1 from 89.99 to 84.50"
        );
    }
}
