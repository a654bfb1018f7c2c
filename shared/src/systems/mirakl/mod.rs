//! The Mirakl seller (shop) API, as Best Buy Canada runs it.
//!
//! [`MiraklClient`] sends one request, logs it in `ops.api_calls` with the API key
//! redacted, and classifies the answer: 429 (with its `Retry-After`), 5xx and transport
//! failures are retryable; any other 4xx is permanent and carries Mirakl's message.
//! The operations themselves (OR11, OR21, OR23, OR24, M11, M12) live beside it, one file
//! per area.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use uuid::Uuid;

use crate::ops::api_calls::{record_api_call, ApiCall};
use crate::ops::config::{ConfigError, MiraklSettings};

pub mod orders;
pub mod threads;
use crate::ops::errors::{error_chain, ProcessError};

/// The service name in `ops.api_calls`.
pub const SERVICE: &str = "mirakl";

/// How long one request may take before it counts as a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A Mirakl shop API client, built once per Lambda instance.
#[derive(Clone)]
pub struct MiraklClient {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    shop_id: Option<String>,
    log: PgPool,
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
    /// The HTTP method.
    pub method: Method,
    /// The path after the base URL, starting with `/api/`.
    pub path: String,
    /// Query parameters (the shop id is added when configured).
    pub query: Vec<(&'a str, String)>,
    /// A JSON body, for PUT and POST.
    pub body: Option<serde_json::Value>,
    /// The order the call is about, linking the log row to it.
    pub order_id: Option<Uuid>,
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
        /// The status.
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
    /// Any other 4xx: the request is wrong for this order or shop; retrying won't help.
    #[error("Mirakl {operation} refused the request with HTTP {status}: {message}")]
    Rejected {
        /// The operation code.
        operation: String,
        /// The status.
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
            | MiraklError::Transport { .. } => {
                let context = err.to_string();
                ProcessError::retryable(context, err)
            }
            MiraklError::Rejected { .. } | MiraklError::UnexpectedBody { .. } => {
                ProcessError::permanent(err.to_string())
            }
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
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            shop_id,
            log,
        })
    }

    /// Sends one request, logs it, and classifies the answer.
    pub async fn send(&self, request: MiraklRequest<'_>) -> Result<MiraklResponse, MiraklError> {
        let operation = request.operation.to_owned();
        let mut query = request.query.clone();
        if let Some(shop_id) = &self.shop_id {
            query.push(("shop_id", shop_id.clone()));
        }
        let url = format!("{}{}", self.base_url, request.path);
        let mut builder = self
            .http
            .request(request.method.clone(), &url)
            .header(AUTHORIZATION, self.api_key.expose_secret())
            .header(ACCEPT, "application/json")
            .query(&query);
        let request_body = request.body.as_ref().map(|body| body.to_string());
        if let Some(body) = &request_body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let built = builder.build().map_err(|source| MiraklError::Transport {
            operation: operation.clone(),
            source,
        })?;

        let mut log = ApiCall::new(
            SERVICE,
            &operation,
            request.method.as_str(),
            built.url().as_str(),
            header_pairs(built.headers()),
        );
        log.request_body = request_body;
        log.order_id = request.order_id;

        let started = Instant::now();
        let outcome = self.http.execute(built).await;
        log.duration = started.elapsed();
        let result = match outcome {
            Err(source) => {
                log.error = Some(error_chain(&source));
                Err(MiraklError::Transport { operation, source })
            }
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = retry_after(response.headers());
                let body = response.text().await.unwrap_or_default();
                log.status_code = Some(status);
                log.response_body = Some(body.clone());
                classify(operation, status, retry_after, body)
            }
        };
        // The log must not make a successful call fail: a lost log row is reported,
        // the call's outcome stands.
        if let Err(err) = record_api_call(&self.log, &log).await {
            tracing::warn!(error = %error_chain(&err), "could not log Mirakl call");
        }
        result
    }
}

fn classify(
    operation: String,
    status: u16,
    retry_after: Option<Duration>,
    body: String,
) -> Result<MiraklResponse, MiraklError> {
    match status {
        200..=299 => Ok(MiraklResponse { status, body }),
        429 => Err(MiraklError::RateLimited {
            operation,
            retry_after,
        }),
        500..=599 => Err(MiraklError::Unavailable { operation, status }),
        _ => Err(MiraklError::Rejected {
            operation,
            status,
            message: error_message(&body),
        }),
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

/// `Retry-After` as seconds (the form Mirakl uses); an HTTP date is not honoured.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn header_pairs(headers: &HeaderMap) -> Vec<(&str, &str)> {
    headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_429_is_rate_limited_and_retryable() {
        let err = classify(
            "OR11".into(),
            429,
            Some(Duration::from_secs(7)),
            String::new(),
        )
        .unwrap_err();
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
        let body = r#"{"status":400,"message":"ORDER_INVALID_STATE"}"#.to_owned();
        let err = classify("OR21".into(), 400, None, body).unwrap_err();
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
        let err = classify("OR23".into(), 503, None, "busy".into()).unwrap_err();
        assert_eq!(
            ProcessError::from(err).disposition(),
            crate::ops::errors::Disposition::Retry
        );
    }

    #[test]
    fn a_plain_text_error_body_is_kept_as_the_message() {
        assert_eq!(error_message(" Order not found \n"), "Order not found");
    }
}

pub mod line_decisions;
pub mod order_state;
mod retrying;
pub mod shipping;
