//! `fetch-shipping-label`: buys the Canada Post label, stores it, confirms the shipment.

use super::{
    AwsSettings, CanadaPostSettings, DatabaseSettings, DefaultParcel, FromEnvironment,
    MiraklSettings, SenderSettings, Variables,
};

/// What `fetch-shipping-label` reads at cold start.
#[derive(Debug, Clone)]
pub struct FetchShippingLabelSettings {
    /// The orders and shipments.
    pub database: DatabaseSettings,
    /// S3, for the PDFs.
    pub aws: AwsSettings,
    /// OR11, OR23 and OR24.
    pub mirakl: MiraklSettings,
    /// The carrier labels are bought from.
    pub canadapost: CanadaPostSettings,
    /// `LABELS_BUCKET`: where the label PDFs are stored.
    pub labels_bucket: String,
    /// `MIRAKL_CARRIER_CODE`: the marketplace's code for the carrier in OR23 (default
    /// `CPCL`, Best Buy Canada's code for Canada Post).
    pub mirakl_carrier_code: String,
    /// The address labels are shipped from.
    pub sender: SenderSettings,
    /// The parcel assumed when product data does not give weight or size.
    pub default_parcel: DefaultParcel,
}

impl FromEnvironment for FetchShippingLabelSettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            database: DatabaseSettings::read(vars),
            aws: AwsSettings::read(vars),
            mirakl: MiraklSettings::read(vars),
            canadapost: CanadaPostSettings::read(vars),
            labels_bucket: vars.required("LABELS_BUCKET"),
            mirakl_carrier_code: vars
                .optional("MIRAKL_CARRIER_CODE")
                .unwrap_or_else(|| "CPCL".into()),
            sender: SenderSettings::read(vars),
            default_parcel: DefaultParcel::read(vars),
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
        ("MIRAKL_BASE_URL", "https://marketplace.bestbuy.ca"),
        ("MIRAKL_API_KEY", "mirakl-key-never-printed"),
        ("CANADAPOST_BASE_URL", "https://ct.soa-gw.canadapost.ca"),
        ("CANADAPOST_USERNAME", "cp-user-never-printed"),
        ("CANADAPOST_PASSWORD", "cp-password-never-printed"),
        ("CANADAPOST_CUSTOMER_NUMBER", "0001234567"),
        ("LABELS_BUCKET", "labels"),
        ("SENDER_COMPANY", "Northern Refurb Ltd"),
        ("SENDER_PHONE", "613-555-0142"),
        ("SENDER_ADDRESS_LINE1", "88 Bank Street"),
        ("SENDER_CITY", "Ottawa"),
        ("SENDER_PROVINCE", "ON"),
        ("SENDER_POSTAL_CODE", "K1P5N2"),
        ("SENDER_EMAIL", "shipping@northernrefurb.example"),
    ];

    const SECRETS: &[&str] = &[
        "hunter2-db-password",
        "mirakl-key-never-printed",
        "cp-user-never-printed",
        "cp-password-never-printed",
    ];

    #[test]
    fn a_complete_environment_gets_the_documented_defaults_and_hides_credentials() {
        let settings = FetchShippingLabelSettings::from_lookup(lookup(COMPLETE)).unwrap();
        assert_eq!(settings.mirakl_carrier_code, "CPCL");
        assert_eq!(settings.canadapost.service_code, "DOM.EP");
        assert_eq!(settings.sender.address_line2, None);
        assert_eq!(settings.labels_bucket, "labels");
        assert_hides(&format!("{settings:?}"), SECRETS);
    }

    #[test]
    fn every_missing_variable_is_named_in_one_error() {
        let err = FetchShippingLabelSettings::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(
            err.variables(),
            [
                "DATABASE_URL",
                "MIRAKL_BASE_URL",
                "MIRAKL_API_KEY",
                "CANADAPOST_BASE_URL",
                "CANADAPOST_USERNAME",
                "CANADAPOST_PASSWORD",
                "CANADAPOST_CUSTOMER_NUMBER",
                "LABELS_BUCKET",
                "SENDER_COMPANY",
                "SENDER_PHONE",
                "SENDER_ADDRESS_LINE1",
                "SENDER_CITY",
                "SENDER_PROVINCE",
                "SENDER_POSTAL_CODE",
                "SENDER_EMAIL",
            ]
        );
    }

    #[test]
    fn a_secret_never_reaches_the_error() {
        let vars = with(COMPLETE, "CANADAPOST_LANGUAGE", "de-DE");
        let vars = with(&vars, "SENDER_CITY", "");
        let err = FetchShippingLabelSettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(err.variables(), ["CANADAPOST_LANGUAGE", "SENDER_CITY"]);
        assert_hides(&format!("{err} {err:?}"), SECRETS);
    }
}
