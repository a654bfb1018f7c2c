//! The window of a time-based price rule: open for `duration_minutes` after each firing
//! of its cron schedule, the schedule read on the seller's wall clock.
//!
//! # Accepted cron syntax
//!
//! Five fields, `minute hour day-of-month month day-of-week`, as POSIX / Vixie cron
//! reads them (parsed by the `croner` crate, seconds and years not allowed):
//!
//! - numbers, `*`, lists (`1,15`), ranges (`1-5`) and steps (`*/15`, `8-18/2`);
//! - month names `JAN`…`DEC` and weekday names `SUN`…`SAT`, in any case; weekdays
//!   count from `0` = Sunday, and `7` is Sunday too;
//! - a restricted day-of-month and a restricted day-of-week fire on either day, as in
//!   Vixie cron (`0 9 1 * MON`: the 1st and every Monday);
//! - croner's extensions: `L` (last day of the month, `5L` last Friday), `#` (`1#2`
//!   the second Monday), `W` (`15W` the weekday nearest the 15th), `+` before the
//!   day-of-week to require both days;
//! - the nicknames `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@hourly`.
//!
//! A schedule that never fires (`0 0 30 2 *`) is refused when the rule is written.
//!
//! # Time zone and daylight saving
//!
//! The schedule is read on the seller's wall clock (an IANA zone such as
//! `America/Toronto`); the window's length is real elapsed time. When the clocks
//! spring forward, a firing in the skipped hour happens at the first minute after it;
//! when they fall back, a fixed time in the repeated hour fires once, the first time.
//! The window is half-open: open from the firing itself up to, not including, the
//! firing plus the duration.

use std::fmt;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// How long a window stays open when the rule does not say.
pub const DEFAULT_DURATION_MINUTES: i64 = 60;

/// The longest window: a year (a leap year's), for a yearly sale.
pub const MAX_DURATION_MINUTES: i64 = 366 * 24 * 60;

/// A cron schedule and how long each firing keeps the rule applying.
#[derive(Debug, Clone)]
pub struct PriceWindow {
    /// Boxed: a parsed pattern is large, and rule configs are moved around.
    cron: Box<Cron>,
    schedule: String,
    duration_minutes: i64,
}

/// A schedule or duration a time-based rule cannot have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidWindow {
    /// The schedule is not a five-field cron schedule.
    #[error(
        "{schedule:?} is not a five-field cron schedule \
         (minute hour day-of-month month day-of-week, such as \"0 9 * * 1-5\"): {reason}"
    )]
    Schedule {
        /// The schedule as given.
        schedule: String,
        /// What the cron parser found wrong.
        reason: String,
    },
    /// The schedule is well formed but names no time that exists.
    #[error("{0:?} never fires (no such date or time)")]
    NeverFires(String),
    /// The duration is not a whole number of minutes from 1 to a year.
    #[error("must be a whole number of minutes from 1 to {MAX_DURATION_MINUTES}, got {0}")]
    Duration(i64),
}

impl PriceWindow {
    /// A window opening at each firing of `schedule` for `duration_minutes`.
    pub fn new(schedule: &str, duration_minutes: i64) -> Result<Self, InvalidWindow> {
        if !(1..=MAX_DURATION_MINUTES).contains(&duration_minutes) {
            return Err(InvalidWindow::Duration(duration_minutes));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(schedule)
            .map_err(|err| InvalidWindow::Schedule {
                schedule: schedule.to_owned(),
                reason: err.to_string(),
            })?;
        // Any schedule that fires at all fires within eight years of any date (a 29th of
        // February may skip one leap year, at a century); a search that finds nothing
        // from here finds nothing ever.
        let reference = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
        let fires = reference.is_some_and(|from| cron.find_next_occurrence(&from, true).is_ok());
        if !fires {
            return Err(InvalidWindow::NeverFires(schedule.to_owned()));
        }
        Ok(Self {
            cron: Box::new(cron),
            schedule: schedule.trim().to_owned(),
            duration_minutes,
        })
    }

    /// The schedule as written.
    pub fn schedule(&self) -> &str {
        &self.schedule
    }

    /// How long each firing keeps the window open.
    pub fn duration_minutes(&self) -> i64 {
        self.duration_minutes
    }

    /// Whether the window is open at `now`, the schedule read in `time_zone`.
    pub fn state_at(&self, now: DateTime<Utc>, time_zone: Tz) -> WindowState {
        let local_now = now.with_timezone(&time_zone);
        let duration = TimeDelta::minutes(self.duration_minutes);
        // The latest firing at or before now decides: a later one cannot have opened
        // the window yet, and an earlier one closes no later than it.
        let Ok(fired_at) = self.cron.find_previous_occurrence(&local_now, true) else {
            return WindowState::Closed { last_fired: None };
        };
        if now.signed_duration_since(fired_at) < duration {
            WindowState::Open {
                fired_at,
                closes_at: fired_at + duration,
            }
        } else {
            WindowState::Closed {
                last_fired: Some(fired_at),
            }
        }
    }

    /// The first instant after `now` at which the window may open or close: when it
    /// closes if it is open (a firing within it keeps it open longer), the next firing
    /// if it is closed, none if it never fires again.
    pub fn next_edge(&self, now: DateTime<Utc>, time_zone: Tz) -> Option<DateTime<Utc>> {
        match self.state_at(now, time_zone) {
            WindowState::Open { closes_at, .. } => Some(closes_at.with_timezone(&Utc)),
            WindowState::Closed { .. } => self
                .cron
                .find_next_occurrence(&now.with_timezone(&time_zone), false)
                .ok()
                .map(|fires| fires.with_timezone(&Utc)),
        }
    }
}

/// Where the evaluation time falls against a rule's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    /// Within `duration_minutes` of a firing.
    Open {
        /// The firing that opened the window, on the seller's clock.
        fired_at: DateTime<Tz>,
        /// The first instant no longer in the window.
        closes_at: DateTime<Tz>,
    },
    /// Not within any firing's window.
    Closed {
        /// The latest firing before now, if the schedule has fired in living memory.
        last_fired: Option<DateTime<Tz>>,
    },
}

impl WindowState {
    /// Whether the rule applies.
    pub fn is_open(&self) -> bool {
        matches!(self, WindowState::Open { .. })
    }
}

impl fmt::Display for WindowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CLOCK: &str = "%Y-%m-%d %H:%M %Z";
        match self {
            WindowState::Open {
                fired_at,
                closes_at,
            } => write!(
                f,
                "window open since {} until {}",
                fired_at.format(CLOCK),
                closes_at.format(CLOCK)
            ),
            WindowState::Closed {
                last_fired: Some(fired_at),
            } => write!(f, "window closed (last opened {})", fired_at.format(CLOCK)),
            WindowState::Closed { last_fired: None } => f.write_str("window closed"),
        }
    }
}

/// A time zone name that is not in the IANA database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {0:?}: expected an IANA name such as \"America/Toronto\" or \"UTC\"")]
pub struct UnknownTimeZone(pub String);

/// The IANA time zone named `name` (`America/Toronto`), exactly as the database spells it.
pub fn parse_time_zone(name: &str) -> Result<Tz, UnknownTimeZone> {
    name.parse::<Tz>()
        .map_err(|_| UnknownTimeZone(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TORONTO: Tz = chrono_tz::America::Toronto;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    fn open(window: &PriceWindow, now: &str) -> bool {
        window.state_at(at(now), TORONTO).is_open()
    }

    fn weekday_mornings() -> PriceWindow {
        PriceWindow::new("0 9 * * 1-5", 60).unwrap()
    }

    #[test]
    fn the_window_opens_exactly_at_the_firing() {
        // Monday 2 March 2026, 09:00 in Toronto (EST, UTC−5).
        let state = weekday_mornings().state_at(at("2026-03-02T14:00:00Z"), TORONTO);
        let WindowState::Open {
            fired_at,
            closes_at,
        } = state
        else {
            panic!("closed at the firing: {state}");
        };
        assert_eq!(fired_at.to_utc(), at("2026-03-02T14:00:00Z"));
        assert_eq!(closes_at.to_utc(), at("2026-03-02T15:00:00Z"));
        assert_eq!(
            state.to_string(),
            "window open since 2026-03-02 09:00 EST until 2026-03-02 10:00 EST"
        );
    }

    #[test]
    fn the_window_is_closed_one_minute_before_the_firing() {
        assert!(!open(&weekday_mornings(), "2026-03-02T13:59:00Z"));
        assert!(!open(&weekday_mornings(), "2026-03-02T13:59:59Z"));
    }

    #[test]
    fn the_window_is_open_until_just_before_firing_plus_duration() {
        assert!(open(&weekday_mornings(), "2026-03-02T14:59:00Z"));
        assert!(open(&weekday_mornings(), "2026-03-02T14:59:59.999Z"));
    }

    #[test]
    fn the_window_is_closed_at_firing_plus_duration() {
        let state = weekday_mornings().state_at(at("2026-03-02T15:00:00Z"), TORONTO);
        assert_eq!(
            state,
            WindowState::Closed {
                last_fired: Some(at("2026-03-02T14:00:00Z").with_timezone(&TORONTO))
            }
        );
        assert_eq!(
            state.to_string(),
            "window closed (last opened 2026-03-02 09:00 EST)"
        );
    }

    #[test]
    fn the_schedule_follows_the_weekday_on_the_sellers_clock() {
        // Saturday 7 March, 09:00 in Toronto: no firing on weekends.
        assert!(!open(&weekday_mornings(), "2026-03-07T14:30:00Z"));
        // Friday 6 March 2026 at 23:30 in Toronto is already Saturday in UTC: the
        // Friday firing counts.
        let evenings = PriceWindow::new("0 23 * * 5", 60).unwrap();
        assert!(open(&evenings, "2026-03-07T04:30:00Z"));
        assert!(!evenings
            .state_at(at("2026-03-07T04:30:00Z"), Tz::UTC)
            .is_open());
    }

    #[test]
    fn nine_in_the_morning_moves_in_utc_when_daylight_saving_starts() {
        // Monday 9 March 2026 is the first weekday on EDT (UTC−4): 09:00 is 13:00 UTC.
        assert!(open(&weekday_mornings(), "2026-03-09T13:00:00Z"));
        assert!(!open(&weekday_mornings(), "2026-03-09T14:00:00Z"));
        // A week before, on EST, 13:00 UTC was 08:00 in Toronto.
        assert!(!open(&weekday_mornings(), "2026-03-02T13:00:00Z"));
    }

    #[test]
    fn a_window_across_spring_forward_lasts_its_real_minutes() {
        // Sunday 8 March 2026: 01:00 EST is 06:00 UTC; at 02:00 the clocks jump to
        // 03:00 EDT. Two real hours later is 08:00 UTC, 04:00 on the wall.
        let window = PriceWindow::new("0 1 * * *", 120).unwrap();
        assert!(open(&window, "2026-03-08T06:00:00Z"));
        assert!(open(&window, "2026-03-08T07:59:00Z"));
        assert!(!open(&window, "2026-03-08T08:00:00Z"));
    }

    #[test]
    fn a_firing_in_the_skipped_hour_happens_at_the_first_minute_after_it() {
        // 02:30 does not exist on 8 March 2026 in Toronto; the firing is 03:00 EDT.
        let window = PriceWindow::new("30 2 * * *", 60).unwrap();
        assert!(!open(&window, "2026-03-08T06:59:00Z"));
        assert!(open(&window, "2026-03-08T07:00:00Z"));
        assert!(open(&window, "2026-03-08T07:59:00Z"));
        assert!(!open(&window, "2026-03-08T08:00:00Z"));
    }

    #[test]
    fn a_fixed_time_in_the_repeated_hour_fires_once_when_clocks_fall_back() {
        // Sunday 1 November 2026: 01:30 EDT (05:30 UTC), then at 02:00 EDT the clocks
        // go back to 01:00 EST, and 01:30 comes again (06:30 UTC).
        let window = PriceWindow::new("30 1 * * *", 60).unwrap();
        assert!(!open(&window, "2026-11-01T05:29:00Z"));
        assert!(open(&window, "2026-11-01T05:30:00Z"));
        assert!(open(&window, "2026-11-01T06:29:00Z"));
        assert!(!open(&window, "2026-11-01T06:30:00Z"));
        assert!(!open(&window, "2026-11-01T07:00:00Z"));
    }

    #[test]
    fn frequent_firings_keep_the_window_open_from_the_latest() {
        let window = PriceWindow::new("*/15 * * * *", 20).unwrap();
        let state = window.state_at(at("2026-03-02T14:47:00Z"), TORONTO);
        let WindowState::Open { fired_at, .. } = state else {
            panic!("closed: {state}");
        };
        assert_eq!(fired_at.to_utc(), at("2026-03-02T14:45:00Z"));
        let short = PriceWindow::new("*/15 * * * *", 5).unwrap();
        assert!(!short
            .state_at(at("2026-03-02T14:25:00Z"), TORONTO)
            .is_open());
    }

    #[test]
    fn names_nicknames_and_sunday_as_seven_are_read() {
        for schedule in [
            "0 9 * * MON-FRI",
            "@daily",
            "0 0 * * 7",
            "0 12 L * *",
            "0 9 * JAN,dec sun",
        ] {
            assert!(PriceWindow::new(schedule, 60).is_ok(), "{schedule}");
        }
        let sundays = PriceWindow::new("0 10 * * 7", 60).unwrap();
        // Sunday 1 March 2026, 10:00 EST.
        assert!(open(&sundays, "2026-03-01T15:00:00Z"));
    }

    #[test]
    fn a_leap_day_schedule_is_accepted_and_fires_on_leap_years() {
        let window = PriceWindow::new("0 0 29 2 *", 24 * 60).unwrap();
        assert!(window
            .state_at(at("2028-02-29T12:00:00Z"), Tz::UTC)
            .is_open());
        assert!(!window
            .state_at(at("2027-02-28T12:00:00Z"), Tz::UTC)
            .is_open());
    }

    #[test]
    fn malformed_schedules_are_refused_naming_the_schedule() {
        for schedule in [
            "",
            "0 9 * *",
            "0 0 9 * * 1",
            "61 * * * *",
            "0 25 * * *",
            "every day",
            "0 9 * * 1-5 2026",
        ] {
            let err = PriceWindow::new(schedule, 60).unwrap_err();
            assert!(
                matches!(&err, InvalidWindow::Schedule { schedule: s, .. } if s == schedule),
                "{schedule:?}: {err}"
            );
            assert!(
                err.to_string().contains("five-field cron schedule"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_schedule_that_never_fires_is_refused() {
        let err = PriceWindow::new("0 0 30 2 *", 60).unwrap_err();
        assert_eq!(err, InvalidWindow::NeverFires("0 0 30 2 *".to_owned()));
        assert_eq!(
            err.to_string(),
            "\"0 0 30 2 *\" never fires (no such date or time)"
        );
    }

    #[test]
    fn durations_outside_a_minute_to_a_year_are_refused() {
        for minutes in [0, -5, MAX_DURATION_MINUTES + 1] {
            assert_eq!(
                PriceWindow::new("0 9 * * *", minutes).unwrap_err(),
                InvalidWindow::Duration(minutes)
            );
        }
        assert!(PriceWindow::new("0 9 * * *", MAX_DURATION_MINUTES).is_ok());
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(parse_time_zone("America/Toronto"), Ok(TORONTO));
        assert_eq!(parse_time_zone("UTC"), Ok(Tz::UTC));
        let err = parse_time_zone("Mars/Olympus_Mons").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown time zone \"Mars/Olympus_Mons\": expected an IANA name such as \"America/Toronto\" or \"UTC\""
        );
    }
}
