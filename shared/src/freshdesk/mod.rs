//! Freshdesk tickets from automation-rule webhooks into the `etl.freshdesk_tickets`
//! envelope. Freshdesk signs nothing (see `webhooks::verify` for how a delivery is
//! trusted) and renders labels, not codes: `support.extract_ticket_status` and
//! `support.extract_ticket_priority` normalise either.

use serde_json::{Map, Value};
use sqlx::PgConnection;

use crate::customer_email::EmailPepper;
use crate::recording::hash_email;

/// A ticket as an automation rule sends it: `{"freshdesk_webhook": {...}}` or the bare
/// object, with the ticket id as a string or a number.
#[derive(Debug, Clone)]
pub struct FreshdeskTicket {
    /// The ticket's id.
    pub ticket_id: String,
    /// The helpdesk's host from `ticket_url`, when present.
    pub domain_from_url: Option<String>,
    requester_email: Option<String>,
    document: Map<String, Value>,
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
        let document = match outer.remove("freshdesk_webhook") {
            Some(Value::Object(inner)) => inner,
            Some(_) => return Err(InvalidTicket("freshdesk_webhook must be an object".into())),
            None => outer,
        };
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

/// How a ticket was filed: its status and priority as the seed's functions name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTicket {
    /// `open`, `pending`, `resolved`, `closed`, `other` or `unknown`.
    pub status: String,
    /// `low`, `medium`, `high`, `urgent`, `other` or `unknown`.
    pub priority: String,
}

/// Upserts the ticket under (domain, ticket id). A later delivery's fields replace the
/// earlier ones; fields it does not carry are kept.
pub async fn record_ticket(
    tx: &mut PgConnection,
    domain: &str,
    ticket: &FreshdeskTicket,
    pepper: &EmailPepper,
) -> Result<RecordedTicket, sqlx::Error> {
    let email = hash_email(ticket.requester_email.as_deref(), pepper);
    let document = Value::Object(ticket.document.clone()).to_string();
    let (status, priority): (String, String) = sqlx::query_as(
        "insert into etl.freshdesk_tickets as t
             (domain, freshdesk_ticket_id, requester_email_hash, data)
         values ($1, $2, $3, ops.redact_email_addresses($4)::jsonb)
         on conflict on constraint freshdesk_tickets_domain_ticket_id_key do update set
             requester_email_hash = coalesce(excluded.requester_email_hash, t.requester_email_hash),
             data = t.data || excluded.data
         returning support.extract_ticket_status(data), support.extract_ticket_priority(data)",
    )
    .bind(domain)
    .bind(&ticket.ticket_id)
    .bind(email.as_ref().map(|hash| hash.as_bytes().as_slice()))
    .bind(document)
    .fetch_one(&mut *tx)
    .await?;
    Ok(RecordedTicket { status, priority })
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
    fn a_body_without_a_ticket_id_is_refused_by_name() {
        let err = FreshdeskTicket::parse(br#"{"freshdesk_webhook": {"ticket_status": "Open"}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("ticket_id"));
        assert!(FreshdeskTicket::parse(b"[1]").is_err());
    }
}
