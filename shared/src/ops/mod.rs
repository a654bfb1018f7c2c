//! The machinery every flow shares: configuration, errors, SQS batches, delivery
//! records and the leases behind them, the outbox, retries, telemetry, and the API-call
//! and failure logs and their scheduled purge, and the time budgets that keep every
//! invocation inside its timeout.

pub mod api_calls;
pub mod config;
pub mod crash_points;
pub mod errors;
pub mod idempotency;
pub mod lease;
pub mod outbox;
pub mod process_failures;
pub mod retention;
pub mod retry;
pub mod sqs_batch;
pub mod telemetry;
pub mod time_budget;
