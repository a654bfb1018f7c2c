//! Keeping `analytics.sales_aggregates_daily` exact, whichever channel an order came
//! from. Whatever writes orders (an order-file import, a webhook delivery, a poll)
//! notes the UTC days it touched in a [`SalesDays`] and refreshes them once, as the last
//! work of the transaction that wrote the orders, so a cancellation takes its order out
//! of its day at once.
//!
//! Each day is refreshed under a per-day lock held until commit. The locks are taken
//! together, oldest day first, after every order row of the transaction is written: a
//! delivery whose orders meet two days in one order and a concurrent one meeting them
//! in the other would otherwise each hold one day and wait for the other's (a deadlock
//! PostgreSQL resolves by aborting one delivery), and a delivery of many orders on one
//! day would recompute that day once per order.
//!
//! A day's rows are recomputed from the orders and lines themselves
//! (`analytics.refresh_sales_aggregates_daily`), never incremented, so a retried import,
//! two files with overlapping orders or a webhook delivered twice cannot skew them: a
//! day's rows are always what its orders say, whoever last refreshed it. Only sold lines
//! count: an order or a line cancelled, refused or refunded does not
//! (`sales.is_unsold_status`).

use std::collections::BTreeSet;

use chrono::{Days, NaiveDate};
use sqlx::PgConnection;

/// Class of the per-day advisory locks taken around a refresh (`pg_advisory_xact_lock(class,
/// day)`, the day as days since 1970-01-01): two refreshes of one day at once would both
/// delete and both insert its rows, while refreshes of different days (an import of last
/// month, today's webhooks) go on side by side. ("SELL".)
const SALES_DAY_LOCK_CLASS: i32 = 0x5345_4c4c;

/// From this many rows written since the last refresh on, the order tables' planner
/// statistics are refreshed first. A large file can multiply the tables' size before
/// autovacuum notices, and a refresh planned for the old, small tables (nested loops
/// over what are now a million lines) takes minutes instead of seconds.
const FRESH_STATISTICS_ROWS: i64 = 50_000;

/// The UTC days whose orders a transaction wrote, to be refreshed together just before
/// it commits ([`SalesDays::refresh`]).
#[derive(Debug, Default)]
#[must_use = "the days' aggregates stay stale until `refresh` runs in the same transaction"]
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

    /// Recomputes the aggregates of every touched day in the caller's transaction,
    /// holding each day's lock until it ends, and returns the number of aggregate rows
    /// written. Call it last, after the transaction's last order write, so no day lock
    /// is held while waiting for an order row. From `FRESH_STATISTICS_ROWS` (50,000)
    /// rows written on, the order tables are `ANALYZE`d first (a fixed-size sample, a
    /// fraction of a second at any size; a role that does not own the tables gets a
    /// warning and the old statistics, not an error).
    pub async fn refresh(self, conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
        let days: Vec<NaiveDate> = self.days.into_iter().collect();
        refresh_days(conn, &days, self.rows_written).await
    }
}

impl Extend<NaiveDate> for SalesDays {
    fn extend<I: IntoIterator<Item = NaiveDate>>(&mut self, days: I) {
        self.days.extend(days);
    }
}

/// Locks `days` (sorted, distinct) oldest first and recomputes them.
async fn refresh_days(
    conn: &mut PgConnection,
    days: &[NaiveDate],
    rows_written: i64,
) -> Result<i64, sqlx::Error> {
    if days.is_empty() {
        return Ok(0);
    }
    if rows_written >= FRESH_STATISTICS_ROWS {
        sqlx::query!("analyze sales.orders, sales.order_lines")
            .execute(&mut *conn)
            .await?;
    }
    // Oldest first, so two transactions refreshing overlapping days never wait on each
    // other in a cycle.
    sqlx::query!(
        "select count(pg_advisory_xact_lock($1, d.day - date '1970-01-01'))
         from (select distinct day from unnest($2::date[]) as u(day) order by day) as d",
        SALES_DAY_LOCK_CLASS,
        days,
    )
    .fetch_one(&mut *conn)
    .await?;
    let mut written = 0_i64;
    for (from, until) in contiguous_runs(days) {
        let rows = sqlx::query_scalar!(
            r#"select analytics.refresh_sales_aggregates_daily($1, $2) as "rows!""#,
            from,
            until,
        )
        .fetch_one(&mut *conn)
        .await?;
        written += i64::from(rows);
    }
    Ok(written)
}

/// Sorted days as half-open ranges `[from, until)` of consecutive days, so a file
/// spanning a month costs one refresh and two far-apart days cost two small ones.
pub fn contiguous_runs(days: &[NaiveDate]) -> Vec<(NaiveDate, NaiveDate)> {
    let mut runs: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for &day in days {
        let Some(next) = day.checked_add_days(Days::new(1)) else {
            continue;
        };
        match runs.last_mut() {
            Some((_, until)) if *until >= day => *until = (*until).max(next),
            _ => runs.push((day, next)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn consecutive_days_make_one_range_and_gaps_split_them() {
        let days = [
            day("2026-02-27"),
            day("2026-02-28"),
            day("2026-03-01"),
            day("2026-03-05"),
        ];
        assert_eq!(
            contiguous_runs(&days),
            [
                (day("2026-02-27"), day("2026-03-02")),
                (day("2026-03-05"), day("2026-03-06"))
            ]
        );
        assert!(contiguous_runs(&[]).is_empty());
    }
}
