//! The scheduled purge: the call log, the webhook inbox and expired delivery records are
//! kept for their configured ages ([`RetentionSettings`]), then deleted.
//!
//! `sync-marketplace` runs it at the end of each scheduled run. Each table loses at most
//! [`RetentionSettings::rows_per_run`] rows per run, oldest first, in one statement, so
//! a delete stays far inside the statement timeout, and a delete starts only before the
//! time given (the run's deadline less one statement's allowance): a backlog is worked
//! off over several runs, never past the function's timeout.
//!
//! Nothing still at work is deleted: an inbox delivery not yet marked processed and a
//! delivery record still `in_progress` stay whatever their age.

use std::time::Instant;

use sqlx::PgPool;

use crate::ops::config::RetentionSettings;
use crate::ops::lease::interval;

/// What one purge deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PurgeTally {
    /// `ops.api_calls` rows.
    pub api_calls: u64,
    /// `ops.inbox` deliveries.
    pub inbox: u64,
    /// `ops.idempotency_keys` records.
    pub delivery_records: u64,
}

/// Deletes what outlived its age, each table up to the run's row limit, starting a
/// delete only while `start_by` (when given) has not passed.
pub async fn purge_expired(
    pool: &PgPool,
    retention: &RetentionSettings,
    start_by: Option<Instant>,
) -> Result<PurgeTally, sqlx::Error> {
    let may_start = || start_by.is_none_or(|start_by| Instant::now() < start_by);
    let rows = i64::from(retention.rows_per_run);
    let mut tally = PurgeTally::default();
    if may_start() {
        tally.api_calls = sqlx::query!(
            "delete from ops.api_calls where id in (
                 select id from ops.api_calls where started_at < now() - $1::interval
                 order by started_at limit $2)",
            interval(retention.api_calls),
            rows,
        )
        .execute(pool)
        .await?
        .rows_affected();
    }
    if may_start() {
        tally.inbox = sqlx::query!(
            "delete from ops.inbox where id in (
                 select id from ops.inbox
                 where processed_at is not null and received_at < now() - $1::interval
                 order by received_at limit $2)",
            interval(retention.inbox),
            rows,
        )
        .execute(pool)
        .await?
        .rows_affected();
    }
    if may_start() {
        tally.delivery_records = sqlx::query!(
            "delete from ops.idempotency_keys where key in (
                 select key from ops.idempotency_keys
                 where state = 'completed' and expires_at < now() - $1::interval
                 order by expires_at limit $2)",
            interval(retention.expired_delivery_records),
            rows,
        )
        .execute(pool)
        .await?
        .rows_affected();
    }
    Ok(tally)
}
