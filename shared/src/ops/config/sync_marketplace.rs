//! `sync-marketplace`: polls Mirakl on a schedule and records what changed, and
//! reconciles the Shopify store's orders when it is configured.

use super::parts::RECORDING_FOLLOW_UPS;
use super::{
    AwsSettings, DatabaseSettings, FreshdeskSettings, FromEnvironment, MarketplaceSyncSettings,
    MiraklSettings, QueueUrls, RetentionSettings, ShopifyAdminSettings, Variables,
};
use crate::model::customer_email::EmailPepper;

/// What `sync-marketplace` reads at cold start.
#[derive(Debug, Clone)]
pub struct SyncMarketplaceSettings {
    /// The recorded orders and threads, and the watermarks.
    pub database: DatabaseSettings,
    /// SQS, for the follow-ups.
    pub aws: AwsSettings,
    /// `EMAIL_HASH_PEPPER`: customers are recorded by the keyed hash of their e-mail.
    pub email_hash_pepper: EmailPepper,
    /// OR11 and M11.
    pub mirakl: MiraklSettings,
    /// Overlap, first look-back and page size of the polls.
    pub sync: MarketplaceSyncSettings,
    /// The store's Admin API, when its orders are reconciled (`SHOPIFY_ADMIN_ACCESS_TOKEN`
    /// given); the reconciliation uses the same overlap and first look-back.
    pub shopify: Option<ShopifyAdminSettings>,
    /// The helpdesk, when its tickets are synced (`FRESHDESK_API_KEY` given).
    pub freshdesk: Option<FreshdeskSettings>,
    /// The accept, label, reply and pricing queues: the poller is also the outbox's sweep,
    /// so it publishes every follow-up the recording path writes.
    pub outbox_queues: QueueUrls,
    /// How long the call log, the inbox and expired delivery records are kept: each
    /// run ends with the purge ([`crate::ops::retention`]).
    pub retention: RetentionSettings,
}

impl FromEnvironment for SyncMarketplaceSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            database: DatabaseSettings::read(vars),
            aws: AwsSettings::read(vars),
            email_hash_pepper: EmailPepper::read(vars),
            mirakl: MiraklSettings::read(vars),
            sync: MarketplaceSyncSettings::read(vars),
            shopify: ShopifyAdminSettings::read_optional(vars),
            freshdesk: FreshdeskSettings::read_optional(vars),
            outbox_queues: QueueUrls::read(vars, RECORDING_FOLLOW_UPS),
            retention: RetentionSettings::read(vars),
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
        ("MIRAKL_BASE_URL", "https://marketplace.bestbuy.ca"),
        ("MIRAKL_API_KEY", "mirakl-key-never-printed"),
        ("ACCEPT_QUEUE_URL", "https://sqs/1/accept"),
        ("LABEL_QUEUE_URL", "https://sqs/1/label"),
        ("REPLY_QUEUE_URL", "https://sqs/1/reply"),
        ("PRICING_QUEUE_URL", "https://sqs/1/pricing"),
    ];

    const SECRETS: &[&str] = &[
        "hunter2-db-password",
        "a-pepper-never-printed",
        "mirakl-key-never-printed",
    ];

    #[test]
    fn a_complete_environment_gets_the_sync_defaults_and_hides_secrets() {
        let settings = SyncMarketplaceSettings::from_lookup(lookup(COMPLETE)).unwrap();
        assert_eq!(settings.sync, MarketplaceSyncSettings::default());
        assert_eq!(settings.retention, RetentionSettings::default());
        assert!(settings.outbox_queues.reply.is_some());
        assert_hides(&format!("{settings:?}"), SECRETS);
    }

    #[test]
    fn the_shopify_reconciliation_is_configured_by_its_access_token_alone() {
        let without = SyncMarketplaceSettings::from_lookup(lookup(COMPLETE)).unwrap();
        assert!(without.shopify.is_none());

        let vars = with(
            COMPLETE,
            "SHOPIFY_ADMIN_ACCESS_TOKEN",
            "shpat_never-printed",
        );
        let err = SyncMarketplaceSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(err.variables(), ["SHOPIFY_SHOP_DOMAIN"]);

        let vars = with(&vars, "SHOPIFY_SHOP_DOMAIN", "Maple-Refurb.myshopify.com");
        let settings = SyncMarketplaceSettings::from_lookup(lookup(&vars)).unwrap();
        let shopify = settings.shopify.clone().unwrap();
        assert_eq!(shopify.base_url, "https://maple-refurb.myshopify.com");
        assert_eq!(shopify.api_version, "2025-01");
        assert_hides(&format!("{settings:?}"), &["shpat_never-printed"]);

        let vars = with(&vars, "SHOPIFY_API_VERSION", "latest");
        let err = SyncMarketplaceSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(err.variables(), ["SHOPIFY_API_VERSION"]);
    }

    #[test]
    fn the_helpdesk_sync_is_configured_by_its_api_key_alone() {
        let without = SyncMarketplaceSettings::from_lookup(lookup(COMPLETE)).unwrap();
        assert!(without.freshdesk.is_none());

        let vars = with(COMPLETE, "FRESHDESK_API_KEY", "fd-key-never-printed");
        let err = SyncMarketplaceSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(err.variables(), ["FRESHDESK_DOMAIN"]);

        let vars = with(&vars, "FRESHDESK_DOMAIN", "MapleRefurb.freshdesk.com");
        let settings = SyncMarketplaceSettings::from_lookup(lookup(&vars)).unwrap();
        let freshdesk = settings.freshdesk.clone().unwrap();
        assert_eq!(freshdesk.base_url, "https://maplerefurb.freshdesk.com");
        assert_eq!(freshdesk.first_lookback.as_secs(), 72 * 3600);
        assert_eq!(freshdesk.page_size, 100);
        assert_hides(&format!("{settings:?}"), &["fd-key-never-printed"]);

        let vars = with(&vars, "FRESHDESK_SYNC_FIRST_LOOKBACK_HOURS", "24");
        let vars = with(&vars, "FRESHDESK_BASE_URL", "http://127.0.0.1:8093");
        let settings = SyncMarketplaceSettings::from_lookup(lookup(&vars)).unwrap();
        let freshdesk = settings.freshdesk.unwrap();
        assert_eq!(freshdesk.first_lookback.as_secs(), 24 * 3600);
        assert_eq!(freshdesk.base_url, "http://127.0.0.1:8093");

        let vars = with(&vars, "FRESHDESK_SYNC_PAGE_SIZE", "500");
        let err = SyncMarketplaceSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(err.variables(), ["FRESHDESK_SYNC_PAGE_SIZE"]);
    }

    #[test]
    fn every_missing_variable_is_named_in_one_error() {
        let err = SyncMarketplaceSettings::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(
            err.variables(),
            [
                "DATABASE_URL",
                "EMAIL_HASH_PEPPER",
                "MIRAKL_BASE_URL",
                "MIRAKL_API_KEY",
                "ACCEPT_QUEUE_URL",
                "LABEL_QUEUE_URL",
                "REPLY_QUEUE_URL",
                "PRICING_QUEUE_URL"
            ]
        );
    }

    #[test]
    fn a_secret_never_reaches_the_error() {
        let vars = with(COMPLETE, "MARKETPLACE_SYNC_PAGE_SIZE", "500");
        let vars = with(
            &vars,
            "DATABASE_URL",
            "postgres://app:hunter2-db-password@[::1",
        );
        let err = SyncMarketplaceSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(
            err.variables(),
            ["DATABASE_URL", "MARKETPLACE_SYNC_PAGE_SIZE"]
        );
        assert_hides(&format!("{err} {err:?}"), SECRETS);
    }
}
