//! The machinery every flow shares: configuration, errors, SQS batches, delivery
//! records, the outbox, retries, telemetry, and the API-call and failure logs.

pub mod api_calls;
pub mod config;
pub mod errors;
pub mod idempotency;
pub mod outbox;
pub mod process_failures;
pub mod retry;
pub mod sqs_batch;
pub mod telemetry;
