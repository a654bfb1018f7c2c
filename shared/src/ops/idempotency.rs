//! Delivery records: S3 events, webhooks and SQS messages arrive more than once, and the
//! record of each delivery key decides whether this attempt does the work.
//!
//! A claim leases the key (see [`crate::ops::lease`]): `in_progress` until `locked_until`.
//! The attempt that holds the lease does the work and marks it `completed`; a second
//! delivery then finds the key completed and changes nothing. If an attempt crashes, its
//! lease runs out and a retry claims the key again, so the work is finished exactly once
//! provided the work itself commits atomically with [`complete`] or is safe to redo. An
//! attempt whose lease was taken over cannot complete the key any more.

use std::time::Duration;

use sqlx::PgExecutor;

use crate::ops::lease::{self, Lease, LeaseError, LeasedTable};

/// Delivery records, leased while `in_progress`.
static DELIVERY_RECORDS: LeasedTable = LeasedTable {
    table: "ops.idempotency_keys",
    key_column: "key",
    open: "state = 'in_progress'",
    on_take: "",
};

/// What a claim found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This attempt holds the lease and must do the work.
    Acquired(Lease<String>),
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

/// Claims `key` in `scope` (e.g. `ingest-orders-file`). Expired keys are treated as new.
pub async fn claim<'e>(
    executor: impl PgExecutor<'e> + Copy,
    scope: &str,
    key: &str,
    policy: KeyPolicy,
) -> Result<Claim, sqlx::Error> {
    // A new key, or one forgotten (expired), is inserted already leased.
    let token = lease::fresh_token();
    let inserted = sqlx::query_scalar!(
        r#"insert into ops.idempotency_keys as k
             (key, scope, state, locked_until, lease_token, expires_at)
         values ($1, $2, 'in_progress', now() + $3, $4, now() + $5)
         on conflict (key) do update set
             scope = excluded.scope,
             state = 'in_progress',
             locked_until = excluded.locked_until,
             lease_token = excluded.lease_token,
             expires_at = excluded.expires_at,
             result = null
         where k.expires_at < now()
         returning k.key"#,
        key,
        scope,
        lease::interval(policy.lease),
        token,
        lease::interval(policy.retention),
    )
    .fetch_optional(executor)
    .await?;
    if inserted.is_some() {
        return Ok(Claim::Acquired(Lease::inserted(
            &DELIVERY_RECORDS,
            key.to_owned(),
            token,
        )));
    }
    // A crashed attempt's key: taken over once its lease has run out.
    if let Some(taken) =
        Lease::take(executor, &DELIVERY_RECORDS, key.to_owned(), policy.lease).await?
    {
        return Ok(Claim::Acquired(taken));
    }
    let completed = sqlx::query!(
        "select result from ops.idempotency_keys where key = $1 and state = 'completed'",
        key,
    )
    .fetch_optional(executor)
    .await?;
    Ok(match completed {
        Some(record) => Claim::AlreadyCompleted(record.result),
        // Held by a live lease (or deleted between the statements: let the retry decide).
        _ => Claim::HeldElsewhere,
    })
}

/// Marks the work under `lease` done, keeping `result` for later deliveries. Run it in
/// the same transaction as the work's own writes. [`LeaseError::Lost`]: another attempt
/// took the key over, and nothing was changed.
pub async fn complete<'e>(
    executor: impl PgExecutor<'e>,
    lease: &Lease<String>,
    result: Option<&serde_json::Value>,
) -> Result<(), LeaseError> {
    let completed = sqlx::query!(
        "update ops.idempotency_keys
         set state = 'completed', locked_until = null, result = $3
         where key = $1 and lease_token = $2 and state = 'in_progress'",
        lease.key(),
        lease.token(),
        result,
    )
    .execute(executor)
    .await?;
    if completed.rows_affected() == 1 {
        Ok(())
    } else {
        Err(LeaseError::Lost)
    }
}
