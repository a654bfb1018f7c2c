//! sellerops — the domain crate every Lambda function shares.
//!
//! The function crates in `functions/` stay thin: they parse their event, call into this
//! crate, and map the result. Everything testable lives here.
//!
//! Layout:
//! - cross-cutting: [`config`], [`telemetry`], [`errors`], [`money`], [`customer_email`],
//!   [`idempotency`], [`batch`], [`process_failures`], [`api_calls`]
//! - domain: [`channel`], [`customers`], [`ingest`] (order-file import)
//! - adapters: [`db`] (PostgreSQL), [`aws`] (S3 and SQS clients)
//!
//! The schema lives in `migrations/` and is embedded as [`MIGRATOR`].

pub mod api_calls;
pub mod aws;
pub mod batch;
pub mod channel;
pub mod config;
pub mod customer_email;
pub mod customers;
pub mod db;
pub mod errors;
pub mod idempotency;
pub mod ingest;
pub mod money;
pub mod process_failures;
pub mod telemetry;

/// The forward-only schema migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
