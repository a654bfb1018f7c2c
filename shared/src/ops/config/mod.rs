//! Configuration: each function's settings, read once from the environment at cold start.
//!
//! A function reads only its own variables. Its settings type (one per function, e.g.
//! [`AcceptOrdersSettings`]) is composed of the shared parts it needs ([`DatabaseSettings`],
//! [`MiraklSettings`], [`CanadaPostSettings`], [`QueueUrls`], ...) and nothing else, so
//! a variable that only another function needs can never stop it from starting.
//!
//! Reading never stops at the first problem: every missing or invalid variable is
//! collected, and the function refuses to start with one [`ConfigError`] naming them all,
//! so a deploy is fixed in one pass rather than one variable per failed cold start.
//!
//! Secrets (the database URL, which may carry a password, the email-hash pepper, API
//! keys, carrier credentials and webhook secrets) are wrapped in [`SecretString`] as soon
//! as they are read: `Debug` never prints them and no error repeats their value. Each may
//! be given as `<NAME>_SECRET_ARN` instead of `<NAME>`: a function's
//! [`FromEnvironment::load`] then fetches it from Secrets Manager at cold start, all such
//! secrets at once ([`secrets`] says how).
//!
//! Every variable is listed, with the functions that read it, in the README's
//! configuration reference.
//!
//! The function settings live here rather than in the function crates so that the
//! crates stay event mapping only, the parts are shared by the functions to come, and
//! every function's settings are tested by `cargo test -p sellerops --lib`.

mod accept_orders;
mod conversation_auto_reply;
mod evaluate_pricing_rules;
mod fetch_shipping_label;
mod ingest_orders_file;
mod marketplace_webhook;
mod parts;
pub mod secrets;
mod sync_marketplace;

use std::fmt;
use std::future::Future;

use aws_config::SdkConfig;
use secrecy::{ExposeSecret, SecretString};

use crate::systems::aws::SecretsManager;
use secrets::{FetchedSecrets, SecretRef, SecretSource};

pub use accept_orders::{AcceptOrdersSettings, DEFAULT_RESERVATION_HOLD};
pub use conversation_auto_reply::{
    AutoReplyMode, AutoReplySettings, DEFAULT_COOLING_OFF, DEFAULT_MAX_REPLIES_PER_THREAD,
};
pub use evaluate_pricing_rules::EvaluatePricingRulesSettings;
pub use fetch_shipping_label::FetchShippingLabelSettings;
pub use ingest_orders_file::IngestOrdersFileSettings;
pub use marketplace_webhook::MarketplaceWebhookSettings;
pub use parts::{
    AmazonSettings, AwsSettings, CanadaPostSettings, DatabaseSettings, DefaultParcel,
    FreshdeskSettings, MarketplaceSyncSettings, MiraklSettings, QueueUrls, RetentionSettings,
    SenderSettings, ShopifyAdminSettings, WebhookSettings, DEFAULT_LOCK_TIMEOUT,
    DEFAULT_SHOPIFY_API_VERSION, DEFAULT_STATEMENT_TIMEOUT,
};
pub use sync_marketplace::SyncMarketplaceSettings;

/// Settings read from environment variables.
pub trait FromEnvironment: Sized {
    /// Reads every variable the settings need, recording each problem in `vars` and
    /// carrying on, so that one error can name them all.
    fn read(vars: &mut Variables<'_>) -> Self;

    /// A function's cold start: reads the process environment, and fetches each secret
    /// given as `<NAME>_SECRET_ARN` from Secrets Manager (region, credentials and
    /// `AWS_ENDPOINT_URL` as for every AWS client), all at once. Nothing is fetched when
    /// every secret is given as a plain value.
    fn load(aws: &SdkConfig) -> impl Future<Output = Result<Self, ConfigError>> + Send {
        let endpoint_url = std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|url| !url.trim().is_empty());
        let secrets_manager = SecretsManager::from_sdk_config(aws, endpoint_url.as_deref());
        async move {
            Self::from_lookup_fetching(|name| std::env::var(name).ok(), &secrets_manager).await
        }
    }

    /// Reads the settings from the process environment, secrets as plain values only: a
    /// `<NAME>_SECRET_ARN` is refused. For tests and tools; functions use [`Self::load`].
    fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the process
    /// environment; secrets as plain values only, as [`Self::from_env`].
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        finish(&lookup, &FetchedSecrets::default())
    }

    /// Reads the settings through `lookup`, fetching each secret given as
    /// `<NAME>_SECRET_ARN` from `source`, side by side and each secret once.
    fn from_lookup_fetching(
        lookup: impl Fn(&str) -> Option<String> + Send,
        source: &impl SecretSource,
    ) -> impl Future<Output = Result<Self, ConfigError>> + Send {
        async move {
            let wanted = wanted_secrets::<Self>(&lookup);
            let fetched = if wanted.is_empty() {
                FetchedSecrets::default()
            } else {
                secrets::fetch_all(source, &wanted).await
            };
            finish(&lookup, &fetched)
        }
    }

    /// The secret variables these settings read, in the order read: what a function's
    /// deployment may give as `<NAME>_SECRET_ARN`, and the secrets its policy may name.
    fn secret_variables() -> Vec<&'static str> {
        let mut vars = Variables::new(&|_| None, Pass::Discover);
        Self::read(&mut vars);
        vars.secrets_read
    }
}

/// The first pass: which secrets the settings read as `<NAME>_SECRET_ARN`.
fn wanted_secrets<S: FromEnvironment>(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Vec<(&'static str, SecretRef)> {
    let mut vars = Variables::new(lookup, Pass::Discover);
    S::read(&mut vars);
    vars.wanted
}

/// The second pass: the settings, with the fetched secrets in place.
fn finish<S: FromEnvironment>(
    lookup: &dyn Fn(&str) -> Option<String>,
    fetched: &FetchedSecrets,
) -> Result<S, ConfigError> {
    let mut vars = Variables::new(lookup, Pass::Read(fetched));
    let settings = S::read(&mut vars);
    if vars.problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError {
            problems: vars.problems,
        })
    }
}

/// The environment being read, and every problem found in it so far.
///
/// A missing or unusable value reads as a stand-in (empty, or the default) so that
/// reading goes on to the next variable; settings built from a stand-in are never handed
/// out, since [`FromEnvironment::from_lookup`] then returns the error instead.
pub struct Variables<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    pass: Pass<'a>,
    problems: Vec<ConfigProblem>,
    /// Every secret variable asked for.
    secrets_read: Vec<&'static str>,
    /// The secrets given as `<NAME>_SECRET_ARN`, found by the first pass.
    wanted: Vec<(&'static str, SecretRef)>,
}

/// Which pass of reading [`Variables`] serves.
enum Pass<'a> {
    /// Finding the secrets to fetch: they read as stand-ins.
    Discover,
    /// Reading the settings, with what was fetched.
    Read(&'a FetchedSecrets),
}

/// Where a secret variable's value came from.
enum SecretValue {
    Unset,
    Given(SecretString),
    /// Given, but unusable: the problem is already recorded.
    Failed,
}

impl<'a> Variables<'a> {
    fn new(lookup: &'a dyn Fn(&str) -> Option<String>, pass: Pass<'a>) -> Self {
        Self {
            lookup,
            pass,
            problems: Vec::new(),
            secrets_read: Vec::new(),
            wanted: Vec::new(),
        }
    }

    /// A variable's value. Blank counts as unset, so an empty template parameter means
    /// "not given".
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    /// A secret variable's value, given as `<name>` or fetched for `<name>_SECRET_ARN`,
    /// wrapped as soon as it is read.
    pub fn optional_secret(&mut self, name: &'static str) -> Option<SecretString> {
        match self.secret(name) {
            SecretValue::Given(value) => Some(value),
            SecretValue::Unset | SecretValue::Failed => None,
        }
    }

    /// A variable the settings cannot do without.
    pub fn required(&mut self, name: &'static str) -> String {
        self.optional(name).unwrap_or_else(|| {
            self.problems.push(ConfigProblem::Missing(name));
            String::new()
        })
    }

    /// A secret the settings cannot do without, given as `<name>` or fetched for
    /// `<name>_SECRET_ARN`.
    pub fn required_secret(&mut self, name: &'static str) -> SecretString {
        match self.secret(name) {
            SecretValue::Given(value) => value,
            SecretValue::Unset => {
                self.problems.push(ConfigProblem::Missing(name));
                SecretString::default()
            }
            SecretValue::Failed => SecretString::default(),
        }
    }

    fn secret(&mut self, name: &'static str) -> SecretValue {
        self.secrets_read.push(name);
        let plain = self.optional(name);
        // Every secret is listed (a test checks); an unlisted one could only be plain.
        let Some(arn_variable) = secrets::arn_variable(name) else {
            return plain.map_or(SecretValue::Unset, |value| SecretValue::Given(value.into()));
        };
        let reference = match (plain, self.optional(arn_variable)) {
            (None, None) => return SecretValue::Unset,
            (Some(value), None) => return SecretValue::Given(value.into()),
            (Some(_), Some(_)) => {
                self.invalid(
                    arn_variable,
                    format!("{name} is set too: give the secret one way, not both"),
                );
                return SecretValue::Failed;
            }
            (None, Some(raw)) => match SecretRef::parse(&raw) {
                Ok(reference) => reference,
                Err(reason) => {
                    self.invalid(arn_variable, reason);
                    return SecretValue::Failed;
                }
            },
        };
        let fetched = match self.pass {
            Pass::Discover => {
                self.wanted.push((name, reference));
                return SecretValue::Given(SecretString::default());
            }
            Pass::Read(fetched) => fetched.get(name),
        };
        let reason = match fetched {
            Some(Ok(value)) if !value.expose_secret().trim().is_empty() => {
                return SecretValue::Given(value.clone());
            }
            Some(Ok(_)) => "the secret is empty".to_owned(),
            Some(Err(reason)) => format!("the secret could not be read: {reason}"),
            None => "secrets are fetched from Secrets Manager only by FromEnvironment::load; \
                     give the value itself as the plain variable"
                .to_owned(),
        };
        self.invalid(arn_variable, reason);
        SecretValue::Failed
    }

    /// A required variable turned into a value by `parse`, whose error says what is wrong
    /// (and must not repeat a secret).
    pub fn required_parsed<T: Default>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        match self.optional(name) {
            None => {
                self.problems.push(ConfigProblem::Missing(name));
                T::default()
            }
            Some(raw) => self.accept(name, parse(&raw)).unwrap_or_default(),
        }
    }

    /// An optional variable turned into a value by `parse`, or `default` when unset.
    pub fn parsed_or<T>(
        &mut self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        match self.optional(name) {
            None => default,
            Some(raw) => self.accept(name, parse(&raw)).unwrap_or(default),
        }
    }

    /// Whether this pass checks what it reads. The first pass only finds the secrets to
    /// fetch, and its problems are never reported: a check that costs something (parsing
    /// the database URL reads the user's files) is made in the second pass alone.
    pub fn checks(&self) -> bool {
        matches!(self.pass, Pass::Read(_))
    }

    /// Records that `name` is set to something unusable; `reason` must not repeat a
    /// secret.
    pub fn invalid(&mut self, name: &'static str, reason: impl Into<String>) {
        self.problems.push(ConfigProblem::Invalid {
            name,
            reason: reason.into(),
        });
    }

    fn accept<T>(&mut self, name: &'static str, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|reason| self.invalid(name, reason)).ok()
    }
}

/// Why a function refuses to start: every missing or invalid variable, in the order read.
/// Never carries a secret value.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("the environment is not a usable configuration: {}", list(.problems))]
pub struct ConfigError {
    problems: Vec<ConfigProblem>,
}

fn list(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The message itself: a function that cannot start returns this error from `main`, which
/// prints its `Debug` form, and that line should read as the list of problems.
impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl ConfigError {
    /// An error about one variable, for checks made after the settings were read.
    pub fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Self {
            problems: vec![ConfigProblem::Invalid {
                name,
                reason: reason.into(),
            }],
        }
    }

    /// Every problem found.
    pub fn problems(&self) -> &[ConfigProblem] {
        &self.problems
    }

    /// The variables at fault, in the order read.
    pub fn variables(&self) -> Vec<&'static str> {
        self.problems.iter().map(ConfigProblem::variable).collect()
    }
}

/// One variable at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigProblem {
    /// A required variable is unset or blank.
    #[error("{0} is required but not set")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        /// What is wrong with it, without repeating a secret.
        reason: String,
    },
}

impl ConfigProblem {
    /// The variable at fault.
    pub fn variable(&self) -> &'static str {
        match self {
            Self::Missing(name) | Self::Invalid { name, .. } => name,
        }
    }
}

/// Lookups over fixed variables, for the settings tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::HashMap;

    /// Looks variables up in `vars`.
    pub fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    /// `vars` with `name` set to `value`, replacing any earlier value.
    pub fn with<'a>(
        vars: &[(&'a str, &'a str)],
        name: &'a str,
        value: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        let mut vars: Vec<_> = vars.iter().copied().filter(|(n, _)| *n != name).collect();
        vars.push((name, value));
        vars
    }

    /// Panics when `text` shows any of `secrets`.
    pub fn assert_hides(text: &str, secrets: &[&str]) {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} shown in {text}");
        }
    }

    /// The database variables every function reads, with a password in the URL.
    pub const DATABASE: &[(&str, &str)] = &[(
        "DATABASE_URL",
        "postgres://app:hunter2-db-password@db.internal/sellerops",
    )];
}

#[cfg(test)]
mod tests {
    use super::testing::lookup;
    use super::*;

    #[test]
    fn every_problem_is_named_in_one_error() {
        let err = DatabaseSettings::from_lookup(lookup(&[("DATABASE_MAX_CONNECTIONS", "zero")]))
            .unwrap_err();
        assert_eq!(
            err.variables(),
            ["DATABASE_URL", "DATABASE_MAX_CONNECTIONS"]
        );
        let text = err.to_string();
        assert!(
            text.contains("DATABASE_URL is required but not set"),
            "{text}"
        );
        assert!(
            text.contains("DATABASE_MAX_CONNECTIONS is invalid"),
            "{text}"
        );
    }

    #[test]
    fn a_blank_value_counts_as_unset() {
        let err = DatabaseSettings::from_lookup(lookup(&[("DATABASE_URL", "  ")])).unwrap_err();
        assert_eq!(
            err.problems(),
            [ConfigProblem::Missing("DATABASE_URL")].as_slice()
        );
    }
}
