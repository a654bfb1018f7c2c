//! `etl.sync_metadata`: where each poll starts, and how the last one went.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::ops::errors::ProcessError;

/// One polled entity, as keyed in `etl.sync_metadata` (source, entity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncEntity {
    /// The outside system.
    pub source: &'static str,
    /// What is read from it.
    pub entity: &'static str,
}

impl SyncEntity {
    /// Mirakl orders (OR11).
    pub const MIRAKL_ORDERS: SyncEntity = SyncEntity {
        source: "mirakl",
        entity: "orders",
    };
    /// Mirakl message threads (M11).
    pub const MIRAKL_THREADS: SyncEntity = SyncEntity {
        source: "mirakl",
        entity: "threads",
    };
    /// Freshdesk tickets and their conversations.
    pub const FRESHDESK_TICKETS: SyncEntity = SyncEntity {
        source: "freshdesk",
        entity: "tickets",
    };
    /// Shopify orders, read through the Admin GraphQL API.
    pub const SHOPIFY_ORDERS: SyncEntity = SyncEntity {
        source: "shopify",
        entity: "orders",
    };
}

/// The stored watermark: the newest change a finished poll saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    /// `None` before the first successful poll.
    pub at: Option<DateTime<Utc>>,
}

fn db(err: sqlx::Error) -> ProcessError {
    ProcessError::database("updating etl.sync_metadata", err)
}

/// Marks a poll started and returns the watermark it starts from.
pub async fn begin(pool: &PgPool, entity: SyncEntity) -> Result<Watermark, ProcessError> {
    let at = sqlx::query_scalar!(
        "insert into etl.sync_metadata as m (source, entity, sync_status, last_started_at)
         values ($1, $2, 'in_progress', now())
         on conflict on constraint sync_metadata_source_entity_key do update set
             sync_status = 'in_progress', last_started_at = now()
         returning m.watermark_at",
        entity.source,
        entity.entity,
    )
    .fetch_one(pool)
    .await
    .map_err(db)?;
    Ok(Watermark { at })
}

/// When the outside system allows this poll again, if it asked to wait (see [`wait`]).
pub async fn next_allowed(
    pool: &PgPool,
    entity: SyncEntity,
) -> Result<Option<DateTime<Utc>>, ProcessError> {
    let until = sqlx::query_scalar!(
        "select next_allowed_at from etl.sync_metadata where source = $1 and entity = $2",
        entity.source,
        entity.entity,
    )
    .fetch_optional(pool)
    .await
    .map_err(db)?;
    Ok(until.flatten())
}

/// Records a poll stopped because the outside system asked to wait until `until`: the watermark
/// stays, and no poll starts before then.
pub async fn wait(
    pool: &PgPool,
    entity: SyncEntity,
    until: DateTime<Utc>,
    reason: &str,
) -> Result<(), ProcessError> {
    sqlx::query!(
        "update etl.sync_metadata set sync_status = 'failed', last_error = $3,
             next_allowed_at = $4
         where source = $1 and entity = $2",
        entity.source,
        entity.entity,
        reason,
        until,
    )
    .execute(pool)
    .await
    .map_err(db)?;
    Ok(())
}

/// Records a finished poll and moves the watermark (never backwards).
pub async fn succeed(
    pool: &PgPool,
    entity: SyncEntity,
    at: Option<DateTime<Utc>>,
) -> Result<(), ProcessError> {
    sqlx::query!(
        "update etl.sync_metadata set
             sync_status = 'success', last_error = null, last_succeeded_at = now(),
             next_allowed_at = null,
             watermark_at = greatest(watermark_at, $3)
         where source = $1 and entity = $2",
        entity.source,
        entity.entity,
        at,
    )
    .execute(pool)
    .await
    .map_err(db)?;
    Ok(())
}

/// Records a poll that could not finish; the watermark stays.
pub async fn fail(pool: &PgPool, entity: SyncEntity, reason: &str) -> Result<(), ProcessError> {
    sqlx::query!(
        "update etl.sync_metadata set sync_status = 'failed', last_error = $3
         where source = $1 and entity = $2",
        entity.source,
        entity.entity,
        reason,
    )
    .execute(pool)
    .await
    .map_err(db)?;
    Ok(())
}
