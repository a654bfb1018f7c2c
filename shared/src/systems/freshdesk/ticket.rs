//! Freshdesk tickets as automation-rule webhooks send them ([`FreshdeskTicket::parse`])
//! and as the REST API lists them ([`FreshdeskTicket::from_api`]); recording either in
//! the `etl.freshdesk_tickets` envelope and the inbox is
//! [`crate::flows::recording::freshdesk`]'s job. Freshdesk signs nothing (see
//! `webhooks::verify` for how a delivery is trusted) and a webhook renders labels, not
//! codes: `support.extract_ticket_status` and `support.extract_ticket_priority`
//! normalise either.
//!
//! A webhook names a ticket's fields its own way (`ticket_status`, `ticket_type`, the
//! tags as one comma-separated string); the API names them `status`, `type`, `tags`
//! (a list). [`FreshdeskTicket::parse`] adds the API's names beside the webhook's, so
//! that a ticket stored from both shapes holds the latest delivery's values under one
//! name: a webhook after a poll replaces the poll's status rather than sitting beside it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// A ticket as an automation rule sends it (`{"freshdesk_webhook": {...}}` or the bare
/// object, with the ticket id as a string or a number) or as the API lists it.
#[derive(Clone)]
pub struct FreshdeskTicket {
    pub ticket_id: String,
    /// The helpdesk's host from `ticket_url`, when present.
    pub domain_from_url: Option<String>,
    /// The ticket's own `updated_at`: which of two versions is newer. A webhook whose
    /// template carries none has `None`, and counts as of when it is recorded.
    pub updated_at: Option<DateTime<Utc>>,
    /// When the ticket was opened, when the document says.
    pub created_at: Option<DateTime<Utc>>,
    pub(crate) requester_email: Option<String>,
    pub(crate) document: Map<String, Value>,
}

/// The ticket id only: the document holds the requester's address and words.
impl std::fmt::Debug for FreshdeskTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreshdeskTicket")
            .field("ticket_id", &self.ticket_id)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// Why a Freshdesk body cannot be a ticket; the text names the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidTicket(String);

impl FreshdeskTicket {
    /// Reads a webhook body.
    pub fn parse(body: &[u8]) -> Result<Self, InvalidTicket> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|err| InvalidTicket(format!("body is not JSON: {err}")))?;
        let Value::Object(mut outer) = value else {
            return Err(InvalidTicket("body must be a JSON object".into()));
        };
        let mut document = match outer.remove("freshdesk_webhook") {
            Some(Value::Object(inner)) => inner,
            Some(_) => return Err(InvalidTicket("freshdesk_webhook must be an object".into())),
            None => outer,
        };
        add_api_names(&mut document);
        Self::from_document(document)
    }

    /// Reads one ticket of the API's list (`GET /api/v2/tickets?include=requester,description`).
    /// The embedded `requester` (address, name, phone) is taken out of the document: the
    /// address becomes the customer's hash, the rest is not kept.
    pub fn from_api(value: Value) -> Result<Self, InvalidTicket> {
        let Value::Object(mut document) = value else {
            return Err(InvalidTicket("a ticket must be a JSON object".into()));
        };
        let requester_email = match document.remove("requester") {
            Some(Value::Object(requester)) => requester
                .get("email")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        let mut ticket = Self::from_document(document)?;
        ticket.requester_email = ticket.requester_email.or(requester_email);
        Ok(ticket)
    }

    fn from_document(document: Map<String, Value>) -> Result<Self, InvalidTicket> {
        let ticket_id = match document.get("ticket_id").or_else(|| document.get("id")) {
            Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_owned(),
            Some(Value::Number(id)) => id.to_string(),
            _ => return Err(InvalidTicket("ticket_id is missing".into())),
        };
        let text = |key: &str| document.get(key).and_then(Value::as_str).map(str::to_owned);
        let domain_from_url = text("ticket_url").and_then(|url| {
            let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
            let host = rest.split(['/', ':', '?']).next().unwrap_or("");
            (!host.is_empty()).then(|| host.to_ascii_lowercase())
        });
        let time = |keys: &[&str]| {
            keys.iter()
                .filter_map(|key| text(key))
                .find_map(|raw| DateTime::parse_from_rfc3339(raw.trim()).ok())
                .map(|at| at.with_timezone(&Utc))
        };
        Ok(Self {
            ticket_id,
            domain_from_url,
            updated_at: time(&["updated_at", "ticket_updated_at"]),
            created_at: time(&["created_at", "ticket_created_at"]),
            requester_email: text("requester_email").or_else(|| text("email")),
            document,
        })
    }

    /// The subject, as the API or a webhook names it.
    pub fn subject(&self) -> Option<&str> {
        self.text("subject")
    }

    /// The ticket's type (`Question`, `Refund`…), the conversation's topic.
    pub fn kind(&self) -> Option<&str> {
        self.text("type")
    }

    /// The customer's first message as plain text: the API's `description_text`, else
    /// the description's HTML (a webhook's `ticket_description`) made text.
    pub fn description_text(&self) -> Option<String> {
        if let Some(text) = self.text("description_text") {
            return Some(text.trim().to_owned()).filter(|text| !text.is_empty());
        }
        self.text("description")
            .or_else(|| self.text("ticket_description"))
            .map(html_text)
            .filter(|text| !text.is_empty())
    }

    /// Whether the seller opened the ticket (Freshdesk's source 10, outbound e-mail), so
    /// its description is the shop's words rather than the customer's.
    pub fn opened_by_shop(&self) -> bool {
        self.document.get("source").and_then(Value::as_i64) == Some(10)
    }

    /// Texts that may name an order: the subject and the values of custom fields whose
    /// name speaks of an order (`cf_order_number`).
    pub fn order_hints(&self) -> Vec<&str> {
        let mut hints: Vec<&str> = Vec::new();
        if let Some(Value::Object(fields)) = self.document.get("custom_fields") {
            for (name, value) in fields {
                if name.to_ascii_lowercase().contains("order") {
                    if let Some(text) = value.as_str() {
                        hints.push(text);
                    }
                }
            }
        }
        hints.extend(self.subject());
        hints
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.document
            .get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.trim().is_empty())
    }
}

/// An HTML body (a ticket's description, a conversation's `body`) as plain text: tags
/// dropped, block ends as line breaks, the common entities decoded, blank runs squeezed.
pub fn html_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = &rest[open..];
            break;
        };
        let tag = rest[open + 1..open + close]
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if matches!(
            tag.as_str(),
            "br" | "p" | "div" | "li" | "tr" | "blockquote"
        ) {
            text.push('\n');
        }
        rest = &rest[open + close + 1..];
    }
    text.push_str(rest);
    let decoded = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Plain text as the HTML of a reply: `<`, `>`, `&` and quotes escaped, each line
/// break a `<br>`, so Freshdesk shows the words as written ([`html_text`] reads them
/// back).
pub fn text_html(text: &str) -> String {
    let mut html = String::with_capacity(text.len() + text.len() / 8);
    for c in text.replace("\r\n", "\n").chars() {
        match c {
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '&' => html.push_str("&amp;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            '\n' => html.push_str("<br>"),
            c => html.push(c),
        }
    }
    html
}

/// The webhook fields and the API fields they are (`ticket_status` is `status`, ...).
const WEBHOOK_NAMES: [(&str, &str); 5] = [
    ("ticket_status", "status"),
    ("ticket_priority", "priority"),
    ("ticket_type", "type"),
    ("ticket_subject", "subject"),
    ("ticket_tags", "tags"),
];

/// Puts each webhook field's value under the API's name too, unless the document
/// carries that name itself; tags sent as one string become the API's list.
fn add_api_names(document: &mut Map<String, Value>) {
    for (webhook, api) in WEBHOOK_NAMES {
        if document.contains_key(api) {
            continue;
        }
        let Some(value) = document.get(webhook) else {
            continue;
        };
        let value = match (api, value) {
            ("tags", Value::String(tags)) => Value::Array(
                tags.split(',')
                    .map(str::trim)
                    .filter(|tag| !tag.is_empty())
                    .map(|tag| Value::String(tag.to_owned()))
                    .collect(),
            ),
            (_, value) => value.clone(),
        };
        document.insert(api.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replys_text_goes_out_as_html_and_reads_back_as_written() {
        let text = "Order <245920461-A> & \"charger\":\r\nshipped today.\nTracking 123";
        let html = text_html(text);
        assert_eq!(
            html,
            "Order &lt;245920461-A&gt; &amp; &quot;charger&quot;:<br>shipped today.<br>Tracking 123"
        );
        assert_eq!(
            html_text(&html),
            "Order <245920461-A> & \"charger\":\nshipped today.\nTracking 123"
        );
    }

    #[test]
    fn a_wrapped_ticket_with_a_string_id_is_read() {
        let body = br#"{"freshdesk_webhook": {"ticket_id": "11",
            "ticket_url": "https://maple.freshdesk.com/helpdesk/tickets/11",
            "ticket_status": "Pending", "requester_email": "bob@example.ca"}}"#;
        let ticket = FreshdeskTicket::parse(body).unwrap();
        assert_eq!(ticket.ticket_id, "11");
        assert_eq!(
            ticket.domain_from_url.as_deref(),
            Some("maple.freshdesk.com")
        );
    }

    #[test]
    fn a_bare_ticket_with_a_numeric_id_is_read() {
        let ticket = FreshdeskTicket::parse(br#"{"id": 42, "status": 2}"#).unwrap();
        assert_eq!(ticket.ticket_id, "42");
        assert_eq!(ticket.domain_from_url, None);
    }

    #[test]
    fn a_webhook_ticket_carries_the_api_names_beside_its_own() {
        let body = br#"{"freshdesk_webhook": {"ticket_id": "12", "ticket_status": "Waiting on Customer",
            "ticket_type": "Question", "ticket_tags": "refund, Shipping,,", "ticket_priority": "High"}}"#;
        let ticket = FreshdeskTicket::parse(body).unwrap();
        let field = |name: &str| ticket.document.get(name).cloned();
        assert_eq!(field("status"), Some(Value::from("Waiting on Customer")));
        assert_eq!(field("type"), Some(Value::from("Question")));
        assert_eq!(field("priority"), Some(Value::from("High")));
        assert_eq!(
            field("tags"),
            Some(serde_json::json!(["refund", "Shipping"]))
        );
        assert_eq!(
            field("ticket_tags"),
            Some(Value::from("refund, Shipping,,"))
        );
    }

    #[test]
    fn an_api_name_the_document_carries_itself_is_kept() {
        let ticket =
            FreshdeskTicket::parse(br#"{"id": 7, "status": 2, "ticket_status": "Closed"}"#)
                .unwrap();
        assert_eq!(ticket.document.get("status"), Some(&Value::from(2)));
    }

    #[test]
    fn an_api_ticket_keeps_its_requester_address_apart_and_reads_its_times() {
        let ticket = FreshdeskTicket::from_api(serde_json::json!({
            "id": 90, "subject": "Where is 201934572-A?", "status": 2,
            "updated_at": "2026-11-30T08:00:05Z", "created_at": "2026-11-29T10:00:00Z",
            "custom_fields": {"cf_order_number": "201934572-A", "cf_colour": "red"},
            "requester": {"id": 5, "email": "ava@example.ca", "name": "Ava Tremblay"}
        }))
        .unwrap();
        assert_eq!(ticket.ticket_id, "90");
        assert_eq!(ticket.requester_email.as_deref(), Some("ava@example.ca"));
        assert!(!ticket.document.contains_key("requester"));
        assert_eq!(
            ticket.updated_at.map(|at| at.to_rfc3339()),
            Some("2026-11-30T08:00:05+00:00".to_owned())
        );
        assert_eq!(
            ticket.order_hints(),
            ["201934572-A", "Where is 201934572-A?"]
        );
        assert!(!format!("{ticket:?}").contains("ava"));
    }

    #[test]
    fn html_becomes_plain_text() {
        assert_eq!(
            html_text("<div>Hi,<br>where is it?</div><p>Thanks &amp; regards&nbsp;</p>"),
            "Hi,\nwhere is it?\nThanks & regards"
        );
        assert_eq!(html_text("plain"), "plain");
    }

    #[test]
    fn a_body_without_a_ticket_id_is_refused_by_name() {
        let err = FreshdeskTicket::parse(br#"{"freshdesk_webhook": {"ticket_status": "Open"}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("ticket_id"));
        assert!(FreshdeskTicket::parse(b"[1]").is_err());
    }
}
