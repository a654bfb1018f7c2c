//! The Freshdesk REST API v2, as the helpdesk sync reads it and the reply flow writes.
//!
//! - [`FreshdeskClient::tickets_updated_since`]: one page of `GET /api/v2/tickets`,
//!   the tickets updated at or after a time, oldest change first (`updated_since`,
//!   `order_by=updated_at`, `order_type=asc`, `page`, `per_page`), each with its
//!   requester and description embedded (`include=requester,description`).
//! - [`FreshdeskClient::conversations`]: one page of a ticket's conversations.
//! - [`FreshdeskClient::reply`]: `POST /api/v2/tickets/{id}/reply`. It has no
//!   idempotency key; a failure says what Freshdesk may have done
//!   ([`FreshdeskError::send_effect`]), and only a read of the conversations settles an
//!   unknown outcome.
//!
//! A page is the last one when it holds fewer entries than asked for: Freshdesk also
//! names the next page in a `link` header, but a short page says the same without one.
//!
//! Authentication is HTTP Basic with the API key as the user and any password. The key
//! is a secret: it is never printed (`Debug` leaves it out), the call log redacts the
//! `Authorization` header, and no error carries it. Freshdesk limits calls per minute;
//! a 429 comes with `Retry-After`, which the retry policy honours up to its longest
//! wait ([`FreshdeskError::RateLimited`] otherwise, for the caller to stop and come
//! back).

use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::conversation::FreshdeskConversation;
use super::ticket::{FreshdeskTicket, InvalidTicket};
use crate::model::personal_data::REDACTED;
use crate::ops::config::{ConfigError, FreshdeskSettings};
use crate::ops::errors::ProcessError;
use crate::ops::retry::RetryPolicy;
use crate::systems::http::{Answer, Call, Failure, HttpClient, SendEffect};

/// The service name in `ops.api_calls`.
pub const SERVICE: &str = "freshdesk";

/// How long one request may take before it counts as a timeout; the time budgets
/// ([`crate::ops::time_budget`]) count it per attempt.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The most entries Freshdesk returns per page.
pub const MAX_PER_PAGE: u32 = 100;

/// A client of one helpdesk, built once per Lambda instance.
#[derive(Clone)]
pub struct FreshdeskClient {
    http: HttpClient,
    base_url: String,
    api_key: SecretString,
}

impl std::fmt::Debug for FreshdeskClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreshdeskClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// One page of tickets.
#[derive(Debug)]
pub struct TicketsPage {
    /// In Freshdesk's order (oldest change first): each ticket, or why one cannot be
    /// read (named by its id when it has one).
    pub tickets: Vec<Result<FreshdeskTicket, (String, InvalidTicket)>>,
    /// Whether the page was full, so that another may follow.
    pub full: bool,
}

/// One page of a ticket's conversations.
#[derive(Debug)]
pub struct ConversationsPage {
    /// Oldest first: each entry, or why one cannot be read.
    pub conversations: Vec<Result<FreshdeskConversation, String>>,
    /// Whether the page was full, so that another may follow.
    pub full: bool,
}

/// Why a Freshdesk call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum FreshdeskError {
    /// 429: the per-minute limit is spent; `Retry-After` says when it refills.
    #[error("Freshdesk {operation} is rate limited (retry after {retry_after:?})")]
    RateLimited {
        operation: &'static str,
        retry_after: Option<Duration>,
    },
    /// 5xx: Freshdesk is failing.
    #[error("Freshdesk {operation} failed with HTTP {status}")]
    Unavailable {
        operation: &'static str,
        status: u16,
    },
    /// No answer: connection refused, reset, or timed out.
    #[error("Freshdesk {operation} could not be reached")]
    Transport {
        operation: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// 401 or 403: the API key was refused. A configuration fault: retryable.
    #[error("Freshdesk {operation} rejected the API key (HTTP {status})")]
    CredentialsRejected {
        operation: &'static str,
        status: u16,
    },
    /// Any other 4xx: the request is wrong (a ticket that does not exist, a field
    /// refused); Freshdesk's `description` and field errors say why.
    #[error("Freshdesk {operation} refused the request with HTTP {status}: {message}")]
    Rejected {
        operation: &'static str,
        status: u16,
        message: String,
    },
    /// A 2xx whose body is not what the API documents.
    #[error("Freshdesk {operation} answered with an unexpected body: {reason}")]
    UnexpectedBody {
        operation: &'static str,
        reason: String,
    },
}

impl FreshdeskError {
    /// How long Freshdesk asked to wait, when it answered 429 with `Retry-After`.
    pub fn asked_to_wait(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// What a failed reply may have done.
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

    fn from_failure(operation: &'static str, failure: Failure) -> Self {
        match failure {
            Failure::RateLimited { retry_after } => Self::RateLimited {
                operation,
                retry_after,
            },
            Failure::Unavailable { status } => Self::Unavailable { operation, status },
            Failure::Transport { source } => Self::Transport { operation, source },
            Failure::CredentialsRejected { status } => {
                Self::CredentialsRejected { operation, status }
            }
            Failure::Rejected { status, body } => Self::Rejected {
                operation,
                status,
                message: error_message(&body),
            },
        }
    }
}

impl From<FreshdeskError> for ProcessError {
    fn from(err: FreshdeskError) -> Self {
        match err {
            FreshdeskError::Rejected { .. } | FreshdeskError::UnexpectedBody { .. } => {
                ProcessError::permanent(err.to_string())
            }
            _ => {
                let context = err.to_string();
                ProcessError::retryable(context, err)
            }
        }
    }
}

/// Freshdesk's error text: `description` and each field error (`name: missing_field`);
/// the body itself, cut short, when it is not that shape. Field errors name fields, not
/// values, so no personal data comes with them.
fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let Ok(json) = serde_json::from_str::<Value>(&text) else {
        return text.trim().chars().take(200).collect();
    };
    let mut parts: Vec<String> = json
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .into_iter()
        .collect();
    for error in json
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let field = error.get("field").and_then(Value::as_str).unwrap_or("?");
        let code = error
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("invalid");
        parts.push(format!("{field}: {code}"));
    }
    if parts.is_empty() {
        "no description".to_owned()
    } else {
        parts.join("; ")
    }
}

impl FreshdeskClient {
    /// Builds the client from its settings, logging calls through `log`.
    pub fn from_settings(settings: &FreshdeskSettings, log: PgPool) -> Result<Self, ConfigError> {
        Self::new(&settings.base_url, settings.api_key.clone(), log).map_err(|err| {
            ConfigError::invalid(
                "FRESHDESK_BASE_URL",
                format!("cannot build an HTTP client: {err}"),
            )
        })
    }

    /// A client for the helpdesk at `base_url` (`https://example.freshdesk.com`).
    pub fn new(base_url: &str, api_key: SecretString, log: PgPool) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: HttpClient::new(SERVICE, REQUEST_TIMEOUT, log)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
        })
    }

    /// The same client with another request timeout (tests that make a call time out).
    pub fn with_timeout(&self, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: self.http.with_timeout(timeout)?,
            ..self.clone()
        })
    }

    fn call<'a>(&self, operation: &'a str, method: Method, path: &str) -> Call<'a> {
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:X", self.api_key.expose_secret()));
        let mut call = Call::new(operation, method, format!("{}{path}", self.base_url));
        call.headers = vec![
            (AUTHORIZATION, format!("Basic {credentials}")),
            (ACCEPT, "application/json".to_owned()),
        ];
        call
    }

    /// Page `page` (from 1) of the tickets updated at or after `since`, oldest change
    /// first, `per_page` at most (up to [`MAX_PER_PAGE`]). A 429, a 5xx or no answer is
    /// asked again as `policy` allows, after the wait a 429's `Retry-After` asks for.
    pub async fn tickets_updated_since(
        &self,
        since: DateTime<Utc>,
        page: u32,
        per_page: u32,
        policy: RetryPolicy,
    ) -> Result<TicketsPage, FreshdeskError> {
        const OPERATION: &str = "list_tickets";
        let per_page = per_page.clamp(1, MAX_PER_PAGE);
        let mut call = self.call(OPERATION, Method::GET, "/api/v2/tickets");
        call.query = vec![
            (
                "updated_since",
                since.to_rfc3339_opts(SecondsFormat::Secs, true),
            ),
            ("order_by", "updated_at".to_owned()),
            ("order_type", "asc".to_owned()),
            ("include", "requester,description".to_owned()),
            ("page", page.max(1).to_string()),
            ("per_page", per_page.to_string()),
        ];
        let entries = self.list(&call, OPERATION, policy).await?;
        let full = entries.len() >= per_page as usize;
        let tickets = entries
            .into_iter()
            .map(|entry| {
                let id = entry
                    .get("id")
                    .map_or_else(|| "(no id)".to_owned(), |id| id.to_string());
                FreshdeskTicket::from_api(entry).map_err(|err| (id, err))
            })
            .collect();
        Ok(TicketsPage { tickets, full })
    }

    /// Page `page` (from 1) of ticket `ticket_id`'s conversations, oldest first.
    pub async fn conversations(
        &self,
        ticket_id: &str,
        page: u32,
        per_page: u32,
        policy: RetryPolicy,
    ) -> Result<ConversationsPage, FreshdeskError> {
        const OPERATION: &str = "list_conversations";
        let per_page = per_page.clamp(1, MAX_PER_PAGE);
        let path = format!("/api/v2/tickets/{}/conversations", path_segment(ticket_id));
        let mut call = self.call(OPERATION, Method::GET, &path);
        call.query = vec![
            ("page", page.max(1).to_string()),
            ("per_page", per_page.to_string()),
        ];
        let entries = self.list(&call, OPERATION, policy).await?;
        let full = entries.len() >= per_page as usize;
        Ok(ConversationsPage {
            conversations: entries
                .iter()
                .map(FreshdeskConversation::from_api)
                .collect(),
            full,
        })
    }

    /// Posts `body` (HTML) as the shop's public reply to ticket `ticket_id`; Freshdesk
    /// answers 201 with the new conversation entry. The call log keeps the request with
    /// its words withheld. `policy` retries only what provably never left or was turned
    /// away (the shared client never repeats a POST that may have arrived).
    pub async fn reply(
        &self,
        ticket_id: &str,
        body: &str,
        policy: RetryPolicy,
    ) -> Result<FreshdeskConversation, FreshdeskError> {
        const OPERATION: &str = "reply";
        let path = format!("/api/v2/tickets/{}/reply", path_segment(ticket_id));
        let mut call = self.call(OPERATION, Method::POST, &path);
        call.headers
            .push((CONTENT_TYPE, "application/json".to_owned()));
        call.body = Some(json!({ "body": body }).to_string());
        call.logged_body = Some(json!({ "body": REDACTED }).to_string());
        let answer = self
            .http
            .send_retrying(&call, policy)
            .await
            .map_err(|failure| FreshdeskError::from_failure(OPERATION, failure))?;
        let value: Value = parse(OPERATION, &answer)?;
        FreshdeskConversation::from_api(&value).map_err(|reason| FreshdeskError::UnexpectedBody {
            operation: OPERATION,
            reason,
        })
    }

    async fn list(
        &self,
        call: &Call<'_>,
        operation: &'static str,
        policy: RetryPolicy,
    ) -> Result<Vec<Value>, FreshdeskError> {
        let answer = self
            .http
            .send_retrying(call, policy)
            .await
            .map_err(|failure| FreshdeskError::from_failure(operation, failure))?;
        parse(operation, &answer)
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    operation: &'static str,
    answer: &Answer,
) -> Result<T, FreshdeskError> {
    serde_json::from_slice(&answer.body).map_err(|err| FreshdeskError::UnexpectedBody {
        operation,
        reason: err.to_string(),
    })
}

/// A ticket id as one path segment: Freshdesk's ids are numbers; anything else is
/// percent-encoded rather than allowed to change the path.
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_freshdesks_description_and_fields() {
        let body = br#"{"description":"Validation failed","errors":[{"field":"email","message":"It should be a valid email address","code":"invalid_value"}]}"#;
        assert_eq!(
            error_message(body),
            "Validation failed; email: invalid_value"
        );
        assert_eq!(error_message(b"  gateway says no "), "gateway says no");
    }

    #[test]
    fn a_failed_reply_says_what_may_have_happened() {
        let limited = FreshdeskError::RateLimited {
            operation: "reply",
            retry_after: Some(Duration::from_secs(30)),
        };
        assert_eq!(limited.send_effect(), SendEffect::NeverLeft);
        assert_eq!(limited.asked_to_wait(), Some(Duration::from_secs(30)));
        let failing = FreshdeskError::Unavailable {
            operation: "reply",
            status: 502,
        };
        assert_eq!(failing.send_effect(), SendEffect::Ambiguous);
        let refused = FreshdeskError::Rejected {
            operation: "reply",
            status: 404,
            message: "not found".into(),
        };
        assert_eq!(refused.send_effect(), SendEffect::Refused);
        assert_eq!(
            ProcessError::from(refused).disposition(),
            crate::ops::errors::Disposition::GiveUp
        );
    }

    #[test]
    fn an_id_cannot_leave_its_path_segment() {
        assert_eq!(path_segment("311"), "311");
        assert_eq!(path_segment("../x"), "%2E%2E%2Fx");
    }
}
