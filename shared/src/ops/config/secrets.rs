//! Secrets given as plain variables, or fetched from Secrets Manager at cold start.
//!
//! Every secret a function reads comes in one of two forms, never both:
//!
//! - `<NAME>`: the value itself, for tests and the local stack;
//! - `<NAME>_SECRET_ARN`: a Secrets Manager secret's ARN (or name), fetched once at cold
//!   start. `#<key>` at the end takes one string field of a JSON secret, such as the
//!   `password` of an RDS-managed secret (`arn:…:secret:rds!db-…#password`); without it
//!   the whole `SecretString` is the value.
//!
//! Deployed functions use the second form: a secret is then never part of a function's
//! configuration, where everyone allowed to read that configuration would see it, and a
//! rotated secret reaches every new instance without a deploy.
//!
//! Reading goes in two passes over the same settings type: the first finds which secrets
//! it reads as `<NAME>_SECRET_ARN`, those are fetched side by side (each secret once, even
//! when several variables take fields of it), and the second reads the settings with the
//! fetched values in place. A secret that cannot be fetched is one more problem of the one
//! [`ConfigError`](super::ConfigError), named by its `<NAME>_SECRET_ARN` variable, with
//! Secrets Manager's reason and never a value.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;

use secrecy::{ExposeSecret, SecretString};

/// A secret variable and the variable that may name its Secrets Manager secret instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretVariable {
    /// The plain form, e.g. `MIRAKL_API_KEY`.
    pub name: &'static str,
    /// The Secrets Manager form, `<name>_SECRET_ARN`.
    pub arn_variable: &'static str,
}

const fn secret(name: &'static str, arn_variable: &'static str) -> SecretVariable {
    SecretVariable { name, arn_variable }
}

/// Every secret any function reads. A secret read through
/// [`Variables::required_secret`](super::Variables::required_secret) or
/// [`optional_secret`](super::Variables::optional_secret) must be listed here; the
/// README's configuration reference and `infra/local/provision.py` list the same.
pub const SECRET_VARIABLES: &[SecretVariable] = &[
    secret("DATABASE_URL", "DATABASE_URL_SECRET_ARN"),
    secret("DATABASE_PASSWORD", "DATABASE_PASSWORD_SECRET_ARN"),
    secret("EMAIL_HASH_PEPPER", "EMAIL_HASH_PEPPER_SECRET_ARN"),
    secret("MIRAKL_API_KEY", "MIRAKL_API_KEY_SECRET_ARN"),
    secret("CANADAPOST_USERNAME", "CANADAPOST_USERNAME_SECRET_ARN"),
    secret("CANADAPOST_PASSWORD", "CANADAPOST_PASSWORD_SECRET_ARN"),
    secret("MIRAKL_WEBHOOK_SECRET", "MIRAKL_WEBHOOK_SECRET_SECRET_ARN"),
    secret(
        "SHOPIFY_WEBHOOK_SECRET",
        "SHOPIFY_WEBHOOK_SECRET_SECRET_ARN",
    ),
    secret(
        "FRESHDESK_WEBHOOK_SECRET",
        "FRESHDESK_WEBHOOK_SECRET_SECRET_ARN",
    ),
    secret("FRESHDESK_API_KEY", "FRESHDESK_API_KEY_SECRET_ARN"),
    secret(
        "SHOPIFY_ADMIN_ACCESS_TOKEN",
        "SHOPIFY_ADMIN_ACCESS_TOKEN_SECRET_ARN",
    ),
    secret(
        "AMAZON_LWA_CLIENT_SECRET",
        "AMAZON_LWA_CLIENT_SECRET_SECRET_ARN",
    ),
    secret(
        "AMAZON_LWA_REFRESH_TOKEN",
        "AMAZON_LWA_REFRESH_TOKEN_SECRET_ARN",
    ),
];

/// The `<NAME>_SECRET_ARN` variable of a secret variable.
pub(super) fn arn_variable(name: &str) -> Option<&'static str> {
    SECRET_VARIABLES
        .iter()
        .find(|secret| secret.name == name)
        .map(|secret| secret.arn_variable)
}

/// Where secrets given as `<NAME>_SECRET_ARN` are fetched from: Secrets Manager
/// ([`crate::systems::aws::SecretsManager`]) in a function, a map in unit tests.
pub trait SecretSource: Sync {
    /// The `SecretString` of `secret_id` (an ARN or a name). The error says why it could
    /// not be had and never carries a value.
    fn fetch(&self, secret_id: &str) -> impl Future<Output = Result<SecretString, String>> + Send;
}

/// Where one secret variable's value is, as `<NAME>_SECRET_ARN` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SecretRef {
    secret_id: String,
    key: Option<String>,
}

impl SecretRef {
    /// Reads `<secret ARN or name>[#<key>]`. Secret names and ARNs never hold `#`.
    pub(super) fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (secret_id, key) = match raw.split_once('#') {
            Some((id, key)) => (id, Some(key)),
            None => (raw, None),
        };
        if secret_id.is_empty() || secret_id.contains(char::is_whitespace) {
            return Err(
                "expected a Secrets Manager secret ARN or name, optionally followed by #<key>"
                    .into(),
            );
        }
        match key {
            Some(key) if key.is_empty() || key.contains('#') => {
                Err("the part after # must be one JSON key".into())
            }
            _ => Ok(Self {
                secret_id: secret_id.to_owned(),
                key: key.map(str::to_owned),
            }),
        }
    }
}

/// What the fetch found for each secret variable given as `<NAME>_SECRET_ARN`.
#[derive(Default)]
pub(super) struct FetchedSecrets {
    values: HashMap<&'static str, Result<SecretString, String>>,
}

impl FetchedSecrets {
    /// The value fetched for `name`, or why there is none; `None` when nothing was
    /// fetched for it.
    pub(super) fn get(&self, name: &str) -> Option<&Result<SecretString, String>> {
        self.values.get(name)
    }
}

/// Fetches every wanted secret side by side, each secret id once, and picks each
/// variable's value (the whole secret, or its `#key` field).
pub(super) async fn fetch_all(
    source: &impl SecretSource,
    wanted: &[(&'static str, SecretRef)],
) -> FetchedSecrets {
    let ids: BTreeSet<&str> = wanted
        .iter()
        .map(|(_, reference)| reference.secret_id.as_str())
        .collect();
    let fetched: HashMap<&str, Result<SecretString, String>> = futures::future::join_all(
        ids.into_iter()
            .map(|id| async move { (id, source.fetch(id).await) }),
    )
    .await
    .into_iter()
    .collect();
    let values = wanted
        .iter()
        .map(|(name, reference)| {
            let value = match &fetched[reference.secret_id.as_str()] {
                Err(reason) => Err(reason.clone()),
                Ok(secret) => match &reference.key {
                    None => Ok(secret.clone()),
                    Some(key) => json_field(secret, key),
                },
            };
            (*name, value)
        })
        .collect();
    FetchedSecrets { values }
}

/// One string field of a JSON secret. Neither error quotes the secret.
fn json_field(secret: &SecretString, key: &str) -> Result<SecretString, String> {
    let Ok(serde_json::Value::Object(mut fields)) =
        serde_json::from_str::<serde_json::Value>(secret.expose_secret())
    else {
        return Err(format!(
            "the secret is not a JSON object, so it has no key {key:?}"
        ));
    };
    match fields.remove(key) {
        Some(serde_json::Value::String(value)) => Ok(SecretString::from(value)),
        _ => Err(format!("the secret's JSON has no string key {key:?}")),
    }
}

/// Secrets held in memory, for the settings tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use secrecy::SecretString;

    use super::SecretSource;

    /// Secrets by id; an unknown id fails as Secrets Manager's would. Counts the
    /// fetches, so a test can tell that each secret is fetched once.
    #[derive(Default)]
    pub struct MemorySecrets {
        values: HashMap<String, String>,
        fetches: Mutex<Vec<String>>,
    }

    impl MemorySecrets {
        pub fn new(values: &[(&str, &str)]) -> Self {
            Self {
                values: values
                    .iter()
                    .map(|(id, value)| (id.to_string(), value.to_string()))
                    .collect(),
                fetches: Mutex::default(),
            }
        }

        /// The ids fetched so far, in order.
        pub fn fetches(&self) -> Vec<String> {
            self.fetches.lock().unwrap().clone()
        }
    }

    impl SecretSource for MemorySecrets {
        async fn fetch(&self, secret_id: &str) -> Result<SecretString, String> {
            self.fetches.lock().unwrap().push(secret_id.to_owned());
            self.values
                .get(secret_id)
                .map(|value| SecretString::from(value.clone()))
                .ok_or_else(|| {
                    "ResourceNotFoundException: Secrets Manager can't find the specified secret"
                        .to_owned()
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_hides, lookup, with};
    use super::super::{
        AcceptOrdersSettings, AutoReplySettings, ConfigError, DatabaseSettings,
        FetchShippingLabelSettings, FromEnvironment, IngestOrdersFileSettings,
        MarketplaceWebhookSettings, SyncMarketplaceSettings,
    };
    use super::testing::MemorySecrets;
    use super::*;

    const MIRAKL_KEY_ARN: &str =
        "arn:aws:secretsmanager:ca-central-1:123456789012:secret:sellerops/mirakl-api-key-AbCdEf";
    const CANADAPOST_ARN: &str =
        "arn:aws:secretsmanager:ca-central-1:123456789012:secret:sellerops/canadapost-Gh1jKl";
    const DATABASE_ARN: &str =
        "arn:aws:secretsmanager:ca-central-1:123456789012:secret:rds!db-0123-MnOpQr";

    /// What Secrets Manager holds in these tests; every value is one that must never
    /// be shown.
    fn secrets_manager() -> MemorySecrets {
        MemorySecrets::new(&[
            (MIRAKL_KEY_ARN, "mirakl-key-from-secrets-manager"),
            (
                CANADAPOST_ARN,
                r#"{"username":"cp-user-from-secrets-manager","password":"cp-password-from-secrets-manager"}"#,
            ),
            (
                DATABASE_ARN,
                r#"{"username":"sellerops_app","password":"db-p@ss/from:secrets-manager"}"#,
            ),
            (
                "sellerops/email-pepper",
                "pepper-from-secrets-manager-0123456789",
            ),
            (
                "sellerops/mirakl-webhook",
                "mirakl-webhook-from-secrets-manager",
            ),
            (
                "sellerops/shopify-webhook",
                "shopify-webhook-from-secrets-manager",
            ),
            (
                "sellerops/freshdesk-webhook",
                "freshdesk-webhook-from-secrets-manager",
            ),
        ])
    }

    const FETCHED: &[&str] = &[
        "mirakl-key-from-secrets-manager",
        "cp-user-from-secrets-manager",
        "cp-password-from-secrets-manager",
        "db-p@ss/from:secrets-manager",
        "db-p%40ss%2Ffrom%3Asecrets-manager",
        "pepper-from-secrets-manager",
        "mirakl-webhook-from-secrets-manager",
        "shopify-webhook-from-secrets-manager",
        "freshdesk-webhook-from-secrets-manager",
    ];

    /// A deployed function's database variables: the URL without a password, the
    /// password from an RDS-managed secret.
    const DATABASE: &[(&str, &str)] = &[
        (
            "DATABASE_URL",
            "postgres://sellerops_app@db.internal:5432/sellerops",
        ),
        (
            "DATABASE_PASSWORD_SECRET_ARN",
            "arn:aws:secretsmanager:ca-central-1:123456789012:secret:rds!db-0123-MnOpQr#password",
        ),
    ];

    fn label_environment() -> Vec<(&'static str, &'static str)> {
        let mut vars = DATABASE.to_vec();
        vars.extend([
            ("MIRAKL_BASE_URL", "https://marketplace.bestbuy.ca"),
            ("MIRAKL_API_KEY_SECRET_ARN", MIRAKL_KEY_ARN),
            ("CANADAPOST_BASE_URL", "https://ct.soa-gw.canadapost.ca"),
            ("CANADAPOST_USERNAME_SECRET_ARN", "arn:aws:secretsmanager:ca-central-1:123456789012:secret:sellerops/canadapost-Gh1jKl#username"),
            ("CANADAPOST_PASSWORD_SECRET_ARN", "arn:aws:secretsmanager:ca-central-1:123456789012:secret:sellerops/canadapost-Gh1jKl#password"),
            ("CANADAPOST_CUSTOMER_NUMBER", "0001234567"),
            ("LABELS_BUCKET", "labels"),
            ("SENDER_COMPANY", "Northern Refurb Ltd"),
            ("SENDER_PHONE", "613-555-0142"),
            ("SENDER_ADDRESS_LINE1", "88 Bank Street"),
            ("SENDER_CITY", "Ottawa"),
            ("SENDER_PROVINCE", "ON"),
            ("SENDER_POSTAL_CODE", "K1P5N2"),
            ("SENDER_EMAIL", "shipping@northernrefurb.example"),
        ]);
        vars
    }

    fn webhook_environment() -> Vec<(&'static str, &'static str)> {
        let mut vars = DATABASE.to_vec();
        vars.extend([
            ("EMAIL_HASH_PEPPER_SECRET_ARN", "sellerops/email-pepper"),
            ("ACCEPT_QUEUE_URL", "https://sqs/1/accept"),
            ("LABEL_QUEUE_URL", "https://sqs/1/label"),
            ("REPLY_QUEUE_URL", "https://sqs/1/reply"),
            ("PRICING_QUEUE_URL", "https://sqs/1/pricing"),
            (
                "MIRAKL_WEBHOOK_SECRET_SECRET_ARN",
                "sellerops/mirakl-webhook",
            ),
            (
                "SHOPIFY_WEBHOOK_SECRET_SECRET_ARN",
                "sellerops/shopify-webhook",
            ),
            (
                "FRESHDESK_WEBHOOK_SECRET_SECRET_ARN",
                "sellerops/freshdesk-webhook",
            ),
        ]);
        vars
    }

    async fn read<S: FromEnvironment>(
        vars: &[(&str, &str)],
        source: &MemorySecrets,
    ) -> Result<S, ConfigError> {
        S::from_lookup_fetching(lookup(vars), source).await
    }

    #[tokio::test]
    async fn secrets_named_by_arn_are_fetched_once_each_and_never_shown() {
        let source = secrets_manager();

        let settings: FetchShippingLabelSettings =
            read(&label_environment(), &source).await.unwrap();

        assert_eq!(
            settings.canadapost.username.expose_secret(),
            "cp-user-from-secrets-manager"
        );
        assert_eq!(
            settings.canadapost.password.expose_secret(),
            "cp-password-from-secrets-manager"
        );
        assert_eq!(
            settings.mirakl.api_key.expose_secret(),
            "mirakl-key-from-secrets-manager"
        );
        let mut fetches = source.fetches();
        fetches.sort();
        assert_eq!(fetches, [DATABASE_ARN, CANADAPOST_ARN, MIRAKL_KEY_ARN]);
        assert_hides(&format!("{settings:?}"), FETCHED);
    }

    #[tokio::test]
    async fn the_database_password_from_a_secret_goes_into_the_url_percent_encoded() {
        let settings: DatabaseSettings = read(DATABASE, &secrets_manager()).await.unwrap();

        assert_eq!(
            settings.expose_url(),
            "postgres://sellerops_app:db-p%40ss%2Ffrom%3Asecrets-manager@db.internal:5432/sellerops"
        );
        let options: sqlx::postgres::PgConnectOptions = settings.expose_url().parse().unwrap();
        assert_eq!(options.get_username(), "sellerops_app");
        assert_hides(&format!("{settings:?}"), FETCHED);
    }

    #[tokio::test]
    async fn every_function_reads_its_secrets_from_secrets_manager() {
        let source = secrets_manager();
        let webhook = webhook_environment();
        let mut sync = webhook.clone();
        sync.extend([
            ("MIRAKL_BASE_URL", "https://marketplace.bestbuy.ca"),
            ("MIRAKL_API_KEY_SECRET_ARN", MIRAKL_KEY_ARN),
        ]);
        let mut ingest = DATABASE.to_vec();
        ingest.push(("EMAIL_HASH_PEPPER_SECRET_ARN", "sellerops/email-pepper"));
        let mut accept = DATABASE.to_vec();
        accept.extend([
            ("MIRAKL_BASE_URL", "https://marketplace.bestbuy.ca"),
            ("MIRAKL_API_KEY_SECRET_ARN", MIRAKL_KEY_ARN),
            ("LABEL_QUEUE_URL", "https://sqs/1/label"),
            ("PRICING_QUEUE_URL", "https://sqs/1/pricing"),
        ]);

        let shown = [
            format!(
                "{:?}",
                read::<MarketplaceWebhookSettings>(&webhook, &source)
                    .await
                    .unwrap()
            ),
            format!(
                "{:?}",
                read::<SyncMarketplaceSettings>(&sync, &source)
                    .await
                    .unwrap()
            ),
            format!(
                "{:?}",
                read::<IngestOrdersFileSettings>(&ingest, &source)
                    .await
                    .unwrap()
            ),
            format!(
                "{:?}",
                read::<AcceptOrdersSettings>(&accept, &source)
                    .await
                    .unwrap()
            ),
        ];

        let webhooks = read::<MarketplaceWebhookSettings>(&webhook, &source)
            .await
            .unwrap()
            .webhooks;
        assert_eq!(
            webhooks.shopify_secret.unwrap().expose_secret(),
            "shopify-webhook-from-secrets-manager"
        );
        for text in shown {
            assert_hides(&text, FETCHED);
        }
    }

    #[tokio::test]
    async fn a_secret_that_cannot_be_read_is_named_with_every_other_problem() {
        let vars = with(
            &label_environment(),
            "MIRAKL_API_KEY_SECRET_ARN",
            "sellerops/no-such-secret",
        );
        let vars = with(
            &vars,
            "CANADAPOST_PASSWORD_SECRET_ARN",
            "arn:aws:secretsmanager:ca-central-1:123456789012:secret:sellerops/canadapost-Gh1jKl#pass",
        );
        let vars: Vec<_> = vars
            .into_iter()
            .filter(|(name, _)| *name != "SENDER_CITY")
            .collect();

        let err = read::<FetchShippingLabelSettings>(&vars, &secrets_manager())
            .await
            .unwrap_err();

        assert_eq!(
            err.variables(),
            [
                "MIRAKL_API_KEY_SECRET_ARN",
                "CANADAPOST_PASSWORD_SECRET_ARN",
                "SENDER_CITY"
            ]
        );
        let text = err.to_string();
        assert!(text.contains("can't find the specified secret"), "{text}");
        assert!(text.contains("no string key \"pass\""), "{text}");
        assert_hides(&format!("{err} {err:?}"), FETCHED);
    }

    #[tokio::test]
    async fn a_secret_given_both_ways_is_refused() {
        let vars = with(&label_environment(), "MIRAKL_API_KEY", "mirakl-plain-key");

        let err = read::<FetchShippingLabelSettings>(&vars, &secrets_manager())
            .await
            .unwrap_err();

        assert_eq!(err.variables(), ["MIRAKL_API_KEY_SECRET_ARN"]);
        assert_hides(&format!("{err} {err:?}"), &["mirakl-plain-key"]);
        assert_hides(&format!("{err} {err:?}"), FETCHED);
    }

    #[tokio::test]
    async fn a_secret_that_is_blank_or_not_json_is_refused_without_its_value() {
        let source = MemorySecrets::new(&[
            ("sellerops/blank", "  "),
            ("sellerops/plain", "not-json-never-printed"),
        ]);
        let vars = [
            ("DATABASE_URL", "postgres://app@db/sellerops"),
            ("DATABASE_PASSWORD_SECRET_ARN", "sellerops/plain#password"),
            ("EMAIL_HASH_PEPPER_SECRET_ARN", "sellerops/blank"),
        ];

        let err = read::<IngestOrdersFileSettings>(&vars, &source)
            .await
            .unwrap_err();

        assert_eq!(
            err.variables(),
            [
                "DATABASE_PASSWORD_SECRET_ARN",
                "EMAIL_HASH_PEPPER_SECRET_ARN"
            ]
        );
        assert!(err.to_string().contains("the secret is empty"), "{err}");
        assert_hides(&format!("{err} {err:?}"), &["not-json-never-printed"]);
    }

    #[test]
    fn reading_without_secrets_manager_refuses_a_secret_arn() {
        let err = DatabaseSettings::from_lookup(lookup(&[(
            "DATABASE_URL_SECRET_ARN",
            "sellerops/database-url",
        )]))
        .unwrap_err();

        assert_eq!(err.variables(), ["DATABASE_URL_SECRET_ARN"]);
    }

    #[tokio::test]
    async fn nothing_is_fetched_when_every_secret_is_a_plain_value() {
        let source = secrets_manager();
        let vars = [
            ("DATABASE_URL", "postgres://app:pw@db/sellerops"),
            ("EMAIL_HASH_PEPPER", "a-pepper-of-sixteen-or-more"),
        ];

        read::<IngestOrdersFileSettings>(&vars, &source)
            .await
            .unwrap();

        assert!(source.fetches().is_empty());
    }

    #[test]
    fn a_secret_reference_is_an_id_and_at_most_one_key() {
        assert_eq!(
            SecretRef::parse("sellerops/x#password").unwrap(),
            SecretRef {
                secret_id: "sellerops/x".into(),
                key: Some("password".into())
            }
        );
        assert_eq!(SecretRef::parse(MIRAKL_KEY_ARN).unwrap().key, None);
        for bad in ["#password", "sellerops/x#", "sellerops/x#a#b", "two words"] {
            assert!(SecretRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_secret_a_function_reads_may_come_from_secrets_manager() {
        let read = [
            AcceptOrdersSettings::secret_variables(),
            FetchShippingLabelSettings::secret_variables(),
            IngestOrdersFileSettings::secret_variables(),
            MarketplaceWebhookSettings::secret_variables(),
            SyncMarketplaceSettings::secret_variables(),
            AutoReplySettings::secret_variables(),
        ];
        for name in read.iter().flatten() {
            assert!(
                arn_variable(name).is_some(),
                "{name} has no _SECRET_ARN form"
            );
        }
        for secret in SECRET_VARIABLES {
            assert_eq!(secret.arn_variable, format!("{}_SECRET_ARN", secret.name));
        }
        assert_eq!(
            FetchShippingLabelSettings::secret_variables(),
            [
                "DATABASE_URL",
                "DATABASE_PASSWORD",
                "MIRAKL_API_KEY",
                "CANADAPOST_USERNAME",
                "CANADAPOST_PASSWORD"
            ]
        );
    }
}
