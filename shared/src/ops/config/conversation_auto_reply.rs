//! `conversation-auto-reply`: answers routine customer messages (Mirakl M10, M12;
//! Freshdesk's ticket reply) and hands the rest to a person.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::{DatabaseSettings, FreshdeskSettings, FromEnvironment, MiraklSettings, Variables};

/// How long after an automatic reply in a thread no other is sent there, unless set.
pub const DEFAULT_COOLING_OFF: Duration = Duration::from_secs(60 * 60);
/// How many automatic replies one thread gets at most, unless set.
pub const DEFAULT_MAX_REPLIES_PER_THREAD: u32 = 3;

/// `AUTO_REPLY_MODE`: what the function does with a customer message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoReplyMode {
    /// Does nothing: each message is acknowledged, counted and logged (its ids only),
    /// and nothing is decided, recorded, sent or handed over. The conversations stay
    /// unread for a person, as before the function existed; a message acknowledged
    /// while off is not decided later when the mode changes.
    Off,
    /// Decides as `on` does and records the decision with the reply it would have sent,
    /// but sends nothing; every message is handed over to a person as usual. How a
    /// seller trials the rules and templates on real messages.
    Shadow,
    /// Decides, sends the replies every guard allows, hands the rest over.
    On,
}

impl AutoReplyMode {
    /// The spelling in `AUTO_REPLY_MODE` and `support.reply_decisions.mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Shadow => "shadow",
            Self::On => "on",
        }
    }
}

impl fmt::Display for AutoReplyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AutoReplyMode {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(Self::Off),
            "shadow" => Ok(Self::Shadow),
            "on" => Ok(Self::On),
            _ => Err(format!("expected off, shadow or on, got {raw:?}")),
        }
    }
}

/// What `conversation-auto-reply` reads at cold start.
#[derive(Debug, Clone)]
pub struct AutoReplySettings {
    /// The threads, orders, decisions and tasks.
    pub database: DatabaseSettings,
    /// M10 and M12.
    pub mirakl: MiraklSettings,
    /// The helpdesk whose tickets are answered (`FRESHDESK_API_KEY`, `FRESHDESK_DOMAIN`,
    /// `FRESHDESK_BASE_URL`); without it, a ticket's message fails for a person.
    pub freshdesk: Option<FreshdeskSettings>,
    /// `AUTO_REPLY_MODE` (default `shadow`: a deployment answers nobody until the
    /// seller has seen its decisions and turned it `on`).
    pub mode: AutoReplyMode,
    /// `AUTO_REPLY_COOLING_OFF_MINUTES` (default 60): after an automatic reply in a
    /// thread, further messages there go to a person for this long, so two quick
    /// questions never get two machine answers in a row.
    pub cooling_off: Duration,
    /// `AUTO_REPLY_MAX_PER_THREAD` (default 3): a thread that needed this many
    /// automatic replies needs a person.
    pub max_replies_per_thread: u32,
}

impl FromEnvironment for AutoReplySettings {
    fn read(vars: &mut Variables<'_>) -> Self {
        Self {
            database: DatabaseSettings::read(vars),
            mirakl: MiraklSettings::read(vars),
            freshdesk: FreshdeskSettings::read_optional(vars),
            mode: vars.parsed_or("AUTO_REPLY_MODE", AutoReplyMode::Shadow, str::parse),
            cooling_off: vars.parsed_or(
                "AUTO_REPLY_COOLING_OFF_MINUTES",
                DEFAULT_COOLING_OFF,
                minutes,
            ),
            max_replies_per_thread: vars.parsed_or(
                "AUTO_REPLY_MAX_PER_THREAD",
                DEFAULT_MAX_REPLIES_PER_THREAD,
                positive_count,
            ),
        }
    }
}

/// Whole minutes, up to a week; 0 turns the cooling-off period off.
fn minutes(raw: &str) -> Result<Duration, String> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|minutes| *minutes <= 7 * 24 * 60)
        .map(|minutes| Duration::from_secs(minutes * 60))
        .ok_or_else(|| format!("expected whole minutes from 0 to 10080, got {raw:?}"))
}

fn positive_count(raw: &str) -> Result<u32, String> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|count| (1..=100).contains(count))
        .ok_or_else(|| format!("expected a whole number from 1 to 100, got {raw:?}"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_hides, lookup, with};
    use super::*;

    const COMPLETE: &[(&str, &str)] = &[
        (
            "DATABASE_URL",
            "postgres://app:hunter2-db-password@db.internal/sellerops",
        ),
        ("MIRAKL_BASE_URL", "https://marketplace.bestbuy.ca"),
        ("MIRAKL_API_KEY", "mirakl-key-never-printed"),
    ];

    #[test]
    fn shadow_with_an_hour_and_three_replies_unless_set() {
        let settings = AutoReplySettings::from_lookup(lookup(COMPLETE)).unwrap();
        assert_eq!(settings.mode, AutoReplyMode::Shadow);
        assert_eq!(settings.cooling_off, Duration::from_secs(3600));
        assert_eq!(settings.max_replies_per_thread, 3);
        assert_hides(
            &format!("{settings:?}"),
            &["hunter2-db-password", "mirakl-key-never-printed"],
        );
    }

    #[test]
    fn the_mode_and_limits_are_read_and_checked() {
        let vars = with(COMPLETE, "AUTO_REPLY_MODE", " ON ");
        let vars = with(&vars, "AUTO_REPLY_COOLING_OFF_MINUTES", "15");
        let vars = with(&vars, "AUTO_REPLY_MAX_PER_THREAD", "2");
        let settings = AutoReplySettings::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(settings.mode, AutoReplyMode::On);
        assert_eq!(settings.cooling_off, Duration::from_secs(15 * 60));
        assert_eq!(settings.max_replies_per_thread, 2);

        let vars = with(COMPLETE, "AUTO_REPLY_MODE", "yes");
        let vars = with(&vars, "AUTO_REPLY_COOLING_OFF_MINUTES", "-5");
        let vars = with(&vars, "AUTO_REPLY_MAX_PER_THREAD", "0");
        let err = AutoReplySettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(
            err.variables(),
            [
                "AUTO_REPLY_MODE",
                "AUTO_REPLY_COOLING_OFF_MINUTES",
                "AUTO_REPLY_MAX_PER_THREAD"
            ]
        );
    }

    #[test]
    fn answers_freshdesk_tickets_when_given_its_key_and_domain() {
        let settings = AutoReplySettings::from_lookup(lookup(COMPLETE)).unwrap();
        assert!(settings.freshdesk.is_none());
        let vars = with(COMPLETE, "FRESHDESK_API_KEY", "desk-key-never-printed");
        let err = AutoReplySettings::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(err.variables(), ["FRESHDESK_DOMAIN"]);
        let vars = with(&vars, "FRESHDESK_DOMAIN", "maplerefurb.freshdesk.com");
        let settings = AutoReplySettings::from_lookup(lookup(&vars)).unwrap();
        let freshdesk = settings.freshdesk.clone().unwrap();
        assert_eq!(freshdesk.base_url, "https://maplerefurb.freshdesk.com");
        assert_hides(&format!("{settings:?}"), &["desk-key-never-printed"]);
    }

    #[test]
    fn reads_no_queue_bucket_or_carrier() {
        let err = AutoReplySettings::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(
            err.variables(),
            ["DATABASE_URL", "MIRAKL_BASE_URL", "MIRAKL_API_KEY"]
        );
    }
}
