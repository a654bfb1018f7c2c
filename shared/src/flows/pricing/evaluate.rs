//! One evaluation run: load a page of listings, decide each, write what changed, next
//! page.
//!
//! Settings and rules are read once per run. Listings are worked through in pages
//! ([`EvaluationOptions::page_size`]), each decided at once and written in one
//! transaction ([`super::write`]); a page's facts and decisions are dropped before the
//! next page is decided.
//!
//! A full run reads everything up front, one query each: every listing, kept compact
//! ([`super::load::Catalogue`]) until its page is decided, while the landed cost of
//! every variant and then the offers on every tracked listing are read on a second
//! connection. Given listings are read a
//! page at a time, a few queries per page ([`super::load`]). Pages are written on
//! connections of their own while the next page is loaded and decided, as many at once
//! as the pool has connections besides the one that loads.
//!
//! A scheduled full run ([`Selection::AllUnlessUnchanged`]) first asks whether anything
//! it reads changed since the last complete full run ([`super::unchanged`]); when
//! nothing did, it stops there.
//!
//! Each listing is decided against the rules in its scope only, so that its
//! explanation lists what concerns it; listings with the same rules in scope share one
//! [`RuleBook`] (their windows worked out once).
//!
//! # What is written
//!
//! A decision's digest is a SHA-256 over what it was reached from and came to: the
//! current and regular price, the landed cost, the bounds, the margin floor and where it
//! came from, the proposal and the rule that made it, the decided price, the bound and
//! the flag, the mode (suggest or apply) and the currency. When it equals the digest
//! stored for the listing, nothing is written; otherwise the decision is written, its
//! explanation rendered by the task that writes it, beside the deciding of the next page
//! ([`super::write`]).

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::decision::{decide, Decision, MarginFloorSource, Offer, RuleBook};
use super::landed_cost::load_all_landed_costs;
use super::load::{
    load_all_offers, load_catalogue, load_landed_costs, load_listings, load_offers, load_rules,
    load_settings, Catalogue, LandedCosts, LoadError, LoadedListing, LoadedRule, PricingSettings,
};
use super::unchanged::{self, unchanged_until};
use super::write::{confidence, flag_name, write_decisions, DecisionRow, Mode, WriteTally};
use crate::ops::errors::ProcessError;

/// Which listings to evaluate.
#[derive(Debug, Clone, Copy)]
pub enum Selection<'a> {
    /// Every active listing with a current price.
    All,
    /// Every active listing with a current price, unless nothing the run reads changed
    /// since the last complete full run ([`super::unchanged`]): the schedule's.
    AllUnlessUnchanged,
    /// These listings (those not active or without a current price are passed over).
    Listings(&'a [Uuid]),
}

/// How a run is paged and when it stops.
#[derive(Debug, Clone, Copy)]
pub struct EvaluationOptions {
    /// Listings loaded, decided and written at once.
    pub page_size: usize,
    /// No page starts once less than `page_time` is left before this.
    pub deadline: Option<Instant>,
    /// What one page may take at worst.
    pub page_time: Duration,
}

impl Default for EvaluationOptions {
    fn default() -> Self {
        Self {
            page_size: DEFAULT_PAGE_SIZE,
            deadline: None,
            page_time: Duration::ZERO,
        }
    }
}

/// Listings per page: large enough that a full run is a few dozen statements, small
/// enough that a page's explanations stay a few megabytes.
pub const DEFAULT_PAGE_SIZE: usize = 2_500;

/// Time spent in each phase of a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PhaseTimes {
    /// Reading settings, rules, listings, costs and offers.
    pub load: Duration,
    /// Deciding and digesting.
    pub evaluate: Duration,
    /// Rendering explanations and writing decisions, summaries and outbox rows, as far
    /// as the run waits for it.
    pub write: Duration,
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct EvaluationReport {
    /// Listings decided.
    pub listings: u64,
    /// Listings whose decision was the same as stored: nothing written.
    pub unchanged: u64,
    /// Whether a full run stopped at once, nothing it reads having changed since the
    /// last complete one ([`super::unchanged`]): no listing loaded, nothing written.
    pub nothing_changed: bool,
    /// Rows written, by table.
    pub written: WriteTally,
    /// Listings left at their price for want of a landed cost.
    pub no_landed_cost: u64,
    /// Listings whose bounds cannot all hold.
    pub bounds_conflicts: u64,
    /// Listings whose landed cost is in another currency than their price (decided as
    /// without a landed cost).
    pub currency_mismatches: u64,
    /// Listings on a channel with no fees in the settings: not decided.
    pub without_fees: u64,
    /// Active rules left out because their config cannot be read.
    pub unreadable_rules: u64,
    /// Whether the run stopped short of time before every page (the next run covers the
    /// rest).
    pub stopped_short: bool,
    /// Time by phase.
    pub times: PhaseTimes,
}

impl EvaluationReport {
    /// Rows written in all.
    pub fn rows_written(&self) -> u64 {
        self.written.decisions + self.written.apply_messages
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum EvaluationError {
    /// Loading failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Writing failed.
    #[error("writing price decisions")]
    Write(#[source] sqlx::Error),
}

impl From<sqlx::Error> for EvaluationError {
    fn from(err: sqlx::Error) -> Self {
        EvaluationError::Load(LoadError::Database(err))
    }
}

impl From<EvaluationError> for ProcessError {
    fn from(err: EvaluationError) -> Self {
        match err {
            EvaluationError::Load(LoadError::Database(db)) => {
                ProcessError::database("loading what prices are decided from", db)
            }
            EvaluationError::Write(db) => ProcessError::database("writing price decisions", db),
            EvaluationError::Load(LoadError::Setting(setting)) => ProcessError::Permanent {
                reason: format!("prices cannot be evaluated: {setting}"),
                source: None,
            },
        }
    }
}

/// Evaluates the `selection` at `now`: see the module doc.
pub async fn evaluate_prices(
    pool: &PgPool,
    selection: Selection<'_>,
    now: DateTime<Utc>,
    options: EvaluationOptions,
) -> Result<EvaluationReport, EvaluationError> {
    let mut report = EvaluationReport::default();
    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    let given = match selection {
        Selection::Listings(ids) => Some(ids),
        Selection::All | Selection::AllUnlessUnchanged => None,
    };
    // Taken first: a change committed after this counts as new for the next run.
    let since = match given {
        None => Some(unchanged::check(&mut conn, now).await?),
        Some(_) => None,
    };
    let skip_unchanged = matches!(selection, Selection::AllUnlessUnchanged);
    if skip_unchanged && since.as_ref().is_some_and(|since| since.nothing_changed) {
        report.nothing_changed = true;
        report.times.load += started.elapsed();
        return Ok(report);
    }
    let settings = load_settings(&mut conn).await?;
    let rules = load_rules(&mut conn).await?;
    report.unreadable_rules = rules.problems.len() as u64;
    let until = unchanged_until(&rules.rules, now, settings.time_zone);
    let mut books = RuleBooks::new(rules.rules, now, &settings);
    // A full run costs every variant in one pass over the bills of materials, and
    // reads every tracked listing's offers in one query; a few listings cost and read
    // only their own, page by page.
    let (all_costs, all_offers, catalogue) = match given {
        None => {
            let (costs, offers, catalogue) =
                load_everything(pool, &mut conn, now, &settings.own_seller_ids).await?;
            (Some(costs), Some(offers), Some(catalogue))
        }
        Some(_) => (None, None, None),
    };
    report.times.load += started.elapsed();

    // Pages are written on connections of their own while the next one is loaded and
    // decided: as many at once as the pool has connections to spare.
    let writers = pool.options().get_max_connections().saturating_sub(1) as usize;
    let mut writing: VecDeque<JoinHandle<Result<WriteTally, sqlx::Error>>> = VecDeque::new();
    let page_size = options.page_size.max(1);
    let mut next = 0;
    let mut given = given.map(|ids| ids.chunks(page_size));
    loop {
        if options.deadline.is_some_and(|deadline| {
            deadline.saturating_duration_since(Instant::now()) < options.page_time
        }) {
            report.stopped_short = true;
            break;
        }
        let started = Instant::now();
        let mut listings = match (&catalogue, &mut given) {
            (Some(catalogue), _) => {
                if next >= catalogue.len() {
                    break;
                }
                let end = catalogue.len().min(next + page_size);
                let page = catalogue.page(next..end);
                next = end;
                page
            }
            (None, Some(chunks)) => match chunks.next() {
                Some(ids) => load_listings(&mut conn, ids).await?,
                None => break,
            },
            (None, None) => break,
        };
        let page_costs;
        let costs = match &all_costs {
            Some(costs) => costs,
            None => {
                let variants: Vec<Uuid> = listings.iter().map(|l| l.variant_id).collect();
                page_costs = load_landed_costs(&mut conn, now, Some(&variants)).await?;
                &page_costs
            }
        };
        for listing in &mut listings {
            listing.cost_with(costs);
        }
        let page_offers;
        let offers = match &all_offers {
            Some(offers) => offers,
            None => {
                let ids: Vec<Uuid> = listings.iter().map(|l| l.listing_id).collect();
                page_offers = load_offers(&mut conn, &ids, &settings.own_seller_ids).await?;
                &page_offers
            }
        };
        report.times.load += started.elapsed();

        let started = Instant::now();
        let rows = decide_page(&mut books, &settings, &listings, offers, &mut report);
        drop(listings);
        report.times.evaluate += started.elapsed();

        let started = Instant::now();
        if writers > 0 && !rows.is_empty() {
            if writing.len() >= writers {
                if let Some(write) = writing.pop_front() {
                    report.written += written(write).await?;
                }
            }
            let pool = pool.clone();
            writing.push_back(tokio::spawn(async move {
                let mut conn = pool.acquire().await?;
                write_decisions(&mut conn, now, &rows).await
            }));
        } else {
            report.written += write_decisions(&mut conn, now, &rows)
                .await
                .map_err(EvaluationError::Write)?;
        }
        report.times.write += started.elapsed();
    }
    let started = Instant::now();
    for write in writing {
        report.written += written(write).await?;
    }
    if let Some(since) = since.filter(|_| !report.stopped_short) {
        unchanged::record_complete(&mut conn, &since, until)
            .await
            .map_err(EvaluationError::Write)?;
    }
    report.times.write += started.elapsed();
    Ok(report)
}

/// What a full run reads up front: every variant's landed cost, the offers on every
/// tracked listing, and every listing. The listings are read on `conn` while the costs
/// and then the offers are read on a second connection (the two take about as long as
/// the listings); one after the other on `conn` when the pool has no second one.
async fn load_everything(
    pool: &PgPool,
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    own_seller_ids: &[String],
) -> Result<(LandedCosts, HashMap<Uuid, Vec<Offer>>, Catalogue), sqlx::Error> {
    if pool.options().get_max_connections() < 2 {
        return Ok((
            load_all_landed_costs(conn, now).await?,
            load_all_offers(conn, own_seller_ids).await?,
            load_catalogue(conn).await?,
        ));
    }
    let costs_and_offers = tokio::spawn({
        let pool = pool.clone();
        let own_seller_ids = own_seller_ids.to_vec();
        async move {
            let mut conn = pool.acquire().await?;
            let costs = load_all_landed_costs(&mut conn, now).await?;
            let offers = load_all_offers(&mut conn, &own_seller_ids).await?;
            Ok::<_, sqlx::Error>((costs, offers))
        }
    });
    let catalogue = load_catalogue(conn).await?;
    let (costs, offers) = joined(costs_and_offers).await?;
    Ok((costs, offers, catalogue))
}

/// The outcome of a spawned task; its panic goes on in the caller.
async fn joined<T>(task: JoinHandle<T>) -> T {
    task.await
        .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))
}

/// Waits for one page's write, on its own connection, and tells what it wrote.
async fn written(
    write: JoinHandle<Result<WriteTally, sqlx::Error>>,
) -> Result<WriteTally, EvaluationError> {
    joined(write).await.map_err(EvaluationError::Write)
}

/// Decides every listing of a page and returns the rows to write: those whose digest
/// changed.
fn decide_page(
    books: &mut RuleBooks,
    settings: &PricingSettings,
    listings: &[LoadedListing],
    offers: &HashMap<Uuid, Vec<super::decision::Offer>>,
    report: &mut EvaluationReport,
) -> Vec<DecisionRow> {
    let mut rows = Vec::new();
    let mut text = String::new();
    for listing in listings {
        let Some(fees) = settings.fees.get(&listing.channel) else {
            report.without_fees += 1;
            tracing::warn!(listing_id = %listing.listing_id, channel = %listing.channel,
                "listing not priced: no fees for its channel in setting pricing.channel_fees");
            continue;
        };
        report.listings += 1;
        if listing.landed_cost_currency_differs {
            report.currency_mismatches += 1;
        }
        let (book, apply_rules) = books.for_listing(listing);
        let no_offers = Vec::new();
        let listing_offers = offers.get(&listing.listing_id).unwrap_or(&no_offers);
        let decision = decide(
            book,
            &listing.facts,
            listing_offers,
            fees,
            settings.default_margin_floor_pct,
        );
        match decision.flag.map(|flag| flag.as_str()) {
            Some("no_landed_cost") => report.no_landed_cost += 1,
            Some(_) => report.bounds_conflicts += 1,
            None => {}
        }
        let rule_id = decision
            .rule
            .as_deref()
            .and_then(|id| Uuid::parse_str(id).ok());
        let mode = if listing.apply_enabled
            || rule_id.is_some_and(|id| apply_rules.get(&id).copied().unwrap_or(false))
        {
            Mode::Apply
        } else {
            Mode::Suggest
        };
        let digest = digest_of(&decision, listing, mode, &mut text);
        if listing.previous_digest.as_deref() == Some(digest.as_slice()) {
            report.unchanged += 1;
            continue;
        }
        rows.push(row_of(listing, decision, rule_id, mode, digest, fees));
    }
    rows
}

fn row_of(
    listing: &LoadedListing,
    decision: Decision,
    rule_id: Option<Uuid>,
    mode: Mode,
    digest: Vec<u8>,
    fees: &super::margin::ChannelFees,
) -> DecisionRow {
    let margins = decision.explanation.new_margins;
    let referral_fee =
        super::margin::half_up_to_cent(decision.price * fees.referral_pct() / Decimal::ONE_HUNDRED);
    DecisionRow {
        decision_id: Uuid::now_v7(),
        listing_id: listing.listing_id,
        channel: listing.channel.clone(),
        currency: listing.currency.clone(),
        old_price: listing.facts.current_price,
        price: decision.price,
        rule_id,
        bound: decision.bound.map(|bound| bound.as_str()),
        flag: flag_name(decision.flag),
        landed_cost: listing.facts.landed_cost,
        margin_floor_pct: decision.explanation.margin_floor.as_ref().map(|f| f.pct),
        gross_margin: margins.map(|m| m.gross),
        gross_margin_pct: margins.and_then(|m| m.gross_pct),
        net_margin: margins.map(|m| m.net),
        net_margin_pct: margins.and_then(|m| m.net_pct),
        referral_fee,
        confidence: confidence(&decision),
        mode,
        explanation: decision.explanation,
        digest,
        previous_digest: listing.previous_digest.clone(),
    }
}

/// The decision's digest (see the module doc); `text` is a reused buffer.
fn digest_of(
    decision: &Decision,
    listing: &LoadedListing,
    mode: Mode,
    text: &mut String,
) -> Vec<u8> {
    let facts = &listing.facts;
    let explanation = &decision.explanation;
    let opt = |value: Option<Decimal>| value.map(|v| v.normalize().to_string()).unwrap_or_default();
    text.clear();
    let _ = write!(
        text,
        "v1|{}|{}|{}|{}|{}|{}|{}|",
        listing.currency,
        facts.current_price.normalize(),
        facts.regular_price.normalize(),
        opt(facts.landed_cost),
        opt(facts.min_price),
        opt(facts.max_price),
        mode.as_str(),
    );
    if let Some(floor) = &explanation.margin_floor {
        let source = match &floor.source {
            MarginFloorSource::Listing => "listing",
            MarginFloorSource::Rule(id) => id.as_str(),
            MarginFloorSource::Default => "default",
        };
        let _ = write!(
            text,
            "{}@{source}@{}|",
            floor.pct.normalize(),
            opt(floor.floor_price)
        );
    }
    let _ = write!(
        text,
        "{}|{}|{}|{}|{}|{}",
        explanation.proposal.0.normalize(),
        explanation.proposal.1.as_deref().unwrap_or(""),
        decision.price.normalize(),
        decision.rule.as_deref().unwrap_or(""),
        decision.bound.map_or("", |b| b.as_str()),
        decision.flag.map_or("", |f| f.as_str()),
    );
    Sha256::digest(text.as_bytes()).to_vec()
}

/// The rule books of a run, one per set of rules in scope.
struct RuleBooks {
    rules: Vec<LoadedRule>,
    now: DateTime<Utc>,
    time_zone: chrono_tz::Tz,
    books: HashMap<Vec<u32>, RuleBook>,
    /// Whether each rule applies its prices.
    apply: HashMap<Uuid, bool>,
}

impl RuleBooks {
    fn new(rules: Vec<LoadedRule>, now: DateTime<Utc>, settings: &PricingSettings) -> Self {
        let apply = rules
            .iter()
            .filter_map(|loaded| {
                Uuid::parse_str(&loaded.rule.id)
                    .ok()
                    .map(|id| (id, loaded.apply_enabled))
            })
            .collect();
        Self {
            rules,
            now,
            time_zone: settings.time_zone,
            books: HashMap::new(),
            apply,
        }
    }

    /// The book of the rules whose scope covers `listing`, and which rules apply.
    fn for_listing(&mut self, listing: &LoadedListing) -> (&RuleBook, &HashMap<Uuid, bool>) {
        let facts = &listing.facts;
        let in_scope: Vec<u32> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, loaded)| {
                loaded
                    .rule
                    .scope
                    .covers(&facts.id, facts.category.as_deref(), &facts.tags)
            })
            .map(|(index, _)| index as u32)
            .collect();
        let (rules, now, time_zone) = (&self.rules, self.now, self.time_zone);
        let book = self.books.entry(in_scope).or_insert_with_key(|in_scope| {
            let chosen = in_scope
                .iter()
                .map(|index| rules[*index as usize].rule.clone())
                .collect();
            RuleBook::new(chosen, now, time_zone)
        });
        (book, &self.apply)
    }
}
