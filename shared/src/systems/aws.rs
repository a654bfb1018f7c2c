//! S3, SQS and Secrets Manager clients, built from the standard AWS configuration.
//!
//! Region and credentials come from the usual chain (in Lambda, its environment). When
//! `AWS_ENDPOINT_URL` is set — the local stack — the SDK sends every request there, and
//! S3 uses path-style addresses (`http://host/bucket/key`) since a local server has no
//! per-bucket host names.
//!
//! Every operation is bounded: each attempt by [`ATTEMPT_TIMEOUT`], the whole operation
//! with the SDK's own retries by [`OPERATION_TIMEOUT`], which the functions' time budgets
//! ([`crate::ops::time_budget`]) count per call (Secrets Manager is read before the first
//! event, outside every budget, within the same bounds). For a streamed S3 download the bound
//! covers the request up to the first bytes of the body; reading the body is the
//! import's, which resumes after its last batch when it runs out of time.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::ConfigBag;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use secrecy::SecretString;

use crate::ops::config::secrets::SecretSource;
use crate::ops::errors::error_chain;
use crate::systems::http::trust_roots_pem;

/// How long one attempt of an S3 or SQS operation may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
/// How long an S3 or SQS operation may take, its retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The AWS clients a function uses, built once at cold start.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// S3: order files in, label PDFs out.
    pub s3: aws_sdk_s3::Client,
    /// SQS: work queues and their dead-letter queues.
    pub sqs: aws_sdk_sqs::Client,
}

/// Loads the standard AWS configuration once per process, for every client a function
/// builds. Credentials are resolved lazily, on the first request, so this does no network
/// work.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(sdk_http_client())
        .load()
        .await
}

/// The SDK's own HTTPS client (rustls with aws-lc, as its default), trusting the roots
/// the outbound HTTP clients trust ([`crate::systems::http`]) instead of the system's
/// store. The default loads the system's store (147 files here, 4–12 ms) as soon as a
/// client is built, and `load` builds one for the web-identity credentials provider: every
/// cold start paid for it before its first event.
fn sdk_http_client() -> SharedHttpClient {
    let trust_store = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(trust_roots_pem());
    let context = TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .expect("a TLS context of a trust store alone always builds");
    SharedHttpClient::new(BuiltOnFirstRequest(
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build_https(),
    ))
}

/// The SDK's client, less its check at client construction: that check builds a
/// connector, trust roots and all, and throws it away, once for every client built (four
/// at a function's cold start, one of them inside `load`). Connectors are then built on
/// the first request that needs one, as the SDK does anyway, and kept.
#[derive(Debug)]
struct BuiltOnFirstRequest(SharedHttpClient);

impl HttpClient for BuiltOnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        _: &RuntimeComponentsBuilder,
        _: &ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        Ok(())
    }
}

impl AwsClients {
    /// Loads the standard configuration and builds both clients, without network work.
    pub async fn from_env(endpoint_url: Option<&str>) -> Self {
        Self::from_sdk_config(&load_sdk_config().await, endpoint_url)
    }

    /// Builds both clients from an already loaded configuration.
    pub fn from_sdk_config(shared: &SdkConfig, endpoint_url: Option<&str>) -> Self {
        let mut s3 = aws_sdk_s3::config::Builder::from(shared).timeout_config(timeouts());
        if let Some(url) = endpoint_url {
            s3 = s3.endpoint_url(url).force_path_style(true);
        }
        let mut sqs = aws_sdk_sqs::config::Builder::from(shared).timeout_config(timeouts());
        if let Some(url) = endpoint_url {
            sqs = sqs.endpoint_url(url);
        }
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
        }
    }
}

/// Secrets Manager, read at cold start for the secrets a function is given as
/// `<NAME>_SECRET_ARN` ([`crate::ops::config::secrets`]).
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    /// Builds the client from an already loaded configuration, without network work.
    pub fn from_sdk_config(shared: &SdkConfig, endpoint_url: Option<&str>) -> Self {
        let mut config =
            aws_sdk_secretsmanager::config::Builder::from(shared).timeout_config(timeouts());
        if let Some(url) = endpoint_url {
            config = config.endpoint_url(url);
        }
        Self {
            client: aws_sdk_secretsmanager::Client::from_conf(config.build()),
        }
    }
}

impl SecretSource for SecretsManager {
    async fn fetch(&self, secret_id: &str) -> Result<SecretString, String> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(secret_error)?;
        output
            .secret_string
            .map(SecretString::from)
            .ok_or_else(|| "the secret holds binary data, not a SecretString".to_owned())
    }
}

/// Why a secret could not be had, in a line. Built from the parts of the SDK's error that
/// cannot hold the secret: its `Debug` form may carry the raw answer, whose body is the
/// value itself when it failed to parse.
fn secret_error<E: ProvideErrorMetadata, R>(err: SdkError<E, R>) -> String {
    match err {
        SdkError::ServiceError(service) => {
            let err = service.err();
            format!(
                "{}: {}",
                err.code().unwrap_or("error"),
                err.message().unwrap_or("no message")
            )
        }
        SdkError::TimeoutError(_) => format!(
            "no answer from Secrets Manager within {} s",
            OPERATION_TIMEOUT.as_secs()
        ),
        SdkError::DispatchFailure(failure) => match failure.as_connector_error() {
            Some(connector) => format!(
                "Secrets Manager could not be reached: {}",
                error_chain(connector)
            ),
            None => "Secrets Manager could not be reached".to_owned(),
        },
        SdkError::ResponseError(_) => "Secrets Manager's answer could not be read".to_owned(),
        _ => "the request to Secrets Manager could not be made".to_owned(),
    }
}

/// An S3 notification's object key that is not valid percent-encoded UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("S3 object key {0:?} is not valid URL-encoded UTF-8")]
pub struct InvalidObjectKey(pub String);

/// Decodes an object key as S3 notifications carry it: URL-encoded, with `+` for a space
/// (`incoming%2F2026+orders.csv` → `incoming/2026 orders.csv`).
pub fn decode_notification_key(raw: &str) -> Result<String, InvalidObjectKey> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| InvalidObjectKey(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_keys_are_url_decoded_with_plus_as_space() {
        assert_eq!(
            decode_notification_key("incoming%2F2026+orders%2Bextra.csv").unwrap(),
            "incoming/2026 orders+extra.csv"
        );
        assert_eq!(decode_notification_key("plain.csv").unwrap(), "plain.csv");
    }

    #[test]
    fn a_key_that_is_not_utf8_is_refused_with_the_raw_key() {
        let err = decode_notification_key("bad%FF.csv").unwrap_err();
        assert!(err.to_string().contains("bad%FF.csv"));
    }
}
