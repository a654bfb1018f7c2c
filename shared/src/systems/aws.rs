//! S3 and SQS clients, built from the standard AWS configuration.
//!
//! Region and credentials come from the usual chain (in Lambda, its environment). When
//! `AWS_ENDPOINT_URL` is set — the local stack — the SDK sends every request there, and
//! S3 uses path-style addresses (`http://host/bucket/key`) since a local server has no
//! per-bucket host names.
//!
//! Every operation is bounded: each attempt by [`ATTEMPT_TIMEOUT`], the whole operation
//! with the SDK's own retries by [`OPERATION_TIMEOUT`], which the functions' time budgets
//! ([`crate::ops::time_budget`]) count per call. For a streamed S3 download the bound
//! covers the request up to the first bytes of the body; reading the body is the
//! import's, which resumes after its last batch when it runs out of time.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

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

impl AwsClients {
    /// Loads the standard configuration and builds both clients. Credentials are resolved
    /// lazily, on the first request, so this does no network work.
    pub async fn from_env(endpoint_url: Option<&str>) -> Self {
        let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::from_sdk_config(&shared, endpoint_url)
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
