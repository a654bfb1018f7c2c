//! Writing decisions, set-based, and only what changed.
//!
//! A decision is written when its digest (what it was reached from and came to: see
//! [`super::evaluate`]) differs from the one `pricing.current_prices` keeps for the
//! listing. Then, in one transaction per page of listings, each table in one statement
//! (`unnest` of arrays):
//!
//! 1. `pricing.current_prices`: the summary. `optimal_price` is the suggested price,
//!    `price_confidence` its [confidence](confidence), `last_optimized_at` when it was
//!    decided, the landed cost, the margins and the referral fee at the suggested price,
//!    the winning rule, bound and flag, and the decision's id and digest. The update
//!    only takes rows whose digest is still the one loaded, so two evaluations of one
//!    listing at once write one decision.
//! 2. `pricing.price_decisions`: the decision with its explanation.
//! 3. `pricing.price_history`: a row (source `pricing_rule`) when the decided price
//!    moves: from the last decided price, or from the current price the first time.
//! 4. `ops.audit_log`: a row when the suggested price, the winning rule, the bound or
//!    the flag changed (entity `listing_price`, actor `evaluate-pricing-rules`, source
//!    id the winning rule), naming each change's old and new value.
//! 5. `ops.outbox`: "apply a price change" ([`ApplyPriceChange`]) when the listing or
//!    the winning rule has apply enabled and the decided price differs from the price
//!    the listing sells at.
//!
//! Re-evaluating with nothing changed gives the same digests, so nothing is written.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::decision::{Decision, Flag};
use super::message::ApplyPriceChange;
use crate::ops::outbox::{enqueue_many, WorkQueue};

/// Who the audit log names for every change the evaluation makes.
pub const ACTOR: &str = "evaluate-pricing-rules";

/// How far a decision rests on complete facts and on the seller's own rules, 0 to 100:
///
/// - **100**: a rule's price, inside every bound.
/// - **80**: a rule's price, moved by a bound (min, max or the margin floor): the
///   rule's intent is only partly met.
/// - **60**: no price-setting rule applies; the current price is kept, or moved into
///   the bounds.
/// - **0**: flagged (`no_landed_cost`, `bounds_conflict`): nothing could be decided.
pub fn confidence(decision: &Decision) -> Decimal {
    let score = match (decision.flag, &decision.rule, decision.bound) {
        (Some(_), _, _) => 0,
        (None, Some(_), None) => 100,
        (None, Some(_), Some(_)) => 80,
        (None, None, _) => 60,
    };
    Decimal::from(score)
}

/// Whether a decided price waits for the seller or goes out to the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Stored as a suggestion only.
    Suggest,
    /// Sent to the channel through the outbox.
    Apply,
}

impl Mode {
    /// `suggest` or `apply`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Suggest => "suggest",
            Mode::Apply => "apply",
        }
    }
}

/// One listing's new decision, ready to write.
#[derive(Debug, Clone)]
pub struct DecisionRow {
    /// The new decision's id (`pricing.price_decisions.id`).
    pub decision_id: Uuid,
    /// The listing.
    pub listing_id: Uuid,
    /// Its channel.
    pub channel: String,
    /// Its prices' currency.
    pub currency: String,
    /// The price it sells at.
    pub old_price: Decimal,
    /// The decided price.
    pub price: Decimal,
    /// The winning rule.
    pub rule_id: Option<Uuid>,
    /// `min_price`, `max_price` or `margin_floor`.
    pub bound: Option<&'static str>,
    /// `bounds_conflict` or `no_landed_cost`.
    pub flag: Option<&'static str>,
    /// The landed cost used.
    pub landed_cost: Option<Decimal>,
    /// The margin floor that held, in percent.
    pub margin_floor_pct: Option<Decimal>,
    /// Margins at the decided price.
    pub gross_margin: Option<Decimal>,
    /// As a percentage of the price.
    pub gross_margin_pct: Option<Decimal>,
    /// After the channel's fees.
    pub net_margin: Option<Decimal>,
    /// As a percentage of the price.
    pub net_margin_pct: Option<Decimal>,
    /// The channel's referral fee at the decided price.
    pub referral_fee: Decimal,
    /// See [`confidence`].
    pub confidence: Decimal,
    /// Suggest or apply.
    pub mode: Mode,
    /// The explanation, as people read it.
    pub explanation: String,
    /// What the decision was reached from and came to.
    pub digest: Vec<u8>,
    /// The digest stored before: the row is taken only while it still holds.
    pub previous_digest: Option<Vec<u8>>,
    /// The last decided price, rule, bound and flag, for the audit log.
    pub previous_price: Option<Decimal>,
    /// See `previous_price`.
    pub previous_rule_id: Option<Uuid>,
    /// See `previous_price`.
    pub previous_bound: Option<String>,
    /// See `previous_price`.
    pub previous_flag: Option<String>,
}

impl DecisionRow {
    /// Whether the decided price moved (from the last decided price, or from the current
    /// price when nothing was decided before): a price history row.
    pub fn price_moved(&self) -> bool {
        self.previous_price.unwrap_or(self.old_price) != self.price
    }

    /// Whether what the seller sees of the decision changed: an audit row.
    pub fn suggestion_changed(&self) -> bool {
        self.previous_price != Some(self.price)
            || self.previous_rule_id != self.rule_id
            || self.previous_bound.as_deref() != self.bound
            || self.previous_flag.as_deref() != self.flag
    }

    /// Whether an "apply a price change" message goes out.
    pub fn applies(&self) -> bool {
        self.mode == Mode::Apply && self.flag.is_none() && self.price != self.old_price
    }

    /// The message that applies it.
    pub fn apply_message(&self) -> ApplyPriceChange {
        ApplyPriceChange {
            price_change_id: self.decision_id,
            listing_id: self.listing_id,
            channel: self.channel.clone(),
            price: self.price,
            currency: self.currency.clone(),
            old_price: self.old_price,
        }
    }
}

/// `Flag` as stored.
pub(crate) fn flag_name(flag: Option<Flag>) -> Option<&'static str> {
    flag.map(Flag::as_str)
}

/// What one write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteTally {
    /// Decisions stored.
    pub decisions: u64,
    /// Price history rows appended.
    pub history: u64,
    /// Audit rows appended.
    pub audit: u64,
    /// "Apply a price change" messages queued.
    pub apply_messages: u64,
    /// Decisions not stored because another evaluation stored one for the listing
    /// first.
    pub overtaken: u64,
}

impl std::ops::AddAssign for WriteTally {
    fn add_assign(&mut self, other: Self) {
        self.decisions += other.decisions;
        self.history += other.history;
        self.audit += other.audit;
        self.apply_messages += other.apply_messages;
        self.overtaken += other.overtaken;
    }
}

/// Writes `rows` (decided at `now`) in one transaction; see the module doc.
pub async fn write_decisions(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    rows: &[DecisionRow],
) -> Result<WriteTally, sqlx::Error> {
    if rows.is_empty() {
        return Ok(WriteTally::default());
    }
    let mut tx = conn.begin().await?;

    let listing_ids: Vec<Uuid> = rows.iter().map(|r| r.listing_id).collect();
    let decision_ids: Vec<Uuid> = rows.iter().map(|r| r.decision_id).collect();
    let prices: Vec<Decimal> = rows.iter().map(|r| r.price).collect();
    let confidences: Vec<Decimal> = rows.iter().map(|r| r.confidence).collect();
    let landed: Vec<Option<Decimal>> = rows.iter().map(|r| r.landed_cost).collect();
    let gross: Vec<Option<Decimal>> = rows.iter().map(|r| r.gross_margin).collect();
    let gross_pct: Vec<Option<Decimal>> = rows.iter().map(|r| r.gross_margin_pct).collect();
    let net: Vec<Option<Decimal>> = rows.iter().map(|r| r.net_margin).collect();
    let net_pct: Vec<Option<Decimal>> = rows.iter().map(|r| r.net_margin_pct).collect();
    let referral: Vec<Decimal> = rows.iter().map(|r| r.referral_fee).collect();
    let rule_ids: Vec<Option<Uuid>> = rows.iter().map(|r| r.rule_id).collect();
    let bounds: Vec<Option<&str>> = rows.iter().map(|r| r.bound).collect();
    let flags: Vec<Option<&str>> = rows.iter().map(|r| r.flag).collect();
    let digests: Vec<Vec<u8>> = rows.iter().map(|r| r.digest.clone()).collect();
    let previous_digests: Vec<Option<Vec<u8>>> =
        rows.iter().map(|r| r.previous_digest.clone()).collect();

    let taken: Vec<Uuid> = sqlx::query_scalar!(
        "update pricing.current_prices cp set
             optimal_price = u.price,
             price_confidence = u.confidence,
             last_optimized_at = $1,
             landed_cost_updated_at = case when cp.landed_cost is distinct from u.landed_cost
                                           then $1 else cp.landed_cost_updated_at end,
             landed_cost = u.landed_cost,
             gross_margin = u.gross,
             gross_margin_pct = u.gross_pct,
             net_margin = u.net,
             net_margin_pct = u.net_pct,
             referral_fee = u.referral,
             suggested_rule_id = u.rule_id,
             price_bound = u.bound,
             price_flag = u.flag,
             decision_id = u.decision_id,
             decision_digest = u.digest
         from unnest($2::uuid[], $3::uuid[], $4::numeric[], $5::numeric[], $6::numeric[],
                     $7::numeric[], $8::numeric[], $9::numeric[], $10::numeric[],
                     $11::numeric[], $12::uuid[], $13::text[], $14::text[], $15::bytea[],
                     $16::bytea[])
              as u(listing_id, decision_id, price, confidence, landed_cost, gross, gross_pct,
                   net, net_pct, referral, rule_id, bound, flag, digest, previous_digest)
         where cp.listing_id = u.listing_id
           and cp.decision_digest is not distinct from u.previous_digest
         returning cp.listing_id",
        now,
        &listing_ids,
        &decision_ids,
        &prices,
        &confidences,
        &landed as _,
        &gross as _,
        &gross_pct as _,
        &net as _,
        &net_pct as _,
        &referral,
        &rule_ids as _,
        &bounds as _,
        &flags as _,
        &digests,
        &previous_digests as _,
    )
    .fetch_all(&mut *tx)
    .await?;

    let mut tally = WriteTally::default();
    let taken: std::collections::HashSet<Uuid> = taken.into_iter().collect();
    tally.overtaken = (rows.len() - taken.len()) as u64;
    let rows: Vec<&DecisionRow> = rows
        .iter()
        .filter(|row| taken.contains(&row.listing_id))
        .collect();
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(tally);
    }

    tally.decisions = insert_decisions(&mut tx, now, &rows).await?;

    let moved: Vec<&DecisionRow> = rows.iter().copied().filter(|r| r.price_moved()).collect();
    let ids: Vec<Uuid> = moved.iter().map(|r| r.listing_id).collect();
    let decision_ids: Vec<Uuid> = moved.iter().map(|r| r.decision_id).collect();
    let prices: Vec<Decimal> = moved.iter().map(|r| r.price).collect();
    let currencies: Vec<&str> = moved.iter().map(|r| r.currency.as_str()).collect();
    tally.history = sqlx::query!(
        "insert into pricing.price_history (listing_id, observed_at, price, currency, source, decision_id)
         select u.listing_id, $1, u.price, u.currency, 'pricing_rule', u.decision_id
         from unnest($2::uuid[], $3::uuid[], $4::numeric[], $5::text[])
              as u(listing_id, decision_id, price, currency)
         on conflict on constraint price_history_pkey do nothing",
        now,
        &ids,
        &decision_ids,
        &prices,
        &currencies as _,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();

    tally.audit = insert_audit(&mut tx, &rows).await?;

    let messages: Vec<(String, serde_json::Value)> = rows
        .iter()
        .filter(|r| r.applies())
        .map(|r| {
            let message = r.apply_message();
            (message.dedup_id(), message.to_json())
        })
        .collect();
    tally.apply_messages = enqueue_many(&mut tx, WorkQueue::Pricing, &messages).await?;

    tx.commit().await?;
    Ok(tally)
}

async fn insert_decisions(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    rows: &[&DecisionRow],
) -> Result<u64, sqlx::Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.decision_id).collect();
    let listing_ids: Vec<Uuid> = rows.iter().map(|r| r.listing_id).collect();
    let currencies: Vec<&str> = rows.iter().map(|r| r.currency.as_str()).collect();
    let old_prices: Vec<Decimal> = rows.iter().map(|r| r.old_price).collect();
    let prices: Vec<Decimal> = rows.iter().map(|r| r.price).collect();
    let rule_ids: Vec<Option<Uuid>> = rows.iter().map(|r| r.rule_id).collect();
    let bounds: Vec<Option<&str>> = rows.iter().map(|r| r.bound).collect();
    let flags: Vec<Option<&str>> = rows.iter().map(|r| r.flag).collect();
    let landed: Vec<Option<Decimal>> = rows.iter().map(|r| r.landed_cost).collect();
    let floors: Vec<Option<Decimal>> = rows.iter().map(|r| r.margin_floor_pct).collect();
    let gross: Vec<Option<Decimal>> = rows.iter().map(|r| r.gross_margin).collect();
    let gross_pct: Vec<Option<Decimal>> = rows.iter().map(|r| r.gross_margin_pct).collect();
    let net: Vec<Option<Decimal>> = rows.iter().map(|r| r.net_margin).collect();
    let net_pct: Vec<Option<Decimal>> = rows.iter().map(|r| r.net_margin_pct).collect();
    let confidences: Vec<Decimal> = rows.iter().map(|r| r.confidence).collect();
    let modes: Vec<&str> = rows.iter().map(|r| r.mode.as_str()).collect();
    let explanations: Vec<&str> = rows.iter().map(|r| r.explanation.as_str()).collect();
    let digests: Vec<&[u8]> = rows.iter().map(|r| r.digest.as_slice()).collect();
    let inserted = sqlx::query!(
        "insert into pricing.price_decisions
             (id, listing_id, evaluated_at, currency, old_price, suggested_price, rule_id, bound,
              flag, landed_cost, margin_floor_pct, gross_margin, gross_margin_pct, net_margin,
              net_margin_pct, confidence, mode, explanation, digest)
         select u.id, u.listing_id, $1, u.currency, u.old_price, u.price, u.rule_id, u.bound,
                u.flag, u.landed_cost, u.floor, u.gross, u.gross_pct, u.net, u.net_pct,
                u.confidence, u.mode, u.explanation, u.digest
         from unnest($2::uuid[], $3::uuid[], $4::text[], $5::numeric[], $6::numeric[],
                     $7::uuid[], $8::text[], $9::text[], $10::numeric[], $11::numeric[],
                     $12::numeric[], $13::numeric[], $14::numeric[], $15::numeric[],
                     $16::numeric[], $17::text[], $18::text[], $19::bytea[])
              as u(id, listing_id, currency, old_price, price, rule_id, bound, flag,
                   landed_cost, floor, gross, gross_pct, net, net_pct, confidence, mode,
                   explanation, digest)",
        now,
        &ids,
        &listing_ids,
        &currencies as _,
        &old_prices,
        &prices,
        &rule_ids as _,
        &bounds as _,
        &flags as _,
        &landed as _,
        &floors as _,
        &gross as _,
        &gross_pct as _,
        &net as _,
        &net_pct as _,
        &confidences,
        &modes as _,
        &explanations as _,
        &digests as _,
    )
    .execute(&mut *tx)
    .await?;
    Ok(inserted.rows_affected())
}

/// One audit row per listing whose suggestion changed, its `changes` naming each field's
/// old and new value: `{"suggested_price": {"old": "26.99", "new": "24.99"}, "rule_id":
/// …, "bound": …, "flag": …, "decision_id": "…"}`.
async fn insert_audit(tx: &mut PgConnection, rows: &[&DecisionRow]) -> Result<u64, sqlx::Error> {
    let changed: Vec<&DecisionRow> = rows
        .iter()
        .copied()
        .filter(|r| r.suggestion_changed())
        .collect();
    let listing_ids: Vec<Uuid> = changed.iter().map(|r| r.listing_id).collect();
    let decision_ids: Vec<Uuid> = changed.iter().map(|r| r.decision_id).collect();
    let first: Vec<bool> = changed
        .iter()
        .map(|r| r.previous_digest.is_none())
        .collect();
    let old_prices: Vec<Option<Decimal>> = changed.iter().map(|r| r.previous_price).collect();
    let prices: Vec<Decimal> = changed.iter().map(|r| r.price).collect();
    let old_rules: Vec<Option<Uuid>> = changed.iter().map(|r| r.previous_rule_id).collect();
    let rules: Vec<Option<Uuid>> = changed.iter().map(|r| r.rule_id).collect();
    let old_bounds: Vec<Option<&str>> = changed
        .iter()
        .map(|r| r.previous_bound.as_deref())
        .collect();
    let bounds: Vec<Option<&str>> = changed.iter().map(|r| r.bound).collect();
    let old_flags: Vec<Option<&str>> = changed.iter().map(|r| r.previous_flag.as_deref()).collect();
    let flags: Vec<Option<&str>> = changed.iter().map(|r| r.flag).collect();
    let inserted = sqlx::query!(
        "insert into ops.audit_log (entity_type, entity_id, action, changes, source, source_id, actor)
         select 'listing_price', u.listing_id::text,
                case when u.first then 'create' else 'update' end,
                jsonb_build_object('decision_id', u.decision_id)
                || case when u.old_price is distinct from u.price then jsonb_build_object(
                       'suggested_price', jsonb_build_object('old', u.old_price::text, 'new', u.price::text))
                   else '{}' end
                || case when u.old_rule is distinct from u.rule then jsonb_build_object(
                       'rule_id', jsonb_build_object('old', u.old_rule, 'new', u.rule))
                   else '{}' end
                || case when u.old_bound is distinct from u.bound then jsonb_build_object(
                       'bound', jsonb_build_object('old', u.old_bound, 'new', u.bound))
                   else '{}' end
                || case when u.old_flag is distinct from u.flag then jsonb_build_object(
                       'flag', jsonb_build_object('old', u.old_flag, 'new', u.flag))
                   else '{}' end,
                $12, u.rule::text, $12
         from unnest($1::uuid[], $2::uuid[], $3::bool[], $4::numeric[], $5::numeric[],
                     $6::uuid[], $7::uuid[], $8::text[], $9::text[], $10::text[], $11::text[])
              as u(listing_id, decision_id, first, old_price, price, old_rule, rule, old_bound,
                   bound, old_flag, flag)",
        &listing_ids,
        &decision_ids,
        &first,
        &old_prices as _,
        &prices,
        &old_rules as _,
        &rules as _,
        &old_bounds as _,
        &bounds as _,
        &old_flags as _,
        &flags as _,
        ACTOR,
    )
    .execute(&mut *tx)
    .await?;
    Ok(inserted.rows_affected())
}
