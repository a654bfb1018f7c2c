//! Canada Post's REST API: buy a non-contract shipment label and fetch its PDF, find the
//! shipments bought for an order, and request a refund of one.
//!
//! [`CanadaPostClient`] builds each call with HTTP Basic auth and the exact ncshipment
//! v4 media type (Canada Post refuses `*/*`) and sends it through the shared
//! [`HttpClient`], which logs it in `ops.api_calls` with the Authorization redacted and
//! retries a bounded number of times within the invocation: reads after 5xx, 429 and
//! transport failures; a purchase or a refund request (POSTs: Canada Post has no
//! idempotency key) only when it provably did nothing (429, or no connection). A
//! purchase whose outcome is unknown (a 5xx, a timeout after sending, an unreadable
//! answer) is settled by [`CanadaPostClient::shipments_for_reference`] before anything
//! is bought again. A `<messages>` answer (bad address, bad postal code, wrong service)
//! is a [`CanadaPostError::Rejected`] carrying the carrier's code and description:
//! permanent, for a person to fix. Rejected credentials (401, 403) are retryable.

mod shipment;

use std::time::Duration;

use base64::Engine as _;
use futures::{StreamExt as _, TryStreamExt as _};
use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use uuid::Uuid;

use chrono::{DateTime, Duration as Span, DurationRound as _, Utc};

pub use shipment::{
    details_reference, parse_messages, shipment_links, CarrierMessage, DeliverySpec, Destination,
    DestinationAddress, Dimensions, NonContractShipment, ParcelCharacteristics, Preferences,
    References, RefundRequest, RefundTicket, Sender, SenderAddress, ShipmentInfo, MEDIA_TYPE,
    NAMESPACE,
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
/// The operation name of the shipment list (by date range) in `ops.api_calls`.
pub const LIST_SHIPMENTS: &str = "GetNonContractShipments";
/// The operation name of a shipment's details in `ops.api_calls`.
pub const GET_DETAILS: &str = "GetNonContractShipmentDetails";
/// The operation name of a shipment read in `ops.api_calls`.
pub const GET_SHIPMENT: &str = "GetNonContractShipment";
/// The operation name of a refund request in `ops.api_calls`.
pub const REQUEST_REFUND: &str = "RequestNonContractShipmentRefund";

/// The most shipments one search reads the details of. The period searched is a few
/// minutes around one purchase, so more than this many labels bought in it is for a
/// person to look at; the bound keeps the calls of one message inside its time budget.
pub const MAX_SHIPMENTS_READ: usize = 24;
/// How many shipments a search reads at once.
pub const SHIPMENT_READS_AT_ONCE: usize = 8;
/// The timeout of each read a search makes (list, details, shipment): small documents,
/// many of them, inside one message's time budget.
pub const SEARCH_READ_TIMEOUT: Duration = Duration::from_secs(5);

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
        /// True when the request provably never left (no connection was made).
        never_sent: bool,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// 401 or 403: Canada Post refused the API user and password. A configuration
    /// fault: retryable, and nothing about the order changes.
    #[error("Canada Post {operation} rejected the API credentials (HTTP {status})")]
    CredentialsRejected {
        operation: &'static str,
        status: u16,
    },
    /// The request could not be written (nothing was sent). Permanent.
    #[error("Canada Post {operation} request could not be written: {reason}")]
    Unwritable {
        operation: &'static str,
        /// What failed.
        reason: String,
    },
    /// A search found more shipments than [`MAX_SHIPMENTS_READ`]. Permanent.
    #[error("Canada Post lists {listed} shipments around the purchase, more than the {MAX_SHIPMENTS_READ} read automatically")]
    TooManyShipments {
        /// How many were listed.
        listed: usize,
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

/// What a failed call tells about the work it asked for (buying a label, refunding one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEffect {
    /// Canada Post did no work and may be asked again: the request never left, was
    /// throttled (429), or its credentials were rejected.
    NotDone,
    /// Canada Post did no work and would refuse the same request again.
    Refused,
    /// The work may have been done: a 5xx, a timeout after sending, an answer that
    /// could not be read. Only a read of what exists tells.
    Unknown,
}

impl CanadaPostError {
    /// The error for `operation` from the shared client's classification; a refusal
    /// carries the carrier's messages.
    fn from_failure(operation: &'static str, failure: Failure) -> Self {
        let never_sent = failure.never_sent();
        match failure {
            Failure::RateLimited { retry_after } => Self::RateLimited {
                operation,
                retry_after,
            },
            Failure::Unavailable { status } => Self::Unavailable { operation, status },
            Failure::Transport { source } => Self::Transport {
                operation,
                never_sent,
                source,
            },
            Failure::CredentialsRejected { status } => {
                Self::CredentialsRejected { operation, status }
            }
            Failure::Rejected { status, body } => Self::Rejected {
                operation,
                status,
                messages: parse_messages(&String::from_utf8_lossy(&body)).unwrap_or_default(),
            },
        }
    }

    /// What the failed call did at Canada Post. Meaningful for a call that asks for work
    /// (a POST); a failed read did nothing either way.
    pub fn effect(&self) -> CallEffect {
        match self {
            Self::RateLimited { .. } | Self::CredentialsRejected { .. } => CallEffect::NotDone,
            Self::Transport { never_sent, .. } if *never_sent => CallEffect::NotDone,
            Self::Rejected { .. }
            | Self::Unwritable { .. }
            | Self::ForeignLink(_)
            | Self::TooManyShipments { .. } => CallEffect::Refused,
            Self::Unavailable { .. } | Self::Transport { .. } | Self::UnexpectedBody { .. } => {
                CallEffect::Unknown
            }
        }
    }

    fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::Unavailable { .. }
            | Self::Transport { .. }
            | Self::CredentialsRejected { .. } => true,
            Self::Rejected { .. }
            | Self::Unwritable { .. }
            | Self::TooManyShipments { .. }
            | Self::UnexpectedBody { .. }
            | Self::ForeignLink(_) => false,
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

    /// Replaces the request timeout (tests make the carrier slower than it).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Result<Self, reqwest::Error> {
        self.http = self.http.with_timeout(timeout)?;
        Ok(self)
    }

    /// Replaces the in-invocation retry policy (tests use short delays).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Buys a label: `POST /rs/{customer-number}/ncshipment`. Sent again within the
    /// invocation only when Canada Post did not take it (429) or no connection was made;
    /// never after a 5xx, a timeout or an unreadable answer, which may have bought the
    /// label ([`CanadaPostError::effect`] says which).
    pub async fn create_shipment(
        &self,
        order_id: Uuid,
        shipment: &NonContractShipment,
    ) -> Result<ShipmentInfo, CanadaPostError> {
        let body = shipment
            .to_xml()
            .map_err(|err| CanadaPostError::Unwritable {
                operation: CREATE_SHIPMENT,
                reason: err.to_string(),
            })?;
        let url = self.shipments_url();
        let mut call = self.call(CREATE_SHIPMENT, Method::POST, url, MEDIA_TYPE, order_id);
        call.headers.push((CONTENT_TYPE, MEDIA_TYPE.to_owned()));
        call.body = Some(body);
        let answer = self.send(&call).await?;
        read_xml(CREATE_SHIPMENT, &answer, ShipmentInfo::from_xml)
    }

    /// Every shipment whose purchase set `customer-ref-1` to `reference`, among those
    /// created between `from` and `to`: Get Non-Contract Shipments for the period (to
    /// the minute, widened outwards), the details of each to read its reference, and the
    /// shipment itself (PIN, label and refund links) of each that matches. Ordered by
    /// shipment id.
    pub async fn shipments_for_reference(
        &self,
        order_id: Uuid,
        reference: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ShipmentInfo>, CanadaPostError> {
        let links = self.shipments_created(order_id, from, to).await?;
        if links.len() > MAX_SHIPMENTS_READ {
            return Err(CanadaPostError::TooManyShipments {
                listed: links.len(),
            });
        }
        let reads = links
            .into_iter()
            .map(|link| self.shipment_if_referenced(order_id, reference, link));
        let mut found: Vec<ShipmentInfo> = futures::stream::iter(reads)
            .buffer_unordered(SHIPMENT_READS_AT_ONCE)
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .flatten()
            .collect();
        found.sort_by(|a, b| a.shipment_id.cmp(&b.shipment_id));
        Ok(found)
    }

    /// The shipment at `link` when its details carry `reference`: its details, then,
    /// when they match, the shipment itself.
    async fn shipment_if_referenced(
        &self,
        order_id: Uuid,
        reference: &str,
        link: String,
    ) -> Result<Option<ShipmentInfo>, CanadaPostError> {
        let details = format!("{}/details", link.trim_end_matches('/'));
        let call = self.search_read(GET_DETAILS, details, order_id)?;
        let answer = self.send(&call).await?;
        let shipment_reference = read_xml(GET_DETAILS, &answer, details_reference)?;
        if shipment_reference.as_deref() != Some(reference) {
            return Ok(None);
        }
        let call = self.search_read(GET_SHIPMENT, link, order_id)?;
        let answer = self.send(&call).await?;
        read_xml(GET_SHIPMENT, &answer, ShipmentInfo::from_xml).map(Some)
    }

    /// The links of the shipments created between `from` (rounded down to the minute)
    /// and `to` (rounded up): `GET /rs/{customer-number}/ncshipment?from=&to=`, in UTC.
    async fn shipments_created(
        &self,
        order_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<String>, CanadaPostError> {
        let minute = Span::minutes(1);
        let from = from.duration_trunc(minute).unwrap_or(from);
        let to = to
            .checked_add_signed(minute - Span::nanoseconds(1))
            .and_then(|to| to.duration_trunc(minute).ok())
            .unwrap_or(to);
        let stamp = |at: DateTime<Utc>| at.format("%Y%m%d%H%M").to_string();
        let mut call = self.call(
            LIST_SHIPMENTS,
            Method::GET,
            self.shipments_url(),
            MEDIA_TYPE,
            order_id,
        );
        call.query = vec![("from", stamp(from)), ("to", stamp(to))];
        call.timeout = Some(SEARCH_READ_TIMEOUT);
        let answer = self.send(&call).await?;
        let links = read_xml(LIST_SHIPMENTS, &answer, shipment_links)?;
        links
            .into_iter()
            .map(|link| {
                if self.is_own_link(&link) {
                    Ok(link)
                } else {
                    Err(CanadaPostError::ForeignLink(link))
                }
            })
            .collect()
    }

    /// Asks Canada Post to refund a shipment through its `rel="refund"` link; its answer
    /// goes to `email`. A POST: sent again only when it provably did nothing.
    pub async fn request_refund(
        &self,
        order_id: Uuid,
        refund_url: &str,
        email: &str,
    ) -> Result<RefundTicket, CanadaPostError> {
        let body =
            RefundRequest::new(email)
                .to_xml()
                .map_err(|err| CanadaPostError::Unwritable {
                    operation: REQUEST_REFUND,
                    reason: err.to_string(),
                })?;
        let mut call = self.own_call(REQUEST_REFUND, refund_url.to_owned(), order_id)?;
        call.method = Method::POST;
        call.headers.push((CONTENT_TYPE, MEDIA_TYPE.to_owned()));
        call.body = Some(body);
        let answer = self.send(&call).await?;
        read_xml(REQUEST_REFUND, &answer, RefundTicket::from_xml)
    }

    /// `/rs/{customer-number}/ncshipment`.
    fn shipments_url(&self) -> String {
        format!(
            "{}/rs/{}/ncshipment",
            self.base_url,
            percent_encoding::utf8_percent_encode(
                &self.customer_number,
                percent_encoding::NON_ALPHANUMERIC
            )
        )
    }

    /// A search's read of an ncshipment link, with the search's timeout.
    fn search_read(
        &self,
        operation: &'static str,
        url: String,
        order_id: Uuid,
    ) -> Result<Call<'static>, CanadaPostError> {
        let mut call = self.own_call(operation, url, order_id)?;
        call.timeout = Some(SEARCH_READ_TIMEOUT);
        Ok(call)
    }

    /// A GET of an ncshipment link Canada Post gave, which must be on the configured
    /// host (the call carries our credentials).
    fn own_call(
        &self,
        operation: &'static str,
        url: String,
        order_id: Uuid,
    ) -> Result<Call<'static>, CanadaPostError> {
        if !self.is_own_link(&url) {
            return Err(CanadaPostError::ForeignLink(url));
        }
        Ok(self.call(operation, Method::GET, url, MEDIA_TYPE, order_id))
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

    /// Whether `url` is on the configured Canada Post host.
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

/// Reads a 2xx answer's document; one that does not parse leaves the call's effect
/// unknown ([`CanadaPostError::UnexpectedBody`]).
fn read_xml<T, E: std::fmt::Display>(
    operation: &'static str,
    answer: &[u8],
    read: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, CanadaPostError> {
    read(&String::from_utf8_lossy(answer)).map_err(|err| CanadaPostError::UnexpectedBody {
        operation,
        reason: err.to_string(),
    })
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
    fn server_errors_throttling_and_rejected_credentials_are_retryable() {
        let failures = [
            Failure::RateLimited { retry_after: None },
            Failure::Unavailable { status: 500 },
            Failure::Unavailable { status: 503 },
            Failure::CredentialsRejected { status: 401 },
            Failure::CredentialsRejected { status: 403 },
        ];
        for failure in failures {
            let err = CanadaPostError::from_failure(CREATE_SHIPMENT, failure);
            assert_eq!(
                ProcessError::from(err).disposition(),
                crate::ops::errors::Disposition::Retry
            );
        }
    }

    #[test]
    fn only_a_429_rejected_credentials_or_a_refusal_say_nothing_was_bought() {
        let effect = |failure| CanadaPostError::from_failure(CREATE_SHIPMENT, failure).effect();
        assert_eq!(
            effect(Failure::RateLimited { retry_after: None }),
            CallEffect::NotDone
        );
        assert_eq!(
            effect(Failure::CredentialsRejected { status: 401 }),
            CallEffect::NotDone
        );
        assert_eq!(
            effect(Failure::Rejected {
                status: 400,
                body: Vec::new()
            }),
            CallEffect::Refused
        );
        for status in [500, 502, 503, 504] {
            assert_eq!(effect(Failure::Unavailable { status }), CallEffect::Unknown);
        }
        let unreadable = CanadaPostError::UnexpectedBody {
            operation: CREATE_SHIPMENT,
            reason: "cut short".into(),
        };
        assert_eq!(unreadable.effect(), CallEffect::Unknown);
    }
}
