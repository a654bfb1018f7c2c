//! Customer message threads: M11 (`GET /api/inbox/threads`, the paged list), M10
//! (`GET /api/inbox/threads/{thread_id}`, one thread with its messages) and M12
//! (`POST /api/inbox/threads/{thread_id}/message`, a reply).
//!
//! M12 has no idempotency key: sent twice, the customer reads the reply twice. Its
//! failure therefore says what Mirakl may have done ([`SendEffect`]): nothing (the
//! request never left, or was turned away before any work), a refusal, or unknown (a
//! timeout after sending, a 5xx, an answer that could not be read), which only a read
//! of the thread (M10) settles.
//!
//! A message's body is what a customer or the shop wrote: personal data. It is never
//! logged; a failed M12 is kept in `ops.api_calls` with its body withheld and its
//! recipients shown.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::line_decisions::path_segment;
use super::{FormPart, MiraklClient, MiraklError, MiraklRequest, MultipartForm};
use crate::model::conversation::SenderType;
use crate::model::personal_data::REDACTED;
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

/// M10: one thread with its messages, as received (its JSON text kept for recording).
/// A transient failure is retried as `policy` allows.
pub async fn get_thread(
    client: &MiraklClient,
    thread_id: &str,
    policy: RetryPolicy,
) -> Result<Received<MiraklThread>, MiraklError> {
    let request = MiraklRequest::new(
        "M10",
        Method::GET,
        format!("/api/inbox/threads/{}", path_segment(thread_id)),
    );
    client.send_retrying(request, policy).await?.json("M10")
}

/// A recipient of an M12 message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// `CUSTOMER`, `OPERATOR` or `SHOP`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The participant's id; absent for the operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Recipient {
    /// The thread's customer, by their Mirakl id.
    pub fn customer(id: &str) -> Self {
        Self {
            kind: "CUSTOMER",
            id: Some(id.to_owned()),
        }
    }
}

/// M12's `message_input` part.
#[derive(Debug, Clone, Serialize)]
struct MessageInput<'a> {
    body: &'a str,
    to: &'a [Recipient],
}

/// M12's answer: the id Mirakl gave the message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SentMessage {
    pub message_id: String,
}

pub use crate::systems::http::SendEffect;

impl MiraklError {
    /// What the failed request may have done, for a call that is not idempotent.
    pub fn send_effect(&self) -> SendEffect {
        match self {
            Self::RateLimited { .. } | Self::CredentialsRejected { .. } => SendEffect::NeverLeft,
            Self::Transport { source, .. } if source.is_connect() || source.is_builder() => {
                SendEffect::NeverLeft
            }
            Self::Rejected { .. } => SendEffect::Refused,
            Self::Unavailable { .. } | Self::Transport { .. } | Self::UnexpectedBody { .. } => {
                SendEffect::Ambiguous
            }
        }
    }
}

/// M12: sends `body` to `to` in thread `thread_id`, as `multipart/form-data` with one
/// `message_input` JSON part; Mirakl answers 201 with the new message's id. The call
/// log keeps the part with its body withheld. A failure says what may have happened
/// through [`MiraklError::send_effect`]; `policy` retries only what provably never
/// left or was turned away (the shared client never repeats a POST that may have
/// arrived).
pub async fn reply_to_thread(
    client: &MiraklClient,
    thread_id: &str,
    body: &str,
    to: &[Recipient],
    policy: RetryPolicy,
) -> Result<SentMessage, MiraklError> {
    let json = |body: &str| {
        serde_json::to_string(&MessageInput { body, to }).map_err(|err| {
            MiraklError::UnexpectedBody {
                operation: "M12".into(),
                reason: format!("the message could not be written as JSON: {err}"),
            }
        })
    };
    let mut request = MiraklRequest::new(
        "M12",
        Method::POST,
        format!("/api/inbox/threads/{}/message", path_segment(thread_id)),
    );
    request.form = Some(MultipartForm {
        parts: vec![FormPart {
            name: "message_input",
            content_type: "application/json; charset=utf-8",
            content: json(body)?,
            logged_content: Some(json(REDACTED)?),
        }],
    });
    client.send_retrying(request, policy).await?.json("M12")
}
