//! The business flows: what the functions do, each in its own module.

pub mod fulfilment;
pub mod ingest;
pub mod marketplace_sync;
pub mod pricing;
pub mod recording;
pub mod replies;
pub mod sales_aggregates;
pub mod support_reports;
pub mod webhooks;
