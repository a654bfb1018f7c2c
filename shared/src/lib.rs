//! sellerops — the domain crate every Lambda function shares.
//!
//! The function crates in `functions/` stay thin: they parse their event, call into this
//! crate, and map the result. Everything testable lives here.
//!
//! Layout:
//! - cross-cutting: [`config`], [`telemetry`], [`errors`], [`money`], [`customer_email`],
//!   [`idempotency`], [`outbox`], [`batch`], [`process_failures`], [`api_calls`]
//! - fulfilment: [`fulfilment`] (accepting orders, buying labels), [`canadapost`] (carrier
//!   API), [`retry`] (bounded in-invocation retries)
//! - domain: [`channel`], [`customers`], [`ingest`] (order-file import), [`recording`] (marketplace orders, threads and
//!   their follow-up work), [`shopify`], [`freshdesk`]
//! - entry points: [`webhooks`] (`marketplace-webhook`), [`marketplace_sync`]
//!   (`sync-marketplace`); [`received`] keeps outside documents exact
//! - adapters: [`db`] (PostgreSQL), [`aws`] (S3 and SQS clients), [`mirakl`] (marketplace API)
//!
//! The schema lives in `migrations/` and is embedded as [`MIGRATOR`].

pub mod api_calls;
pub mod aws;
pub mod batch;
pub mod canadapost;
pub mod channel;
pub mod config;
pub mod customer_email;
pub mod customers;
pub mod db;
pub mod errors;
pub mod freshdesk;
pub mod fulfilment;
pub mod idempotency;
pub mod ingest;
pub mod marketplace_sync;
pub mod mirakl;
pub mod money;
pub mod outbox;
pub mod process_failures;
pub mod received;
pub mod recording;
pub mod retry;
pub mod shopify;
pub mod telemetry;
pub mod webhooks;

/// The forward-only schema migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
