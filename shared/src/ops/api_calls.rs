//! `ops.api_calls`: every outbound call to a marketplace or carrier, secrets redacted.
//!
//! Every call keeps its method, URL, status, duration and error. Its bodies are kept
//! only when it failed (no 2xx answer), to show what went wrong, and then with their
//! personal data redacted ([`redact_body`]): a successful answer (an order and its
//! customer's address) or a label request (the recipient) has no place in a log.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::model::personal_data::redact_body;

/// What is written in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// Header names whose values are credentials, compared case-insensitively.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-shopify-access-token",
    "x-amz-access-token",
    "x-shopify-hmac-sha256",
    "x-webhook-secret",
    "cookie",
    "set-cookie",
];

/// Query parameters whose values are credentials.
const SECRET_QUERY_PARAMS: &[&str] = &[
    "api_key",
    "apikey",
    "key",
    "token",
    "access_token",
    "secret",
];

/// One outbound call as it will be logged. Build it with the redacting constructors.
#[derive(Debug, Clone)]
pub struct ApiCall {
    /// `mirakl`, `canadapost`, …
    pub service: String,
    /// The API's own name for the operation: `OR21`, `CreateNonContractShipment`, …
    pub operation: String,
    /// HTTP method, upper case.
    pub method: String,
    /// The URL with secret query parameters redacted.
    pub url: String,
    /// Request headers with credentials redacted.
    pub request_headers: serde_json::Value,
    /// The request body as sent (bodies carry no credentials in these APIs); kept only
    /// when the call failed, redacted.
    pub request_body: Option<String>,
    /// The answer's status, when one came.
    pub status_code: Option<u16>,
    /// The answer's body, when one came; kept only when the call failed, redacted.
    pub response_body: Option<String>,
    /// How long the call took.
    pub duration: Duration,
    /// Transport failure (timeout, connection refused), when there was no answer.
    pub error: Option<String>,
    /// The order the call was about, when there is one.
    pub order_id: Option<Uuid>,
    /// The Lambda request id of the invocation that made the call.
    pub request_id: Option<String>,
    /// When the call started.
    pub started_at: DateTime<Utc>,
}

impl ApiCall {
    /// Starts a log entry, redacting the URL's secret query parameters and the headers'
    /// credentials.
    pub fn new<'h>(
        service: &str,
        operation: &str,
        method: &str,
        url: &str,
        headers: impl IntoIterator<Item = (&'h str, &'h str)>,
    ) -> Self {
        Self {
            service: service.to_owned(),
            operation: operation.to_owned(),
            method: method.to_ascii_uppercase(),
            url: redact_url(url),
            request_headers: redact_headers(headers),
            request_body: None,
            status_code: None,
            response_body: None,
            duration: Duration::ZERO,
            error: None,
            order_id: None,
            request_id: None,
            started_at: Utc::now(),
        }
    }

    /// No 2xx answer: a transport failure, or any other status.
    pub fn failed(&self) -> bool {
        self.error.is_some() || !self.status_code.is_some_and(|s| (200..300).contains(&s))
    }

    /// A body as the log keeps it: nothing for a call that succeeded, the body less its
    /// personal data for one that failed.
    fn kept_body(&self, body: Option<&str>) -> Option<String> {
        body.filter(|_| self.failed()).map(redact_body)
    }
}

/// Headers as a JSON object, credential values replaced by [`REDACTED`].
pub fn redact_headers<'h>(
    headers: impl IntoIterator<Item = (&'h str, &'h str)>,
) -> serde_json::Value {
    let map = headers
        .into_iter()
        .map(|(name, value)| {
            let secret = SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name));
            let shown = if secret { REDACTED } else { value };
            (name.to_ascii_lowercase(), serde_json::Value::from(shown))
        })
        .collect();
    serde_json::Value::Object(map)
}

/// The URL with the values of secret query parameters and any user:password replaced.
pub fn redact_url(url: &str) -> String {
    let (without_fragment, fragment) = match url.split_once('#') {
        Some((head, tail)) => (head, Some(tail)),
        None => (url, None),
    };
    let (base, query) = match without_fragment.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (without_fragment, None),
    };
    let mut out = redact_userinfo(base);
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _))
                    if SECRET_QUERY_PARAMS
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(name)) =>
                {
                    format!("{name}={REDACTED}")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

fn redact_userinfo(base: &str) -> String {
    let Some((scheme, rest)) = base.split_once("://") else {
        return base.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://{REDACTED}@{host}{path}"),
        None => base.to_owned(),
    }
}

/// Writes the log row and returns its id. The bodies are written only for a failed call,
/// redacted, whatever the caller filled in.
pub async fn record_api_call<'e>(
    executor: impl PgExecutor<'e>,
    call: &ApiCall,
) -> Result<Uuid, sqlx::Error> {
    let duration_ms = i32::try_from(call.duration.as_millis()).unwrap_or(i32::MAX);
    sqlx::query_scalar!(
        "insert into ops.api_calls
             (service, operation, method, url, request_headers, request_body, status_code,
              response_body, duration_ms, error, order_id, request_id, started_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         returning id",
        call.service,
        call.operation,
        call.method,
        call.url,
        call.request_headers,
        call.kept_body(call.request_body.as_deref()),
        call.status_code.map(i32::from),
        call.kept_body(call.response_body.as_deref()),
        duration_ms,
        call.error.as_deref(),
        call.order_id,
        call.request_id.as_deref(),
        call.started_at,
    )
    .fetch_one(executor)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_headers_are_redacted_whatever_their_case() {
        let headers = redact_headers([
            ("Authorization", "Basic dXNlcjpwYXNz"),
            ("Accept", "application/vnd.cpc.ncshipment-v4+xml"),
            ("X-Api-Key", "mirakl-shop-key"),
        ]);
        assert_eq!(headers["authorization"], REDACTED);
        assert_eq!(headers["x-api-key"], REDACTED);
        assert_eq!(headers["accept"], "application/vnd.cpc.ncshipment-v4+xml");
        assert!(!headers.to_string().contains("dXNlcjpwYXNz"));
    }

    #[test]
    fn a_call_failed_unless_it_was_answered_with_a_2xx() {
        let mut call = ApiCall::new("mirakl", "OR11", "GET", "https://m.test/api/orders", []);
        assert!(call.failed(), "no answer yet is no success");
        call.status_code = Some(200);
        assert!(!call.failed());
        assert_eq!(call.kept_body(Some(r#"{"phone":"5145550147"}"#)), None);
        call.status_code = Some(400);
        assert_eq!(
            call.kept_body(Some(r#"{"phone":"5145550147"}"#)).as_deref(),
            Some(r#"{"phone":"[redacted]"}"#)
        );
        call.status_code = Some(204);
        call.error = Some("body cut short".into());
        assert!(call.failed());
    }

    #[test]
    fn secret_query_parameters_and_user_info_are_redacted() {
        assert_eq!(
            redact_url("https://user:pw@api.example.com/api/orders?api_key=abc&max=100#x"),
            "https://[redacted]@api.example.com/api/orders?api_key=[redacted]&max=100#x"
        );
        assert_eq!(
            redact_url("https://api.example.com/api/orders?order_ids=1,2"),
            "https://api.example.com/api/orders?order_ids=1,2"
        );
    }
}
