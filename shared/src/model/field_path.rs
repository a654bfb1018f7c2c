//! Naming the field of an outside document that is wrong, by its JSON path
//! (`orders[0].customer.firstname`), so a refusal tells the sender exactly which value
//! to fix; and finding the NUL characters PostgreSQL can store in neither `text` nor
//! `jsonb`.
//!
//! A NUL (`\u0000` in JSON, or a raw zero byte) is valid JSON inside a string but can
//! never be stored: left to the database, it fails the whole transaction with an
//! encoding error that names nothing. It is found here first, before anything is
//! written, and the document is refused naming the field that holds it.

use std::fmt;

use serde_json::Value;

/// One field of a document that cannot be accepted, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidField {
    /// Where the field is (`order_lines[1].price`); empty for the document itself.
    pub path: String,
    /// What is wrong with it, in words a sender can act on.
    pub problem: String,
}

impl InvalidField {
    /// The field at `path` is wrong because of `problem`.
    pub fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// The same field, named from a document that holds this one at `prefix`
    /// (`orders[3]`).
    pub fn within(self, prefix: &str) -> Self {
        Self {
            path: join(prefix, &self.path),
            problem: self.problem,
        }
    }
}

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

/// `prefix` followed by `rest`, with a dot between two names but not before an index.
pub fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (_, true) => prefix.to_owned(),
        _ if rest.starts_with('[') => format!("{prefix}{rest}"),
        _ => format!("{prefix}.{rest}"),
    }
}

/// The path of an object's key under `parent`: `parent.key`, or `parent["odd key"]` for
/// a key that is not a plain name (JSON-escaped, so a NUL in it shows as `\u0000`).
pub fn key(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        join(parent, key)
    } else {
        let quoted = serde_json::to_string(key).unwrap_or_else(|_| format!("{key:?}"));
        format!("{parent}[{quoted}]")
    }
}

/// The path of element `index` of the array at `parent`.
pub fn index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

const NUL_PROBLEM: &str =
    "contains a NUL character (\\u0000), which cannot be stored; remove it and send again";

/// The first string or key of the JSON text `json` that holds a NUL character, named
/// from `root` (`orders` for a list of orders, empty for a single document). `None`
/// when there is none, or when the text is not JSON at all (the typed parse that
/// follows says why).
pub fn find_nul(json: &str, root: &str) -> Option<InvalidField> {
    let raw_nul = json.contains('\0');
    if !raw_nul && !json.contains("\\u0000") {
        return None;
    }
    // A raw NUL is a control character JSON does not allow in a string; written as the
    // escape it stands for, the document parses and the walk below names its field.
    let escaped;
    let text = if raw_nul {
        escaped = json.replace('\0', "\\u0000");
        escaped.as_str()
    } else {
        json
    };
    match serde_json::from_str::<Value>(text) {
        Ok(document) => nul_in(&document, root).map(|path| InvalidField::new(path, NUL_PROBLEM)),
        Err(_) if raw_nul => Some(InvalidField::new(
            "",
            "the body contains a NUL byte outside any string; it is not JSON",
        )),
        Err(_) => None,
    }
}

fn nul_in(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(text) if text.contains('\0') => Some(path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_in(item, &index(path, i))),
        Value::Object(fields) => fields.iter().find_map(|(name, item)| {
            let at = key(path, name);
            if name.contains('\0') {
                Some(at)
            } else {
                nul_in(item, &at)
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escaped_nul_is_named_by_its_path() {
        let body = r#"[{"order_id": "A"}, {"customer": {"firstname": "Ana\u0000"}}]"#;
        let found = find_nul(body, "orders").unwrap();
        assert_eq!(found.path, "orders[1].customer.firstname");
        assert!(found.to_string().contains("NUL"), "{found}");
    }

    #[test]
    fn a_raw_nul_byte_and_a_nul_in_a_key_are_found_too() {
        let raw = "{\"note\": \"a\0b\"}";
        assert_eq!(find_nul(raw, "").unwrap().path, "note");
        let in_key = r#"{"lines": [{"ti\u0000tle": "x"}]}"#;
        assert_eq!(
            find_nul(in_key, "").unwrap().path,
            r#"lines[0]["ti\u0000tle"]"#
        );
        let outside = "{\"a\": 1}\0";
        assert_eq!(find_nul(outside, "").unwrap().path, "");
    }

    #[test]
    fn an_escaped_backslash_before_u0000_is_no_nul() {
        assert_eq!(find_nul(r#"{"path": "C:\\u0000"}"#, ""), None);
        assert_eq!(find_nul(r#"{"name": "Ana"}"#, ""), None);
    }

    #[test]
    fn paths_join_names_and_indexes() {
        assert_eq!(
            join("orders[0]", "order_lines[1].price"),
            "orders[0].order_lines[1].price"
        );
        assert_eq!(join("orders[0]", "[2]"), "orders[0][2]");
        assert_eq!(join("", "price"), "price");
        assert_eq!(join("orders[0]", ""), "orders[0]");
        let field = InvalidField::new("price", "too precise").within("orders[2]");
        assert_eq!(field.to_string(), "orders[2].price: too precise");
    }
}
