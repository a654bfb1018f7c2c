//! Availability and reservations: a line is filled from its variant's own stock, or else
//! from the components of its bill of materials.
//!
//! Race-freedom: every stock row an order touches is locked (`for update`, in variant id
//! order, so two orders never wait on each other in a cycle) before availability is
//! read, and the reservations are written while the locks are held. A concurrent order
//! for the same stock waits, then reads what this one left. The trigger-maintained
//! `stock_levels_reserved_within_on_hand_check` stays the last guard.

use std::collections::{BTreeSet, HashMap};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

/// One order line to fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// `sales.order_lines.id`.
    pub id: Uuid,
    /// The marketplace's line id (Mirakl `order_line_id`).
    pub external_line_id: Option<String>,
    /// The offer (shop) SKU.
    pub sku: String,
    /// Units ordered.
    pub quantity: i32,
}

/// What was decided for one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFill {
    /// `sales.order_lines.id`.
    pub line_id: Uuid,
    /// Whether stock was reserved for the whole line.
    pub reserved: bool,
    /// Why not, in the seller's words.
    pub shortage: Option<String>,
}

/// Why an order cannot be decided automatically.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NeedsPerson {
    /// Offer SKUs missing from `catalog.shop_sku_map`.
    #[error("offer SKU(s) not in the shop SKU map for {channel}: {}", .skus.join(", "))]
    UnknownSkus {
        channel: String,
        /// The unknown SKUs.
        skus: Vec<String>,
    },
}

/// Maps each line's SKU to a variant (recording it on the line), locks the stock the
/// lines could use, and reserves stock for every line that can be filled in full.
/// Lines are served in order; a line that cannot be filled reserves nothing.
pub async fn reserve_lines(
    tx: &mut PgConnection,
    channel: &str,
    lines: &[OrderLine],
) -> Result<Result<Vec<LineFill>, NeedsPerson>, sqlx::Error> {
    let skus: Vec<String> = lines.iter().map(|line| line.sku.clone()).collect();
    let mapped: HashMap<String, Uuid> = sqlx::query!(
        "select shop_sku, variant_id from catalog.shop_sku_map
         where channel = $1 and shop_sku = any($2)",
        channel,
        &skus,
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|row| (row.shop_sku, row.variant_id))
    .collect();
    let unknown: BTreeSet<String> = skus
        .iter()
        .filter(|sku| !mapped.contains_key(*sku))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Ok(Err(NeedsPerson::UnknownSkus {
            channel: channel.to_owned(),
            skus: unknown.into_iter().collect(),
        }));
    }

    let line_ids: Vec<Uuid> = lines.iter().map(|line| line.id).collect();
    let line_variants: Vec<Uuid> = lines.iter().map(|line| mapped[&line.sku]).collect();
    sqlx::query!(
        "update sales.order_lines l set variant_id = m.variant_id
         from unnest($1::uuid[], $2::uuid[]) as m(line_id, variant_id)
         where l.id = m.line_id and l.variant_id is distinct from m.variant_id",
        &line_ids,
        &line_variants,
    )
    .execute(&mut *tx)
    .await?;

    let boms = bills_of_materials(tx, &line_variants).await?;
    let mut touched: BTreeSet<Uuid> = line_variants.iter().copied().collect();
    touched.extend(boms.values().flatten().map(|(component, _)| *component));
    let touched: Vec<Uuid> = touched.into_iter().collect();
    let mut available: HashMap<Uuid, i64> = sqlx::query!(
        r#"select variant_id, on_hand - reserved as "units!" from inventory.stock_levels
         where variant_id = any($1)
         order by variant_id
         for update"#,
        &touched,
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|row| (row.variant_id, i64::from(row.units)))
    .collect();

    let mut fills = Vec::with_capacity(lines.len());
    let mut reservations: Vec<(Uuid, Uuid, i32)> = Vec::new();
    for (line, variant) in lines.iter().zip(&line_variants) {
        let plan = plan_line(line, *variant, boms.get(variant), &available);
        match plan {
            Ok(needs) => {
                for (stock_variant, units) in needs {
                    *available.entry(stock_variant).or_default() -= i64::from(units);
                    reservations.push((line.id, stock_variant, units));
                }
                fills.push(LineFill {
                    line_id: line.id,
                    reserved: true,
                    shortage: None,
                });
            }
            Err(shortage) => fills.push(LineFill {
                line_id: line.id,
                reserved: false,
                shortage: Some(shortage),
            }),
        }
    }

    if !reservations.is_empty() {
        let (line_ids, variants, units): (Vec<Uuid>, Vec<Uuid>, Vec<i32>) =
            reservations.into_iter().fold(
                (Vec::new(), Vec::new(), Vec::new()),
                |(mut a, mut b, mut c), (line, variant, n)| {
                    a.push(line);
                    b.push(variant);
                    c.push(n);
                    (a, b, c)
                },
            );
        sqlx::query!(
            "insert into inventory.stock_reservations (order_line_id, variant_id, quantity)
             select * from unnest($1::uuid[], $2::uuid[], $3::integer[])",
            &line_ids,
            &variants,
            &units,
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(Ok(fills))
}

/// Component lines per assembled variant: (component variant, quantity per unit).
async fn bills_of_materials(
    tx: &mut PgConnection,
    variants: &[Uuid],
) -> Result<HashMap<Uuid, Vec<(Uuid, Decimal)>>, sqlx::Error> {
    let rows = sqlx::query!(
        "select variant_id, component_variant_id, quantity from catalog.variant_components
         where variant_id = any($1)
         order by variant_id, component_variant_id",
        variants,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut boms: HashMap<Uuid, Vec<(Uuid, Decimal)>> = HashMap::new();
    for row in rows {
        boms.entry(row.variant_id)
            .or_default()
            .push((row.component_variant_id, row.quantity));
    }
    Ok(boms)
}

/// The stock one line needs, or why it cannot be filled: the variant's own units when
/// there are enough, else its components (fractional quantities rounded up).
fn plan_line(
    line: &OrderLine,
    variant: Uuid,
    bom: Option<&Vec<(Uuid, Decimal)>>,
    available: &HashMap<Uuid, i64>,
) -> Result<Vec<(Uuid, i32)>, String> {
    let have = |v: &Uuid| available.get(v).copied().unwrap_or(0);
    let own = have(&variant);
    if own >= i64::from(line.quantity) {
        return Ok(vec![(variant, line.quantity)]);
    }
    let Some(bom) = bom.filter(|bom| !bom.is_empty()) else {
        return Err(format!(
            "{}: {} ordered, {} available",
            line.sku,
            line.quantity,
            own.max(0)
        ));
    };
    let mut needs = Vec::with_capacity(bom.len());
    let mut short = Vec::new();
    for (component, per_unit) in bom {
        let units = (per_unit * Decimal::from(line.quantity))
            .ceil()
            .to_i32()
            .unwrap_or(i32::MAX);
        if have(component) < i64::from(units) {
            short.push(format!(
                "component {component} needs {units}, {} available",
                have(component).max(0)
            ));
        }
        needs.push((*component, units));
    }
    if short.is_empty() {
        Ok(needs)
    } else {
        Err(format!(
            "{}: {} ordered, {} assembled available, and {}",
            line.sku,
            line.quantity,
            own.max(0),
            short.join("; ")
        ))
    }
}

/// Releases the open reservations of an order's lines (all of them when
/// `external_line_ids` is `None`), e.g. `refused` or `cancelled`. Returns how many.
pub async fn release_reservations(
    tx: &mut PgConnection,
    order_id: Uuid,
    external_line_ids: Option<&[String]>,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update inventory.stock_reservations r
         set released_at = now(), release_reason = $2
         from sales.order_lines l
         where l.id = r.order_line_id and l.order_id = $1 and r.released_at is null
           and ($3::text[] is null or l.external_line_id = any($3))",
        order_id,
        reason,
        external_line_ids,
    )
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected())
}

/// The order has shipped: its reserved units leave the shelf. Each open reservation is
/// released as `shipped` first (lowering `reserved`), then `on_hand` drops by the same
/// units, so `reserved <= on_hand` holds at every step.
pub async fn consume_reservations(
    tx: &mut PgConnection,
    order_id: Uuid,
) -> Result<(), sqlx::Error> {
    let released = sqlx::query!(
        "update inventory.stock_reservations r
         set released_at = now(), release_reason = 'shipped'
         from sales.order_lines l
         where l.id = r.order_line_id and l.order_id = $1 and r.released_at is null
         returning r.variant_id, r.quantity",
        order_id,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut per_variant: HashMap<Uuid, i32> = HashMap::new();
    for row in released {
        *per_variant.entry(row.variant_id).or_default() += row.quantity;
    }
    let (variants, units): (Vec<Uuid>, Vec<i32>) = per_variant.into_iter().unzip();
    sqlx::query!(
        "update inventory.stock_levels s set on_hand = s.on_hand - u.units
         from unnest($1::uuid[], $2::integer[]) as u(variant_id, units)
         where s.variant_id = u.variant_id",
        &variants,
        &units,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: i32) -> OrderLine {
        OrderLine {
            id: Uuid::new_v4(),
            external_line_id: Some("L-1".into()),
            sku: "LT-T480".into(),
            quantity,
        }
    }

    #[test]
    fn own_stock_is_used_first_then_the_bill_of_materials() {
        let laptop = Uuid::new_v4();
        let ram = Uuid::new_v4();
        let bom = vec![(ram, Decimal::new(15, 1))];
        let mut available = HashMap::from([(laptop, 1), (ram, 3)]);

        assert_eq!(
            plan_line(&line(1), laptop, Some(&bom), &available),
            Ok(vec![(laptop, 1)])
        );
        assert_eq!(
            plan_line(&line(2), laptop, Some(&bom), &available),
            Ok(vec![(ram, 3)])
        );
        available.insert(ram, 2);
        let short = plan_line(&line(2), laptop, Some(&bom), &available).unwrap_err();
        assert!(short.contains("needs 3, 2 available"), "{short}");
    }

    #[test]
    fn a_variant_without_stock_or_components_is_short_by_name() {
        let short = plan_line(&line(2), Uuid::new_v4(), None, &HashMap::new()).unwrap_err();
        assert_eq!(short, "LT-T480: 2 ordered, 0 available");
    }
}
