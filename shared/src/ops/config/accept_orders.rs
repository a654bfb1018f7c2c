//! `accept-orders`: decides orders with Mirakl OR21 and queues their labels.

use std::time::Duration;

use super::{AwsSettings, DatabaseSettings, FromEnvironment, MiraklSettings, QueueUrls, Variables};
use crate::ops::outbox::WorkQueue;

/// How long a reservation holds stock when nothing else is said: long enough for Best Buy
/// to take the customer's payment, short enough that stock held for an order that went
/// nowhere comes back within days.
pub const DEFAULT_RESERVATION_HOLD: Duration = Duration::from_secs(72 * 3600);

/// What `accept-orders` reads at cold start.
#[derive(Debug, Clone)]
pub struct AcceptOrdersSettings {
    /// The orders, stock and decisions.
    pub database: DatabaseSettings,
    /// S3 and SQS.
    pub aws: AwsSettings,
    /// OR21, and OR11 when Mirakl says an order moved on.
    pub mirakl: MiraklSettings,
    /// The label and pricing queues: accept-orders publishes the label messages it writes
    /// and the re-evaluations its reservations queue, and leaves the other follow-ups to
    /// the recording functions, which may send them.
    pub outbox_queues: QueueUrls,
    /// `STOCK_RESERVATION_HOLD_HOURS`: a reservation whose order has not reached
    /// `SHIPPING` by then is released by the poller's sweep (default 72).
    pub reservation_hold: Duration,
}

impl FromEnvironment for AcceptOrdersSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            database: DatabaseSettings::read(vars),
            aws: AwsSettings::read(vars),
            mirakl: MiraklSettings::read(vars),
            outbox_queues: QueueUrls::read(vars, &[WorkQueue::Label, WorkQueue::Pricing]),
            reservation_hold: vars.parsed_or(
                "STOCK_RESERVATION_HOLD_HOURS",
                DEFAULT_RESERVATION_HOLD,
                hours,
            ),
        }
    }
}

fn hours(raw: &str) -> Result<Duration, String> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|hours| *hours > 0)
        .and_then(|hours| hours.checked_mul(3600))
        .map(Duration::from_secs)
        .ok_or_else(|| format!("expected a positive whole number of hours, got {raw:?}"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_hides, lookup, DATABASE};
    use super::*;

    const COMPLETE: &[(&str, &str)] = &[
        (
            "DATABASE_URL",
            "postgres://app:hunter2-db-password@db.internal/sellerops",
        ),
        ("MIRAKL_BASE_URL", "https://marketplace.bestbuy.ca"),
        ("MIRAKL_API_KEY", "mirakl-key-never-printed"),
        (
            "LABEL_QUEUE_URL",
            "https://sqs.ca-central-1.amazonaws.com/1/label",
        ),
        (
            "PRICING_QUEUE_URL",
            "https://sqs.ca-central-1.amazonaws.com/1/pricing",
        ),
    ];

    #[test]
    fn reads_the_label_and_pricing_queues_and_no_other() {
        let mut vars = COMPLETE.to_vec();
        vars.push(("ACCEPT_QUEUE_URL", "https://sqs/1/accept"));
        let settings = AcceptOrdersSettings::from_lookup(lookup(&vars)).unwrap();
        assert!(settings.outbox_queues.label.is_some());
        assert!(settings.outbox_queues.pricing.is_some());
        assert!(settings.outbox_queues.accept.is_none());
        assert_hides(
            &format!("{settings:?}"),
            &["hunter2-db-password", "mirakl-key-never-printed"],
        );
    }

    #[test]
    fn the_reservation_hold_is_72_hours_unless_set_in_whole_hours() {
        let settings = AcceptOrdersSettings::from_lookup(lookup(COMPLETE)).unwrap();
        assert_eq!(settings.reservation_hold, Duration::from_secs(72 * 3600));

        let mut vars = COMPLETE.to_vec();
        vars.push(("STOCK_RESERVATION_HOLD_HOURS", "24"));
        let settings = AcceptOrdersSettings::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(settings.reservation_hold, Duration::from_secs(24 * 3600));

        vars.pop();
        vars.push(("STOCK_RESERVATION_HOLD_HOURS", "1.5"));
        let err = AcceptOrdersSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(err.variables(), ["STOCK_RESERVATION_HOLD_HOURS"]);
    }

    #[test]
    fn every_missing_variable_is_named_in_one_error() {
        let err = AcceptOrdersSettings::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(
            err.variables(),
            [
                "DATABASE_URL",
                "MIRAKL_BASE_URL",
                "MIRAKL_API_KEY",
                "LABEL_QUEUE_URL",
                "PRICING_QUEUE_URL"
            ]
        );
    }

    #[test]
    fn a_secret_never_reaches_the_error() {
        let vars = [
            DATABASE[0],
            ("MIRAKL_API_KEY", "mirakl-key-never-printed"),
            ("MIRAKL_BASE_URL", "ftp://mirakl-key-never-printed@host"),
        ];
        let err = AcceptOrdersSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(
            err.variables(),
            ["MIRAKL_BASE_URL", "LABEL_QUEUE_URL", "PRICING_QUEUE_URL"]
        );
        assert_hides(
            &format!("{err} {err:?}"),
            &["hunter2-db-password", "mirakl-key-never-printed"],
        );
    }
}
