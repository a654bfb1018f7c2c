//! Freshdesk tickets as automation-rule webhooks send them; recording them in the
//! `etl.freshdesk_tickets` envelope is [`crate::flows::recording::freshdesk`]'s job.
//! Freshdesk signs nothing (see `webhooks::verify` for how a delivery is
//! trusted) and renders labels, not codes: `support.extract_ticket_status` and
//! `support.extract_ticket_priority` normalise either.
//!
//! A webhook names a ticket's fields its own way (`ticket_status`, `ticket_type`, the
//! tags as one comma-separated string); the API names them `status`, `type`, `tags`
//! (a list). [`FreshdeskTicket::parse`] adds the API's names beside the webhook's, so
//! that a ticket stored from both shapes holds the latest delivery's values under one
//! name: a webhook after a poll replaces the poll's status rather than sitting beside it.

use serde_json::{Map, Value};

/// A ticket as an automation rule sends it: `{"freshdesk_webhook": {...}}` or the bare
/// object, with the ticket id as a string or a number.
#[derive(Debug, Clone)]
pub struct FreshdeskTicket {
    pub ticket_id: String,
    /// The helpdesk's host from `ticket_url`, when present.
    pub domain_from_url: Option<String>,
    pub(crate) requester_email: Option<String>,
    pub(crate) document: Map<String, Value>,
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
        Ok(Self {
            ticket_id,
            domain_from_url,
            requester_email: text("requester_email").or_else(|| text("email")),
            document,
        })
    }
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
    fn a_body_without_a_ticket_id_is_refused_by_name() {
        let err = FreshdeskTicket::parse(br#"{"freshdesk_webhook": {"ticket_status": "Open"}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("ticket_id"));
        assert!(FreshdeskTicket::parse(b"[1]").is_err());
    }
}
