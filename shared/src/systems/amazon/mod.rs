//! Amazon's Selling Partner API (SP-API), North America endpoint, as the seller's
//! Amazon.ca listings use it.
//!
//! [`AmazonClient`] signs each request with a Login with Amazon (LWA) access token in
//! the `x-amz-access-token` header and sends it through the shared [`HttpClient`],
//! which logs it in `ops.api_calls` with the token redacted and classifies the answer
//! as for every system. The token comes from the seller's refresh token (LWA's
//! `refresh_token` grant), is kept for its lifetime less a margin, and is fetched again
//! when it runs out or SP-API rejects it. The operations live beside it
//! ([`listings`]), with the documents Amazon sends unasked: SP-API delivers its
//! notifications to an SQS queue, one notification JSON per message body
//! ([`offer_changed`]).

pub mod listings;
pub mod offer_changed;

pub use offer_changed::{AnyOfferChanged, OfferChange, OfferChangeTrigger, SpMoney, SpOffer};

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderName, ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::PgPool;
use tokio::sync::Mutex;

use crate::ops::config::{AmazonSettings, ConfigError};
use crate::ops::errors::ProcessError;
use crate::ops::retry::RetryPolicy;
use crate::systems::http::{Answer, Call, Failure, HttpClient, SendEffect};

/// The service name in `ops.api_calls`.
pub const SERVICE: &str = "amazon";

/// How long one request may take before it counts as a timeout. SP-API answers a
/// listing read or patch in well under a second; every function's time budget
/// ([`crate::ops::time_budget`]) counts this per attempt.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The header carrying the LWA access token (redacted in `ops.api_calls`).
pub const ACCESS_TOKEN_HEADER: &str = "x-amz-access-token";

/// How long before its stated expiry an access token is fetched again, so that one
/// never expires between being read and being used.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// The seller's LWA credentials: the app's client id and secret and the seller's
/// refresh token, exchanged for short-lived access tokens at `token_url`.
#[derive(Debug, Clone)]
pub struct LwaCredentials {
    /// `https://api.amazon.com/auth/o2/token` in production.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub refresh_token: SecretString,
}

/// An SP-API client for one seller and marketplace, built once per Lambda instance.
#[derive(Clone)]
pub struct AmazonClient {
    http: HttpClient,
    base_url: String,
    seller_id: String,
    marketplace_id: String,
    lwa: LwaCredentials,
    token: Arc<Mutex<Option<AccessToken>>>,
}

struct AccessToken {
    value: SecretString,
    renew_at: Instant,
}

impl std::fmt::Debug for AmazonClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmazonClient")
            .field("base_url", &self.base_url)
            .field("seller_id", &self.seller_id)
            .field("marketplace_id", &self.marketplace_id)
            .finish_non_exhaustive()
    }
}

/// One SP-API call to make: the operation's name (e.g. `patchListingsItem`), method,
/// path and body.
#[derive(Debug, Clone)]
pub struct AmazonRequest<'a> {
    /// SP-API's operation id, for `ops.api_calls`.
    pub operation: &'a str,
    pub method: Method,
    /// The path after the base URL, starting with `/`.
    pub path: String,
    pub query: Vec<(&'a str, String)>,
    pub body: Option<serde_json::Value>,
}

impl<'a> AmazonRequest<'a> {
    /// A request with no query or body.
    pub fn new(operation: &'a str, method: Method, path: impl Into<String>) -> Self {
        Self {
            operation,
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }
}

/// Why an SP-API call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AmazonError {
    /// 429: over the operation's rate.
    #[error("Amazon {operation} is rate limited (retry after {retry_after:?})")]
    RateLimited {
        operation: String,
        retry_after: Option<Duration>,
    },
    /// 5xx: SP-API is failing; try again later.
    #[error("Amazon {operation} failed with HTTP {status}")]
    Unavailable { operation: String, status: u16 },
    /// No answer: connection refused, reset, or timed out.
    #[error("Amazon {operation} could not be reached")]
    Transport {
        operation: String,
        #[source]
        source: reqwest::Error,
    },
    /// 401 or 403, or LWA refusing the refresh token: a configuration fault, not the
    /// listing's; retryable, so nothing decided is undone.
    #[error("Amazon {operation} rejected the seller's credentials (HTTP {status})")]
    CredentialsRejected { operation: String, status: u16 },
    /// Any other 4xx: the request is wrong for this listing; retrying won't help.
    #[error("Amazon {operation} refused the request with HTTP {status}: {message}")]
    Rejected {
        operation: String,
        status: u16,
        /// SP-API's errors (`code: message`), else the body.
        message: String,
    },
    /// A 2xx whose body is not what the API documents.
    #[error("Amazon {operation} answered with an unexpected body: {reason}")]
    UnexpectedBody { operation: String, reason: String },
}

impl From<AmazonError> for ProcessError {
    fn from(err: AmazonError) -> Self {
        match err {
            AmazonError::RateLimited { .. }
            | AmazonError::Unavailable { .. }
            | AmazonError::Transport { .. }
            | AmazonError::CredentialsRejected { .. } => {
                let context = err.to_string();
                ProcessError::retryable(context, err)
            }
            AmazonError::Rejected { .. } | AmazonError::UnexpectedBody { .. } => {
                ProcessError::permanent(err.to_string())
            }
        }
    }
}

impl AmazonError {
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

    /// What the failed request may have done, for a call that is not idempotent (a
    /// listing patch).
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

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl AmazonClient {
    /// Builds the client from its settings, logging calls through `log`.
    pub fn from_settings(settings: &AmazonSettings, log: PgPool) -> Result<Self, ConfigError> {
        Self::new(
            &settings.base_url,
            &settings.seller_id,
            &settings.marketplace_id,
            settings.lwa.clone(),
            log,
        )
        .map_err(|err| {
            ConfigError::invalid(
                "AMAZON_SP_API_URL",
                format!("cannot build an HTTP client: {err}"),
            )
        })
    }

    /// A client for `base_url` (e.g. `https://sellingpartnerapi-na.amazon.com`).
    pub fn new(
        base_url: &str,
        seller_id: &str,
        marketplace_id: &str,
        lwa: LwaCredentials,
        log: PgPool,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: HttpClient::new(SERVICE, REQUEST_TIMEOUT, log)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            seller_id: seller_id.to_owned(),
            marketplace_id: marketplace_id.to_owned(),
            lwa,
            token: Arc::new(Mutex::new(None)),
        })
    }

    /// The same client with another request timeout (tests that make a request time
    /// out); the access token in hand is shared.
    pub fn with_timeout(&self, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: self.http.with_timeout(timeout)?,
            ..self.clone()
        })
    }

    /// The seller's id, in every Listings Items path.
    pub fn seller_id(&self) -> &str {
        &self.seller_id
    }

    /// The marketplace the listings are on (Amazon.ca: `A2EUQ1WTGCTBG2`).
    pub fn marketplace_id(&self) -> &str {
        &self.marketplace_id
    }

    /// Sends `request` with a valid access token, retrying as `policy` allows (the
    /// shared client never repeats a PATCH that may have arrived). A 401 or 403 drops
    /// the token, so the next call fetches a fresh one.
    pub async fn send_retrying(
        &self,
        request: AmazonRequest<'_>,
        policy: RetryPolicy,
    ) -> Result<Answer, AmazonError> {
        let token = self.access_token(policy).await?;
        let mut call = Call::new(
            request.operation,
            request.method.clone(),
            format!("{}{}", self.base_url, request.path),
        );
        call.query.clone_from(&request.query);
        call.headers = vec![
            (
                HeaderName::from_static(ACCESS_TOKEN_HEADER),
                token.expose_secret().to_owned(),
            ),
            (ACCEPT, "application/json".to_owned()),
        ];
        if let Some(body) = &request.body {
            call.headers
                .push((CONTENT_TYPE, "application/json".to_owned()));
            call.body = Some(body.to_string());
        }
        let answer = self.http.send_retrying(&call, policy).await;
        if let Err(Failure::CredentialsRejected { .. }) = &answer {
            *self.token.lock().await = None;
        }
        answer.map_err(|failure| AmazonError::from_failure(request.operation, failure))
    }

    /// The access token in hand, or a fresh one from LWA.
    async fn access_token(&self, policy: RetryPolicy) -> Result<SecretString, AmazonError> {
        const OPERATION: &str = "lwaToken";
        let mut held = self.token.lock().await;
        if let Some(token) = held.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(token.value.clone());
        }
        let form = |client_secret: &str, refresh_token: &str| {
            let encode = |value: &str| {
                percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            };
            format!(
                "grant_type=refresh_token&refresh_token={}&client_id={}&client_secret={}",
                encode(refresh_token),
                encode(&self.lwa.client_id),
                encode(client_secret)
            )
        };
        let mut call = Call::new(OPERATION, Method::POST, self.lwa.token_url.clone());
        call.headers = vec![
            (
                CONTENT_TYPE,
                "application/x-www-form-urlencoded;charset=UTF-8".to_owned(),
            ),
            (ACCEPT, "application/json".to_owned()),
        ];
        call.body = Some(form(
            self.lwa.client_secret.expose_secret(),
            self.lwa.refresh_token.expose_secret(),
        ));
        call.logged_body = Some(form("[redacted]", "[redacted]"));
        let started = Instant::now();
        // Asking for a token twice does no harm: it is retried like a read.
        let answer =
            self.http
                .send_retrying(&call, policy)
                .await
                .map_err(|failure| match failure {
                    // LWA answers a revoked or mistyped refresh token or client with a 400
                    // or 401 (`invalid_grant`, `invalid_client`): the seller's credentials.
                    Failure::Rejected { status, .. } | Failure::CredentialsRejected { status } => {
                        AmazonError::CredentialsRejected {
                            operation: OPERATION.to_owned(),
                            status,
                        }
                    }
                    other => AmazonError::from_failure(OPERATION, other),
                })?;
        let parsed: TokenAnswer =
            serde_json::from_slice(&answer.body).map_err(|err| AmazonError::UnexpectedBody {
                operation: OPERATION.to_owned(),
                reason: err.to_string(),
            })?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
        let value = SecretString::from(parsed.access_token);
        *held = Some(AccessToken {
            value: value.clone(),
            renew_at: started + lifetime.saturating_sub(TOKEN_MARGIN),
        });
        Ok(value)
    }
}

/// SP-API's error text: each `errors[]` entry as `code: message`, else the body itself.
fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorList {
        errors: Vec<ApiError>,
    }
    #[derive(Deserialize)]
    struct ApiError {
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_str::<ErrorList>(body) {
        Ok(list) if !list.errors.is_empty() => list
            .errors
            .iter()
            .map(|err| format!("{}: {}", err.code, err.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => body.trim().chars().take(500).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sp_api_errors_are_read_as_code_and_message() {
        assert_eq!(
            error_message(
                r#"{"errors":[{"code":"InvalidInput","message":"Invalid price","details":""}]}"#
            ),
            "InvalidInput: Invalid price"
        );
        assert_eq!(error_message(" Not found \n"), "Not found");
    }

    #[test]
    fn a_refusal_is_the_only_failure_that_is_not_retried_or_reconciled() {
        let refused = AmazonError::Rejected {
            operation: "patchListingsItem".into(),
            status: 400,
            message: "InvalidInput: bad".into(),
        };
        assert_eq!(refused.send_effect(), SendEffect::Refused);
        let limited = AmazonError::RateLimited {
            operation: "patchListingsItem".into(),
            retry_after: None,
        };
        assert_eq!(limited.send_effect(), SendEffect::NeverLeft);
        let failing = AmazonError::Unavailable {
            operation: "patchListingsItem".into(),
            status: 503,
        };
        assert_eq!(failing.send_effect(), SendEffect::Ambiguous);
    }
}
