//! Invoking a function through the local Lambda endpoint (`cargo lambda watch`), the
//! way the Lambda Invoke API does: `POST {endpoint}/2015-03-31/functions/{name}/invocations`.
//!
//! The router reaches functions through [`Invoke`], so that the reliability suite can run
//! the same handlers in its own process (where it can stop one mid-batch) while the
//! queues, receives, deletes and redeliveries stay the router's.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

/// What runs a function on an SQS batch for the router.
pub trait Invoke: Clone + Send + Sync + 'static {
    /// Runs `function` on `event` (an `SqsEvent` whose records have `message_ids`) and
    /// reads its partial batch response as Lambda's event source mapping does.
    fn invoke_batch(
        &self,
        function: &str,
        event: &serde_json::Value,
        message_ids: &HashSet<String>,
    ) -> impl Future<Output = BatchOutcome> + Send;
}

impl Invoke for LambdaEndpoint {
    fn invoke_batch(
        &self,
        function: &str,
        event: &serde_json::Value,
        message_ids: &HashSet<String>,
    ) -> impl Future<Output = BatchOutcome> + Send {
        LambdaEndpoint::invoke_batch(self, function, event, message_ids)
    }
}

/// A client of the local Lambda endpoint.
#[derive(Debug, Clone)]
pub struct LambdaEndpoint {
    http: reqwest::Client,
    base_url: String,
}

/// What an invocation of an SQS batch came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    /// The function ran; these message ids failed (empty: all succeeded).
    Completed {
        /// `batchItemFailures[].itemIdentifier`.
        failed: HashSet<String>,
    },
    /// The whole batch failed: a function error, an HTTP error, a response that is
    /// not a batch response, or no answer.
    Failed {
        /// Why, for the log.
        reason: String,
    },
    /// The endpoint has no such function (404): it is not built in this workspace.
    MissingFunction,
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("could not build the HTTP client for the Lambda endpoint")]
pub struct EndpointError(#[from] reqwest::Error);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchResponse {
    #[serde(default)]
    batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemFailure {
    item_identifier: Option<String>,
}

impl LambdaEndpoint {
    /// A client for `base_url` (e.g. `http://127.0.0.1:9000`). `timeout` bounds one
    /// invocation; the first one may include compiling the function.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, EndpointError> {
        Ok(Self {
            http: reqwest::Client::builder().timeout(timeout).build()?,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The invocation URL of `function`.
    pub fn invocation_url(&self, function: &str) -> String {
        format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.base_url
        )
    }

    /// Invokes `function` with an SQS batch whose records have `message_ids`, and reads
    /// the partial batch response as Lambda's event source mapping does.
    pub async fn invoke_batch(
        &self,
        function: &str,
        event: &serde_json::Value,
        message_ids: &HashSet<String>,
    ) -> BatchOutcome {
        let response = match self
            .http
            .post(self.invocation_url(function))
            .json(event)
            .send()
            .await
        {
            Ok(response) => response,
            Err(err) => {
                return BatchOutcome::Failed {
                    reason: format!("no answer from the Lambda endpoint: {err}"),
                }
            }
        };
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status == StatusCode::NOT_FOUND {
            return BatchOutcome::MissingFunction;
        }
        if !status.is_success() {
            return BatchOutcome::Failed {
                reason: format!("function error (HTTP {status}): {}", shorten(&body)),
            };
        }
        batch_outcome(&body, message_ids)
    }
}

/// Reads a function's answer to an SQS batch. An empty answer or `null` means every
/// message succeeded; a failure naming no message, or one not in the batch, fails the
/// whole batch (as Lambda does).
pub fn batch_outcome(body: &str, message_ids: &HashSet<String>) -> BatchOutcome {
    let body = body.trim();
    if body.is_empty() || body == "null" {
        return BatchOutcome::Completed {
            failed: HashSet::new(),
        };
    }
    let response: BatchResponse = match serde_json::from_str(body) {
        Ok(response) => response,
        Err(_) => {
            // A function that returns something else (a string, a number) acknowledges
            // the whole batch, as Lambda treats any non-batch answer.
            return BatchOutcome::Completed {
                failed: HashSet::new(),
            };
        }
    };
    let mut failed = HashSet::new();
    for failure in response.batch_item_failures {
        match failure.item_identifier {
            Some(id) if message_ids.contains(&id) => {
                failed.insert(id);
            }
            other => {
                return BatchOutcome::Failed {
                    reason: format!(
                        "batchItemFailures names {other:?}, which is not a message of the batch"
                    ),
                }
            }
        }
    }
    BatchOutcome::Completed { failed }
}

fn shorten(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() > 300 {
        format!("{}…", text.chars().take(300).collect::<String>())
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> HashSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn no_failures_means_every_message_succeeded() {
        let outcome = batch_outcome(r#"{"batchItemFailures":[]}"#, &ids(&["a", "b"]));
        assert_eq!(outcome, BatchOutcome::Completed { failed: ids(&[]) });
        assert_eq!(
            batch_outcome("null", &ids(&["a"])),
            BatchOutcome::Completed { failed: ids(&[]) }
        );
    }

    #[test]
    fn reported_failures_are_only_those_messages() {
        let outcome = batch_outcome(
            r#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#,
            &ids(&["a", "b"]),
        );
        assert_eq!(
            outcome,
            BatchOutcome::Completed {
                failed: ids(&["b"])
            }
        );
    }

    #[test]
    fn a_failure_naming_an_unknown_message_fails_the_batch() {
        let outcome = batch_outcome(
            r#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#,
            &ids(&["a"]),
        );
        assert!(matches!(outcome, BatchOutcome::Failed { .. }));
        let outcome = batch_outcome(r#"{"batchItemFailures":[{}]}"#, &ids(&["a"]));
        assert!(matches!(outcome, BatchOutcome::Failed { .. }));
    }
}
