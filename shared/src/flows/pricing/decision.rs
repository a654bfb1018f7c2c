//! The price decision for one listing: which rule proposes a price, which bound holds
//! it, and why, from facts already loaded. No database, no clock, no I/O: the loader
//! hands in a [`RuleBook`] made once per run and, per listing, its [`ListingFacts`],
//! its competitors' [`Offer`]s and its channel's [`ChannelFees`].
//!
//! # The decision
//!
//! 1. Rules that are inactive or out of the listing's scope are skipped.
//! 2. The margin floor `m` is the highest of the listing's `margin_floor_pct` and the
//!    in-scope `margin_floor` rules' `min_margin_pct`, or the settings default when
//!    none of them exists. Its floor price is `(L + f) / (1 − r − m/100)` rounded up to
//!    the cent (see [`super::margin`]).
//! 3. Each price-setting rule that applies proposes a price: `competitor_match` the
//!    competing offer, `competitor_beat` that offer less a percentage or an amount
//!    (rounded down to the cent), `time_based` and `inventory_based` the regular price
//!    changed by a percentage (rounded half-up). The seller's own offers never count; a
//!    competitor rule without a competing offer does not apply.
//! 4. The highest priority that proposes wins; between equal priorities the lowest
//!    price, then the rule id that sorts first. No proposal: the current price.
//! 5. The proposal is held in `[max(min_price, floor price), max_price]`, and the bound
//!    that moved it is named (`min_price` when it equals the floor price).
//! 6. Without a landed cost nothing changes (`no_landed_cost`); when the lower bound is
//!    above `max_price`, or no price reaches the margin floor, nothing changes
//!    (`bounds_conflict`).

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::margin::{changed_by_pct, down_to_cent, floor_price, ChannelFees, Margins};
use super::rules::{Against, Beat, PriceRule, RuleConfig, RuleScope, RuleType, StockThresholds};
use super::schedule::WindowState;

/// What is known of one listing when it is priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingFacts {
    /// Matched against `listing`-scoped rules' `scope_value`.
    pub id: String,
    /// The price the listing sells at now.
    pub current_price: Decimal,
    /// The price percentage changes start from (time- and stock-based rules).
    pub regular_price: Decimal,
    /// From the bill of materials; without it the listing is never priced.
    pub landed_cost: Option<Decimal>,
    /// The seller's lowest acceptable price for this listing.
    pub min_price: Option<Decimal>,
    /// The seller's highest acceptable price for this listing.
    pub max_price: Option<Decimal>,
    /// The listing's own margin floor, a percentage of the price.
    pub margin_floor_pct: Option<Decimal>,
    /// Units available to sell.
    pub stock: i64,
    /// Matched against `category`-scoped rules.
    pub category: Option<String>,
    /// Matched against `tag`-scoped rules.
    pub tags: Vec<String>,
}

/// One offer on the listing's product, the seller's own included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Who sells it, for the explanation.
    pub seller: String,
    /// Its price.
    pub price: Decimal,
    /// Whether it holds the buy box.
    pub is_buy_box: bool,
    /// Whether it is the seller's own offer, which no competitor rule reacts to.
    pub own: bool,
}

/// The rules of one evaluation run, ordered and with their time windows worked out
/// once for the evaluation time, so that pricing many listings reads each cron
/// schedule once.
#[derive(Debug, Clone)]
pub struct RuleBook {
    rules: Vec<BookedRule>,
}

#[derive(Debug, Clone)]
struct BookedRule {
    rule: PriceRule,
    /// For time-based rules: the window at the evaluation time.
    window: Option<WindowState>,
}

impl RuleBook {
    /// The rules as they stand at `now`, schedules read in the seller's `time_zone`.
    pub fn new(rules: Vec<PriceRule>, now: DateTime<Utc>, time_zone: Tz) -> Self {
        let mut rules: Vec<BookedRule> = rules
            .into_iter()
            .map(|rule| {
                let window = match &rule.config {
                    RuleConfig::TimeBased { window, .. } => Some(window.state_at(now, time_zone)),
                    _ => None,
                };
                BookedRule { rule, window }
            })
            .collect();
        // Highest priority first, then by id, so that ties are settled the same way
        // whatever order the rules were loaded in.
        rules.sort_by(|a, b| {
            b.rule
                .priority
                .cmp(&a.rule.priority)
                .then_with(|| a.rule.id.cmp(&b.rule.id))
        });
        Self { rules }
    }

    /// The rules, highest priority first.
    pub fn rules(&self) -> impl Iterator<Item = &PriceRule> {
        self.rules.iter().map(|booked| &booked.rule)
    }
}

/// The bound that moved a proposed price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Raised to the listing's `min_price`.
    MinPrice,
    /// Lowered to the listing's `max_price`.
    MaxPrice,
    /// Raised to the margin floor's price.
    MarginFloor,
}

impl Bound {
    /// `min_price`, `max_price` or `margin_floor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Bound::MinPrice => "min_price",
            Bound::MaxPrice => "max_price",
            Bound::MarginFloor => "margin_floor",
        }
    }
}

/// Why a listing was left at its current price without being priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// The lower bound is above `max_price`, or no price keeps the margin floor.
    BoundsConflict,
    /// The listing has no landed cost, so no margin can be known.
    NoLandedCost,
}

impl Flag {
    /// `bounds_conflict` or `no_landed_cost`.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::BoundsConflict => "bounds_conflict",
            Flag::NoLandedCost => "no_landed_cost",
        }
    }
}

/// A listing's new price, with its reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The price to suggest (or apply): the current price when flagged.
    pub price: Decimal,
    /// The id of the rule whose proposal was kept; `None` when no rule applied or the
    /// listing was flagged.
    pub rule: Option<String>,
    /// The bound that moved the proposal.
    pub bound: Option<Bound>,
    /// Why the listing was not priced.
    pub flag: Option<Flag>,
    /// Every step, for the seller.
    pub explanation: Explanation,
}

impl Decision {
    /// Whether the decision moves the listing's price.
    pub fn changes_price(&self) -> bool {
        self.price != self.explanation.old_price
    }
}

/// How the decision was reached, step by step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The listing's price before.
    pub old_price: Decimal,
    /// The decided price.
    pub new_price: Decimal,
    /// The landed cost the margins use.
    pub landed_cost: Option<Decimal>,
    /// Every rule of the book, highest priority first, with what became of it.
    pub rules: Vec<RuleNote>,
    /// The price before the bounds, and the rule that proposed it (`None`: the
    /// current price, no rule applying).
    pub proposal: (Decimal, Option<String>),
    /// The margin floor and its price; `None` without a landed cost.
    pub margin_floor: Option<MarginFloorNote>,
    /// The listing's lowest acceptable price, if it has one.
    pub min_price: Option<Decimal>,
    /// The listing's highest acceptable price, if it has one.
    pub max_price: Option<Decimal>,
    /// The bound that moved the proposal.
    pub bound: Option<Bound>,
    /// Why nothing changed, if so.
    pub flag: Option<Flag>,
    /// Margins at the old price; `None` without a landed cost.
    pub old_margins: Option<Margins>,
    /// Margins at the new price; `None` without a landed cost.
    pub new_margins: Option<Margins>,
}

/// The margin floor that held, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarginFloorNote {
    /// The margin, as a percentage of the price.
    pub pct: Decimal,
    /// Who set it.
    pub source: MarginFloorSource,
    /// The lowest price that keeps it; `None` when no price does.
    pub floor_price: Option<Decimal>,
}

/// Who set the margin floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarginFloorSource {
    /// The listing's `margin_floor_pct`.
    Listing,
    /// A `margin_floor` rule, by id.
    Rule(String),
    /// The settings default.
    Default,
}

/// What became of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleNote {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's type.
    pub rule_type: RuleType,
    /// The rule's priority.
    pub priority: i32,
    /// What became of it.
    pub outcome: RuleOutcome,
}

/// What became of one rule, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleOutcome {
    /// Skipped: the rule is switched off.
    Inactive,
    /// Skipped: the listing is not in the rule's scope.
    OutOfScope(RuleScope),
    /// A margin floor rule in scope: it counts towards the margin floor.
    MarginFloor {
        /// The margin it asks for.
        min_margin_pct: Decimal,
    },
    /// Skipped: the rule's condition does not hold.
    DoesNotApply(Skip),
    /// Its proposal is the one kept.
    Applied {
        /// The price it proposed.
        price: Decimal,
        /// How it got there.
        basis: Basis,
    },
    /// It proposed a price, but a rule of higher priority proposed too.
    Outranked {
        /// The price it proposed.
        price: Decimal,
        /// How it got there.
        basis: Basis,
        /// The winning rule.
        by: String,
    },
    /// It proposed a price, but a rule of the same priority proposed a lower one (or the
    /// same one, with an id that sorts first).
    LostTie {
        /// The price it proposed.
        price: Decimal,
        /// How it got there.
        basis: Basis,
        /// The winning rule.
        to: String,
    },
}

/// Why a price-setting rule in scope did not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// No competing offer (or no competing buy-box offer) to react to.
    NoCompetingOffer(Against),
    /// The time window is closed.
    WindowClosed(WindowState),
    /// Stock is within the thresholds.
    StockWithin {
        /// Units in stock.
        stock: i64,
        /// The rule's thresholds.
        thresholds: StockThresholds,
    },
}

/// How a rule arrived at its price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    /// From a competing offer.
    Offer {
        /// Which offer the rule looks at.
        against: Against,
        /// Who made it.
        seller: String,
        /// Its price.
        offer: Decimal,
        /// How far under it, for a beat.
        beat: Option<Beat>,
    },
    /// The regular price changed during a time window.
    Window {
        /// The regular price.
        regular: Decimal,
        /// The change.
        pct: Decimal,
        /// The open window.
        window: WindowState,
    },
    /// The regular price changed while stock is outside thresholds.
    Stock {
        /// The regular price.
        regular: Decimal,
        /// The change.
        pct: Decimal,
        /// Units in stock.
        stock: i64,
        /// The rule's thresholds.
        thresholds: StockThresholds,
    },
}

/// A rule's fate before the winner is known.
enum Considered {
    Settled(RuleOutcome),
    Proposed { price: Decimal, basis: Basis },
}

/// Decides the price of one listing.
///
/// `default_margin_floor_pct` is the settings default as a percentage of the price
/// (`20` for 20 %; the `pricing.default_margin_floor` setting holds the fraction, 0.20).
/// `offers` are every offer on the listing's product, the seller's own included: they
/// are told apart here, by [`Offer::own`].
pub fn decide(
    book: &RuleBook,
    listing: &ListingFacts,
    offers: &[Offer],
    fees: &ChannelFees,
    default_margin_floor_pct: Decimal,
) -> Decision {
    let competing = CompetingOffers::among(offers);
    let mut floor_rule: Option<(&str, Decimal)> = None;

    let considered: Vec<Considered> = book
        .rules
        .iter()
        .map(|booked| {
            let rule = &booked.rule;
            if !rule.is_active {
                return Considered::Settled(RuleOutcome::Inactive);
            }
            if !rule
                .scope
                .covers(&listing.id, listing.category.as_deref(), &listing.tags)
            {
                return Considered::Settled(RuleOutcome::OutOfScope(rule.scope.clone()));
            }
            match &rule.config {
                RuleConfig::MarginFloor { min_margin_pct } => {
                    if floor_rule.is_none_or(|(_, highest)| *min_margin_pct > highest) {
                        floor_rule = Some((&rule.id, *min_margin_pct));
                    }
                    Considered::Settled(RuleOutcome::MarginFloor {
                        min_margin_pct: *min_margin_pct,
                    })
                }
                RuleConfig::CompetitorMatch { against } => match competing.get(*against) {
                    Some(offer) => Considered::Proposed {
                        price: offer.price,
                        basis: Basis::Offer {
                            against: *against,
                            seller: offer.seller.clone(),
                            offer: offer.price,
                            beat: None,
                        },
                    },
                    None => not_applying(Skip::NoCompetingOffer(*against)),
                },
                RuleConfig::CompetitorBeat { against, beat } => match competing.get(*against) {
                    Some(offer) => Considered::Proposed {
                        price: beaten(offer.price, *beat),
                        basis: Basis::Offer {
                            against: *against,
                            seller: offer.seller.clone(),
                            offer: offer.price,
                            beat: Some(*beat),
                        },
                    },
                    None => not_applying(Skip::NoCompetingOffer(*against)),
                },
                RuleConfig::TimeBased {
                    price_change_pct, ..
                } => match booked.window {
                    Some(window @ WindowState::Open { .. }) => Considered::Proposed {
                        price: changed_by_pct(listing.regular_price, *price_change_pct),
                        basis: Basis::Window {
                            regular: listing.regular_price,
                            pct: *price_change_pct,
                            window,
                        },
                    },
                    Some(closed) => not_applying(Skip::WindowClosed(closed)),
                    None => {
                        not_applying(Skip::WindowClosed(WindowState::Closed { last_fired: None }))
                    }
                },
                RuleConfig::InventoryBased {
                    thresholds,
                    price_change_pct,
                } => {
                    if thresholds.crossed_by(listing.stock) {
                        Considered::Proposed {
                            price: changed_by_pct(listing.regular_price, *price_change_pct),
                            basis: Basis::Stock {
                                regular: listing.regular_price,
                                pct: *price_change_pct,
                                stock: listing.stock,
                                thresholds: *thresholds,
                            },
                        }
                    } else {
                        not_applying(Skip::StockWithin {
                            stock: listing.stock,
                            thresholds: *thresholds,
                        })
                    }
                }
            }
        })
        .collect();

    // The book is sorted by priority, highest first, then by id: the first proposal
    // has the winning priority, and among that priority's proposals the first lowest
    // price wins.
    let mut winner: Option<(usize, Decimal)> = None;
    for (index, considered) in considered.iter().enumerate() {
        let Considered::Proposed { price, .. } = considered else {
            continue;
        };
        match winner {
            None => winner = Some((index, *price)),
            Some((best, best_price))
                if book.rules[best].rule.priority == book.rules[index].rule.priority
                    && *price < best_price =>
            {
                winner = Some((index, *price));
            }
            Some(_) => {}
        }
    }
    let winner_id = winner.map(|(index, _)| book.rules[index].rule.id.clone());
    let winner_priority = winner.map(|(index, _)| book.rules[index].rule.priority);

    let rules: Vec<RuleNote> = considered
        .into_iter()
        .enumerate()
        .map(|(index, considered)| {
            let rule = &book.rules[index].rule;
            let outcome = match considered {
                Considered::Settled(outcome) => outcome,
                Considered::Proposed { price, basis } => {
                    let winning_id = winner_id.clone().unwrap_or_default();
                    if winner.is_some_and(|(best, _)| best == index) {
                        RuleOutcome::Applied { price, basis }
                    } else if winner_priority == Some(rule.priority) {
                        RuleOutcome::LostTie {
                            price,
                            basis,
                            to: winning_id,
                        }
                    } else {
                        RuleOutcome::Outranked {
                            price,
                            basis,
                            by: winning_id,
                        }
                    }
                }
            };
            RuleNote {
                rule_id: rule.id.clone(),
                rule_type: rule.rule_type(),
                priority: rule.priority,
                outcome,
            }
        })
        .collect();

    let proposal = winner.map_or(listing.current_price, |(_, price)| price);
    let (margin_floor_pct, floor_source) = match (listing.margin_floor_pct, floor_rule) {
        (Some(own), Some((id, ruled))) if ruled > own => {
            (ruled, MarginFloorSource::Rule(id.to_owned()))
        }
        (Some(own), _) => (own, MarginFloorSource::Listing),
        (None, Some((id, ruled))) => (ruled, MarginFloorSource::Rule(id.to_owned())),
        (None, None) => (default_margin_floor_pct, MarginFloorSource::Default),
    };

    let mut explanation = Explanation {
        old_price: listing.current_price,
        new_price: listing.current_price,
        landed_cost: listing.landed_cost,
        rules,
        proposal: (proposal, winner_id.clone()),
        margin_floor: None,
        min_price: listing.min_price,
        max_price: listing.max_price,
        bound: None,
        flag: None,
        old_margins: None,
        new_margins: None,
    };
    let unpriced = |mut explanation: Explanation, flag: Flag| {
        explanation.flag = Some(flag);
        Decision {
            price: listing.current_price,
            rule: None,
            bound: None,
            flag: Some(flag),
            explanation,
        }
    };

    let Some(landed_cost) = listing.landed_cost else {
        return unpriced(explanation, Flag::NoLandedCost);
    };
    let floor = floor_price(landed_cost, fees, margin_floor_pct);
    explanation.margin_floor = Some(MarginFloorNote {
        pct: margin_floor_pct,
        source: floor_source,
        floor_price: floor,
    });
    explanation.old_margins = Some(Margins::at(listing.current_price, landed_cost, fees));
    explanation.new_margins = explanation.old_margins;
    let Some(floor) = floor else {
        return unpriced(explanation, Flag::BoundsConflict);
    };
    let (lower, lower_bound) = match listing.min_price {
        Some(min_price) if min_price >= floor => (min_price, Bound::MinPrice),
        _ => (floor, Bound::MarginFloor),
    };
    if listing.max_price.is_some_and(|max_price| lower > max_price) {
        return unpriced(explanation, Flag::BoundsConflict);
    }
    let (price, bound) = match listing.max_price {
        _ if proposal < lower => (lower, Some(lower_bound)),
        Some(max_price) if proposal > max_price => (max_price, Some(Bound::MaxPrice)),
        _ => (proposal, None),
    };
    explanation.new_price = price;
    explanation.bound = bound;
    explanation.new_margins = Some(Margins::at(price, landed_cost, fees));
    Decision {
        price,
        rule: winner_id,
        bound,
        flag: None,
        explanation,
    }
}

fn not_applying(skip: Skip) -> Considered {
    Considered::Settled(RuleOutcome::DoesNotApply(skip))
}

/// `offer` less the beat, rounded down to the cent so the result stays under it.
fn beaten(offer: Decimal, beat: Beat) -> Decimal {
    match beat {
        Beat::Pct(pct) => down_to_cent(offer * (Decimal::ONE_HUNDRED - pct) / Decimal::ONE_HUNDRED),
        Beat::Amount(amount) => down_to_cent(offer - amount),
    }
}

/// The competing offers a competitor rule can react to: never the seller's own.
struct CompetingOffers<'a> {
    lowest: Option<&'a Offer>,
    buy_box: Option<&'a Offer>,
}

impl<'a> CompetingOffers<'a> {
    fn among(offers: &'a [Offer]) -> Self {
        let competing = || offers.iter().filter(|offer| !offer.own);
        // `min_by_key` keeps the first of equal prices: the explanation names the
        // seller listed first.
        Self {
            lowest: competing().min_by_key(|offer| offer.price),
            buy_box: competing()
                .filter(|offer| offer.is_buy_box)
                .min_by_key(|offer| offer.price),
        }
    }

    fn get(&self, against: Against) -> Option<&'a Offer> {
        match against {
            Against::LowestOffer => self.lowest,
            Against::BuyBox => self.buy_box,
        }
    }
}

/// A price for people: two decimals.
struct Price(Decimal);

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

/// A percentage for people: no trailing zeros.
struct Pct(Decimal);

impl fmt::Display for Pct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0.normalize())
    }
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Basis::Offer {
                against,
                seller,
                offer,
                beat,
            } => {
                match beat {
                    None => write!(f, "matches ")?,
                    Some(Beat::Pct(pct)) => write!(f, "{} under ", Pct(*pct))?,
                    Some(Beat::Amount(amount)) => write!(f, "{amount} under ")?,
                }
                write!(f, "{against}, {} by {seller:?}", Price(*offer))
            }
            Basis::Window {
                regular,
                pct,
                window,
            } => write!(
                f,
                "regular price {} changed by {:+}% ({window})",
                Price(*regular),
                pct.normalize()
            ),
            Basis::Stock {
                regular,
                pct,
                stock,
                thresholds,
            } => {
                write!(
                    f,
                    "regular price {} changed by {:+}% (stock {stock}",
                    Price(*regular),
                    pct.normalize()
                )?;
                match (thresholds.below, thresholds.above) {
                    (Some(below), _) if *stock < below => write!(f, " below {below})"),
                    (_, Some(above)) => write!(f, " above {above})"),
                    _ => write!(f, ")"),
                }
            }
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::NoCompetingOffer(Against::LowestOffer) => f.write_str("no competing offer"),
            Skip::NoCompetingOffer(Against::BuyBox) => {
                f.write_str("no competing offer holds the buy box")
            }
            Skip::WindowClosed(window) => write!(f, "{window}"),
            Skip::StockWithin { stock, thresholds } => {
                write!(f, "stock {stock} is not")?;
                match (thresholds.below, thresholds.above) {
                    (Some(below), Some(above)) => write!(f, " below {below} nor above {above}"),
                    (Some(below), None) => write!(f, " below {below}"),
                    (None, Some(above)) => write!(f, " above {above}"),
                    (None, None) => Ok(()),
                }
            }
        }
    }
}

impl fmt::Display for RuleOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleOutcome::Inactive => f.write_str("skipped: inactive"),
            RuleOutcome::OutOfScope(scope) => write!(f, "skipped: only for {scope}"),
            RuleOutcome::MarginFloor { min_margin_pct } => {
                write!(f, "asks for a margin of at least {}", Pct(*min_margin_pct))
            }
            RuleOutcome::DoesNotApply(skip) => write!(f, "skipped: {skip}"),
            RuleOutcome::Applied { price, basis } => {
                write!(f, "applied: {} ({basis})", Price(*price))
            }
            RuleOutcome::Outranked { price, basis, by } => {
                write!(f, "outranked by {by}: would be {} ({basis})", Price(*price))
            }
            RuleOutcome::LostTie { price, basis, to } => write!(
                f,
                "same priority as {to}, which is lower or first: would be {} ({basis})",
                Price(*price)
            ),
        }
    }
}

impl fmt::Display for Margins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct =
            |pct: Option<Decimal>| pct.map(|pct| format!(" ({:.2}%)", pct)).unwrap_or_default();
        write!(
            f,
            "gross {}{}, net {}{}",
            Price(self.gross),
            pct(self.gross_pct),
            Price(self.net),
            pct(self.net_pct)
        )
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.flag {
            Some(Flag::NoLandedCost) => writeln!(
                f,
                "price kept at {}: no landed cost, so no margin can be known (no_landed_cost)",
                Price(self.old_price)
            )?,
            Some(Flag::BoundsConflict) => {
                write!(f, "price kept at {}: ", Price(self.old_price))?;
                let floor = self
                    .margin_floor
                    .as_ref()
                    .and_then(|floor| floor.floor_price);
                match (floor, self.max_price) {
                    (None, _) => f.write_str("no price keeps the margin floor")?,
                    (Some(floor), max_price) => {
                        let lower = self.min_price.map_or(floor, |min| min.max(floor));
                        write!(f, "the lower bound {} is above", Price(lower))?;
                        match max_price {
                            Some(max_price) => write!(f, " max price {}", Price(max_price))?,
                            None => f.write_str(" every price")?,
                        }
                    }
                }
                writeln!(f, " (bounds_conflict)")?;
            }
            None if self.new_price == self.old_price => {
                writeln!(f, "price unchanged at {}", Price(self.old_price))?
            }
            None => writeln!(
                f,
                "price {} -> {}",
                Price(self.old_price),
                Price(self.new_price)
            )?,
        }
        let (proposal, rule) = &self.proposal;
        match rule {
            Some(rule) => writeln!(f, "proposal: {} from rule {rule}", Price(*proposal))?,
            None => writeln!(
                f,
                "proposal: {} (the current price: no price-setting rule applies)",
                Price(*proposal)
            )?,
        }
        if let Some(floor) = &self.margin_floor {
            write!(f, "margin floor: {} ", Pct(floor.pct))?;
            match &floor.source {
                MarginFloorSource::Listing => f.write_str("(the listing's)")?,
                MarginFloorSource::Rule(id) => write!(f, "(rule {id})")?,
                MarginFloorSource::Default => f.write_str("(the default)")?,
            }
            match floor.floor_price {
                Some(price) => writeln!(f, ", floor price {}", Price(price))?,
                None => writeln!(f, ", which no price reaches")?,
            }
        }
        let bound =
            |bound: Option<Decimal>| bound.map_or("none".to_owned(), |b| Price(b).to_string());
        write!(
            f,
            "bounds: min price {}, max price {}",
            bound(self.min_price),
            bound(self.max_price)
        )?;
        match self.bound {
            Some(Bound::MinPrice) => writeln!(f, "; raised to the min price")?,
            Some(Bound::MaxPrice) => writeln!(f, "; lowered to the max price")?,
            Some(Bound::MarginFloor) => writeln!(f, "; raised to the margin floor")?,
            None => writeln!(f)?,
        }
        if self.rules.is_empty() {
            writeln!(f, "rules: none")?;
        } else {
            writeln!(f, "rules:")?;
            for note in &self.rules {
                write!(
                    f,
                    "  {} ({}, priority {}): ",
                    note.rule_id, note.rule_type, note.priority
                )?;
                match (&note.outcome, self.flag) {
                    (RuleOutcome::Applied { price, basis }, Some(flag)) => writeln!(
                        f,
                        "would propose {} ({basis}), not applied: {}",
                        Price(*price),
                        flag.as_str()
                    )?,
                    (outcome, _) => writeln!(f, "{outcome}")?,
                }
            }
        }
        match (&self.old_margins, &self.new_margins) {
            (Some(old), Some(new)) if self.new_price != self.old_price => {
                writeln!(f, "margins at {} (old): {old}", Price(self.old_price))?;
                write!(f, "margins at {} (new): {new}", Price(self.new_price))
            }
            (Some(old), _) => write!(f, "margins at {}: {old}", Price(self.old_price)),
            _ => write!(f, "margins: unknown without a landed cost"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::flows::pricing::rules::RuleDefinition;

    /// Monday 2 March 2026, 09:30 in Toronto (EST).
    const NOW: &str = "2026-03-02T14:30:00Z";
    const TORONTO: Tz = chrono_tz::America::Toronto;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    /// A listing at 24.99 that cost 10.00, with 50 in stock, in Tools, tagged clearance.
    fn listing() -> ListingFacts {
        ListingFacts {
            id: "L1".into(),
            current_price: dec("24.99"),
            regular_price: dec("24.99"),
            landed_cost: Some(dec("10.00")),
            min_price: None,
            max_price: None,
            margin_floor_pct: None,
            stock: 50,
            category: Some("Tools".into()),
            tags: vec!["clearance".into()],
        }
    }

    /// 15 % referral and 1.00 per unit: with no margin floor, (10 + 1) / 0.85 = 12.94…
    /// gives a floor price of 12.95.
    fn fees() -> ChannelFees {
        ChannelFees::new(dec("15"), dec("1.00")).unwrap()
    }

    fn rule(id: &str, priority: i32, rule_type: &str, config: Value) -> PriceRule {
        scoped(id, priority, rule_type, config, "all", None)
    }

    fn scoped(
        id: &str,
        priority: i32,
        rule_type: &str,
        config: Value,
        applies_to: &str,
        scope_value: Option<&str>,
    ) -> PriceRule {
        PriceRule::parse(&RuleDefinition {
            id,
            priority,
            is_active: true,
            applies_to,
            scope_value,
            rule_type,
            config: &config,
        })
        .unwrap()
    }

    fn offer(seller: &str, price: &str) -> Offer {
        Offer {
            seller: seller.into(),
            price: dec(price),
            is_buy_box: false,
            own: false,
        }
    }

    fn buy_box(offer: Offer) -> Offer {
        Offer {
            is_buy_box: true,
            ..offer
        }
    }

    fn own(offer: Offer) -> Offer {
        Offer { own: true, ..offer }
    }

    fn decide_at(
        now: &str,
        rules: Vec<PriceRule>,
        listing: &ListingFacts,
        offers: &[Offer],
    ) -> Decision {
        let book = RuleBook::new(rules, at(now), TORONTO);
        decide(&book, listing, offers, &fees(), Decimal::ZERO)
    }

    fn decide_now(rules: Vec<PriceRule>, listing: &ListingFacts, offers: &[Offer]) -> Decision {
        decide_at(NOW, rules, listing, offers)
    }

    /// The decision as (price, rule, bound, flag).
    fn outcome(decision: &Decision) -> (String, Option<&str>, Option<Bound>, Option<Flag>) {
        (
            decision.price.to_string(),
            decision.rule.as_deref(),
            decision.bound,
            decision.flag,
        )
    }

    fn outcome_of<'a>(decision: &'a Decision, rule_id: &str) -> &'a RuleOutcome {
        &decision
            .explanation
            .rules
            .iter()
            .find(|note| note.rule_id == rule_id)
            .unwrap()
            .outcome
    }

    #[test]
    fn competitor_match_prices_at_the_lowest_competing_offer() {
        let decision = decide_now(
            vec![rule("m", 100, "competitor_match", json!({}))],
            &listing(),
            &[offer("Bolt", "23.00"), offer("Acme", "22.50")],
        );
        assert_eq!(outcome(&decision), ("22.50".into(), Some("m"), None, None));
        assert!(decision.changes_price());
    }

    #[test]
    fn competitor_beat_by_pct_rounds_down_to_the_cent() {
        // 10.07 · 0.95 = 9.5665: down to 9.56 (half-up would give 9.57).
        let cheap = ListingFacts {
            landed_cost: Some(dec("5")),
            ..listing()
        };
        let decision = decide_now(
            vec![rule("b", 100, "competitor_beat", json!({"beat_by_pct": 5}))],
            &cheap,
            &[offer("Acme", "10.07")],
        );
        assert_eq!(outcome(&decision), ("9.56".into(), Some("b"), None, None));
    }

    #[test]
    fn competitor_beat_by_amount_rounds_down_to_the_cent() {
        let decision = decide_now(
            vec![rule(
                "b",
                100,
                "competitor_beat",
                json!({"beat_by_amount": "0.01"}),
            )],
            &listing(),
            &[offer("Acme", "22.50")],
        );
        assert_eq!(outcome(&decision), ("22.49".into(), Some("b"), None, None));
        // 22.50 − 0.005 = 22.495: down to 22.49.
        let decision = decide_now(
            vec![rule(
                "b",
                100,
                "competitor_beat",
                json!({"beat_by_amount": "0.005"}),
            )],
            &listing(),
            &[offer("Acme", "22.50")],
        );
        assert_eq!(decision.price, dec("22.49"));
    }

    #[test]
    fn a_beat_against_the_buy_box_ignores_a_lower_offer_without_it() {
        let offers = [offer("Acme", "22.00"), buy_box(offer("Bolt", "23.00"))];
        let against_box = rule(
            "b",
            100,
            "competitor_beat",
            json!({"beat_by_amount": "0.10", "against": "buy_box"}),
        );
        let decision = decide_now(vec![against_box], &listing(), &offers);
        assert_eq!(decision.price, dec("22.90"));
        let against_lowest = rule(
            "b",
            100,
            "competitor_beat",
            json!({"beat_by_amount": "0.10"}),
        );
        let decision = decide_now(vec![against_lowest], &listing(), &offers);
        assert_eq!(decision.price, dec("21.90"));
    }

    #[test]
    fn the_sellers_own_offers_never_count() {
        let matched = || rule("m", 100, "competitor_match", json!({}));
        let decision = decide_now(
            vec![matched()],
            &listing(),
            &[own(offer("Me", "20.00")), offer("Acme", "22.50")],
        );
        assert_eq!(decision.price, dec("22.50"));

        let decision = decide_now(vec![matched()], &listing(), &[own(offer("Me", "20.00"))]);
        assert_eq!(outcome(&decision), ("24.99".into(), None, None, None));
        assert_eq!(
            outcome_of(&decision, "m"),
            &RuleOutcome::DoesNotApply(Skip::NoCompetingOffer(Against::LowestOffer))
        );
    }

    #[test]
    fn the_sellers_own_buy_box_is_no_buy_box_to_beat() {
        let decision = decide_now(
            vec![rule(
                "b",
                100,
                "competitor_beat",
                json!({"beat_by_pct": 1, "against": "buy_box"}),
            )],
            &listing(),
            &[buy_box(own(offer("Me", "23.00"))), offer("Acme", "22.50")],
        );
        assert_eq!(outcome(&decision), ("24.99".into(), None, None, None));
        assert_eq!(
            outcome_of(&decision, "b"),
            &RuleOutcome::DoesNotApply(Skip::NoCompetingOffer(Against::BuyBox))
        );
    }

    #[test]
    fn a_competitor_rule_without_competing_offers_does_not_apply() {
        let decision = decide_now(
            vec![
                rule("b", 200, "competitor_beat", json!({"beat_by_pct": 5})),
                rule(
                    "s",
                    100,
                    "inventory_based",
                    json!({"when_above": 10, "price_change_pct": -20}),
                ),
            ],
            &listing(),
            &[],
        );
        // 24.99 · 0.8 = 19.992 → 19.99: the lower-priority rule applies instead.
        assert_eq!(outcome(&decision), ("19.99".into(), Some("s"), None, None));
    }

    #[test]
    fn a_time_based_rule_applies_inside_its_window_only() {
        let sale = || {
            rule(
                "t",
                100,
                "time_based",
                json!({"schedule": "0 9 * * 1-5", "price_change_pct": -10}),
            )
        };
        // 24.99 · 0.9 = 22.491 → 22.49.
        for inside in ["2026-03-02T14:00:00Z", "2026-03-02T14:59:00Z"] {
            let decision = decide_at(inside, vec![sale()], &listing(), &[]);
            assert_eq!(
                outcome(&decision),
                ("22.49".into(), Some("t"), None, None),
                "{inside}"
            );
        }
        for outside in ["2026-03-02T13:59:00Z", "2026-03-02T15:00:00Z"] {
            let decision = decide_at(outside, vec![sale()], &listing(), &[]);
            assert_eq!(
                outcome(&decision),
                ("24.99".into(), None, None, None),
                "{outside}"
            );
            assert!(matches!(
                outcome_of(&decision, "t"),
                RuleOutcome::DoesNotApply(Skip::WindowClosed(_))
            ));
        }
    }

    #[test]
    fn a_percent_change_rounds_half_up_from_the_regular_price() {
        // Regular 19.90 · 0.95 = 18.905 → 18.91, whatever the current price.
        let on_sale = ListingFacts {
            current_price: dec("17.50"),
            regular_price: dec("19.90"),
            ..listing()
        };
        let decision = decide_now(
            vec![rule(
                "t",
                100,
                "time_based",
                json!({"schedule": "0 9 * * *", "price_change_pct": "-5"}),
            )],
            &on_sale,
            &[],
        );
        assert_eq!(decision.price, dec("18.91"));
    }

    #[test]
    fn an_inventory_rule_applies_below_and_above_its_thresholds() {
        let scarce = || {
            rule(
                "low",
                100,
                "inventory_based",
                json!({"when_below": 10, "price_change_pct": 15}),
            )
        };
        let plenty = || {
            rule(
                "high",
                100,
                "inventory_based",
                json!({"when_above": 100, "price_change_pct": -20}),
            )
        };
        let stocked = |stock| ListingFacts { stock, ..listing() };

        // 24.99 · 1.15 = 28.7385 → 28.74.
        assert_eq!(
            outcome(&decide_now(vec![scarce()], &stocked(9), &[])),
            ("28.74".into(), Some("low"), None, None)
        );
        assert_eq!(
            outcome(&decide_now(vec![scarce()], &stocked(10), &[])),
            ("24.99".into(), None, None, None)
        );
        // 24.99 · 0.8 = 19.992 → 19.99.
        assert_eq!(
            outcome(&decide_now(vec![plenty()], &stocked(101), &[])),
            ("19.99".into(), Some("high"), None, None)
        );
        assert_eq!(
            outcome(&decide_now(vec![plenty()], &stocked(100), &[])),
            ("24.99".into(), None, None, None)
        );
        let decision = decide_now(vec![plenty()], &stocked(100), &[]);
        assert_eq!(
            outcome_of(&decision, "high").to_string(),
            "skipped: stock 100 is not above 100"
        );
    }

    #[test]
    fn the_highest_priority_that_applies_wins_even_at_a_higher_price() {
        let decision = decide_now(
            vec![
                rule("match", 100, "competitor_match", json!({})),
                rule(
                    "scarce",
                    200,
                    "inventory_based",
                    json!({"when_below": 60, "price_change_pct": 15}),
                ),
            ],
            &listing(),
            &[offer("Acme", "22.50")],
        );
        assert_eq!(
            outcome(&decision),
            ("28.74".into(), Some("scarce"), None, None)
        );
        assert_eq!(
            outcome_of(&decision, "match"),
            &RuleOutcome::Outranked {
                price: dec("22.50"),
                basis: Basis::Offer {
                    against: Against::LowestOffer,
                    seller: "Acme".into(),
                    offer: dec("22.50"),
                    beat: None,
                },
                by: "scarce".into(),
            }
        );
    }

    #[test]
    fn equal_priorities_give_the_lowest_price() {
        // 22.50 · 0.95 = 21.375 → 21.37 beats the match at 22.50.
        let decision = decide_now(
            vec![
                rule("match", 100, "competitor_match", json!({})),
                rule("beat", 100, "competitor_beat", json!({"beat_by_pct": 5})),
            ],
            &listing(),
            &[offer("Acme", "22.50")],
        );
        assert_eq!(
            outcome(&decision),
            ("21.37".into(), Some("beat"), None, None)
        );
        assert!(matches!(
            outcome_of(&decision, "match"),
            RuleOutcome::LostTie { to, .. } if to == "beat"
        ));
    }

    #[test]
    fn equal_priorities_and_prices_go_to_the_id_that_sorts_first_whatever_the_order() {
        let rules = |first: &str, second: &str| {
            vec![
                rule(first, 100, "competitor_match", json!({})),
                rule(second, 100, "competitor_match", json!({})),
            ]
        };
        let offers = [offer("Acme", "22.50")];
        assert_eq!(
            decide_now(rules("a", "b"), &listing(), &offers)
                .rule
                .as_deref(),
            Some("a")
        );
        assert_eq!(
            decide_now(rules("b", "a"), &listing(), &offers)
                .rule
                .as_deref(),
            Some("a")
        );
    }

    #[test]
    fn the_margin_floor_beats_a_competitor_beat() {
        // Landed 20: (20 + 1) / (1 − 0.15 − 0.20) = 32.307… → floor price 32.31, above
        // the beat's 30.00 · 0.95 = 28.50.
        let costly = ListingFacts {
            current_price: dec("35.00"),
            regular_price: dec("35.00"),
            landed_cost: Some(dec("20")),
            ..listing()
        };
        let decision = decide_now(
            vec![
                rule("beat", 200, "competitor_beat", json!({"beat_by_pct": 5})),
                rule("floor", 100, "margin_floor", json!({"min_margin_pct": 20})),
            ],
            &costly,
            &[offer("Acme", "30.00")],
        );
        assert_eq!(
            outcome(&decision),
            ("32.31".into(), Some("beat"), Some(Bound::MarginFloor), None)
        );
        assert_eq!(
            decision.explanation.proposal,
            (dec("28.50"), Some("beat".into()))
        );
        let net = decision.explanation.new_margins.unwrap().net_pct.unwrap();
        assert!(net >= dec("20"), "net margin {net}");
    }

    #[test]
    fn min_and_max_price_bound_the_proposal() {
        let bounded = ListingFacts {
            min_price: Some(dec("23.00")),
            max_price: Some(dec("27.50")),
            ..listing()
        };
        let decision = decide_now(
            vec![rule("match", 100, "competitor_match", json!({}))],
            &bounded,
            &[offer("Acme", "22.50")],
        );
        assert_eq!(
            outcome(&decision),
            ("23.00".into(), Some("match"), Some(Bound::MinPrice), None)
        );

        let scarce = ListingFacts {
            stock: 2,
            ..bounded.clone()
        };
        let decision = decide_now(
            vec![rule(
                "scarce",
                100,
                "inventory_based",
                json!({"when_below": 5, "price_change_pct": 15}),
            )],
            &scarce,
            &[],
        );
        assert_eq!(
            outcome(&decision),
            ("27.50".into(), Some("scarce"), Some(Bound::MaxPrice), None)
        );

        // A proposal on the bound itself is not moved by it.
        let decision = decide_now(
            vec![rule("match", 100, "competitor_match", json!({}))],
            &bounded,
            &[offer("Acme", "23.00")],
        );
        assert_eq!(
            outcome(&decision),
            ("23.00".into(), Some("match"), None, None)
        );
    }

    #[test]
    fn the_current_price_is_bounded_too_when_no_rule_applies() {
        let bounded = ListingFacts {
            max_price: Some(dec("20.00")),
            ..listing()
        };
        let decision = decide_now(vec![], &bounded, &[]);
        assert_eq!(
            outcome(&decision),
            ("20.00".into(), None, Some(Bound::MaxPrice), None)
        );
    }

    #[test]
    fn a_min_price_equal_to_the_floor_price_is_named_as_the_bound() {
        let at_floor = ListingFacts {
            min_price: Some(dec("12.95")),
            ..listing()
        };
        let decision = decide_now(
            vec![rule("match", 100, "competitor_match", json!({}))],
            &at_floor,
            &[offer("Acme", "12.00")],
        );
        assert_eq!(
            outcome(&decision),
            ("12.95".into(), Some("match"), Some(Bound::MinPrice), None)
        );
        let below_floor = ListingFacts {
            min_price: Some(dec("12.94")),
            ..listing()
        };
        let decision = decide_now(
            vec![rule("match", 100, "competitor_match", json!({}))],
            &below_floor,
            &[offer("Acme", "12.00")],
        );
        assert_eq!(
            outcome(&decision),
            (
                "12.95".into(),
                Some("match"),
                Some(Bound::MarginFloor),
                None
            )
        );
    }

    #[test]
    fn a_lower_bound_above_the_max_price_changes_nothing() {
        let crossed = ListingFacts {
            min_price: Some(dec("30.00")),
            max_price: Some(dec("25.00")),
            ..listing()
        };
        let decision = decide_now(
            vec![rule("match", 100, "competitor_match", json!({}))],
            &crossed,
            &[offer("Acme", "22.50")],
        );
        assert_eq!(
            outcome(&decision),
            ("24.99".into(), None, None, Some(Flag::BoundsConflict))
        );
        assert!(!decision.changes_price());

        // The floor price 32.31 (landed 20, margin 20 %) above a max price of 30.00.
        let costly = ListingFacts {
            landed_cost: Some(dec("20")),
            max_price: Some(dec("30.00")),
            margin_floor_pct: Some(dec("20")),
            ..listing()
        };
        let decision = decide_now(vec![], &costly, &[]);
        assert_eq!(
            outcome(&decision),
            ("24.99".into(), None, None, Some(Flag::BoundsConflict))
        );
        assert!(decision.explanation.to_string().starts_with(
            "price kept at 24.99: the lower bound 32.31 is above max price 30.00 (bounds_conflict)"
        ));
    }

    #[test]
    fn a_margin_floor_no_price_can_keep_is_a_bounds_conflict() {
        let greedy = ListingFacts {
            margin_floor_pct: Some(dec("85")),
            ..listing()
        };
        let decision = decide_now(vec![], &greedy, &[]);
        assert_eq!(
            outcome(&decision),
            ("24.99".into(), None, None, Some(Flag::BoundsConflict))
        );
        assert_eq!(
            decision
                .explanation
                .margin_floor
                .as_ref()
                .unwrap()
                .floor_price,
            None
        );
    }

    #[test]
    fn a_listing_without_landed_cost_is_flagged_never_priced() {
        let uncosted = ListingFacts {
            landed_cost: None,
            ..listing()
        };
        let decision = decide_now(
            vec![rule("match", 100, "competitor_match", json!({}))],
            &uncosted,
            &[offer("Acme", "22.50")],
        );
        assert_eq!(
            outcome(&decision),
            ("24.99".into(), None, None, Some(Flag::NoLandedCost))
        );
        // The rules are still explained: what would have been proposed, and by whom.
        assert_eq!(
            decision.explanation.proposal,
            (dec("22.50"), Some("match".into()))
        );
        assert_eq!(decision.explanation.new_margins, None);
        let text = decision.explanation.to_string();
        assert!(
            text.starts_with("price kept at 24.99: no landed cost, so no margin can be known"),
            "{text}"
        );
        assert!(
            text.contains("match (competitor_match, priority 100): would propose 22.50 (matches the lowest competing offer, 22.50 by \"Acme\"), not applied: no_landed_cost"),
            "{text}"
        );
    }

    #[test]
    fn the_margin_floor_is_the_highest_of_listing_and_rules_else_the_default() {
        let floor_of = |listing_pct: Option<&str>, rules: Vec<PriceRule>| {
            let listing = ListingFacts {
                margin_floor_pct: listing_pct.map(dec),
                ..listing()
            };
            let book = RuleBook::new(rules, at(NOW), TORONTO);
            let decision = decide(&book, &listing, &[], &fees(), dec("20"));
            decision.explanation.margin_floor.unwrap()
        };
        let floor_rule =
            |id: &str, pct: i64| rule(id, 1, "margin_floor", json!({"min_margin_pct": pct}));

        // The default 20 %: 11 / 0.65 = 16.92… → 16.93.
        let floor = floor_of(None, vec![]);
        assert_eq!(
            (floor.pct, floor.source, floor.floor_price),
            (dec("20"), MarginFloorSource::Default, Some(dec("16.93")))
        );
        // A rule of 25 % over the listing's 20 %: 11 / 0.6 = 18.33… → 18.34.
        let floor = floor_of(Some("20"), vec![floor_rule("f1", 25), floor_rule("f2", 15)]);
        assert_eq!(
            (floor.pct, floor.source, floor.floor_price),
            (
                dec("25"),
                MarginFloorSource::Rule("f1".into()),
                Some(dec("18.34"))
            )
        );
        // The listing's 30 % over a rule's 25 %: 11 / 0.55 = 20 exactly.
        let floor = floor_of(Some("30"), vec![floor_rule("f1", 25)]);
        assert_eq!(
            (floor.pct, floor.source, floor.floor_price),
            (dec("30"), MarginFloorSource::Listing, Some(dec("20.00")))
        );
        // Lower than the default, a listing's own floor still holds: the default is only
        // for listings with none.
        let floor = floor_of(Some("5"), vec![]);
        assert_eq!(
            (floor.pct, floor.source),
            (dec("5"), MarginFloorSource::Listing)
        );
        // A margin floor rule out of scope does not count.
        let other_tag = scoped(
            "f1",
            1,
            "margin_floor",
            json!({"min_margin_pct": 40}),
            "tag",
            Some("premium"),
        );
        let floor = floor_of(None, vec![other_tag]);
        assert_eq!(
            (floor.pct, floor.source),
            (dec("20"), MarginFloorSource::Default)
        );
    }

    #[test]
    fn rules_out_of_scope_or_inactive_are_skipped() {
        let mut inactive = rule("off", 300, "competitor_match", json!({}));
        inactive.is_active = false;
        let rules = vec![
            inactive,
            scoped(
                "garden",
                250,
                "competitor_match",
                json!({}),
                "category",
                Some("Garden"),
            ),
            scoped(
                "premium",
                240,
                "competitor_match",
                json!({}),
                "tag",
                Some("premium"),
            ),
            scoped(
                "other",
                230,
                "competitor_match",
                json!({}),
                "listing",
                Some("L2"),
            ),
            scoped(
                "this",
                100,
                "competitor_beat",
                json!({"beat_by_amount": 1}),
                "listing",
                Some("L1"),
            ),
            scoped(
                "tools",
                90,
                "competitor_match",
                json!({}),
                "category",
                Some("Tools"),
            ),
            scoped(
                "clear",
                80,
                "competitor_match",
                json!({}),
                "tag",
                Some("clearance"),
            ),
        ];
        let decision = decide_now(rules, &listing(), &[offer("Acme", "22.50")]);
        assert_eq!(
            outcome(&decision),
            ("21.50".into(), Some("this"), None, None)
        );
        assert_eq!(outcome_of(&decision, "off"), &RuleOutcome::Inactive);
        assert_eq!(
            outcome_of(&decision, "garden"),
            &RuleOutcome::OutOfScope(RuleScope::Category("Garden".into()))
        );
        assert_eq!(
            outcome_of(&decision, "premium"),
            &RuleOutcome::OutOfScope(RuleScope::Tag("premium".into()))
        );
        assert_eq!(
            outcome_of(&decision, "other"),
            &RuleOutcome::OutOfScope(RuleScope::Listing("L2".into()))
        );
        assert!(
            matches!(outcome_of(&decision, "tools"), RuleOutcome::Outranked { by, .. } if by == "this")
        );
        assert!(matches!(
            outcome_of(&decision, "clear"),
            RuleOutcome::Outranked { .. }
        ));
    }

    #[test]
    fn the_book_lists_rules_by_priority_then_id() {
        let book = RuleBook::new(
            vec![
                rule("c", 100, "competitor_match", json!({})),
                rule("z", 300, "competitor_match", json!({})),
                rule("a", 100, "competitor_match", json!({})),
            ],
            at(NOW),
            TORONTO,
        );
        let ids: Vec<&str> = book.rules().map(|rule| rule.id.as_str()).collect();
        assert_eq!(ids, ["z", "a", "c"]);
    }

    #[test]
    fn the_explanation_reads_as_text() {
        let decision = decide_now(
            vec![
                rule("beat", 200, "competitor_beat", json!({"beat_by_pct": 5})),
                rule(
                    "sale",
                    100,
                    "time_based",
                    json!({"schedule": "0 9 * * 1-5", "price_change_pct": -10}),
                ),
                rule("floor", 1, "margin_floor", json!({"min_margin_pct": 25})),
            ],
            &ListingFacts {
                min_price: Some(dec("15.00")),
                ..listing()
            },
            &[buy_box(offer("Acme", "23.15")), own(offer("Me", "20.00"))],
        );
        assert_eq!(
            decision.explanation.to_string(),
            "price 24.99 -> 21.99\n\
             proposal: 21.99 from rule beat\n\
             margin floor: 25% (rule floor), floor price 18.34\n\
             bounds: min price 15.00, max price none\n\
             rules:\n  \
               beat (competitor_beat, priority 200): applied: 21.99 (5% under the lowest competing offer, 23.15 by \"Acme\")\n  \
               sale (time_based, priority 100): outranked by beat: would be 22.49 (regular price 24.99 changed by -10% (window open since 2026-03-02 09:00 EST until 2026-03-02 10:00 EST))\n  \
               floor (margin_floor, priority 1): asks for a margin of at least 25%\n\
             margins at 24.99 (old): gross 14.99 (59.98%), net 10.24 (40.98%)\n\
             margins at 21.99 (new): gross 11.99 (54.52%), net 7.69 (34.98%)"
        );
    }
}
