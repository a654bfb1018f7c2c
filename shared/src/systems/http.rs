//! The one outbound HTTP client. Every call to an outside API goes through [`HttpClient`],
//! which
//!
//! - sends with a request timeout and a connect timeout, so a hung API cannot eat the
//!   invocation's time budget;
//! - classifies the answer the same way for every system: 2xx succeeded; 429 is rate
//!   limited (with its `Retry-After`); 5xx is unavailable; 401 and 403 are credentials
//!   rejected (a configuration fault: logged as an error and counted as the
//!   `CredentialsRejected` metric, and retryable, since no order is wrong); no answer
//!   (refused, reset, timed out) is a transport failure; any other 4xx is rejected, its
//!   body kept for the adapter to read the reason from;
//! - records the call in `ops.api_calls` with credentials redacted (see
//!   [`crate::ops::api_calls`]), the bodies only when the call failed and then less
//!   their personal data;
//! - retries transient failures as a [`RetryPolicy`] allows ([`with_retries`]), and a
//!   request that is not idempotent (a POST: buying a label, requesting a refund,
//!   sending a message) only when it provably did no work: the request never left (no
//!   connection), or the server answered 429. A 5xx, a timeout after sending or an
//!   unreadable answer leaves the outcome unknown; the caller reconciles with the other
//!   side before sending it again.
//!
//! Every client shares one TLS configuration, built once per process ([`TLS`]): a cold
//! start pays for trust roots once, however many outside systems the function speaks to.
//! The AWS SDK's clients trust the same roots ([`trust_roots_pem`]).
//!
//! It lives among the systems rather than in `ops` because only the adapters here speak
//! HTTP: a flow talks to [`MiraklClient`](super::mirakl::MiraklClient) or
//! [`CanadaPostClient`](super::canadapost::CanadaPostClient), which build the requests
//! (URL, credentials, media types) and read the answers, never to this. The call log
//! and the retry policy stay in `ops`, being machinery the flows use as well.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use sqlx::PgPool;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::ops::api_calls::{record_api_call, ApiCall};
use crate::ops::errors::error_chain;
use crate::ops::retry::{with_retries, RetryPolicy, Transient};
use crate::ops::telemetry::{emit_counts_by, Count};

/// The metric counting calls whose credentials the other side refused (401, 403),
/// dimensioned by `Service`.
pub const CREDENTIALS_REJECTED: &str = "CredentialsRejected";

/// How long establishing a connection may take, whatever the API.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The TLS configuration of every outbound client in the process, built on first use.
///
/// The roots are Mozilla's, compiled in (`webpki-roots`), not the platform's store, by
/// measurement (release build, this machine): reqwest's default verifier reads the
/// system's store per client, opening every file of its certificate directory (147 here)
/// and parsing 145 roots, 4 ms on an idle machine and 9–12 ms at a busy cold start, once
/// for each outside system; these roots are already parsed trust anchors, and building
/// this costs a copy of a static table (3–5 µs). Lambda's image does have a system store,
/// but nothing of ours needs it: the APIs we call (Mirakl, Canada Post, AWS) present
/// certificates from public CAs, which Mozilla's list covers, and the list is as fresh as
/// the build (a dependency update like any other). `make bench-coldstart` shows the cold
/// start beside a hello-world function.
static TLS: LazyLock<rustls::ClientConfig> = LazyLock::new(|| {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // The provider reqwest's own `rustls` feature uses.
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("aws-lc-rs offers the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
});

/// The same roots as [`TLS`], PEM-encoded, for the AWS SDK's HTTP client
/// ([`crate::systems::aws`]), which takes no other form. `webpki-root-certs` is the
/// certificate form of `webpki-roots`' list, published together. Encoding takes about
/// 0.3 ms and the SDK's parsing about 0.9 ms per connector it builds (release build),
/// against 4 ms and more for the system's store.
pub(crate) fn trust_roots_pem() -> Vec<u8> {
    use base64::Engine as _;
    let mut pem = Vec::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2048);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        for line in encoded.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

/// A client for one outside system (`service` in `ops.api_calls`), built once per Lambda
/// instance by that system's adapter.
#[derive(Clone)]
pub struct HttpClient {
    http: reqwest::Client,
    service: &'static str,
    log: PgPool,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// One request to make. The parts are kept apart so that a retry builds the same
/// request again.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// The API's own name for the operation (`OR21`, `CreateNonContractShipment`), for
    /// `ops.api_calls`.
    pub operation: &'a str,
    pub method: Method,
    /// The full URL, without the query.
    pub url: String,
    pub query: Vec<(&'a str, String)>,
    /// Credentials included: the log redacts them.
    pub headers: Vec<(HeaderName, String)>,
    pub body: Option<String>,
    /// What the log keeps in place of `body` when the call fails: a body carrying words a
    /// person wrote (a message to a customer) is personal data no field-based redaction
    /// can tell apart, so its adapter hands the log a copy with those words withheld.
    pub logged_body: Option<String>,
    /// The order the call is about, linking the log row to it.
    pub order_id: Option<Uuid>,
    /// A timeout of its own, shorter than the client's, for a call whose time budget is
    /// tighter (many small reads).
    pub timeout: Option<Duration>,
}

impl<'a> Call<'a> {
    /// A call with no query, headers, body or order.
    pub fn new(operation: &'a str, method: Method, url: impl Into<String>) -> Self {
        Self {
            operation,
            method,
            url: url.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            logged_body: None,
            order_id: None,
            timeout: None,
        }
    }

    /// RFC 9110's idempotent methods: sending one twice has the effect of sending it once.
    /// Everything else (POST, PATCH) may do its work twice.
    fn is_idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
        )
    }
}

/// What a request that is not idempotent (a reply posted, a price pushed) may have
/// done when it did not succeed: each system's error says which, and the flow that
/// sent it decides whether it may send again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendEffect {
    /// Provably nothing: the request never left (no connection could be made, or it
    /// could not be built), or the server turned it away before any work (429,
    /// rejected credentials). Sending it again cannot do the work twice.
    NeverLeft,
    /// The server refused the request (any other 4xx) and would refuse it again.
    Refused,
    /// Unknown: a timeout after sending, a 5xx, or a 2xx that could not be read. The
    /// work may be done; read the other side back before any second attempt.
    Ambiguous,
}

/// A 2xx answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// 200, 201, 204, …
    pub status: u16,
    /// The body as received (empty for 204).
    pub body: Vec<u8>,
}

/// Why a call got no 2xx answer.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// 429: too many calls; the server may say when to come back.
    #[error("rate limited (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx: the server is failing.
    #[error("HTTP {status}")]
    Unavailable { status: u16 },
    /// No (complete) answer: connection refused or reset, timed out, body cut short.
    #[error("no answer")]
    Transport {
        #[source]
        source: reqwest::Error,
    },
    /// 401 or 403: the server refused the credentials (a key revoked, rotated or
    /// mistyped). Nothing about the request itself is wrong, so it is not the request's
    /// failure: the work waits, retryable, until the configuration is fixed.
    #[error("credentials rejected with HTTP {status}")]
    CredentialsRejected { status: u16 },
    /// Any other 4xx: the request is wrong; the body says why, in the API's own format.
    #[error("refused with HTTP {status}")]
    Rejected { status: u16, body: Vec<u8> },
}

impl Failure {
    /// True when the request provably never reached the server: it could not be built,
    /// or no connection was made. Any other transport failure may have been acted on.
    pub fn never_sent(&self) -> bool {
        matches!(self, Self::Transport { source } if source.is_connect() || source.is_builder())
    }

    /// True when the server provably did not act on the request: it never left, or the
    /// server refused to take it (429, credentials rejected). Only then may a request
    /// that is not idempotent be sent again without first asking the other side what
    /// exists.
    pub fn not_taken(&self) -> bool {
        // A 429 comes from the rate limiter in front of the API (Canada Post's gateway,
        // Mirakl's), which turns the request away before any work starts; likewise a
        // 401/403 from the authentication in front of it. A 503 gives no such promise:
        // a gateway answers it too when the service behind it timed out, possibly after
        // doing the work.
        matches!(
            self,
            Self::RateLimited { .. } | Self::CredentialsRejected { .. }
        ) || self.never_sent()
    }

    /// Whether another attempt may succeed now, and repeats no work: an idempotent
    /// request is retried after any transient failure; another one only when the server
    /// turned it away (429) or it never left. Rejected credentials are not retried
    /// within the invocation (they will not mend in a second); the caller's queue
    /// retries later.
    fn transient(&self, idempotent: bool) -> Transient {
        match self {
            Self::RateLimited { retry_after } => Transient::Yes(*retry_after),
            Self::Unavailable { .. } if idempotent => Transient::Yes(None),
            Self::Transport { .. } if idempotent || self.never_sent() => Transient::Yes(None),
            Self::Unavailable { .. }
            | Self::Transport { .. }
            | Self::CredentialsRejected { .. }
            | Self::Rejected { .. } => Transient::No,
        }
    }
}

impl HttpClient {
    /// A client for `service` whose requests time out after `timeout`.
    pub fn new(
        service: &'static str,
        timeout: Duration,
        log: PgPool,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(CONNECT_TIMEOUT)
            .tls_backend_preconfigured(TLS.clone())
            .build()?;
        Ok(Self { http, service, log })
    }

    /// The same client with another request timeout.
    pub fn with_timeout(&self, timeout: Duration) -> Result<Self, reqwest::Error> {
        Self::new(self.service, timeout, self.log.clone())
    }

    /// Sends `call` once, logs it, and classifies the answer.
    pub async fn send(&self, call: &Call<'_>) -> Result<Answer, Failure> {
        let mut builder = self
            .http
            .request(call.method.clone(), &call.url)
            .query(&call.query);
        for (name, value) in &call.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &call.body {
            builder = builder.body(body.clone());
        }
        if let Some(timeout) = call.timeout {
            builder = builder.timeout(timeout);
        }
        let request = builder
            .build()
            .map_err(|source| Failure::Transport { source })?;
        let mut log = ApiCall::new(
            self.service,
            call.operation,
            call.method.as_str(),
            request.url().as_str(),
            header_pairs(request.headers()),
        );
        log.order_id = call.order_id;

        let started = Instant::now();
        let outcome = self.exchange(request, &mut log).await;
        log.duration = started.elapsed();
        // The log keeps the bodies of a failed call only, redacted (`record_api_call`).
        if outcome.is_err() {
            log.request_body = call.logged_body.clone().or_else(|| call.body.clone());
        }
        // The log must not make a call fail: a lost log row is reported, the call's
        // outcome stands.
        if let Err(err) = record_api_call(&self.log, &log).await {
            tracing::warn!(service = self.service, error = %error_chain(&err), "could not log an API call");
        }
        if let Err(Failure::CredentialsRejected { status }) = &outcome {
            self.credentials_rejected(call.operation, *status);
        }
        outcome
    }

    /// Rejected credentials stop every call to the service until someone fixes the
    /// configuration: said loudly, once per call, and counted for an alarm.
    fn credentials_rejected(&self, operation: &str, status: u16) {
        tracing::error!(
            service = self.service,
            operation,
            status,
            "the service rejected our credentials; check the configured key or password \
             (the work is retried, nothing is given up)"
        );
        emit_counts_by(
            &[("Service", self.service)],
            &[Count {
                name: CREDENTIALS_REJECTED,
                value: 1,
            }],
        );
    }

    /// Sends `call`, retrying transient failures as `policy` allows; a request that is not
    /// idempotent is retried only when that cannot do its work twice. Each attempt is
    /// logged.
    pub async fn send_retrying(
        &self,
        call: &Call<'_>,
        policy: RetryPolicy,
    ) -> Result<Answer, Failure> {
        let idempotent = call.is_idempotent();
        with_retries(
            policy,
            |failure: &Failure| failure.transient(idempotent),
            || self.send(call),
        )
        .instrument(tracing::info_span!(
            "api_call",
            service = self.service,
            operation = call.operation
        ))
        .await
    }

    /// The exchange itself; fills in the log's status, error and answer body.
    async fn exchange(
        &self,
        request: reqwest::Request,
        log: &mut ApiCall,
    ) -> Result<Answer, Failure> {
        let response = self.http.execute(request).await.map_err(|source| {
            log.error = Some(error_chain(&source));
            Failure::Transport { source }
        })?;
        let status = response.status().as_u16();
        log.status_code = Some(status);
        let retry_after = retry_after(response.headers());
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.bytes().await.map_err(|source| {
            log.error = Some(error_chain(&source));
            Failure::Transport { source }
        })?;
        // Only a failed call's body is logged (`record_api_call`): a successful answer,
        // an OR11 page or a label, is not copied for nothing.
        if log.failed() {
            log.response_body = Some(loggable_body(&body, &content_type));
        }
        classify(status, retry_after, Vec::from(body))
    }
}

fn classify(status: u16, retry_after: Option<Duration>, body: Vec<u8>) -> Result<Answer, Failure> {
    match status {
        200..=299 => Ok(Answer { status, body }),
        429 => Err(Failure::RateLimited { retry_after }),
        401 | 403 => Err(Failure::CredentialsRejected { status }),
        500..=599 => Err(Failure::Unavailable { status }),
        _ => Err(Failure::Rejected { status, body }),
    }
}

/// `Retry-After` as seconds, the form Mirakl and Canada Post use; an HTTP date is not
/// honoured (the call is then retried on the policy's own schedule).
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

/// Text bodies as received; a PDF or other binary as a short note, not its bytes.
fn loggable_body(bytes: &[u8], content_type: &str) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !content_type.contains("pdf") => text.to_owned(),
        _ => format!("<{} bytes of {content_type}>", bytes.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn retry_after_of(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        retry_after(&headers)
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_a_date_is_ignored() {
        assert_eq!(retry_after_of(" 12 "), Some(Duration::from_secs(12)));
        assert_eq!(retry_after_of("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn answers_are_classified_by_status() {
        assert!(matches!(
            classify(204, None, Vec::new()),
            Ok(Answer { status: 204, .. })
        ));
        assert!(matches!(
            classify(429, Some(Duration::from_secs(7)), Vec::new()),
            Err(Failure::RateLimited { retry_after: Some(d) }) if d.as_secs() == 7
        ));
        assert!(matches!(
            classify(502, None, Vec::new()),
            Err(Failure::Unavailable { status: 502 })
        ));
        assert!(matches!(
            classify(404, None, b"gone".to_vec()),
            Err(Failure::Rejected { status: 404, body }) if body == b"gone"
        ));
        for status in [401, 403] {
            assert!(matches!(
                classify(status, None, Vec::new()),
                Err(Failure::CredentialsRejected { status: s }) if s == status
            ));
        }
    }

    #[test]
    fn a_request_that_is_not_idempotent_is_retried_only_when_the_server_did_not_take_it() {
        let unavailable = |status| Failure::Unavailable { status };
        let limited = Failure::RateLimited { retry_after: None };
        let credentials = Failure::CredentialsRejected { status: 401 };
        for idempotent in [true, false] {
            assert_eq!(limited.transient(idempotent), Transient::Yes(None));
            let rejected = Failure::Rejected {
                status: 400,
                body: Vec::new(),
            };
            assert_eq!(rejected.transient(idempotent), Transient::No);
            assert_eq!(credentials.transient(idempotent), Transient::No);
        }
        for status in [500, 502, 503, 504] {
            assert_eq!(unavailable(status).transient(true), Transient::Yes(None));
            assert_eq!(unavailable(status).transient(false), Transient::No);
            assert!(!unavailable(status).not_taken());
        }
        assert!(limited.not_taken());
        assert!(credentials.not_taken());
    }

    #[test]
    fn only_the_idempotent_methods_count_as_idempotent() {
        let call = |method| Call::new("op", method, "http://example.test/");
        assert!(call(Method::GET).is_idempotent());
        assert!(call(Method::PUT).is_idempotent());
        assert!(!call(Method::POST).is_idempotent());
        assert!(!call(Method::PATCH).is_idempotent());
    }

    #[test]
    fn a_pdf_is_logged_as_its_size_only() {
        assert_eq!(
            loggable_body(b"%PDF-1.4 ...", "application/pdf"),
            "<12 bytes of application/pdf>"
        );
    }
}
