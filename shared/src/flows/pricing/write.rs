//! Writing decisions, set-based, and only what changed.
//!
//! A decision is written when its digest (what it was reached from and came to: see
//! [`super::evaluate`]) differs from the one `pricing.current_prices` keeps for the
//! listing. Then, in one transaction per page of listings, the first two in one
//! statement (`unnest` of arrays, the decisions inserted from the summaries the update
//! took) and the third in another:
//!
//! 1. `pricing.current_prices`: the summary. `optimal_price` is the suggested price,
//!    `price_confidence` its [confidence](confidence), `last_optimized_at` when it was
//!    decided, the landed cost, the margins and the referral fee at the suggested price,
//!    the winning rule, bound and flag, and the decision's id and digest. The update
//!    only takes rows whose digest is still the one loaded, so two evaluations of one
//!    listing at once write one decision.
//! 2. `pricing.price_decisions`: the decision with its explanation. This is the record
//!    of every suggestion: what it was, what it replaced (the listing's previous
//!    decision), the rule that made it and why.
//! 3. `ops.outbox`: "apply a price change" ([`ApplyPriceChange`]) when the listing or
//!    the winning rule has apply enabled and the decided price differs from the price
//!    the listing sells at.
//!
//! A decision changes no price: `pricing.price_history` and `ops.audit_log` record a
//! listing's price when it does change, once the channel took it ([`super::apply`]).
//!
//! Re-evaluating with nothing changed gives the same digests, so nothing is written.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::decision::{Decision, Explanation, Flag};
use super::message::ApplyPriceChange;
use crate::ops::outbox::{enqueue_many, WorkQueue};

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
    /// The explanation, rendered as people read it when the row is written (on the
    /// writing task, beside the deciding of the next page).
    pub explanation: Explanation,
    /// What the decision was reached from and came to.
    pub digest: Vec<u8>,
    /// The digest stored before: the row is taken only while it still holds.
    pub previous_digest: Option<Vec<u8>>,
}

impl DecisionRow {
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
    /// "Apply a price change" messages queued.
    pub apply_messages: u64,
    /// Decisions not stored because another evaluation stored one for the listing
    /// first.
    pub overtaken: u64,
}

impl std::ops::AddAssign for WriteTally {
    fn add_assign(&mut self, other: Self) {
        self.decisions += other.decisions;
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
    // The summaries are found by listing through its unique index, one probe per row.
    // Left to itself, the planner joins a page's 2,500 rows by hashing the whole table
    // instead (a sequential scan of every listing's summary, per page): on the price
    // benchmark's data, a page's update took 204 ms that way in `psql`, and 72 ms probed.
    sqlx::query!(
        "select set_config('enable_hashjoin', 'off', true) as hash,
                set_config('enable_mergejoin', 'off', true) as merge"
    )
    .fetch_one(&mut *tx)
    .await?;

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
    let digests: Vec<&[u8]> = rows.iter().map(|r| r.digest.as_slice()).collect();
    let previous_digests: Vec<Option<&[u8]>> =
        rows.iter().map(|r| r.previous_digest.as_deref()).collect();
    let currencies: Vec<&str> = rows.iter().map(|r| r.currency.as_str()).collect();
    let old_prices: Vec<Decimal> = rows.iter().map(|r| r.old_price).collect();
    let floors: Vec<Option<Decimal>> = rows.iter().map(|r| r.margin_floor_pct).collect();
    let modes: Vec<&str> = rows.iter().map(|r| r.mode.as_str()).collect();
    let explanations: Vec<String> = rows.iter().map(|r| r.explanation.to_string()).collect();

    // One statement: the summaries it takes, and a decision for each of them, inserted
    // from what the update returns (the page's arrays sent and read once).
    let taken: Vec<Uuid> = sqlx::query_scalar!(
        r#"with taken as (
               update pricing.current_prices cp set
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
                           $16::bytea[], $17::text[], $18::numeric[], $19::numeric[],
                           $20::text[], $21::text[])
                    as u(listing_id, decision_id, price, confidence, landed_cost, gross,
                         gross_pct, net, net_pct, referral, rule_id, bound, flag, digest,
                         previous_digest, currency, old_price, floor, mode, explanation)
               where cp.listing_id = u.listing_id
                 and cp.decision_digest is not distinct from u.previous_digest
               returning u.*
           ),
           decided as (
               insert into pricing.price_decisions
                   (id, listing_id, evaluated_at, currency, old_price, suggested_price, rule_id,
                    bound, flag, landed_cost, margin_floor_pct, gross_margin, gross_margin_pct,
                    net_margin, net_margin_pct, confidence, mode, explanation, digest)
               select decision_id, listing_id, $1, currency, old_price, price, rule_id,
                      bound, flag, landed_cost, floor, gross, gross_pct, net, net_pct,
                      confidence, mode, explanation, digest
               from taken
           )
           select listing_id as "listing_id!" from taken"#,
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
        &digests as _,
        &previous_digests as _,
        &currencies as _,
        &old_prices,
        &floors as _,
        &modes as _,
        &explanations,
    )
    .fetch_all(&mut *tx)
    .await?;

    let taken: std::collections::HashSet<Uuid> = taken.into_iter().collect();
    let messages: Vec<(String, serde_json::Value)> = rows
        .iter()
        .filter(|r| taken.contains(&r.listing_id) && r.applies())
        .map(|r| {
            let message = r.apply_message();
            (message.dedup_id(), message.to_json())
        })
        .collect();
    let tally = WriteTally {
        decisions: taken.len() as u64,
        apply_messages: enqueue_many(&mut tx, WorkQueue::Pricing, &messages).await?,
        overtaken: (rows.len() - taken.len()) as u64,
    };

    tx.commit().await?;
    Ok(tally)
}
