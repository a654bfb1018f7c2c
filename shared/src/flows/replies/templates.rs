//! The reply templates (`shared/replies/templates.toml`): what an automatic reply says
//! in each language for each routine intent and order situation, the carriers' names
//! and tracking pages, and the one-line titles of hand-over tasks.
//!
//! The file is data the seller edits without touching Rust; it is compiled in and read
//! on first use. Every template is checked when read: English and French are both
//! there, and it uses only the placeholders the flow fills ([`Placeholder`]), so a typo
//! is a failed test, not a reply with `{tracking_pn}` in it.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::classifier::{Intent, Language};

/// The bundled file's text.
const BUNDLED: &str = include_str!("../../../replies/templates.toml");

static TEMPLATES: LazyLock<ReplyTemplates> = LazyLock::new(|| {
    ReplyTemplates::parse(BUNDLED)
        .unwrap_or_else(|err| panic!("shared/replies/templates.toml is invalid: {err}"))
});

/// Where an order stands, as far as a reply is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Situation {
    /// Left with a carrier, with a tracking number.
    Shipped,
    /// Accepted (or waiting to be) and not shipped yet.
    NotShipped,
    /// Any order not cancelled or refused (an invoice).
    Any,
}

impl Situation {
    /// The spelling in the templates file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shipped => "shipped",
            Self::NotShipped => "not_shipped",
            Self::Any => "any",
        }
    }
}

/// A fact a template may name, as `{name}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    OrderId,
    OrderDate,
    ShipBy,
    Carrier,
    TrackingPin,
    TrackingUrl,
}

impl Placeholder {
    const ALL: [Self; 6] = [
        Self::OrderId,
        Self::OrderDate,
        Self::ShipBy,
        Self::Carrier,
        Self::TrackingPin,
        Self::TrackingUrl,
    ];

    /// The name between the braces.
    pub fn name(self) -> &'static str {
        match self {
            Self::OrderId => "order_id",
            Self::OrderDate => "order_date",
            Self::ShipBy => "ship_by",
            Self::Carrier => "carrier",
            Self::TrackingPin => "tracking_pin",
            Self::TrackingUrl => "tracking_url",
        }
    }

    fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Why the templates file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("not a templates file: {0}")]
    Syntax(String),
    #[error("{at}: {reason}")]
    Invalid { at: String, reason: String },
}

/// A text with `{placeholder}`s, checked when the file was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

/// The facts a reply is written from; each is `None` when the database does not have it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    values: HashMap<&'static str, String>,
}

impl Facts {
    /// Sets a fact.
    pub fn set(&mut self, placeholder: Placeholder, value: impl Into<String>) {
        self.values.insert(placeholder.name(), value.into());
    }

    fn get(&self, placeholder: Placeholder) -> Option<&str> {
        self.values.get(placeholder.name()).map(String::as_str)
    }
}

impl Template {
    fn checked(text: String, at: &str) -> Result<Self, TemplateError> {
        let invalid = |reason: String| TemplateError::Invalid {
            at: at.to_owned(),
            reason,
        };
        if text.trim().is_empty() {
            return Err(invalid("the text is empty".into()));
        }
        for name in placeholders(&text) {
            let name = name.map_err(invalid)?;
            if Placeholder::named(name).is_none() {
                return Err(invalid(format!("{{{name}}} is not a known placeholder")));
            }
        }
        Ok(Self(text))
    }

    /// The placeholders the text names.
    pub fn placeholders(&self) -> Vec<Placeholder> {
        placeholders(&self.0)
            .filter_map(|name| name.ok().and_then(Placeholder::named))
            .collect()
    }

    /// The text with every placeholder filled; `Err` names the first fact missing.
    pub fn render(&self, facts: &Facts) -> Result<String, Placeholder> {
        let mut out = String::with_capacity(self.0.len() + 64);
        let mut rest = self.0.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after.find('}').unwrap_or(after.len());
            let name = &after[..close];
            match Placeholder::named(name) {
                Some(placeholder) => out.push_str(facts.get(placeholder).ok_or(placeholder)?),
                // Not reached: every name was checked when the file was read.
                None => out.push_str(&rest[open..(open + close + 2).min(rest.len())]),
            }
            rest = after.get(close + 1..).unwrap_or_default();
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The names inside `{…}` in `text`, or why the braces do not pair up.
fn placeholders(text: &str) -> impl Iterator<Item = Result<&str, String>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let open = rest.find(['{', '}'])?;
        if rest[open..].starts_with('}') {
            rest = "";
            return Some(Err("a '}' closes no placeholder".into()));
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            rest = "";
            return Some(Err("a '{' is never closed".into()));
        };
        let name = &after[..close];
        rest = &after[close + 1..];
        Some(Ok(name))
    })
}

/// A text in both languages.
#[derive(Debug, Clone)]
struct Localised {
    en: Template,
    fr: Template,
}

impl Localised {
    fn get(&self, language: Language) -> &Template {
        match language {
            Language::En => &self.en,
            Language::Fr => &self.fr,
        }
    }
}

/// A carrier: its name and tracking page in both languages.
#[derive(Debug, Clone)]
pub struct Carrier {
    name: Localised,
    tracking_url: Localised,
}

impl Carrier {
    /// The carrier's name in `language`.
    pub fn name(&self, language: Language) -> &str {
        &self.name.get(language).0
    }

    /// The tracking page of `tracking_pin`, in `language`.
    pub fn tracking_url(&self, language: Language, tracking_pin: &str) -> String {
        let mut facts = Facts::default();
        facts.set(Placeholder::TrackingPin, tracking_pin);
        self.tracking_url
            .get(language)
            .render(&facts)
            .unwrap_or_default()
    }
}

/// The whole file, checked.
#[derive(Debug, Clone)]
pub struct ReplyTemplates {
    carriers: HashMap<String, Carrier>,
    replies: HashMap<(Intent, Situation), Localised>,
    hand_over: HashMap<Intent, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplatesFile {
    #[serde(default)]
    carriers: HashMap<String, CarrierEntry>,
    #[serde(default)]
    replies: HashMap<Intent, HashMap<Situation, LocalisedEntry>>,
    #[serde(default)]
    hand_over: HashMap<Intent, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocalisedEntry {
    en: String,
    fr: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CarrierEntry {
    en: String,
    fr: String,
    tracking_url: LocalisedEntry,
}

fn localised(entry: LocalisedEntry, at: &str) -> Result<Localised, TemplateError> {
    Ok(Localised {
        en: Template::checked(entry.en, &format!("{at}.en"))?,
        fr: Template::checked(entry.fr, &format!("{at}.fr"))?,
    })
}

impl ReplyTemplates {
    /// The templates bundled with the build, read on first use.
    pub fn bundled() -> &'static ReplyTemplates {
        &TEMPLATES
    }

    /// Reads and checks a templates file.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let file: TemplatesFile =
            toml::from_str(text).map_err(|err| TemplateError::Syntax(err.to_string()))?;
        let mut carriers = HashMap::new();
        for (code, entry) in file.carriers {
            let at = format!("carriers.{code}");
            let name = localised(
                LocalisedEntry {
                    en: entry.en,
                    fr: entry.fr,
                },
                &at,
            )?;
            let tracking_url = localised(entry.tracking_url, &format!("{at}.tracking_url"))?;
            for language in [Language::En, Language::Fr] {
                let placeholders = tracking_url.get(language).placeholders();
                if placeholders != [Placeholder::TrackingPin] {
                    return Err(TemplateError::Invalid {
                        at: format!("{at}.tracking_url.{}", language.as_str()),
                        reason: "a tracking page names {tracking_pin} and nothing else".into(),
                    });
                }
            }
            carriers.insert(code, Carrier { name, tracking_url });
        }
        let mut replies = HashMap::new();
        for (intent, situations) in file.replies {
            if !intent.is_routine() {
                return Err(TemplateError::Invalid {
                    at: format!("replies.{}", intent.as_str()),
                    reason: "only routine intents (order_status, tracking_request, \
                             invoice_request) are answered automatically"
                        .into(),
                });
            }
            for (situation, entry) in situations {
                let at = format!("replies.{}.{}", intent.as_str(), situation.as_str());
                replies.insert((intent, situation), localised(entry, &at)?);
            }
        }
        let mut hand_over = HashMap::new();
        for (intent, title) in file.hand_over {
            let at = format!("hand_over.{}", intent.as_str());
            let names: Result<Vec<_>, _> = placeholders(&title).collect();
            match names {
                Ok(names) if names.iter().all(|name| *name == "order") => {}
                _ => {
                    return Err(TemplateError::Invalid {
                        at,
                        reason: "a task title names {order} and nothing else".into(),
                    })
                }
            }
            hand_over.insert(intent, title);
        }
        Ok(Self {
            carriers,
            replies,
            hand_over,
        })
    }

    /// Whether any reply exists for `intent`: what the `no_template` guard asks before
    /// the order is looked at.
    pub fn answers(&self, intent: Intent) -> bool {
        self.replies.keys().any(|(i, _)| *i == intent)
    }

    /// The reply for `intent` when the order is in `situation`, in `language`.
    pub fn reply(
        &self,
        intent: Intent,
        situation: Situation,
        language: Language,
    ) -> Option<&Template> {
        self.replies
            .get(&(intent, situation))
            .map(|localised| localised.get(language))
    }

    /// The carrier stored as `code` in `sales.shipments.carrier`.
    pub fn carrier(&self, code: &str) -> Option<&Carrier> {
        self.carriers.get(code)
    }

    /// The task title for a message of `intent` about `order` (its number as we or the
    /// customer have it), one line.
    pub fn hand_over_title(&self, intent: Intent, order: Option<&str>) -> String {
        let order = order.map_or_else(|| "their order".to_owned(), |id| format!("order {id}"));
        let title = self
            .hand_over
            .get(&intent)
            .map_or("Customer wrote about {order}", String::as_str);
        title.replace("{order}", &order).replace(['\r', '\n'], " ")
    }
}

/// A day written out in `language`: "March 5, 2026", "5 mars 2026" ("1er mars 2026").
pub fn long_date(date: NaiveDate, language: Language) -> String {
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let month = usize::try_from(date.month0()).unwrap_or(0);
    match language {
        Language::En => format!("{} {}, {}", EN[month], date.day(), date.year()),
        Language::Fr if date.day() == 1 => format!("1er {} {}", FR[month], date.year()),
        Language::Fr => format!("{} {} {}", date.day(), FR[month], date.year()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_templates_cover_every_routine_intent_in_both_languages() {
        let templates = ReplyTemplates::parse(BUNDLED).unwrap();
        for intent in [
            Intent::OrderStatus,
            Intent::TrackingRequest,
            Intent::InvoiceRequest,
        ] {
            assert!(templates.answers(intent), "{intent:?}");
        }
        for intent in [Intent::OrderStatus, Intent::TrackingRequest] {
            for situation in [Situation::Shipped, Situation::NotShipped] {
                for language in [Language::En, Language::Fr] {
                    assert!(templates.reply(intent, situation, language).is_some());
                }
            }
        }
        let shipped = templates
            .reply(Intent::TrackingRequest, Situation::Shipped, Language::Fr)
            .unwrap();
        assert!(shipped.placeholders().contains(&Placeholder::TrackingUrl));
        assert!(templates.carrier("canada_post").is_some());
    }

    #[test]
    fn a_reply_is_filled_with_the_facts_or_names_the_one_missing() {
        let templates = ReplyTemplates::parse(BUNDLED).unwrap();
        let template = templates
            .reply(Intent::OrderStatus, Situation::NotShipped, Language::Fr)
            .unwrap();
        let mut facts = Facts::default();
        facts.set(Placeholder::OrderId, "201934572-A");
        assert_eq!(template.render(&facts), Err(Placeholder::ShipBy));
        facts.set(
            Placeholder::ShipBy,
            long_date(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(), Language::Fr),
        );
        let text = template.render(&facts).unwrap();
        assert!(text.contains("201934572-A"), "{text}");
        assert!(text.contains("1er mars 2026"), "{text}");
        assert!(!text.contains('{'), "{text}");
    }

    #[test]
    fn the_canada_post_tracking_page_is_in_the_reply_language() {
        let templates = ReplyTemplates::parse(BUNDLED).unwrap();
        let carrier = templates.carrier("canada_post").unwrap();
        assert_eq!(
            carrier.tracking_url(Language::En, "7023210987654321"),
            "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=7023210987654321"
        );
        assert!(carrier
            .tracking_url(Language::Fr, "7023210987654321")
            .contains("/track-reperage/fr#"));
        assert_eq!(carrier.name(Language::Fr), "Postes Canada");
    }

    #[test]
    fn a_typo_or_a_missing_language_is_refused_by_name() {
        let typo = "[replies.order_status.shipped]\nen = \"PIN {tracking_pn}\"\nfr = \"x\"\n";
        let err = ReplyTemplates::parse(typo).unwrap_err().to_string();
        assert!(err.contains("replies.order_status.shipped.en"), "{err}");
        assert!(err.contains("tracking_pn"), "{err}");

        let one_language = "[replies.order_status.shipped]\nen = \"Shipped\"\n";
        assert!(ReplyTemplates::parse(one_language).is_err());

        let not_routine = "[replies.cancel_request.any]\nen = \"a\"\nfr = \"b\"\n";
        let err = ReplyTemplates::parse(not_routine).unwrap_err().to_string();
        assert!(err.contains("routine"), "{err}");
    }

    #[test]
    fn a_task_title_says_what_the_customer_wants_in_one_line() {
        let templates = ReplyTemplates::parse(BUNDLED).unwrap();
        assert_eq!(
            templates.hand_over_title(Intent::CancelRequest, Some("201934572-A")),
            "Customer asks to cancel order 201934572-A"
        );
        assert_eq!(
            templates.hand_over_title(Intent::Other, None),
            "Customer wrote about their order"
        );
    }

    #[test]
    fn dates_are_written_in_each_language() {
        let day = NaiveDate::from_ymd_opt(2026, 8, 14).unwrap();
        assert_eq!(long_date(day, Language::En), "August 14, 2026");
        assert_eq!(long_date(day, Language::Fr), "14 août 2026");
    }
}
