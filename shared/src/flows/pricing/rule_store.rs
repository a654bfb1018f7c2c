//! Writing price rules: a rule is read with [`PriceRule::parse`] before it is stored, so a
//! config the evaluation could not apply is refused here, with an error naming the rule
//! type and the field, instead of being found at evaluation time. A stored rule change
//! queues a re-evaluation of every listing in the same transaction.

use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::rules::{InvalidRule, PriceRule, RuleDefinition};
use crate::ops::outbox::{enqueue, WorkQueue};

/// A price rule as the seller writes it.
#[derive(Debug, Clone)]
pub struct NewPriceRule {
    /// What the seller calls it.
    pub name: String,
    /// Why it exists, for people.
    pub description: Option<String>,
    /// `all`, `category`, `tag` or `listing`.
    pub applies_to: String,
    /// The category, tag or listing id; `None` for `all`.
    pub scope_value: Option<String>,
    /// `margin_floor`, `competitor_match`, `competitor_beat`, `time_based` or
    /// `inventory_based`.
    pub rule_type: String,
    /// The type's settings (see [`super::rules`]).
    pub config: Value,
    /// Higher wins.
    pub priority: i32,
    /// An inactive rule is kept but never applied.
    pub is_active: bool,
    /// Prices it sets go out to the channel instead of waiting as suggestions.
    pub apply_enabled: bool,
}

/// Why a rule was not stored.
#[derive(Debug, thiserror::Error)]
pub enum RuleWriteError {
    /// The rule is refused: its scope or config is wrong.
    #[error("price rule {name:?} refused: {problem}")]
    Refused {
        /// The rule's name.
        name: String,
        /// What is wrong, naming the rule type and the field.
        #[source]
        problem: InvalidRule,
    },
    /// The database failed.
    #[error("storing price rule {name:?}")]
    Database {
        /// The rule's name.
        name: String,
        /// The failure.
        #[source]
        source: sqlx::Error,
    },
}

/// Checks `rule` with [`PriceRule::parse`], then stores it and queues a re-evaluation of
/// every listing. Returns the new rule's id.
pub async fn create_price_rule(
    conn: &mut PgConnection,
    rule: &NewPriceRule,
) -> Result<Uuid, RuleWriteError> {
    let id = Uuid::new_v4();
    check_rule(id, rule)?;
    let database = |source| RuleWriteError::Database {
        name: rule.name.clone(),
        source,
    };
    let mut tx = conn.begin().await.map_err(database)?;
    sqlx::query!(
        "insert into pricing.price_rules
             (id, name, description, applies_to, scope_value, rule_type, config, priority,
              is_active, apply_enabled)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        id,
        rule.name,
        rule.description,
        rule.applies_to,
        rule.scope_value,
        rule.rule_type,
        rule.config,
        rule.priority,
        rule.is_active,
        rule.apply_enabled,
    )
    .execute(&mut *tx)
    .await
    .map_err(database)?;
    enqueue_full_reevaluation(&mut tx, "rule_changed")
        .await
        .map_err(database)?;
    tx.commit().await.map_err(database)?;
    Ok(id)
}

/// Checks a rule as [`create_price_rule`] would store it, without storing it.
pub fn check_rule(id: Uuid, rule: &NewPriceRule) -> Result<PriceRule, RuleWriteError> {
    let id = id.to_string();
    PriceRule::parse(&RuleDefinition {
        id: &id,
        priority: rule.priority,
        is_active: rule.is_active,
        applies_to: &rule.applies_to,
        scope_value: rule.scope_value.as_deref(),
        rule_type: &rule.rule_type,
        config: &rule.config,
    })
    .map_err(|problem| RuleWriteError::Refused {
        name: rule.name.clone(),
        problem,
    })
}

/// Queues "re-evaluate every listing" in the caller's transaction.
pub async fn enqueue_full_reevaluation(
    tx: &mut PgConnection,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let dedup_id = format!("reevaluate-all:{}", Uuid::now_v7());
    enqueue(
        tx,
        WorkQueue::Pricing,
        &dedup_id,
        &json!({"kind": "reevaluate_all", "reason": reason}),
    )
    .await
}
