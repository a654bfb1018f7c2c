//! Personal data in outside documents: the one redaction every stored copy goes through.
//!
//! Outside documents are kept for audit and replay (`raw_payload` columns, `ops.inbox`,
//! the bodies of failed calls in `ops.api_calls`), but a customer's e-mail address,
//! phone, street address and name belong only where the work needs them: the order's
//! `shipping_*` columns, which the label is bought from. Every copy is therefore
//! redacted here, on the parsed document rather than its text, so no spelling of an
//! address slips past: after parsing, a JSON `\u0040` or an XML `&#64;` is just `@`, and
//! addresses with non-ASCII letters are found like any other.
//!
//! - [`redact_json`]: a JSON document. Every string that holds an e-mail address has the
//!   address replaced by [`EMAIL_REDACTED`]; the values of fields that name personal
//!   data (phones, street lines, e-mail fields, people's names, coordinates, and a name
//!   or company inside an address or customer object) become [`REDACTED`]. Numbers
//!   keep their exact text (Mirakl sends money as JSON numbers), and so does every field
//!   that is not personal, cities, provinces, postal and country codes included.
//! - [`redact_xml`]: an XML document, element names read the same way (Canada Post's
//!   `destination` with its `name`, `client-voice-number` and `address-line-1`).
//! - [`redact_body`]: an API body of either kind, or plain text.
//! - [`redact_email_addresses`]: free text, such as a customer's message.

use std::fmt::Write as _;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// What replaces an e-mail address found in text.
pub const EMAIL_REDACTED: &str = "[email redacted]";
/// What replaces the value of a field that is personal data.
pub const REDACTED: &str = "[redacted]";
/// What is kept of a document that could not be read, so nothing unread is stored.
const UNREADABLE: &str = "[document withheld: not readable for redaction]";

/// The JSON document `text` with its personal data redacted, as JSON text. A text that
/// is not JSON becomes a JSON string saying it was withheld.
pub fn redact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    match serde_json::from_str::<&RawValue>(text)
        .and_then(|document| write_json(document, Role::Plain, false, &mut out))
    {
        Ok(()) => out,
        Err(_) => quoted(UNREADABLE),
    }
}

/// An outside API's body (a request or an answer), redacted as JSON when it is JSON, as
/// XML when it is XML, and otherwise as text.
pub fn redact_body(body: &str) -> String {
    let trimmed = body.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if serde_json::from_str::<&RawValue>(body).is_ok() {
            return redact_json(body);
        }
    } else if trimmed.starts_with('<') {
        return redact_xml(body);
    }
    redact_email_addresses(body)
}

/// Every e-mail address in `text` replaced by [`EMAIL_REDACTED`]. An address is a local
/// part and a domain around an at sign (`@`, or its full-width forms), in letters of
/// any script; the domain needs a dot and a top level of at least two letters or
/// digits, so `@handles` and `2@3` are left alone.
pub fn redact_email_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, sign) in text.char_indices().filter(|(_, c)| is_at_sign(*c)) {
        if at < copied {
            continue;
        }
        let start = text[copied..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_local_part_char(*c))
            .last()
            .map(|(i, _)| copied + i);
        let after = at + sign.len_utf8();
        let domain_len: usize = text[after..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '.')
            .map(char::len_utf8)
            .sum();
        let domain = text[after..after + domain_len].trim_end_matches(['.', '-']);
        let (Some(start), true) = (start, is_mail_domain(domain)) else {
            continue;
        };
        out.push_str(&text[copied..start]);
        out.push_str(EMAIL_REDACTED);
        copied = after + domain.len();
    }
    out.push_str(&text[copied..]);
    out
}

/// Whether `text` holds an at sign in any of its forms: a cell of a file that may
/// carry an address is withheld whole rather than searched.
pub fn holds_at_sign(text: &str) -> bool {
    text.chars().any(is_at_sign)
}

fn is_at_sign(c: char) -> bool {
    matches!(c, '@' | '\u{FF20}' | '\u{FE6B}')
}

fn is_local_part_char(c: char) -> bool {
    c.is_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c)
}

fn is_mail_domain(domain: &str) -> bool {
    let Some((name, top)) = domain.rsplit_once('.') else {
        return false;
    };
    !name.is_empty()
        && !name.starts_with(['.', '-'])
        && top.chars().count() >= 2
        && top.chars().all(char::is_alphanumeric)
}

/// What a value is, from the field that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Not personal by its name: only e-mail addresses inside its text are redacted.
    Plain,
    /// An address, customer or recipient: a text value is personal (a one-line
    /// address); an object's fields are read as a person's fields.
    Party,
    /// Personal data: every text or number in it is redacted.
    Personal,
}

impl Role {
    /// The role of the field `name` inside a value of this role; `in_party` when the
    /// field belongs to a person's or an address's object.
    fn of_field(self, name: &str, in_party: bool) -> Role {
        if self == Role::Personal {
            return Role::Personal;
        }
        let name = name
            .rsplit(':')
            .next()
            .unwrap_or(name)
            .to_lowercase()
            .replace('-', "_");
        if is_personal_field(&name) || (in_party && is_party_name_field(&name)) {
            Role::Personal
        } else if is_party_field(&name) {
            Role::Party
        } else {
            Role::Plain
        }
    }
}

/// Fields that are personal data wherever they appear.
fn is_personal_field(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "email",
        "email_address",
        "mobile",
        "fax",
        "client_voice_number",
        "voice_number",
        "address1",
        "address2",
        "address_1",
        "address_2",
        "address_line_1",
        "address_line_2",
        "address_line_3",
        "line1",
        "line2",
        "additional_info",
        "firstname",
        "lastname",
        "first_name",
        "last_name",
        "given_name",
        "family_name",
        "surname",
        "full_name",
        "display_name",
        "requester_name",
        "customer_name",
        "contact_name",
        "recipient_name",
        "buyer_name",
        "billing_name",
        "shipping_name",
        "browser_ip",
        "client_ip",
        "ip_address",
        "latitude",
        "longitude",
    ];
    NAMES.contains(&name)
        || name.ends_with("_email")
        || name.contains("phone")
        || name.starts_with("street")
}

/// Fields holding an address or a person as a whole.
fn is_party_field(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "customer",
        "address",
        "addresses",
        "billing_address",
        "shipping_address",
        "default_address",
        "destination",
        "recipient",
        "requester",
        "ship_to",
        "bill_to",
    ];
    NAMES.contains(&name)
}

/// Fields that are a person's name only inside an address or a person.
fn is_party_name_field(name: &str) -> bool {
    matches!(name, "name" | "company" | "contact" | "attention")
}

fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Writes `value`, redacted for its role, to `out`. Objects and arrays are read one
/// level at a time as raw values, so numbers are copied as the text they arrived as.
fn write_json(
    value: &RawValue,
    role: Role,
    in_party: bool,
    out: &mut String,
) -> Result<(), serde_json::Error> {
    let text = value.get().trim_start();
    match text.as_bytes().first() {
        Some(b'{') => {
            let Members(members) = serde_json::from_str(text)?;
            let in_party = in_party || role == Role::Party;
            out.push('{');
            for (index, (name, member)) in members.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&quoted(name));
                out.push(':');
                write_json(member, role.of_field(name, in_party), in_party, out)?;
            }
            out.push('}');
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text)?;
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_json(item, role, in_party, out)?;
            }
            out.push(']');
        }
        Some(b'"') => {
            let string: String = serde_json::from_str(text)?;
            if role == Role::Plain {
                out.push_str(&quoted(&redact_email_addresses(&string)));
            } else {
                out.push_str(&quoted(REDACTED));
            }
        }
        // A number under a personal field (a phone sent as a number) is personal too;
        // true, false and null say nothing about anyone.
        Some(b'-' | b'0'..=b'9') if role != Role::Plain => out.push_str(&quoted(REDACTED)),
        _ => out.push_str(text.trim_end()),
    }
    Ok(())
}

/// An object's members in their order, each value as its raw text.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// The XML document `text` with its personal data redacted: element names are read as
/// [`redact_json`] reads field names, text and attribute values are read with their
/// entity and character references resolved, and written back escaped. Markup it does
/// not understand is kept only after its e-mail addresses are redacted.
pub fn redact_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Each open element's role, and whether its children belong to a person or an
    // address.
    let mut open: Vec<(String, Role, bool)> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (role, in_party) = open
            .last()
            .map_or((Role::Plain, false), |(_, role, party)| (*role, *party));
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let (content, tail) = after.split_once("]]>").unwrap_or((after, ""));
            out.push_str(&escape_xml(&redact_xml_text(content, role)));
            rest = tail;
        } else if let Some(after) = rest.strip_prefix("<!--") {
            let (content, tail) = after.split_once("-->").unwrap_or((after, ""));
            let _ = write!(out, "<!--{}-->", redact_email_addresses(content));
            rest = tail;
        } else if rest.starts_with("<?") || rest.starts_with("<!") {
            let end = rest.find('>').map_or(rest.len(), |i| i + 1);
            out.push_str(&redact_email_addresses(&rest[..end]));
            rest = &rest[end..];
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').map_or(after.len(), |i| i + 1);
            let name = after[..end].trim_end_matches('>').trim();
            if let Some(at) = open.iter().rposition(|(open_name, ..)| open_name == name) {
                open.truncate(at);
            }
            out.push_str("</");
            out.push_str(&after[..end]);
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('<') {
            let end = tag_end(after);
            let tag = &after[..end];
            let closed = tag.ends_with("/>");
            let inner = tag.trim_end_matches('>').trim_end_matches('/');
            let name_len = inner
                .find(|c: char| c.is_whitespace())
                .unwrap_or(inner.len());
            let name = &inner[..name_len];
            let element_role = role.of_field(name, in_party);
            let party = in_party || element_role == Role::Party;
            out.push('<');
            out.push_str(name);
            write_attributes(&inner[name_len..], element_role, party, &mut out);
            out.push_str(if closed { "/>" } else { ">" });
            if !closed {
                open.push((name.to_owned(), element_role, party));
            }
            rest = &after[end..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let content = unescape_xml(&rest[..end]);
            if content.trim().is_empty() {
                out.push_str(&rest[..end]);
            } else {
                out.push_str(&escape_xml(&redact_xml_text(&content, role)));
            }
            rest = &rest[end..];
        }
    }
    out
}

/// Where a start tag ends: after its `>`, skipping any `>` inside a quoted value.
fn tag_end(after_open: &str) -> usize {
    let mut quote = None;
    for (index, c) in after_open.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if q == c => quote = None,
            (None, '>') => return index + 1,
            _ => {}
        }
    }
    after_open.len()
}

fn redact_xml_text(content: &str, role: Role) -> String {
    if role == Role::Plain {
        redact_email_addresses(content)
    } else {
        REDACTED.to_owned()
    }
}

/// Writes `name="value"` pairs, each value read and redacted as a field of its own
/// name inside an element of `role`.
fn write_attributes(mut attributes: &str, role: Role, in_party: bool, out: &mut String) {
    loop {
        let trimmed = attributes.trim_start();
        let Some(eq) = trimmed.find('=') else {
            out.push_str(&redact_email_addresses(attributes));
            return;
        };
        let name = trimmed[..eq].trim();
        let value_part = trimmed[eq + 1..].trim_start();
        let Some(quote) = value_part
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
        else {
            out.push_str(&redact_email_addresses(attributes));
            return;
        };
        let Some(close) = value_part[1..].find(quote) else {
            out.push_str(&redact_email_addresses(attributes));
            return;
        };
        let value = unescape_xml(&value_part[1..=close]);
        let kept = redact_xml_text(&value, role.of_field(name, in_party));
        let _ = write!(
            out,
            " {name}=\"{}\"",
            escape_xml(&kept).replace('"', "&quot;")
        );
        attributes = &value_part[close + 2..];
    }
}

/// Resolves the predefined entities and character references; anything else is kept.
fn unescape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let resolved = after.find(';').and_then(|semi| {
            let reference = &after[..semi];
            let c = match reference {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => reference
                    .strip_prefix("#x")
                    .or_else(|| reference.strip_prefix("#X"))
                    .map(|hex| u32::from_str_radix(hex, 16))
                    .or_else(|| reference.strip_prefix('#').map(str::parse::<u32>))
                    .and_then(Result::ok)
                    .and_then(char::from_u32),
            }?;
            Some((c, semi))
        });
        match resolved {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_found_whatever_its_escaping_or_script() {
        let document = r#"{"note":"write to jos\u00e9.m\u0040example.ca or to Zoë@exämple.fr",
            "plain":"amelia+orders@mail.example.com.", "wide":"bob＠example.org"}"#;

        let redacted = redact_json(document);

        let value: serde_json::Value = serde_json::from_str(&redacted).unwrap();
        assert_eq!(
            value["note"],
            "write to [email redacted] or to [email redacted]"
        );
        assert_eq!(value["plain"], "[email redacted].");
        assert_eq!(value["wide"], "[email redacted]");
    }

    #[test]
    fn an_escape_before_an_address_keeps_the_document_valid() {
        // The text-based redaction this replaces cut `\u00e9` in half and broke the JSON.
        let redacted = redact_json(r#"{"note":"Courriel : jos\u00e9@exemple.ca\n"}"#);

        let value: serde_json::Value = serde_json::from_str(&redacted).unwrap();
        assert_eq!(value["note"], "Courriel : [email redacted]\n");
    }

    #[test]
    fn numbers_keep_their_exact_text_and_plain_fields_stay() {
        let document = r#"{"price": 19.990, "qty": 2, "big": 123456789012345678901234.5,
            "title": "65W USB-C", "shipping_address": {"city": "Montréal", "zip_code": "H3G 1L2",
            "country_iso_code": "CAN", "street_1": "1450 Rue Sherbrooke O", "phone": 5145550147,
            "firstname": "Élodie", "company": "Acme", "latitude": 45.4972}, "ok": true, "none": null}"#;

        let redacted = redact_json(document);

        assert!(redacted.contains(r#""price":19.990"#), "{redacted}");
        assert!(redacted.contains(r#""big":123456789012345678901234.5"#));
        let value: serde_json::Value = serde_json::from_str(&redacted).unwrap();
        let address = &value["shipping_address"];
        assert_eq!(address["city"], "Montréal");
        assert_eq!(address["zip_code"], "H3G 1L2");
        assert_eq!(address["country_iso_code"], "CAN");
        for field in ["street_1", "phone", "firstname", "company", "latitude"] {
            assert_eq!(address[field], REDACTED, "{field}");
        }
        assert_eq!(value["title"], "65W USB-C");
        assert_eq!(value["ok"], true);
        assert!(value["none"].is_null());
    }

    #[test]
    fn personal_fields_are_redacted_at_any_depth_and_product_names_stay() {
        let document = r#"[{"customer": {"id": 7, "first_name": "Liam", "phone": "+19025550133",
            "email": "not an address", "default_address": {"name": "Liam M", "address1": "5657 Spring Garden Rd",
            "province_code": "NS"}}, "line_items": [{"name": "ThinkPad T480", "sku": "T480"}],
            "billing_address": "12 Main St, Halifax", "verified_email": true}]"#;

        let redacted = redact_json(document);

        let value: serde_json::Value = serde_json::from_str(&redacted).unwrap();
        let order = &value[0];
        assert_eq!(order["customer"]["id"], 7);
        assert_eq!(order["customer"]["first_name"], REDACTED);
        assert_eq!(order["customer"]["phone"], REDACTED);
        assert_eq!(order["customer"]["email"], REDACTED);
        assert_eq!(order["customer"]["default_address"]["name"], REDACTED);
        assert_eq!(order["customer"]["default_address"]["address1"], REDACTED);
        assert_eq!(order["customer"]["default_address"]["province_code"], "NS");
        assert_eq!(order["line_items"][0]["name"], "ThinkPad T480");
        assert_eq!(order["billing_address"], REDACTED);
        assert_eq!(order["verified_email"], true);
    }

    #[test]
    fn text_that_is_not_json_is_withheld() {
        let redacted = redact_json("{\"email\": \"jane@example.com\"");

        assert!(!redacted.contains("jane"));
        assert!(serde_json::from_str::<String>(&redacted).is_ok());
    }

    #[test]
    fn handles_and_small_sums_are_not_addresses() {
        assert_eq!(
            redact_email_addresses("ask @bestbuy, 2@3 each, x@localhost"),
            "ask @bestbuy, 2@3 each, x@localhost"
        );
    }

    #[test]
    fn a_canada_post_request_keeps_the_parcel_and_loses_the_recipient() {
        let request = r#"<?xml version="1.0"?><non-contract-shipment xmlns="http://www.canadapost.ca/ws/ncshipment-v4"><delivery-spec><service-code>DOM.EP</service-code><sender><company>Maple Refurb</company><contact-phone>416 555 0100</contact-phone></sender><destination><name>&#201;lodie Tremblay</name><client-voice-number>5145550147</client-voice-number><address-details><address-line-1>1450 Rue Sherbrooke O</address-line-1><city>Montréal</city><postal-zip-code>H3G1L2</postal-zip-code></address-details></destination><parcel-characteristics><weight>2.500</weight></parcel-characteristics><notification><email>elodie&#64;example.ca</email></notification><references><customer-ref-1>BBY-1</customer-ref-1></references></delivery-spec></non-contract-shipment>"#;

        let redacted = redact_xml(request);

        for gone in [
            "Élodie",
            "&#201;lodie",
            "5145550147",
            "Sherbrooke",
            "elodie",
            "416 555",
        ] {
            assert!(!redacted.contains(gone), "{gone} in {redacted}");
        }
        for kept in [
            "<service-code>DOM.EP</service-code>",
            "<company>Maple Refurb</company>",
            "<city>Montréal</city>",
            "<postal-zip-code>H3G1L2</postal-zip-code>",
            "<weight>2.500</weight>",
            "<customer-ref-1>BBY-1</customer-ref-1>",
            r#"xmlns="http://www.canadapost.ca/ws/ncshipment-v4""#,
            "<name>[redacted]</name>",
        ] {
            assert!(redacted.contains(kept), "{kept} missing from {redacted}");
        }
    }

    #[test]
    fn xml_text_and_attributes_are_read_with_their_references_resolved() {
        let redacted = redact_xml(
            r#"<messages><message code="x" to="a&#x40;b.ca"><description>mail jane&#64;example.ca &amp; co</description><![CDATA[bob@example.org]]></message></messages>"#,
        );

        assert_eq!(
            redacted,
            r#"<messages><message code="x" to="[email redacted]"><description>mail [email redacted] &amp; co</description>[email redacted]</message></messages>"#
        );
    }

    #[test]
    fn a_body_is_read_as_what_it_is() {
        assert_eq!(
            redact_body(r#"{"phone":"555"}"#),
            format!(r#"{{"phone":"{REDACTED}"}}"#)
        );
        assert_eq!(
            redact_body("<email>a@b.ca</email>"),
            "<email>[redacted]</email>"
        );
        assert_eq!(
            redact_body("reach me: a@b.ca"),
            "reach me: [email redacted]"
        );
        assert_eq!(
            redact_body("{not json a@b.ca"),
            "{not json [email redacted]"
        );
    }
}
