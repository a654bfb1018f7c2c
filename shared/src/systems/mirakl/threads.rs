//! M11 (`GET /api/inbox/threads`): customer message threads and the paged list call.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::Deserialize;

use super::{MiraklClient, MiraklError, MiraklRequest};
use crate::model::conversation::SenderType;
use crate::model::received::Received;
use crate::ops::retry::RetryPolicy;

/// One message thread, with its latest messages.
#[derive(Debug, Deserialize)]
pub struct MiraklThread {
    /// Mirakl's thread id (a UUID).
    pub id: String,
    /// When the thread was opened.
    pub date_created: DateTime<Utc>,
    /// When it last changed: the newer version of a thread wins.
    pub date_updated: DateTime<Utc>,
    /// What it is about.
    #[serde(default)]
    pub topic: Option<ThreadTopic>,
    /// The order (or offer) the thread is about.
    #[serde(default)]
    pub entities: Vec<ThreadEntity>,
    /// Who takes part.
    #[serde(default)]
    pub current_participants: Vec<Participant>,
    /// The latest messages (M11 `with_messages=true` returns up to 100).
    #[serde(default)]
    pub messages: Vec<Received<ThreadMessage>>,
}

/// A thread's subject.
#[derive(Debug, Clone, Deserialize)]
pub struct ThreadTopic {
    /// `FREE_TEXT` or `REASON_CODE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text or the reason code.
    #[serde(default)]
    pub value: Option<String>,
}

/// What a thread is attached to.
#[derive(Debug, Clone, Deserialize)]
pub struct ThreadEntity {
    /// The entity's id: a Mirakl order id for `MMP_ORDER`.
    pub id: String,
    /// `MMP_ORDER`, `MMP_OFFER`, `SELLER_OPERATOR`, …
    #[serde(rename = "type")]
    pub kind: String,
}

/// A participant: the shop, the customer or the operator.
#[derive(Debug, Clone, Deserialize)]
pub struct Participant {
    /// Absent for the operator.
    #[serde(default)]
    pub id: Option<String>,
    /// `SHOP`, `CUSTOMER` or `OPERATOR`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// One message.
#[derive(Debug, Clone, Deserialize)]
pub struct ThreadMessage {
    /// Mirakl's message id.
    pub id: String,
    /// The text.
    #[serde(default)]
    pub body: String,
    /// When it was sent.
    pub date_created: DateTime<Utc>,
    /// Who wrote it.
    pub from: MessageAuthor,
}

/// A message's author.
#[derive(Debug, Clone, Deserialize)]
pub struct MessageAuthor {
    /// `CUSTOMER_USER`, `SHOP_USER` or `OPERATOR_USER`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The name shown.
    #[serde(default)]
    pub display_name: Option<String>,
}

impl MiraklThread {
    /// The Mirakl order the thread is about, when it is about one.
    pub fn order_id(&self) -> Option<&str> {
        self.entities
            .iter()
            .find(|entity| entity.kind == "MMP_ORDER")
            .map(|entity| entity.id.as_str())
    }

    /// The customer's Mirakl id, when a customer takes part.
    pub fn customer_id(&self) -> Option<&str> {
        self.current_participants
            .iter()
            .find(|participant| participant.kind == "CUSTOMER")
            .and_then(|participant| participant.id.as_deref())
    }
}

impl MessageAuthor {
    /// Who this author is in `support.messages`.
    pub fn sender_type(&self) -> SenderType {
        match self.kind.as_str() {
            "CUSTOMER_USER" => SenderType::Customer,
            "SHOP_USER" => SenderType::Technician,
            "OPERATOR_USER" => SenderType::Operator,
            _ => SenderType::System,
        }
    }
}

/// One page of M11.
#[derive(Debug, Deserialize)]
pub struct ThreadPage {
    /// The threads, each with its JSON text.
    pub data: Vec<Received<MiraklThread>>,
    /// The token of the next page; absent on the last.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// M11: threads changed since a time, with their messages; `page_token` continues a list.
/// A transient failure is retried as `policy` allows.
pub async fn list_threads(
    client: &MiraklClient,
    updated_since: DateTime<Utc>,
    page_token: Option<&str>,
    policy: RetryPolicy,
) -> Result<ThreadPage, MiraklError> {
    let mut request = MiraklRequest::new("M11", Method::GET, "/api/inbox/threads");
    request.query = vec![
        (
            "updated_since",
            updated_since.to_rfc3339_opts(SecondsFormat::Secs, true),
        ),
        ("with_messages", "true".to_owned()),
        ("limit", "50".to_owned()),
    ];
    if let Some(token) = page_token {
        request.query.push(("page_token", token.to_owned()));
    }
    client.send_retrying(request, policy).await?.json("M11")
}
