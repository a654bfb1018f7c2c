//! The `price-check` command's contract: price decisions for cases given as JSON lines,
//! decided by the same [`decide`] the evaluation function uses.
//!
//! # Input
//!
//! One case per line (blank lines are skipped):
//!
//! ```json
//! {"id": "c1", "now": "2026-03-02T14:00:00Z", "time_zone": "America/Toronto",
//!  "listing": {"current_price": "24.99", "regular_price": "24.99", "landed_cost": "10.00",
//!              "min_price": "15.00", "max_price": "30.00", "margin_floor_pct": "20",
//!              "stock": 12, "category": "Tools", "tags": ["clearance"]},
//!  "fees": {"referral_pct": "15", "fixed": "1.00"},
//!  "default_margin_floor_pct": "20",
//!  "rules": [{"id": "r1", "rule_type": "competitor_beat", "priority": 200,
//!             "applies_to": "all", "config": {"beat_by_pct": 5}}],
//!  "offers": [{"seller": "Acme", "price": "23.15", "is_buy_box": true, "own": false}]}
//! ```
//!
//! Amounts are decimal strings (JSON numbers are read too, from their decimal text).
//! Every `_pct` is a percentage (`"15"` for 15 %), `fees.referral_pct` included.
//! Optional: `listing.landed_cost` (null: the listing is flagged `no_landed_cost`),
//! `min_price`, `max_price`, `margin_floor_pct`, `category`, `tags`, and
//! `listing.id`, which `listing`-scoped rules are matched against (the case's `id`
//! when absent); `default_margin_floor_pct` (0 when absent); `rules` and `offers`
//! (none); a rule's `priority` (100), `applies_to` (`all`) and `is_active` (true); an
//! offer's `seller`, `is_buy_box` and `own` (false). Other fields are ignored.
//! Prices (current, regular, min, max, offers) are in cents: more decimals are refused.
//!
//! # Output
//!
//! One line per case, in the same order:
//! `{"id", "price", "rule", "bound", "flag", "explanation"}`: the decided price (two
//! decimals), the winning rule's id or null, the bound that moved the price (`min_price`,
//! `max_price`, `margin_floor`) or null, the flag (`bounds_conflict`, `no_landed_cost`)
//! or null, and the explanation as text. A case that cannot be read gets
//! `{"id", "error"}` instead, `id` null when it cannot be read either, and the next
//! case goes on.

use std::io::{self, BufRead, Write};

use chrono::DateTime;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::decimal_from_json;
use super::decision::{decide, Decision, ListingFacts, Offer, RuleBook};
use super::margin::{ChannelFees, InvalidFees};
use super::rules::{PriceRule, RuleDefinition};
use super::schedule::parse_time_zone;

/// What one case came to.
#[derive(Debug, Clone)]
pub enum CaseAnswer {
    /// The case was read and decided.
    Decided {
        /// The case's id, as given.
        id: Value,
        /// The decision.
        decision: Box<Decision>,
    },
    /// The case could not be read.
    Refused {
        /// The case's id as given; null when unreadable.
        id: Value,
        /// What is wrong, naming the field.
        error: String,
    },
}

impl CaseAnswer {
    /// The answer line, without its newline.
    pub fn to_json_line(&self) -> String {
        let line = match self {
            CaseAnswer::Decided { id, decision } => serde_json::to_string(&DecidedLine {
                id,
                price: format!("{:.2}", decision.price),
                rule: decision.rule.as_deref(),
                bound: decision.bound.map(|bound| bound.as_str()),
                flag: decision.flag.map(|flag| flag.as_str()),
                explanation: decision.explanation.to_string(),
            }),
            CaseAnswer::Refused { id, error } => serde_json::to_string(&RefusedLine { id, error }),
        };
        // Serialising strings, a JSON value and options cannot fail.
        line.unwrap_or_else(|err| format!("{{\"id\":null,\"error\":\"{err}\"}}"))
    }
}

#[derive(Serialize)]
struct DecidedLine<'a> {
    id: &'a Value,
    price: String,
    rule: Option<&'a str>,
    bound: Option<&'static str>,
    flag: Option<&'static str>,
    explanation: String,
}

#[derive(Serialize)]
struct RefusedLine<'a> {
    id: &'a Value,
    error: &'a str,
}

/// Reads cases from `input` one line at a time and writes one answer line per case to
/// `output`. Only a failure to read or write stops it.
pub fn run(mut input: impl BufRead, mut output: impl Write) -> io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let answer = match std::str::from_utf8(&line) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => check_case(text),
            Err(_) => CaseAnswer::Refused {
                id: Value::Null,
                error: "the line is not UTF-8 text".to_owned(),
            },
        };
        writeln!(output, "{}", answer.to_json_line())?;
    }
    output.flush()
}

/// Reads and decides one case.
pub fn check_case(line: &str) -> CaseAnswer {
    let document: Value = match serde_json::from_str(line) {
        Ok(document) => document,
        Err(err) => {
            return CaseAnswer::Refused {
                id: Value::Null,
                error: format!("not a JSON case: {err}"),
            }
        }
    };
    let id = document.get("id").cloned().unwrap_or(Value::Null);
    match read_case(document) {
        Ok(case) => CaseAnswer::Decided {
            id,
            decision: Box::new(case.decide()),
        },
        Err(error) => CaseAnswer::Refused { id, error },
    }
}

/// A case read and checked, ready to decide.
struct Case {
    book: RuleBook,
    listing: ListingFacts,
    offers: Vec<Offer>,
    fees: ChannelFees,
    default_margin_floor_pct: Decimal,
}

impl Case {
    fn decide(&self) -> Decision {
        decide(
            &self.book,
            &self.listing,
            &self.offers,
            &self.fees,
            self.default_margin_floor_pct,
        )
    }
}

fn read_case(document: Value) -> Result<Case, String> {
    if !document.is_object() {
        return Err("a case must be a JSON object".to_owned());
    }
    let input: CaseInput =
        serde_path_to_error::deserialize(document).map_err(|err| match err.path().to_string() {
            path if path == "." => err.into_inner().to_string(),
            path => format!("{path}: {}", err.into_inner()),
        })?;
    let id_text = match &input.id {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Null => return Err("id: is required".to_owned()),
        other => return Err(format!("id: must be a string or a number, got {other}")),
    };

    let now = DateTime::parse_from_rfc3339(&input.now)
        .map_err(|err| {
            format!(
                "now: {:?} is not an RFC 3339 time such as 2026-03-02T14:00:00Z: {err}",
                input.now
            )
        })?
        .to_utc();
    let time_zone = parse_time_zone(&input.time_zone).map_err(|err| format!("time_zone: {err}"))?;

    let listing = input.listing;
    for (field, price) in [
        ("current_price", Some(listing.current_price)),
        ("regular_price", Some(listing.regular_price)),
        ("min_price", listing.min_price),
        ("max_price", listing.max_price),
    ] {
        if let Some(Amount(price)) = price {
            check_price(&format!("listing.{field}"), price)?;
        }
    }
    if let Some(Amount(cost)) = listing.landed_cost {
        if cost < Decimal::ZERO {
            return Err(format!(
                "listing.landed_cost: must not be negative, got {cost}"
            ));
        }
    }
    if let Some(Amount(pct)) = listing.margin_floor_pct {
        check_margin_pct("listing.margin_floor_pct", pct)?;
    }
    let default_margin_floor_pct = input
        .default_margin_floor_pct
        .map_or(Decimal::ZERO, |a| a.0);
    check_margin_pct("default_margin_floor_pct", default_margin_floor_pct)?;

    let fees = ChannelFees::new(input.fees.referral_pct.0, input.fees.fixed.0).map_err(|err| {
        let field = match err {
            InvalidFees::ReferralPct(_) => "referral_pct",
            InvalidFees::Fixed(_) => "fixed",
        };
        // The error names the field first; keep one mention of it.
        let message = err.to_string();
        let message = message
            .strip_prefix(field)
            .map_or(message.clone(), |rest| rest.trim_start().to_owned());
        format!("fees.{field}: {message}")
    })?;

    let mut rules = Vec::with_capacity(input.rules.len());
    for (index, rule) in input.rules.iter().enumerate() {
        let config = rule.config.clone().unwrap_or(Value::Null);
        let definition = RuleDefinition {
            id: &rule.id.0,
            priority: rule.priority.unwrap_or(100),
            is_active: rule.is_active.unwrap_or(true),
            applies_to: rule.applies_to.as_deref().unwrap_or("all"),
            scope_value: rule.scope_value.as_ref().map(|value| value.0.as_str()),
            rule_type: &rule.rule_type,
            config: &config,
        };
        let parsed = PriceRule::parse(&definition)
            .map_err(|err| format!("rules[{index}] (id {:?}): {err}", rule.id.0))?;
        rules.push(parsed);
    }

    let mut offers = Vec::with_capacity(input.offers.len());
    for (index, offer) in input.offers.into_iter().enumerate() {
        check_price(&format!("offers[{index}].price"), offer.price.0)?;
        offers.push(Offer {
            seller: offer.seller.unwrap_or_default(),
            price: offer.price.0,
            is_buy_box: offer.is_buy_box.unwrap_or(false),
            own: offer.own.unwrap_or(false),
        });
    }

    let listing = ListingFacts {
        id: listing.id.map_or(id_text, |id| id.0),
        current_price: listing.current_price.0,
        regular_price: listing.regular_price.0,
        landed_cost: listing.landed_cost.map(|a| a.0),
        min_price: listing.min_price.map(|a| a.0),
        max_price: listing.max_price.map(|a| a.0),
        margin_floor_pct: listing.margin_floor_pct.map(|a| a.0),
        stock: listing.stock.0,
        category: listing.category,
        tags: listing.tags.unwrap_or_default(),
    };
    Ok(Case {
        book: RuleBook::new(rules, now, time_zone),
        listing,
        offers,
        fees,
        default_margin_floor_pct,
    })
}

/// A price: not negative, and in cents.
fn check_price(path: &str, price: Decimal) -> Result<(), String> {
    if price < Decimal::ZERO {
        return Err(format!("{path}: must not be negative, got {price}"));
    }
    if price.normalize().scale() > 2 {
        return Err(format!(
            "{path}: {price} has more than two decimals (prices are in cents)"
        ));
    }
    Ok(())
}

/// A margin percentage: from 0 up to, not including, 100.
fn check_margin_pct(path: &str, pct: Decimal) -> Result<(), String> {
    if pct < Decimal::ZERO || pct >= Decimal::ONE_HUNDRED {
        return Err(format!(
            "{path}: must be at least 0 and below 100 (a percentage of the price), got {pct}"
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
struct CaseInput {
    #[serde(default)]
    id: Value,
    now: String,
    time_zone: String,
    listing: ListingInput,
    fees: FeesInput,
    #[serde(default)]
    default_margin_floor_pct: Option<Amount>,
    #[serde(default, deserialize_with = "list_or_null")]
    rules: Vec<RuleInput>,
    #[serde(default, deserialize_with = "list_or_null")]
    offers: Vec<OfferInput>,
}

#[derive(Deserialize)]
struct ListingInput {
    #[serde(default)]
    id: Option<IdText>,
    current_price: Amount,
    regular_price: Amount,
    #[serde(default)]
    landed_cost: Option<Amount>,
    #[serde(default)]
    min_price: Option<Amount>,
    #[serde(default)]
    max_price: Option<Amount>,
    #[serde(default)]
    margin_floor_pct: Option<Amount>,
    stock: Count,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct FeesInput {
    referral_pct: Amount,
    fixed: Amount,
}

#[derive(Deserialize)]
struct RuleInput {
    id: IdText,
    rule_type: String,
    #[serde(default)]
    priority: Option<i32>,
    #[serde(default)]
    applies_to: Option<String>,
    #[serde(default)]
    scope_value: Option<IdText>,
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    is_active: Option<bool>,
}

#[derive(Deserialize)]
struct OfferInput {
    #[serde(default)]
    seller: Option<String>,
    price: Amount,
    #[serde(default)]
    is_buy_box: Option<bool>,
    #[serde(default)]
    own: Option<bool>,
}

/// A decimal written as a string or a JSON number.
#[derive(Clone, Copy)]
struct Amount(Decimal);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        decimal_from_json(&value)
            .map(Amount)
            .map_err(serde::de::Error::custom)
    }
}

/// A whole number written as a JSON number or a string (`12`, `"12"`).
struct Count(i64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let number = decimal_from_json(&value).map_err(serde::de::Error::custom)?;
        number
            .fract()
            .is_zero()
            .then(|| i64::try_from(number).ok())
            .flatten()
            .map(Count)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("must be a whole number, got {number}"))
            })
    }
}

/// An id written as a string or a JSON number, kept as text.
struct IdText(String);

impl<'de> Deserialize<'de> for IdText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(IdText(text)),
            Value::Number(number) => Ok(IdText(number.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "must be a string or a number, got {other}"
            ))),
        }
    }
}

/// A list, `null` counting as empty.
fn list_or_null<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answers(input: &str) -> Vec<Value> {
        let mut output = Vec::new();
        run(input.as_bytes(), &mut output).unwrap();
        String::from_utf8(output)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn case(id: Value) -> Value {
        json!({
            "id": id, "now": "2026-03-02T14:30:00Z", "time_zone": "America/Toronto",
            "listing": {"current_price": "24.99", "regular_price": "24.99",
                        "landed_cost": "10.00", "stock": 5},
            "fees": {"referral_pct": "15", "fixed": "1.00"},
            "rules": [{"id": 7, "rule_type": "competitor_match", "config": {}}],
            "offers": [{"price": "22.50"}]
        })
    }

    #[test]
    fn each_case_gets_one_line_and_an_unreadable_one_does_not_stop_the_rest() {
        let input = format!(
            "{}\n\n{{\"id\": \"broken\", \n{}\n",
            case(json!("a")),
            case(json!(2))
        );
        let answers = answers(&input);
        assert_eq!(answers.len(), 3, "{answers:?}");
        assert_eq!(answers[0]["id"], json!("a"));
        assert_eq!(answers[0]["price"], json!("22.50"));
        // Defaults: priority 100, applies to all; ids given as numbers come back as text.
        assert_eq!(answers[0]["rule"], json!("7"));
        assert_eq!(answers[1]["id"], Value::Null);
        assert!(answers[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("not a JSON case: "));
        assert_eq!(answers[2]["id"], json!(2));
        assert_eq!(answers[2]["price"], json!("22.50"));
    }

    #[test]
    fn an_unreadable_field_is_named_by_its_path() {
        let mut bad = case(json!("c"));
        bad["offers"][0]["price"] = json!("twenty");
        let answer = check_case(&bad.to_string());
        let CaseAnswer::Refused { id, error } = answer else {
            panic!("decided");
        };
        assert_eq!(id, json!("c"));
        assert_eq!(
            error,
            "offers[0].price: must be a plain decimal such as 19.99, got \"twenty\""
        );

        let mut bad = case(json!("c"));
        bad["listing"]["stock"] = json!(2.5);
        assert_eq!(
            check_case(&bad.to_string()).to_json_line(),
            r#"{"id":"c","error":"listing.stock: must be a whole number, got 2.5"}"#
        );

        let mut bad = case(json!("c"));
        bad["rules"][0]["config"] = json!({"against": "cheapest"});
        assert_eq!(
            check_case(&bad.to_string()).to_json_line(),
            r#"{"id":"c","error":"rules[0] (id \"7\"): competitor_match rule: config field against: must be \"lowest\" or \"buy_box\", got \"cheapest\""}"#
        );

        let mut bad = case(json!("c"));
        bad["fees"]["fixed"] = json!("-1");
        assert_eq!(
            check_case(&bad.to_string()).to_json_line(),
            r#"{"id":"c","error":"fees.fixed: must not be negative, got -1"}"#
        );

        let mut bad = case(json!("c"));
        bad.as_object_mut().unwrap().remove("listing");
        assert_eq!(
            check_case(&bad.to_string()).to_json_line(),
            r#"{"id":"c","error":"missing field `listing`"}"#
        );
    }

    #[test]
    fn a_case_without_an_id_is_refused() {
        let mut anonymous = case(json!("x"));
        anonymous.as_object_mut().unwrap().remove("id");
        assert_eq!(
            check_case(&anonymous.to_string()).to_json_line(),
            r#"{"id":null,"error":"id: is required"}"#
        );
    }

    #[test]
    fn a_decided_case_answers_in_the_contracts_fields() {
        let line = check_case(&case(json!("a")).to_string()).to_json_line();
        let answer: Value = serde_json::from_str(&line).unwrap();
        let fields: Vec<&str> = answer
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields.len(),
            6,
            "id, price, rule, bound, flag, explanation: {line}"
        );
        assert_eq!(answer["bound"], Value::Null);
        assert_eq!(answer["flag"], Value::Null);
        assert!(answer["explanation"]
            .as_str()
            .unwrap()
            .starts_with("price 24.99 -> 22.50\n"));
    }
}
