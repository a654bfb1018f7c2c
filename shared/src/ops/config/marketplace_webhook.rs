//! `marketplace-webhook`: Mirakl, Shopify and Freshdesk deliveries behind API Gateway.

use super::parts::RECORDING_FOLLOW_UPS;
use super::{
    AwsSettings, DatabaseSettings, FromEnvironment, QueueUrls, Variables, WebhookSettings,
};
use crate::model::customer_email::EmailPepper;

/// What `marketplace-webhook` reads at cold start.
#[derive(Debug, Clone)]
pub struct MarketplaceWebhookSettings {
    /// The inbox and the recorded orders, customers and tickets.
    pub database: DatabaseSettings,
    /// SQS, for the follow-ups.
    pub aws: AwsSettings,
    /// `EMAIL_HASH_PEPPER`: customers are recorded by the keyed hash of their e-mail.
    pub email_hash_pepper: EmailPepper,
    /// How each source is authenticated, and the body limit.
    pub webhooks: WebhookSettings,
    /// The accept, label, reply and pricing queues the recorded deliveries' follow-ups go
    /// to.
    pub outbox_queues: QueueUrls,
}

impl FromEnvironment for MarketplaceWebhookSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            database: DatabaseSettings::read(vars),
            aws: AwsSettings::read(vars),
            email_hash_pepper: EmailPepper::read(vars),
            webhooks: WebhookSettings::read(vars),
            outbox_queues: QueueUrls::read(vars, RECORDING_FOLLOW_UPS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_hides, lookup, with};
    use super::*;

    const COMPLETE: &[(&str, &str)] = &[
        (
            "DATABASE_URL",
            "postgres://app:hunter2-db-password@db.internal/sellerops",
        ),
        ("EMAIL_HASH_PEPPER", "a-pepper-never-printed"),
        ("ACCEPT_QUEUE_URL", "https://sqs/1/accept"),
        ("LABEL_QUEUE_URL", "https://sqs/1/label"),
        ("REPLY_QUEUE_URL", "https://sqs/1/reply"),
        ("PRICING_QUEUE_URL", "https://sqs/1/pricing"),
        ("MIRAKL_WEBHOOK_SECRET", "mirakl-secret-never-printed"),
        ("SHOPIFY_WEBHOOK_SECRET", "shpss_never-printed"),
        ("FRESHDESK_WEBHOOK_SECRET", "freshdesk-secret-never-printed"),
        ("WEBHOOK_BODY_LIMIT_BYTES", "2048"),
    ];

    const SECRETS: &[&str] = &[
        "hunter2-db-password",
        "a-pepper-never-printed",
        "mirakl-secret-never-printed",
        "shpss_never-printed",
        "freshdesk-secret-never-printed",
    ];

    #[test]
    fn reads_the_webhook_secrets_and_the_follow_up_queues_and_hides_the_secrets() {
        let settings = MarketplaceWebhookSettings::from_lookup(lookup(COMPLETE)).unwrap();
        assert_eq!(settings.webhooks.body_limit_bytes, 2048);
        assert!(settings.webhooks.shopify_secret.is_some());
        let queues = &settings.outbox_queues;
        assert!(queues.accept.is_some() && queues.label.is_some() && queues.reply.is_some());
        assert!(queues.pricing.is_some());
        assert_hides(&format!("{settings:?}"), SECRETS);
    }

    #[test]
    fn every_missing_variable_is_named_in_one_error() {
        let err = MarketplaceWebhookSettings::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(
            err.variables(),
            [
                "DATABASE_URL",
                "EMAIL_HASH_PEPPER",
                "ACCEPT_QUEUE_URL",
                "LABEL_QUEUE_URL",
                "REPLY_QUEUE_URL",
                "PRICING_QUEUE_URL"
            ]
        );
    }

    #[test]
    fn a_secret_never_reaches_the_error() {
        let vars = with(COMPLETE, "WEBHOOK_BODY_LIMIT_BYTES", "a lot");
        let vars = with(&vars, "EMAIL_HASH_PEPPER", "short-pepper");
        let err = MarketplaceWebhookSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(
            err.variables(),
            ["EMAIL_HASH_PEPPER", "WEBHOOK_BODY_LIMIT_BYTES"]
        );
        assert_hides(&format!("{err} {err:?}"), SECRETS);
        assert_hides(&format!("{err} {err:?}"), &["short-pepper"]);
    }
}
