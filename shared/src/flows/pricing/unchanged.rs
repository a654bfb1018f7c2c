//! Whether anything a full evaluation reads changed since the last one that completed.
//!
//! Every statement that writes an input of the evaluation (settings, rules, listings,
//! products and variants, bills of materials, component prices, stock, competitor
//! offers, and current prices' own columns) notes its transaction in
//! `pricing.input_changes` (migration 0031, a statement trigger per table). A full
//! evaluation that completes records, in `pricing.last_full_evaluation`, the snapshot
//! it started from and [until when](unchanged_until) time alone changes none of its
//! decisions.
//!
//! A later full evaluation starting before that time, when every noted change was
//! already visible to that snapshot, would decide every listing as before and write
//! nothing: it stops there ([`Since::nothing_changed`]). A change whose transaction was
//! still open when the last run started counts as new, so nothing committed late is
//! missed. Evaluations of given listings (the pricing queue) always decide.

use chrono::{DateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use sqlx::PgConnection;

use super::load::LoadedRule;
use super::rules::RuleConfig;

/// Where a full evaluation starts from.
#[derive(Debug, Clone)]
pub struct Since {
    /// The database snapshot the run started from, as text.
    snapshot: String,
    /// When it started.
    started_at: DateTime<Utc>,
    /// Whether nothing changed since the last complete full evaluation.
    pub nothing_changed: bool,
}

/// Takes the run's starting snapshot and compares it with the last complete full
/// evaluation's, at `now`.
pub async fn check(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<Since, sqlx::Error> {
    let row = sqlx::query!(
        r#"select pg_current_snapshot()::text as "snapshot!",
                  coalesce((
                      select f.unchanged_until > $1
                             and not exists (
                                 select 1 from pricing.input_changes c
                                 where not pg_visible_in_snapshot(c.xid, f.started_snapshot))
                      from pricing.last_full_evaluation f), false) as "nothing_changed!""#,
        now,
    )
    .fetch_one(conn)
    .await?;
    Ok(Since {
        snapshot: row.snapshot,
        started_at: now,
        nothing_changed: row.nothing_changed,
    })
}

/// Records a complete full evaluation that started at `since`, its decisions good until
/// `until`, and forgets the changes it saw. A run that started before the one recorded
/// leaves the record as it is.
pub async fn record_complete(
    conn: &mut PgConnection,
    since: &Since,
    until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "with recorded as (
             insert into pricing.last_full_evaluation
                 (started_snapshot, started_at, completed_at, unchanged_until)
             values ($1::text::pg_snapshot, $2, now(), $3)
             on conflict (id) do update
                 set started_snapshot = excluded.started_snapshot,
                     started_at = excluded.started_at,
                     completed_at = excluded.completed_at,
                     unchanged_until = excluded.unchanged_until
                 where pricing.last_full_evaluation.started_at <= excluded.started_at
             returning started_snapshot
         )
         delete from pricing.input_changes c
         using recorded
         where pg_visible_in_snapshot(c.xid, recorded.started_snapshot)",
        since.snapshot,
        since.started_at,
        until,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The first instant after `now` at which time alone may change a decision: the next
/// edge (opening or closing) of an active time-based rule's window, or the seller's next
/// midnight, when component prices' validity turns.
pub fn unchanged_until(rules: &[LoadedRule], now: DateTime<Utc>, time_zone: Tz) -> DateTime<Utc> {
    rules
        .iter()
        .filter_map(|loaded| match &loaded.rule.config {
            RuleConfig::TimeBased { window, .. } => window.next_edge(now, time_zone),
            _ => None,
        })
        .fold(next_midnight(now, time_zone), DateTime::min)
}

/// The start of the seller's next day (the first hour of it that exists, where the
/// clocks skip midnight).
fn next_midnight(now: DateTime<Utc>, time_zone: Tz) -> DateTime<Utc> {
    let tomorrow = now.with_timezone(&time_zone).date_naive() + TimeDelta::days(1);
    (0..3)
        .filter_map(|hour| NaiveTime::from_hms_opt(hour, 0, 0))
        .find_map(|time| {
            time_zone
                .from_local_datetime(&tomorrow.and_time(time))
                .earliest()
        })
        .map_or(now + TimeDelta::hours(1), |start| start.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::pricing::rules::{PriceRule, RuleDefinition};
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn time_rule(schedule: &str, minutes: i64) -> LoadedRule {
        let config =
            json!({"schedule": schedule, "duration_minutes": minutes, "price_change_pct": -10});
        let rule = PriceRule::parse(&RuleDefinition {
            id: "r",
            priority: 1,
            is_active: true,
            applies_to: "all",
            scope_value: None,
            rule_type: "time_based",
            config: &config,
        })
        .expect("rule");
        LoadedRule {
            rule,
            apply_enabled: false,
        }
    }

    #[test]
    fn without_time_rules_decisions_hold_until_the_sellers_midnight() {
        let toronto: Tz = "America/Toronto".parse().expect("zone");
        // 22:30 in Toronto (EST, UTC-5): midnight there is 05:00 UTC.
        assert_eq!(
            unchanged_until(&[], at("2026-11-30T03:30:00Z"), toronto),
            at("2026-11-30T05:00:00Z")
        );
    }

    #[test]
    fn a_closed_window_holds_until_it_opens_and_an_open_one_until_it_closes() {
        let toronto: Tz = "America/Toronto".parse().expect("zone");
        let rules = [time_rule("0 9 * * *", 60)];
        // 08:00 Toronto: the window opens at 09:00 (14:00 UTC).
        assert_eq!(
            unchanged_until(&rules, at("2026-11-30T13:00:00Z"), toronto),
            at("2026-11-30T14:00:00Z")
        );
        // 09:30 Toronto: open, it closes at 10:00 (15:00 UTC).
        assert_eq!(
            unchanged_until(&rules, at("2026-11-30T14:30:00Z"), toronto),
            at("2026-11-30T15:00:00Z")
        );
        // 10:00 Toronto exactly: closed (the window is half-open); next opens tomorrow,
        // after midnight, so midnight comes first.
        assert_eq!(
            unchanged_until(&rules, at("2026-11-30T15:00:00Z"), toronto),
            at("2026-12-01T05:00:00Z")
        );
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_turns_at_its_first_hour() {
        // Santiago springs forward at midnight: 2026-09-06 00:00 does not exist there.
        let santiago: Tz = "America/Santiago".parse().expect("zone");
        let until = unchanged_until(&[], at("2026-09-06T02:00:00Z"), santiago);
        let local = until.with_timezone(&santiago);
        assert_eq!(local.format("%F %H:%M").to_string(), "2026-09-06 01:00");
    }
}
