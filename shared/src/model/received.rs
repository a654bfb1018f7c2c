//! Outside documents as received: the parsed value beside its exact JSON text.
//!
//! Marketplaces send money as JSON numbers. Parsing them into a float loses cents
//! (`19.99` is not a binary fraction), so every amount is read from the number's own
//! text ([`decimal`]), and the document itself is kept as the text that arrived
//! ([`Received::raw`]) for `raw_payload` columns. Both rely on `serde_json`'s
//! `RawValue`, so these types are read with `serde_json::from_str`/`from_slice`, never
//! from an already parsed `serde_json::Value`.

use rust_decimal::Decimal;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::field_path::InvalidField;
use super::money::parse_plain_amount;

/// A document parsed as `T`, with the JSON text it was parsed from.
#[derive(Debug)]
pub struct Received<T> {
    /// The parsed document.
    pub value: T,
    raw: Box<RawValue>,
}

impl<T> Received<T> {
    /// The document's JSON text, exactly as it arrived.
    pub fn raw(&self) -> &str {
        self.raw.get()
    }
}

impl<T: DeserializeOwned> Received<T> {
    /// Parses one document's JSON text; a failure names the field it is about
    /// (`order_lines[1].price`).
    pub fn from_raw(raw: Box<RawValue>) -> Result<Self, InvalidField> {
        let mut reader = serde_json::Deserializer::from_str(raw.get());
        let value = serde_path_to_error::deserialize(&mut reader).map_err(|err| {
            let path = err.path().to_string();
            let path = if path == "." { String::new() } else { path };
            InvalidField::new(path, without_position(&err.into_inner()))
        })?;
        Ok(Self { value, raw })
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Received<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Self::from_raw(raw).map_err(D::Error::custom)
    }
}

/// A parse error's message without serde_json's "at line 1 column 212", which counts
/// within one document and helps nobody once the field is named.
fn without_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rsplit_once(" at line ") {
        Some((message, position)) if position.contains(" column ") => message.to_owned(),
        _ => text,
    }
}

/// Reads an amount from a JSON number or numeric string, digit for digit.
pub fn decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    parse_decimal(raw.get()).map_err(D::Error::custom)
}

/// Like [`decimal`], for an amount that may be absent or `null`.
pub fn optional_decimal<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Decimal>, D::Error> {
    let raw = Option::<Box<RawValue>>::deserialize(deserializer)?;
    match raw {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) => parse_decimal(raw.get()).map(Some).map_err(D::Error::custom),
    }
}

fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let digits = text.trim().trim_matches('"');
    parse_plain_amount(digits)
        .map_err(|_| format!("expected an amount as a plain decimal, got {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[derive(Debug, Deserialize)]
    struct Line {
        #[serde(deserialize_with = "decimal")]
        price: Decimal,
        #[serde(default, deserialize_with = "optional_decimal")]
        shipping: Option<Decimal>,
    }

    #[test]
    fn a_json_number_keeps_its_exact_cents() {
        let line: Line = serde_json::from_str(r#"{"price": 19.99, "shipping": 0.1}"#).unwrap();
        assert_eq!(line.price, Decimal::from_str("19.99").unwrap());
        assert_eq!(line.price.to_string(), "19.99");
        assert_eq!(line.shipping, Some(Decimal::from_str("0.1").unwrap()));
    }

    #[test]
    fn strings_integers_and_nulls_are_amounts_too() {
        let line: Line = serde_json::from_str(r#"{"price": "2250.00", "shipping": null}"#).unwrap();
        assert_eq!(line.price.to_string(), "2250.00");
        assert_eq!(line.shipping, None);
        let line: Line = serde_json::from_str(r#"{"price": 165}"#).unwrap();
        assert_eq!(line.price, Decimal::from(165));
    }

    #[test]
    fn exponents_are_refused_not_expanded() {
        for doc in [
            r#"{"price": 1e5}"#,
            r#"{"price": "1e5"}"#,
            r#"{"price": "1,500.00"}"#,
        ] {
            let err = serde_json::from_str::<Line>(doc).unwrap_err();
            assert!(err.to_string().contains("plain decimal"), "{doc}: {err}");
        }
    }

    #[test]
    fn anything_else_is_refused_by_name() {
        let err = serde_json::from_str::<Line>(r#"{"price": true}"#).unwrap_err();
        assert!(err.to_string().contains("expected an amount"), "{err}");
    }

    #[test]
    fn a_refused_field_is_named_by_its_path() {
        #[derive(Debug, Deserialize)]
        struct Order {
            #[allow(dead_code)]
            lines: Vec<Line>,
        }
        let err = serde_json::from_str::<Received<Order>>(
            r#"{"lines": [{"price": 1}, {"price": "1e5"}]}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("lines[1].price: expected an amount"),
            "{err}"
        );
    }

    #[test]
    fn a_received_document_keeps_its_text() {
        let doc: Received<Line> = serde_json::from_str(r#"{"price":19.990, "x":[1]}"#).unwrap();
        assert_eq!(doc.raw(), r#"{"price":19.990, "x":[1]}"#);
        assert_eq!(doc.value.price.to_string(), "19.990");
    }
}
