//! A label is never bought twice: each ambiguous outcome of the Canada Post purchase
//! (the shipment exists, the answer does not arrive whole), then redelivery.

use std::time::Duration;

use serde_json::{json, Value};

use super::{place_orders, waiting_order};
use crate::reliability::stack::{Stack, LABEL};
use crate::reliability::tally::Tally;
use crate::reliability::ScenarioError;

/// How long the label queue hides a message its consumer died with.
const VISIBILITY: Duration = Duration::from_secs(3);

/// Places the order and lets `accept-orders` accept it, which queues its label message;
/// Mirakl then shows it SHIPPING.
async fn accepted_order(stack: &Stack, order_id: &str) -> Result<(), ScenarioError> {
    place_orders(stack, &[waiting_order(order_id)]).await?;
    stack
        .drain(&stack.accept, 1, Duration::from_secs(60))
        .await?;
    Ok(())
}

/// Shipments Canada Post created with the order as `customer-ref-1`, refunded or not.
async fn carrier_shipments(stack: &Stack, order_id: &str) -> Result<u64, ScenarioError> {
    let counters = stack.canadapost.counters().await?;
    Ok(
        counters["canadapost"]["by_reference"][order_id]["shipments"]
            .as_u64()
            .unwrap_or(0),
    )
}

/// The end state of one order's label: one shipment bought at Canada Post, one label
/// stored, one tracking number sent to Mirakl (OR23).
async fn one_label(stack: &Stack, order_id: &str, deliveries: u64) -> Result<Tally, ScenarioError> {
    let bought = carrier_shipments(stack, order_id).await?;
    let stored = stack
        .number(
            "select count(*) from sales.shipments s join sales.orders o on o.id = s.order_id
             where o.external_id = $1 and s.label_s3_key is not null",
            order_id,
        )
        .await?;
    let tracking = stack.mirakl.successful_calls("OR23", order_id).await?;
    // A second purchase found and refunded is still a second purchase: `bought` counts
    // every shipment Canada Post created for the order, refunded or not.
    Ok(Tally::new(deliveries)
        .count("bought", 1, bought)
        .count("labels", 1, stored)
        .count("OR23", 1, tracking))
}

/// The label message of an accepted order meets `fault` on its first purchase; the
/// queue delivers it again until the flow settles.
async fn label_after_fault(
    stack: &Stack,
    order_id: &str,
    fault: Value,
) -> Result<Tally, ScenarioError> {
    accepted_order(stack, order_id).await?;
    stack.canadapost.fault(fault).await?;
    let deliveries = stack
        .drain(&stack.label, 1, Duration::from_secs(120))
        .await?;
    one_label(stack, order_id, deliveries).await
}

/// Canada Post creates the shipment and answers after the client's 15 s timeout.
pub async fn timeout_after_purchase(stack: &Stack) -> Result<Tally, ScenarioError> {
    let fault = json!({ "route": "NCSHIPMENT", "delay_ms": 17_000, "after": true });
    label_after_fault(stack, "REL-LABEL-TIMEOUT-A", fault).await
}

/// Canada Post creates the shipment, then answers 500.
pub async fn server_error_after_purchase(stack: &Stack) -> Result<Tally, ScenarioError> {
    let fault = json!({ "route": "NCSHIPMENT", "status": 500, "after": true });
    label_after_fault(stack, "REL-LABEL-5XX-A", fault).await
}

/// Canada Post creates the shipment and its 200 answer arrives cut in half.
pub async fn truncated_answer(stack: &Stack) -> Result<Tally, ScenarioError> {
    let fault = json!({ "route": "NCSHIPMENT", "truncate": true });
    label_after_fault(stack, "REL-LABEL-TRUNCATED-A", fault).await
}

/// The consumer dies once Canada Post has created the shipment and before its answer is
/// written (it is held back three seconds); the message comes back after its visibility
/// timeout.
pub async fn crash_after_purchase(stack: &Stack) -> Result<Tally, ScenarioError> {
    let order_id = "REL-LABEL-CRASH-A";
    accepted_order(stack, order_id).await?;
    stack
        .canadapost
        .fault(json!({ "route": "NCSHIPMENT", "delay_ms": 3000, "after": true }))
        .await?;
    let message = stack
        .receive_one(&stack.label, VISIBILITY)
        .await?
        .ok_or("the order's label message is not in the queue")?;
    let event = stack.event_of(&stack.label, &[message]).await?;
    let purchased = async {
        for _ in 0..200 {
            if carrier_shipments(stack, order_id).await? > 0 {
                return Ok::<(), ScenarioError>(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("Canada Post got no purchase within 10 s".into())
    };
    tokio::select! {
        _ = stack.functions.invoke(LABEL, event) => {
            return Err("the consumer finished before it could die".into());
        }
        purchased = purchased => purchased?,
    }
    // The consumer is gone: its future was dropped with the answer on its way.
    let redeliveries = stack
        .drain(&stack.label, 1, Duration::from_secs(120))
        .await?;
    one_label(stack, order_id, 1 + redeliveries).await
}
