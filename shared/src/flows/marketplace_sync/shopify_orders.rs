//! The Shopify orders reconciliation: webhooks can be missed (Shopify gives up on an
//! endpoint after its retries), so each scheduled run also reads the orders updated
//! since its watermark (`shopify`/`orders` in `etl.sync_metadata`) through the Admin
//! GraphQL API and records each through the webhook's own path
//! ([`crate::flows::recording::shopify::record_shopify_order`]). An order the webhook
//! already recorded at that version changes nothing (`updated_at` decides), so a webhook
//! and a poll of the same update record it once, whichever comes first.
//!
//! A poll starts an overlap window before the watermark and follows the cursor to the
//! last page. Shopify lists the orders oldest change first, so the watermark can move
//! to the newest change recorded even when a run stops short of time before the last
//! page: what is left has changed since. Between pages the poll lets Shopify's cost
//! bucket refill for the next page, as the last answer's `throttleStatus` says (at
//! most the retry policy's longest wait); a query throttled all the same is asked again
//! after the refill it needs ([`ShopifyAdminClient::orders_updated_since`]). A poll
//! that cannot finish keeps its watermark and records why; the next run reads again.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::polled_order::record_polled_order;
use super::watermark::{self, SyncEntity};
use super::{MarketplaceSync, SyncTally};
use crate::flows::recording::checks::{check_shopify_order, shopify_data_problems};
use crate::flows::recording::order::OrderChange;
use crate::model::received::Received;
use crate::ops::errors::{error_chain, Disposition, ProcessError};
use crate::ops::process_failures::{record_process_failure, ProcessFailure};
use crate::ops::retry::RetryPolicy;
use crate::ops::time_budget;
use crate::systems::shopify::admin::ShopifyAdminClient;
use crate::systems::shopify::ShopifyOrder;

/// How a page is asked for within one run: three attempts, 2 then 4 s apart, waiting up
/// to 10 s for the cost bucket or a `Retry-After`. A standard store's bucket refills 50
/// points a second, so a throttled page of about 600 points is asked again within the
/// cap; a longer wait ends the poll and the next scheduled run is the retry.
pub const SHOPIFY_POLL_RETRY: RetryPolicy = RetryPolicy {
    attempts: 3,
    base_delay: Duration::from_secs(2),
    max_delay: Duration::from_secs(10),
};

/// The reconciliation's client and how it retries ([`SHOPIFY_POLL_RETRY`] in
/// production).
#[derive(Debug, Clone)]
pub struct ShopifyPoll {
    pub client: ShopifyAdminClient,
    pub retry: RetryPolicy,
}

const PROCESS: &str = "ShopifyReconciliation";

impl MarketplaceSync {
    /// Reads the Shopify orders updated since the watermark (less the overlap) and
    /// records each; nothing when the store is not configured.
    pub async fn sync_shopify_orders(&self, now: DateTime<Utc>) -> Result<SyncTally, ProcessError> {
        self.sync_shopify_orders_until(now, None).await
    }

    /// [`Self::sync_shopify_orders`], starting a page only while its worst case still
    /// fits before `deadline`; cut short, the watermark moves to the newest change
    /// recorded.
    pub async fn sync_shopify_orders_until(
        &self,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<SyncTally, ProcessError> {
        let Some(poll) = &self.shopify else {
            return Ok(SyncTally::default());
        };
        let entity = SyncEntity::SHOPIFY_ORDERS;
        let start = watermark::begin(&self.pool, entity).await?;
        let outcome = self
            .poll_shopify_orders(poll, self.since(start, now), now, deadline)
            .await;
        match outcome {
            Ok((tally, newest)) if tally.cut_short => {
                watermark::succeed(&self.pool, entity, newest).await?;
                let reason = format!(
                    "stopped after {} order(s), short of time for another page; the \
                     watermark moved to the newest change recorded",
                    tally.seen
                );
                tracing::warn!(%reason, "Shopify reconciliation cut short");
                watermark::fail(&self.pool, entity, &reason).await?;
                Ok(tally)
            }
            outcome => self.finish(entity, start, outcome).await,
        }
    }

    async fn poll_shopify_orders(
        &self,
        poll: &ShopifyPoll,
        since: DateTime<Utc>,
        received_at: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<(SyncTally, Option<DateTime<Utc>>), ProcessError> {
        let page_worst_case = time_budget::shopify_page_worst_case(poll.retry);
        let mut tally = SyncTally::default();
        let mut newest = None;
        let mut cursor: Option<String> = None;
        loop {
            let fits = deadline.is_none_or(|deadline| {
                deadline.saturating_duration_since(Instant::now()) >= page_worst_case
            });
            if !fits {
                tally.cut_short = true;
                return Ok((tally, newest));
            }
            let page = poll
                .client
                .orders_updated_since(since, cursor.as_deref(), poll.retry)
                .await?;
            let count = page.orders.len();
            for document in page.orders {
                tally.seen += 1;
                let order = match document
                    .map_err(|unread| (unread.order_id, unread.reason))
                    .and_then(|text| read_order(text, received_at))
                {
                    Ok(order) => order,
                    Err((order_id, reason)) => {
                        self.shopify_order_not_recorded(&order_id, &reason).await?;
                        tally.failed += 1;
                        continue;
                    }
                };
                newest = newest.max(Some(order.value().updated_at));
                let recorded = record_polled_order(&self.pool, &order, &self.pepper).await;
                let order_id = order.value().id.to_string();
                match recorded {
                    Ok(recorded) if recorded.change != OrderChange::Unchanged => {
                        tally.changed += 1;
                        tally.data_problems += shopify_data_problems(order.value()).len() as u64;
                    }
                    Ok(_) => {}
                    Err(err) => {
                        let err = ProcessError::database(
                            format!("recording Shopify order {order_id}"),
                            err,
                        );
                        if err.disposition() == Disposition::Retry {
                            return Err(err);
                        }
                        self.shopify_order_not_recorded(&order_id, &error_chain(&err))
                            .await?;
                        tally.failed += 1;
                    }
                }
            }
            match page.next_cursor {
                Some(next) if count > 0 => {
                    // Let the bucket refill for a page like this one before asking.
                    let refill = page
                        .cost
                        .map_or(Duration::ZERO, |cost| cost.wait_for_same_again())
                        .min(poll.retry.max_delay);
                    if !refill.is_zero() {
                        tokio::time::sleep(refill).await;
                    }
                    cursor = Some(next);
                }
                _ => return Ok((tally, newest)),
            }
        }
    }

    /// An order that cannot be recorded is written down for a person, naming why; the
    /// poll goes on.
    async fn shopify_order_not_recorded(
        &self,
        order_id: &str,
        reason: &str,
    ) -> Result<(), ProcessError> {
        tracing::warn!(order = order_id, reason, "Shopify order not recorded");
        record_process_failure(
            &self.pool,
            &ProcessFailure {
                process: PROCESS,
                entity_type: "order",
                entity_ref: order_id,
                reason,
                payload: None,
            },
        )
        .await
        .map_err(|e| ProcessError::database("recording a reconciliation failure", e))?;
        Ok(())
    }
}

/// Reads and checks one order of a page as the webhook does; a failure names the order
/// and the field.
fn read_order(
    text: String,
    received_at: DateTime<Utc>,
) -> Result<crate::flows::recording::checks::CheckedOrder<ShopifyOrder>, (String, String)> {
    let order_id = || {
        serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|order| order.get("id").map(ToString::to_string))
            .unwrap_or_else(|| "(no id)".to_owned())
    };
    let raw = RawValue::from_string(text.clone())
        .map_err(|err| (order_id(), format!("not JSON: {err}")))?;
    let order = Received::<ShopifyOrder>::from_raw(raw)
        .map_err(|field| (order_id(), format!("not a Shopify order: {field}")))?;
    check_shopify_order(order, received_at)
        .map_err(|refused| (refused.external_id, format!("refused: {}", refused.field)))
}
