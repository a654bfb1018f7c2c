//! One entry of a ticket's conversation (`GET /api/v2/tickets/{id}/conversations`, and
//! the answer of `POST /api/v2/tickets/{id}/reply`): a customer's e-mail, an agent's
//! reply or a private note.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ticket::html_text;
use crate::model::conversation::SenderType;

/// A conversation entry, with the fields the inbox keeps. Its document (`raw`) holds
/// addresses and words: it is stored only through the redaction.
#[derive(Clone)]
pub struct FreshdeskConversation {
    /// Freshdesk's conversation id, as text.
    pub id: String,
    /// Written by the customer (an e-mail or portal reply into the ticket).
    pub incoming: bool,
    /// An agents' note the customer never sees.
    pub private: bool,
    pub created_at: DateTime<Utc>,
    /// The words, as plain text.
    pub text: String,
    /// The entry as Freshdesk sent it.
    pub raw: String,
}

/// The id only: the rest is what people wrote.
impl std::fmt::Debug for FreshdeskConversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreshdeskConversation")
            .field("id", &self.id)
            .field("incoming", &self.incoming)
            .field("private", &self.private)
            .finish_non_exhaustive()
    }
}

impl FreshdeskConversation {
    /// Reads one entry; the error names the field that is missing or wrong.
    pub fn from_api(value: &Value) -> Result<Self, String> {
        let id = match value.get("id") {
            Some(Value::Number(id)) => id.to_string(),
            Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_owned(),
            _ => return Err("conversation id is missing".into()),
        };
        let created_at = value
            .get("created_at")
            .and_then(Value::as_str)
            .and_then(|raw| DateTime::parse_from_rfc3339(raw.trim()).ok())
            .map(|at| at.with_timezone(&Utc))
            .ok_or_else(|| format!("conversation {id}: created_at is not a date"))?;
        let text = match value.get("body_text").and_then(Value::as_str) {
            Some(text) if !text.trim().is_empty() => text.trim().to_owned(),
            _ => value
                .get("body")
                .and_then(Value::as_str)
                .map(html_text)
                .unwrap_or_default(),
        };
        Ok(Self {
            id,
            incoming: value.get("incoming").and_then(Value::as_bool) == Some(true),
            private: value.get("private").and_then(Value::as_bool) == Some(true),
            created_at,
            text,
            raw: value.to_string(),
        })
    }

    /// Who wrote it, as `support.messages` says: the customer for an incoming entry,
    /// else a person of the shop.
    pub fn sender_type(&self) -> SenderType {
        if self.incoming {
            SenderType::Customer
        } else {
            SenderType::Technician
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_read_with_its_plain_text_and_its_author() {
        let entry = FreshdeskConversation::from_api(&serde_json::json!({
            "id": 7001, "incoming": true, "private": false,
            "body": "<div>Still waiting</div>", "body_text": "",
            "from_email": "ava@example.ca", "created_at": "2026-11-30T08:00:00Z"
        }))
        .unwrap();
        assert_eq!(entry.id, "7001");
        assert_eq!(entry.text, "Still waiting");
        assert_eq!(entry.sender_type(), SenderType::Customer);
        assert!(!format!("{entry:?}").contains("ava"));
    }

    #[test]
    fn an_entry_without_a_date_is_refused_by_name() {
        let err = FreshdeskConversation::from_api(&serde_json::json!({"id": 1})).unwrap_err();
        assert!(err.contains("created_at"), "{err}");
    }
}
