//! `ingest-orders-file`: imports the order files dropped into the orders bucket.
//!
//! Production wiring: orders bucket → S3 notification → ingest queue → this function,
//! which reports partial batch failures per message. It may also be invoked directly
//! with an S3 event (an ad-hoc re-import). The import itself is
//! [`sellerops::flows::ingest::OrderFileImporter`]; this crate maps events to it.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lambda_events::event::sqs::SqsMessage;
use lambda_runtime::{Error, LambdaEvent};
use sellerops::flows::ingest::ingestion_file::PROCESS_NAME;
use sellerops::flows::ingest::notification::notifications_in_message_body;
use sellerops::flows::ingest::{ImportOutcome, Invocation, Notification, OrderFileImporter};
use sellerops::ops::errors::{error_chain, ProcessError};
use sellerops::ops::sqs_batch::settle_batch;
use sellerops::ops::telemetry::{emit_counts, Count};
use serde_json::{json, Value};
use tracing::Instrument;

/// The function's name, in logs, metrics and `pg_stat_activity`.
pub const FUNCTION_NAME: &str = "ingest-orders-file";

/// Handles one invocation. For an SQS event, answers with the `batchItemFailures` of the
/// messages to deliver again; for a direct S3 event, with the outcome of each object,
/// or an error when an object must be retried.
pub async fn handle(
    importer: &OrderFileImporter,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    let span = tracing::info_span!("ingest_orders_file", request_id = %context.request_id);
    async move {
        let tally = Tally::default();
        let response = match Invocation::from_payload(payload)? {
            Invocation::Sqs(event) => {
                let (response, batch) =
                    settle_batch(importer.pool(), PROCESS_NAME, event, |message| {
                        import_message(importer, message, &tally)
                    })
                    .await;
                tracing::info!(
                    succeeded = batch.succeeded,
                    retried = batch.retried,
                    gave_up = batch.gave_up,
                    "ingest messages settled"
                );
                serde_json::to_value(response)?
            }
            Invocation::S3(notifications) => {
                let results = import_all(importer, notifications, &tally)
                    .await
                    .inspect_err(
                        |err| tracing::warn!(error = %error_chain(err), "import will need a retry"),
                    )?;
                json!({ "results": results })
            }
        };
        tally.emit();
        Ok(response)
    }
    .instrument(span)
    .await
}

async fn import_message(
    importer: &OrderFileImporter,
    message: SqsMessage,
    tally: &Tally,
) -> Result<(), ProcessError> {
    let body = message.body.as_deref().unwrap_or_default();
    let notifications = notifications_in_message_body(body)
        .map_err(|err| ProcessError::permanent(err.to_string()))?;
    import_all(importer, notifications, tally).await.map(drop)
}

/// Imports every object a notification names, one after the other. Stops at the first
/// that must be retried: the redelivery finds the ones before it already settled.
async fn import_all(
    importer: &OrderFileImporter,
    notifications: Vec<Notification>,
    tally: &Tally,
) -> Result<Vec<Value>, ProcessError> {
    let mut results = Vec::with_capacity(notifications.len());
    for notification in notifications {
        let result = match notification {
            Notification::ObjectCreated(object) => {
                let outcome = importer.import(&object).await?;
                tally.count(&outcome);
                serde_json::to_value(&outcome).unwrap_or(Value::Null)
            }
            Notification::TestEvent => {
                tracing::info!("S3 test event acknowledged");
                json!({ "outcome": "ignored", "reason": "s3:TestEvent" })
            }
            Notification::Ignored { reason } => {
                tracing::info!(reason, "S3 notification ignored");
                json!({ "outcome": "ignored", "reason": reason })
            }
        };
        results.push(result);
    }
    Ok(results)
}

/// What one invocation did, emitted as metrics at its end.
#[derive(Debug, Default)]
struct Tally {
    files_imported: AtomicU64,
    files_duplicate: AtomicU64,
    files_failed: AtomicU64,
    rows_imported: AtomicU64,
    rows_rejected: AtomicU64,
}

impl Tally {
    fn count(&self, outcome: &ImportOutcome) {
        let add = |counter: &AtomicU64, n: i64| {
            counter.fetch_add(u64::try_from(n).unwrap_or(0), Ordering::Relaxed);
        };
        match outcome {
            ImportOutcome::Completed {
                processed_rows,
                failed_rows,
                ..
            } => {
                add(&self.files_imported, 1);
                add(&self.rows_imported, *processed_rows);
                add(&self.rows_rejected, *failed_rows);
            }
            ImportOutcome::Duplicate { .. } => add(&self.files_duplicate, 1),
            ImportOutcome::Failed { .. } => add(&self.files_failed, 1),
            ImportOutcome::AlreadySettled { .. } => {}
        }
    }

    fn emit(&self) {
        let count = |name, counter: &AtomicU64| Count {
            name,
            value: counter.load(Ordering::Relaxed),
        };
        emit_counts(
            FUNCTION_NAME,
            &[
                count("OrderFilesImported", &self.files_imported),
                count("OrderFilesDuplicate", &self.files_duplicate),
                count("OrderFilesFailed", &self.files_failed),
                count("OrderRowsImported", &self.rows_imported),
                count("OrderRowsRejected", &self.rows_rejected),
            ],
        );
    }
}
