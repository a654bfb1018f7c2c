//! Typed configuration, read once from the environment at cold start.
//!
//! Every variable is documented in the README's configuration reference.
//! Secrets (the database URL, which may carry a password, and the email-hash
//! pepper) are wrapped in [`SecretString`] so that `Debug` never prints them.

use secrecy::{ExposeSecret, SecretString};

use crate::model::money::Currency;

/// Everything a function reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// How to reach PostgreSQL.
    pub database: DatabaseSettings,
    /// The key for customer-email hashes.
    pub email_hash_pepper: SecretString,
    /// Currency assumed when an order file or payload names none.
    pub default_currency: Currency,
    /// Where the AWS SDK sends requests (`AWS_ENDPOINT_URL`, set only for the local stack).
    pub aws_endpoint_url: Option<String>,
    /// Bucket names; a function asks for the ones it needs with [`Config::require`].
    pub buckets: Buckets,
    /// Queue URLs; a function asks for the ones it needs with [`Config::require`].
    pub queues: QueueUrls,
    /// How to reach the Mirakl seller API (Best Buy Canada).
    pub mirakl: MiraklSettings,
    /// How to reach Canada Post's REST API (non-contract shipments).
    pub canadapost: CanadaPostSettings,
    /// Shipping labels: sender address, default parcel, marketplace carrier code.
    pub fulfilment: FulfilmentSettings,
    /// How webhook deliveries are authenticated and bounded (`marketplace-webhook`).
    pub webhooks: WebhookSettings,
    /// How the marketplace poller reads Mirakl (`sync-marketplace`).
    pub marketplace_sync: MarketplaceSyncSettings,
}

/// How to reach Canada Post; the label function requires these at cold start.
#[derive(Debug, Clone, Default)]
pub struct CanadaPostSettings {
    /// `CANADAPOST_BASE_URL`: `https://soa-gw.canadapost.ca` (production) or
    /// `https://ct.soa-gw.canadapost.ca` (development).
    pub base_url: Option<String>,
    /// `CANADAPOST_USERNAME`: the API key's user id. Secret.
    pub username: Option<SecretString>,
    /// `CANADAPOST_PASSWORD`: the API key's password. Secret.
    pub password: Option<SecretString>,
    /// `CANADAPOST_CUSTOMER_NUMBER`: the seller's Canada Post customer number (in the path).
    pub customer_number: Option<String>,
    /// `CANADAPOST_SERVICE_CODE`: the service labels are bought for (default `DOM.EP`).
    pub service_code: String,
    /// `CANADAPOST_LANGUAGE`: `en-CA` (default) or `fr-CA`, for the carrier's messages.
    pub language: String,
}

/// What a shipping label needs besides the order.
#[derive(Debug, Clone)]
pub struct FulfilmentSettings {
    /// `MIRAKL_CARRIER_CODE`: the marketplace's code for the carrier in OR23
    /// (default `CPCL`, Best Buy Canada's code for Canada Post).
    pub mirakl_carrier_code: String,
    /// The address labels are shipped from.
    pub sender: SenderSettings,
    /// The parcel assumed when product data does not give weight or size.
    pub default_parcel: DefaultParcel,
}

/// `SENDER_*`: the seller's return address, printed on every label. Company, phone,
/// address line 1, city, province and postal code are required by the label function.
#[derive(Debug, Clone, Default)]
pub struct SenderSettings {
    /// `SENDER_NAME`: a contact person (optional).
    pub name: Option<String>,
    /// `SENDER_COMPANY`.
    pub company: Option<String>,
    /// `SENDER_PHONE`.
    pub phone: Option<String>,
    /// `SENDER_ADDRESS_LINE1`.
    pub address_line1: Option<String>,
    /// `SENDER_ADDRESS_LINE2` (optional).
    pub address_line2: Option<String>,
    /// `SENDER_CITY`.
    pub city: Option<String>,
    /// `SENDER_PROVINCE`: two-letter code, e.g. `ON`.
    pub province: Option<String>,
    /// `SENDER_POSTAL_CODE`, e.g. `K1A0B1`.
    pub postal_code: Option<String>,
}

/// `DEFAULT_PARCEL_*`: weight (kg) and size (cm) used when the products do not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultParcel {
    /// `DEFAULT_PARCEL_WEIGHT_KG` (default 1.0).
    pub weight_kg: rust_decimal::Decimal,
    /// `DEFAULT_PARCEL_LENGTH_CM` (default 30).
    pub length_cm: rust_decimal::Decimal,
    /// `DEFAULT_PARCEL_WIDTH_CM` (default 20).
    pub width_cm: rust_decimal::Decimal,
    /// `DEFAULT_PARCEL_HEIGHT_CM` (default 10).
    pub height_cm: rust_decimal::Decimal,
}

/// How webhook deliveries are authenticated and bounded. A source whose secret is not
/// configured refuses every delivery (401): nothing unauthenticated is ever stored.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `MIRAKL_WEBHOOK_SECRET`: the value Mirakl sends in `X-Webhook-Secret`. Secret.
    pub mirakl_secret: Option<SecretString>,
    /// `SHOPIFY_WEBHOOK_SECRET`: the app's client secret, key of `X-Shopify-Hmac-Sha256`. Secret.
    pub shopify_secret: Option<SecretString>,
    /// `SHOPIFY_SHOP_DOMAIN`: the store (`example.myshopify.com`); deliveries naming
    /// another store in `X-Shopify-Shop-Domain` are refused.
    pub shopify_shop_domain: Option<String>,
    /// `FRESHDESK_WEBHOOK_SECRET`: sent by Freshdesk's automation rule in
    /// `X-Webhook-Secret`, or as the Basic-auth password. Secret.
    pub freshdesk_secret: Option<SecretString>,
    /// `FRESHDESK_DOMAIN`: the helpdesk (`example.freshdesk.com`) tickets are filed under
    /// when the delivery carries no `ticket_url`.
    pub freshdesk_domain: Option<String>,
    /// `WEBHOOK_BODY_LIMIT_BYTES`: larger bodies get 413 (default 1 MiB).
    pub body_limit_bytes: usize,
}

/// How the marketplace poller reads Mirakl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketplaceSyncSettings {
    /// `MARKETPLACE_SYNC_OVERLAP_SECONDS`: each poll starts this long before the
    /// watermark, so a change committed late on Mirakl's side is still seen (default 300).
    pub overlap: std::time::Duration,
    /// `MARKETPLACE_SYNC_FIRST_LOOKBACK_HOURS`: how far back the very first poll reads
    /// (default 72).
    pub first_lookback: std::time::Duration,
    /// `MARKETPLACE_SYNC_PAGE_SIZE`: orders per OR11 page, at most 100 (default 100).
    pub page_size: u32,
}

impl Default for MarketplaceSyncSettings {
    fn default() -> Self {
        Self {
            overlap: std::time::Duration::from_secs(300),
            first_lookback: std::time::Duration::from_secs(72 * 3600),
            page_size: 100,
        }
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            mirakl_secret: None,
            shopify_secret: None,
            shopify_shop_domain: None,
            freshdesk_secret: None,
            freshdesk_domain: None,
            body_limit_bytes: DEFAULT_WEBHOOK_BODY_LIMIT,
        }
    }
}

/// How to reach the Mirakl seller API; functions that call it require these.
#[derive(Debug, Clone, Default)]
pub struct MiraklSettings {
    /// `MIRAKL_BASE_URL`, e.g. `https://marketplace.bestbuy.ca`.
    pub base_url: Option<String>,
    /// `MIRAKL_API_KEY`: the shop API key. Secret.
    pub api_key: Option<SecretString>,
    /// `MIRAKL_SHOP_ID`: only for users linked to several shops.
    pub shop_id: Option<String>,
}

/// How to reach PostgreSQL.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`, a `postgres://` URL.
    pub url: SecretString,
    /// `DATABASE_MAX_CONNECTIONS`: one Lambda instance handles one event at a time, so a
    /// couple of connections is enough and keeps RDS's connection count low.
    pub max_connections: u32,
}

/// The S3 buckets sellerops reads and writes.
#[derive(Debug, Clone, Default)]
pub struct Buckets {
    /// `ORDERS_BUCKET`: order files dropped for import.
    pub orders: Option<String>,
    /// `LABELS_BUCKET`: shipping label PDFs.
    pub labels: Option<String>,
}

/// The SQS queues sellerops publishes to.
#[derive(Debug, Clone, Default)]
pub struct QueueUrls {
    /// `INGEST_QUEUE_URL`: S3 notifications of new order files.
    pub ingest: Option<String>,
    /// `ACCEPT_QUEUE_URL`: orders waiting for acceptance.
    pub accept: Option<String>,
    /// `LABEL_QUEUE_URL`: accepted orders that need a shipping label.
    pub label: Option<String>,
    /// `REPLY_QUEUE_URL`: customer messages that may get an automatic answer.
    pub reply: Option<String>,
    /// `PRICING_QUEUE_URL`: competitor offer, cost and stock changes.
    pub pricing: Option<String>,
}

/// A configuration problem, naming the variable at fault. Never carries a secret value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        /// The variable's name.
        name: &'static str,
        /// What is wrong with it, without repeating its value.
        reason: String,
    },
}

const DEFAULT_MAX_CONNECTIONS: u32 = 2;
const DEFAULT_WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|value| !value.trim().is_empty());
        let require = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));

        let url = require("DATABASE_URL")?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: "expected a postgres:// or postgresql:// URL".into(),
            });
        }
        let max_connections = match get("DATABASE_MAX_CONNECTIONS") {
            None => DEFAULT_MAX_CONNECTIONS,
            Some(raw) => raw
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ConfigError::Invalid {
                    name: "DATABASE_MAX_CONNECTIONS",
                    reason: format!("expected a positive whole number, got {raw:?}"),
                })?,
        };
        let pepper = require("EMAIL_HASH_PEPPER")?;
        if pepper.len() < 16 {
            return Err(ConfigError::Invalid {
                name: "EMAIL_HASH_PEPPER",
                reason: "must be at least 16 characters long".into(),
            });
        }
        let default_currency = match get("DEFAULT_CURRENCY") {
            None => Currency::CAD,
            Some(raw) => Currency::parse(&raw).map_err(|err| ConfigError::Invalid {
                name: "DEFAULT_CURRENCY",
                reason: err.to_string(),
            })?,
        };

        let positive = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(raw) => raw
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError::Invalid {
                        name,
                        reason: format!("expected a positive whole number, got {raw:?}"),
                    }),
            }
        };
        let body_limit_bytes = usize::try_from(positive(
            "WEBHOOK_BODY_LIMIT_BYTES",
            DEFAULT_WEBHOOK_BODY_LIMIT as u64,
        )?)
        .unwrap_or(DEFAULT_WEBHOOK_BODY_LIMIT);
        let sync_defaults = MarketplaceSyncSettings::default();
        let page_size = positive(
            "MARKETPLACE_SYNC_PAGE_SIZE",
            u64::from(sync_defaults.page_size),
        )?;
        if page_size > 100 {
            return Err(ConfigError::Invalid {
                name: "MARKETPLACE_SYNC_PAGE_SIZE",
                reason: "Mirakl returns at most 100 orders a page".into(),
            });
        }
        let marketplace_sync = MarketplaceSyncSettings {
            overlap: std::time::Duration::from_secs(positive(
                "MARKETPLACE_SYNC_OVERLAP_SECONDS",
                sync_defaults.overlap.as_secs(),
            )?),
            first_lookback: std::time::Duration::from_secs(
                positive(
                    "MARKETPLACE_SYNC_FIRST_LOOKBACK_HOURS",
                    sync_defaults.first_lookback.as_secs() / 3600,
                )? * 3600,
            ),
            page_size: u32::try_from(page_size).unwrap_or(100),
        };

        Ok(Self {
            database: DatabaseSettings {
                url: SecretString::from(url),
                max_connections,
            },
            email_hash_pepper: SecretString::from(pepper),
            default_currency,
            aws_endpoint_url: get("AWS_ENDPOINT_URL"),
            buckets: Buckets {
                orders: get("ORDERS_BUCKET"),
                labels: get("LABELS_BUCKET"),
            },
            queues: QueueUrls {
                ingest: get("INGEST_QUEUE_URL"),
                accept: get("ACCEPT_QUEUE_URL"),
                label: get("LABEL_QUEUE_URL"),
                reply: get("REPLY_QUEUE_URL"),
                pricing: get("PRICING_QUEUE_URL"),
            },
            mirakl: MiraklSettings {
                base_url: get("MIRAKL_BASE_URL"),
                api_key: get("MIRAKL_API_KEY").map(SecretString::from),
                shop_id: get("MIRAKL_SHOP_ID"),
            },
            canadapost: CanadaPostSettings {
                base_url: get("CANADAPOST_BASE_URL"),
                username: get("CANADAPOST_USERNAME").map(SecretString::from),
                password: get("CANADAPOST_PASSWORD").map(SecretString::from),
                customer_number: get("CANADAPOST_CUSTOMER_NUMBER"),
                service_code: get("CANADAPOST_SERVICE_CODE").unwrap_or_else(|| "DOM.EP".into()),
                language: match get("CANADAPOST_LANGUAGE") {
                    None => "en-CA".into(),
                    Some(raw) if raw == "en-CA" || raw == "fr-CA" => raw,
                    Some(_) => {
                        return Err(ConfigError::Invalid {
                            name: "CANADAPOST_LANGUAGE",
                            reason: "expected en-CA or fr-CA".into(),
                        })
                    }
                },
            },
            fulfilment: FulfilmentSettings {
                mirakl_carrier_code: get("MIRAKL_CARRIER_CODE").unwrap_or_else(|| "CPCL".into()),
                sender: SenderSettings {
                    name: get("SENDER_NAME"),
                    company: get("SENDER_COMPANY"),
                    phone: get("SENDER_PHONE"),
                    address_line1: get("SENDER_ADDRESS_LINE1"),
                    address_line2: get("SENDER_ADDRESS_LINE2"),
                    city: get("SENDER_CITY"),
                    province: get("SENDER_PROVINCE"),
                    postal_code: get("SENDER_POSTAL_CODE"),
                },
                default_parcel: DefaultParcel {
                    weight_kg: positive_decimal(
                        get("DEFAULT_PARCEL_WEIGHT_KG"),
                        "DEFAULT_PARCEL_WEIGHT_KG",
                        "1.0",
                    )?,
                    length_cm: positive_decimal(
                        get("DEFAULT_PARCEL_LENGTH_CM"),
                        "DEFAULT_PARCEL_LENGTH_CM",
                        "30",
                    )?,
                    width_cm: positive_decimal(
                        get("DEFAULT_PARCEL_WIDTH_CM"),
                        "DEFAULT_PARCEL_WIDTH_CM",
                        "20",
                    )?,
                    height_cm: positive_decimal(
                        get("DEFAULT_PARCEL_HEIGHT_CM"),
                        "DEFAULT_PARCEL_HEIGHT_CM",
                        "10",
                    )?,
                },
            },
            webhooks: WebhookSettings {
                mirakl_secret: get("MIRAKL_WEBHOOK_SECRET").map(SecretString::from),
                shopify_secret: get("SHOPIFY_WEBHOOK_SECRET").map(SecretString::from),
                shopify_shop_domain: get("SHOPIFY_SHOP_DOMAIN"),
                freshdesk_secret: get("FRESHDESK_WEBHOOK_SECRET").map(SecretString::from),
                freshdesk_domain: get("FRESHDESK_DOMAIN"),
                body_limit_bytes,
            },
            marketplace_sync,
        })
    }

    /// Returns an optional setting a function cannot work without, or names the
    /// missing variable. Call it at cold start so a misconfigured function fails
    /// before it takes its first event.
    pub fn require<'a>(
        value: &'a Option<String>,
        name: &'static str,
    ) -> Result<&'a str, ConfigError> {
        value.as_deref().ok_or(ConfigError::Missing(name))
    }
}

/// A positive decimal setting, or its default.
fn positive_decimal(
    raw: Option<String>,
    name: &'static str,
    default: &str,
) -> Result<rust_decimal::Decimal, ConfigError> {
    let text = raw.unwrap_or_else(|| default.to_owned());
    text.trim()
        .parse::<rust_decimal::Decimal>()
        .ok()
        .filter(|value| value.is_sign_positive() && !value.is_zero())
        .ok_or_else(|| ConfigError::Invalid {
            name,
            reason: format!("expected a positive number, got {text:?}"),
        })
}

impl DatabaseSettings {
    /// The URL, for the one place that connects.
    pub(crate) fn expose_url(&self) -> &str {
        self.url.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    const MINIMAL: &[(&str, &str)] = &[
        (
            "DATABASE_URL",
            "postgres://app:hunter2-db-password@db.internal/sellerops",
        ),
        ("EMAIL_HASH_PEPPER", "a-pepper-of-sufficient-length"),
    ];

    #[test]
    fn minimal_configuration_gets_the_documented_defaults() {
        let config = Config::from_lookup(lookup(MINIMAL)).unwrap();
        assert_eq!(config.database.max_connections, 2);
        assert_eq!(config.default_currency, Currency::CAD);
        assert_eq!(config.aws_endpoint_url, None);
        assert_eq!(
            Config::require(&config.buckets.orders, "ORDERS_BUCKET"),
            Err(ConfigError::Missing("ORDERS_BUCKET"))
        );
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let config = Config::from_lookup(lookup(MINIMAL)).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2-db-password"), "{printed}");
        assert!(
            !printed.contains("a-pepper-of-sufficient-length"),
            "{printed}"
        );
    }

    #[test]
    fn a_missing_database_url_is_named() {
        let err = Config::from_lookup(lookup(&MINIMAL[1..])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("DATABASE_URL"));
        assert!(err.to_string().contains("DATABASE_URL"));
    }

    #[test]
    fn an_invalid_value_is_named_without_echoing_secrets() {
        let mut vars = MINIMAL.to_vec();
        vars[0] = ("DATABASE_URL", "mysql://root:topsecret@host/db");
        let err = Config::from_lookup(lookup(&vars)).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "DATABASE_URL",
                ..
            }
        ));
        assert!(!err.to_string().contains("topsecret"));

        let mut vars = MINIMAL.to_vec();
        vars.push(("DATABASE_MAX_CONNECTIONS", "zero"));
        let err = Config::from_lookup(lookup(&vars)).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "DATABASE_MAX_CONNECTIONS",
                ..
            }
        ));

        let mut vars = MINIMAL.to_vec();
        vars.push(("DEFAULT_CURRENCY", "dollars"));
        let err = Config::from_lookup(lookup(&vars)).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "DEFAULT_CURRENCY",
                ..
            }
        ));
    }

    #[test]
    fn webhook_and_sync_settings_have_defaults_and_hide_secrets() {
        let config = Config::from_lookup(lookup(MINIMAL)).unwrap();
        assert_eq!(config.webhooks.body_limit_bytes, 1024 * 1024);
        assert!(config.webhooks.mirakl_secret.is_none());
        assert_eq!(config.marketplace_sync, MarketplaceSyncSettings::default());

        let mut vars = MINIMAL.to_vec();
        vars.extend([
            ("SHOPIFY_WEBHOOK_SECRET", "shpss_never-printed"),
            ("WEBHOOK_BODY_LIMIT_BYTES", "2048"),
            ("MARKETPLACE_SYNC_OVERLAP_SECONDS", "60"),
        ]);
        let config = Config::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(config.webhooks.body_limit_bytes, 2048);
        assert_eq!(config.marketplace_sync.overlap.as_secs(), 60);
        assert!(!format!("{config:?}").contains("shpss_never-printed"));

        let mut vars = MINIMAL.to_vec();
        vars.push(("MARKETPLACE_SYNC_PAGE_SIZE", "500"));
        assert!(matches!(
            Config::from_lookup(lookup(&vars)).unwrap_err(),
            ConfigError::Invalid {
                name: "MARKETPLACE_SYNC_PAGE_SIZE",
                ..
            }
        ));
    }

    #[test]
    fn a_short_pepper_is_refused() {
        let vars = [MINIMAL[0], ("EMAIL_HASH_PEPPER", "short")];
        let err = Config::from_lookup(lookup(&vars)).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "EMAIL_HASH_PEPPER",
                ..
            }
        ));
    }

    #[test]
    fn fulfilment_settings_have_documented_defaults_and_hide_carrier_credentials() {
        let mut vars = MINIMAL.to_vec();
        vars.extend([
            ("CANADAPOST_USERNAME", "cp-user-never-printed"),
            ("CANADAPOST_PASSWORD", "cp-password-never-printed"),
        ]);
        let config = Config::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(config.canadapost.service_code, "DOM.EP");
        assert_eq!(config.canadapost.language, "en-CA");
        assert_eq!(config.fulfilment.mirakl_carrier_code, "CPCL");
        assert_eq!(
            config.fulfilment.default_parcel.weight_kg,
            rust_decimal::Decimal::ONE
        );
        let printed = format!("{config:?}");
        assert!(!printed.contains("never-printed"), "{printed}");

        vars.push(("DEFAULT_PARCEL_WEIGHT_KG", "-2"));
        let err = Config::from_lookup(lookup(&vars)).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "DEFAULT_PARCEL_WEIGHT_KG",
                ..
            }
        ));
    }

    #[test]
    fn optional_settings_are_read_and_blank_means_unset() {
        let mut vars = MINIMAL.to_vec();
        vars.extend([
            ("ORDERS_BUCKET", "orders"),
            ("LABELS_BUCKET", "  "),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ("DEFAULT_CURRENCY", "usd"),
            (
                "ACCEPT_QUEUE_URL",
                "http://127.0.0.1:4566/123456789012/accept",
            ),
            ("MIRAKL_API_KEY", "shop-key-never-printed"),
        ]);
        let config = Config::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(
            Config::require(&config.buckets.orders, "ORDERS_BUCKET"),
            Ok("orders")
        );
        assert_eq!(config.buckets.labels, None);
        assert_eq!(
            config.aws_endpoint_url.as_deref(),
            Some("http://127.0.0.1:4566")
        );
        assert_eq!(config.default_currency.code(), "USD");
        assert!(config.queues.accept.is_some());
        assert!(config.mirakl.api_key.is_some());
        assert!(!format!("{config:?}").contains("shop-key-never-printed"));
    }
}
