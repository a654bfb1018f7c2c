//! `evaluate-pricing-rules`: keeps every listing's price inside the seller's rules.
//!
//! Everything the evaluation reads about pricing itself (time zone, channel fees,
//! default margin floor, the seller's own marketplace ids) is data in `ops.settings`,
//! edited by the seller; the environment gives only where things are.

use super::{AwsSettings, DatabaseSettings, FromEnvironment, QueueUrls, Variables};
use crate::ops::outbox::WorkQueue;

/// What `evaluate-pricing-rules` reads at cold start.
#[derive(Debug, Clone)]
pub struct EvaluatePricingRulesSettings {
    /// Listings, costs, rules, offers, and where decisions are written.
    pub database: DatabaseSettings,
    /// SQS, for the outbox.
    pub aws: AwsSettings,
    /// The pricing queue only: the "apply a price change" messages the evaluation writes
    /// go there, and the function publishes them after each batch or run.
    pub outbox_queues: QueueUrls,
}

impl FromEnvironment for EvaluatePricingRulesSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            database: DatabaseSettings::read(vars),
            aws: AwsSettings::read(vars),
            outbox_queues: QueueUrls::read(vars, &[WorkQueue::Pricing]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_hides, lookup};
    use super::*;

    #[test]
    fn reads_the_database_and_the_pricing_queue_only() {
        let vars = [
            (
                "DATABASE_URL",
                "postgres://app:hunter2-db-password@db.internal/sellerops",
            ),
            ("PRICING_QUEUE_URL", "https://sqs/1/pricing"),
            ("ACCEPT_QUEUE_URL", "https://sqs/1/accept"),
        ];
        let settings = EvaluatePricingRulesSettings::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(
            settings.outbox_queues.pricing.as_deref(),
            Some("https://sqs/1/pricing")
        );
        assert!(settings.outbox_queues.accept.is_none());
        assert_hides(&format!("{settings:?}"), &["hunter2-db-password"]);
    }

    #[test]
    fn every_missing_variable_is_named_in_one_error() {
        let err = EvaluatePricingRulesSettings::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(err.variables(), ["DATABASE_URL", "PRICING_QUEUE_URL"]);
    }
}
