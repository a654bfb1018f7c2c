//! Automation rules as the seller writes them (`workflow.automation_rules`), read into
//! typed triggers, conditions and actions. A rule is read when it is written, and a
//! bad one is refused there with an error naming the part and the field.
//!
//! # Triggers
//!
//! | `trigger_type` | `trigger_config` |
//! |---|---|
//! | `threshold` | `metric` (`net_margin_pct`, `gross_margin_pct`, `stock`, `price`), `operator` (`lt`, `lte`, `gt`, `gte`, `eq`), `value` (a number) |
//! | `competitive` | `event` (below), `threshold_pct` (optional, above 0) |
//!
//! Competitive events: `competitor_undercut` (the lowest competing offer is below the
//! listing's price by at least `threshold_pct` percent, or at all without it),
//! `competitor_price_drop` and `competitor_price_increase` (a competitor's price moved by
//! at least `threshold_pct` percent, or by enough to raise an alert without it),
//! `new_competitor`, `competitor_out_of_stock`, `competitor_back_in_stock`,
//! `buy_box_lost` and `buy_box_won` (the competitor alert of that kind was raised for the
//! listing).
//!
//! `time_based` and `event` rules are stored but not run by pricing; writing one is
//! refused here so the seller is not led to expect otherwise.
//!
//! # Conditions
//!
//! A list of `{field, operator, value}`, all of which must hold. Fields and operators:
//! `listing.category`, `listing.channel`, `listing.sku` with `eq`, `ne`, `in`, `not_in`
//! (a list of strings); `listing.tags` with `contains` (a string) or `in` (any of a list);
//! `listing.stock`, `listing.price`, `listing.net_margin_pct`, `listing.gross_margin_pct`
//! with `lt`, `lte`, `gt`, `gte`, `eq` (a number). A margin the listing does not have
//! fails its condition.
//!
//! # Actions
//!
//! | `action_type` | `action_config` |
//! |---|---|
//! | `create_task` | `title_template` (required), `description_template`, `task_type` (`pricing` by default; `optimization`, `pricing`, `competitive`, `compliance`, `launch`, `other`), `priority_score` (0 to 999.99) |
//! | `send_alert` | `severity` (`low`, `medium`, `high`, `critical`), `message` (required) |
//!
//! Templates may use `{sku}`, `{asin}`, `{listing_id}`, `{rule}` and `{reason}`; any
//! other placeholder is refused.

use std::fmt;

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::flows::pricing::competitors::Severity;
use crate::flows::pricing::decimal_from_json;
use crate::flows::pricing::rules::json_kind;

/// A rule that cannot be accepted: which part of it and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("automation rule {part}{}: {problem}", field.as_ref().map(|f| format!(" field {f}")).unwrap_or_default())]
pub struct InvalidAutomationRule {
    /// `trigger_type`, `trigger_config`, `conditions[1]`, `action_config`…
    pub part: String,
    /// The field within that part, when there is one.
    pub field: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl InvalidAutomationRule {
    fn new(part: impl Into<String>, field: Option<&str>, problem: impl Into<String>) -> Self {
        Self {
            part: part.into(),
            field: field.map(str::to_owned),
            problem: problem.into(),
        }
    }
}

/// How a number is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Strictly below.
    Lt,
    /// Below or equal.
    Lte,
    /// Strictly above.
    Gt,
    /// Above or equal.
    Gte,
    /// Equal.
    Eq,
}

impl Comparison {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "lt" => Comparison::Lt,
            "lte" => Comparison::Lte,
            "gt" => Comparison::Gt,
            "gte" => Comparison::Gte,
            "eq" => Comparison::Eq,
            _ => return None,
        })
    }

    /// Whether `actual` compares so to `expected`.
    pub fn holds(self, actual: Decimal, expected: Decimal) -> bool {
        match self {
            Comparison::Lt => actual < expected,
            Comparison::Lte => actual <= expected,
            Comparison::Gt => actual > expected,
            Comparison::Gte => actual >= expected,
            Comparison::Eq => actual == expected,
        }
    }

    /// `<`, `≤`…, for a firing's reason.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Lt => "<",
            Comparison::Lte => "<=",
            Comparison::Gt => ">",
            Comparison::Gte => ">=",
            Comparison::Eq => "=",
        }
    }
}

/// A listing figure a threshold trigger or a condition watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Net margin at the decided price, percent.
    NetMarginPct,
    /// Gross margin at the decided price, percent.
    GrossMarginPct,
    /// Units in stock.
    Stock,
    /// The decided price.
    Price,
}

impl Metric {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "net_margin_pct" => Metric::NetMarginPct,
            "gross_margin_pct" => Metric::GrossMarginPct,
            "stock" => Metric::Stock,
            "price" => Metric::Price,
            _ => return None,
        })
    }

    /// The name rules use.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::NetMarginPct => "net_margin_pct",
            Metric::GrossMarginPct => "gross_margin_pct",
            Metric::Stock => "stock",
            Metric::Price => "price",
        }
    }
}

/// The competitor events a competitive trigger reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompetitiveEvent {
    /// The lowest competing offer is under the listing's price.
    Undercut,
    /// A competitor lowered their price.
    PriceDrop,
    /// A competitor raised their price.
    PriceIncrease,
    /// A new seller offers the product.
    NewCompetitor,
    /// A competitor ran out.
    OutOfStock,
    /// A competitor is back.
    BackInStock,
    /// The seller lost the buy box.
    BuyBoxLost,
    /// The seller won the buy box.
    BuyBoxWon,
}

impl CompetitiveEvent {
    const ALL: [(&'static str, CompetitiveEvent); 8] = [
        ("competitor_undercut", CompetitiveEvent::Undercut),
        ("competitor_price_drop", CompetitiveEvent::PriceDrop),
        ("competitor_price_increase", CompetitiveEvent::PriceIncrease),
        ("new_competitor", CompetitiveEvent::NewCompetitor),
        ("competitor_out_of_stock", CompetitiveEvent::OutOfStock),
        ("competitor_back_in_stock", CompetitiveEvent::BackInStock),
        ("buy_box_lost", CompetitiveEvent::BuyBoxLost),
        ("buy_box_won", CompetitiveEvent::BuyBoxWon),
    ];

    /// The name rules use.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, event)| *event == self)
            .map_or("", |(name, _)| name)
    }
}

/// What makes a rule fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A listing figure crosses a value.
    Threshold {
        /// The figure.
        metric: Metric,
        /// How it is compared.
        comparison: Comparison,
        /// With what.
        value: Decimal,
    },
    /// Something happened among the listing's competitors.
    Competitive {
        /// What.
        event: CompetitiveEvent,
        /// By how much at least, in percent, for the events that have a size.
        threshold_pct: Option<Decimal>,
    },
}

/// A listing fact a condition reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// A text field is, or is not, one of some values.
    Text {
        /// `category`, `channel` or `sku`.
        field: TextField,
        /// The accepted values.
        values: Vec<String>,
        /// Whether the field must be outside them instead.
        negated: bool,
    },
    /// The listing carries one of these tags.
    Tags(Vec<String>),
    /// A figure compares so to a value.
    Number {
        /// The figure.
        metric: Metric,
        /// How it is compared.
        comparison: Comparison,
        /// With what.
        value: Decimal,
    },
}

/// The text fields conditions read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// The product's category.
    Category,
    /// The listing's channel (`amazon`, `bestbuy_ca`…).
    Channel,
    /// The seller's shop SKU.
    Sku,
}

/// What a rule does when it fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A task on the board's default stage.
    CreateTask {
        /// With placeholders.
        title_template: String,
        /// With placeholders.
        description_template: Option<String>,
        /// `workflow.tasks.task_type`.
        task_type: String,
        /// `workflow.tasks.priority_score`.
        priority_score: Option<Decimal>,
    },
    /// An alert for the seller (`workflow.alerts`).
    SendAlert {
        /// How urgent.
        severity: Severity,
        /// With placeholders.
        message: String,
    },
}

/// An automation rule as stored, before it is read.
#[derive(Debug, Clone, Copy)]
pub struct AutomationRuleDefinition<'a> {
    /// `threshold` or `competitive`.
    pub trigger_type: &'a str,
    /// The trigger's settings.
    pub trigger_config: &'a Value,
    /// A JSON list; `null` is no conditions.
    pub conditions: &'a Value,
    /// `create_task` or `send_alert`.
    pub action_type: &'a str,
    /// The action's settings.
    pub action_config: &'a Value,
    /// Minimum minutes between two firings for one listing.
    pub cooldown_minutes: i32,
    /// Firings per day at most; `None` is unlimited.
    pub max_daily_triggers: Option<i32>,
}

/// An automation rule, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomationRule {
    /// `workflow.automation_rules.id`.
    pub id: Uuid,
    /// The seller's name for it, used in tasks.
    pub name: String,
    /// When it fires.
    pub trigger: Trigger,
    /// What must also hold.
    pub conditions: Vec<Condition>,
    /// What it does.
    pub action: Action,
    /// Minimum minutes between two firings for one listing.
    pub cooldown_minutes: i32,
    /// Firings per day at most.
    pub max_daily_triggers: Option<i32>,
}

const TASK_TYPES: [&str; 6] = [
    "optimization",
    "pricing",
    "competitive",
    "compliance",
    "launch",
    "other",
];

/// The placeholders templates may use.
pub const PLACEHOLDERS: [&str; 5] = ["sku", "asin", "listing_id", "rule", "reason"];

impl AutomationRule {
    /// Reads and checks a rule as stored.
    ///
    /// # Errors
    /// The part and field at fault.
    pub fn parse(
        id: Uuid,
        name: &str,
        definition: &AutomationRuleDefinition<'_>,
    ) -> Result<Self, InvalidAutomationRule> {
        if definition.cooldown_minutes < 0 {
            return Err(InvalidAutomationRule::new(
                "cooldown_minutes",
                None,
                format!("must not be negative, got {}", definition.cooldown_minutes),
            ));
        }
        if let Some(limit) = definition.max_daily_triggers.filter(|limit| *limit <= 0) {
            return Err(InvalidAutomationRule::new(
                "max_daily_triggers",
                None,
                format!("must be above 0 (or null for no limit), got {limit}"),
            ));
        }
        Ok(Self {
            id,
            name: name.to_owned(),
            trigger: parse_trigger(definition.trigger_type, definition.trigger_config)?,
            conditions: parse_conditions(definition.conditions)?,
            action: parse_action(definition.action_type, definition.action_config)?,
            cooldown_minutes: definition.cooldown_minutes,
            max_daily_triggers: definition.max_daily_triggers,
        })
    }
}

struct Fields<'a> {
    part: String,
    fields: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn of(part: &str, value: &'a Value, settings: &[&str]) -> Result<Self, InvalidAutomationRule> {
        let Value::Object(fields) = value else {
            return Err(InvalidAutomationRule::new(
                part,
                None,
                format!("must be a JSON object, got {}", json_kind(value)),
            ));
        };
        if let Some(unknown) = fields.keys().find(|key| !settings.contains(&key.as_str())) {
            return Err(InvalidAutomationRule::new(
                part,
                Some(unknown),
                format!("is not a setting here (it takes {})", settings.join(", ")),
            ));
        }
        Ok(Self {
            part: part.to_owned(),
            fields,
        })
    }

    fn problem(&self, field: &str, problem: impl Into<String>) -> InvalidAutomationRule {
        InvalidAutomationRule::new(self.part.clone(), Some(field), problem)
    }

    fn value(&self, field: &str) -> Option<&'a Value> {
        self.fields.get(field).filter(|value| !value.is_null())
    }

    fn text(&self, field: &str) -> Result<Option<&'a str>, InvalidAutomationRule> {
        match self.value(field) {
            None => Ok(None),
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(Some(text)),
            Some(Value::String(_)) => Err(self.problem(field, "must not be empty")),
            Some(other) => {
                Err(self.problem(field, format!("must be a string, got {}", json_kind(other))))
            }
        }
    }

    fn required_text(&self, field: &str) -> Result<&'a str, InvalidAutomationRule> {
        self.text(field)?
            .ok_or_else(|| self.problem(field, "is required"))
    }

    fn decimal(&self, field: &str) -> Result<Option<Decimal>, InvalidAutomationRule> {
        self.value(field)
            .map(|value| decimal_from_json(value).map_err(|problem| self.problem(field, problem)))
            .transpose()
    }

    fn one_of<T: Copy>(
        &self,
        field: &str,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<T, InvalidAutomationRule> {
        let text = self.required_text(field)?;
        parse(text).ok_or_else(|| self.problem(field, format!("must be {expected}, got {text:?}")))
    }
}

const COMPARISONS: &str = "lt, lte, gt, gte or eq";
const METRICS: &str = "net_margin_pct, gross_margin_pct, stock or price";

fn parse_trigger(trigger_type: &str, config: &Value) -> Result<Trigger, InvalidAutomationRule> {
    match trigger_type {
        "threshold" => {
            let fields = Fields::of("trigger_config", config, &["metric", "operator", "value"])?;
            let metric = fields.one_of("metric", Metric::parse, METRICS)?;
            let comparison = fields.one_of("operator", Comparison::parse, COMPARISONS)?;
            let value = fields
                .decimal("value")?
                .ok_or_else(|| fields.problem("value", "is required"))?;
            Ok(Trigger::Threshold {
                metric,
                comparison,
                value,
            })
        }
        "competitive" => {
            let fields = Fields::of("trigger_config", config, &["event", "threshold_pct"])?;
            let names: Vec<&str> = CompetitiveEvent::ALL
                .iter()
                .map(|(name, _)| *name)
                .collect();
            let event = fields.one_of(
                "event",
                |name| {
                    CompetitiveEvent::ALL
                        .iter()
                        .find(|(known, _)| *known == name)
                        .map(|(_, event)| *event)
                },
                &names.join(", "),
            )?;
            let threshold_pct = fields.decimal("threshold_pct")?;
            if let Some(pct) = threshold_pct {
                if pct <= Decimal::ZERO || pct >= Decimal::ONE_HUNDRED {
                    return Err(fields.problem(
                        "threshold_pct",
                        format!("must be above 0 and below 100 (percent), got {pct}"),
                    ));
                }
                let sized = matches!(
                    event,
                    CompetitiveEvent::Undercut
                        | CompetitiveEvent::PriceDrop
                        | CompetitiveEvent::PriceIncrease
                );
                if !sized {
                    return Err(fields.problem(
                        "threshold_pct",
                        format!("{} has no size to compare it with", event.as_str()),
                    ));
                }
            }
            Ok(Trigger::Competitive {
                event,
                threshold_pct,
            })
        }
        "time_based" | "event" => Err(InvalidAutomationRule::new(
            "trigger_type",
            None,
            format!(
                "{trigger_type} rules are not run: pricing runs threshold and competitive rules"
            ),
        )),
        other => Err(InvalidAutomationRule::new(
            "trigger_type",
            None,
            format!("must be threshold or competitive, got {other:?}"),
        )),
    }
}

fn parse_conditions(conditions: &Value) -> Result<Vec<Condition>, InvalidAutomationRule> {
    let items = match conditions {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(InvalidAutomationRule::new(
                "conditions",
                None,
                format!("must be a JSON list, got {}", json_kind(other)),
            ))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| parse_condition(&format!("conditions[{index}]"), item))
        .collect()
}

fn strings(fields: &Fields<'_>, field: &str) -> Result<Vec<String>, InvalidAutomationRule> {
    match fields.value(field) {
        Some(Value::String(text)) => Ok(vec![text.clone()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                other => Err(fields.problem(
                    field,
                    format!("must list strings, found {}", json_kind(other)),
                )),
            })
            .collect(),
        Some(Value::Array(_)) => Err(fields.problem(field, "must not be an empty list")),
        Some(other) => Err(fields.problem(
            field,
            format!(
                "must be a string or a list of strings, got {}",
                json_kind(other)
            ),
        )),
        None => Err(fields.problem(field, "is required")),
    }
}

fn parse_condition(part: &str, item: &Value) -> Result<Condition, InvalidAutomationRule> {
    let fields = Fields::of(part, item, &["field", "operator", "value"])?;
    let field = fields.required_text("field")?;
    let operator = fields.required_text("operator")?;
    let text_field = match field {
        "listing.category" => Some(TextField::Category),
        "listing.channel" => Some(TextField::Channel),
        "listing.sku" => Some(TextField::Sku),
        _ => None,
    };
    if let Some(text_field) = text_field {
        let negated = match operator {
            "eq" | "in" => false,
            "ne" | "not_in" => true,
            other => {
                return Err(fields.problem(
                    "operator",
                    format!("{field} takes eq, ne, in or not_in, got {other:?}"),
                ))
            }
        };
        return Ok(Condition::Text {
            field: text_field,
            values: strings(&fields, "value")?,
            negated,
        });
    }
    if field == "listing.tags" {
        return match operator {
            "contains" | "in" => Ok(Condition::Tags(strings(&fields, "value")?)),
            other => Err(fields.problem(
                "operator",
                format!("listing.tags takes contains or in, got {other:?}"),
            )),
        };
    }
    let metric = field
        .strip_prefix("listing.")
        .and_then(Metric::parse)
        .ok_or_else(|| {
            fields.problem(
                "field",
                format!(
                    "must be listing.category, listing.channel, listing.sku, listing.tags, \
                     listing.stock, listing.price, listing.net_margin_pct or \
                     listing.gross_margin_pct, got {field:?}"
                ),
            )
        })?;
    let comparison = Comparison::parse(operator).ok_or_else(|| {
        fields.problem(
            "operator",
            format!("{field} takes {COMPARISONS}, got {operator:?}"),
        )
    })?;
    let value = fields
        .decimal("value")?
        .ok_or_else(|| fields.problem("value", "is required"))?;
    Ok(Condition::Number {
        metric,
        comparison,
        value,
    })
}

fn check_template(
    fields: &Fields<'_>,
    field: &str,
    template: &str,
) -> Result<(), InvalidAutomationRule> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(fields.problem(field, "has a { without its }"));
        };
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(fields.problem(
                field,
                format!(
                    "unknown placeholder {{{name}}} (use {})",
                    PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                ),
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

fn parse_action(action_type: &str, config: &Value) -> Result<Action, InvalidAutomationRule> {
    match action_type {
        "create_task" => {
            let fields = Fields::of(
                "action_config",
                config,
                &[
                    "title_template",
                    "description_template",
                    "task_type",
                    "priority_score",
                ],
            )?;
            let title_template = fields.required_text("title_template")?;
            check_template(&fields, "title_template", title_template)?;
            let description_template = fields.text("description_template")?;
            if let Some(template) = description_template {
                check_template(&fields, "description_template", template)?;
            }
            let task_type = fields.text("task_type")?.unwrap_or("pricing");
            if !TASK_TYPES.contains(&task_type) {
                return Err(fields.problem(
                    "task_type",
                    format!(
                        "must be one of {}, got {task_type:?}",
                        TASK_TYPES.join(", ")
                    ),
                ));
            }
            let priority_score = fields.decimal("priority_score")?;
            if let Some(score) = priority_score {
                if score < Decimal::ZERO || score >= Decimal::from(1000) {
                    return Err(fields.problem(
                        "priority_score",
                        format!("must be from 0 to 999.99, got {score}"),
                    ));
                }
            }
            Ok(Action::CreateTask {
                title_template: title_template.to_owned(),
                description_template: description_template.map(str::to_owned),
                task_type: task_type.to_owned(),
                priority_score,
            })
        }
        "send_alert" => {
            let fields = Fields::of("action_config", config, &["severity", "message"])?;
            let severity =
                fields.one_of("severity", Severity::parse, "low, medium, high or critical")?;
            let message = fields.required_text("message")?;
            check_template(&fields, "message", message)?;
            Ok(Action::SendAlert {
                severity,
                message: message.to_owned(),
            })
        }
        "update_price" | "apply_template" | "tag_listing" => Err(InvalidAutomationRule::new(
            "action_type",
            None,
            format!(
                "{action_type} is not run: automation rules create tasks or send alerts \
                 (prices move through price rules)"
            ),
        )),
        other => Err(InvalidAutomationRule::new(
            "action_type",
            None,
            format!("must be create_task or send_alert, got {other:?}"),
        )),
    }
}

impl fmt::Display for TextField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TextField::Category => "listing.category",
            TextField::Channel => "listing.channel",
            TextField::Sku => "listing.sku",
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn definition<'a>(
        trigger_type: &'a str,
        trigger_config: &'a Value,
        conditions: &'a Value,
        action_type: &'a str,
        action_config: &'a Value,
    ) -> AutomationRuleDefinition<'a> {
        AutomationRuleDefinition {
            trigger_type,
            trigger_config,
            conditions,
            action_type,
            action_config,
            cooldown_minutes: 60,
            max_daily_triggers: None,
        }
    }

    fn refusal(definition: AutomationRuleDefinition<'_>) -> String {
        AutomationRule::parse(Uuid::nil(), "rule", &definition)
            .expect_err("rule accepted")
            .to_string()
    }

    #[test]
    fn the_seed_shapes_are_read() {
        let trigger = json!({"event": "competitor_price_drop", "threshold_pct": 5});
        let conditions =
            json!([{"field": "listing.category", "operator": "in", "value": ["power_tools"]}]);
        let action = json!({"task_type": "competitive", "title_template": "Review {asin}"});
        let rule = AutomationRule::parse(
            Uuid::nil(),
            "Undercut review",
            &definition("competitive", &trigger, &conditions, "create_task", &action),
        )
        .unwrap();
        assert_eq!(
            rule.trigger,
            Trigger::Competitive {
                event: CompetitiveEvent::PriceDrop,
                threshold_pct: Some(Decimal::from(5))
            }
        );
        assert_eq!(
            rule.conditions,
            [Condition::Text {
                field: TextField::Category,
                values: vec!["power_tools".to_owned()],
                negated: false
            }]
        );

        let trigger = json!({"metric": "net_margin_pct", "operator": "lt", "value": "10.5"});
        let action = json!({"severity": "high", "message": "Margin low on {sku}"});
        let rule = AutomationRule::parse(
            Uuid::nil(),
            "Low margin",
            &definition("threshold", &trigger, &Value::Null, "send_alert", &action),
        )
        .unwrap();
        assert!(matches!(
            rule.action,
            Action::SendAlert {
                severity: Severity::High,
                ..
            }
        ));
    }

    #[test]
    fn bad_rules_are_refused_naming_the_part_and_field() {
        let empty = || json!([]);
        let task = || json!({"title_template": "Review {sku}"});
        let cases = [
            (
                ("threshold", json!({"metric": "margin", "operator": "lt", "value": 1}), empty(), "create_task", task()),
                "automation rule trigger_config field metric: must be net_margin_pct, gross_margin_pct, stock or price, got \"margin\"",
            ),
            (
                ("threshold", json!({"metric": "stock", "operator": "below", "value": 1}), empty(), "create_task", task()),
                "automation rule trigger_config field operator: must be lt, lte, gt, gte or eq, got \"below\"",
            ),
            (
                ("threshold", json!({"metric": "stock", "operator": "lt"}), empty(), "create_task", task()),
                "automation rule trigger_config field value: is required",
            ),
            (
                ("competitive", json!({"event": "buy_box_lost", "threshold_pct": 3}), empty(), "create_task", task()),
                "automation rule trigger_config field threshold_pct: buy_box_lost has no size to compare it with",
            ),
            (
                ("competitive", json!({"event": "competitor_undercut", "treshold_pct": 3}), empty(), "create_task", task()),
                "automation rule trigger_config field treshold_pct: is not a setting here (it takes event, threshold_pct)",
            ),
            (
                ("time_based", json!({"cron": "0 9 * * 1"}), empty(), "create_task", task()),
                "automation rule trigger_type: time_based rules are not run: pricing runs threshold and competitive rules",
            ),
            (
                ("threshold", json!({"metric": "stock", "operator": "lt", "value": 3}), json!([{"field": "listing.colour", "operator": "eq", "value": "red"}]), "create_task", task()),
                "automation rule conditions[0] field field: must be listing.category, listing.channel, listing.sku, listing.tags, listing.stock, listing.price, listing.net_margin_pct or listing.gross_margin_pct, got \"listing.colour\"",
            ),
            (
                ("threshold", json!({"metric": "stock", "operator": "lt", "value": 3}), empty(), "create_task", json!({"title_template": "Review {title}"})),
                "automation rule action_config field title_template: unknown placeholder {title} (use {sku}, {asin}, {listing_id}, {rule}, {reason})",
            ),
            (
                ("threshold", json!({"metric": "stock", "operator": "lt", "value": 3}), empty(), "send_alert", json!({"severity": "urgent", "message": "m"})),
                "automation rule action_config field severity: must be low, medium, high or critical, got \"urgent\"",
            ),
            (
                ("threshold", json!({"metric": "stock", "operator": "lt", "value": 3}), empty(), "update_price", json!({})),
                "automation rule action_type: update_price is not run: automation rules create tasks or send alerts (prices move through price rules)",
            ),
        ];
        for ((trigger_type, trigger, conditions, action_type, action), expected) in cases {
            let rule = definition(trigger_type, &trigger, &conditions, action_type, &action);
            assert_eq!(refusal(rule), expected);
        }
    }

    #[test]
    fn limits_are_checked() {
        let trigger = json!({"metric": "stock", "operator": "lt", "value": 3});
        let task = json!({"title_template": "Restock {sku}"});
        let mut rule = definition("threshold", &trigger, &Value::Null, "create_task", &task);
        rule.max_daily_triggers = Some(0);
        assert_eq!(
            refusal(rule),
            "automation rule max_daily_triggers: must be above 0 (or null for no limit), got 0"
        );
        rule.max_daily_triggers = None;
        rule.cooldown_minutes = -1;
        assert_eq!(
            refusal(rule),
            "automation rule cooldown_minutes: must not be negative, got -1"
        );
    }
}
