//! Writing a supplier's price for a component (`inventory.component_prices`): checked
//! before it is stored, and the listings whose landed cost it feeds re-evaluated in the
//! same transaction.
//!
//! A component's price reaches a listing's landed cost when the listing's variant is the
//! component itself (bought whole) or is assembled from it, directly or through other
//! assemblies (`catalog.variant_components`, walked upwards). The active listings of
//! those variants get one "re-evaluate these listings" message, reason
//! [`COST_CHANGED`]. Writing a price exactly as it is stored changes nothing and queues
//! nothing.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::message::enqueue_reevaluation_of_variants;

/// The reason a supplier price change gives the re-evaluation it queues.
pub const COST_CHANGED: &str = "cost_changed";

/// One supplier's price for a component, as the seller writes it. A price is keyed by
/// component, supplier, quantity break and first valid day: writing the same key again
/// replaces its figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplierPrice {
    /// The component (`catalog.product_variants.id`).
    pub component_variant_id: Uuid,
    /// `inventory.suppliers.id`.
    pub supplier_id: Uuid,
    /// Per unit, before duty and shipping; at most 4 decimal places.
    pub unit_cost: Decimal,
    /// ISO 4217, e.g. `CAD`.
    pub currency: String,
    /// The quantity break this price starts at (1 for any quantity).
    pub min_quantity: i32,
    /// The first day it is valid, in the seller's time zone.
    pub valid_from: NaiveDate,
    /// The last day it is valid (inclusive); `None` while it has no end.
    pub valid_to: Option<NaiveDate>,
    /// Import duty, a percentage of the unit cost (0 to 100, 2 decimal places).
    pub import_duty_pct: Decimal,
    /// Shipping per unit; at most 2 decimal places.
    pub shipping_cost: Decimal,
}

/// Why a supplier price was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SupplierPriceError {
    /// The price is refused: the problem names the field.
    #[error("supplier price of component {component} refused: {problem}")]
    Refused {
        /// The component it was for.
        component: Uuid,
        /// What is wrong.
        problem: String,
    },
    /// The database failed, or the component or supplier does not exist.
    #[error("storing the supplier price of component {component}")]
    Database {
        /// The component it was for.
        component: Uuid,
        /// The failure.
        #[source]
        source: sqlx::Error,
    },
}

/// What a stored price did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupplierPriceWritten {
    /// `inventory.component_prices.id`.
    pub id: Uuid,
    /// The figures changed (a new price, or new figures for its key).
    pub changed: bool,
    /// A re-evaluation was queued: some active listing's landed cost uses the component.
    pub reevaluation_queued: bool,
}

/// Checks `price` with [`check_supplier_price`], stores it, and when that changed
/// anything queues a re-evaluation of the listings whose landed cost uses the component,
/// in one transaction.
pub async fn record_supplier_price(
    conn: &mut PgConnection,
    price: &SupplierPrice,
) -> Result<SupplierPriceWritten, SupplierPriceError> {
    let component = price.component_variant_id;
    check_supplier_price(price)
        .map_err(|problem| SupplierPriceError::Refused { component, problem })?;
    let database = |source| SupplierPriceError::Database { component, source };
    let mut tx = conn.begin().await.map_err(database)?;
    let changed: Option<Uuid> = sqlx::query_scalar!(
        "insert into inventory.component_prices
             (component_variant_id, supplier_id, unit_cost, currency, min_quantity,
              valid_from, valid_to, import_duty_pct, shipping_cost)
         values ($1, $2, $3, $4::text::ops.currency_code, $5, $6, $7, $8, $9)
         on conflict on constraint component_prices_component_supplier_quantity_valid_from_key
         do update set unit_cost = excluded.unit_cost, currency = excluded.currency,
             valid_to = excluded.valid_to, import_duty_pct = excluded.import_duty_pct,
             shipping_cost = excluded.shipping_cost, is_current = true
         where (component_prices.unit_cost, component_prices.currency,
                component_prices.valid_to, component_prices.import_duty_pct,
                component_prices.shipping_cost, component_prices.is_current)
               is distinct from
               (excluded.unit_cost, excluded.currency, excluded.valid_to,
                excluded.import_duty_pct, excluded.shipping_cost, true)
         returning id",
        component,
        price.supplier_id,
        price.unit_cost,
        price.currency,
        price.min_quantity,
        price.valid_from,
        price.valid_to,
        price.import_duty_pct,
        price.shipping_cost,
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(database)?;
    let written = match changed {
        Some(id) => {
            let fed = variants_fed_by(&mut tx, component)
                .await
                .map_err(database)?;
            let queued = enqueue_reevaluation_of_variants(&mut tx, &fed, COST_CHANGED)
                .await
                .map_err(database)?;
            SupplierPriceWritten {
                id,
                changed: true,
                reevaluation_queued: queued,
            }
        }
        None => {
            let id = sqlx::query_scalar!(
                "select id from inventory.component_prices
                 where component_variant_id = $1 and supplier_id = $2 and min_quantity = $3
                   and valid_from = $4",
                component,
                price.supplier_id,
                price.min_quantity,
                price.valid_from,
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(database)?;
            SupplierPriceWritten {
                id,
                changed: false,
                reevaluation_queued: false,
            }
        }
    };
    tx.commit().await.map_err(database)?;
    Ok(written)
}

/// The variants whose landed cost may use `component`: itself (bought whole) and every
/// assembly that contains it, directly or through other assemblies. A bill that loops
/// back on itself ends the walk (`union` keeps each variant once).
async fn variants_fed_by(tx: &mut PgConnection, component: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"with recursive fed (variant_id) as (
               select $1::uuid
               union
               select c.variant_id from catalog.variant_components c
               join fed on fed.variant_id = c.component_variant_id
           )
           select variant_id as "variant_id!" from fed order by variant_id"#,
        component,
    )
    .fetch_all(&mut *tx)
    .await
}

/// Checks a supplier price as [`record_supplier_price`] would store it: every problem
/// found, each naming its field.
pub fn check_supplier_price(price: &SupplierPrice) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut amount = |field: &str, value: Decimal, places: u32| {
        if value.is_sign_negative() && !value.is_zero() {
            problems.push(format!("{field} must not be negative, got {value}"));
        }
        if value.normalize().scale() > places {
            problems.push(format!(
                "{field} has more than {places} decimal places, got {value}"
            ));
        }
    };
    amount("unit_cost", price.unit_cost, 4);
    amount("shipping_cost", price.shipping_cost, 2);
    amount("import_duty_pct", price.import_duty_pct, 2);
    if price.import_duty_pct > Decimal::ONE_HUNDRED {
        problems.push(format!(
            "import_duty_pct must be at most 100, got {}",
            price.import_duty_pct
        ));
    }
    // numeric(14, 4) and numeric(14, 2): ten and twelve digits before the point.
    if price.unit_cost.abs() >= Decimal::from(10_000_000_000_i64) {
        problems.push(format!("unit_cost is too large, got {}", price.unit_cost));
    }
    if price.shipping_cost.abs() >= Decimal::from(1_000_000_000_000_i64) {
        problems.push(format!(
            "shipping_cost is too large, got {}",
            price.shipping_cost
        ));
    }
    let currency = price.currency.as_bytes();
    if currency.len() != 3 || !currency.iter().all(u8::is_ascii_uppercase) {
        problems.push(format!(
            "currency must be three capital letters (ISO 4217), got {:?}",
            price.currency
        ));
    }
    if price.min_quantity < 1 {
        problems.push(format!(
            "min_quantity must be at least 1, got {}",
            price.min_quantity
        ));
    }
    if let Some(valid_to) = price.valid_to {
        if valid_to < price.valid_from {
            problems.push(format!(
                "valid_to ({valid_to}) is before valid_from ({})",
                price.valid_from
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price() -> SupplierPrice {
        SupplierPrice {
            component_variant_id: Uuid::nil(),
            supplier_id: Uuid::nil(),
            unit_cost: Decimal::new(1_250, 2),
            currency: "CAD".into(),
            min_quantity: 1,
            valid_from: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            valid_to: None,
            import_duty_pct: Decimal::new(65, 1),
            shipping_cost: Decimal::new(150, 2),
        }
    }

    #[test]
    fn a_sound_price_passes() {
        assert_eq!(check_supplier_price(&price()), Ok(()));
        let free = SupplierPrice {
            unit_cost: Decimal::ZERO,
            shipping_cost: Decimal::new(0, 2),
            valid_to: Some(price().valid_from),
            ..price()
        };
        assert_eq!(check_supplier_price(&free), Ok(()));
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let bad = SupplierPrice {
            unit_cost: Decimal::new(-1, 0),
            currency: "cad".into(),
            min_quantity: 0,
            valid_to: NaiveDate::from_ymd_opt(2026, 2, 28),
            import_duty_pct: Decimal::new(1_015, 1),
            shipping_cost: Decimal::new(1_999, 3),
            ..price()
        };
        let problems = check_supplier_price(&bad).unwrap_err();
        for expected in [
            "unit_cost must not be negative, got -1",
            "shipping_cost has more than 2 decimal places, got 1.999",
            "import_duty_pct must be at most 100, got 101.5",
            "currency must be three capital letters (ISO 4217), got \"cad\"",
            "min_quantity must be at least 1, got 0",
            "valid_to (2026-02-28) is before valid_from (2026-03-01)",
        ] {
            assert!(
                problems.contains(expected),
                "{expected:?} not in {problems:?}"
            );
        }
    }

    #[test]
    fn places_are_counted_on_the_value_not_its_trailing_zeros() {
        let padded = SupplierPrice {
            unit_cost: Decimal::new(1_250_000, 5),
            ..price()
        };
        assert_eq!(check_supplier_price(&padded), Ok(()));
        let fine = SupplierPrice {
            unit_cost: Decimal::new(1_250_001, 5),
            ..price()
        };
        assert!(check_supplier_price(&fine)
            .unwrap_err()
            .contains("unit_cost has more than 4 decimal places"));
    }
}
