//! Webhooks delivered more than once: Mirakl at once, Shopify one retry after another.

use futures::future::join_all;

use super::waiting_order;
use crate::fixtures;
use crate::marketplace::{deliver, deliver_mirakl, shopify_headers};
use crate::reliability::stack::Stack;
use crate::reliability::tally::Tally;
use crate::reliability::ScenarioError;

/// Five deliveries of one Mirakl order at the same moment (five API Gateway requests,
/// five Lambda instances): one order recorded with its lines, one acceptance queued.
pub async fn mirakl_delivered_five_times_at_once(stack: &Stack) -> Result<Tally, ScenarioError> {
    const DELIVERIES: usize = 5;
    let order_id = "REL-WEBHOOK-AT-ONCE-A";
    let order = waiting_order(order_id);
    let order = order.as_str();
    let answers = join_all(
        (0..DELIVERIES).map(|_| async move { deliver_mirakl(&stack.webhooks, &[order]).await }),
    )
    .await;
    if let Some(answer) = answers.iter().find(|answer| answer.status != 200) {
        return Err(format!("a delivery was answered {}: {}", answer.status, answer.body).into());
    }

    let orders = stack
        .number(
            "select count(*) from sales.orders where channel = 'bestbuy_ca' and external_id = $1",
            order_id,
        )
        .await?;
    let lines = stack
        .number(
            "select count(*) from sales.order_lines l join sales.orders o on o.id = l.order_id
             where o.channel = 'bestbuy_ca' and o.external_id = $1",
            order_id,
        )
        .await?;
    let queued = stack.take_all(&stack.accept).await?;
    let follow_ups = queued
        .get(&format!("accept:bestbuy_ca:{order_id}"))
        .copied()
        .unwrap_or(0);
    Ok(Tally::new(DELIVERIES as u64)
        .count("orders", 1, orders)
        .count("lines", 2, lines)
        .count("accept-msgs", 1, follow_ups))
}

/// Shopify delivers again what it got no 200 for, with the same webhook id; here eight
/// deliveries of one `orders/create`: one order with its lines.
pub async fn shopify_retried_eight_times(stack: &Stack) -> Result<Tally, ScenarioError> {
    const DELIVERIES: u64 = 8;
    let body = fixtures::text("shopify/order_created.json");
    let document: serde_json::Value = serde_json::from_str(&body)?;
    let order_id = document["id"].to_string();
    let line_count = document["line_items"].as_array().map_or(0, Vec::len) as u64;
    let headers = shopify_headers("orders/create", "reliability-retried-eight-times", &body);
    for _ in 0..DELIVERIES {
        let answer = deliver(&stack.webhooks, "shopify", &headers, &body).await;
        if answer.status != 200 {
            return Err(
                format!("a delivery was answered {}: {}", answer.status, answer.body).into(),
            );
        }
    }

    let orders = stack
        .number(
            "select count(*) from sales.orders where channel = 'shopify' and external_id = $1",
            &order_id,
        )
        .await?;
    let lines = stack
        .number(
            "select count(*) from sales.order_lines l join sales.orders o on o.id = l.order_id
             where o.channel = 'shopify' and o.external_id = $1",
            &order_id,
        )
        .await?;
    Ok(Tally::new(DELIVERIES)
        .count("orders", 1, orders)
        .count("lines", line_count, lines))
}
