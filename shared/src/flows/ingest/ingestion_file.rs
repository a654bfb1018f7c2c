//! `ingest.ingestion_files`: one row per S3 object version, and the record that decides
//! which attempt imports it.
//!
//! The row's life: claimed as `processing` with a lease ([`crate::ops::lease`]) →
//! content hash recorded (or `duplicate` of a live file with the same hash) → batches
//! advance `processed_rows + failed_rows`, the checkpoint → `completed` or `failed`. Every
//! write after the claim is fenced by the lease: an attempt that was taken over writes
//! nothing more.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::chunk_writer;
use super::file_reader::ContentScan;
use super::notification::ObjectRef;
use crate::flows::sales_aggregates::SalesDays;
use crate::model::channel::Channel;
use crate::ops::lease::{self, Lease, LeaseError, LeasedTable};
use crate::ops::process_failures::{record_process_failure, ProcessFailure};

/// Order files, leased while they are being imported. Taking over a `pending` row starts
/// its import.
static ORDER_FILES: LeasedTable = LeasedTable {
    table: "ingest.ingestion_files",
    key_column: "id",
    open: "status in ('pending', 'processing')",
    on_take: ", status = 'processing', started_at = coalesce(started_at, now())",
};

/// The name under which failed imports are recorded in `ops.process_failures`.
pub const PROCESS_NAME: &str = "OrderFileImport";

/// Where a file stands (the `ingest.file_status` domain of `ingest.ingestion_files`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum FileStatus {
    /// Recorded, not yet claimed by an attempt.
    Pending,
    /// An attempt holds it under a lease.
    Processing,
    /// Every row is accounted for, imported or rejected.
    Completed,
    /// It cannot be imported as it is; `error_message` says why.
    Failed,
    /// Its content is another file's (`duplicate_of_file_id`), imported once there.
    Duplicate,
}

/// A file this attempt now holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedFile {
    /// The lease on the `ingestion_files` row; its key is the file's id.
    pub lease: Lease<Uuid>,
    /// Set when an earlier attempt already hashed the content.
    pub content_hash: Option<String>,
    /// Rows an earlier attempt already committed: the checkpoint to resume from.
    pub rows_done: i64,
}

/// What claiming a file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This attempt imports the file.
    Claimed(ClaimedFile),
    /// The file was settled before (`completed`, `failed` or `duplicate`).
    Settled {
        /// The `ingestion_files` row.
        file_id: Uuid,
        /// Its final status: completed, failed or duplicate.
        status: FileStatus,
    },
    /// Another attempt holds a live lease on it.
    HeldElsewhere {
        /// The `ingestion_files` row.
        file_id: Uuid,
        /// When that lease runs out.
        until: DateTime<Utc>,
    },
    /// An unversioned key whose settled row describes other content (another entity
    /// tag): the new content cannot get a row of its own.
    Replaced {
        /// The `ingestion_files` row of the earlier content.
        file_id: Uuid,
    },
}

impl ClaimedFile {
    /// The `ingestion_files` row.
    pub fn file_id(&self) -> Uuid {
        *self.lease.key()
    }
}

/// Claims the object's row: inserts it as `processing`, or takes over an unsettled row
/// whose lease has run out (a crashed attempt). The lease keeps a second delivery of the
/// same event from doing the same work meanwhile.
pub async fn claim(
    pool: &PgPool,
    object: &ObjectRef,
    duration: Duration,
) -> Result<Claim, sqlx::Error> {
    let token = lease::fresh_token();
    let inserted = sqlx::query_scalar!(
        "insert into ingest.ingestion_files
             (bucket, object_key, version_id, filename, etag, size_bytes, status, started_at,
              locked_until, lease_token)
         values ($1, $2, $3, $4, $5, $6, 'processing', now(), now() + $7, $8)
         on conflict on constraint ingestion_files_bucket_object_key_version_id_key do nothing
         returning id",
        object.bucket,
        object.key,
        object.version_id.as_deref(),
        object.filename(),
        object.etag.as_deref(),
        object.size.filter(|size| *size >= 0),
        lease::interval(duration),
        token,
    )
    .fetch_optional(pool)
    .await?;
    if let Some(file_id) = inserted {
        return Ok(Claim::Claimed(ClaimedFile {
            lease: Lease::inserted(&ORDER_FILES, file_id, token),
            content_hash: None,
            rows_done: 0,
        }));
    }

    let row = sqlx::query!(
        r#"select id, status::text as "status!: FileStatus", locked_until, etag
           from ingest.ingestion_files
           where bucket = $1 and object_key = $2 and version_id is not distinct from $3"#,
        object.bucket,
        object.key,
        object.version_id.as_deref(),
    )
    .fetch_one(pool)
    .await?;
    let file_id = row.id;
    match row.status {
        FileStatus::Processing | FileStatus::Pending => {
            if let Some(lease) = Lease::take(pool, &ORDER_FILES, file_id, duration).await? {
                // Read once the lease is ours: the attempt taken over can no longer move
                // the checkpoint.
                let checkpoint = sqlx::query!(
                    r#"select content_hash, (processed_rows + failed_rows)::bigint as "rows_done!"
                       from ingest.ingestion_files where id = $1"#,
                    file_id,
                )
                .fetch_one(pool)
                .await?;
                return Ok(Claim::Claimed(ClaimedFile {
                    lease,
                    content_hash: checkpoint.content_hash,
                    rows_done: checkpoint.rows_done,
                }));
            }
            // Held by a live lease, or settled in between: the caller's retry will tell.
            Ok(Claim::HeldElsewhere {
                file_id,
                until: row.locked_until.unwrap_or_else(Utc::now),
            })
        }
        FileStatus::Completed | FileStatus::Failed | FileStatus::Duplicate
            if object.version_id.is_none()
                && object.etag.is_some()
                && row.etag.is_some()
                && object.etag != row.etag =>
        {
            Ok(Claim::Replaced { file_id })
        }
        status @ (FileStatus::Completed | FileStatus::Failed | FileStatus::Duplicate) => {
            Ok(Claim::Settled { file_id, status })
        }
    }
}

/// What recording the content hash found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentCheck {
    /// No other live file has this content: import it.
    Unique,
    /// Another file with the same content is imported or being imported; this one is
    /// now marked `duplicate` of it.
    DuplicateOf(Uuid),
    /// The row is no longer this attempt's (another attempt took over and settled it).
    Lost,
}

/// Records the file's hash and size. The partial unique index on `content_hash` among
/// live files makes two copies of the same content under two keys meet here, even
/// concurrently: one is imported, the other becomes its duplicate.
pub async fn record_content(
    pool: &PgPool,
    lease: &Lease<Uuid>,
    scan: &ContentScan,
) -> Result<ContentCheck, sqlx::Error> {
    let file_id = *lease.key();
    loop {
        let updated = sqlx::query!(
            "update ingest.ingestion_files set content_hash = $2, size_bytes = $3
             where id = $1 and lease_token = $4 and status = 'processing'",
            file_id,
            scan.sha256_hex,
            scan.size_bytes,
            lease.token(),
        )
        .execute(pool)
        .await;
        match updated {
            Ok(done) if done.rows_affected() == 1 => return Ok(ContentCheck::Unique),
            Ok(_) => return Ok(ContentCheck::Lost),
            Err(err) if is_violation_of(&err, "ingestion_files_content_hash_key") => {}
            Err(err) => return Err(err),
        }
        let original = sqlx::query_scalar!(
            "select id from ingest.ingestion_files
             where content_hash = $1 and status in ('pending', 'processing', 'completed')
               and id <> $2",
            scan.sha256_hex,
            file_id,
        )
        .fetch_optional(pool)
        .await?;
        // None: the other file failed in between, so the hash is free again.
        let Some(original) = original else { continue };
        let marked = sqlx::query!(
            "update ingest.ingestion_files
             set status = 'duplicate', duplicate_of_file_id = $2, content_hash = $3,
                 size_bytes = $4, locked_until = null, completed_at = now()
             where id = $1 and lease_token = $5 and status = 'processing'",
            file_id,
            original,
            scan.sha256_hex,
            scan.size_bytes,
            lease.token(),
        )
        .execute(pool)
        .await?;
        return Ok(if marked.rows_affected() == 1 {
            ContentCheck::DuplicateOf(original)
        } else {
            ContentCheck::Lost
        });
    }
}

fn is_violation_of(err: &sqlx::Error, constraint: &str) -> bool {
    err.as_database_error()
        .and_then(|db| db.constraint())
        .is_some_and(|name| name == constraint)
}

/// Moves the checkpoint past a batch, in the batch's transaction, which has renewed the
/// lease first ([`Lease::renew`]): only the holder moves the checkpoint.
pub async fn advance_checkpoint(
    conn: &mut PgConnection,
    file_id: Uuid,
    processed: i64,
    failed: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update ingest.ingestion_files
         set processed_rows = processed_rows + $2, failed_rows = failed_rows + $3
         where id = $1",
        file_id,
        i32::try_from(processed).unwrap_or(i32::MAX),
        i32::try_from(failed).unwrap_or(i32::MAX),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks the file completed once every row is accounted for, and returns its processed
/// and failed row counts. `Ok(None)`: the checkpoint is not at `total_rows`, and nothing
/// was changed. [`LeaseError::Lost`]: another attempt took the file over, and nothing
/// was changed.
pub async fn complete(
    conn: &mut PgConnection,
    lease: &Lease<Uuid>,
    total_rows: i64,
) -> Result<Option<(i64, i64)>, LeaseError> {
    lease.hold(conn).await?;
    let counts = sqlx::query!(
        r#"update ingest.ingestion_files
         set status = 'completed', total_rows = $2, completed_at = now(), locked_until = null,
             error_message = null
         where id = $1 and processed_rows + failed_rows = $2
         returning processed_rows::bigint as "processed!", failed_rows::bigint as "failed!""#,
        lease.key(),
        i32::try_from(total_rows).unwrap_or(i32::MAX),
    )
    .fetch_optional(conn)
    .await?;
    Ok(counts.map(|row| (row.processed, row.failed)))
}

/// Marks the file failed for `reason`, takes back everything its committed batches
/// wrote, and records the failure for a person, in one transaction: a failed file
/// leaves no order, line or row error behind, and the daily aggregates of the days it
/// touched are recomputed without it. [`LeaseError::Lost`]: another attempt took the
/// file over, and nothing was changed.
pub async fn fail(
    pool: &PgPool,
    lease: &Lease<Uuid>,
    object: &ObjectRef,
    reason: &str,
) -> Result<(), LeaseError> {
    let file_id = *lease.key();
    let mut tx = pool.begin().await?;
    // The lock every batch takes: no batch of another file interleaves with the undo.
    chunk_writer::lock_file_import_orders(&mut tx).await?;
    let marked = sqlx::query!(
        "update ingest.ingestion_files
         set status = 'failed', error_message = $2, completed_at = now(), locked_until = null,
             processed_rows = 0, failed_rows = 0
         where id = $1 and lease_token = $3 and status = 'processing'",
        file_id,
        reason,
        lease.token(),
    )
    .execute(&mut *tx)
    .await?;
    if marked.rows_affected() != 1 {
        return Err(LeaseError::Lost);
    }
    undo_batches(&mut tx, file_id).await?;
    let payload = serde_json::json!({
        "ingestion_file_id": file_id,
        "bucket": object.bucket,
        "key": object.key,
        "version_id": object.version_id,
    });
    record_process_failure(
        &mut *tx,
        &ProcessFailure {
            process: PROCESS_NAME,
            entity_type: "ingestion_file",
            entity_ref: &object.to_string(),
            reason,
            payload: Some(payload),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes back what the committed batches of `file_id` wrote: its lines (also those it
/// added to orders of earlier files, whose totals are summed again), its orders, its
/// row errors, the customers only its orders had (the others get their first and last
/// order dates from the orders they still have), and the aggregates of its days.
/// Products and variants it created stay: they are catalogue entries, not sales.
async fn undo_batches(conn: &mut PgConnection, file_id: Uuid) -> Result<(), sqlx::Error> {
    let grown: Vec<Uuid> = sqlx::query_scalar!(
        "with removed as (
             delete from sales.order_lines where ingestion_file_id = $1 returning order_id
         )
         select distinct r.order_id as \"order_id!\" from removed r
         join sales.orders o on o.id = r.order_id
         where o.ingestion_file_id is distinct from $1",
        file_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    chunk_writer::sum_order_totals(conn, &grown).await?;
    let customers: Vec<Uuid> = sqlx::query_scalar!(
        "with removed as (
             delete from sales.orders o
             where o.ingestion_file_id = $1
               and not exists (select 1 from sales.order_lines l where l.order_id = o.id)
             returning customer_id
         )
         select distinct customer_id as \"customer_id!\" from removed
         where customer_id is not null",
        file_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query!(
        "update sales.customers c
         set first_order_at = o.first_order_at, last_order_at = o.last_order_at
         from (select customer_id, min(placed_at) as first_order_at,
                      max(placed_at) as last_order_at
               from sales.orders where customer_id = any($1) group by customer_id) o
         where c.id = o.customer_id
           and (c.first_order_at, c.last_order_at)
               is distinct from (o.first_order_at, o.last_order_at)",
        &customers,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "delete from sales.customers c
         where c.id = any($1) and c.channel::text = $2
           and not exists (select 1 from sales.orders o where o.customer_id = c.id)
           and not exists (select 1 from support.conversations s where s.customer_id = c.id)
           and not exists (select 1 from etl.shopify_customers s where s.customer_id = c.id)
           and not exists (select 1 from etl.freshdesk_tickets t where t.customer_id = c.id)",
        &customers,
        Channel::FileImport.as_str() as &str,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "delete from ingest.ingestion_errors where file_id = $1",
        file_id
    )
    .execute(&mut *conn)
    .await?;
    let mut days = SalesDays::new();
    days.extend(days_touched_by(conn, file_id).await?);
    days.refresh(conn).await?;
    Ok(())
}

/// The days whose orders `file_id`'s batches changed, oldest first.
pub async fn days_touched_by(
    conn: &mut PgConnection,
    file_id: Uuid,
) -> Result<Vec<NaiveDate>, sqlx::Error> {
    sqlx::query_scalar!(
        "select day from ingest.ingestion_file_days where file_id = $1 order by day",
        file_id,
    )
    .fetch_all(conn)
    .await
}
