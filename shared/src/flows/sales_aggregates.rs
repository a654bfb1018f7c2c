//! Keeping `analytics.sales_aggregates_daily` exact, whichever channel an order came
//! from. Whatever writes orders (an order-file import, a webhook delivery, a poll)
//! notes the UTC days it touched in a [`SalesDays`], then either recomputes them before
//! it commits ([`SalesDays::refresh`]: an import, whose file completes with its days'
//! figures) or leaves them noted in `analytics.sales_days_to_refresh`
//! ([`SalesDays::note_stale`]: a webhook delivery or a poll, which must not wait for
//! its day). A noted day is recomputed once for every delivery that noted it since:
//! by the sync's sweep ([`refresh_stale_days`], every run of sync-marketplace), by an
//! import of that day, or by a reader through
//! `analytics.fresh_sales_aggregates_daily(from, to)`, which recomputes the range's
//! noted days before it reads. So a cancellation recorded by a webhook is out of its
//! day for anyone reading through that function at once, and in the table itself after
//! the next sweep.
//!
//! Recomputing the whole day in every delivery, under the day's lock held until commit,
//! put one day's deliveries in single file: each waited for the recompute and commit of
//! the one before. A note is a row inserted into a table without a unique key, so no
//! delivery ever waits for another's.
//!
//! A day's rows are recomputed from the orders and lines themselves
//! (`analytics.refresh_sales_days`, then `analytics.refresh_sales_aggregates_daily`),
//! never incremented, so a retried import, two files with overlapping orders or a
//! webhook delivered twice cannot skew them: a day's rows are always what its orders
//! say, whoever last refreshed it. Each day is recomputed under its own lock held until
//! commit, days taken oldest first so two refreshes never wait on each other in a
//! cycle; a refresh sees the orders of every note it deletes, because the note was
//! committed with them. Only sold lines count: an order or a line cancelled, refused or
//! refunded does not (`sales.is_unsold_status`).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use sqlx::PgConnection;

/// From this many rows written since the last refresh on, the order tables' planner
/// statistics are refreshed first. A large file can multiply the tables' size before
/// autovacuum notices, and a refresh planned for the old, small tables (nested loops
/// over what are now a million lines) takes minutes instead of seconds.
const FRESH_STATISTICS_ROWS: i64 = 50_000;

/// Days recomputed per statement by [`SalesDays::refresh`]. Each statement runs under
/// the database statement timeout (10 s by default): the 90 days of a 1,000,000-line
/// file took about 10 s as one statement on a busy 2-core machine, past the timeout.
const DAYS_PER_STATEMENT: usize = 7;

/// The UTC days whose orders a transaction wrote: recomputed before it commits
/// ([`SalesDays::refresh`]) or noted for a later refresh ([`SalesDays::note_stale`]).
#[derive(Debug, Default)]
#[must_use = "the days' aggregates stay stale, unnoted, unless `refresh` or `note_stale` runs in the same transaction"]
pub struct SalesDays {
    days: BTreeSet<NaiveDate>,
    rows_written: i64,
}

impl SalesDays {
    /// No day yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes that the orders of `day` changed; noting a day twice refreshes it once.
    pub fn touch(&mut self, day: NaiveDate) {
        self.days.insert(day);
    }

    /// Counts `rows` order rows written for these days: a large write refreshes the
    /// planner statistics before the aggregates.
    pub fn add_rows_written(&mut self, rows: i64) {
        self.rows_written = self.rows_written.saturating_add(rows);
    }

    /// Recomputes the aggregates of every touched day in the caller's transaction
    /// (consecutive days as one range, seven days per statement, oldest first),
    /// holding each day's lock until it ends, and returns the number of aggregate rows
    /// written. The days' notes are taken too.
    /// Call it last, after the transaction's last order write, so no day lock is held
    /// while waiting for an order row. From `FRESH_STATISTICS_ROWS` (50,000) rows
    /// written on, the order tables are `ANALYZE`d first (a fixed-size sample, a
    /// fraction of a second at any size; a role that does not own the tables gets a
    /// warning and the old statistics, not an error).
    pub async fn refresh(self, conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
        if self.days.is_empty() {
            return Ok(0);
        }
        if self.rows_written >= FRESH_STATISTICS_ROWS {
            sqlx::query!("analyze sales.orders, sales.order_lines")
                .execute(&mut *conn)
                .await?;
        }
        let days: Vec<NaiveDate> = self.days.into_iter().collect();
        let mut written = 0;
        for some_days in days.chunks(DAYS_PER_STATEMENT) {
            written += i64::from(
                sqlx::query_scalar!(
                    r#"select analytics.refresh_sales_days($1::date[]) as "rows!""#,
                    some_days,
                )
                .fetch_one(&mut *conn)
                .await?,
            );
        }
        Ok(written)
    }

    /// Notes every touched day in `analytics.sales_days_to_refresh`, in the caller's
    /// transaction, for a later refresh to recompute: committed with the orders, so
    /// whichever refresh takes the note sees them. Waits for no other transaction.
    pub async fn note_stale(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.days.is_empty() {
            return Ok(());
        }
        let days: Vec<NaiveDate> = self.days.into_iter().collect();
        sqlx::query!(
            "insert into analytics.sales_days_to_refresh (day) select unnest($1::date[])",
            &days,
        )
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

impl Extend<NaiveDate> for SalesDays {
    fn extend<I: IntoIterator<Item = NaiveDate>>(&mut self, days: I) {
        self.days.extend(days);
    }
}

/// Recomputes every day noted since its last refresh (one transaction, consecutive
/// days as one range) and returns how many days. A note committed while it runs waits
/// for the next call.
pub async fn refresh_stale_days(pool: &sqlx::PgPool) -> Result<i64, sqlx::Error> {
    let days = sqlx::query_scalar!(r#"select analytics.refresh_stale_sales_days() as "days!""#)
        .fetch_one(pool)
        .await?;
    Ok(i64::from(days))
}
