//! Price rules as the seller writes them (`pricing.price_rules`: a type, a priority, a
//! scope and a JSON config), read into typed configs.
//!
//! A config is read when the rule is written, and a bad one is refused there with an
//! error naming the rule type and the field, so that evaluation never meets a rule it
//! cannot apply. A config holds only its type's settings: a misspelt setting
//! (`beat_by_pc`) is refused, not ignored. Numbers may be written as JSON numbers or as
//! decimal strings (`2`, `"2.5"`).
//!
//! # Settings by rule type
//!
//! | type | settings |
//! |---|---|
//! | `margin_floor` | `min_margin_pct` (required; 0 up to, not including, 100) |
//! | `competitor_match` | `against`: `"lowest"` (default) or `"buy_box"` |
//! | `competitor_beat` | `against` as above; exactly one of `beat_by_pct` (above 0, below 100) or `beat_by_amount` (above 0) |
//! | `time_based` | `schedule` (required, cron, see [`super::schedule`]); `duration_minutes` (default 60); `price_change_pct` (required, above −100) |
//! | `inventory_based` | `when_below` and/or `when_above` (whole units, at least one); `price_change_pct` (required, above −100) |

use std::fmt;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::decimal_from_json;
use super::schedule::{InvalidWindow, PriceWindow, DEFAULT_DURATION_MINUTES};

/// The kinds of price rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleType {
    /// Raises the margin the price must keep.
    MarginFloor,
    /// Prices at a competitor's offer.
    CompetitorMatch,
    /// Prices under a competitor's offer.
    CompetitorBeat,
    /// Changes the regular price during a scheduled window.
    TimeBased,
    /// Changes the regular price when stock is low or high.
    InventoryBased,
}

impl RuleType {
    /// Every type, in the order the seller's documents list them.
    pub const ALL: [RuleType; 5] = [
        RuleType::MarginFloor,
        RuleType::CompetitorMatch,
        RuleType::CompetitorBeat,
        RuleType::TimeBased,
        RuleType::InventoryBased,
    ];

    /// The name stored in `pricing.price_rules.rule_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::MarginFloor => "margin_floor",
            RuleType::CompetitorMatch => "competitor_match",
            RuleType::CompetitorBeat => "competitor_beat",
            RuleType::TimeBased => "time_based",
            RuleType::InventoryBased => "inventory_based",
        }
    }

    /// The type stored as `name`.
    pub fn parse(name: &str) -> Result<Self, RuleConfigError> {
        Self::ALL
            .into_iter()
            .find(|rule_type| rule_type.as_str() == name)
            .ok_or_else(|| RuleConfigError::UnknownRuleType(name.to_owned()))
    }

    /// Whether a rule of this type proposes a price (all but `margin_floor`, which
    /// bounds one).
    pub fn sets_price(self) -> bool {
        self != RuleType::MarginFloor
    }

    /// The config settings a rule of this type takes.
    fn settings(self) -> &'static [&'static str] {
        match self {
            RuleType::MarginFloor => &["min_margin_pct"],
            RuleType::CompetitorMatch => &["against"],
            RuleType::CompetitorBeat => &["against", "beat_by_pct", "beat_by_amount"],
            RuleType::TimeBased => &["schedule", "duration_minutes", "price_change_pct"],
            RuleType::InventoryBased => &["when_below", "when_above", "price_change_pct"],
        }
    }
}

impl fmt::Display for RuleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which competing offer a competitor rule reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Against {
    /// The lowest competing offer.
    LowestOffer,
    /// The competing offer that holds the buy box.
    BuyBox,
}

impl fmt::Display for Against {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Against::LowestOffer => "the lowest competing offer",
            Against::BuyBox => "the competing buy-box offer",
        })
    }
}

/// How far under the competing offer a `competitor_beat` rule prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// This many percent under it.
    Pct(Decimal),
    /// This amount under it.
    Amount(Decimal),
}

/// The stock levels outside which an `inventory_based` rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockThresholds {
    /// Applies when stock is strictly below this.
    pub below: Option<i64>,
    /// Applies when stock is strictly above this.
    pub above: Option<i64>,
}

impl StockThresholds {
    /// Whether `stock` is outside the thresholds.
    pub fn crossed_by(&self, stock: i64) -> bool {
        self.below.is_some_and(|below| stock < below)
            || self.above.is_some_and(|above| stock > above)
    }
}

/// A rule's config, read and checked for its type.
#[derive(Debug, Clone)]
pub enum RuleConfig {
    /// The price must keep at least `min_margin_pct` percent of net margin.
    MarginFloor {
        /// The margin, as a percentage of the price.
        min_margin_pct: Decimal,
    },
    /// Price at the competing offer.
    CompetitorMatch {
        /// Which offer.
        against: Against,
    },
    /// Price under the competing offer, rounded down to the cent.
    CompetitorBeat {
        /// Which offer.
        against: Against,
        /// By how much.
        beat: Beat,
    },
    /// While the window is open, the regular price changed by `price_change_pct`.
    TimeBased {
        /// When the rule applies.
        window: PriceWindow,
        /// `-5` for five percent off.
        price_change_pct: Decimal,
    },
    /// While stock is outside the thresholds, the regular price changed by
    /// `price_change_pct`.
    InventoryBased {
        /// When the rule applies.
        thresholds: StockThresholds,
        /// `15` for fifteen percent more.
        price_change_pct: Decimal,
    },
}

/// A rule config that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleConfigError {
    /// The rule type is not one sellerops knows.
    #[error(
        "unknown rule type {0:?}: expected margin_floor, competitor_match, competitor_beat, \
         time_based or inventory_based"
    )]
    UnknownRuleType(String),
    /// The config is not a JSON object.
    #[error("{rule_type} rule: config must be a JSON object, got {found}")]
    NotAnObject {
        /// The rule's type.
        rule_type: RuleType,
        /// What was given instead (`an array`, `a string`…).
        found: &'static str,
    },
    /// One field of the config is missing, unknown or wrong.
    #[error("{rule_type} rule: config field {field}: {problem}")]
    Field {
        /// The rule's type.
        rule_type: RuleType,
        /// The config field.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl RuleConfig {
    /// Reads the config of a rule of type `rule_type` (as stored: `"competitor_beat"`).
    pub fn parse(rule_type: &str, config: &Value) -> Result<Self, RuleConfigError> {
        let rule_type = RuleType::parse(rule_type)?;
        let Value::Object(fields) = config else {
            return Err(RuleConfigError::NotAnObject {
                rule_type,
                found: json_kind(config),
            });
        };
        let config = ConfigFields { rule_type, fields };
        config.refuse_unknown()?;
        match rule_type {
            RuleType::MarginFloor => {
                let min_margin_pct = config.required_decimal("min_margin_pct")?;
                config.check(
                    "min_margin_pct",
                    min_margin_pct,
                    min_margin_pct >= Decimal::ZERO && min_margin_pct < Decimal::ONE_HUNDRED,
                    "must be at least 0 and below 100 (a percentage of the price)",
                )?;
                Ok(RuleConfig::MarginFloor { min_margin_pct })
            }
            RuleType::CompetitorMatch => Ok(RuleConfig::CompetitorMatch {
                against: config.against()?,
            }),
            RuleType::CompetitorBeat => {
                let against = config.against()?;
                let beat = match (
                    config.decimal("beat_by_pct")?,
                    config.decimal("beat_by_amount")?,
                ) {
                    (Some(pct), None) => {
                        config.check(
                            "beat_by_pct",
                            pct,
                            pct > Decimal::ZERO && pct < Decimal::ONE_HUNDRED,
                            "must be above 0 and below 100 (a percentage of the offer)",
                        )?;
                        Beat::Pct(pct)
                    }
                    (None, Some(amount)) => {
                        config.check(
                            "beat_by_amount",
                            amount,
                            amount > Decimal::ZERO,
                            "must be above 0",
                        )?;
                        Beat::Amount(amount)
                    }
                    (Some(_), Some(_)) => {
                        return Err(config.problem(
                            "beat_by_pct",
                            "give beat_by_pct or beat_by_amount, not both",
                        ))
                    }
                    (None, None) => return Err(config.problem(
                        "beat_by_pct",
                        "is required (or beat_by_amount instead): by how much to beat the offer",
                    )),
                };
                Ok(RuleConfig::CompetitorBeat { against, beat })
            }
            RuleType::TimeBased => {
                let schedule = config.required_text("schedule")?;
                let duration_minutes = config
                    .integer("duration_minutes")?
                    .unwrap_or(DEFAULT_DURATION_MINUTES);
                let window = PriceWindow::new(schedule, duration_minutes).map_err(|err| {
                    let field = match err {
                        InvalidWindow::Duration(_) => "duration_minutes",
                        InvalidWindow::Schedule { .. } | InvalidWindow::NeverFires(_) => "schedule",
                    };
                    config.problem(field, err.to_string())
                })?;
                let price_change_pct = config.price_change_pct()?;
                Ok(RuleConfig::TimeBased {
                    window,
                    price_change_pct,
                })
            }
            RuleType::InventoryBased => {
                let below = config.integer("when_below")?;
                let above = config.integer("when_above")?;
                for (field, threshold) in [("when_below", below), ("when_above", above)] {
                    if let Some(threshold) = threshold {
                        config.check(
                            field,
                            threshold,
                            threshold >= 0,
                            "must not be negative (units in stock)",
                        )?;
                    }
                }
                match (below, above) {
                    (None, None) => {
                        return Err(config.problem(
                            "when_below",
                            "is required (or when_above, or both): the stock level that triggers the rule",
                        ))
                    }
                    (Some(below), Some(above)) if below > above => {
                        return Err(config.problem(
                            "when_below",
                            format!(
                                "{below} is above when_above ({above}): every stock level would trigger the rule"
                            ),
                        ))
                    }
                    _ => {}
                }
                let price_change_pct = config.price_change_pct()?;
                Ok(RuleConfig::InventoryBased {
                    thresholds: StockThresholds { below, above },
                    price_change_pct,
                })
            }
        }
    }

    /// The rule's type.
    pub fn rule_type(&self) -> RuleType {
        match self {
            RuleConfig::MarginFloor { .. } => RuleType::MarginFloor,
            RuleConfig::CompetitorMatch { .. } => RuleType::CompetitorMatch,
            RuleConfig::CompetitorBeat { .. } => RuleType::CompetitorBeat,
            RuleConfig::TimeBased { .. } => RuleType::TimeBased,
            RuleConfig::InventoryBased { .. } => RuleType::InventoryBased,
        }
    }
}

/// A config's fields, read for one rule type.
struct ConfigFields<'a> {
    rule_type: RuleType,
    fields: &'a Map<String, Value>,
}

impl ConfigFields<'_> {
    fn problem(&self, field: &str, problem: impl Into<String>) -> RuleConfigError {
        RuleConfigError::Field {
            rule_type: self.rule_type,
            field: field.to_owned(),
            problem: problem.into(),
        }
    }

    fn refuse_unknown(&self) -> Result<(), RuleConfigError> {
        let settings = self.rule_type.settings();
        match self
            .fields
            .keys()
            .find(|key| !settings.contains(&key.as_str()))
        {
            Some(unknown) => Err(self.problem(
                unknown,
                format!(
                    "is not a setting of a {} rule (it takes {})",
                    self.rule_type,
                    settings.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    /// The field's value; a JSON `null` counts as absent.
    fn value(&self, field: &str) -> Option<&Value> {
        self.fields.get(field).filter(|value| !value.is_null())
    }

    fn decimal(&self, field: &str) -> Result<Option<Decimal>, RuleConfigError> {
        self.value(field)
            .map(|value| decimal_from_json(value).map_err(|problem| self.problem(field, problem)))
            .transpose()
    }

    fn required_decimal(&self, field: &str) -> Result<Decimal, RuleConfigError> {
        self.decimal(field)?
            .ok_or_else(|| self.problem(field, "is required"))
    }

    fn integer(&self, field: &str) -> Result<Option<i64>, RuleConfigError> {
        let Some(number) = self.decimal(field)? else {
            return Ok(None);
        };
        let whole = (number.fract().is_zero())
            .then(|| i64::try_from(number).ok())
            .flatten();
        whole
            .map(Some)
            .ok_or_else(|| self.problem(field, format!("must be a whole number, got {number}")))
    }

    fn required_text(&self, field: &str) -> Result<&str, RuleConfigError> {
        match self.value(field) {
            Some(Value::String(text)) => Ok(text),
            Some(other) => {
                Err(self.problem(field, format!("must be a string, got {}", json_kind(other))))
            }
            None => Err(self.problem(field, "is required")),
        }
    }

    fn against(&self) -> Result<Against, RuleConfigError> {
        match self.value("against") {
            None => Ok(Against::LowestOffer),
            Some(Value::String(text)) if text == "lowest" || text == "lowest_offer" => {
                Ok(Against::LowestOffer)
            }
            Some(Value::String(text)) if text == "buy_box" => Ok(Against::BuyBox),
            Some(other) => Err(self.problem(
                "against",
                format!("must be \"lowest\" or \"buy_box\", got {other}"),
            )),
        }
    }

    fn price_change_pct(&self) -> Result<Decimal, RuleConfigError> {
        let pct = self.required_decimal("price_change_pct")?;
        self.check(
            "price_change_pct",
            pct,
            pct > -Decimal::ONE_HUNDRED,
            "must be above -100 (a percentage of the regular price; -5 is five percent off)",
        )?;
        Ok(pct)
    }

    fn check(
        &self,
        field: &str,
        value: impl fmt::Display,
        ok: bool,
        rule: &str,
    ) -> Result<(), RuleConfigError> {
        if ok {
            Ok(())
        } else {
            Err(self.problem(field, format!("{rule}, got {value}")))
        }
    }
}

/// "an array", "a string"…: what a JSON value is, for an error message.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Which listings a rule is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleScope {
    /// Every listing.
    All,
    /// The listings of this category.
    Category(String),
    /// The listings carrying this tag.
    Tag(String),
    /// The one listing with this id.
    Listing(String),
}

/// A scope that does not name what it is for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidScope {
    /// `applies_to` is not one of the four scopes.
    #[error("applies_to must be all, category, tag or listing, got {0:?}")]
    AppliesTo(String),
    /// A category, tag or listing scope without the value it is for.
    #[error("scope_value is required when applies_to is {0}: the {0} the rule is for")]
    MissingValue(&'static str),
    /// A value given for a rule that applies to all listings.
    #[error("scope_value must be empty when applies_to is all, got {0:?}")]
    ValueForAll(String),
}

impl RuleScope {
    /// The scope stored as `applies_to` and `scope_value`.
    pub fn parse(applies_to: &str, scope_value: Option<&str>) -> Result<Self, InvalidScope> {
        let value = scope_value.filter(|value| !value.is_empty());
        let named = |scope: &'static str| {
            value
                .map(str::to_owned)
                .ok_or(InvalidScope::MissingValue(scope))
        };
        match applies_to {
            "all" => match value {
                None => Ok(RuleScope::All),
                Some(value) => Err(InvalidScope::ValueForAll(value.to_owned())),
            },
            "category" => named("category").map(RuleScope::Category),
            "tag" => named("tag").map(RuleScope::Tag),
            "listing" => named("listing").map(RuleScope::Listing),
            other => Err(InvalidScope::AppliesTo(other.to_owned())),
        }
    }

    /// Whether the listing `listing_id`, of `category` and carrying `tags`, is in scope.
    /// Names compare exactly, as the seller wrote them.
    pub fn covers(&self, listing_id: &str, category: Option<&str>, tags: &[String]) -> bool {
        match self {
            RuleScope::All => true,
            RuleScope::Category(wanted) => category == Some(wanted.as_str()),
            RuleScope::Tag(wanted) => tags.iter().any(|tag| tag == wanted),
            RuleScope::Listing(wanted) => listing_id == wanted,
        }
    }
}

impl fmt::Display for RuleScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleScope::All => f.write_str("all listings"),
            RuleScope::Category(category) => write!(f, "category {category:?}"),
            RuleScope::Tag(tag) => write!(f, "tag {tag:?}"),
            RuleScope::Listing(listing) => write!(f, "listing {listing}"),
        }
    }
}

/// A rule as stored, before it is read: what a loader or a write path has in hand.
#[derive(Debug, Clone, Copy)]
pub struct RuleDefinition<'a> {
    /// The rule's id (`pricing.price_rules.id`).
    pub id: &'a str,
    /// Higher wins.
    pub priority: i32,
    /// An inactive rule is kept but never applied.
    pub is_active: bool,
    /// `all`, `category`, `tag` or `listing`.
    pub applies_to: &'a str,
    /// The category, tag or listing id; `None` for `all`.
    pub scope_value: Option<&'a str>,
    /// `margin_floor`, `competitor_match`…
    pub rule_type: &'a str,
    /// The type's settings.
    pub config: &'a Value,
}

/// A rule that cannot be written: its scope or its config is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRule {
    /// The scope is wrong.
    #[error(transparent)]
    Scope(#[from] InvalidScope),
    /// The config is wrong.
    #[error(transparent)]
    Config(#[from] RuleConfigError),
}

/// A price rule, read and checked.
#[derive(Debug, Clone)]
pub struct PriceRule {
    /// The rule's id, as the decision names it.
    pub id: String,
    /// Higher wins.
    pub priority: i32,
    /// An inactive rule is listed in explanations but never applied.
    pub is_active: bool,
    /// Which listings it is for.
    pub scope: RuleScope,
    /// What it does.
    pub config: RuleConfig,
}

impl PriceRule {
    /// Reads and checks a rule as stored. The write path calls this before storing a
    /// rule, so that a rule that cannot be applied is refused when it is written.
    pub fn parse(definition: &RuleDefinition<'_>) -> Result<Self, InvalidRule> {
        let config = RuleConfig::parse(definition.rule_type, definition.config)?;
        let scope = RuleScope::parse(definition.applies_to, definition.scope_value)?;
        Ok(Self {
            id: definition.id.to_owned(),
            priority: definition.priority,
            is_active: definition.is_active,
            scope,
            config,
        })
    }

    /// The rule's type.
    pub fn rule_type(&self) -> RuleType {
        self.config.rule_type()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn refusal(rule_type: &str, config: Value) -> String {
        RuleConfig::parse(rule_type, &config)
            .expect_err("config accepted")
            .to_string()
    }

    #[test]
    fn the_seed_examples_are_read() {
        let floor = RuleConfig::parse("margin_floor", &json!({"min_margin_pct": 20})).unwrap();
        assert!(
            matches!(floor, RuleConfig::MarginFloor { min_margin_pct } if min_margin_pct == dec("20"))
        );

        let time = RuleConfig::parse(
            "time_based",
            &json!({"schedule": "0 9 * * 1-5", "price_change_pct": -5}),
        )
        .unwrap();
        let RuleConfig::TimeBased {
            window,
            price_change_pct,
        } = time
        else {
            panic!("not time based");
        };
        assert_eq!(window.schedule(), "0 9 * * 1-5");
        assert_eq!(window.duration_minutes(), 60);
        assert_eq!(price_change_pct, dec("-5"));

        let stock = RuleConfig::parse(
            "inventory_based",
            &json!({"when_below": 10, "price_change_pct": 15}),
        )
        .unwrap();
        assert!(matches!(
            stock,
            RuleConfig::InventoryBased {
                thresholds: StockThresholds { below: Some(10), above: None },
                price_change_pct,
            } if price_change_pct == dec("15")
        ));
    }

    #[test]
    fn competitor_rules_default_to_the_lowest_offer() {
        let matched = RuleConfig::parse("competitor_match", &json!({})).unwrap();
        assert!(matches!(
            matched,
            RuleConfig::CompetitorMatch {
                against: Against::LowestOffer
            }
        ));
        let beat = RuleConfig::parse(
            "competitor_beat",
            &json!({"against": "buy_box", "beat_by_amount": "0.05"}),
        )
        .unwrap();
        assert!(matches!(
            beat,
            RuleConfig::CompetitorBeat { against: Against::BuyBox, beat: Beat::Amount(amount) }
                if amount == dec("0.05")
        ));
        let beat = RuleConfig::parse("competitor_beat", &json!({"beat_by_pct": 2.5})).unwrap();
        assert!(matches!(
            beat,
            RuleConfig::CompetitorBeat { against: Against::LowestOffer, beat: Beat::Pct(pct) }
                if pct == dec("2.5")
        ));
    }

    #[test]
    fn numbers_are_read_exactly_from_numbers_and_strings() {
        for (written, expected) in [
            (json!(0.1), "0.1"),
            (json!("0.10"), "0.10"),
            (json!(19.99), "19.99"),
            (json!(3), "3"),
        ] {
            let config =
                RuleConfig::parse("margin_floor", &json!({"min_margin_pct": written})).unwrap();
            let RuleConfig::MarginFloor { min_margin_pct } = config else {
                panic!("not a margin floor");
            };
            assert_eq!(min_margin_pct, dec(expected));
        }
    }

    #[test]
    fn an_unknown_rule_type_is_refused() {
        assert_eq!(
            refusal("competitor_undercut", json!({})),
            "unknown rule type \"competitor_undercut\": expected margin_floor, competitor_match, \
             competitor_beat, time_based or inventory_based"
        );
    }

    #[test]
    fn a_config_that_is_not_an_object_is_refused() {
        assert_eq!(
            refusal("margin_floor", json!([20])),
            "margin_floor rule: config must be a JSON object, got an array"
        );
    }

    #[test]
    fn a_misspelt_setting_is_refused_naming_it() {
        assert_eq!(
            refusal("competitor_beat", json!({"beat_by_pc": 2})),
            "competitor_beat rule: config field beat_by_pc: is not a setting of a competitor_beat \
             rule (it takes against, beat_by_pct, beat_by_amount)"
        );
        // The seed's older shape: a match that beats is a competitor_beat rule.
        assert!(refusal(
            "competitor_match",
            json!({"competitor_asin": "B08XXX", "match_type": "beat", "beat_by_pct": 2})
        )
        .starts_with("competitor_match rule: config field "));
    }

    #[test]
    fn margin_floor_needs_a_percentage_below_100() {
        assert_eq!(
            refusal("margin_floor", json!({})),
            "margin_floor rule: config field min_margin_pct: is required"
        );
        assert_eq!(
            refusal("margin_floor", json!({"min_margin_pct": 100})),
            "margin_floor rule: config field min_margin_pct: must be at least 0 and below 100 \
             (a percentage of the price), got 100"
        );
        assert_eq!(
            refusal("margin_floor", json!({"min_margin_pct": "twenty"})),
            "margin_floor rule: config field min_margin_pct: must be a plain decimal such as \
             19.99, got \"twenty\""
        );
        assert_eq!(
            refusal("margin_floor", json!({"min_margin_pct": true})),
            "margin_floor rule: config field min_margin_pct: must be a number, got a boolean"
        );
    }

    #[test]
    fn a_beat_needs_exactly_one_positive_amount_or_percentage() {
        assert_eq!(
            refusal("competitor_beat", json!({})),
            "competitor_beat rule: config field beat_by_pct: is required (or beat_by_amount \
             instead): by how much to beat the offer"
        );
        assert_eq!(
            refusal(
                "competitor_beat",
                json!({"beat_by_pct": 2, "beat_by_amount": 1})
            ),
            "competitor_beat rule: config field beat_by_pct: give beat_by_pct or beat_by_amount, \
             not both"
        );
        assert_eq!(
            refusal("competitor_beat", json!({"beat_by_pct": 150})),
            "competitor_beat rule: config field beat_by_pct: must be above 0 and below 100 \
             (a percentage of the offer), got 150"
        );
        assert_eq!(
            refusal("competitor_beat", json!({"beat_by_amount": -1})),
            "competitor_beat rule: config field beat_by_amount: must be above 0, got -1"
        );
        assert_eq!(
            refusal(
                "competitor_beat",
                json!({"beat_by_amount": 1, "against": "highest"})
            ),
            "competitor_beat rule: config field against: must be \"lowest\" or \"buy_box\", \
             got \"highest\""
        );
    }

    #[test]
    fn a_time_based_rule_needs_a_cron_schedule_and_a_change() {
        assert_eq!(
            refusal("time_based", json!({"price_change_pct": -5})),
            "time_based rule: config field schedule: is required"
        );
        let err = refusal(
            "time_based",
            json!({"schedule": "weekdays at 9", "price_change_pct": -5}),
        );
        assert!(
            err.starts_with(
                "time_based rule: config field schedule: \"weekdays at 9\" is not a five-field \
                 cron schedule (minute hour day-of-month month day-of-week, such as \"0 9 * * \
                 1-5\"): "
            ),
            "{err}"
        );
        assert_eq!(
            refusal(
                "time_based",
                json!({"schedule": "0 9 * * *", "duration_minutes": 0, "price_change_pct": -5})
            ),
            "time_based rule: config field duration_minutes: must be a whole number of minutes \
             from 1 to 527040, got 0"
        );
        assert_eq!(
            refusal(
                "time_based",
                json!({"schedule": "0 9 * * *", "duration_minutes": 30.5, "price_change_pct": -5})
            ),
            "time_based rule: config field duration_minutes: must be a whole number, got 30.5"
        );
        assert_eq!(
            refusal("time_based", json!({"schedule": "0 9 * * *"})),
            "time_based rule: config field price_change_pct: is required"
        );
        assert_eq!(
            refusal(
                "time_based",
                json!({"schedule": "0 9 * * *", "price_change_pct": -100})
            ),
            "time_based rule: config field price_change_pct: must be above -100 (a percentage \
             of the regular price; -5 is five percent off), got -100"
        );
        assert_eq!(
            refusal("time_based", json!({"schedule": 9, "price_change_pct": -5})),
            "time_based rule: config field schedule: must be a string, got a number"
        );
    }

    #[test]
    fn an_inventory_rule_needs_a_threshold() {
        assert_eq!(
            refusal("inventory_based", json!({"price_change_pct": 10})),
            "inventory_based rule: config field when_below: is required (or when_above, or \
             both): the stock level that triggers the rule"
        );
        assert_eq!(
            refusal(
                "inventory_based",
                json!({"when_below": -1, "price_change_pct": 10})
            ),
            "inventory_based rule: config field when_below: must not be negative (units in \
             stock), got -1"
        );
        assert_eq!(
            refusal(
                "inventory_based",
                json!({"when_below": 20, "when_above": 10, "price_change_pct": 10})
            ),
            "inventory_based rule: config field when_below: 20 is above when_above (10): every \
             stock level would trigger the rule"
        );
        assert_eq!(
            refusal(
                "inventory_based",
                json!({"when_above": 2.5, "price_change_pct": 10})
            ),
            "inventory_based rule: config field when_above: must be a whole number, got 2.5"
        );
    }

    #[test]
    fn stock_thresholds_are_strict() {
        let thresholds = StockThresholds {
            below: Some(10),
            above: Some(100),
        };
        assert!(thresholds.crossed_by(9));
        assert!(!thresholds.crossed_by(10));
        assert!(!thresholds.crossed_by(100));
        assert!(thresholds.crossed_by(101));
    }

    #[test]
    fn scopes_name_what_they_are_for() {
        assert_eq!(RuleScope::parse("all", None), Ok(RuleScope::All));
        assert_eq!(
            RuleScope::parse("tag", Some("clearance")),
            Ok(RuleScope::Tag("clearance".into()))
        );
        assert_eq!(
            RuleScope::parse("category", None),
            Err(InvalidScope::MissingValue("category"))
        );
        assert_eq!(
            RuleScope::parse("all", Some("Tools")),
            Err(InvalidScope::ValueForAll("Tools".into()))
        );
        assert_eq!(
            RuleScope::parse("brand", Some("Acme")),
            Err(InvalidScope::AppliesTo("brand".into()))
        );
        let tags = vec!["clearance".to_owned()];
        assert!(RuleScope::Tag("clearance".into()).covers("l1", None, &tags));
        assert!(!RuleScope::Tag("Clearance".into()).covers("l1", None, &tags));
        assert!(RuleScope::Category("Tools".into()).covers("l1", Some("Tools"), &[]));
        assert!(!RuleScope::Category("Tools".into()).covers("l1", None, &[]));
        assert!(RuleScope::Listing("l1".into()).covers("l1", None, &[]));
        assert!(!RuleScope::Listing("l2".into()).covers("l1", None, &[]));
    }

    #[test]
    fn a_rule_is_read_whole_or_refused() {
        let config = json!({"beat_by_pct": 5});
        let definition = RuleDefinition {
            id: "r1",
            priority: 200,
            is_active: true,
            applies_to: "tag",
            scope_value: Some("clearance"),
            rule_type: "competitor_beat",
            config: &config,
        };
        let rule = PriceRule::parse(&definition).unwrap();
        assert_eq!(rule.rule_type(), RuleType::CompetitorBeat);
        assert_eq!(rule.scope, RuleScope::Tag("clearance".into()));
        let err = PriceRule::parse(&RuleDefinition {
            scope_value: None,
            ..definition
        })
        .unwrap_err();
        assert_eq!(err, InvalidRule::Scope(InvalidScope::MissingValue("tag")));
    }
}
