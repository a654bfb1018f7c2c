//! `accept-orders`: decides orders with Mirakl OR21 and queues their labels.

use super::{AwsSettings, DatabaseSettings, FromEnvironment, MiraklSettings, QueueUrls, Variables};
use crate::ops::outbox::WorkQueue;

/// What `accept-orders` reads at cold start.
#[derive(Debug, Clone)]
pub struct AcceptOrdersSettings {
    /// The orders, stock and decisions.
    pub database: DatabaseSettings,
    /// S3 and SQS.
    pub aws: AwsSettings,
    /// OR21, and OR11 when Mirakl says an order moved on.
    pub mirakl: MiraklSettings,
    /// The label queue only: accept-orders publishes the label messages it writes, and
    /// leaves the other follow-ups to the recording functions, which may send them.
    pub outbox_queues: QueueUrls,
}

impl FromEnvironment for AcceptOrdersSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            database: DatabaseSettings::read(vars),
            aws: AwsSettings::read(vars),
            mirakl: MiraklSettings::read(vars),
            outbox_queues: QueueUrls::read(vars, &[WorkQueue::Label]),
        }
    }
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
    ];

    #[test]
    fn reads_the_label_queue_and_no_other() {
        let mut vars = COMPLETE.to_vec();
        vars.push(("ACCEPT_QUEUE_URL", "https://sqs/1/accept"));
        let settings = AcceptOrdersSettings::from_lookup(lookup(&vars)).unwrap();
        assert!(settings.outbox_queues.label.is_some());
        assert!(settings.outbox_queues.accept.is_none());
        assert_hides(
            &format!("{settings:?}"),
            &["hunter2-db-password", "mirakl-key-never-printed"],
        );
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
                "LABEL_QUEUE_URL"
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
        assert_eq!(err.variables(), ["MIRAKL_BASE_URL", "LABEL_QUEUE_URL"]);
        assert_hides(
            &format!("{err} {err:?}"),
            &["hunter2-db-password", "mirakl-key-never-printed"],
        );
    }
}
