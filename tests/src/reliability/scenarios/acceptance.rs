//! Acceptance under faults: a consumer that dies holding a message, and Mirakl
//! throttling and failing.

use std::time::Duration;

use serde_json::json;

use super::{label_key, place_orders, waiting_order};
use crate::reliability::stack::{Stack, ACCEPT};
use crate::reliability::tally::Tally;
use crate::reliability::ScenarioError;

/// How long the dying consumer's message stays hidden: the queue's visibility timeout.
const VISIBILITY: Duration = Duration::from_secs(3);

/// A consumer takes an accept message and dies while Mirakl is taking its OR21 (the
/// decision written, stock reserved, the message never deleted). The message comes back
/// after its visibility timeout and is handled again: the order is accepted at Mirakl
/// once, with one label message.
pub async fn redelivered_after_visibility_timeout(stack: &Stack) -> Result<Tally, ScenarioError> {
    let order_id = "REL-VISIBILITY-A";
    place_orders(stack, &[waiting_order(order_id)]).await?;
    stack
        .mirakl
        .fault(json!({ "route": "OR21", "delay_ms": 5000, "times": 1 }))
        .await?;

    let message = stack
        .receive_one(&stack.accept, VISIBILITY)
        .await?
        .ok_or("the order's accept message is not in the queue")?;
    let event = stack.event_of(&stack.accept, &[message]).await?;
    // Stopped a second in, as a process dies: nothing after that runs.
    let died = tokio::time::timeout(
        Duration::from_secs(1),
        stack.functions.invoke(ACCEPT, event),
    )
    .await
    .is_err();
    if !died {
        return Err("the consumer finished before it could die".into());
    }

    let redeliveries = stack
        .drain(&stack.accept, 1, Duration::from_secs(60))
        .await?;
    let accepted = stack.mirakl.successful_calls("OR21", order_id).await?;
    let decisions = stack
        .number(
            "select count(*) from sales.order_acceptances a join sales.orders o on o.id = a.order_id
             where o.external_id = $1 and a.state = 'sent'",
            order_id,
        )
        .await?;
    let labels = label_messages(stack, &[order_id]).await?;
    Ok(Tally::new(1 + redeliveries)
        .count("OR21", 1, accepted)
        .count("decisions", 1, decisions)
        .count_each("label-msgs", 1, &labels))
}

/// Mirakl answers OR21 with 429 (Retry-After 1) four times, then 503 three times, then
/// 500 three times, while five orders wait in the accept queue, taken by two instances
/// at once. Retries within an invocation and redeliveries see every order accepted once.
pub async fn storm_during_acceptance(stack: &Stack) -> Result<Tally, ScenarioError> {
    let order_ids: Vec<String> = (1..=5).map(|n| format!("REL-STORM-{n}-A")).collect();
    let orders: Vec<String> = order_ids.iter().map(|id| waiting_order(id)).collect();
    place_orders(stack, &orders).await?;
    for (status, times) in [(429, 4), (503, 3), (500, 3)] {
        stack
            .mirakl
            .fault(json!({ "route": "OR21", "status": status, "retry_after": 1, "times": times }))
            .await?;
    }

    let deliveries = stack
        .drain(&stack.accept, 2, Duration::from_secs(120))
        .await?;
    let mut accepted = Vec::with_capacity(order_ids.len());
    for order_id in &order_ids {
        accepted.push(stack.mirakl.successful_calls("OR21", order_id).await?);
    }
    let ids: Vec<&str> = order_ids.iter().map(String::as_str).collect();
    let labels = label_messages(stack, &ids).await?;
    Ok(Tally::new(deliveries)
        .count_each("OR21", 1, &accepted)
        .count_each("label-msgs", 1, &labels))
}

/// Takes the label queue's messages and counts, per order, those of `order_ids`.
pub async fn label_messages(stack: &Stack, order_ids: &[&str]) -> Result<Vec<u64>, ScenarioError> {
    let queued = stack.take_all(&stack.label).await?;
    Ok(order_ids
        .iter()
        .map(|order_id| {
            let prefix = label_key(order_id);
            queued
                .iter()
                .filter(|(key, _)| key.starts_with(&prefix))
                .map(|(_, n)| n)
                .sum()
        })
        .collect())
}
