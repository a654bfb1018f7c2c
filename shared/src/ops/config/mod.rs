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
//! as they are read: `Debug` never prints them and no error repeats their value.
//!
//! Every variable is listed, with the functions that read it, in the README's
//! configuration reference.
//!
//! The function settings live here rather than in the function crates so that the
//! crates stay event mapping only, the parts are shared by the functions to come, and
//! every function's settings are tested by `cargo test -p sellerops --lib`.

mod accept_orders;
mod fetch_shipping_label;
mod ingest_orders_file;
mod marketplace_webhook;
mod parts;
mod sync_marketplace;

use std::fmt;

use secrecy::SecretString;

pub use accept_orders::{AcceptOrdersSettings, DEFAULT_RESERVATION_HOLD};
pub use fetch_shipping_label::FetchShippingLabelSettings;
pub use ingest_orders_file::IngestOrdersFileSettings;
pub use marketplace_webhook::MarketplaceWebhookSettings;
pub use parts::{
    AwsSettings, CanadaPostSettings, DatabaseSettings, DefaultParcel, MarketplaceSyncSettings,
    MiraklSettings, QueueUrls, SenderSettings, WebhookSettings,
};
pub use sync_marketplace::SyncMarketplaceSettings;

/// Settings read from environment variables.
pub trait FromEnvironment: Sized {
    /// Reads every variable the settings need, recording each problem in `vars` and
    /// carrying on, so that one error can name them all.
    fn read(vars: &mut Variables<'_>) -> Self;

    /// Reads the settings from the process environment.
    fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the process
    /// environment.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut vars = Variables {
            lookup: &lookup,
            problems: Vec::new(),
        };
        let settings = Self::read(&mut vars);
        if vars.problems.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError {
                problems: vars.problems,
            })
        }
    }
}

/// The environment being read, and every problem found in it so far.
///
/// A missing or unusable value reads as a stand-in (empty, or the default) so that
/// reading goes on to the next variable; settings built from a stand-in are never handed
/// out, since [`FromEnvironment::from_lookup`] then returns the error instead.
pub struct Variables<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<ConfigProblem>,
}

impl Variables<'_> {
    /// A variable's value. Blank counts as unset, so an empty template parameter means
    /// "not given".
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    /// A secret variable's value, wrapped as soon as it is read.
    pub fn optional_secret(&self, name: &str) -> Option<SecretString> {
        self.optional(name).map(SecretString::from)
    }

    /// A variable the settings cannot do without.
    pub fn required(&mut self, name: &'static str) -> String {
        self.optional(name).unwrap_or_else(|| {
            self.problems.push(ConfigProblem::Missing(name));
            String::new()
        })
    }

    /// A secret the settings cannot do without.
    pub fn required_secret(&mut self, name: &'static str) -> SecretString {
        SecretString::from(self.required(name))
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
