//! Importing one order file, exactly once, in bounded memory.
//!
//! An import reads the object twice, both times as a stream:
//!
//! 1. **Scan.** The stored bytes are hashed (SHA-256) and the text checked to be UTF-8
//!    (gzip decompressed on the fly). The hash goes on the file's row, where a partial
//!    unique index among live files turns a second copy of the same content, under any
//!    key and even at the same moment, into a `duplicate` that writes nothing else. A
//!    file that is not gzip or not UTF-8 fails here, before any row is written.
//! 2. **Import.** The CSV is parsed into typed rows and written in batches of
//!    [`ImportOptions::batch_rows`], each in one transaction of a few set-based
//!    statements. Parsing the next batch overlaps with writing the last one; at most
//!    two batches are ever in memory, whatever the file's size.
//!
//! Hashing first costs a second read of the object (cheap next to the database work,
//! and in-region S3 reads are free); in exchange nothing is ever written for a duplicate
//! or an unreadable file, and no staging copy of the rows is needed.
//!
//! **Exactly once.** The file's `ingestion_files` row (one per object version) is the
//! delivery record. An attempt claims it with a lease (a second delivery meanwhile is
//! told to retry later; a settled file is acknowledged and left alone). Each batch's
//! transaction renews the lease, which locks the row and fails if another attempt took
//! the file over, writes the batch's orders, lines and errors, and advances
//! `processed_rows + failed_rows`, the checkpoint. A batch is therefore written entirely
//! or not at all, exactly once: after a crash, the retry (once the lease runs out) takes
//! the file over, re-reads it, skips the rows before the checkpoint and carries on; the
//! attempt taken over, should it wake up, finds its lease gone and stops. The last
//! transaction marks the file completed and recomputes the daily aggregates of every day
//! any batch touched (recorded with the batches, so a crashed attempt's days are not
//! forgotten).
//!
//! **Never half a file.** A file refused once batches have committed (a record past
//! a limit of [`super::limits`], or any other permanent failure) is marked `failed` in
//! one transaction that also takes back what its batches wrote and recomputes the
//! aggregates of their days ([`ingestion_file::fail`]): a file is imported whole or
//! not at all, and the event is acknowledged with the reason on the file's row.
//!
//! Within a batch, the rules of [`super::chunk_plan`] apply to what the database already
//! holds, read under an advisory lock that keeps concurrent imports of other files from
//! interleaving their batches.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::Utc;

use csv_async::{AsyncReader, AsyncReaderBuilder, StringRecord};
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::chunk_plan::BatchPlan;
use super::chunk_writer::{self, VariantCache};
use super::columns::ColumnMap;
use super::file_reader::{self, ReadFailureClassifier, TextReader};
use super::ingestion_file::{self, Claim, ClaimedFile, ContentCheck, FileStatus};
use super::limits::{BoundedText, Limit, LimitExceeded, OrderFileLimits};
use super::notification::ObjectRef;
use super::order_file_row::{OrderFileRow, RejectedRow, RowNumber, RowParser};
use crate::flows::sales_aggregates::SalesDays;
use crate::model::customer_email::EmailPepper;
use crate::model::money::Currency;
use crate::ops::crash_points::crash_point;
use crate::ops::errors::{error_chain, ProcessError};
use crate::ops::lease::{Lease, LeaseError};
use crate::ops::process_failures::{record_process_failure, ProcessFailure};

/// How an import runs. The defaults suit production; tests shrink batches.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Rows per batch (and per transaction).
    pub batch_rows: usize,
    /// How long an attempt holds the file without committing a batch before another
    /// attempt may take it over. Longer than the scan of the largest file and than any
    /// one batch (the function's 300 s timeout bounds both); shorter than the queue's
    /// visibility timeout, so a retried message finds a crashed attempt's lease expired.
    pub lease: Duration,
    /// How large the file's text, a line and a field may be.
    pub limits: OrderFileLimits,
}

/// The production lease of an import (see [`ImportOptions::lease`]); the time budget
/// ([`crate::ops::time_budget`]) checks it against the template.
pub const IMPORT_LEASE: Duration = Duration::from_secs(5 * 60);

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            batch_rows: 5_000,
            lease: IMPORT_LEASE,
            limits: OrderFileLimits::default(),
        }
    }
}

/// How an import of one object version ended. Every outcome acknowledges the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ImportOutcome {
    /// Every row is accounted for: imported or recorded in `ingest.ingestion_errors`.
    Completed {
        /// The `ingestion_files` row.
        file_id: Uuid,
        /// Data rows in the file.
        total_rows: i64,
        /// Rows imported (or found already imported, identical).
        processed_rows: i64,
        /// Rows rejected.
        failed_rows: i64,
    },
    /// The same content was imported (or is being imported) from another object.
    Duplicate {
        /// The `ingestion_files` row, now `duplicate`.
        file_id: Uuid,
        /// The file whose import stands for this one.
        duplicate_of: Uuid,
    },
    /// An earlier delivery already settled this object version.
    AlreadySettled {
        /// The `ingestion_files` row.
        file_id: Uuid,
        /// Completed, failed or duplicate.
        status: FileStatus,
    },
    /// The file cannot be imported as it is; the reason is on the file's row and in
    /// `ops.process_failures`, and nothing of it is left in the orders.
    Failed {
        /// The `ingestion_files` row.
        file_id: Uuid,
        /// What is wrong, naming it.
        reason: String,
    },
}

/// Imports order files. Built once per function instance; cheap to clone.
#[derive(Debug, Clone)]
pub struct OrderFileImporter {
    pool: PgPool,
    s3: aws_sdk_s3::Client,
    pepper: EmailPepper,
    default_currency: Currency,
    options: ImportOptions,
}

/// Why an attempt stopped before settling the file.
enum Stop {
    /// A failure, retryable or permanent.
    Failed(ProcessError),
    /// Another attempt took the file over (its lease ran out on us).
    Lost,
}

impl From<ProcessError> for Stop {
    fn from(err: ProcessError) -> Self {
        Stop::Failed(err)
    }
}

/// A database failure while doing `what`, classified retryable or permanent.
fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> ProcessError {
    move |err| ProcessError::database(what, err)
}

/// A write under the file's lease that did not happen while doing `what`.
fn leased(what: &'static str) -> impl FnOnce(LeaseError) -> Stop {
    move |err| match err {
        LeaseError::Lost => Stop::Lost,
        LeaseError::Database(err) => Stop::Failed(ProcessError::database(what, err)),
    }
}

/// Rows parsed from the file, on their way to the database.
#[derive(Debug, Default)]
struct Batch {
    rows: Vec<OrderFileRow>,
    rejected: Vec<RejectedRow>,
    /// The text of its rows, which they keep a copy of: bounds a batch of long rows.
    text_bytes: u64,
}

/// A batch is handed on once its rows' text reaches this size, however few rows it
/// has: a file of rows near the line limit then keeps memory as flat as one of short
/// rows (at most three batches are alive: being read, queued, being written).
const BATCH_TEXT_BYTES: u64 = 8 * 1024 * 1024;

impl Batch {
    fn len(&self) -> usize {
        self.rows.len() + self.rejected.len()
    }
}

impl OrderFileImporter {
    /// An importer with the default [`ImportOptions`].
    pub fn new(
        pool: PgPool,
        s3: aws_sdk_s3::Client,
        pepper: EmailPepper,
        default_currency: Currency,
    ) -> Self {
        Self {
            pool,
            s3,
            pepper,
            default_currency,
            options: ImportOptions::default(),
        }
    }

    /// The same importer with other options.
    pub fn with_options(mut self, options: ImportOptions) -> Self {
        self.options = options;
        self
    }

    /// The database pool, for recording failures around imports.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Imports one object version. A file that can never be imported is settled as
    /// [`ImportOutcome::Failed`] (recorded, and the event acknowledged); `Err` means the
    /// file is not settled and the event must be delivered again (retryable), or, when
    /// permanent, that not even the failure could be recorded.
    pub async fn import(&self, object: &ObjectRef) -> Result<ImportOutcome, ProcessError> {
        let started = Instant::now();
        let claimed = match ingestion_file::claim(&self.pool, object, self.options.lease)
            .await
            .map_err(db("claiming the order file"))?
        {
            Claim::Claimed(claimed) => claimed,
            Claim::Settled { file_id, status } => {
                tracing::info!(%file_id, %object, ?status, "order file already settled");
                return Ok(ImportOutcome::AlreadySettled { file_id, status });
            }
            Claim::HeldElsewhere { file_id, until } => {
                return Err(ProcessError::retryable(
                    format!("order file {object} is being imported by another attempt"),
                    format!("file {file_id} is leased until {until}"),
                ));
            }
            Claim::Replaced { file_id } => {
                return self.refuse_replaced_content(object, file_id).await;
            }
        };
        let file_id = claimed.file_id();
        tracing::info!(%file_id, %object, resume_after_rows = claimed.rows_done, "importing order file");

        // Boxed: the import future is deep, and boxing keeps callers' types shallow.
        match Box::pin(self.run(object, &claimed)).await {
            Ok(outcome) => {
                tracing::info!(%file_id, ?outcome, elapsed_ms = started.elapsed().as_millis() as u64,
                    "order file settled");
                Ok(outcome)
            }
            Err(Stop::Failed(err @ ProcessError::Permanent { .. })) => {
                let reason = error_chain(&err);
                tracing::error!(%file_id, %object, reason, "order file refused");
                match ingestion_file::fail(&self.pool, &claimed.lease, object, &reason).await {
                    Ok(()) => Ok(ImportOutcome::Failed { file_id, reason }),
                    Err(LeaseError::Lost) => Err(taken_over(object, file_id)),
                    Err(LeaseError::Database(err)) => Err(ProcessError::database(
                        "recording the order file as failed",
                        err,
                    )),
                }
            }
            Err(Stop::Failed(err)) => {
                if let Err(release_err) = claimed.lease.release(&self.pool).await {
                    tracing::warn!(%file_id, error = %error_chain(&release_err),
                        "could not release the lease; the retry waits for it to run out");
                }
                Err(err)
            }
            Err(Stop::Lost) => Err(taken_over(object, file_id)),
        }
    }

    async fn run(&self, object: &ObjectRef, claimed: &ClaimedFile) -> Result<ImportOutcome, Stop> {
        let file_id = claimed.file_id();
        if claimed.content_hash.is_none() {
            let scan = file_reader::scan(&self.s3, object, &self.options.limits).await?;
            match ingestion_file::record_content(&self.pool, &claimed.lease, &scan)
                .await
                .map_err(db("recording the order file's content hash"))?
            {
                ContentCheck::Unique => {}
                ContentCheck::DuplicateOf(original) => {
                    tracing::info!(%file_id, %original, "order file is a duplicate");
                    return Ok(ImportOutcome::Duplicate {
                        file_id,
                        duplicate_of: original,
                    });
                }
                ContentCheck::Lost => return Err(Stop::Lost),
            }
        }

        let reader = file_reader::open(&self.s3, object).await?;
        let classifier = reader.failure_classifier();
        let limits = self.options.limits;
        let mut csv = AsyncReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .create_reader(BoundedText::new(reader, limits));
        let header = csv
            .headers()
            .await
            .map_err(|err| csv_failure(&classifier, &limits, 1, err))?;
        let columns = ColumnMap::from_header(header)
            .map_err(|err| ProcessError::permanent(err.to_string()))?;
        let parser = RowParser::new(
            columns,
            self.default_currency,
            self.pepper.clone(),
            Utc::now(),
        );

        let (sender, receiver) = mpsc::channel(1);
        let reading = read_batches(
            csv,
            classifier,
            limits,
            parser,
            claimed.rows_done,
            self.options.batch_rows.max(1),
            sender,
        );
        let writing = self.write_batches(&claimed.lease, claimed.rows_done, receiver);
        let (read, written) = tokio::join!(reading, writing);
        // A writing failure explains a reading one (the reader stops when the writer
        // does), so it is reported first.
        let rows_written = written?;
        let total_rows = read?;
        if rows_written != total_rows {
            return Err(ProcessError::retryable(
                format!("import of {object} ended early"),
                format!("{rows_written} of {total_rows} rows written"),
            )
            .into());
        }
        self.finish(&claimed.lease, total_rows).await
    }

    async fn write_batches(
        &self,
        lease: &Lease<Uuid>,
        mut rows_done: i64,
        mut receiver: mpsc::Receiver<Batch>,
    ) -> Result<i64, Stop> {
        let mut cache = VariantCache::default();
        crash_point!(OrderFileBatchBoundary);
        while let Some(batch) = receiver.recv().await {
            let size = batch.len() as i64;
            let variants = self.write_batch(lease, batch, &cache).await?;
            cache.remember(variants);
            rows_done += size;
            crash_point!(OrderFileBatchBoundary);
        }
        Ok(rows_done)
    }

    /// One batch, one transaction: everything or nothing, and only while the file is
    /// still this attempt's.
    async fn write_batch(
        &self,
        lease: &Lease<Uuid>,
        batch: Batch,
        cache: &VariantCache,
    ) -> Result<std::collections::HashMap<String, Uuid>, Stop> {
        let file_id = *lease.key();
        let mut tx = self.pool.begin().await.map_err(db("starting a batch"))?;
        chunk_writer::lock_file_import_orders(&mut tx)
            .await
            .map_err(db("waiting for other order imports"))?;
        lease
            .renew(&mut tx, self.options.lease)
            .await
            .map_err(leased("renewing the order file's lease"))?;
        let order_refs: Vec<String> = batch
            .rows
            .iter()
            .map(|row| row.order.order_ref.as_str().to_owned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let known = chunk_writer::known_orders(&mut tx, &order_refs)
            .await
            .map_err(db("reading orders already imported"))?;
        let plan = BatchPlan::build(batch.rows, known);
        let variants = chunk_writer::write_plan(&mut tx, file_id, &plan, cache)
            .await
            .map_err(db("writing a batch of orders"))?;
        chunk_writer::insert_row_errors(
            &mut tx,
            file_id,
            batch.rejected.iter().chain(&plan.rejected),
        )
        .await
        .map_err(db("recording rejected rows"))?;
        let failed = (batch.rejected.len() + plan.rejected.len()) as i64;
        ingestion_file::advance_checkpoint(&mut tx, file_id, plan.accepted_rows as i64, failed)
            .await
            .map_err(db("advancing the order file's checkpoint"))?;
        tx.commit().await.map_err(db("committing a batch"))?;
        Ok(variants)
    }

    /// The last transaction: the file is completed and the aggregates of its days are
    /// recomputed, together.
    async fn finish(&self, lease: &Lease<Uuid>, total_rows: i64) -> Result<ImportOutcome, Stop> {
        let file_id = *lease.key();
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db("starting the last transaction"))?;
        let Some((processed_rows, failed_rows)) =
            ingestion_file::complete(&mut tx, lease, total_rows)
                .await
                .map_err(leased("completing the order file"))?
        else {
            return Err(Stop::Lost);
        };
        let mut days = SalesDays::new();
        days.extend(
            ingestion_file::days_touched_by(&mut tx, file_id)
                .await
                .map_err(db("reading the days the order file touched"))?,
        );
        days.add_rows_written(processed_rows);
        days.refresh(&mut tx)
            .await
            .map_err(db("recomputing the daily sales aggregates"))?;
        tx.commit()
            .await
            .map_err(db("committing the completed order file"))?;
        Ok(ImportOutcome::Completed {
            file_id,
            total_rows,
            processed_rows,
            failed_rows,
        })
    }

    /// An unversioned key now holds content other than what was imported under it. The
    /// new content has no row of its own to import under, so a person is told.
    async fn refuse_replaced_content(
        &self,
        object: &ObjectRef,
        file_id: Uuid,
    ) -> Result<ImportOutcome, ProcessError> {
        let reason = format!(
            "order file {object} was replaced by other content after it was imported; the \
             bucket is not versioned, so the new content cannot be imported under the same key. \
             Upload it under a new key."
        );
        let payload = serde_json::json!({
            "ingestion_file_id": file_id, "bucket": object.bucket, "key": object.key,
            "etag": object.etag,
        });
        record_process_failure(
            &self.pool,
            &ProcessFailure {
                process: ingestion_file::PROCESS_NAME,
                entity_type: "ingestion_file",
                entity_ref: &object.to_string(),
                reason: &reason,
                payload: Some(payload),
            },
        )
        .await
        .map_err(db("recording a replaced order file"))?;
        tracing::error!(%file_id, %object, "order file replaced under an unversioned key");
        Ok(ImportOutcome::Failed { file_id, reason })
    }
}

/// The retryable error of an attempt whose file another attempt took over.
fn taken_over(object: &ObjectRef, file_id: Uuid) -> ProcessError {
    ProcessError::retryable(
        format!("order file {object} was taken over by another attempt"),
        format!("the lease on file {file_id} was taken over"),
    )
}

/// Reads the rows after the header, skips the `skip` rows an earlier attempt committed,
/// parses the rest and hands them on in batches. Returns the number of data rows in
/// the file. Stops quietly when the writer has stopped. A record past a line or field
/// limit stops the import: the file is refused (and what earlier batches wrote undone).
async fn read_batches(
    mut csv: AsyncReader<BoundedText<TextReader>>,
    classifier: ReadFailureClassifier,
    limits: OrderFileLimits,
    mut parser: RowParser,
    skip: i64,
    batch_rows: usize,
    sender: mpsc::Sender<Batch>,
) -> Result<i64, Stop> {
    let mut record = StringRecord::new();
    let mut rows_read = 0_i64;
    let mut batch = Batch::default();
    loop {
        let start = csv.position().clone();
        csv.get_mut().record_starts_at(start.byte());
        let more = csv
            .read_record(&mut record)
            .await
            .map_err(|err| csv_failure(&classifier, &limits, start.line(), err))?;
        if !more {
            break;
        }
        let text_bytes = csv.position().byte().saturating_sub(start.byte());
        let line = record.position().map_or(start.line(), |at| at.line());
        check_record_size(&record, text_bytes, line, &limits, parser.columns())?;
        if record.iter().all(str::is_empty) {
            continue; // a blank line is not a row
        }
        rows_read += 1;
        if rows_read <= skip {
            continue;
        }
        let row_number = record
            .position()
            .and_then(|position| RowNumber::try_from(position.line()).ok())
            .unwrap_or(RowNumber::MAX);
        match parser.parse(row_number, &record) {
            Ok(row) => batch.rows.push(row),
            Err(rejected) => batch.rejected.push(rejected),
        }
        batch.text_bytes += text_bytes;
        let full = batch.len() >= batch_rows || batch.text_bytes >= BATCH_TEXT_BYTES;
        if full && sender.send(std::mem::take(&mut batch)).await.is_err() {
            return Ok(rows_read);
        }
    }
    if batch.len() > 0 {
        // A closed channel means the writer stopped; its error is the one reported.
        let _ = sender.send(batch).await;
    }
    Ok(rows_read)
}

/// Refuses the file when `record` (`text_bytes` long, starting on `line`) is longer than
/// a line or holds a field longer than a field may be. The reader kept it within a
/// line's limit plus what was read with it, so it was measured in bounded memory.
fn check_record_size(
    record: &StringRecord,
    text_bytes: u64,
    line: u64,
    limits: &OrderFileLimits,
    columns: &ColumnMap,
) -> Result<(), Stop> {
    if text_bytes > limits.max_line_bytes {
        let exceeded = LimitExceeded::new(Limit::Line, limits, Some(line));
        return Err(ProcessError::permanent(exceeded.to_string()).into());
    }
    for (index, field) in record.iter().enumerate() {
        if field.len() as u64 > limits.max_field_bytes {
            let exceeded = LimitExceeded::new(Limit::Field, limits, Some(line))
                .in_column(columns.name_at(index));
            return Err(ProcessError::permanent(exceeded.to_string()).into());
        }
    }
    Ok(())
}

/// Why the CSV reader stopped, reading the record that starts on `line`.
fn csv_failure(
    classifier: &ReadFailureClassifier,
    limits: &OrderFileLimits,
    line: u64,
    err: csv_async::Error,
) -> Stop {
    let line = err.position().map_or(line, |position| position.line());
    match err.into_kind() {
        csv_async::ErrorKind::Io(io) => match LimitExceeded::from_io(&io) {
            Some(limit) => {
                let exceeded = LimitExceeded::new(*limit, limits, Some(line));
                ProcessError::permanent(exceeded.to_string()).into()
            }
            None => classifier.classify(io).into(),
        },
        csv_async::ErrorKind::Utf8 { .. } => {
            ProcessError::permanent(format!("order file is not UTF-8 text (line {line})")).into()
        }
        other => {
            ProcessError::permanent(format!("order file is not readable CSV: {other:?}")).into()
        }
    }
}
