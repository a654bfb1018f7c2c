//! Delivery records: S3 events, webhooks and SQS messages arrive more than once, and the
//! record of each delivery key decides whether this attempt does the work.
//!
//! A claim leases the key for a while (`in_progress` until `locked_until`). The attempt
//! that holds the lease does the work and marks it `completed`; a second delivery then
//! finds the key completed and changes nothing. If an attempt crashes, its lease runs
//! out and a retry claims the key again, so the work is finished exactly once provided
//! the work itself commits atomically with [`complete`] or is safe to redo.

use std::time::Duration;

use sqlx::postgres::types::PgInterval;
use sqlx::PgExecutor;

/// What a claim found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This attempt holds the lease and must do the work.
    Acquired,
    /// The work was done before; here is what it recorded.
    AlreadyCompleted(Option<serde_json::Value>),
    /// Another attempt holds a live lease; try again after it runs out.
    HeldElsewhere,
}

/// How long keys are leased and remembered.
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    /// How long an attempt may work before another may take over.
    pub lease: Duration,
    /// How long a key is remembered (completed or not) before it may be forgotten.
    pub retention: Duration,
}

impl KeyPolicy {
    /// Leases for `lease`, remembers for two weeks: longer than SQS keeps any message
    /// and longer than any provider retries a webhook.
    pub fn leased_for(lease: Duration) -> Self {
        Self {
            lease,
            retention: Duration::from_secs(14 * 24 * 3600),
        }
    }
}

fn interval(duration: Duration) -> PgInterval {
    PgInterval {
        months: 0,
        days: 0,
        microseconds: i64::try_from(duration.as_micros()).unwrap_or(i64::MAX),
    }
}

/// Claims `key` in `scope` (e.g. `ingest-orders-file`). Expired keys are treated as new.
pub async fn claim<'e>(
    executor: impl PgExecutor<'e> + Copy,
    scope: &str,
    key: &str,
    policy: KeyPolicy,
) -> Result<Claim, sqlx::Error> {
    // One statement: insert a new key, or take over one whose lease ran out (or that
    // has expired). A key held by a live lease, or completed, is left alone.
    let acquired: Option<String> = sqlx::query_scalar(
        "insert into ops.idempotency_keys as k (key, scope, state, locked_until, expires_at)
         values ($1, $2, 'in_progress', now() + $3, now() + $4)
         on conflict (key) do update set
             scope = excluded.scope,
             state = 'in_progress',
             locked_until = excluded.locked_until,
             expires_at = excluded.expires_at,
             result = null
         where k.expires_at < now()
            or (k.state = 'in_progress' and k.locked_until < now())
         returning k.key",
    )
    .bind(key)
    .bind(scope)
    .bind(interval(policy.lease))
    .bind(interval(policy.retention))
    .fetch_optional(executor)
    .await?;
    if acquired.is_some() {
        return Ok(Claim::Acquired);
    }
    let existing: Option<(String, Option<serde_json::Value>)> =
        sqlx::query_as("select state, result from ops.idempotency_keys where key = $1")
            .bind(key)
            .fetch_optional(executor)
            .await?;
    Ok(match existing {
        Some((state, result)) if state == "completed" => Claim::AlreadyCompleted(result),
        // Held by a live lease (or deleted between the two statements: let the retry decide).
        _ => Claim::HeldElsewhere,
    })
}

/// Marks the work for `key` done, keeping `result` for later deliveries. Run it in the
/// same transaction as the work's own writes.
pub async fn complete<'e>(
    executor: impl PgExecutor<'e>,
    key: &str,
    result: Option<&serde_json::Value>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update ops.idempotency_keys
         set state = 'completed', locked_until = null, result = $2
         where key = $1",
    )
    .bind(key)
    .bind(result)
    .execute(executor)
    .await?;
    Ok(())
}

/// Gives the lease back after a failure, so a retry need not wait for it to run out.
pub async fn release<'e>(executor: impl PgExecutor<'e>, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update ops.idempotency_keys set locked_until = now()
         where key = $1 and state = 'in_progress'",
    )
    .bind(key)
    .execute(executor)
    .await?;
    Ok(())
}
