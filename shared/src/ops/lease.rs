//! Leases: one attempt at a time works on a row, a crashed attempt's row is taken over
//! once its lease runs out, and an attempt that was taken over can no longer write.
//!
//! A leased row carries `locked_until` and `lease_token`. Taking the lease (inserting the
//! row leased, or `Lease::take` on a row whose lease is free or has run out) writes a
//! fresh token; the [`Lease`] the attempt gets back names the row and that token.
//!
//! **Fencing.** A lease running out does not stop the attempt that held it: a slow
//! attempt may wake up after another has taken the row over. So every write the holder
//! makes under its lease proves it still holds it: either its transaction first
//! [`hold`](Lease::hold)s or [`renew`](Lease::renew)s the lease, which locks the row until
//! commit, or the statement itself carries `lease_token = <token>` in its `where`. A
//! holder that was taken over finds another token, gets [`LeaseError::Lost`], and writes
//! nothing. A holder whose lease ran out but was not taken over still holds it.
//!
//! Every time is the database's `now()`, never a caller's clock. Tests make a lease run
//! out by moving `locked_until` into the past.

use std::time::Duration;

use sqlx::postgres::types::PgInterval;
use sqlx::{PgConnection, PgExecutor, Postgres};
use uuid::Uuid;

/// A table whose rows are leased. Names are fixed SQL identifiers, never input.
#[derive(Debug, PartialEq, Eq)]
pub struct LeasedTable {
    pub(crate) table: &'static str,
    pub(crate) key_column: &'static str,
    /// The rows that are still being worked on: only their leases can be taken or held.
    pub(crate) open: &'static str,
    /// Further assignments made when a lease is taken (`, column = value…`), or `""`.
    pub(crate) on_take: &'static str,
}

/// The key of a leased row (`text` or `uuid`).
pub trait RowKey:
    for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Clone + Send + Sync + 'static
{
}

impl<K> RowKey for K where
    K: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Clone + Send + Sync + 'static
{
}

/// Proof that this attempt took a row's lease: the row and the token the take wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease<K> {
    table: &'static LeasedTable,
    key: K,
    token: Uuid,
}

/// Why a write under a lease did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another attempt took the row over (or settled it): this one must stop and write
    /// nothing more.
    #[error("the lease was taken over by another attempt")]
    Lost,
    /// The database failed; whether the lease is still held is unknown.
    #[error("the lease could not be checked")]
    Database(#[from] sqlx::Error),
}

/// A token for a row about to be inserted already leased; [`Lease::inserted`] then names
/// the row.
pub(crate) fn fresh_token() -> Uuid {
    Uuid::new_v4()
}

/// `duration` as an SQL interval, for `now() + $n`.
pub(crate) fn interval(duration: Duration) -> PgInterval {
    PgInterval {
        months: 0,
        days: 0,
        microseconds: i64::try_from(duration.as_micros()).unwrap_or(i64::MAX),
    }
}

impl<K: RowKey> Lease<K> {
    /// The lease of a row this attempt inserted with `token` in `lease_token`.
    pub(crate) fn inserted(table: &'static LeasedTable, key: K, token: Uuid) -> Self {
        Self { table, key, token }
    }

    /// Takes the lease on an open row whose lease is free (never taken, released, or run
    /// out) for `duration`. `None`: the row is leased by a live attempt, settled, or
    /// absent. Two attempts taking the same row at once get it once: the second
    /// re-reads the row after the first commits and finds it leased.
    pub(crate) async fn take<'e>(
        executor: impl PgExecutor<'e>,
        table: &'static LeasedTable,
        key: K,
        duration: Duration,
    ) -> Result<Option<Self>, sqlx::Error> {
        let token = fresh_token();
        let sql = format!(
            "update {table} set lease_token = $2, locked_until = now() + $3{on_take}
             where {key} = $1 and ({open})
               and (locked_until is null or locked_until <= now())",
            table = table.table,
            key = table.key_column,
            open = table.open,
            on_take = table.on_take,
        );
        let taken = sqlx::query(&sql)
            .bind(key.clone())
            .bind(token)
            .bind(interval(duration))
            .execute(executor)
            .await?;
        Ok((taken.rows_affected() == 1).then_some(Self { table, key, token }))
    }

    /// The leased row's key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The token, for a statement that fences itself with `lease_token = $n`.
    pub(crate) fn token(&self) -> Uuid {
        self.token
    }

    /// Locks the row until the end of `conn`'s transaction, if this attempt still holds
    /// its lease; the transaction's writes to the row are then fenced.
    pub async fn hold(&self, conn: &mut PgConnection) -> Result<(), LeaseError> {
        let sql = format!(
            "select 1 from {table} where {key} = $1 and lease_token = $2 and ({open})
             for update",
            table = self.table.table,
            key = self.table.key_column,
            open = self.table.open,
        );
        let held: Option<i32> = sqlx::query_scalar(&sql)
            .bind(self.key.clone())
            .bind(self.token)
            .fetch_optional(conn)
            .await?;
        held.map(|_| ()).ok_or(LeaseError::Lost)
    }

    /// [`hold`](Self::hold)s the lease and extends it to `duration` from now: what an
    /// attempt that is making progress does with each step it commits.
    pub async fn renew(
        &self,
        conn: &mut PgConnection,
        duration: Duration,
    ) -> Result<(), LeaseError> {
        let sql = format!(
            "update {table} set locked_until = now() + $3
             where {key} = $1 and lease_token = $2 and ({open})",
            table = self.table.table,
            key = self.table.key_column,
            open = self.table.open,
        );
        let renewed = sqlx::query(&sql)
            .bind(self.key.clone())
            .bind(self.token)
            .bind(interval(duration))
            .execute(conn)
            .await?;
        if renewed.rows_affected() == 1 {
            Ok(())
        } else {
            Err(LeaseError::Lost)
        }
    }

    /// Gives the lease back after a failure, so a retry need not wait for it to run out.
    /// A lease already taken over is left to its new holder.
    pub async fn release<'e>(&self, executor: impl PgExecutor<'e>) -> Result<(), sqlx::Error> {
        let sql = format!(
            "update {table} set locked_until = now()
             where {key} = $1 and lease_token = $2 and ({open})",
            table = self.table.table,
            key = self.table.key_column,
            open = self.table.open,
        );
        sqlx::query(&sql)
            .bind(self.key.clone())
            .bind(self.token)
            .execute(executor)
            .await?;
        Ok(())
    }
}
