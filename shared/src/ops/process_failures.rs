//! `ops.process_failures`: permanent failures a person must look at.

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::model::personal_data::{redact_email_addresses, redact_json};

/// One permanent failure, named in the seller's words.
#[derive(Debug, Clone)]
pub struct ProcessFailure<'a> {
    /// The process that gave up, e.g. `OrderFileImport`, `OrderAcceptance`.
    pub process: &'a str,
    /// What kind of thing failed, e.g. `ingestion_file`, `order`, `sqs_message`.
    pub entity_type: &'a str,
    /// Which one: an object key, an order id, a message id.
    pub entity_ref: &'a str,
    /// Why, naming what was wrong, so a person can act without reading code.
    pub reason: &'a str,
    /// The input that failed, for replay once fixed (never secrets or plain emails).
    pub payload: Option<serde_json::Value>,
}

/// Writes the failure and returns its id. A reason may quote an outside system's
/// message and a payload may be an outside document, so both are written less their
/// personal data, like every other stored copy.
pub async fn record_process_failure<'e>(
    executor: impl PgExecutor<'e>,
    failure: &ProcessFailure<'_>,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "insert into ops.process_failures (process_name, entity_type, entity_ref, reason, payload)
         values ($1, $2, $3, $4, $5)
         returning id",
        failure.process,
        failure.entity_type,
        failure.entity_ref,
        redact_email_addresses(failure.reason),
        failure.payload.as_ref().map(kept_payload),
    )
    .fetch_one(executor)
    .await
}

fn kept_payload(payload: &serde_json::Value) -> serde_json::Value {
    let kept = redact_json(&payload.to_string());
    serde_json::from_str(&kept).unwrap_or(serde_json::Value::String(kept))
}
