//! Loading what the decision needs, set-based: a few queries for many listings.
//!
//! - [`load_settings`]: the seller's time zone, the default margin floor, each channel's
//!   fees and the seller's own marketplace ids (`ops.settings`).
//! - [`load_rules`]: the active price rules, read with [`PriceRule::parse`]; a stored
//!   rule whose config cannot be read is reported as a [`RuleProblem`] (and kept on the
//!   rule, `pricing.price_rules.config_problem`), never a failed evaluation.
//! - [`load_listings`] (a page), [`load_catalogue`] (all, compact): active listings with
//!   their current price, bounds,
//!   margin floor, stock, category, tags, channel, landed cost at the evaluation time
//!   (`inventory.landed_costs_at`) and what was decided for them last time.
//! - [`load_offers`], [`load_all_offers`]: the offers on those listings' products (`competitors.*`), the
//!   seller's own flagged.
//!
//! A listing is priced when it is active and has a row in `pricing.current_prices`
//! (its current price); others are not read.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::TryStreamExt;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::decimal_from_json;
use super::decision::{ListingFacts, Offer};
use super::margin::ChannelFees;
use super::rules::{PriceRule, RuleDefinition};
use super::schedule::parse_time_zone;

/// The settings key of the default margin floor, a fraction of the price (`0.20`).
pub const DEFAULT_MARGIN_FLOOR_KEY: &str = "pricing.default_margin_floor";
/// The settings key of the seller's IANA time zone.
pub const TIME_ZONE_KEY: &str = "pricing.time_zone";
/// The settings key of the channels' fees: `{"amazon": {"referral_pct": "15", "fixed": "0"}, …}`.
pub const CHANNEL_FEES_KEY: &str = "pricing.channel_fees";
/// The settings key of the seller's own marketplace ids: `["A3TH9S8BH6GOGM", …]`.
pub const OWN_SELLER_IDS_KEY: &str = "pricing.own_seller_ids";

/// The margin floor when the settings have none: seed 002's 20 %.
const FALLBACK_MARGIN_FLOOR_PCT: Decimal = Decimal::from_parts(20, 0, 0, false, 0);

/// What the evaluation reads from `ops.settings`.
#[derive(Debug, Clone)]
pub struct PricingSettings {
    /// Where time-based rules' schedules are read.
    pub time_zone: Tz,
    /// The margin floor when neither the listing nor a rule sets one, as a percentage
    /// (the setting holds a fraction: 0.20 is 20 %).
    pub default_margin_floor_pct: Decimal,
    /// Fees by channel (`amazon`, `bestbuy_ca`…); a listing on a channel without fees
    /// is not priced.
    pub fees: HashMap<String, ChannelFees>,
    /// The seller's own ids on the marketplaces: their offers never compete.
    pub own_seller_ids: Vec<String>,
}

/// A setting that cannot be read: the evaluation cannot go on without it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting {key}: {problem}")]
pub struct InvalidSetting {
    /// The `ops.settings` key.
    pub key: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// Why loading failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The database failed.
    #[error("loading prices' facts")]
    Database(#[from] sqlx::Error),
    /// A setting cannot be read.
    #[error(transparent)]
    Setting(#[from] InvalidSetting),
}

/// Reads the pricing settings. Missing keys take their defaults (UTC, 20 %, no fees, no
/// own ids); a value that is there but cannot be read is refused, naming the key.
pub async fn load_settings(conn: &mut PgConnection) -> Result<PricingSettings, LoadError> {
    let rows = sqlx::query!(
        "select key, value from ops.settings where key = any($1)",
        &[
            DEFAULT_MARGIN_FLOOR_KEY,
            TIME_ZONE_KEY,
            CHANNEL_FEES_KEY,
            OWN_SELLER_IDS_KEY
        ] as &[&str],
    )
    .fetch_all(conn)
    .await?;
    let values: HashMap<String, Value> = rows.into_iter().map(|row| (row.key, row.value)).collect();
    Ok(PricingSettings::read(&values)?)
}

impl PricingSettings {
    /// The settings from their stored values, by key.
    pub fn read(values: &HashMap<String, Value>) -> Result<Self, InvalidSetting> {
        let problem = |key: &'static str, problem: String| InvalidSetting { key, problem };
        let time_zone = match values.get(TIME_ZONE_KEY) {
            None => Tz::UTC,
            Some(Value::String(name)) => {
                parse_time_zone(name).map_err(|err| problem(TIME_ZONE_KEY, err.to_string()))?
            }
            Some(other) => {
                return Err(problem(
                    TIME_ZONE_KEY,
                    format!("must be a time zone name, got {other}"),
                ))
            }
        };
        let default_margin_floor_pct = match values.get(DEFAULT_MARGIN_FLOOR_KEY) {
            None => FALLBACK_MARGIN_FLOOR_PCT,
            Some(value) => {
                let fraction = decimal_from_json(value)
                    .map_err(|err| problem(DEFAULT_MARGIN_FLOOR_KEY, err))?;
                if fraction < Decimal::ZERO || fraction >= Decimal::ONE {
                    return Err(problem(
                        DEFAULT_MARGIN_FLOOR_KEY,
                        format!("must be a fraction of the price from 0 to below 1 (0.20 for 20%), got {fraction}"),
                    ));
                }
                fraction * Decimal::ONE_HUNDRED
            }
        };
        let mut fees = HashMap::new();
        match values.get(CHANNEL_FEES_KEY) {
            None => {}
            Some(Value::Object(channels)) => {
                for (channel, fee) in channels {
                    let amount = |field: &str| -> Result<Decimal, InvalidSetting> {
                        fee.get(field).map_or(Ok(Decimal::ZERO), |value| {
                            decimal_from_json(value).map_err(|err| {
                                problem(CHANNEL_FEES_KEY, format!("{channel}.{field}: {err}"))
                            })
                        })
                    };
                    let channel_fees = ChannelFees::new(amount("referral_pct")?, amount("fixed")?)
                        .map_err(|err| problem(CHANNEL_FEES_KEY, format!("{channel}: {err}")))?;
                    fees.insert(channel.clone(), channel_fees);
                }
            }
            Some(other) => {
                return Err(problem(
                    CHANNEL_FEES_KEY,
                    format!("must be an object of channels, got {other}"),
                ))
            }
        }
        let own_seller_ids = match values.get(OWN_SELLER_IDS_KEY) {
            None => Vec::new(),
            Some(Value::Array(ids)) => ids
                .iter()
                .map(|id| match id {
                    Value::String(id) => Ok(id.clone()),
                    other => Err(problem(
                        OWN_SELLER_IDS_KEY,
                        format!("must be a list of seller ids as strings, got {other}"),
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(problem(
                    OWN_SELLER_IDS_KEY,
                    format!("must be a list of seller ids, got {other}"),
                ))
            }
        };
        Ok(Self {
            time_zone,
            default_margin_floor_pct,
            fees,
            own_seller_ids,
        })
    }
}

/// An active rule, read.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    /// The rule.
    pub rule: PriceRule,
    /// Whether prices it sets go out to the channel.
    pub apply_enabled: bool,
}

/// A stored rule that cannot be read: the evaluation goes on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// The rule's id.
    pub rule_id: Uuid,
    /// Its name, for people.
    pub name: String,
    /// What is wrong, naming the rule type and the field.
    pub problem: String,
    /// The config as stored.
    pub config: Value,
}

/// The active rules, and those that could not be read.
#[derive(Debug, Clone, Default)]
pub struct LoadedRules {
    /// Readable rules, in no particular order (the rule book sorts them).
    pub rules: Vec<LoadedRule>,
    /// Rules left out, with why.
    pub problems: Vec<RuleProblem>,
}

/// Reads every active rule. A rule that does not parse is left out and reported, and
/// its problem kept on the rule (`config_problem`) for a person; a rule that reads again
/// has it cleared.
pub async fn load_rules(conn: &mut PgConnection) -> Result<LoadedRules, sqlx::Error> {
    let rows = sqlx::query!(
        "select id, name, priority, applies_to, scope_value, rule_type, config, apply_enabled
         from pricing.price_rules
         where is_active
         order by priority desc, id"
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut loaded = LoadedRules::default();
    for row in rows {
        let id = row.id.to_string();
        let definition = RuleDefinition {
            id: &id,
            priority: row.priority,
            is_active: true,
            applies_to: &row.applies_to,
            scope_value: row.scope_value.as_deref(),
            rule_type: &row.rule_type,
            config: &row.config,
        };
        match PriceRule::parse(&definition) {
            Ok(rule) => loaded.rules.push(LoadedRule {
                rule,
                apply_enabled: row.apply_enabled,
            }),
            Err(err) => loaded.problems.push(RuleProblem {
                rule_id: row.id,
                name: row.name,
                problem: err.to_string(),
                config: row.config,
            }),
        }
    }
    record_rule_problems(conn, &loaded).await?;
    Ok(loaded)
}

/// Keeps each rule's `config_problem` in step: set (with when it was first seen) on a
/// rule that cannot be read, cleared once it reads.
async fn record_rule_problems(
    conn: &mut PgConnection,
    loaded: &LoadedRules,
) -> Result<(), sqlx::Error> {
    for problem in &loaded.problems {
        tracing::warn!(rule_id = %problem.rule_id, rule = %problem.name, problem = %problem.problem,
            "price rule left out: its config cannot be read");
    }
    let ids: Vec<Uuid> = loaded.problems.iter().map(|p| p.rule_id).collect();
    let details: Vec<String> = loaded
        .problems
        .iter()
        .map(|p| format!("left out of every evaluation: {}", p.problem))
        .collect();
    sqlx::query!(
        "update pricing.price_rules r
         set config_problem = n.detail,
             config_problem_seen_at = coalesce(r.config_problem_seen_at, now())
         from unnest($1::uuid[], $2::text[]) as n(id, detail)
         where r.id = n.id and r.config_problem is distinct from n.detail",
        &ids,
        &details,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update pricing.price_rules
         set config_problem = null, config_problem_seen_at = null
         where config_problem is not null and is_active and not (id = any($1))",
        &ids,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One listing as loaded for pricing.
#[derive(Debug, Clone)]
pub struct LoadedListing {
    /// `catalog.shop_sku_map.id`.
    pub listing_id: Uuid,
    /// The variant it sells, whose landed cost it has.
    pub variant_id: Uuid,
    /// The channel it sells on (`amazon`, `bestbuy_ca`…), for its fees.
    pub channel: String,
    /// The currency of its prices.
    pub currency: String,
    /// Whether its decided prices go out to the channel.
    pub apply_enabled: bool,
    /// The facts the decision reads. The landed cost is `None` when none is known at
    /// the evaluation time, or when it is in another currency than the listing's.
    pub facts: ListingFacts,
    /// The landed cost is known but in another currency than the listing's.
    pub landed_cost_currency_differs: bool,
    /// The digest of the decision stored last time (`pricing.current_prices`): the
    /// same digest again means nothing to write.
    pub previous_digest: Option<Vec<u8>>,
}

impl LoadedListing {
    /// Sets the landed cost from `costs`: none when the variant has none, or when it is
    /// in another currency than the listing's prices.
    pub fn cost_with(&mut self, costs: &LandedCosts) {
        let cost = costs.get(&self.variant_id);
        self.landed_cost_currency_differs =
            cost.is_some_and(|cost| cost.amount.is_some() && cost.currency != self.currency);
        self.facts.landed_cost = cost
            .filter(|_| !self.landed_cost_currency_differs)
            .and_then(|cost| cost.amount);
    }
}

/// A variant's landed cost at the evaluation time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandedCost {
    /// `None` when a part has no valid price (see `inventory.landed_costs_at`).
    pub amount: Option<Decimal>,
    /// The parts' currency.
    pub currency: String,
}

/// Landed costs by variant id.
pub type LandedCosts = HashMap<Uuid, LandedCost>;

/// The landed costs at `now` of `variant_ids`, or of every variant (one pass over the
/// bills of materials, for a full evaluation), from `inventory.landed_costs_at`.
pub async fn load_landed_costs(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    variant_ids: Option<&[Uuid]>,
) -> Result<LandedCosts, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select variant_id as "variant_id!", estimated_landed_cost,
                  currency::text as "currency!"
           from inventory.landed_costs_at($1, $2)
           where currency is not null"#,
        now,
        variant_ids as Option<&[Uuid]>,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            (
                row.variant_id,
                LandedCost {
                    amount: row.estimated_landed_cost,
                    currency: row.currency,
                },
            )
        })
        .collect())
}

/// One listing's row as the listing queries return it.
struct ListingRow {
    listing_id: Uuid,
    channel: String,
    currency: String,
    current_price: Decimal,
    regular_price: Decimal,
    min_price: Option<Decimal>,
    max_price: Option<Decimal>,
    margin_floor_pct: Option<Decimal>,
    apply_enabled: bool,
    stock: i64,
    category: Option<String>,
    tags: Vec<String>,
    variant_id: Uuid,
    previous_digest: Option<Vec<u8>>,
}

impl From<ListingRow> for LoadedListing {
    fn from(row: ListingRow) -> Self {
        LoadedListing {
            listing_id: row.listing_id,
            variant_id: row.variant_id,
            facts: ListingFacts {
                id: row.listing_id.to_string(),
                current_price: row.current_price,
                regular_price: row.regular_price,
                landed_cost: None,
                min_price: row.min_price,
                max_price: row.max_price,
                margin_floor_pct: row.margin_floor_pct,
                stock: row.stock,
                category: row.category,
                tags: row.tags,
            },
            channel: row.channel,
            currency: row.currency,
            apply_enabled: row.apply_enabled,
            landed_cost_currency_differs: false,
            previous_digest: row.previous_digest,
        }
    }
}

/// Loads the given listings (those active and priced) in one query, without their
/// landed costs: see [`load_landed_costs`] and [`LoadedListing::cost_with`].
pub async fn load_listings(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<LoadedListing>, sqlx::Error> {
    let rows = sqlx::query_as!(
        ListingRow,
        r#"with page as (
               select l.id, l.channel::text as channel, l.variant_id, cp.currency, cp.price,
                      cp.regular_price, cp.min_price, cp.max_price, cp.margin_floor_pct,
                      cp.apply_enabled, cp.decision_digest
               from catalog.shop_sku_map l
               join pricing.current_prices cp on cp.listing_id = l.id
               where l.listing_status = 'active' and l.id = any($1)
           )
           select page.id as "listing_id!",
                  page.channel as "channel!",
                  page.currency::text as "currency!",
                  page.price as "current_price!",
                  coalesce(page.regular_price, page.price) as "regular_price!",
                  page.min_price,
                  page.max_price,
                  page.margin_floor_pct,
                  page.apply_enabled as "apply_enabled!",
                  coalesce(stock.available, 0)::bigint as "stock!",
                  product.category,
                  product.tags as "tags!",
                  page.variant_id as "variant_id!",
                  page.decision_digest as previous_digest
           from page
           -- One index lookup per listing of the page (`offset 0` keeps each a
           -- lookup): joined as hashes, each page read the whole of the three
           -- tables.
           cross join lateral (
               select v.product_id from catalog.product_variants v
               where v.id = page.variant_id offset 0
           ) variant
           cross join lateral (
               select p.category, p.tags from catalog.products p
               where p.id = variant.product_id offset 0
           ) product
           left join lateral (
               select s.available from inventory.stock_levels s
               where s.variant_id = page.variant_id offset 0
           ) stock on true
           order by page.id"#,
        ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(LoadedListing::from).collect())
}

/// Every active, priced listing, read in one query (one pass over each table, joined as
/// hashes) and kept compact: the text a listing repeats (channel, currency, category,
/// tags) is kept once for all and each listing holds its number.
/// A page is made [`LoadedListing`]s only when it is decided ([`Catalogue::page`]), so
/// that a full run holds a few megabytes per page instead of every listing's strings.
#[derive(Debug, Default)]
pub struct Catalogue {
    listings: Vec<CompactListing>,
    texts: Vec<String>,
    text_numbers: HashMap<String, u32>,
    tag_sets: Vec<Vec<String>>,
    tag_set_numbers: HashMap<Vec<String>, u32>,
}

/// A listing as a [`Catalogue`] keeps it: its texts by number.
#[derive(Debug)]
struct CompactListing {
    listing_id: Uuid,
    variant_id: Uuid,
    channel: u32,
    currency: u32,
    category: Option<u32>,
    tags: u32,
    current_price: Decimal,
    regular_price: Decimal,
    min_price: Option<Decimal>,
    max_price: Option<Decimal>,
    margin_floor_pct: Option<Decimal>,
    stock: i64,
    apply_enabled: bool,
    previous_digest: Option<Vec<u8>>,
}

impl Catalogue {
    /// How many listings it holds.
    pub fn len(&self) -> usize {
        self.listings.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.listings.is_empty()
    }

    /// Listings `range` (in listing id order), without their landed costs.
    pub fn page(&self, range: std::ops::Range<usize>) -> Vec<LoadedListing> {
        let text = |number: u32| self.texts[number as usize].clone();
        self.listings[range]
            .iter()
            .map(|listing| LoadedListing {
                listing_id: listing.listing_id,
                variant_id: listing.variant_id,
                channel: text(listing.channel),
                currency: text(listing.currency),
                apply_enabled: listing.apply_enabled,
                facts: ListingFacts {
                    id: listing.listing_id.to_string(),
                    current_price: listing.current_price,
                    regular_price: listing.regular_price,
                    landed_cost: None,
                    min_price: listing.min_price,
                    max_price: listing.max_price,
                    margin_floor_pct: listing.margin_floor_pct,
                    stock: listing.stock,
                    category: listing.category.map(text),
                    tags: self.tag_sets[listing.tags as usize].clone(),
                },
                landed_cost_currency_differs: false,
                previous_digest: listing.previous_digest.clone(),
            })
            .collect()
    }

    fn push(&mut self, row: ListingRow) {
        let listing = CompactListing {
            listing_id: row.listing_id,
            variant_id: row.variant_id,
            channel: self.number_of(row.channel),
            currency: self.number_of(row.currency),
            category: row.category.map(|category| self.number_of(category)),
            tags: match self.tag_set_numbers.get(&row.tags) {
                Some(number) => *number,
                None => {
                    let number = self.tag_sets.len() as u32;
                    self.tag_sets.push(row.tags.clone());
                    self.tag_set_numbers.insert(row.tags, number);
                    number
                }
            },
            current_price: row.current_price,
            regular_price: row.regular_price,
            min_price: row.min_price,
            max_price: row.max_price,
            margin_floor_pct: row.margin_floor_pct,
            stock: row.stock,
            apply_enabled: row.apply_enabled,
            previous_digest: row.previous_digest,
        };
        self.listings.push(listing);
    }

    fn number_of(&mut self, text: String) -> u32 {
        if let Some(number) = self.text_numbers.get(&text) {
            return *number;
        }
        let number = self.texts.len() as u32;
        self.texts.push(text.clone());
        self.text_numbers.insert(text, number);
        number
    }
}

/// Loads every active, priced listing into a [`Catalogue`], each row made compact as it
/// arrives.
pub async fn load_catalogue(conn: &mut PgConnection) -> Result<Catalogue, sqlx::Error> {
    let mut catalogue = Catalogue::default();
    let mut rows = sqlx::query_as!(
        ListingRow,
        r#"select l.id as "listing_id!",
                  l.channel::text as "channel!",
                  cp.currency::text as "currency!",
                  cp.price as "current_price!",
                  coalesce(cp.regular_price, cp.price) as "regular_price!",
                  cp.min_price,
                  cp.max_price,
                  cp.margin_floor_pct,
                  cp.apply_enabled as "apply_enabled!",
                  coalesce(s.available, 0)::bigint as "stock!",
                  p.category,
                  p.tags as "tags!",
                  l.variant_id as "variant_id!",
                  cp.decision_digest as previous_digest
           from catalog.shop_sku_map l
           join pricing.current_prices cp on cp.listing_id = l.id
           join catalog.product_variants v on v.id = l.variant_id
           join catalog.products p on p.id = v.product_id
           left join inventory.stock_levels s on s.variant_id = l.variant_id
           where l.listing_status = 'active'
           order by l.id"#,
    )
    .fetch(conn);
    while let Some(row) = rows.try_next().await? {
        catalogue.push(row);
    }
    Ok(catalogue)
}

/// The offers on each listing's product (`pricing.listing_offers`), the seller's own
/// flagged, in the listing's currency.
pub async fn load_offers(
    conn: &mut PgConnection,
    listing_ids: &[Uuid],
    own_seller_ids: &[String],
) -> Result<HashMap<Uuid, Vec<Offer>>, sqlx::Error> {
    let rows = sqlx::query_as!(
        OfferRow,
        r#"select listing_id as "listing_id!", seller as "seller!", price as "price!",
                  is_buy_box as "is_buy_box!",
                  (own or coalesce(own_key = any($2), false)) as "own!"
           from pricing.listing_offers
           where listing_id = any($1)
           order by 1, 2"#,
        listing_ids,
        own_seller_ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(offers_by_listing(rows))
}

/// The offers on every tracked listing's product, as [`load_offers`] reads them, in
/// one query.
pub async fn load_all_offers(
    conn: &mut PgConnection,
    own_seller_ids: &[String],
) -> Result<HashMap<Uuid, Vec<Offer>>, sqlx::Error> {
    let rows = sqlx::query_as!(
        OfferRow,
        r#"select listing_id as "listing_id!", seller as "seller!", price as "price!",
                  is_buy_box as "is_buy_box!",
                  (own or coalesce(own_key = any($1), false)) as "own!"
           from pricing.listing_offers
           order by 1, 2"#,
        own_seller_ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(offers_by_listing(rows))
}

/// One offer as the offer queries return it.
struct OfferRow {
    listing_id: Uuid,
    seller: String,
    price: Decimal,
    is_buy_box: bool,
    own: bool,
}

fn offers_by_listing(rows: Vec<OfferRow>) -> HashMap<Uuid, Vec<Offer>> {
    let mut offers: HashMap<Uuid, Vec<Offer>> = HashMap::new();
    for row in rows {
        offers.entry(row.listing_id).or_default().push(Offer {
            seller: row.seller,
            price: row.price,
            is_buy_box: row.is_buy_box,
            own: row.own,
        });
    }
    offers
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn settings(values: &[(&str, Value)]) -> Result<PricingSettings, InvalidSetting> {
        PricingSettings::read(
            &values
                .iter()
                .map(|(key, value)| ((*key).to_owned(), value.clone()))
                .collect(),
        )
    }

    #[test]
    fn the_seeds_default_margin_fraction_becomes_a_percentage() {
        let read = settings(&[(DEFAULT_MARGIN_FLOOR_KEY, json!(0.20))]).unwrap();
        assert_eq!(read.default_margin_floor_pct, Decimal::new(20, 0));
        assert_eq!(read.time_zone, Tz::UTC);
    }

    #[test]
    fn channel_fees_time_zone_and_own_ids_are_read() {
        let read = settings(&[
            (TIME_ZONE_KEY, json!("America/Toronto")),
            (
                CHANNEL_FEES_KEY,
                json!({"amazon": {"referral_pct": "15", "fixed": "0.99"}}),
            ),
            (OWN_SELLER_IDS_KEY, json!(["A3TH9S8BH6GOGM"])),
        ])
        .unwrap();
        assert_eq!(read.time_zone, chrono_tz::America::Toronto);
        let amazon = read.fees["amazon"];
        assert_eq!(amazon.referral_pct(), Decimal::new(15, 0));
        assert_eq!(amazon.fixed(), Decimal::new(99, 2));
        assert_eq!(read.own_seller_ids, ["A3TH9S8BH6GOGM"]);
    }

    #[test]
    fn an_unreadable_setting_is_refused_naming_its_key() {
        let err = settings(&[(DEFAULT_MARGIN_FLOOR_KEY, json!(20))]).unwrap_err();
        assert_eq!(err.key, DEFAULT_MARGIN_FLOOR_KEY);
        let err = settings(&[(TIME_ZONE_KEY, json!("Mars/Olympus"))]).unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
        let err =
            settings(&[(CHANNEL_FEES_KEY, json!({"amazon": {"referral_pct": 100}}))]).unwrap_err();
        assert!(err.to_string().contains("amazon"), "{err}");
    }
}
