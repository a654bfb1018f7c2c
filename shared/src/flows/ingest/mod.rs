//! Order-file import: a CSV file of orders (one row per order line) dropped into the
//! orders bucket becomes customers, products, orders and order lines, with every bad row
//! recorded and the daily sales aggregates kept exact.
//!
//! Layout, in the order an import uses them:
//! - [`notification`]: S3 events (direct, or in SQS message bodies) → object versions
//! - [`ingestion_file`]: the file's row: claim and lease, content hash, checkpoint, outcome
//! - [`file_reader`]: the object as a stream: gzip, SHA-256, UTF-8
//! - [`limits`]: how large the text, a line and a field may be, and the reader that
//!   keeps to them
//! - [`columns`], [`order_file_row`], [`payment_method`]: header and rows → typed values
//! - [`chunk_plan`]: what a batch of rows does to the orders (the rules, no I/O)
//! - [`chunk_writer`]: the batch's set-based SQL
//! - [`import`]: the whole import, and why it happens exactly once; its last transaction
//!   recomputes the daily sales aggregates of the days touched
//!   ([`crate::flows::sales_aggregates`])

pub mod chunk_plan;
pub mod chunk_writer;
pub mod columns;
pub mod file_reader;
pub mod import;
pub mod ingestion_file;
pub mod limits;
pub mod notification;
pub mod order_file_row;
pub mod payment_method;

pub use import::{ImportOptions, ImportOutcome, OrderFileImporter};
pub use limits::OrderFileLimits;
pub use notification::{Invocation, Notification, ObjectRef};
