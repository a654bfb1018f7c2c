//! Whether a rule fires for a listing, and what its firing would create: pure functions
//! of the rule and the listing's [`ListingSignals`].

use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

use super::rule::{
    Action, AutomationRule, CompetitiveEvent, Condition, Metric, TextField, Trigger,
};
use crate::flows::pricing::competitors::{AlertKind, Severity};

/// What automation rules see of one listing after its evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingSignals {
    /// `catalog.shop_sku_map.id`.
    pub listing_id: Uuid,
    /// The seller's shop SKU.
    pub sku: String,
    /// The channel's product id (the ASIN on Amazon).
    pub channel_product_id: Option<String>,
    /// `amazon`, `bestbuy_ca`…
    pub channel: String,
    /// The product's category.
    pub category: Option<String>,
    /// The product's tags.
    pub tags: Vec<String>,
    /// Units available.
    pub stock: i64,
    /// The decided price.
    pub price: Decimal,
    /// Net margin at that price, percent; `None` without a landed cost.
    pub net_margin_pct: Option<Decimal>,
    /// Gross margin at that price, percent.
    pub gross_margin_pct: Option<Decimal>,
    /// The lowest competing offer (the seller's own never counts).
    pub lowest_competing_price: Option<Decimal>,
    /// Competitor alerts raised for the listing by the change being evaluated.
    pub competitor_alerts: Vec<CompetitorSignal>,
}

/// One competitor alert, as a trigger reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompetitorSignal {
    /// Its kind.
    pub kind: AlertKind,
    /// For price changes, percent.
    pub change_pct: Option<Decimal>,
}

/// A rule's firing for one listing, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFiring {
    /// The rule.
    pub rule_id: Uuid,
    /// The listing.
    pub listing_id: Uuid,
    /// What the trigger saw.
    pub reason: String,
    /// What the firing creates.
    pub outcome: PlannedOutcome,
}

/// A task or an alert, its templates filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedOutcome {
    /// A task on the default stage.
    Task {
        /// Its title.
        title: String,
        /// Its description.
        description: Option<String>,
        /// `workflow.tasks.task_type`.
        task_type: String,
        /// `workflow.tasks.priority_score`.
        priority_score: Option<Decimal>,
    },
    /// An alert for the seller.
    Alert {
        /// How urgent.
        severity: Severity,
        /// What it says.
        message: String,
    },
}

/// Why `rule` fires for the listing, or `None` when it does not: its trigger holds and
/// so does every condition.
pub fn fires(rule: &AutomationRule, signals: &ListingSignals) -> Option<String> {
    let reason = trigger_reason(&rule.trigger, signals)?;
    rule.conditions
        .iter()
        .all(|condition| holds(condition, signals))
        .then_some(reason)
}

/// Every firing `rules` call for over `listings`, at most one per rule and listing. The
/// cooldowns and daily limits are the database's to apply (see [`super::firing`]).
pub fn plan_firings(rules: &[AutomationRule], listings: &[ListingSignals]) -> Vec<PlannedFiring> {
    let mut planned = Vec::new();
    for rule in rules {
        for signals in listings {
            if let Some(reason) = fires(rule, signals) {
                planned.push(PlannedFiring {
                    rule_id: rule.id,
                    listing_id: signals.listing_id,
                    outcome: outcome(rule, signals, &reason),
                    reason,
                });
            }
        }
    }
    planned
}

fn metric(metric: Metric, signals: &ListingSignals) -> Option<Decimal> {
    match metric {
        Metric::NetMarginPct => signals.net_margin_pct,
        Metric::GrossMarginPct => signals.gross_margin_pct,
        Metric::Stock => Some(Decimal::from(signals.stock)),
        Metric::Price => Some(signals.price),
    }
}

fn pct_of(part: Decimal, whole: Decimal) -> Decimal {
    (part / whole * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

fn trigger_reason(trigger: &Trigger, signals: &ListingSignals) -> Option<String> {
    match trigger {
        Trigger::Threshold {
            metric: watched,
            comparison,
            value,
        } => {
            let actual = metric(*watched, signals)?;
            comparison.holds(actual, *value).then(|| {
                format!(
                    "{} {actual} {} {value}",
                    watched.as_str(),
                    comparison.symbol()
                )
            })
        }
        Trigger::Competitive {
            event,
            threshold_pct,
        } => {
            let at_least = |pct: Decimal| threshold_pct.is_none_or(|threshold| pct >= threshold);
            let alert = |kind: AlertKind, sized: bool| {
                signals.competitor_alerts.iter().find(|alert| {
                    alert.kind == kind
                        && (!sized || at_least(alert.change_pct.unwrap_or_default().abs()))
                })
            };
            match event {
                CompetitiveEvent::Undercut => {
                    let lowest = signals.lowest_competing_price?;
                    if lowest >= signals.price || signals.price.is_zero() {
                        return None;
                    }
                    let under_pct = pct_of(signals.price - lowest, signals.price);
                    at_least(under_pct).then(|| {
                        format!(
                            "the lowest competing offer, {lowest}, is {under_pct} % under the price {}",
                            signals.price
                        )
                    })
                }
                CompetitiveEvent::PriceDrop | CompetitiveEvent::PriceIncrease => {
                    let kind = if *event == CompetitiveEvent::PriceDrop {
                        AlertKind::PriceDrop
                    } else {
                        AlertKind::PriceIncrease
                    };
                    alert(kind, true).map(|found| {
                        format!(
                            "a competitor's price changed by {} %",
                            found.change_pct.unwrap_or_default()
                        )
                    })
                }
                other => {
                    let kind = match other {
                        CompetitiveEvent::NewCompetitor => AlertKind::NewCompetitor,
                        CompetitiveEvent::OutOfStock => AlertKind::OutOfStock,
                        CompetitiveEvent::BackInStock => AlertKind::BackInStock,
                        CompetitiveEvent::BuyBoxLost => AlertKind::BuyBoxLost,
                        _ => AlertKind::BuyBoxWon,
                    };
                    alert(kind, false).map(|_| format!("competitor alert {kind}"))
                }
            }
        }
    }
}

fn holds(condition: &Condition, signals: &ListingSignals) -> bool {
    match condition {
        Condition::Text {
            field,
            values,
            negated,
        } => {
            let actual = match field {
                TextField::Category => signals.category.as_deref(),
                TextField::Channel => Some(signals.channel.as_str()),
                TextField::Sku => Some(signals.sku.as_str()),
            };
            let listed = actual.is_some_and(|actual| values.iter().any(|value| value == actual));
            listed != *negated
        }
        Condition::Tags(wanted) => signals.tags.iter().any(|tag| wanted.contains(tag)),
        Condition::Number {
            metric: watched,
            comparison,
            value,
        } => metric(*watched, signals).is_some_and(|actual| comparison.holds(actual, *value)),
    }
}

/// Fills a template's placeholders (checked when the rule was written).
pub fn render(
    template: &str,
    rule: &AutomationRule,
    signals: &ListingSignals,
    reason: &str,
) -> String {
    template
        .replace("{sku}", &signals.sku)
        .replace(
            "{asin}",
            signals.channel_product_id.as_deref().unwrap_or(""),
        )
        .replace("{listing_id}", &signals.listing_id.to_string())
        .replace("{rule}", &rule.name)
        .replace("{reason}", reason)
}

fn outcome(rule: &AutomationRule, signals: &ListingSignals, reason: &str) -> PlannedOutcome {
    match &rule.action {
        Action::CreateTask {
            title_template,
            description_template,
            task_type,
            priority_score,
        } => PlannedOutcome::Task {
            title: render(title_template, rule, signals, reason),
            description: description_template
                .as_deref()
                .map(|template| render(template, rule, signals, reason)),
            task_type: task_type.clone(),
            priority_score: *priority_score,
        },
        Action::SendAlert { severity, message } => PlannedOutcome::Alert {
            severity: *severity,
            message: render(message, rule, signals, reason),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::flows::pricing::automation::rule::AutomationRuleDefinition;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn rule(
        trigger_type: &str,
        trigger: Value,
        conditions: Value,
        action: Value,
    ) -> AutomationRule {
        let action_type = if action.get("severity").is_some() {
            "send_alert"
        } else {
            "create_task"
        };
        AutomationRule::parse(
            Uuid::from_u128(7),
            "Watch",
            &AutomationRuleDefinition {
                trigger_type,
                trigger_config: &trigger,
                conditions: &conditions,
                action_type,
                action_config: &action,
                cooldown_minutes: 60,
                max_daily_triggers: None,
            },
        )
        .unwrap()
    }

    fn listing() -> ListingSignals {
        ListingSignals {
            listing_id: Uuid::from_u128(1),
            sku: "DRILL-18V".to_owned(),
            channel_product_id: Some("B0TESTASIN".to_owned()),
            channel: "amazon".to_owned(),
            category: Some("power_tools".to_owned()),
            tags: vec!["cordless".to_owned()],
            stock: 4,
            price: dec("50.00"),
            net_margin_pct: Some(dec("8.50")),
            gross_margin_pct: Some(dec("30.00")),
            lowest_competing_price: Some(dec("45.00")),
            competitor_alerts: vec![],
        }
    }

    #[test]
    fn threshold_triggers_compare_the_listings_figures() {
        let task = json!({"title_template": "Margin of {sku}: {reason}"});
        let low_margin = rule(
            "threshold",
            json!({"metric": "net_margin_pct", "operator": "lt", "value": 10}),
            Value::Null,
            task.clone(),
        );
        assert_eq!(
            fires(&low_margin, &listing()).as_deref(),
            Some("net_margin_pct 8.50 < 10")
        );
        let low_stock = rule(
            "threshold",
            json!({"metric": "stock", "operator": "lte", "value": 3}),
            Value::Null,
            task.clone(),
        );
        assert_eq!(fires(&low_stock, &listing()), None);

        let mut unpriced = listing();
        unpriced.net_margin_pct = None;
        assert_eq!(
            fires(&low_margin, &unpriced),
            None,
            "no margin, nothing to compare"
        );

        let planned = plan_firings(&[low_margin], &[listing()]);
        assert_eq!(
            planned[0].outcome,
            PlannedOutcome::Task {
                title: "Margin of DRILL-18V: net_margin_pct 8.50 < 10".to_owned(),
                description: None,
                task_type: "pricing".to_owned(),
                priority_score: None,
            }
        );
    }

    #[test]
    fn an_undercut_fires_from_its_percentage() {
        let alert = json!({"severity": "high", "message": "Undercut on {asin}"});
        // 45 is 10 % under 50.
        let by_ten = rule(
            "competitive",
            json!({"event": "competitor_undercut", "threshold_pct": 10}),
            Value::Null,
            alert.clone(),
        );
        let by_eleven = rule(
            "competitive",
            json!({"event": "competitor_undercut", "threshold_pct": 11}),
            Value::Null,
            alert.clone(),
        );
        assert!(fires(&by_ten, &listing()).is_some());
        assert!(fires(&by_eleven, &listing()).is_none());
        let mut alone = listing();
        alone.lowest_competing_price = None;
        assert!(fires(&by_ten, &alone).is_none());
    }

    #[test]
    fn competitor_events_fire_from_the_alerts_raised() {
        let task = json!({"title_template": "Buy box of {sku}"});
        let lost = rule(
            "competitive",
            json!({"event": "buy_box_lost"}),
            Value::Null,
            task.clone(),
        );
        let drop = rule(
            "competitive",
            json!({"event": "competitor_price_drop", "threshold_pct": 8}),
            Value::Null,
            task,
        );
        let mut signals = listing();
        assert!(fires(&lost, &signals).is_none());
        signals.competitor_alerts = vec![
            CompetitorSignal {
                kind: AlertKind::BuyBoxLost,
                change_pct: None,
            },
            CompetitorSignal {
                kind: AlertKind::PriceDrop,
                change_pct: Some(dec("-6.00")),
            },
        ];
        assert!(fires(&lost, &signals).is_some());
        assert!(
            fires(&drop, &signals).is_none(),
            "6 % is under the rule's 8 %"
        );
        signals.competitor_alerts[1].change_pct = Some(dec("-9.50"));
        assert!(fires(&drop, &signals).is_some());
    }

    #[test]
    fn conditions_must_all_hold() {
        let task = json!({"title_template": "Review {sku}"});
        let trigger = json!({"metric": "stock", "operator": "lt", "value": 10});
        let tools = rule(
            "threshold",
            trigger.clone(),
            json!([
                {"field": "listing.category", "operator": "in", "value": ["power_tools", "hand_tools"]},
                {"field": "listing.tags", "operator": "contains", "value": "cordless"},
                {"field": "listing.price", "operator": "gte", "value": 20}
            ]),
            task.clone(),
        );
        assert!(fires(&tools, &listing()).is_some());
        let not_amazon = rule(
            "threshold",
            trigger,
            json!([
                {"field": "listing.channel", "operator": "ne", "value": "amazon"}
            ]),
            task,
        );
        assert!(fires(&not_amazon, &listing()).is_none());
    }
}
