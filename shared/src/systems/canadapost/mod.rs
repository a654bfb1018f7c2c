//! Canada Post's REST API: buy a non-contract shipment label and fetch its PDF.
//!
//! [`CanadaPostClient`] sends each call with HTTP Basic auth and the exact ncshipment v4
//! media type (Canada Post refuses `*/*`), logs it in `ops.api_calls` with the
//! Authorization redacted, and retries 5xx, 429 and transport failures a bounded number
//! of times within the invocation. A `<messages>` answer (bad address, bad postal code,
//! wrong service) is a [`CanadaPostError::Rejected`] carrying the carrier's code and
//! description: permanent, for a person to fix.

mod shipment;

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{
    HeaderMap, ACCEPT, ACCEPT_LANGUAGE, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER,
};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use uuid::Uuid;

pub use shipment::{
    parse_messages, CarrierMessage, DeliverySpec, Destination, DestinationAddress, Dimensions,
    NonContractShipment, ParcelCharacteristics, Preferences, References, Sender, SenderAddress,
    ShipmentInfo, MEDIA_TYPE, NAMESPACE,
};

use crate::ops::api_calls::{record_api_call, ApiCall};
use crate::ops::config::{CanadaPostSettings, ConfigError};
use crate::ops::errors::{error_chain, ProcessError};
use crate::ops::retry::{with_retries, RetryPolicy, Transient};

/// The service name in `ops.api_calls`.
pub const SERVICE: &str = "canadapost";
/// The operation name of the label purchase in `ops.api_calls`.
pub const CREATE_SHIPMENT: &str = "CreateNonContractShipment";
/// The operation name of the label download in `ops.api_calls`.
pub const GET_ARTIFACT: &str = "GetArtifact";

const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// A Canada Post client, built once per Lambda instance.
#[derive(Clone)]
pub struct CanadaPostClient {
    http: reqwest::Client,
    base_url: String,
    username: SecretString,
    password: SecretString,
    customer_number: String,
    language: String,
    retry: RetryPolicy,
    log: PgPool,
}

impl std::fmt::Debug for CanadaPostClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CanadaPostClient")
            .field("base_url", &self.base_url)
            .field("customer_number", &self.customer_number)
            .finish_non_exhaustive()
    }
}

/// Why a Canada Post call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CanadaPostError {
    /// The carrier refused the request: its messages say why. Permanent.
    #[error("Canada Post refused {operation} (HTTP {status}): {}", describe(.messages))]
    Rejected {
        /// The operation.
        operation: &'static str,
        /// The status.
        status: u16,
        /// The carrier's messages (code and description); empty when it sent none.
        messages: Vec<CarrierMessage>,
    },
    /// 429: too many calls. Retryable.
    #[error("Canada Post {operation} is rate limited")]
    RateLimited {
        /// The operation.
        operation: &'static str,
        /// The carrier's `Retry-After`, when sent.
        retry_after: Option<Duration>,
    },
    /// 5xx. Retryable.
    #[error("Canada Post {operation} failed with HTTP {status}")]
    Unavailable {
        /// The operation.
        operation: &'static str,
        /// The status.
        status: u16,
    },
    /// No answer: refused, reset, timed out. Retryable.
    #[error("Canada Post {operation} could not be reached")]
    Transport {
        /// The operation.
        operation: &'static str,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// A 2xx whose body is not what the API documents. Permanent.
    #[error("Canada Post {operation} answered with an unexpected body: {reason}")]
    UnexpectedBody {
        /// The operation.
        operation: &'static str,
        /// What did not parse.
        reason: String,
    },
    /// A label link outside the configured Canada Post host: never sent credentials.
    #[error("Canada Post label link {0:?} is not on the configured Canada Post host")]
    ForeignLink(String),
}

fn describe(messages: &[CarrierMessage]) -> String {
    if messages.is_empty() {
        return "no message given".into();
    }
    messages
        .iter()
        .map(|m| format!("{} {}", m.code, m.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl CanadaPostError {
    fn transient(&self) -> Transient {
        match self {
            Self::RateLimited { retry_after, .. } => Transient::Yes(*retry_after),
            Self::Unavailable { .. } | Self::Transport { .. } => Transient::Yes(None),
            Self::Rejected { .. } | Self::UnexpectedBody { .. } | Self::ForeignLink(_) => {
                Transient::No
            }
        }
    }
}

impl From<CanadaPostError> for ProcessError {
    fn from(err: CanadaPostError) -> Self {
        match err.transient() {
            Transient::Yes(_) => {
                let context = err.to_string();
                ProcessError::retryable(context, err)
            }
            Transient::No => ProcessError::permanent(err.to_string()),
        }
    }
}

impl CanadaPostClient {
    /// Builds the client from its settings, logging calls through `log`.
    pub fn from_settings(settings: &CanadaPostSettings, log: PgPool) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|err| {
                ConfigError::invalid(
                    "CANADAPOST_BASE_URL",
                    format!("cannot build an HTTP client: {err}"),
                )
            })?;
        Ok(Self {
            http,
            base_url: settings.base_url.trim_end_matches('/').to_owned(),
            username: settings.username.clone(),
            password: settings.password.clone(),
            customer_number: settings.customer_number.clone(),
            language: settings.language.clone(),
            retry: RetryPolicy::DEFAULT,
            log,
        })
    }

    /// Replaces the in-invocation retry policy (tests use short delays).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Buys a label: `POST /rs/{customer-number}/ncshipment`.
    pub async fn create_shipment(
        &self,
        order_id: Uuid,
        shipment: &NonContractShipment,
    ) -> Result<ShipmentInfo, CanadaPostError> {
        let body = shipment
            .to_xml()
            .map_err(|err| CanadaPostError::UnexpectedBody {
                operation: CREATE_SHIPMENT,
                reason: format!("cannot write the request: {err}"),
            })?;
        let url = format!(
            "{}/rs/{}/ncshipment",
            self.base_url,
            percent_encoding::utf8_percent_encode(
                &self.customer_number,
                percent_encoding::NON_ALPHANUMERIC
            )
        );
        let answer = with_retries(self.retry, CanadaPostError::transient, || {
            self.call(
                CREATE_SHIPMENT,
                Method::POST,
                &url,
                MEDIA_TYPE,
                Some(&body),
                order_id,
            )
        })
        .await?;
        let text = String::from_utf8_lossy(&answer).into_owned();
        ShipmentInfo::from_xml(&text).map_err(|err| CanadaPostError::UnexpectedBody {
            operation: CREATE_SHIPMENT,
            reason: err.to_string(),
        })
    }

    /// Downloads the label PDF from its `rel="label"` link, which must be on the
    /// configured Canada Post host (the link carries our credentials).
    pub async fn download_label(
        &self,
        order_id: Uuid,
        label_url: &str,
    ) -> Result<Vec<u8>, CanadaPostError> {
        if !self.is_own_link(label_url) {
            return Err(CanadaPostError::ForeignLink(label_url.to_owned()));
        }
        let pdf = with_retries(self.retry, CanadaPostError::transient, || {
            self.call(
                GET_ARTIFACT,
                Method::GET,
                label_url,
                "application/pdf",
                None,
                order_id,
            )
        })
        .await?;
        if !pdf.starts_with(b"%PDF") {
            return Err(CanadaPostError::UnexpectedBody {
                operation: GET_ARTIFACT,
                reason: "the label is not a PDF".into(),
            });
        }
        Ok(pdf)
    }

    fn is_own_link(&self, url: &str) -> bool {
        url.strip_prefix(&self.base_url)
            .is_some_and(|rest| rest.starts_with('/'))
    }

    fn basic_auth(&self) -> String {
        let pair = format!(
            "{}:{}",
            self.username.expose_secret(),
            self.password.expose_secret()
        );
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    /// One logged call; returns the body of a 2xx answer.
    async fn call(
        &self,
        operation: &'static str,
        method: Method,
        url: &str,
        accept: &str,
        body: Option<&str>,
        order_id: Uuid,
    ) -> Result<Vec<u8>, CanadaPostError> {
        let mut builder = self
            .http
            .request(method.clone(), url)
            .header(AUTHORIZATION, self.basic_auth())
            .header(ACCEPT, accept)
            .header(ACCEPT_LANGUAGE, &self.language);
        if let Some(body) = body {
            builder = builder
                .header(CONTENT_TYPE, MEDIA_TYPE)
                .body(body.to_owned());
        }
        let built = builder
            .build()
            .map_err(|source| CanadaPostError::Transport { operation, source })?;
        let headers: Vec<(&str, &str)> = built
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let mut log = ApiCall::new(SERVICE, operation, method.as_str(), url, headers);
        log.request_body = body.map(str::to_owned);
        log.order_id = Some(order_id);

        let started = Instant::now();
        let outcome = self.http.execute(built).await;
        let result = match outcome {
            Err(source) => {
                log.error = Some(error_chain(&source));
                Err(CanadaPostError::Transport { operation, source })
            }
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = retry_after(response.headers());
                let content_type = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                match response.bytes().await {
                    Err(source) => {
                        log.status_code = Some(status);
                        log.error = Some(error_chain(&source));
                        Err(CanadaPostError::Transport { operation, source })
                    }
                    Ok(bytes) => {
                        log.status_code = Some(status);
                        log.response_body = Some(loggable_body(&bytes, &content_type));
                        classify(operation, status, retry_after, bytes.to_vec())
                    }
                }
            }
        };
        log.duration = started.elapsed();
        if let Err(err) = record_api_call(&self.log, &log).await {
            tracing::warn!(error = %error_chain(&err), "could not log Canada Post call");
        }
        result
    }
}

fn classify(
    operation: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
) -> Result<Vec<u8>, CanadaPostError> {
    match status {
        200..=299 => Ok(body),
        429 => Err(CanadaPostError::RateLimited {
            operation,
            retry_after,
        }),
        500..=599 => Err(CanadaPostError::Unavailable { operation, status }),
        _ => Err(CanadaPostError::Rejected {
            operation,
            status,
            messages: parse_messages(&String::from_utf8_lossy(&body)).unwrap_or_default(),
        }),
    }
}

/// Text bodies as received; a PDF or other binary as a short note, not its bytes.
fn loggable_body(bytes: &[u8], content_type: &str) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !content_type.contains("pdf") => text.to_owned(),
        _ => format!("<{} bytes of {content_type}>", bytes.len()),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_carriers_code_and_description_and_is_permanent() {
        let body = br#"<messages xmlns="http://www.canadapost.ca/ws/messages"><message><code>9111</code><description>Postal code is not valid for province.</description></message></messages>"#;
        let err = classify(CREATE_SHIPMENT, 400, None, body.to_vec()).unwrap_err();
        let process = ProcessError::from(err);
        assert_eq!(
            process.disposition(),
            crate::ops::errors::Disposition::GiveUp
        );
        assert!(
            process
                .to_string()
                .contains("9111 Postal code is not valid for province."),
            "{process}"
        );
    }

    #[test]
    fn server_errors_and_throttling_are_retryable() {
        for status in [429, 500, 503] {
            let err = classify(CREATE_SHIPMENT, status, None, Vec::new()).unwrap_err();
            assert_eq!(
                ProcessError::from(err).disposition(),
                crate::ops::errors::Disposition::Retry
            );
        }
    }

    #[test]
    fn a_pdf_is_logged_as_its_size_only() {
        assert_eq!(
            loggable_body(b"%PDF-1.4 ...", "application/pdf"),
            "<12 bytes of application/pdf>"
        );
    }
}
