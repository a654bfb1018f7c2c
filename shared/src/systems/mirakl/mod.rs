//! The Mirakl seller (shop) API, as Best Buy Canada runs it.
//!
//! [`MiraklClient`] builds each request (the shop's API key, JSON, the shop id) and
//! sends it through the shared [`HttpClient`], which logs it in `ops.api_calls` with the
//! key redacted and classifies the answer: 429 (with its `Retry-After`), 5xx, transport
//! failures and rejected credentials (401, 403) are retryable; any other 4xx is
//! permanent and carries Mirakl's message. The operations themselves (OR11, OR21, OR23, OR24,
//! M10, M11, M12, and the offers' OF02, OF04, OF21, OF24) live beside it, one file per area.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use uuid::Uuid;

use crate::ops::config::{ConfigError, MiraklSettings};
use crate::ops::errors::ProcessError;
use crate::ops::retry::RetryPolicy;
use crate::systems::http::{Answer, Call, Failure, HttpClient};

pub mod line_decisions;
pub mod offers;
pub mod order_state;
pub mod orders;
pub mod shipping;
pub mod threads;

/// The service name in `ops.api_calls`.
pub const SERVICE: &str = "mirakl";

/// How long one request may take before it counts as a timeout. Mirakl answers in about
/// a second; every function's time budget ([`crate::ops::time_budget`]) counts this per
/// attempt.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A Mirakl shop API client, built once per Lambda instance.
#[derive(Clone)]
pub struct MiraklClient {
    http: HttpClient,
    base_url: String,
    api_key: SecretString,
    shop_id: Option<String>,
}

impl std::fmt::Debug for MiraklClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiraklClient")
            .field("base_url", &self.base_url)
            .field("shop_id", &self.shop_id)
            .finish_non_exhaustive()
    }
}

/// One call to make: the operation's Mirakl code (e.g. `OR21`), method, path and body.
#[derive(Debug, Clone)]
pub struct MiraklRequest<'a> {
    /// Mirakl's operation code, for `ops.api_calls`.
    pub operation: &'a str,
    pub method: Method,
    /// The path after the base URL, starting with `/api/`.
    pub path: String,
    /// Query parameters (the shop id is added when configured).
    pub query: Vec<(&'a str, String)>,
    /// A JSON body, for PUT and POST.
    pub body: Option<serde_json::Value>,
    /// A `multipart/form-data` body instead (M12), for POST.
    pub form: Option<MultipartForm>,
    /// The order the call is about, linking the log row to it.
    pub order_id: Option<Uuid>,
}

/// A `multipart/form-data` body: parts each with its own media type, as Mirakl's
/// message calls take their JSON (`message_input`).
#[derive(Debug, Clone, Default)]
pub struct MultipartForm {
    pub parts: Vec<FormPart>,
}

/// One part of a [`MultipartForm`].
#[derive(Debug, Clone)]
pub struct FormPart {
    /// The form field's name (`message_input`).
    pub name: &'static str,
    /// The part's `Content-Type`, e.g. `application/json; charset=utf-8`.
    pub content_type: &'static str,
    pub content: String,
    /// What `ops.api_calls` keeps of the part when the call fails, when the content
    /// holds words a person wrote: the same document with that text withheld.
    pub logged_content: Option<String>,
}

impl MultipartForm {
    /// The body with `boundary` between parts; `for_log` puts each part's logged
    /// content in place of its content.
    fn encode(&self, boundary: &str, for_log: bool) -> String {
        let mut body = String::new();
        for part in &self.parts {
            let content = match (&part.logged_content, for_log) {
                (Some(logged), true) => logged,
                _ => &part.content,
            };
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\
                 Content-Type: {}\r\n\r\n{content}\r\n",
                part.name, part.content_type
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        body
    }
}

impl<'a> MiraklRequest<'a> {
    /// A request with no query, body or order.
    pub fn new(operation: &'a str, method: Method, path: impl Into<String>) -> Self {
        Self {
            operation,
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            form: None,
            order_id: None,
        }
    }
}

/// A successful answer (2xx).
#[derive(Debug, Clone)]
pub struct MiraklResponse {
    /// The status, e.g. 200, 201 or 204.
    pub status: u16,
    /// The body as received (empty for 204).
    pub body: String,
}

impl MiraklResponse {
    /// The body as JSON of type `T`; a body Mirakl should never send is permanent.
    pub fn json<T: serde::de::DeserializeOwned>(&self, operation: &str) -> Result<T, MiraklError> {
        serde_json::from_str(&self.body).map_err(|err| MiraklError::UnexpectedBody {
            operation: operation.to_owned(),
            reason: err.to_string(),
        })
    }
}

/// Why a Mirakl call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum MiraklError {
    /// 429: too many calls. Try again after `retry_after` when Mirakl says.
    #[error("Mirakl {operation} is rate limited (retry after {retry_after:?})")]
    RateLimited {
        /// The operation code.
        operation: String,
        /// Mirakl's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// 5xx: Mirakl is failing; try again later.
    #[error("Mirakl {operation} failed with HTTP {status}")]
    Unavailable {
        /// The operation code.
        operation: String,
        status: u16,
    },
    /// No answer: connection refused, reset, or timed out.
    #[error("Mirakl {operation} could not be reached")]
    Transport {
        /// The operation code.
        operation: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// 401 or 403: Mirakl refused the shop's API key. A configuration fault, not the
    /// order's: retryable, so nothing decided about the order is undone.
    #[error("Mirakl {operation} rejected the shop's API key (HTTP {status})")]
    CredentialsRejected {
        /// The operation code.
        operation: String,
        status: u16,
    },
    /// Any other 4xx: the request is wrong for this order or shop; retrying won't help.
    #[error("Mirakl {operation} refused the request with HTTP {status}: {message}")]
    Rejected {
        /// The operation code.
        operation: String,
        status: u16,
        /// Mirakl's message (its JSON `message`, else the body), e.g. `ORDER_INVALID_STATE`.
        message: String,
    },
    /// A 2xx whose body is not what the API documents.
    #[error("Mirakl {operation} answered with an unexpected body: {reason}")]
    UnexpectedBody {
        /// The operation code.
        operation: String,
        /// What did not parse.
        reason: String,
    },
}

impl From<MiraklError> for ProcessError {
    fn from(err: MiraklError) -> Self {
        match err {
            MiraklError::RateLimited { .. }
            | MiraklError::Unavailable { .. }
            | MiraklError::Transport { .. }
            | MiraklError::CredentialsRejected { .. } => {
                let context = err.to_string();
                ProcessError::retryable(context, err)
            }
            MiraklError::Rejected { .. } | MiraklError::UnexpectedBody { .. } => {
                ProcessError::permanent(err.to_string())
            }
        }
    }
}

impl MiraklError {
    /// The error for `operation` from the shared client's classification; a refusal
    /// carries Mirakl's own message.
    fn from_failure(operation: &str, failure: Failure) -> Self {
        let operation = operation.to_owned();
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
                message: error_message(&String::from_utf8_lossy(&body)),
            },
        }
    }
}

impl MiraklClient {
    /// Builds the client from its settings, logging calls through `log`.
    pub fn from_settings(settings: &MiraklSettings, log: PgPool) -> Result<Self, ConfigError> {
        Self::new(
            &settings.base_url,
            settings.api_key.clone(),
            settings.shop_id.clone(),
            log,
        )
        .map_err(|err| {
            ConfigError::invalid(
                "MIRAKL_BASE_URL",
                format!("cannot build an HTTP client: {err}"),
            )
        })
    }

    /// A client for `base_url` (e.g. `https://marketplace.bestbuy.ca`), logging calls
    /// through `log`.
    pub fn new(
        base_url: &str,
        api_key: SecretString,
        shop_id: Option<String>,
        log: PgPool,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: HttpClient::new(SERVICE, REQUEST_TIMEOUT, log)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            shop_id,
        })
    }

    /// The same client with another request timeout (a caller whose budget is tighter,
    /// and tests that make a request time out).
    pub fn with_timeout(&self, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: self.http.with_timeout(timeout)?,
            ..self.clone()
        })
    }

    /// Sends one request, logs it, and classifies the answer.
    pub async fn send(&self, request: MiraklRequest<'_>) -> Result<MiraklResponse, MiraklError> {
        let call = self.call(&request);
        let answer = self.http.send(&call).await;
        respond(request.operation, answer)
    }

    /// Sends `request`, retrying 429 (honouring a short `Retry-After`), 5xx and transport
    /// failures as `policy` allows. Each attempt is logged.
    pub async fn send_retrying(
        &self,
        request: MiraklRequest<'_>,
        policy: RetryPolicy,
    ) -> Result<MiraklResponse, MiraklError> {
        let call = self.call(&request);
        let answer = self.http.send_retrying(&call, policy).await;
        respond(request.operation, answer)
    }

    fn call<'a>(&self, request: &MiraklRequest<'a>) -> Call<'a> {
        let mut call = Call::new(
            request.operation,
            request.method.clone(),
            format!("{}{}", self.base_url, request.path),
        );
        call.query.clone_from(&request.query);
        if let Some(shop_id) = &self.shop_id {
            call.query.push(("shop_id", shop_id.clone()));
        }
        call.headers = vec![
            (AUTHORIZATION, self.api_key.expose_secret().to_owned()),
            (ACCEPT, "application/json".to_owned()),
        ];
        if let Some(body) = &request.body {
            call.headers
                .push((CONTENT_TYPE, "application/json".to_owned()));
            call.body = Some(body.to_string());
        } else if let Some(form) = &request.form {
            // A fresh boundary per request: it cannot occur in the parts' text.
            let boundary = format!("sellerops-{}", Uuid::new_v4().simple());
            call.headers.push((
                CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            ));
            call.body = Some(form.encode(&boundary, false));
            if form.parts.iter().any(|part| part.logged_content.is_some()) {
                call.logged_body = Some(form.encode(&boundary, true));
            }
        }
        call.order_id = request.order_id;
        call
    }
}

fn respond(
    operation: &str,
    answer: Result<Answer, Failure>,
) -> Result<MiraklResponse, MiraklError> {
    match answer {
        Ok(Answer { status, body }) => Ok(MiraklResponse {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        }),
        Err(failure) => Err(MiraklError::from_failure(operation, failure)),
    }
}

/// Mirakl's error text: the JSON `message` when there is one, else the body itself.
fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|json| {
            json.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| body.trim().chars().take(500).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classified(operation: &str, failure: Failure) -> MiraklError {
        MiraklError::from_failure(operation, failure)
    }

    #[test]
    fn a_429_is_rate_limited_and_retryable() {
        let err = classified(
            "OR11",
            Failure::RateLimited {
                retry_after: Some(Duration::from_secs(7)),
            },
        );
        assert!(
            matches!(err, MiraklError::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 7)
        );
        assert_eq!(
            ProcessError::from(err).disposition(),
            crate::ops::errors::Disposition::Retry
        );
    }

    #[test]
    fn a_4xx_is_permanent_and_names_mirakls_message() {
        let body = br#"{"status":400,"message":"ORDER_INVALID_STATE"}"#.to_vec();
        let err = classified("OR21", Failure::Rejected { status: 400, body });
        let process = ProcessError::from(err);
        assert_eq!(
            process.disposition(),
            crate::ops::errors::Disposition::GiveUp
        );
        assert!(
            process.to_string().contains("ORDER_INVALID_STATE"),
            "{process}"
        );
    }

    #[test]
    fn a_5xx_is_retryable() {
        let err = classified("OR23", Failure::Unavailable { status: 503 });
        assert_eq!(
            ProcessError::from(err).disposition(),
            crate::ops::errors::Disposition::Retry
        );
    }

    #[test]
    fn rejected_credentials_are_retryable_not_a_refusal() {
        for status in [401, 403] {
            let err = classified("OR21", Failure::CredentialsRejected { status });
            assert!(!line_decisions::is_invalid_state(&err));
            assert_eq!(
                ProcessError::from(err).disposition(),
                crate::ops::errors::Disposition::Retry
            );
        }
    }

    #[test]
    fn a_plain_text_error_body_is_kept_as_the_message() {
        assert_eq!(error_message(" Order not found \n"), "Order not found");
    }
}
