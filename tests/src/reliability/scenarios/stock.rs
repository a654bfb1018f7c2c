//! Stock that follows the order: a cancellation after acceptance gives it back.

use std::time::Duration;

use super::place_orders;
use crate::fulfilment::{listed_variant, stock_of};
use crate::marketplace::{deliver_mirakl, mirakl_order};
use crate::reliability::stack::Stack;
use crate::reliability::tally::Tally;
use crate::reliability::ScenarioError;

/// Units of each SKU on hand before the order.
const ON_HAND: i32 = 10;

/// An order of one laptop and two chargers is accepted (three units reserved), then
/// Best Buy cancels it and Mirakl's webhook says so twice. Every unit is available
/// again, once: neither held by the dead order nor given back twice.
pub async fn cancelled_after_acceptance(stack: &Stack) -> Result<Tally, ScenarioError> {
    let order_id = "REL-CANCEL-A";
    let skus = [
        ("RF-T480-I5-16-512", "REL-CANCEL-LAPTOP"),
        ("RF-CHARGER-65W-USBC", "REL-CANCEL-CHARGER"),
    ];
    let with_skus = |order: String| {
        skus.iter()
            .fold(order, |order, (fixture, ours)| order.replace(fixture, ours))
    };
    let mut variants = Vec::new();
    for (_, sku) in skus {
        variants.push(listed_variant(&stack.pool, sku, Some(ON_HAND)).await);
    }

    let waiting = with_skus(mirakl_order(
        order_id,
        "WAITING_ACCEPTANCE",
        "2026-03-02T14:18:45Z",
    ));
    let mut deliveries = place_orders(stack, &[waiting]).await?;
    deliveries += stack
        .drain(&stack.accept, 1, Duration::from_secs(60))
        .await?;
    let mut reserved = 0;
    for variant in &variants {
        reserved += stock_of(&stack.pool, *variant).await.1;
    }
    if reserved != 3 {
        return Err(format!("acceptance reserved {reserved} units, not the order's 3").into());
    }

    let cancelled = with_skus(mirakl_order(order_id, "CANCELED", "2026-03-02T16:02:10Z"));
    for _ in 0..2 {
        let answer = deliver_mirakl(&stack.webhooks, &[&cancelled]).await;
        if answer.status != 200 {
            return Err(format!(
                "the cancellation was answered {}: {}",
                answer.status, answer.body
            )
            .into());
        }
        deliveries += 1;
    }

    let mut available = 0;
    for variant in &variants {
        let (on_hand, reserved) = stock_of(&stack.pool, *variant).await;
        available += i64::from(on_hand - reserved);
    }
    // Drop what acceptance queued for the label flow: this order never ships.
    stack.take_all(&stack.label).await?;
    Ok(Tally::new(deliveries).count(
        "available",
        u64::from(ON_HAND.unsigned_abs()) * 2,
        u64::try_from(available).unwrap_or(0),
    ))
}
