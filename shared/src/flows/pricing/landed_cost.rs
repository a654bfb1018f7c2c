//! Every variant's landed cost at once, for a full evaluation: the bills of materials
//! and the parts' prices read in two queries, the bills walked here.
//!
//! The figures are those of `inventory.landed_costs_at` (migrations 0022 and 0027),
//! which stays the definition and costs the few variants of a partial evaluation; a
//! test holds the two to the same figures on bills with nested sub-assemblies, loops,
//! bills too deep, overrides, other currencies and expired prices. Reading the lines
//! and summing them here costs a fraction of summing 100,000 bills in the database.
//!
//! As there, a variant with lines is costed from them: a variant that is itself a
//! component is walked whole; any other takes each sub-assembly's walk (done once)
//! times its quantity. A walk stops at an override, a bought part, a loop or a bill
//! deeper than nine levels (the last two cannot be costed). A variant without lines
//! costs its own price. The cost is known when every line is costed in one currency:
//! the sum of unit costs, duty and shipping, plus 10 % overhead for a bill, rounded
//! half away from zero to 4 places.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use rust_decimal::{Decimal, RoundingStrategy};
use sqlx::PgConnection;
use uuid::Uuid;

use super::load::{LandedCost, LandedCosts};

/// Below this depth a line that is still assembled cannot be costed (as in SQL).
const MAX_DEPTH: u32 = 9;

/// One line of a bill of materials.
#[derive(Debug, Clone)]
struct BomLine {
    part: Uuid,
    quantity: Decimal,
    cost_override: Option<Decimal>,
    /// The override's currency, by number in [`Bills::currencies`].
    currency: u32,
}

/// A part's price on the evaluation day, the one `inventory.landed_costs_at` chooses.
#[derive(Debug, Clone)]
struct PartPrice {
    unit_cost: Decimal,
    duty: Decimal,
    shipping: Decimal,
    currency: u32,
}

/// The bills of materials and the parts' prices on one day.
#[derive(Debug, Default)]
struct Bills {
    lines: HashMap<Uuid, Vec<BomLine>>,
    components: HashSet<Uuid>,
    prices: HashMap<Uuid, PartPrice>,
    currencies: Vec<String>,
}

/// Sums of a walk or a bill: costed lines' cost, duty and shipping, their one
/// currency, and whether a line could not be costed or currencies differ.
#[derive(Debug, Clone, Default)]
struct Sums {
    cost: Decimal,
    duty: Decimal,
    shipping: Decimal,
    currency: Option<u32>,
    incomplete: bool,
}

impl Sums {
    fn add(
        &mut self,
        quantity: Decimal,
        unit: Decimal,
        duty: Decimal,
        shipping: Decimal,
        currency: u32,
    ) {
        self.cost += quantity * unit;
        self.duty += quantity * duty;
        self.shipping += quantity * shipping;
        self.currency_is(currency);
    }

    fn add_scaled(&mut self, quantity: Decimal, other: &Sums) {
        self.cost += quantity * other.cost;
        self.duty += quantity * other.duty;
        self.shipping += quantity * other.shipping;
        self.incomplete |= other.incomplete;
        if let Some(currency) = other.currency {
            self.currency_is(currency);
        }
    }

    fn currency_is(&mut self, currency: u32) {
        match self.currency {
            None => self.currency = Some(currency),
            Some(known) if known != currency => self.incomplete = true,
            Some(_) => {}
        }
    }

    fn landed(&self, overhead: Decimal, currencies: &[String]) -> Option<LandedCost> {
        let currency = self.currency.filter(|_| !self.incomplete)?;
        let amount = ((self.cost + self.duty + self.shipping) * overhead)
            .round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero);
        Some(LandedCost {
            amount: Some(amount),
            currency: currencies[currency as usize].clone(),
        })
    }
}

/// One step of a walk down a bill.
struct Step {
    part: Uuid,
    quantity: Decimal,
    cost_override: Option<Decimal>,
    currency: u32,
    depth: u32,
    path: Vec<Uuid>,
    loops: bool,
}

impl Bills {
    fn is_assembled(&self, variant: &Uuid) -> bool {
        self.lines.contains_key(variant)
    }

    /// The leaves under `anchor`, its lines at `depth`; a shared walk (a sub-assembly's)
    /// sees a line back to the anchor as a loop at once, a whole walk one level later.
    fn walk(&self, anchor: Uuid, depth: u32, shared: bool) -> Sums {
        let mut sums = Sums::default();
        let mut steps: Vec<Step> = self.lines[&anchor]
            .iter()
            .map(|line| Step {
                part: line.part,
                quantity: line.quantity,
                cost_override: line.cost_override,
                currency: line.currency,
                depth,
                path: vec![anchor, line.part],
                loops: shared && line.part == anchor,
            })
            .collect();
        while let Some(step) = steps.pop() {
            let assembled = self.is_assembled(&step.part);
            if assembled && step.cost_override.is_none() && !step.loops && step.depth <= MAX_DEPTH {
                for line in &self.lines[&step.part] {
                    let mut path = step.path.clone();
                    path.push(line.part);
                    steps.push(Step {
                        part: line.part,
                        quantity: step.quantity * line.quantity,
                        cost_override: line.cost_override,
                        currency: line.currency,
                        depth: step.depth + 1,
                        path,
                        loops: step.path.contains(&line.part),
                    });
                }
                continue;
            }
            let uncostable = step.loops || (step.depth > MAX_DEPTH && assembled);
            if uncostable {
                sums.incomplete = true;
            } else {
                self.line(
                    &mut sums,
                    step.part,
                    step.quantity,
                    step.cost_override,
                    step.currency,
                );
            }
        }
        sums
    }

    /// A costable line ending a walk: its override, or its part's price.
    fn line(
        &self,
        sums: &mut Sums,
        part: Uuid,
        quantity: Decimal,
        cost_override: Option<Decimal>,
        currency: u32,
    ) {
        if let Some(unit) = cost_override {
            sums.add(quantity, unit, Decimal::ZERO, Decimal::ZERO, currency);
        } else if let Some(price) = self.prices.get(&part) {
            sums.add(
                quantity,
                price.unit_cost,
                price.duty,
                price.shipping,
                price.currency,
            );
        } else {
            sums.incomplete = true;
        }
    }

    fn costs(&self) -> LandedCosts {
        let overhead = Decimal::new(110, 2);
        let mut shared: HashMap<Uuid, Sums> = HashMap::new();
        let mut costs = LandedCosts::with_capacity(self.lines.len() + self.prices.len());
        for (root, lines) in &self.lines {
            let sums = if self.components.contains(root) {
                self.walk(*root, 2, false)
            } else {
                let mut sums = Sums::default();
                for line in lines {
                    if self.is_assembled(&line.part) && line.cost_override.is_none() {
                        let walked = shared
                            .entry(line.part)
                            .or_insert_with(|| self.walk(line.part, 3, true));
                        sums.add_scaled(line.quantity, walked);
                    } else {
                        self.line(
                            &mut sums,
                            line.part,
                            line.quantity,
                            line.cost_override,
                            line.currency,
                        );
                    }
                }
                sums
            };
            if let Some(cost) = sums.landed(overhead, &self.currencies) {
                costs.insert(*root, cost);
            }
        }
        // Variants bought whole: their own price.
        for (variant, price) in &self.prices {
            if !self.is_assembled(variant) {
                let mut sums = Sums::default();
                sums.add(
                    Decimal::ONE,
                    price.unit_cost,
                    price.duty,
                    price.shipping,
                    price.currency,
                );
                if let Some(cost) = sums.landed(Decimal::ONE, &self.currencies) {
                    costs.insert(*variant, cost);
                }
            }
        }
        costs
    }

    fn currency_number(&mut self, numbers: &mut HashMap<String, u32>, currency: String) -> u32 {
        *numbers.entry(currency).or_insert_with_key(|currency| {
            self.currencies.push(currency.clone());
            (self.currencies.len() - 1) as u32
        })
    }
}

/// The landed cost at `now` of every variant that has one (known, in one currency), as
/// `inventory.landed_costs_at(now)` gives it; variants without are left out.
pub async fn load_all_landed_costs(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<LandedCosts, sqlx::Error> {
    let mut bills = Bills::default();
    let mut numbers = HashMap::new();
    let prices = sqlx::query!(
        r#"select distinct on (cp.component_variant_id)
                  cp.component_variant_id as "variant_id!",
                  cp.unit_cost as "unit_cost!",
                  cp.import_duty_pct as "import_duty_pct!",
                  cp.shipping_cost as "shipping_cost!",
                  cp.currency::text as "currency!"
           from inventory.component_prices cp
           join catalog.product_variants part on part.id = cp.component_variant_id
           cross join (select ops.seller_date($1) as on_day) day
           where cp.is_current
             and cp.valid_from <= day.on_day
             and (cp.valid_to is null or cp.valid_to >= day.on_day)
           order by cp.component_variant_id,
                    (cp.supplier_id is not distinct from part.default_supplier_id) desc,
                    cp.min_quantity, cp.unit_cost, cp.id"#,
        now,
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in prices {
        let currency = bills.currency_number(&mut numbers, row.currency);
        bills.prices.insert(
            row.variant_id,
            PartPrice {
                unit_cost: row.unit_cost,
                duty: row.unit_cost * row.import_duty_pct / Decimal::ONE_HUNDRED,
                shipping: row.shipping_cost,
                currency,
            },
        );
    }
    let mut lines = sqlx::query!(
        r#"select variant_id, component_variant_id, quantity, cost_override,
                  currency::text as "currency!"
           from catalog.variant_components"#
    )
    .fetch(&mut *conn);
    while let Some(row) = lines.try_next().await? {
        let currency = bills.currency_number(&mut numbers, row.currency);
        bills.components.insert(row.component_variant_id);
        bills
            .lines
            .entry(row.variant_id)
            .or_default()
            .push(BomLine {
                part: row.component_variant_id,
                quantity: row.quantity,
                cost_override: row.cost_override,
                currency,
            });
    }
    drop(lines);
    Ok(bills.costs())
}
