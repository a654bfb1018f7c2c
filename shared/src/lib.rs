//! sellerops — the domain crate every Lambda function shares.
//!
//! The function crates in `functions/` stay thin: they parse their event, call into this
//! crate, and map the result. Everything testable lives here, in four folders by role:
//!
//! - [`flows`]: the business flows, one module per job the functions do: order-file
//!   import ([`flows::ingest`]), recording every channel's orders and messages
//!   ([`flows::recording`]), fulfilment ([`flows::fulfilment`]: accepting orders, buying
//!   labels, stock that follows the order), webhooks ([`flows::webhooks`]), marketplace
//!   sync and the Shopify orders reconciliation ([`flows::marketplace_sync`]), the daily
//!   sales aggregates both imports and recordings keep exact
//!   ([`flows::sales_aggregates`]), the support reports ([`flows::support_reports`]) and
//!   the price decision ([`flows::pricing`]).
//! - [`systems`]: the outside systems, each behind its own client or document types:
//!   Mirakl ([`systems::mirakl`]), Amazon SP-API ([`systems::amazon`]), Canada Post
//!   ([`systems::canadapost`]), Shopify
//!   ([`systems::shopify`]), Freshdesk ([`systems::freshdesk`]), AWS ([`systems::aws`])
//!   and the database pool ([`systems::db`]); the HTTP APIs all go through one client
//!   ([`systems::http`]).
//! - [`ops`]: the machinery the flows share: configuration, errors, SQS batches, leases,
//!   delivery records, outbox, retries, telemetry, the API-call and failure logs.
//! - [`model`]: the values every flow speaks in: channels, money, customer emails and
//!   customers, outside documents kept exact.
//!
//! The schema lives in `migrations/` and is embedded as [`MIGRATOR`].

pub mod flows;
pub mod model;
pub mod ops;
pub mod systems;

/// The forward-only schema migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
