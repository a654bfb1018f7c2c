//! Availability and reservations: a line is filled from its variant's own stock, or else
//! from the components of its bill of materials; the reservation then follows the order.
//!
//! Race-freedom: every stock row an order touches is locked (`for update`, in variant id
//! order, so two orders never wait on each other in a cycle) before availability is
//! read, and the reservations are written while the locks are held. A concurrent order
//! for the same stock waits, then reads what this one left. The trigger-maintained
//! `stock_levels_reserved_within_on_hand_check` stays the last guard.
//!
//! A reservation's life: open (it holds `reserved`) until, once and for good, it is
//! - consumed: the line shipped, `reserved` and `on_hand` both drop by its units
//!   ([`consume_reservations`], [`follow_marketplace_order`]). Only an open reservation
//!   can be consumed, so the units leave `on_hand` exactly once however many paths (the
//!   label flow, the webhook, the poller) see the shipment;
//! - released with a [`ReleaseReason`]: the order or line was cancelled, refused or
//!   refunded ([`follow_marketplace_order`], in the transaction that records the
//!   marketplace's state), withdrawn ([`release_reservations`]), or it expired
//!   ([`release_expired_reservations`]) because its order never progressed.
//!
//! `inventory.order_reservations` shows each reservation as `open`, `consumed` or
//! `released`, beside its order and reason.
//!
//! Prices follow stock: a reservation made or released changes its variant's available
//! units (`on_hand - reserved`), which an `inventory_based` price rule reads, so the same
//! transaction queues a re-evaluation of that variant's active listings
//! ([`crate::flows::pricing::enqueue_reevaluation_of_variants`], reason
//! [`STOCK_CHANGED`]). Consuming a reservation leaves the available units as they were
//! (`on_hand` and `reserved` drop together), so a shipment queues none.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::flows::pricing::enqueue_reevaluation_of_variants;
use crate::systems::mirakl::order_state::OrderState;

/// The reason a stock change gives the re-evaluation it queues.
pub const STOCK_CHANGED: &str = "stock_changed";

/// The available units of `variants` changed in this transaction: queues a re-evaluation
/// of their active listings in it (none when no variant is listed).
async fn availability_changed(
    tx: &mut PgConnection,
    variants: impl IntoIterator<Item = Uuid>,
) -> Result<(), sqlx::Error> {
    let variants: Vec<Uuid> = variants.into_iter().collect();
    enqueue_reevaluation_of_variants(tx, &variants, STOCK_CHANGED).await?;
    Ok(())
}

/// Why a reservation stopped holding stock, stored as
/// `inventory.stock_reservations.release_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReleaseReason {
    /// The line shipped: the reservation was consumed and its units left `on_hand`.
    Shipped,
    /// The order or line was cancelled.
    Cancelled,
    /// The shop refused it, or the marketplace shows it refused.
    Refused,
    /// Refunded before it shipped: nothing will ship.
    Refunded,
    /// The order never progressed while the reservation held (`expires_at` passed).
    Expired,
    /// Withdrawn on the shop's side, e.g. Mirakl refused an acceptance decision for good.
    Manual,
}

impl ReleaseReason {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseReason::Shipped => "shipped",
            ReleaseReason::Cancelled => "cancelled",
            ReleaseReason::Refused => "refused",
            ReleaseReason::Refunded => "refunded",
            ReleaseReason::Expired => "expired",
            ReleaseReason::Manual => "manual",
        }
    }
}

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
/// Lines are served in order; a line that cannot be filled reserves nothing. The
/// reservations expire after `hold` unless the order progresses first (see
/// [`release_expired_reservations`]).
pub async fn reserve_lines(
    tx: &mut PgConnection,
    channel: &str,
    lines: &[OrderLine],
    hold: Duration,
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
            "insert into inventory.stock_reservations
                 (order_line_id, variant_id, quantity, expires_at)
             select r.*, now() + make_interval(secs => $4)
             from unnest($1::uuid[], $2::uuid[], $3::integer[]) as r",
            &line_ids,
            &variants,
            &units,
            hold.as_secs_f64(),
        )
        .execute(&mut *tx)
        .await?;
        availability_changed(tx, variants).await?;
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
/// `external_line_ids` is `None`) for `reason`. Returns how many.
pub async fn release_reservations(
    tx: &mut PgConnection,
    order_id: Uuid,
    external_line_ids: Option<&[String]>,
    reason: ReleaseReason,
) -> Result<u64, sqlx::Error> {
    let released: Vec<Uuid> = sqlx::query_scalar!(
        "update inventory.stock_reservations r
         set released_at = now(), release_reason = $2
         from sales.order_lines l
         where l.id = r.order_line_id and l.order_id = $1 and r.released_at is null
           and ($3::text[] is null or l.external_line_id = any($3))
         returning r.variant_id",
        order_id,
        reason.as_str(),
        external_line_ids,
    )
    .fetch_all(&mut *tx)
    .await?;
    let count = released.len() as u64;
    availability_changed(tx, released).await?;
    Ok(count)
}

/// The order has shipped: its reserved units leave the shelf, once (see the module
/// documentation). Returns how many reservations were consumed.
pub async fn consume_reservations(
    tx: &mut PgConnection,
    order_id: Uuid,
) -> Result<u64, sqlx::Error> {
    consume_lines(tx, order_id, None).await
}

/// Consumes the open reservations of an order's lines (all of them when
/// `external_line_ids` is `None`). Each is released as `shipped` first (lowering
/// `reserved`), then `on_hand` drops by the same units, so `reserved <= on_hand` holds at
/// every step. The release is the guard: a reservation already consumed or released is
/// not open, so its units are never taken off `on_hand` twice.
async fn consume_lines(
    tx: &mut PgConnection,
    order_id: Uuid,
    external_line_ids: Option<&[String]>,
) -> Result<u64, sqlx::Error> {
    let released = sqlx::query!(
        "update inventory.stock_reservations r
         set released_at = now(), release_reason = $2
         from sales.order_lines l
         where l.id = r.order_line_id and l.order_id = $1 and r.released_at is null
           and ($3::text[] is null or l.external_line_id = any($3))
         returning r.variant_id, r.quantity",
        order_id,
        ReleaseReason::Shipped.as_str(),
        external_line_ids,
    )
    .fetch_all(&mut *tx)
    .await?;
    let consumed = released.len() as u64;
    let mut per_variant: HashMap<Uuid, i32> = HashMap::new();
    for row in released {
        *per_variant.entry(row.variant_id).or_default() += row.quantity;
    }
    if per_variant.is_empty() {
        return Ok(0);
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
    Ok(consumed)
}

/// One line of a marketplace order as the marketplace shows it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketplaceLine<'a> {
    /// The marketplace's line id (Mirakl `order_line_id`).
    pub external_line_id: &'a str,
    /// The line's own state, when the marketplace gives one.
    pub state: Option<&'a OrderState>,
    /// Refunds cover every unit of the line.
    pub refunded_in_full: bool,
}

/// What following the marketplace did to an order's reservations.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StockFollowed {
    /// Reservations released (cancelled, refused, refunded).
    pub released: u64,
    /// Reservations consumed: their units left `on_hand`.
    pub consumed: u64,
}

/// What one line's state means for its stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineFate {
    /// Nothing will ship: give the stock back.
    Release(ReleaseReason),
    /// The units left: consume the reservation.
    Ship,
}

/// The fate of a line from where the order and the line stand, or `None` while the line
/// may still ship. A refused or cancelled order takes every line with it; otherwise the
/// line's own state decides, then full refunds of a line not shipped, then the order's
/// shipment.
fn line_fate(order: &OrderState, line: &MarketplaceLine<'_>) -> Option<LineFate> {
    match order {
        OrderState::Refused => return Some(LineFate::Release(ReleaseReason::Refused)),
        OrderState::Canceled => return Some(LineFate::Release(ReleaseReason::Cancelled)),
        _ => {}
    }
    match line.state {
        Some(OrderState::Refused) => Some(LineFate::Release(ReleaseReason::Refused)),
        Some(OrderState::Canceled) => Some(LineFate::Release(ReleaseReason::Cancelled)),
        Some(OrderState::Refunded) => Some(LineFate::Release(ReleaseReason::Refunded)),
        Some(state) if state.is_shipped() => Some(LineFate::Ship),
        _ if line.refunded_in_full => Some(LineFate::Release(ReleaseReason::Refunded)),
        _ if order.is_shipped() => Some(LineFate::Ship),
        _ => None,
    }
}

/// Makes an order's reservations follow what the marketplace shows, in the caller's
/// transaction (the one that records that state): lines cancelled, refused or refunded
/// give their stock back with that reason, and shipped lines consume theirs. Safe to
/// repeat: only open reservations change.
pub async fn follow_marketplace_order(
    tx: &mut PgConnection,
    order_id: Uuid,
    order_state: &OrderState,
    lines: &[MarketplaceLine<'_>],
) -> Result<StockFollowed, sqlx::Error> {
    let mut released_lines: Vec<String> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    let mut shipped_lines: Vec<String> = Vec::new();
    for line in lines {
        match line_fate(order_state, line) {
            Some(LineFate::Release(reason)) => {
                released_lines.push(line.external_line_id.to_owned());
                reasons.push(reason.as_str().to_owned());
            }
            Some(LineFate::Ship) => shipped_lines.push(line.external_line_id.to_owned()),
            None => {}
        }
    }
    let mut followed = StockFollowed::default();
    if !released_lines.is_empty() {
        let released: Vec<Uuid> = sqlx::query_scalar!(
            "update inventory.stock_reservations r
             set released_at = now(), release_reason = d.reason
             from sales.order_lines l, unnest($2::text[], $3::text[]) as d(line, reason)
             where l.id = r.order_line_id and l.order_id = $1 and r.released_at is null
               and l.external_line_id = d.line
             returning r.variant_id",
            order_id,
            &released_lines,
            &reasons,
        )
        .fetch_all(&mut *tx)
        .await?;
        followed.released = released.len() as u64;
        availability_changed(tx, released).await?;
    }
    if !shipped_lines.is_empty() {
        followed.consumed = consume_lines(tx, order_id, Some(&shipped_lines)).await?;
    }
    Ok(followed)
}

/// A reservation the expiry sweep released. No personal data: what an operator needs to
/// find the order and the stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredReservation {
    /// `sales.orders.id`.
    pub order_id: Uuid,
    /// The order's channel.
    pub channel: String,
    /// The channel's order id.
    pub order_external_id: String,
    /// The line's shop SKU.
    pub sku: String,
    /// The stock given back (`catalog.product_variants.id`).
    pub variant_id: Uuid,
    /// Units given back.
    pub quantity: i32,
}

/// Releases, as `expired`, up to `limit` open reservations whose `expires_at` has passed
/// while their order never progressed: it has not reached `SHIPPING` (debited, to ship)
/// or later, and no label was started for it, in the caller's transaction. One
/// set-based statement; reservations a running transaction holds (an order being decided or recorded) are skipped, not
/// waited for, and the next sweep sees them. Each release is logged.
///
/// An acceptance decision of those orders that was stored but never sent (its message
/// stopped before OR21 went out) is withdrawn with them, as a permanent refusal
/// withdraws it: the stock it counted on is gone, so a redelivered message must decide
/// again rather than accept lines nothing is reserved for.
pub async fn release_expired_reservations(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<ExpiredReservation>, sqlx::Error> {
    let expired = sqlx::query_as!(
        ExpiredReservation,
        "with due as (
             select r.id
             from inventory.stock_reservations r
             join sales.order_lines l on l.id = r.order_line_id
             join sales.orders o on o.id = l.order_id
             where r.released_at is null and r.expires_at <= now()
               and o.status not in ('SHIPPING', 'SHIPPED', 'TO_COLLECT', 'RECEIVED', 'CLOSED')
               and not exists (select 1 from sales.shipments s where s.order_id = o.id)
             order by r.expires_at
             limit $2
             for update of r skip locked
         )
         update inventory.stock_reservations r
         set released_at = now(), release_reason = $1
         from due, sales.order_lines l, sales.orders o
         where r.id = due.id and l.id = r.order_line_id and o.id = l.order_id
         returning o.id as order_id, o.channel, o.external_id as order_external_id, l.sku,
             r.variant_id, r.quantity",
        ReleaseReason::Expired.as_str(),
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    if !expired.is_empty() {
        let orders: Vec<Uuid> = expired.iter().map(|r| r.order_id).collect();
        sqlx::query!(
            "delete from sales.order_acceptances
             where order_id = any($1) and state = 'decided'",
            &orders,
        )
        .execute(&mut *conn)
        .await?;
        availability_changed(conn, expired.iter().map(|r| r.variant_id)).await?;
    }
    for reservation in &expired {
        tracing::info!(
            channel = %reservation.channel,
            order = %reservation.order_external_id,
            sku = %reservation.sku,
            quantity = reservation.quantity,
            "reservation expired: its order never progressed; the units are available again"
        );
    }
    Ok(expired)
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

    fn marketplace_line<'a>(state: Option<&'a OrderState>, refunded: bool) -> MarketplaceLine<'a> {
        MarketplaceLine {
            external_line_id: "BB-1-A-1",
            state,
            refunded_in_full: refunded,
        }
    }

    #[test]
    fn a_dead_order_releases_every_line_and_a_dead_line_only_itself() {
        let shipping = OrderState::Shipping;
        let cancelled = OrderState::Canceled;
        let refunded = OrderState::Refunded;
        assert_eq!(
            line_fate(
                &OrderState::Refused,
                &marketplace_line(Some(&shipping), false)
            ),
            Some(LineFate::Release(ReleaseReason::Refused))
        );
        assert_eq!(
            line_fate(&shipping, &marketplace_line(Some(&cancelled), false)),
            Some(LineFate::Release(ReleaseReason::Cancelled))
        );
        assert_eq!(
            line_fate(&shipping, &marketplace_line(Some(&refunded), false)),
            Some(LineFate::Release(ReleaseReason::Refunded))
        );
        assert_eq!(
            line_fate(&shipping, &marketplace_line(Some(&shipping), false)),
            None
        );
    }

    #[test]
    fn a_refund_gives_stock_back_only_before_the_line_ships() {
        let shipping = OrderState::Shipping;
        let shipped = OrderState::Shipped;
        assert_eq!(
            line_fate(&shipping, &marketplace_line(Some(&shipping), true)),
            Some(LineFate::Release(ReleaseReason::Refunded))
        );
        assert_eq!(
            line_fate(&shipped, &marketplace_line(Some(&shipped), true)),
            Some(LineFate::Ship)
        );
        assert_eq!(
            line_fate(&OrderState::Received, &marketplace_line(None, false)),
            Some(LineFate::Ship)
        );
    }
}
