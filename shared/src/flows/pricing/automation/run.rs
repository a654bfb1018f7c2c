//! Running the automation rules after an evaluation: the listings' figures as the
//! evaluation left them, loaded in one query, the competitor alerts of the change being
//! handled beside them, and the firings written (see [`super::firing`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::PgPool;
use uuid::Uuid;

use super::firing::{fire, load_automation_rules, FiringOutcome};
use super::trigger::{plan_firings, CompetitorSignal, ListingSignals};
use crate::flows::pricing::load::{load_settings, LoadError};
use crate::ops::errors::ProcessError;

/// What a run of the automation rules did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutomationReport {
    /// Active rules that ran.
    pub rules: usize,
    /// Stored rules that no longer read, left out (each logged).
    pub unreadable_rules: usize,
    /// The firings, and those held back.
    pub firings: FiringOutcome,
}

/// What automation rules see of `listing_ids` (every priced listing when `None`): the
/// suggested price (the current price before any decision), its margins, stock,
/// category, tags and the lowest in-stock competing offer. `competitor_alerts` are the
/// alerts just raised, by listing.
///
/// # Errors
/// Database failures.
pub async fn load_listing_signals(
    pool: &PgPool,
    listing_ids: Option<&[Uuid]>,
    competitor_alerts: &HashMap<Uuid, Vec<CompetitorSignal>>,
) -> Result<Vec<ListingSignals>, ProcessError> {
    let rows = sqlx::query!(
        r#"select l.id as "listing_id!",
                  l.shop_sku as "sku!",
                  l.channel_product_id,
                  l.channel::text as "channel!",
                  product.category,
                  product.tags as "tags!",
                  coalesce(stock.available, 0)::bigint as "stock!",
                  coalesce(cp.optimal_price, cp.price) as "price!",
                  cp.net_margin_pct,
                  cp.gross_margin_pct,
                  (select min(o.landed_price)
                   from competitors.tracked_listings t
                   join competitors.offers o on o.competitor_id = t.competitor_id
                   where t.listing_id = l.id and o.in_stock and not o.is_own
                     and o.item_condition = lower(l.condition_type)
                     and o.currency = cp.currency) as lowest_competing_price
           from catalog.shop_sku_map l
           join pricing.current_prices cp on cp.listing_id = l.id
           join catalog.product_variants variant on variant.id = l.variant_id
           join catalog.products product on product.id = variant.product_id
           left join inventory.stock_levels stock on stock.variant_id = l.variant_id
           where l.listing_status = 'active'
             and ($1::uuid[] is null or l.id = any($1))
           order by l.id"#,
        listing_ids as Option<&[Uuid]>,
    )
    .fetch_all(pool)
    .await
    .map_err(|err| ProcessError::database("loading the listings' figures for automation", err))?;
    Ok(rows
        .into_iter()
        .map(|row| ListingSignals {
            competitor_alerts: competitor_alerts
                .get(&row.listing_id)
                .cloned()
                .unwrap_or_default(),
            listing_id: row.listing_id,
            sku: row.sku,
            channel_product_id: row.channel_product_id,
            channel: row.channel,
            category: row.category,
            tags: row.tags,
            stock: row.stock,
            price: row.price,
            net_margin_pct: row.net_margin_pct,
            gross_margin_pct: row.gross_margin_pct,
            lowest_competing_price: row.lowest_competing_price,
        })
        .collect())
}

/// Runs the active automation rules over `listing_ids` (every priced listing when
/// `None`) at `now`, days counted in the seller's time zone (`pricing.time_zone`).
/// Without active rules nothing else is read.
///
/// # Errors
/// Database failures.
pub async fn run_automation(
    pool: &PgPool,
    listing_ids: Option<&[Uuid]>,
    competitor_alerts: &HashMap<Uuid, Vec<CompetitorSignal>>,
    now: DateTime<Utc>,
) -> Result<AutomationReport, ProcessError> {
    let (rules, invalid) = load_automation_rules(pool).await?;
    for (rule_id, err) in &invalid {
        tracing::warn!(%rule_id, error = %err, "automation rule left out: it does not read");
    }
    let mut report = AutomationReport {
        rules: rules.len(),
        unreadable_rules: invalid.len(),
        firings: FiringOutcome::default(),
    };
    if rules.is_empty() || listing_ids.is_some_and(<[Uuid]>::is_empty) {
        return Ok(report);
    }
    let time_zone = seller_time_zone(pool).await?;
    let listings = load_listing_signals(pool, listing_ids, competitor_alerts).await?;
    let planned = plan_firings(&rules, &listings);
    report.firings = fire(pool, &planned, now, time_zone).await?;
    tracing::info!(
        rules = report.rules,
        listings = listings.len(),
        fired = report.firings.fired.len(),
        held_by_cooldown = report.firings.held_by_cooldown,
        held_by_daily_limit = report.firings.held_by_daily_limit,
        "automation rules run"
    );
    Ok(report)
}

async fn seller_time_zone(pool: &PgPool) -> Result<Tz, ProcessError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|err| ProcessError::database("reading the seller's time zone", err))?;
    let settings = load_settings(&mut conn).await.map_err(|err| match err {
        LoadError::Database(err) => ProcessError::database("reading the seller's time zone", err),
        LoadError::Setting(err) => ProcessError::permanent(err.to_string()),
    })?;
    Ok(settings.time_zone)
}
