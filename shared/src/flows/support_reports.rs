//! The support reports over the Freshdesk tickets stored in `etl.freshdesk_tickets`, as a
//! person reads them: the summary of a period, its trending categories, the comparison
//! with the period of the same length just before, and the queue as it stands now.
//!
//! The answers are the database's (`support.get_support_summary`,
//! `support.get_trending_categories`, `support.compare_support_periods`,
//! `support.current_queue_status`), which read tickets in both the API's shape and the
//! webhook's; this module picks the periods and lays the answers out. A period is whole
//! UTC days, first and last included. Two things the numbers depend on are said beside
//! them: tickets in a status no category is given for (counted as `other`, not queued),
//! and ticket dates that are not dates (read as absent; `ops.data_problems`).

use std::fmt;

use chrono::{DateTime, Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgPool;

/// Whole UTC days, `first` to `last` included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportPeriod {
    first: NaiveDate,
    last: NaiveDate,
}

/// Why two days are not a period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the period ends ({last}) before it starts ({first})")]
pub struct InvalidPeriod {
    first: NaiveDate,
    last: NaiveDate,
}

impl ReportPeriod {
    /// The days from `first` to `last`, both included.
    pub fn new(first: NaiveDate, last: NaiveDate) -> Result<Self, InvalidPeriod> {
        if last < first {
            return Err(InvalidPeriod { first, last });
        }
        Ok(Self { first, last })
    }

    /// The first day.
    pub fn first(&self) -> NaiveDate {
        self.first
    }

    /// The last day.
    pub fn last(&self) -> NaiveDate {
        self.last
    }

    /// How many days it covers.
    pub fn days(&self) -> u64 {
        (self.last - self.first).num_days().unsigned_abs() + 1
    }

    /// The period of the same length that ends the day before this one starts.
    pub fn previous(&self) -> Self {
        let last = self.first.pred_opt().unwrap_or(self.first);
        let first = last
            .checked_sub_days(Days::new(self.days() - 1))
            .unwrap_or(NaiveDate::MIN);
        Self { first, last }
    }

    /// Midnight UTC starting the first day.
    fn start(&self) -> DateTime<Utc> {
        self.first.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    /// Midnight UTC ending the last day (the bound is excluded).
    fn end(&self) -> DateTime<Utc> {
        self.last
            .checked_add_days(Days::new(1))
            .unwrap_or(NaiveDate::MAX)
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
    }
}

impl fmt::Display for ReportPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to {}", self.first, self.last)
    }
}

/// Tickets opened in the period, by the category of their status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupportSummary {
    pub total: i64,
    pub open: i64,
    pub pending: i64,
    pub resolved: i64,
    pub closed: i64,
    /// A status with no category, or none at all.
    pub other: i64,
    /// High or urgent.
    pub high_priority: i64,
    /// Over the tickets whose stats say when they were first answered.
    pub avg_first_response_hours: Option<Decimal>,
    /// Over the tickets whose stats say when they were resolved.
    pub avg_resolution_hours: Option<Decimal>,
}

/// One category (a tag, else the ticket type) among those most tickets of the period
/// carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendingCategory {
    pub category: String,
    /// Tickets opened in the period.
    pub tickets: i64,
    /// Tickets opened in the period just before.
    pub previous: i64,
    /// None when the period before had none.
    pub change_pct: Option<Decimal>,
}

/// One summary metric of the period beside the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricComparison {
    /// As `support.compare_support_periods` names it, e.g. `total_tickets`.
    pub metric: String,
    pub current: Option<Decimal>,
    pub previous: Option<Decimal>,
    pub change: Option<Decimal>,
    /// None when the period before was zero.
    pub change_pct: Option<Decimal>,
}

/// Open or pending tickets of one helpdesk, status category and priority, now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLine {
    pub domain: String,
    pub status: String,
    pub priority: String,
    pub tickets: i64,
    /// How long the oldest has waited since it was opened.
    pub oldest_age_hours: Option<Decimal>,
}

/// Tickets in a status the seller has given no category
/// (`support.ticket_status_categories`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmappedStatus {
    pub domain: String,
    /// As Freshdesk sent it: an id (`6`) or a label (`Waiting on Customer`).
    pub status: String,
    pub tickets: i64,
}

/// The four reports for one period, with what their numbers depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportReport {
    pub period: ReportPeriod,
    /// The helpdesk reported on; every helpdesk when `None`.
    pub domain: Option<String>,
    pub summary: SupportSummary,
    pub trending: Vec<TrendingCategory>,
    /// Against [`ReportPeriod::previous`].
    pub comparison: Vec<MetricComparison>,
    pub queue: Vec<QueueLine>,
    pub unmapped_statuses: Vec<UnmappedStatus>,
    /// Ticket dates that are not dates, not yet resolved (`ops.data_problems`).
    pub invalid_ticket_dates: i64,
}

impl SupportReport {
    /// Reads the reports for `period`, of one helpdesk or all, with the `top` trending
    /// categories.
    pub async fn load(
        pool: &PgPool,
        period: ReportPeriod,
        domain: Option<&str>,
        top: i32,
    ) -> Result<Self, sqlx::Error> {
        let (from, to) = (period.start(), period.end());
        let before = period.previous();
        let summary = sqlx::query_as!(
            SupportSummary,
            r#"select total_tickets as "total!", open_tickets as "open!",
                      pending_tickets as "pending!", resolved_tickets as "resolved!",
                      closed_tickets as "closed!", other_tickets as "other!",
                      high_priority_tickets as "high_priority!",
                      avg_first_response_hours, avg_resolution_hours
               from support.get_support_summary($1, $2, $3)"#,
            from,
            to,
            domain,
        )
        .fetch_one(pool)
        .await?;
        let trending = sqlx::query_as!(
            TrendingCategory,
            r#"select category as "category!", ticket_count as "tickets!",
                      previous_count as "previous!", change_pct
               from support.get_trending_categories($1, $2, $3, $4)"#,
            from,
            to,
            top,
            domain,
        )
        .fetch_all(pool)
        .await?;
        let comparison = sqlx::query_as!(
            MetricComparison,
            r#"select metric as "metric!", current_value as current,
                      previous_value as previous, change, change_pct
               from support.compare_support_periods($1, $2, $3, $4, $5)"#,
            from,
            to,
            before.start(),
            before.end(),
            domain,
        )
        .fetch_all(pool)
        .await?;
        let queue = sqlx::query_as!(
            QueueLine,
            r#"select domain as "domain!", status as "status!", priority as "priority!",
                      ticket_count as "tickets!", oldest_age_hours
               from support.current_queue_status
               where $1::text is null or domain = $1
               order by domain, priority_rank desc, status"#,
            domain,
        )
        .fetch_all(pool)
        .await?;
        let unmapped_statuses = sqlx::query_as!(
            UnmappedStatus,
            r#"select domain as "domain!", coalesce(status_sent, '(none)') as "status!",
                      ticket_count as "tickets!"
               from support.unmapped_ticket_statuses
               where $1::text is null or domain = $1
               order by domain, ticket_count desc, status_sent"#,
            domain,
        )
        .fetch_all(pool)
        .await?;
        let invalid_ticket_dates = sqlx::query_scalar!(
            r#"select count(*) as "count!" from ops.data_problems
               where channel = 'freshdesk' and kind = 'invalid_date' and resolved_at is null"#,
        )
        .fetch_one(pool)
        .await?;
        Ok(Self {
            period,
            domain: domain.map(str::to_owned),
            summary,
            trending,
            comparison,
            queue,
            unmapped_statuses,
            invalid_ticket_dates,
        })
    }
}

/// A number of hours, or a dash when there is none.
fn hours(value: Option<Decimal>) -> String {
    value.map_or_else(|| "-".to_owned(), |h| format!("{:.1} h", h))
}

/// A change in percent with its sign, or a dash when the base was zero.
fn percent(value: Option<Decimal>) -> String {
    value.map_or_else(
        || "-".to_owned(),
        |p| {
            let sign = if p > Decimal::ZERO { "+" } else { "" };
            format!("{sign}{:.1}%", p)
        },
    )
}

/// A metric's value as a person reads it: counts whole, averages to a tenth.
fn metric_value(metric: &str, value: Option<Decimal>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if metric.starts_with("avg_") => format!("{:.1}", v),
        Some(v) => v.normalize().to_string(),
    }
}

/// `avg_first_response_hours` as words.
fn metric_name(metric: &str) -> &str {
    match metric {
        "total_tickets" => "tickets opened",
        "open_tickets" => "open",
        "pending_tickets" => "pending",
        "resolved_tickets" => "resolved",
        "closed_tickets" => "closed",
        "high_priority_tickets" => "high or urgent",
        "avg_first_response_hours" => "first response (h)",
        "avg_resolution_hours" => "resolution (h)",
        other => other,
    }
}

impl fmt::Display for SupportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let helpdesk = self.domain.as_deref().unwrap_or("every helpdesk");
        let before = self.period.previous();
        writeln!(
            f,
            "Support report: {helpdesk}, {} ({} days, UTC)",
            self.period,
            self.period.days()
        )?;

        let s = &self.summary;
        writeln!(f, "\nSummary: tickets opened in the period")?;
        for (name, count) in [
            ("tickets", s.total),
            ("  open", s.open),
            ("  pending", s.pending),
            ("  resolved", s.resolved),
            ("  closed", s.closed),
            ("  other status", s.other),
            ("high or urgent priority", s.high_priority),
        ] {
            writeln!(f, "  {name:<26}{count:>8}")?;
        }
        writeln!(
            f,
            "  {:<26}{:>8}",
            "average first response",
            hours(s.avg_first_response_hours)
        )?;
        writeln!(
            f,
            "  {:<26}{:>8}",
            "average resolution",
            hours(s.avg_resolution_hours)
        )?;

        writeln!(f, "\nTrending categories (against {before})")?;
        if self.trending.is_empty() {
            writeln!(f, "  no ticket of the period has a tag or a type")?;
        } else {
            writeln!(
                f,
                "  {:<24}{:>8}{:>8}{:>10}",
                "category", "tickets", "before", "change"
            )?;
            for c in &self.trending {
                writeln!(
                    f,
                    "  {:<24}{:>8}{:>8}{:>10}",
                    c.category,
                    c.tickets,
                    c.previous,
                    percent(c.change_pct)
                )?;
            }
        }

        writeln!(f, "\nCompared with {before}")?;
        writeln!(f, "  {:<24}{:>8}{:>8}{:>10}", "", "now", "before", "change")?;
        for m in &self.comparison {
            writeln!(
                f,
                "  {:<24}{:>8}{:>8}{:>10}",
                metric_name(&m.metric),
                metric_value(&m.metric, m.current),
                metric_value(&m.metric, m.previous),
                percent(m.change_pct)
            )?;
        }

        writeln!(f, "\nCurrent queue: open and pending tickets now")?;
        if self.queue.is_empty() {
            writeln!(f, "  the queue is empty")?;
        } else {
            writeln!(
                f,
                "  {:<28}{:<10}{:<10}{:>8}{:>14}",
                "helpdesk", "status", "priority", "tickets", "oldest waits"
            )?;
            for q in &self.queue {
                writeln!(
                    f,
                    "  {:<28}{:<10}{:<10}{:>8}{:>14}",
                    q.domain,
                    q.status,
                    q.priority,
                    q.tickets,
                    hours(q.oldest_age_hours)
                )?;
            }
        }

        if !self.unmapped_statuses.is_empty() {
            writeln!(
                f,
                "\nStatuses with no category, counted as \"other\" and not queued \
                 (give each one in support.ticket_status_categories):"
            )?;
            for u in &self.unmapped_statuses {
                writeln!(f, "  {}: {:?}, {} ticket(s)", u.domain, u.status, u.tickets)?;
            }
        }
        if self.invalid_ticket_dates > 0 {
            writeln!(
                f,
                "\n{} ticket date(s) are not dates and are read as absent \
                 (ops.data_problems, channel freshdesk).",
                self.invalid_ticket_dates
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_previous_period_has_the_same_days_and_ends_the_day_before() {
        let november = ReportPeriod::new(day("2026-11-01"), day("2026-11-30")).unwrap();
        let before = november.previous();
        assert_eq!(
            (before.first(), before.last()),
            (day("2026-10-02"), day("2026-10-31"))
        );
        assert_eq!(before.days(), 30);
        assert_eq!(november.end().to_rfc3339(), "2026-12-01T00:00:00+00:00");
    }

    #[test]
    fn a_period_ending_before_it_starts_is_refused() {
        assert!(ReportPeriod::new(day("2026-11-02"), day("2026-11-01")).is_err());
        assert_eq!(
            ReportPeriod::new(day("2026-11-01"), day("2026-11-01"))
                .unwrap()
                .days(),
            1
        );
    }
}
