//! When an order was placed, checked for plausibility wherever an order arrives.
//!
//! A date such as `0001-01-01` or `2999-12-31` is a placeholder or a typo, never an
//! order: stored as is, it would land in a daily aggregate no report ever shows and
//! stretch every date range. Every channel refuses it the same way, naming the value.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// The earliest order date accepted: the seller's channels did not exist before it.
pub const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(day) => day,
    None => unreachable!(),
};

/// How far past the receiving clock an order may be dated: clocks differ, and a
/// marketplace in another time zone may write its local time as UTC.
pub const AHEAD_ALLOWED: Duration = Duration::days(1);

/// An order date outside the plausible window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImplausibleOrderTime {
    /// Before [`EARLIEST`].
    #[error("{0} is before {EARLIEST}")]
    TooEarly(DateTime<Utc>),
    /// More than [`AHEAD_ALLOWED`] after it was received.
    #[error("{at} is more than a day after it was received ({received})")]
    InTheFuture {
        /// The date given.
        at: DateTime<Utc>,
        /// When it was received.
        received: DateTime<Utc>,
    },
}

/// Checks an order's date against the time it was received.
pub fn check_order_time(
    at: DateTime<Utc>,
    received: DateTime<Utc>,
) -> Result<DateTime<Utc>, ImplausibleOrderTime> {
    if at.date_naive() < EARLIEST {
        return Err(ImplausibleOrderTime::TooEarly(at));
    }
    if at > received + AHEAD_ALLOWED {
        return Err(ImplausibleOrderTime::InTheFuture { at, received });
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn placeholders_and_typos_are_not_order_dates() {
        let now = at("2026-11-30T12:00:00Z");
        assert!(check_order_time(at("0001-01-01T00:00:00Z"), now).is_err());
        assert!(check_order_time(at("1999-12-31T23:59:59Z"), now).is_err());
        assert!(check_order_time(at("2999-12-31T00:00:00Z"), now).is_err());
        let err = check_order_time(at("2026-12-01T12:00:01Z"), now).unwrap_err();
        assert!(err.to_string().contains("more than a day"), "{err}");
    }

    #[test]
    fn the_window_includes_its_edges() {
        let now = at("2026-11-30T12:00:00Z");
        assert!(check_order_time(at("2000-01-01T00:00:00Z"), now).is_ok());
        assert!(check_order_time(at("2026-12-01T12:00:00Z"), now).is_ok());
    }
}
