//! `ingest-orders-file`: imports the order files dropped into the orders bucket.

use super::{AwsSettings, DatabaseSettings, FromEnvironment, Variables};
use crate::flows::ingest::OrderFileLimits;
use crate::model::customer_email::EmailPepper;
use crate::model::money::Currency;

/// What `ingest-orders-file` reads at cold start. The bucket comes with each event, so no
/// bucket is configured.
#[derive(Debug, Clone)]
pub struct IngestOrdersFileSettings {
    /// Where the files' orders, customers and products are written.
    pub database: DatabaseSettings,
    /// S3, to read the files.
    pub aws: AwsSettings,
    /// `EMAIL_HASH_PEPPER`: customers are found by the keyed hash of their e-mail.
    pub email_hash_pepper: EmailPepper,
    /// `DEFAULT_CURRENCY`: the prices' currency when a file names none (default CAD).
    pub default_currency: Currency,
    /// `ORDER_FILE_MAX_DECOMPRESSED_BYTES`, `ORDER_FILE_MAX_LINE_BYTES`,
    /// `ORDER_FILE_MAX_FIELD_BYTES`: past one, a file is refused (the defaults, and why,
    /// are on [`OrderFileLimits`]).
    pub limits: OrderFileLimits,
}

impl FromEnvironment for IngestOrdersFileSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            database: DatabaseSettings::read(vars),
            aws: AwsSettings::read(vars),
            email_hash_pepper: EmailPepper::read(vars),
            default_currency: vars.parsed_or("DEFAULT_CURRENCY", Currency::CAD, |raw| {
                Currency::parse(raw).map_err(|err| err.to_string())
            }),
            limits: read_limits(vars),
        }
    }
}

fn read_limits(vars: &mut Variables<'_>) -> OrderFileLimits {
    let defaults = OrderFileLimits::default();
    let mut bytes = |name: &'static str, default: u64| {
        vars.parsed_or(name, default, |raw| match raw.trim().parse::<u64>() {
            Ok(bytes) if bytes > 0 => Ok(bytes),
            _ => Err(format!(
                "must be a whole number of bytes above 0, got {raw:?}"
            )),
        })
    };
    OrderFileLimits {
        max_decompressed_bytes: bytes(
            "ORDER_FILE_MAX_DECOMPRESSED_BYTES",
            defaults.max_decompressed_bytes,
        ),
        max_line_bytes: bytes("ORDER_FILE_MAX_LINE_BYTES", defaults.max_line_bytes),
        max_field_bytes: bytes("ORDER_FILE_MAX_FIELD_BYTES", defaults.max_field_bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_hides, lookup, with, DATABASE};
    use super::*;

    const PEPPER: (&str, &str) = ("EMAIL_HASH_PEPPER", "a-pepper-never-printed");

    #[test]
    fn the_currency_defaults_to_cad_and_secrets_stay_hidden() {
        let settings =
            IngestOrdersFileSettings::from_lookup(lookup(&[DATABASE[0], PEPPER])).unwrap();
        assert_eq!(settings.default_currency, Currency::CAD);
        assert_eq!(settings.aws.endpoint_url, None);
        assert_hides(
            &format!("{settings:?}"),
            &["hunter2-db-password", "a-pepper-never-printed"],
        );

        let vars = with(&[DATABASE[0], PEPPER], "DEFAULT_CURRENCY", "usd");
        let settings = IngestOrdersFileSettings::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(settings.default_currency.code(), "USD");
    }

    #[test]
    fn the_input_limits_default_to_256_mib_64_kib_and_8_kib_and_can_be_set() {
        let settings =
            IngestOrdersFileSettings::from_lookup(lookup(&[DATABASE[0], PEPPER])).unwrap();
        assert_eq!(
            settings.limits,
            OrderFileLimits {
                max_decompressed_bytes: 268_435_456,
                max_line_bytes: 65_536,
                max_field_bytes: 8_192,
            }
        );

        let vars = [
            DATABASE[0],
            PEPPER,
            ("ORDER_FILE_MAX_DECOMPRESSED_BYTES", "1048576"),
            ("ORDER_FILE_MAX_LINE_BYTES", "4096"),
            ("ORDER_FILE_MAX_FIELD_BYTES", "512"),
        ];
        let settings = IngestOrdersFileSettings::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(settings.limits.max_decompressed_bytes, 1_048_576);
        assert_eq!(settings.limits.max_line_bytes, 4_096);
        assert_eq!(settings.limits.max_field_bytes, 512);

        let vars = [
            DATABASE[0],
            PEPPER,
            ("ORDER_FILE_MAX_LINE_BYTES", "64KiB"),
            ("ORDER_FILE_MAX_FIELD_BYTES", "0"),
        ];
        let err = IngestOrdersFileSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(
            err.variables(),
            ["ORDER_FILE_MAX_LINE_BYTES", "ORDER_FILE_MAX_FIELD_BYTES"]
        );
    }

    #[test]
    fn every_missing_or_invalid_variable_is_named_in_one_error() {
        let vars = [
            ("DEFAULT_CURRENCY", "dollars"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
        ];
        let err = IngestOrdersFileSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(
            err.variables(),
            [
                "DATABASE_URL",
                "DATABASE_MAX_CONNECTIONS",
                "EMAIL_HASH_PEPPER",
                "DEFAULT_CURRENCY"
            ]
        );
    }

    #[test]
    fn a_secret_never_reaches_the_error() {
        let vars = [
            ("DATABASE_URL", "mysql://app:hunter2-db-password@db/x"),
            ("EMAIL_HASH_PEPPER", "short-pepper"),
        ];
        let err = IngestOrdersFileSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(err.variables(), ["DATABASE_URL", "EMAIL_HASH_PEPPER"]);
        assert_hides(
            &format!("{err} {err:?}"),
            &["hunter2-db-password", "short-pepper"],
        );
    }
}
