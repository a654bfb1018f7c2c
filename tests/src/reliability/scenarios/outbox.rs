//! The outbox when SQS goes away in the middle of a publish.

use std::time::{Duration, Instant};

use futures::future::join_all;

use super::acceptance::label_messages;
use super::waiting_order;
use crate::marketplace::deliver_mirakl;
use crate::reliability::stack::Stack;
use crate::reliability::tally::Tally;
use crate::reliability::ScenarioError;
use sellerops::ops::outbox::publish_due;

/// How long the publisher retries what is due before the scenario gives up.
const PUBLISH_DEADLINE: Duration = Duration::from_secs(60);

/// Four Mirakl orders are delivered while moto hangs (stopped, so that every send is in
/// flight and unanswered); moto is then killed and started again, empty, as a restarted
/// SQS endpoint. The webhook recorded the orders and their accept messages before
/// publishing, so the publisher sends them once moto is back: none lost, and a message
/// sent twice (a send that reached moto as it died) is only a second delivery to an
/// idempotent consumer. Each order is accepted at Mirakl once.
pub async fn moto_restarted_during_a_publish(stack: &Stack) -> Result<Tally, ScenarioError> {
    let order_ids: Vec<String> = (1..=4).map(|n| format!("REL-MOTO-{n}-A")).collect();
    let orders: Vec<String> = order_ids.iter().map(|id| waiting_order(id)).collect();
    let documents = orders
        .iter()
        .map(|order| serde_json::from_str(order))
        .collect::<Result<Vec<serde_json::Value>, _>>()?;
    stack.mirakl.add_orders(&documents).await?;

    stack.restart("pause-moto").await?;
    let deliveries = join_all(
        orders
            .iter()
            .map(|order| async move { deliver_mirakl(&stack.webhooks, &[order]).await }),
    );
    let restart = async {
        // The deliveries have recorded their orders and hang in their publish.
        tokio::time::sleep(Duration::from_secs(2)).await;
        stack.restart("moto").await
    };
    let (answers, restarted) = tokio::join!(deliveries, restart);
    restarted?;
    if let Some(answer) = answers.iter().find(|answer| answer.status != 200) {
        return Err(format!("a delivery was answered {}: {}", answer.status, answer.body).into());
    }

    // What did not go out waits in the outbox for its next attempt; the publisher (as a
    // later invocation runs it) sends it when due.
    let pattern = "accept:bestbuy_ca:REL-MOTO-%";
    let started = Instant::now();
    loop {
        publish_due(&stack.pool, &stack.aws.sqs, &stack.recording_queues, 50).await?;
        let unpublished = stack
            .number(
                "select count(*) from ops.outbox where dedup_id like $1 and published_at is null",
                pattern,
            )
            .await?;
        if unpublished == 0 {
            break;
        }
        if started.elapsed() > PUBLISH_DEADLINE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let received = stack
        .drain(&stack.accept, 2, Duration::from_secs(60))
        .await?;
    let mut accepted = Vec::with_capacity(order_ids.len());
    for order_id in &order_ids {
        accepted.push(stack.mirakl.successful_calls("OR21", order_id).await?);
    }
    let ids: Vec<&str> = order_ids.iter().map(String::as_str).collect();
    let labels = label_messages(stack, &ids).await?;
    Ok(Tally::new(orders.len() as u64 + received)
        .count_each("OR21", 1, &accepted)
        .count_each("label-msgs", 1, &labels))
}
