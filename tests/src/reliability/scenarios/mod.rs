//! The scenarios, in the order they run, and what several of them share: Best Buy
//! orders placed on the Mirakl simulator and delivered by its webhook.
//!
//! Scenarios that restart a service run after those that leave work in the queues, so
//! that a restart never takes another scenario's messages with it.

mod acceptance;
mod ingest;
mod labels;
mod outbox;
mod replies;
mod stock;
mod webhooks;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use super::stack::Stack;
use super::tally::Tally;
use super::ScenarioError;
use crate::marketplace::{deliver_mirakl, mirakl_order};

/// A scenario's run, on the shared stack.
pub type Run = fn(Arc<Stack>) -> Pin<Box<dyn Future<Output = Result<Tally, ScenarioError>> + Send>>;

/// One scripted fault and the count that follows it.
pub struct Scenario {
    /// What it does, as printed.
    pub name: &'static str,
    /// The script.
    pub run: Run,
}

/// Every scenario, in the order they run.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "S3 event delivered three times",
            run: |stack| {
                Box::pin(async move { ingest::s3_event_delivered_three_times(&stack).await })
            },
        },
        Scenario {
            name: "Mirakl webhook delivered 5 times at once",
            run: |stack| {
                Box::pin(async move { webhooks::mirakl_delivered_five_times_at_once(&stack).await })
            },
        },
        Scenario {
            name: "Shopify delivery retried 8 times",
            run: |stack| {
                Box::pin(async move { webhooks::shopify_retried_eight_times(&stack).await })
            },
        },
        Scenario {
            name: "SQS redelivery after a visibility timeout",
            run: |stack| {
                Box::pin(
                    async move { acceptance::redelivered_after_visibility_timeout(&stack).await },
                )
            },
        },
        Scenario {
            name: "Mirakl 429/5xx storm during acceptance",
            run: |stack| Box::pin(async move { acceptance::storm_during_acceptance(&stack).await }),
        },
        Scenario {
            name: "PostgreSQL restarted during an import",
            run: |stack| {
                Box::pin(async move { ingest::postgres_restarted_during_an_import(&stack).await })
            },
        },
        Scenario {
            name: "moto restarted during an outbox publish",
            run: |stack| {
                Box::pin(async move { outbox::moto_restarted_during_a_publish(&stack).await })
            },
        },
        Scenario {
            name: "order cancelled after it was accepted",
            run: |stack| Box::pin(async move { stock::cancelled_after_acceptance(&stack).await }),
        },
        Scenario {
            name: "label: timeout after Canada Post bought",
            run: |stack| Box::pin(async move { labels::timeout_after_purchase(&stack).await }),
        },
        Scenario {
            name: "label: 5xx after Canada Post bought",
            run: |stack| Box::pin(async move { labels::server_error_after_purchase(&stack).await }),
        },
        Scenario {
            name: "label: 2xx answer cut in half",
            run: |stack| Box::pin(async move { labels::truncated_answer(&stack).await }),
        },
        Scenario {
            name: "label: crash between answer and DB write",
            run: |stack| Box::pin(async move { labels::crash_after_purchase(&stack).await }),
        },
        Scenario {
            name: "reply: 5xx after Freshdesk kept it",
            run: |stack| {
                Box::pin(async move { replies::freshdesk_error_after_reply(&stack).await })
            },
        },
    ]
}

/// The offer SKUs of the Mirakl order fixture, sold from a catalogue that always has
/// stock, so that acceptance accepts every line.
const FIXTURE_SKUS: [&str; 2] = ["RF-T480-I5-16-512", "RF-CHARGER-65W-USBC"];

/// What every scenario may rely on: the catalogue of the fixture order.
pub async fn prepare(stack: &Stack) -> Result<(), ScenarioError> {
    for sku in FIXTURE_SKUS {
        crate::fulfilment::listed_variant(&stack.pool, sku, Some(1_000_000)).await;
    }
    Ok(())
}

/// The Mirakl order fixture as `order_id`, waiting for acceptance, as OR11 and the
/// webhook show it.
pub fn waiting_order(order_id: &str) -> String {
    mirakl_order(order_id, "WAITING_ACCEPTANCE", "2026-03-02T14:18:45Z")
}

/// Places orders on Best Buy: the Mirakl simulator gets them (so that OR21 and OR11
/// know them) and the webhook delivers each once, which records it and queues its
/// acceptance. Returns the deliveries made.
pub async fn place_orders(stack: &Stack, orders: &[String]) -> Result<u64, ScenarioError> {
    let documents = orders
        .iter()
        .map(|order| serde_json::from_str(order))
        .collect::<Result<Vec<Value>, _>>()?;
    stack.mirakl.add_orders(&documents).await?;
    for order in orders {
        let answer = deliver_mirakl(&stack.webhooks, &[order]).await;
        if answer.status != 200 {
            return Err(format!(
                "the Mirakl webhook answered {}: {}",
                answer.status, answer.body
            )
            .into());
        }
    }
    Ok(orders.len() as u64)
}

/// The outbox deduplication id of an order's label message starts with this.
pub fn label_key(order_id: &str) -> String {
    format!("label:bestbuy_ca:{order_id}:")
}
