//! The marketplace poller: Mirakl OR11 orders and M11 threads changed since a watermark,
//! recorded through the same path as the webhooks, then the Shopify orders
//! reconciliation ([`shopify_orders`]) when a store is configured, and the helpdesk sync
//! ([`freshdesk_tickets`]) when Freshdesk is.
//!
//! Each entity (`mirakl`/`orders`, `mirakl`/`threads`) keeps its watermark and sync
//! status in `etl.sync_metadata`. A poll starts an overlap window before the watermark
//! (a change Mirakl commits late is still seen; seeing one twice changes nothing), pages
//! to the end, records each order or thread in its own transaction, and only then moves
//! the watermark to the newest change it saw. A call that fails transiently (429, 5xx,
//! no answer) is asked again a few times, after the wait a 429's `Retry-After` asks for
//! when [`POLL_RETRY`] allows it; a poll that cannot finish leaves the watermark where it
//! was and records why, and the next scheduled run tries again.
//!
//! Within an invocation, a poll starts a page only while the time left covers that
//! page's worst case ([`time_budget::poll_page_worst_case`]) and what the run does after
//! it. When it stops early, what it recorded stays committed and the watermark stays
//! too: OR11 lists orders oldest created first, so an order on a page not read may have
//! changed before one already read, and moving the watermark past the changes seen
//! would lose it. The next run reads from the same watermark again.
//!
//! After the polls, each run releases the stock reservations that expired while their
//! order never progressed ([`release_expired_reservations`]): after the polls, so an
//! order this run saw cancelled gives its stock back as `cancelled`, not `expired`.
//! Then it recomputes the daily sales aggregates of every day noted since the last
//! refresh, by its own polls and by the webhooks ([`refresh_stale_days`]): once a day
//! per run, however many deliveries noted it.

pub mod freshdesk_tickets;
mod polled_order;
pub mod shopify_orders;
pub mod watermark;

use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::value::RawValue;
use sqlx::PgPool;

use crate::flows::fulfilment::stock::release_expired_reservations;
use crate::flows::recording::checks::{check_mirakl_order, CheckedOrder, RefusedOrder};
use crate::flows::recording::mirakl::record_mirakl_thread;
use crate::flows::recording::order::OrderChange;
use crate::flows::sales_aggregates::refresh_stale_days;
use crate::model::customer_email::EmailPepper;
use crate::model::field_path::InvalidField;
use crate::model::received::Received;
use crate::ops::config::MarketplaceSyncSettings;
use crate::ops::errors::{error_chain, Disposition, ProcessError};
use crate::ops::outbox::publish_due_until;
use crate::ops::outbox::OutboxPublisher;
use crate::ops::process_failures::{record_process_failure, ProcessFailure};
use crate::ops::retry::RetryPolicy;
use crate::ops::time_budget;
use crate::systems::aws;
use crate::systems::mirakl::orders::{list_orders, MiraklOrder, OrdersChangedSince};
use crate::systems::mirakl::threads::list_threads;
use crate::systems::mirakl::{MiraklClient, MiraklError};
use freshdesk_tickets::FreshdeskPoll;
use polled_order::record_polled_order;
use shopify_orders::ShopifyPoll;
use watermark::{SyncEntity, Watermark};

/// How a failed OR11 or M11 call is retried within one poll: three attempts, 5 then
/// 10 s apart, honouring a `Retry-After` of up to 10 s. Mirakl allows OR11 about once a
/// minute; a 429 asking for longer ends the poll, and the next scheduled run is the
/// retry. Bounded so that a run fits its time budget ([`crate::ops::time_budget`]).
pub const POLL_RETRY: RetryPolicy = RetryPolicy {
    attempts: 3,
    base_delay: Duration::from_secs(5),
    max_delay: Duration::from_secs(10),
};

/// The poller's state for one run.
#[derive(Debug, Clone)]
pub struct MarketplaceSync {
    /// Where to record.
    pub pool: PgPool,
    /// The Mirakl API.
    pub client: MiraklClient,
    /// The customer-email hash key.
    pub pepper: EmailPepper,
    /// Overlap window, first lookback, page size.
    pub settings: MarketplaceSyncSettings,
    /// How a failed Mirakl call is retried within the poll ([`POLL_RETRY`] in production).
    pub retry: RetryPolicy,
    /// The Shopify store's Admin API, when its orders are reconciled.
    pub shopify: Option<ShopifyPoll>,
    /// The helpdesk's API, when its tickets are synced.
    pub freshdesk: Option<FreshdeskPoll>,
}

/// What one poll of one entity did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SyncTally {
    /// Orders or threads read from Mirakl.
    pub seen: u64,
    /// Orders created or updated; threads with new messages.
    pub changed: u64,
    /// Outbox messages written.
    pub follow_ups: u64,
    /// Items that can never be recorded (refused by their checks, or breaking a rule of
    /// the database), written to `ops.process_failures`.
    pub failed: u64,
    /// Data problems raised on orders recorded as sent (`ops.data_problems`).
    pub data_problems: u64,
    /// Mirakl answered 429 asking to wait longer than a run may (its `Retry-After`):
    /// the poll stopped, keeping its watermark, and no run calls again before this time.
    pub wait_until: Option<DateTime<Utc>>,
    /// The poll stopped before its last page, short of time; its watermark stays for
    /// the next run.
    pub cut_short: bool,
}

const PROCESS: &str = "MarketplaceSync";

/// What one scheduled run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    /// The OR11 poll.
    pub orders: SyncTally,
    /// The M11 poll.
    pub threads: SyncTally,
    /// The Shopify orders reconciliation (all zero when no store is configured).
    pub shopify_orders: SyncTally,
    /// The helpdesk sync (all zero when Freshdesk is not configured).
    pub freshdesk_tickets: SyncTally,
    /// Outbox messages sent (new ones and earlier failures).
    pub published: u64,
    /// Outbox messages whose send failed again; they wait for the next run.
    pub deferred: u64,
    /// Stock reservations released because they expired.
    pub expired_reservations: u64,
    /// Days whose sales aggregates were recomputed because orders of theirs changed.
    pub sales_days_refreshed: u64,
}

/// How many outbox messages one run sends at most.
const PUBLISH_LIMIT: i64 = 500;

/// How many expired reservations one run releases at most; the rest wait for the next.
const EXPIRY_LIMIT: i64 = 1000;

impl MarketplaceSync {
    /// One scheduled run: polls orders, then threads, then reconciles the Shopify orders,
    /// syncs the helpdesk's tickets, releases expired reservations, then
    /// publishes what is due in the outbox, including messages whose earlier send failed
    /// (this run is their retry). A failed poll is recorded in `etl.sync_metadata` and
    /// does not stop the other steps.
    pub async fn run(
        &self,
        now: DateTime<Utc>,
        publisher: Option<&OutboxPublisher>,
    ) -> Result<RunReport, ProcessError> {
        self.run_until(now, publisher, None).await
    }

    /// [`Self::run`] within an invocation ending at `deadline`: each poll starts a page
    /// only while that page and the rest of the run (the later polls' first pages, one
    /// outbox send) still fit, and the outbox publish starts no send once too little
    /// time is left; what is not done waits for the next run.
    pub async fn run_until(
        &self,
        now: DateTime<Utc>,
        publisher: Option<&OutboxPublisher>,
        deadline: Option<Instant>,
    ) -> Result<RunReport, ProcessError> {
        let page = time_budget::poll_page_worst_case(self.retry);
        let shopify_page = self.shopify.as_ref().map_or(Duration::ZERO, |poll| {
            time_budget::shopify_page_worst_case(poll.retry)
        });
        let freshdesk_page = self.freshdesk.as_ref().map_or(Duration::ZERO, |poll| {
            time_budget::freshdesk_page_worst_case(poll.retry)
        });
        let send = aws::OPERATION_TIMEOUT;
        let before = |deadline: Instant, rest: Duration| {
            deadline.checked_sub(rest).unwrap_or_else(Instant::now)
        };
        let orders_until = deadline.map(|d| before(d, page + shopify_page + freshdesk_page + send));
        let threads_until = deadline.map(|d| before(d, shopify_page + freshdesk_page + send));
        let shopify_until = deadline.map(|d| before(d, freshdesk_page + send));
        let freshdesk_until = deadline.map(|d| before(d, send));
        let orders = self.sync_orders_until(now, orders_until).await;
        let threads = self.sync_threads_until(now, threads_until).await;
        let shopify_orders = self.sync_shopify_orders_until(now, shopify_until).await;
        let freshdesk_tickets = self
            .sync_freshdesk_tickets_until(now, freshdesk_until)
            .await;
        let expired = self.release_expired_reservations().await;
        let refreshed = refresh_stale_days(&self.pool).await.map_err(|err| {
            ProcessError::database("recomputing the stale days' sales aggregates", err)
        });
        let mut report = RunReport::default();
        if let Some(publisher) = publisher {
            let tally = publish_due_until(
                &self.pool,
                &publisher.sqs,
                &publisher.queues,
                PUBLISH_LIMIT,
                deadline,
            )
            .await?;
            report.published = tally.published;
            report.deferred = tally.deferred;
        }
        report.orders = orders?;
        report.threads = threads?;
        report.shopify_orders = shopify_orders?;
        report.freshdesk_tickets = freshdesk_tickets?;
        report.expired_reservations = expired?;
        report.sales_days_refreshed = u64::try_from(refreshed?).unwrap_or(0);
        Ok(report)
    }

    /// Releases the reservations that expired while their order never progressed.
    pub async fn release_expired_reservations(&self) -> Result<u64, ProcessError> {
        let db = |err| ProcessError::database("releasing expired stock reservations", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        let expired = release_expired_reservations(&mut tx, EXPIRY_LIMIT)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(expired.len() as u64)
    }

    /// Polls OR11 for orders changed since the watermark (less the overlap).
    pub async fn sync_orders(&self, now: DateTime<Utc>) -> Result<SyncTally, ProcessError> {
        self.sync_orders_until(now, None).await
    }

    /// [`Self::sync_orders`], starting a page only while its worst case still fits
    /// before `deadline`; cut short, it keeps the watermark.
    pub async fn sync_orders_until(
        &self,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<SyncTally, ProcessError> {
        let entity = SyncEntity::MIRAKL_ORDERS;
        if let Some(skipped) = self.still_waiting(entity, now).await? {
            return Ok(skipped);
        }
        let start = watermark::begin(&self.pool, entity).await?;
        let outcome = self
            .poll_orders(self.since(start, now), now, deadline)
            .await;
        self.finish(entity, start, outcome).await
    }

    /// Polls M11 for threads changed since the watermark (less the overlap).
    pub async fn sync_threads(&self, now: DateTime<Utc>) -> Result<SyncTally, ProcessError> {
        self.sync_threads_until(now, None).await
    }

    /// [`Self::sync_threads`], starting a page only while its worst case still fits
    /// before `deadline`; cut short, it keeps the watermark.
    pub async fn sync_threads_until(
        &self,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<SyncTally, ProcessError> {
        let entity = SyncEntity::MIRAKL_THREADS;
        if let Some(skipped) = self.still_waiting(entity, now).await? {
            return Ok(skipped);
        }
        let start = watermark::begin(&self.pool, entity).await?;
        let outcome = self
            .poll_threads(self.since(start, now), now, deadline)
            .await;
        self.finish(entity, start, outcome).await
    }

    /// A poll its source asked to wait (a 429's Retry-After) until after `now` is not
    /// started: it calls nothing and leaves the watermark, and the first run after the
    /// wait reads from it.
    async fn still_waiting(
        &self,
        entity: SyncEntity,
        now: DateTime<Utc>,
    ) -> Result<Option<SyncTally>, ProcessError> {
        match watermark::next_allowed(&self.pool, entity).await? {
            Some(until) if now < until => {
                tracing::info!(source = entity.source, entity = entity.entity, %until,
                    "poll skipped: its source asked to wait");
                Ok(Some(SyncTally {
                    wait_until: Some(until),
                    ..SyncTally::default()
                }))
            }
            _ => Ok(None),
        }
    }

    /// Whether a page, at its worst, still ends before `deadline`.
    fn page_fits(&self, deadline: Option<Instant>) -> bool {
        let page = time_budget::poll_page_worst_case(self.retry);
        deadline.is_none_or(|deadline| deadline.saturating_duration_since(Instant::now()) >= page)
    }

    fn since(&self, watermark: Watermark, now: DateTime<Utc>) -> DateTime<Utc> {
        let overlap = chrono::Duration::from_std(self.settings.overlap).unwrap_or_default();
        let lookback = chrono::Duration::from_std(self.settings.first_lookback).unwrap_or_default();
        match watermark.at {
            Some(at) => at - overlap,
            None => now - lookback,
        }
    }

    async fn finish(
        &self,
        entity: SyncEntity,
        start: Watermark,
        outcome: Result<(SyncTally, Option<DateTime<Utc>>), ProcessError>,
    ) -> Result<SyncTally, ProcessError> {
        match outcome {
            Ok((tally, _)) if tally.wait_until.is_some() => {
                let until = tally.wait_until.unwrap_or_default();
                let reason = format!(
                    "{} asked to wait (429 with Retry-After) until {until}, longer than a \
                     run may wait; stopped after {} item(s), and the first run after that \
                     reads again from the watermark",
                    entity.source, tally.seen
                );
                tracing::warn!(source = entity.source, entity = entity.entity, %reason,
                    "poll stopped: rate limited");
                watermark::wait(&self.pool, entity, until, &reason).await?;
                Ok(tally)
            }
            Ok((tally, _)) if tally.cut_short => {
                let reason = format!(
                    "stopped after {} item(s), short of time for another page; \
                     the next run reads again from the watermark",
                    tally.seen
                );
                tracing::warn!(source = entity.source, entity = entity.entity, %reason,
                    "poll cut short");
                watermark::fail(&self.pool, entity, &reason).await?;
                Ok(tally)
            }
            Ok((tally, newest)) => {
                let at = match (start.at, newest) {
                    (Some(old), Some(new)) => Some(old.max(new)),
                    (old, new) => new.or(old),
                };
                watermark::succeed(&self.pool, entity, at).await?;
                Ok(tally)
            }
            Err(err) => {
                watermark::fail(&self.pool, entity, &error_chain(&err)).await?;
                Err(err)
            }
        }
    }

    async fn poll_orders(
        &self,
        since: DateTime<Utc>,
        received_at: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<(SyncTally, Option<DateTime<Utc>>), ProcessError> {
        let started = Instant::now();
        let mut tally = SyncTally::default();
        let mut newest = None;
        let mut offset = 0u64;
        loop {
            if !self.page_fits(deadline) {
                tally.cut_short = true;
                return Ok((tally, newest));
            }
            let query = OrdersChangedSince {
                updated_since: since,
                offset,
                max: self.settings.page_size,
            };
            let page = match list_orders(&self.client, query, self.retry).await {
                Ok(page) => page,
                Err(err) => match asked_to_wait(&err) {
                    Some(wait) => {
                        tally.wait_until = Some(wait_until(received_at, started, wait));
                        return Ok((tally, newest));
                    }
                    None => return Err(err.into()),
                },
            };
            let count = page.orders.len() as u64;
            for raw in page.orders {
                tally.seen += 1;
                let order = match read_order(raw, received_at) {
                    Ok(order) => order,
                    Err(refused) => {
                        self.record_refusal(&refused).await?;
                        tally.failed += 1;
                        continue;
                    }
                };
                newest = newest.max(Some(order.value().last_updated_date));
                match record_polled_order(&self.pool, &order, &self.pepper).await {
                    Ok(recorded) => {
                        if recorded.order.change != OrderChange::Unchanged {
                            tally.changed += 1;
                        }
                        tally.follow_ups += u64::from(recorded.follow_ups);
                        tally.data_problems += u64::from(recorded.data_problems);
                    }
                    Err(err) => {
                        self.record_failure_or_stop_poll(err, "order", &order.value().order_id)
                            .await?;
                        tally.failed += 1;
                    }
                }
            }
            offset += count;
            if count == 0 || offset >= page.total_count {
                return Ok((tally, newest));
            }
        }
    }

    async fn poll_threads(
        &self,
        since: DateTime<Utc>,
        received_at: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> Result<(SyncTally, Option<DateTime<Utc>>), ProcessError> {
        let started = Instant::now();
        let mut tally = SyncTally::default();
        let mut newest = None;
        let mut token: Option<String> = None;
        loop {
            if !self.page_fits(deadline) {
                tally.cut_short = true;
                return Ok((tally, newest));
            }
            let page = match list_threads(&self.client, since, token.as_deref(), self.retry).await {
                Ok(page) => page,
                Err(err) => match asked_to_wait(&err) {
                    Some(wait) => {
                        tally.wait_until = Some(wait_until(received_at, started, wait));
                        return Ok((tally, newest));
                    }
                    None => return Err(err.into()),
                },
            };
            for thread in &page.data {
                tally.seen += 1;
                newest = newest.max(Some(thread.value.date_updated));
                let recorded = async {
                    let mut tx = self.pool.begin().await?;
                    let recorded = record_mirakl_thread(&mut tx, thread).await?;
                    tx.commit().await?;
                    Ok::<_, sqlx::Error>(recorded)
                }
                .await;
                match recorded {
                    Ok(recorded) => {
                        if recorded.new_messages > 0 {
                            tally.changed += 1;
                        }
                        tally.follow_ups += u64::from(recorded.follow_ups);
                    }
                    Err(err) => {
                        self.record_failure_or_stop_poll(err, "thread", &thread.value.id)
                            .await?;
                        tally.failed += 1;
                    }
                }
            }
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) if !page.data.is_empty() => token = Some(next),
                _ => return Ok((tally, newest)),
            }
        }
    }

    /// An order refused by its checks is written down for a person, naming the field;
    /// the poll goes on.
    async fn record_refusal(&self, refused: &RefusedOrder) -> Result<(), ProcessError> {
        let reason = format!("refused: {}", refused.field);
        tracing::warn!(order = %refused.external_id, %reason, "Mirakl order not recorded");
        record_process_failure(
            &self.pool,
            &ProcessFailure {
                process: PROCESS,
                entity_type: "order",
                entity_ref: &refused.external_id,
                reason: &reason,
                payload: None,
            },
        )
        .await
        .map_err(|e| ProcessError::database("recording a sync failure", e))?;
        Ok(())
    }

    /// A retryable failure stops the poll; a permanent one is written down for a person
    /// and the poll goes on.
    async fn record_failure_or_stop_poll(
        &self,
        err: sqlx::Error,
        entity_type: &str,
        entity_ref: &str,
    ) -> Result<(), ProcessError> {
        let err =
            ProcessError::database(format!("recording Mirakl {entity_type} {entity_ref}"), err);
        if err.disposition() == Disposition::Retry {
            return Err(err);
        }
        let reason = error_chain(&err);
        tracing::warn!(entity_type, entity_ref, %reason, "Mirakl item not recorded");
        record_process_failure(
            &self.pool,
            &ProcessFailure {
                process: PROCESS,
                entity_type,
                entity_ref,
                reason: &reason,
                payload: None,
            },
        )
        .await
        .map_err(|e| ProcessError::database("recording a sync failure", e))?;
        Ok(())
    }
}

/// Reads and checks one order of an OR11 page. One that cannot be read is named by the
/// `order_id` it carries, when it carries one.
fn read_order(
    raw: Box<RawValue>,
    received_at: DateTime<Utc>,
) -> Result<CheckedOrder<MiraklOrder>, RefusedOrder> {
    let external_id = || {
        serde_json::from_str::<serde_json::Value>(raw.get())
            .ok()
            .and_then(|order| order.get("order_id")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| "(no order_id)".to_owned())
    };
    match Received::<MiraklOrder>::from_raw(raw.clone()) {
        Ok(order) => check_mirakl_order(order, received_at),
        Err(field) => Err(RefusedOrder {
            external_id: external_id(),
            field: InvalidField::new(field.path, format!("not a Mirakl order: {}", field.problem)),
        }),
    }
}

/// The wait a 429 asked for that the retry policy would not wait out within the run.
fn asked_to_wait(err: &MiraklError) -> Option<Duration> {
    match err {
        MiraklError::RateLimited {
            retry_after: Some(wait),
            ..
        } => Some(*wait),
        _ => None,
    }
}

/// When the wait ends, on the run's clock: `run_started_at` (the run's `now`) plus the
/// time the poll has taken so far plus the wait, rounded up to the second.
fn wait_until(run_started_at: DateTime<Utc>, started: Instant, wait: Duration) -> DateTime<Utc> {
    let waited =
        chrono::Duration::from_std(started.elapsed() + wait).unwrap_or(chrono::Duration::MAX);
    let until = run_started_at
        .checked_add_signed(waited)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let whole = until.trunc_subsecs(0);
    if whole < until {
        whole + chrono::Duration::seconds(1)
    } else {
        whole
    }
}
