//! The parts function settings are composed of, each reading its own variables.

use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};

use super::{FromEnvironment, Variables};
use crate::model::customer_email::EmailPepper;
use crate::ops::outbox::WorkQueue;

/// How to reach PostgreSQL; every function reads it.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`, a `postgres://` URL, with `DATABASE_PASSWORD` put in when that is
    /// given. Secret: it may carry the password.
    pub url: SecretString,
    /// `DATABASE_MAX_CONNECTIONS`: one Lambda instance handles one event at a time, so a
    /// couple of connections is enough and keeps RDS's connection count low.
    pub max_connections: u32,
    /// `DATABASE_STATEMENT_TIMEOUT_MS`: PostgreSQL's `statement_timeout` for every
    /// connection, so one slow statement cannot eat an invocation's time budget
    /// (default 10 s).
    pub statement_timeout: Duration,
    /// `DATABASE_LOCK_TIMEOUT_MS`: PostgreSQL's `lock_timeout`, so a row held by another
    /// attempt fails fast as retryable instead of waiting out the function (default 2 s).
    pub lock_timeout: Duration,
}

const DEFAULT_MAX_CONNECTIONS: u32 = 2;
/// The statement timeout unless `DATABASE_STATEMENT_TIMEOUT_MS` says otherwise.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The lock timeout unless `DATABASE_LOCK_TIMEOUT_MS` says otherwise.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(2);

impl FromEnvironment for DatabaseSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        const URL: &str = "DATABASE_URL";
        const PASSWORD: &str = "DATABASE_PASSWORD";
        let mut url = vars.required_secret(URL);
        // Deployed, the URL names host, database and user in the template, and the
        // password alone comes from Secrets Manager (an RDS-managed secret's `password`).
        let password = vars.optional_secret(PASSWORD);
        let text = url.expose_secret();
        if !text.is_empty() && vars.checks() {
            // No reason quotes the URL: it may carry the password.
            if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
                vars.invalid(URL, "expected a postgres:// or postgresql:// URL");
            } else if sqlx::postgres::PgConnectOptions::from_str(text).is_err() {
                vars.invalid(URL, "not a valid PostgreSQL connection URL");
            } else {
                if let Some(reason) = unreadable_root_certificate(text) {
                    vars.invalid(URL, reason);
                }
                if let Some(password) = &password {
                    match with_password(text, password) {
                        Ok(with) => url = with,
                        Err(reason) => vars.invalid(PASSWORD, reason),
                    }
                }
            }
        }
        Self {
            url,
            max_connections: vars.parsed_or(
                "DATABASE_MAX_CONNECTIONS",
                DEFAULT_MAX_CONNECTIONS,
                positive_whole,
            ),
            statement_timeout: vars.parsed_or(
                "DATABASE_STATEMENT_TIMEOUT_MS",
                DEFAULT_STATEMENT_TIMEOUT,
                |raw| positive_whole(raw).map(Duration::from_millis),
            ),
            lock_timeout: vars.parsed_or("DATABASE_LOCK_TIMEOUT_MS", DEFAULT_LOCK_TIMEOUT, |raw| {
                positive_whole(raw).map(Duration::from_millis)
            }),
        }
    }
}

/// What a password put into a URL escapes: all but RFC 3986's unreserved characters,
/// `%` included, which the URL would otherwise keep as the start of an escape
/// (generated passwords may hold any punctuation).
const PASSWORD_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `DATABASE_URL` with `password` as its password.
fn with_password(url: &str, password: &SecretString) -> Result<SecretString, &'static str> {
    let mut parsed = reqwest::Url::parse(url).map_err(|_| "DATABASE_URL cannot take a password")?;
    if parsed.password().is_some() {
        return Err("DATABASE_URL carries a password already: give it in one place");
    }
    let encoded = percent_encoding::utf8_percent_encode(password.expose_secret(), PASSWORD_ESCAPES)
        .to_string();
    parsed
        .set_password(Some(&encoded))
        .map_err(|_| "DATABASE_URL cannot take a password")?;
    Ok(SecretString::from(String::from(parsed)))
}

/// Why the CA bundle a URL's `sslrootcert` names cannot be used, if it cannot: found at
/// cold start, rather than as a failed connection on every event.
fn unreadable_root_certificate(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let (_, path) = parsed.query_pairs().find(|(key, _)| key == "sslrootcert")?;
    match std::fs::File::open(path.as_ref()).and_then(|file| file.metadata()) {
        Ok(metadata) if metadata.is_file() => None,
        _ => Some(format!(
            "sslrootcert names {path}, which is not a readable file"
        )),
    }
}

impl DatabaseSettings {
    /// The URL, for the one place that connects.
    pub(crate) fn expose_url(&self) -> &str {
        self.url.expose_secret()
    }
}

/// `EMAIL_HASH_PEPPER`, read by the functions that record customers.
impl FromEnvironment for EmailPepper {
    fn read(vars: &mut Variables<'_>) -> Self {
        const NAME: &str = "EMAIL_HASH_PEPPER";
        let pepper = vars.required_secret(NAME);
        let length = pepper.expose_secret().len();
        if length > 0 && length < 16 {
            vars.invalid(NAME, "must be at least 16 characters long");
        }
        EmailPepper::new(pepper)
    }
}

/// How the AWS SDK is reached; region and credentials come from the SDK's own chain.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// `AWS_ENDPOINT_URL`: where every AWS request goes, set only for the local stack.
    pub endpoint_url: Option<String>,
}

impl FromEnvironment for AwsSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            endpoint_url: vars.optional("AWS_ENDPOINT_URL"),
        }
    }
}

/// How to reach the Mirakl seller API (Best Buy Canada).
#[derive(Debug, Clone)]
pub struct MiraklSettings {
    /// `MIRAKL_BASE_URL`, e.g. `https://marketplace.bestbuy.ca`.
    pub base_url: String,
    /// `MIRAKL_API_KEY`: the shop API key. Secret.
    pub api_key: SecretString,
    /// `MIRAKL_SHOP_ID`: only for users linked to several shops.
    pub shop_id: Option<String>,
}

impl FromEnvironment for MiraklSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            base_url: vars.required_parsed("MIRAKL_BASE_URL", http_url),
            api_key: vars.required_secret("MIRAKL_API_KEY"),
            shop_id: vars.optional("MIRAKL_SHOP_ID"),
        }
    }
}

/// Amazon.ca's marketplace id, the default of `AMAZON_MARKETPLACE_ID`.
pub const AMAZON_CA_MARKETPLACE: &str = "A2EUQ1WTGCTBG2";

/// SP-API's North America endpoint (Amazon.ca included), the default of
/// `AMAZON_SP_API_URL`.
pub const SP_API_NA_URL: &str = "https://sellingpartnerapi-na.amazon.com";

/// LWA's token endpoint, the default of `AMAZON_LWA_TOKEN_URL`.
pub const LWA_TOKEN_URL: &str = "https://api.amazon.com/auth/o2/token";

/// How to reach Amazon's Selling Partner API for the seller's listings.
#[derive(Debug, Clone)]
pub struct AmazonSettings {
    /// `AMAZON_SP_API_URL` (default the North America endpoint).
    pub base_url: String,
    /// `AMAZON_SELLER_ID`: the seller's merchant token, in every listing's path.
    pub seller_id: String,
    /// `AMAZON_MARKETPLACE_ID` (default Amazon.ca, `A2EUQ1WTGCTBG2`).
    pub marketplace_id: String,
    /// `AMAZON_LWA_TOKEN_URL` (default LWA's), `AMAZON_LWA_CLIENT_ID`, and the secrets
    /// `AMAZON_LWA_CLIENT_SECRET` and `AMAZON_LWA_REFRESH_TOKEN`.
    pub lwa: crate::systems::amazon::LwaCredentials,
}

impl AmazonSettings {
    /// The settings when `AMAZON_SELLER_ID` is given (the seller applies prices on
    /// Amazon): every other Amazon variable is then required or defaulted. Without it,
    /// `None`, and Amazon prices wait as suggestions. The two secrets are read either way,
    /// so a deployment may always name them.
    pub fn read_optional(vars: &mut Variables<'_>) -> Option<Self> {
        let Some(seller_id) = vars.optional("AMAZON_SELLER_ID") else {
            vars.optional_secret("AMAZON_LWA_CLIENT_SECRET");
            vars.optional_secret("AMAZON_LWA_REFRESH_TOKEN");
            return None;
        };
        Some(Self {
            base_url: vars.parsed_or("AMAZON_SP_API_URL", SP_API_NA_URL.to_owned(), http_url),
            seller_id,
            marketplace_id: vars
                .optional("AMAZON_MARKETPLACE_ID")
                .unwrap_or_else(|| AMAZON_CA_MARKETPLACE.to_owned()),
            lwa: crate::systems::amazon::LwaCredentials {
                token_url: vars.parsed_or(
                    "AMAZON_LWA_TOKEN_URL",
                    LWA_TOKEN_URL.to_owned(),
                    http_url,
                ),
                client_id: vars.required("AMAZON_LWA_CLIENT_ID"),
                client_secret: vars.required_secret("AMAZON_LWA_CLIENT_SECRET"),
                refresh_token: vars.required_secret("AMAZON_LWA_REFRESH_TOKEN"),
            },
        })
    }
}

/// How to reach Canada Post's REST API (non-contract shipments).
#[derive(Debug, Clone)]
pub struct CanadaPostSettings {
    /// `CANADAPOST_BASE_URL`: `https://soa-gw.canadapost.ca` (production) or
    /// `https://ct.soa-gw.canadapost.ca` (development).
    pub base_url: String,
    /// `CANADAPOST_USERNAME`: the API key's user id. Secret.
    pub username: SecretString,
    /// `CANADAPOST_PASSWORD`: the API key's password. Secret.
    pub password: SecretString,
    /// `CANADAPOST_CUSTOMER_NUMBER`: the seller's customer number, in the request path.
    pub customer_number: String,
    /// `CANADAPOST_SERVICE_CODE`: the service labels are bought for (default `DOM.EP`).
    pub service_code: String,
    /// `CANADAPOST_LANGUAGE`: `en-CA` (default) or `fr-CA`, for the carrier's messages.
    pub language: String,
}

impl FromEnvironment for CanadaPostSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            base_url: vars.required_parsed("CANADAPOST_BASE_URL", http_url),
            username: vars.required_secret("CANADAPOST_USERNAME"),
            password: vars.required_secret("CANADAPOST_PASSWORD"),
            customer_number: vars.required("CANADAPOST_CUSTOMER_NUMBER"),
            service_code: vars
                .optional("CANADAPOST_SERVICE_CODE")
                .unwrap_or_else(|| "DOM.EP".into()),
            language: vars.parsed_or("CANADAPOST_LANGUAGE", "en-CA".into(), |raw| match raw {
                "en-CA" | "fr-CA" => Ok(raw.to_owned()),
                _ => Err(format!("expected en-CA or fr-CA, got {raw:?}")),
            }),
        }
    }
}

/// `SENDER_*`: the seller's return address, printed on every label.
#[derive(Debug, Clone, Default)]
pub struct SenderSettings {
    /// `SENDER_NAME`: a contact person (optional).
    pub name: Option<String>,
    /// `SENDER_COMPANY`.
    pub company: String,
    /// `SENDER_PHONE`.
    pub phone: String,
    /// `SENDER_ADDRESS_LINE1`.
    pub address_line1: String,
    /// `SENDER_ADDRESS_LINE2`: unit or suite (optional).
    pub address_line2: Option<String>,
    /// `SENDER_CITY`.
    pub city: String,
    /// `SENDER_PROVINCE`: two-letter code, e.g. `ON`.
    pub province: String,
    /// `SENDER_POSTAL_CODE`, e.g. `K1A0B1`.
    pub postal_code: String,
    /// `SENDER_EMAIL`: the shipping desk's address, where Canada Post answers a refund
    /// request for a label bought twice.
    pub email: String,
}

impl FromEnvironment for SenderSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            name: vars.optional("SENDER_NAME"),
            company: vars.required("SENDER_COMPANY"),
            phone: vars.required("SENDER_PHONE"),
            address_line1: vars.required("SENDER_ADDRESS_LINE1"),
            address_line2: vars.optional("SENDER_ADDRESS_LINE2"),
            city: vars.required("SENDER_CITY"),
            province: vars.required("SENDER_PROVINCE"),
            postal_code: vars.required("SENDER_POSTAL_CODE"),
            email: vars.required("SENDER_EMAIL"),
        }
    }
}

/// `DEFAULT_PARCEL_*`: weight (kg) and size (cm) used when the products do not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultParcel {
    /// `DEFAULT_PARCEL_WEIGHT_KG` (default 1.0).
    pub weight_kg: Decimal,
    /// `DEFAULT_PARCEL_LENGTH_CM` (default 30).
    pub length_cm: Decimal,
    /// `DEFAULT_PARCEL_WIDTH_CM` (default 20).
    pub width_cm: Decimal,
    /// `DEFAULT_PARCEL_HEIGHT_CM` (default 10).
    pub height_cm: Decimal,
}

impl FromEnvironment for DefaultParcel {
    fn read(vars: &mut Variables<'_>) -> Self {
        let mut read =
            |name, default| vars.parsed_or(name, Decimal::from(default), positive_decimal);
        Self {
            weight_kg: read("DEFAULT_PARCEL_WEIGHT_KG", 1),
            length_cm: read("DEFAULT_PARCEL_LENGTH_CM", 30),
            width_cm: read("DEFAULT_PARCEL_WIDTH_CM", 20),
            height_cm: read("DEFAULT_PARCEL_HEIGHT_CM", 10),
        }
    }
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

const DEFAULT_WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

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

impl FromEnvironment for WebhookSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            mirakl_secret: vars.optional_secret("MIRAKL_WEBHOOK_SECRET"),
            shopify_secret: vars.optional_secret("SHOPIFY_WEBHOOK_SECRET"),
            shopify_shop_domain: vars.optional("SHOPIFY_SHOP_DOMAIN"),
            freshdesk_secret: vars.optional_secret("FRESHDESK_WEBHOOK_SECRET"),
            freshdesk_domain: vars.optional("FRESHDESK_DOMAIN"),
            body_limit_bytes: vars.parsed_or(
                "WEBHOOK_BODY_LIMIT_BYTES",
                DEFAULT_WEBHOOK_BODY_LIMIT,
                positive_whole,
            ),
        }
    }
}

/// How the orders reconciliation reaches the store's Admin GraphQL API. Optional: a
/// seller without a Shopify store sets no access token, and no reconciliation runs.
#[derive(Debug, Clone)]
pub struct ShopifyAdminSettings {
    /// `SHOPIFY_SHOP_DOMAIN`: the store, `example.myshopify.com`.
    pub shop_domain: String,
    /// `SHOPIFY_ADMIN_ACCESS_TOKEN`: the app's Admin API access token, with the
    /// `read_orders` scope. Secret.
    pub access_token: SecretString,
    /// `SHOPIFY_ADMIN_BASE_URL`: where the API is, `https://<SHOPIFY_SHOP_DOMAIN>` unless
    /// set (the local stack and tests point it at a stand-in).
    pub base_url: String,
    /// `SHOPIFY_API_VERSION`: the Admin API version asked for (default `2025-01`).
    pub api_version: String,
}

/// The Admin API version unless `SHOPIFY_API_VERSION` says otherwise.
pub const DEFAULT_SHOPIFY_API_VERSION: &str = "2025-01";

impl ShopifyAdminSettings {
    /// The settings when `SHOPIFY_ADMIN_ACCESS_TOKEN` is given (the store then required),
    /// else `None`.
    pub fn read_optional(vars: &mut Variables<'_>) -> Option<Self> {
        let access_token = vars.optional_secret("SHOPIFY_ADMIN_ACCESS_TOKEN")?;
        let shop_domain = vars.required_parsed("SHOPIFY_SHOP_DOMAIN", |raw| {
            let domain = raw.trim().to_ascii_lowercase();
            let valid = !domain.is_empty()
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if valid {
                Ok(domain)
            } else {
                Err("expected the store's host, e.g. example.myshopify.com".into())
            }
        });
        let base_url = match vars.optional("SHOPIFY_ADMIN_BASE_URL") {
            Some(raw) => match http_url(&raw) {
                Ok(url) => url,
                Err(reason) => {
                    vars.invalid("SHOPIFY_ADMIN_BASE_URL", reason);
                    String::new()
                }
            },
            None => format!("https://{shop_domain}"),
        };
        let api_version = vars.parsed_or(
            "SHOPIFY_API_VERSION",
            DEFAULT_SHOPIFY_API_VERSION.to_owned(),
            |raw| {
                let valid = raw.len() == 7
                    && raw.as_bytes()[4] == b'-'
                    && raw
                        .bytes()
                        .enumerate()
                        .all(|(i, b)| i == 4 || b.is_ascii_digit());
                if valid {
                    Ok(raw.to_owned())
                } else {
                    Err(format!("expected a version like 2025-01, got {raw:?}"))
                }
            },
        );
        Some(Self {
            shop_domain,
            access_token,
            base_url,
            api_version,
        })
    }
}

/// How the helpdesk sync reaches Freshdesk, and how it reads. Optional: a seller
/// without Freshdesk sets no API key, and no helpdesk sync runs.
#[derive(Debug, Clone)]
pub struct FreshdeskSettings {
    /// `FRESHDESK_DOMAIN`: the helpdesk, `example.freshdesk.com`; its tickets are filed
    /// under it, as the webhook files them.
    pub domain: String,
    /// `FRESHDESK_API_KEY`: an agent's API key, sent as the Basic-auth user. Secret.
    pub api_key: SecretString,
    /// `FRESHDESK_BASE_URL`: where the API is, `https://<FRESHDESK_DOMAIN>` unless set
    /// (the local stack and tests point it at a stand-in).
    pub base_url: String,
    /// `FRESHDESK_SYNC_OVERLAP_SECONDS`: each poll starts this long before the watermark,
    /// so a ticket Freshdesk indexes late is still seen (default 300).
    pub overlap: Duration,
    /// `FRESHDESK_SYNC_FIRST_LOOKBACK_HOURS`: how far back the very first poll reads
    /// (default 72): the backfill of a new installation is bounded.
    pub first_lookback: Duration,
    /// `FRESHDESK_SYNC_PAGE_SIZE`: tickets and conversations per page, at most 100
    /// (default 100).
    pub page_size: u32,
}

impl FreshdeskSettings {
    /// The settings when `FRESHDESK_API_KEY` is given (the domain then required), else
    /// `None`.
    pub fn read_optional(vars: &mut Variables<'_>) -> Option<Self> {
        let api_key = vars.optional_secret("FRESHDESK_API_KEY")?;
        let domain = vars.required_parsed("FRESHDESK_DOMAIN", |raw| {
            let domain = raw.trim().to_ascii_lowercase();
            let valid = !domain.is_empty()
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if valid {
                Ok(domain)
            } else {
                Err("expected the helpdesk's host, e.g. example.freshdesk.com".into())
            }
        });
        let base_url = match vars.optional("FRESHDESK_BASE_URL") {
            Some(raw) => match http_url(&raw) {
                Ok(url) => url,
                Err(reason) => {
                    vars.invalid("FRESHDESK_BASE_URL", reason);
                    String::new()
                }
            },
            None => format!("https://{domain}"),
        };
        let overlap = vars.parsed_or(
            "FRESHDESK_SYNC_OVERLAP_SECONDS",
            Duration::from_secs(300),
            |raw| positive_whole(raw).map(Duration::from_secs),
        );
        let first_lookback = vars.parsed_or(
            "FRESHDESK_SYNC_FIRST_LOOKBACK_HOURS",
            Duration::from_secs(72 * 3600),
            |raw| {
                let hours: u64 = positive_whole(raw)?;
                hours
                    .checked_mul(3600)
                    .map(Duration::from_secs)
                    .ok_or_else(|| format!("{hours} hours is too long"))
            },
        );
        let page_size = vars.parsed_or("FRESHDESK_SYNC_PAGE_SIZE", 100, |raw| {
            positive_whole(raw).and_then(|size| match size {
                1..=100 => Ok(size),
                _ => Err("Freshdesk returns at most 100 entries a page".into()),
            })
        });
        Some(Self {
            domain,
            api_key,
            base_url,
            overlap,
            first_lookback,
            page_size,
        })
    }
}

/// How the marketplace poller reads Mirakl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketplaceSyncSettings {
    /// `MARKETPLACE_SYNC_OVERLAP_SECONDS`: each poll starts this long before the
    /// watermark, so a change committed late on Mirakl's side is still seen (default 300).
    pub overlap: Duration,
    /// `MARKETPLACE_SYNC_FIRST_LOOKBACK_HOURS`: how far back the very first poll reads
    /// (default 72).
    pub first_lookback: Duration,
    /// `MARKETPLACE_SYNC_PAGE_SIZE`: orders per OR11 page, at most 100 (default 100).
    pub page_size: u32,
}

impl Default for MarketplaceSyncSettings {
    fn default() -> Self {
        Self {
            overlap: Duration::from_secs(300),
            first_lookback: Duration::from_secs(72 * 3600),
            page_size: 100,
        }
    }
}

impl FromEnvironment for MarketplaceSyncSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        let defaults = Self::default();
        Self {
            overlap: vars.parsed_or(
                "MARKETPLACE_SYNC_OVERLAP_SECONDS",
                defaults.overlap,
                |raw| positive_whole(raw).map(Duration::from_secs),
            ),
            first_lookback: vars.parsed_or(
                "MARKETPLACE_SYNC_FIRST_LOOKBACK_HOURS",
                defaults.first_lookback,
                |raw| {
                    let hours: u64 = positive_whole(raw)?;
                    hours
                        .checked_mul(3600)
                        .map(Duration::from_secs)
                        .ok_or_else(|| format!("{hours} hours is too long"))
                },
            ),
            page_size: vars.parsed_or("MARKETPLACE_SYNC_PAGE_SIZE", defaults.page_size, |raw| {
                positive_whole(raw).and_then(|size| match size {
                    1..=100 => Ok(size),
                    _ => Err("Mirakl returns at most 100 orders a page".into()),
                })
            }),
        }
    }
}

/// How long the logs and delivery records the scheduled purge deletes are kept
/// ([`crate::ops::retention`]), and how much one run deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// `PURGE_API_CALLS_AFTER_DAYS`: age at which an `ops.api_calls` row goes (default
    /// 30): long enough to look into a failure reported late.
    pub api_calls: Duration,
    /// `PURGE_INBOX_AFTER_DAYS`: age at which a processed `ops.inbox` delivery goes
    /// (default 30), far past any provider's retries (Shopify's last 48 hours).
    pub inbox: Duration,
    /// `PURGE_DELIVERY_RECORDS_AFTER_DAYS`: how long a completed delivery record
    /// (`ops.idempotency_keys`) is kept once expired (default 1); a claim already treats
    /// an expired key as new.
    pub expired_delivery_records: Duration,
    /// `PURGE_ROWS_PER_RUN`: rows deleted per table and run at most (default 5000), so
    /// that each delete stays far inside the statement timeout; a backlog goes over
    /// several runs.
    pub rows_per_run: u32,
}

const DAY: u64 = 24 * 3600;

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            api_calls: Duration::from_secs(30 * DAY),
            inbox: Duration::from_secs(30 * DAY),
            expired_delivery_records: Duration::from_secs(DAY),
            rows_per_run: 5000,
        }
    }
}

impl FromEnvironment for RetentionSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        let defaults = Self::default();
        let days = |raw: &str| {
            positive_whole::<u64>(raw).and_then(|days| match days {
                1..=3650 => Ok(Duration::from_secs(days * DAY)),
                _ => Err(format!("expected at most 3650 days, got {days}")),
            })
        };
        Self {
            api_calls: vars.parsed_or("PURGE_API_CALLS_AFTER_DAYS", defaults.api_calls, days),
            inbox: vars.parsed_or("PURGE_INBOX_AFTER_DAYS", defaults.inbox, days),
            expired_delivery_records: vars.parsed_or(
                "PURGE_DELIVERY_RECORDS_AFTER_DAYS",
                defaults.expired_delivery_records,
                days,
            ),
            rows_per_run: vars.parsed_or("PURGE_ROWS_PER_RUN", defaults.rows_per_run, |raw| {
                positive_whole(raw).and_then(|rows| match rows {
                    1..=100_000 => Ok(rows),
                    _ => Err("expected at most 100000 rows a run".into()),
                })
            }),
        }
    }
}

/// Where the outbox sends each work queue's messages; a queue without a URL is not
/// published by this function, and its messages wait for one that may send them.
#[derive(Debug, Clone, Default)]
pub struct QueueUrls {
    /// `ACCEPT_QUEUE_URL`: orders waiting for acceptance.
    pub accept: Option<String>,
    /// `LABEL_QUEUE_URL`: accepted orders that need a shipping label.
    pub label: Option<String>,
    /// `REPLY_QUEUE_URL`: customer messages that may get an automatic answer.
    pub reply: Option<String>,
    /// `PRICING_QUEUE_URL`: competitor offer, cost and stock changes.
    pub pricing: Option<String>,
}

impl QueueUrls {
    /// Reads the URL of each of `queues`, all required: a function that writes a queue's
    /// messages must be able to send them.
    pub fn read(vars: &mut Variables<'_>, queues: &[WorkQueue]) -> Self {
        let mut urls = Self::default();
        for queue in queues {
            let (name, url) = match queue {
                WorkQueue::Accept => ("ACCEPT_QUEUE_URL", &mut urls.accept),
                WorkQueue::Label => ("LABEL_QUEUE_URL", &mut urls.label),
                WorkQueue::Reply => ("REPLY_QUEUE_URL", &mut urls.reply),
                WorkQueue::Pricing => ("PRICING_QUEUE_URL", &mut urls.pricing),
            };
            *url = Some(vars.required(name));
        }
        urls
    }
}

/// The queues the recording path writes follow-ups to, which the recording functions
/// (`marketplace-webhook`, `sync-marketplace`) publish: acceptance, labels, replies, and
/// the re-evaluation of prices when a recorded cancellation gives stock back.
pub(super) const RECORDING_FOLLOW_UPS: &[WorkQueue] = &[
    WorkQueue::Accept,
    WorkQueue::Label,
    WorkQueue::Reply,
    WorkQueue::Pricing,
];

fn positive_whole<T: TryFrom<u64>>(raw: &str) -> Result<T, String> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| format!("expected a positive whole number, got {raw:?}"))
}

fn positive_decimal(raw: &str) -> Result<Decimal, String> {
    raw.trim()
        .parse::<Decimal>()
        .ok()
        .filter(|value| value.is_sign_positive() && !value.is_zero())
        .ok_or_else(|| format!("expected a positive number, got {raw:?}"))
}

/// An `http://` or `https://` URL with a host. The value is not quoted back: a URL may
/// carry credentials.
fn http_url(raw: &str) -> Result<String, String> {
    match reqwest::Url::parse(raw.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Ok(raw.trim().to_owned())
        }
        _ => Err("expected an http:// or https:// URL".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_hides, lookup, with, DATABASE};
    use super::super::ConfigProblem;
    use super::*;

    #[test]
    fn the_database_gets_its_default_pool_size_and_hides_its_url() {
        let database = DatabaseSettings::from_lookup(lookup(DATABASE)).unwrap();
        assert_eq!(database.max_connections, 2);
        assert_eq!(database.statement_timeout, Duration::from_secs(10));
        assert_eq!(database.lock_timeout, Duration::from_secs(2));
        assert_hides(&format!("{database:?}"), &["hunter2-db-password"]);
    }

    #[test]
    fn the_database_timeouts_are_read_in_milliseconds_and_must_be_positive() {
        let vars = with(DATABASE, "DATABASE_STATEMENT_TIMEOUT_MS", "60000");
        let vars = with(&vars, "DATABASE_LOCK_TIMEOUT_MS", "500");
        let database = DatabaseSettings::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(database.statement_timeout, Duration::from_secs(60));
        assert_eq!(database.lock_timeout, Duration::from_millis(500));

        let vars = with(DATABASE, "DATABASE_LOCK_TIMEOUT_MS", "0");
        let err = DatabaseSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(err.variables(), ["DATABASE_LOCK_TIMEOUT_MS"]);
    }

    #[test]
    fn a_database_url_that_is_not_postgres_is_named_without_its_password() {
        let vars = with(DATABASE, "DATABASE_URL", "mysql://root:topsecret@host/db");
        let err = DatabaseSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(err.variables(), ["DATABASE_URL"]);
        assert_hides(&err.to_string(), &["topsecret"]);
        assert_hides(&format!("{err:?}"), &["topsecret"]);
    }

    #[test]
    fn a_database_password_is_given_in_one_place_only() {
        let vars = [
            ("DATABASE_URL", "postgres://app@db.internal/sellerops"),
            ("DATABASE_PASSWORD", "pw with spaces&100%41"),
        ];
        let database = DatabaseSettings::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(
            database.expose_url(),
            "postgres://app:pw%20with%20spaces%26100%2541@db.internal/sellerops"
        );

        let vars = with(DATABASE, "DATABASE_PASSWORD", "second-password");
        let err = DatabaseSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(err.variables(), ["DATABASE_PASSWORD"]);
        assert_hides(
            &format!("{err} {err:?}"),
            &["hunter2-db-password", "second-password"],
        );
    }

    #[test]
    fn a_root_certificate_the_function_cannot_read_is_named_at_cold_start() {
        let bundle = std::env::temp_dir().join(format!("rds-ca-{}.pem", std::process::id()));
        std::fs::write(&bundle, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let url = format!(
            "postgres://app@db.internal/sellerops?sslmode=verify-full&sslrootcert={}",
            bundle.display()
        );
        let found = DatabaseSettings::from_lookup(lookup(&[("DATABASE_URL", &url)]));
        std::fs::remove_file(&bundle).unwrap();
        found.unwrap();

        let err = DatabaseSettings::from_lookup(lookup(&[("DATABASE_URL", &url)])).unwrap_err();
        assert_eq!(err.variables(), ["DATABASE_URL"]);
        assert!(err.to_string().contains("sslrootcert"), "{err}");
    }

    #[test]
    fn a_short_pepper_is_refused_without_being_shown() {
        let err =
            EmailPepper::from_lookup(lookup(&[("EMAIL_HASH_PEPPER", "short-secret")])).unwrap_err();
        assert!(matches!(
            err.problems(),
            [ConfigProblem::Invalid {
                name: "EMAIL_HASH_PEPPER",
                ..
            }]
        ));
        assert_hides(&err.to_string(), &["short-secret"]);
    }

    #[test]
    fn a_base_url_must_be_http() {
        let err = MiraklSettings::from_lookup(lookup(&[
            ("MIRAKL_BASE_URL", "marketplace.bestbuy.ca"),
            ("MIRAKL_API_KEY", "shop-key"),
        ]))
        .unwrap_err();
        assert_eq!(err.variables(), ["MIRAKL_BASE_URL"]);
    }

    #[test]
    fn carrier_and_parcel_defaults_are_the_documented_ones() {
        let canadapost = CanadaPostSettings::from_lookup(lookup(&[
            ("CANADAPOST_BASE_URL", "https://ct.soa-gw.canadapost.ca"),
            ("CANADAPOST_USERNAME", "user"),
            ("CANADAPOST_PASSWORD", "password"),
            ("CANADAPOST_CUSTOMER_NUMBER", "0001234567"),
        ]))
        .unwrap();
        assert_eq!(canadapost.service_code, "DOM.EP");
        assert_eq!(canadapost.language, "en-CA");
        let parcel = DefaultParcel::from_lookup(lookup(&[])).unwrap();
        assert_eq!(parcel.weight_kg, Decimal::ONE);
        assert_eq!(
            (parcel.length_cm, parcel.width_cm, parcel.height_cm),
            (Decimal::from(30), Decimal::from(20), Decimal::from(10))
        );
    }

    #[test]
    fn parcel_sizes_and_the_carrier_language_are_checked() {
        let err = DefaultParcel::from_lookup(lookup(&[
            ("DEFAULT_PARCEL_WEIGHT_KG", "-2"),
            ("DEFAULT_PARCEL_HEIGHT_CM", "tall"),
        ]))
        .unwrap_err();
        assert_eq!(
            err.variables(),
            ["DEFAULT_PARCEL_WEIGHT_KG", "DEFAULT_PARCEL_HEIGHT_CM"]
        );
        let err = CanadaPostSettings::from_lookup(lookup(&[("CANADAPOST_LANGUAGE", "de-DE")]))
            .unwrap_err();
        assert!(err.variables().contains(&"CANADAPOST_LANGUAGE"));
    }

    #[test]
    fn retention_has_defaults_and_refuses_zero_or_absurd_ages() {
        let retention = RetentionSettings::from_lookup(lookup(&[])).unwrap();
        assert_eq!(retention, RetentionSettings::default());
        assert_eq!(retention.api_calls, Duration::from_secs(30 * DAY));

        let retention = RetentionSettings::from_lookup(lookup(&[
            ("PURGE_INBOX_AFTER_DAYS", "7"),
            ("PURGE_ROWS_PER_RUN", "100"),
        ]))
        .unwrap();
        assert_eq!(retention.inbox, Duration::from_secs(7 * DAY));
        assert_eq!(retention.rows_per_run, 100);

        let err = RetentionSettings::from_lookup(lookup(&[
            ("PURGE_API_CALLS_AFTER_DAYS", "0"),
            ("PURGE_DELIVERY_RECORDS_AFTER_DAYS", "99999"),
        ]))
        .unwrap_err();
        assert_eq!(
            err.variables(),
            [
                "PURGE_API_CALLS_AFTER_DAYS",
                "PURGE_DELIVERY_RECORDS_AFTER_DAYS"
            ]
        );
    }

    #[test]
    fn webhook_and_sync_settings_have_defaults_and_limits() {
        let webhooks = WebhookSettings::from_lookup(lookup(&[])).unwrap();
        assert_eq!(webhooks.body_limit_bytes, 1024 * 1024);
        assert!(webhooks.mirakl_secret.is_none());
        let sync = MarketplaceSyncSettings::from_lookup(lookup(&[])).unwrap();
        assert_eq!(sync, MarketplaceSyncSettings::default());

        let sync = MarketplaceSyncSettings::from_lookup(lookup(&[
            ("MARKETPLACE_SYNC_OVERLAP_SECONDS", "60"),
            ("MARKETPLACE_SYNC_FIRST_LOOKBACK_HOURS", "2"),
        ]))
        .unwrap();
        assert_eq!(sync.overlap, Duration::from_secs(60));
        assert_eq!(sync.first_lookback, Duration::from_secs(7200));

        let err = MarketplaceSyncSettings::from_lookup(lookup(&[
            ("MARKETPLACE_SYNC_PAGE_SIZE", "500"),
            (
                "MARKETPLACE_SYNC_FIRST_LOOKBACK_HOURS",
                "18446744073709551615",
            ),
        ]))
        .unwrap_err();
        assert_eq!(
            err.variables(),
            [
                "MARKETPLACE_SYNC_FIRST_LOOKBACK_HOURS",
                "MARKETPLACE_SYNC_PAGE_SIZE"
            ]
        );
    }
}
