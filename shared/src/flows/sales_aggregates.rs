//! Keeping `analytics.sales_aggregates_daily` exact, whichever channel an order came
//! from: an order-file import refreshes every UTC day it touched, and the recording path
//! (Best Buy, Shopify) the day of each order it creates or changes, in the same
//! transaction as the order, so a cancellation takes its order out of its day at once.
//!
//! A day's rows are recomputed from the orders and lines themselves
//! (`analytics.refresh_sales_aggregates_daily`), never incremented, so a retried import,
//! two files with overlapping orders or a webhook delivered twice cannot skew them: a
//! day's rows are always what its orders say, whoever last refreshed it. Only sold lines
//! count: an order or a line cancelled, refused or refunded does not
//! (`sales.is_unsold_status`).

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

/// Recomputes the aggregates of `days` (sorted) in the caller's transaction, holding each
/// day's lock until it ends, and returns the number of aggregate rows written. `rows_written` is how many order rows the caller
/// wrote for these days: past [`FRESH_STATISTICS_ROWS`] the tables are `ANALYZE`d first
/// (a fixed-size sample, a fraction of a second at any size; a role that does not own
/// the tables gets a warning and the old statistics, not an error).
pub async fn refresh_days(
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
