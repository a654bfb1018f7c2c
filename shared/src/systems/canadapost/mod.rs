//! Canada Post's REST API: buy a non-contract shipment label and fetch its PDF.
//!
//! [`CanadaPostClient`] builds each call with HTTP Basic auth and the exact ncshipment
//! v4 media type (Canada Post refuses `*/*`) and sends it through the shared
//! [`HttpClient`], which logs it in `ops.api_calls` with the Authorization redacted and
//! retries 5xx, 429 and transport failures a bounded number of times within the
//! invocation. Buying a label is a POST, so it is retried only when Canada Post did not
//! take it (429, 503) or the request never left: a timed-out purchase may have bought
//! one. A `<messages>` answer (bad address, bad postal code, wrong service) is a
//! [`CanadaPostError::Rejected`] carrying the carrier's code and description:
//! permanent, for a person to fix.

mod shipment;

use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use uuid::Uuid;

pub use shipment::{
    parse_messages, CarrierMessage, DeliverySpec, Destination, DestinationAddress, Dimensions,
    NonContractShipment, ParcelCharacteristics, Preferences, References, Sender, SenderAddress,
    ShipmentInfo, MEDIA_TYPE, NAMESPACE,
};

use crate::ops::config::{CanadaPostSettings, ConfigError};
use crate::ops::errors::ProcessError;
use crate::ops::retry::RetryPolicy;
use crate::systems::http::{Call, Failure, HttpClient};

/// The service name in `ops.api_calls`.
pub const SERVICE: &str = "canadapost";
/// The operation name of the label purchase in `ops.api_calls`.
pub const CREATE_SHIPMENT: &str = "CreateNonContractShipment";
/// The operation name of the label download in `ops.api_calls`.
pub const GET_ARTIFACT: &str = "GetArtifact";

/// How long one request may take before it counts as a timeout; the label function's
/// time budget ([`crate::ops::time_budget`]) counts it per attempt.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// A Canada Post client, built once per Lambda instance.
#[derive(Clone)]
pub struct CanadaPostClient {
    http: HttpClient,
    base_url: String,
    username: SecretString,
    password: SecretString,
    customer_number: String,
    language: String,
    retry: RetryPolicy,
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
        operation: &'static str,
        status: u16,
        /// The carrier's messages (code and description); empty when it sent none.
        messages: Vec<CarrierMessage>,
    },
    /// 429: too many calls. Retryable.
    #[error("Canada Post {operation} is rate limited")]
    RateLimited {
        operation: &'static str,
        /// The carrier's `Retry-After`, when sent.
        retry_after: Option<Duration>,
    },
    /// 5xx. Retryable.
    #[error("Canada Post {operation} failed with HTTP {status}")]
    Unavailable {
        operation: &'static str,
        status: u16,
    },
    /// No answer: refused, reset, timed out. Retryable.
    #[error("Canada Post {operation} could not be reached")]
    Transport {
        operation: &'static str,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// A 2xx whose body is not what the API documents. Permanent.
    #[error("Canada Post {operation} answered with an unexpected body: {reason}")]
    UnexpectedBody {
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
    /// The error for `operation` from the shared client's classification; a refusal
    /// carries the carrier's messages.
    fn from_failure(operation: &'static str, failure: Failure) -> Self {
        match failure {
            Failure::RateLimited { retry_after } => Self::RateLimited {
                operation,
                retry_after,
            },
            Failure::Unavailable { status } => Self::Unavailable { operation, status },
            Failure::Transport { source } => Self::Transport { operation, source },
            Failure::Rejected { status, body } => Self::Rejected {
                operation,
                status,
                messages: parse_messages(&String::from_utf8_lossy(&body)).unwrap_or_default(),
            },
        }
    }

    fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Unavailable { .. } | Self::Transport { .. } => true,
            Self::Rejected { .. } | Self::UnexpectedBody { .. } | Self::ForeignLink(_) => false,
        }
    }
}

impl From<CanadaPostError> for ProcessError {
    fn from(err: CanadaPostError) -> Self {
        if err.is_retryable() {
            let context = err.to_string();
            ProcessError::retryable(context, err)
        } else {
            ProcessError::permanent(err.to_string())
        }
    }
}

impl CanadaPostClient {
    /// Builds the client from its settings, logging calls through `log`.
    pub fn from_settings(settings: &CanadaPostSettings, log: PgPool) -> Result<Self, ConfigError> {
        let http = HttpClient::new(SERVICE, REQUEST_TIMEOUT, log).map_err(|err| {
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
        })
    }

    /// Replaces the in-invocation retry policy (tests use short delays).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Buys a label: `POST /rs/{customer-number}/ncshipment`. Sent again within the
    /// invocation only when Canada Post did not take it (429, 503) or no connection was
    /// made, never after a timeout, which may have bought the label.
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
        let mut call = self.call(CREATE_SHIPMENT, Method::POST, url, MEDIA_TYPE, order_id);
        call.headers.push((CONTENT_TYPE, MEDIA_TYPE.to_owned()));
        call.body = Some(body);
        let answer = self.send(&call).await?;
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
        let call = self.call(
            GET_ARTIFACT,
            Method::GET,
            label_url.to_owned(),
            "application/pdf",
            order_id,
        );
        let pdf = self.send(&call).await?;
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

    fn call(
        &self,
        operation: &'static str,
        method: Method,
        url: String,
        accept: &str,
        order_id: Uuid,
    ) -> Call<'static> {
        let mut call = Call::new(operation, method, url);
        call.headers = vec![
            (AUTHORIZATION, self.basic_auth()),
            (ACCEPT, accept.to_owned()),
            (ACCEPT_LANGUAGE, self.language.clone()),
        ];
        call.order_id = Some(order_id);
        call
    }

    /// Sends `call` with the client's retries; returns the body of a 2xx answer.
    async fn send(&self, call: &Call<'static>) -> Result<Vec<u8>, CanadaPostError> {
        let operation = call.operation;
        self.http
            .send_retrying(call, self.retry)
            .await
            .map(|answer| answer.body)
            .map_err(|failure| CanadaPostError::from_failure(operation, failure))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_carriers_code_and_description_and_is_permanent() {
        let body = br#"<messages xmlns="http://www.canadapost.ca/ws/messages"><message><code>9111</code><description>Postal code is not valid for province.</description></message></messages>"#;
        let err = CanadaPostError::from_failure(
            CREATE_SHIPMENT,
            Failure::Rejected {
                status: 400,
                body: body.to_vec(),
            },
        );
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
        let failures = [
            Failure::RateLimited { retry_after: None },
            Failure::Unavailable { status: 500 },
            Failure::Unavailable { status: 503 },
        ];
        for failure in failures {
            let err = CanadaPostError::from_failure(CREATE_SHIPMENT, failure);
            assert_eq!(
                ProcessError::from(err).disposition(),
                crate::ops::errors::Disposition::Retry
            );
        }
    }
}
