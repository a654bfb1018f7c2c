//! `evaluate-pricing-rules`: keeps every listing's price inside the seller's rules.
//!
//! Everything the evaluation reads about pricing itself (time zone, channel fees,
//! default margin floor, the seller's own marketplace ids) is data in `ops.settings`,
//! edited by the seller; the environment gives only where things are, and the
//! channels' credentials for applying prices.

use super::{
    AmazonSettings, AwsSettings, DatabaseSettings, FromEnvironment, MiraklSettings, QueueUrls,
    Variables,
};
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
    /// Best Buy, where applied prices go through Mirakl's offer update.
    pub mirakl: MiraklSettings,
    /// Amazon, where applied prices go through the Listings Items patch; `None` when no
    /// seller id is configured, and Amazon prices then wait (retried) until it is.
    pub amazon: Option<AmazonSettings>,
}

impl FromEnvironment for EvaluatePricingRulesSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            database: DatabaseSettings::read(vars),
            aws: AwsSettings::read(vars),
            outbox_queues: QueueUrls::read(vars, &[WorkQueue::Pricing]),
            mirakl: MiraklSettings::read(vars),
            amazon: AmazonSettings::read_optional(vars),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_hides, lookup};
    use super::*;

    #[test]
    fn reads_the_database_the_pricing_queue_and_the_channels_only() {
        let vars = [
            (
                "DATABASE_URL",
                "postgres://app:hunter2-db-password@db.internal/sellerops",
            ),
            ("PRICING_QUEUE_URL", "https://sqs/1/pricing"),
            ("ACCEPT_QUEUE_URL", "https://sqs/1/accept"),
            ("MIRAKL_BASE_URL", "https://marketplace.bestbuy.ca"),
            ("MIRAKL_API_KEY", "mirakl-shop-key-secret"),
        ];
        let settings = EvaluatePricingRulesSettings::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(
            settings.outbox_queues.pricing.as_deref(),
            Some("https://sqs/1/pricing")
        );
        assert!(settings.outbox_queues.accept.is_none());
        assert!(
            settings.amazon.is_none(),
            "no seller id: Amazon is not applied"
        );
        assert_hides(
            &format!("{settings:?}"),
            &["hunter2-db-password", "mirakl-shop-key-secret"],
        );
    }

    #[test]
    fn an_amazon_seller_id_needs_the_lwa_credentials_and_defaults_the_rest() {
        let base = [
            ("DATABASE_URL", "postgres://app@db.internal/sellerops"),
            ("PRICING_QUEUE_URL", "https://sqs/1/pricing"),
            ("MIRAKL_BASE_URL", "https://marketplace.bestbuy.ca"),
            ("MIRAKL_API_KEY", "mirakl-shop-key"),
            ("AMAZON_SELLER_ID", "A1SELLERCA"),
        ];
        let err = EvaluatePricingRulesSettings::from_lookup(lookup(&base)).unwrap_err();
        assert_eq!(
            err.variables(),
            [
                "AMAZON_LWA_CLIENT_ID",
                "AMAZON_LWA_CLIENT_SECRET",
                "AMAZON_LWA_REFRESH_TOKEN"
            ]
        );
        let mut vars = base.to_vec();
        vars.extend([
            ("AMAZON_LWA_CLIENT_ID", "amzn1.application-oa2-client.x"),
            ("AMAZON_LWA_CLIENT_SECRET", "lwa-client-secret-value"),
            ("AMAZON_LWA_REFRESH_TOKEN", "Atzr|refresh-token-value"),
        ]);
        let settings = EvaluatePricingRulesSettings::from_lookup(lookup(&vars)).unwrap();
        let amazon = settings.amazon.as_ref().unwrap();
        assert_eq!(amazon.base_url, "https://sellingpartnerapi-na.amazon.com");
        assert_eq!(amazon.marketplace_id, "A2EUQ1WTGCTBG2");
        assert_hides(
            &format!("{settings:?}"),
            &["lwa-client-secret-value", "Atzr|refresh-token-value"],
        );
    }

    #[test]
    fn every_missing_variable_is_named_in_one_error() {
        let err = EvaluatePricingRulesSettings::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(
            err.variables(),
            [
                "DATABASE_URL",
                "PRICING_QUEUE_URL",
                "MIRAKL_BASE_URL",
                "MIRAKL_API_KEY"
            ]
        );
    }
}
