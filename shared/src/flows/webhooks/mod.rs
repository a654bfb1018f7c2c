//! Webhook deliveries: `POST /webhooks/{mirakl|shopify|freshdesk}`.
//!
//! [`WebhookService::handle`] takes a delivery (method, path, headers, raw body) and
//! answers with a status and a small JSON body, independent of any HTTP framework so
//! tests and the benchmark call it directly. In order:
//!
//! | check | answer |
//! |---|---|
//! | unknown route | 404 |
//! | not POST | 405 |
//! | body above the limit | 413 |
//! | signature or secret missing or wrong | 401, nothing stored |
//! | body malformed, or a value refused (a NUL, an amount, a date, a repeated line id) | 400, naming the field, nothing stored |
//! | Shopify delivery naming another store than `SHOPIFY_SHOP_DOMAIN` | 400, nothing stored |
//! | stored and recorded (or seen before) | 200 `recorded` (`duplicate`) |
//! | stored, a part kept in `ops.process_failures` | 200 `partly_recorded` or `not_recorded`, naming it |
//! | anything else | 500, no internals |
//!
//! One transaction stores the delivery in `ops.inbox` (unique per source and delivery
//! id: a delivery seen before answers 200 and changes nothing) and records it, so the
//! delivery is stored processed: it commits with its recording or not at all. The days
//! of its orders are noted for the daily sales aggregates' next refresh
//! ([`crate::flows::sales_aggregates`]), so deliveries of one day never wait for each
//! other. A part that can never be recorded (a constraint it breaks) is rolled
//! back to its savepoint and written to `ops.process_failures`; the rest stands.
//!
//! No network send is in an answer's path: the answer goes once the transaction has
//! committed, and the outbox messages it wrote are published afterwards by
//! [`WebhookService::publish_follow_ups`] (the function calls it once API Gateway has
//! its response, before it takes the next request), ten a `SendMessageBatch`, for at
//! most [`PUBLISH_WINDOW`]; one not sent then, or whose send fails, waits for the
//! poller's sweep.

pub mod inbox;
pub mod verify;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use chrono::Utc;
use reqwest::header::HeaderMap;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::{Acquire, PgConnection, PgPool};

use crate::flows::recording::checks::{check_mirakl_order, check_shopify_order, CheckedOrder};
use crate::flows::recording::freshdesk::record_ticket;
use crate::flows::recording::mirakl::record_mirakl_order;
use crate::flows::recording::shopify::{record_shopify_customer, record_shopify_order};
use crate::flows::recording::SeenBy;
use crate::flows::sales_aggregates::SalesDays;
use crate::model::customer_email::EmailPepper;
use crate::model::field_path::{self, InvalidField};
use crate::model::received::Received;
use crate::ops::config::WebhookSettings;
use crate::ops::errors::{error_chain, Disposition, ProcessError};
use crate::ops::outbox::{publish_due_within, OutboxPublisher, PublishTally};
use crate::ops::process_failures::{record_process_failure, ProcessFailure};
use crate::systems::freshdesk::FreshdeskTicket;
use crate::systems::mirakl::orders::MiraklOrder;
use crate::systems::shopify::{ShopifyCustomer, ShopifyOrder, ShopifyTopic};

/// How long after the answer the webhook starts sending follow-ups: ten a
/// `SendMessageBatch`, so a delivery of 150 orders waiting for acceptance takes fifteen
/// sends. A send started may still take the SDK's operation timeout; what is not sent
/// by then waits for the outbox sweep (sync-marketplace's next run).
pub const PUBLISH_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

/// The header carrying a shared secret (Mirakl, Freshdesk).
pub const SECRET_HEADER: &str = "x-webhook-secret";

/// Where deliveries come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookSource {
    /// Mirakl order webhooks (Best Buy Canada).
    Mirakl,
    /// Shopify webhooks.
    Shopify,
    /// Freshdesk automation rules.
    Freshdesk,
}

impl WebhookSource {
    /// The name in the route and in `ops.inbox.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookSource::Mirakl => "mirakl",
            WebhookSource::Shopify => "shopify",
            WebhookSource::Freshdesk => "freshdesk",
        }
    }

    /// The source a path names: `…/webhooks/{source}` (a stage prefix is allowed).
    pub fn from_path(path: &str) -> Option<Self> {
        let mut segments = path.trim_end_matches('/').rsplit('/');
        let source = segments.next()?;
        if segments.next()? != "webhooks" {
            return None;
        }
        match source {
            "mirakl" => Some(Self::Mirakl),
            "shopify" => Some(Self::Shopify),
            "freshdesk" => Some(Self::Freshdesk),
            _ => None,
        }
    }
}

/// One HTTP delivery, as received.
#[derive(Debug, Clone, Copy)]
pub struct WebhookDelivery<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The request path.
    pub path: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The raw body, exactly as signed.
    pub body: &'a [u8],
}

/// The answer: a status and a small JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl WebhookAnswer {
    fn new(status: u16, body: Value) -> Self {
        Self { status, body }
    }

    fn refused(status: u16, message: impl Into<String>) -> Self {
        Self::new(status, json!({ "error": message.into() }))
    }
}

/// The webhook endpoint's state, built once per Lambda instance.
#[derive(Debug, Clone)]
pub struct WebhookService {
    pool: PgPool,
    settings: WebhookSettings,
    pepper: EmailPepper,
    publisher: Option<OutboxPublisher>,
    /// Follow-ups committed by deliveries answered since the last
    /// [`WebhookService::publish_follow_ups`], shared by the service's clones.
    unpublished: Arc<AtomicU32>,
    /// Held while a publish runs: one at a time per process, which sends what every
    /// delivery answered before it committed.
    publishing: Arc<tokio::sync::Mutex<()>>,
}

/// An authenticated delivery's body, parsed and ready to record.
enum ParsedDelivery {
    MiraklOrders(Vec<CheckedOrder<MiraklOrder>>),
    ShopifyOrder(Box<CheckedOrder<ShopifyOrder>>),
    ShopifyCustomer {
        shop_domain: String,
        customer: Received<ShopifyCustomer>,
    },
    FreshdeskTicket {
        domain: String,
        ticket: FreshdeskTicket,
    },
}

struct Recorded {
    follow_ups: u32,
    /// Parts of the delivery (orders, a customer, a ticket).
    parts: usize,
    failures: Vec<String>,
    /// The outside ids of the parts written to `ops.process_failures`.
    failed_refs: Vec<String>,
    details: Value,
}

impl WebhookService {
    /// A service over `pool`; without a publisher, outbox messages wait for the poller.
    pub fn new(
        pool: PgPool,
        settings: WebhookSettings,
        pepper: EmailPepper,
        publisher: Option<OutboxPublisher>,
    ) -> Self {
        Self {
            pool,
            settings,
            pepper,
            publisher,
            unpublished: Arc::new(AtomicU32::new(0)),
            publishing: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Sends the follow-ups of the deliveries answered since the last call, starting
    /// sends for at most [`PUBLISH_WINDOW`]; what is left waits for the outbox sweep.
    /// Call it after the answer has gone, never before: the caller of a webhook must
    /// not wait for SQS. Without a publisher, or with nothing committed since, it
    /// sends nothing. While another call of this process is publishing, it returns at
    /// once and leaves its follow-ups counted for the next call (a Lambda instance
    /// answers one request at a time, so there it always publishes; a process serving
    /// many at once keeps one publisher instead of one per delivery, each holding a
    /// pool connection the answers need).
    /// Returns what it sent and what failed (all zero when it sent nothing).
    pub async fn publish_follow_ups(&self) -> PublishTally {
        let Ok(_publishing) = self.publishing.try_lock() else {
            return PublishTally::default();
        };
        let expected = self.unpublished.swap(0, Ordering::AcqRel);
        if expected == 0 {
            return PublishTally::default();
        }
        self.publish(expected).await
    }

    /// Answers one delivery.
    pub async fn handle(&self, delivery: WebhookDelivery<'_>) -> WebhookAnswer {
        let Some(source) = WebhookSource::from_path(delivery.path) else {
            return WebhookAnswer::refused(404, "no such webhook route");
        };
        if !delivery.method.eq_ignore_ascii_case("POST") {
            return WebhookAnswer::refused(405, "webhooks are delivered with POST");
        }
        if delivery.body.len() > self.settings.body_limit_bytes {
            return WebhookAnswer::refused(
                413,
                format!(
                    "body is larger than {} bytes",
                    self.settings.body_limit_bytes
                ),
            );
        }
        if !self.is_authentic(source, &delivery) {
            tracing::warn!(
                source = source.as_str(),
                "webhook refused: not authenticated"
            );
            return WebhookAnswer::refused(401, "missing or invalid signature");
        }
        let Ok(body) = std::str::from_utf8(delivery.body) else {
            return WebhookAnswer::refused(400, "body is not UTF-8 text");
        };
        let (delivery_id, parsed) = match self.parse(source, &delivery, body) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return WebhookAnswer::new(200, json!({ "status": "ignored" })),
            Err(message) => return WebhookAnswer::refused(400, message),
        };
        match self
            .record(source, &delivery_id, &delivery, body, parsed)
            .await
        {
            Ok(answer) => answer,
            Err(err) => {
                tracing::error!(source = source.as_str(), %delivery_id,
                    error = %error_chain(&err), "webhook delivery not recorded");
                WebhookAnswer::refused(500, "internal error")
            }
        }
    }

    fn is_authentic(&self, source: WebhookSource, delivery: &WebhookDelivery<'_>) -> bool {
        let header = |name: &str| {
            delivery
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
        };
        match source {
            WebhookSource::Mirakl => match (&self.settings.mirakl_secret, header(SECRET_HEADER)) {
                (Some(secret), Some(presented)) => verify::secret_matches(secret, presented),
                _ => false,
            },
            WebhookSource::Shopify => match (
                &self.settings.shopify_secret,
                header("x-shopify-hmac-sha256"),
            ) {
                (Some(secret), Some(signature)) => {
                    verify::shopify_signature_is_valid(secret, delivery.body, signature)
                }
                _ => false,
            },
            WebhookSource::Freshdesk => {
                let Some(secret) = &self.settings.freshdesk_secret else {
                    return false;
                };
                header(SECRET_HEADER).is_some_and(|s| verify::secret_matches(secret, s))
                    || header("authorization")
                        .is_some_and(|a| verify::basic_auth_password_matches(secret, a))
            }
        }
    }

    /// Parses an authenticated body. `Ok(None)` for a Shopify topic sellerops ignores.
    fn parse(
        &self,
        source: WebhookSource,
        delivery: &WebhookDelivery<'_>,
        body: &str,
    ) -> Result<Option<(String, ParsedDelivery)>, String> {
        let header = |name: &str| {
            delivery
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
                .filter(|value| !value.is_empty())
        };
        match source {
            WebhookSource::Mirakl => {
                refuse_nul(body, "orders")?;
                let orders: Vec<Box<RawValue>> = serde_json::from_str(body)
                    .map_err(|err| format!("body is not a JSON list of Mirakl orders: {err}"))?;
                let received_at = Utc::now();
                let orders = orders
                    .into_iter()
                    .enumerate()
                    .map(|(i, raw)| {
                        let at = field_path::index("orders", i);
                        let order = Received::<MiraklOrder>::from_raw(raw).map_err(|field| {
                            format!("not a Mirakl order: {}", field.within(&at))
                        })?;
                        check_mirakl_order(order, received_at).map_err(|refused| {
                            let field = refused.field.within(&at);
                            format!("order {} refused: {field}", refused.external_id)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some((
                    body_digest(body),
                    ParsedDelivery::MiraklOrders(orders),
                )))
            }
            WebhookSource::Shopify => {
                let topic = header("x-shopify-topic").ok_or("X-Shopify-Topic header is missing")?;
                let Some(topic) = ShopifyTopic::parse(topic) else {
                    return Ok(None);
                };
                let delivery_id = header("x-shopify-webhook-id")
                    .ok_or("X-Shopify-Webhook-Id header is missing")?
                    .to_owned();
                // Every recorded topic belongs to this store: a delivery signed with the
                // app's secret but naming another store is refused before it is stored.
                let shop_domain = self.shopify_shop(header("x-shopify-shop-domain"))?;
                refuse_nul(body, "")?;
                let parsed = match topic {
                    ShopifyTopic::Order => {
                        let order = shopify_document(body)
                            .map_err(|field| format!("not a Shopify order: {field}"))?;
                        let checked =
                            check_shopify_order(order, Utc::now()).map_err(|refused| {
                                format!("order {} refused: {}", refused.external_id, refused.field)
                            })?;
                        ParsedDelivery::ShopifyOrder(Box::new(checked))
                    }
                    ShopifyTopic::Customer => ParsedDelivery::ShopifyCustomer {
                        shop_domain,
                        customer: shopify_document(body)
                            .map_err(|field| format!("not a Shopify customer: {field}"))?,
                    },
                };
                Ok(Some((delivery_id, parsed)))
            }
            WebhookSource::Freshdesk => {
                refuse_nul(body, "")?;
                let ticket =
                    FreshdeskTicket::parse(body.as_bytes()).map_err(|err| err.to_string())?;
                let domain = self
                    .settings
                    .freshdesk_domain
                    .clone()
                    .or_else(|| ticket.domain_from_url.clone())
                    .ok_or("ticket_url is missing, so the helpdesk is unknown")?;
                Ok(Some((
                    body_digest(body),
                    ParsedDelivery::FreshdeskTicket { domain, ticket },
                )))
            }
        }
    }

    fn shopify_shop(&self, header: Option<&str>) -> Result<String, String> {
        match (&self.settings.shopify_shop_domain, header) {
            (Some(configured), Some(named)) if !configured.eq_ignore_ascii_case(named) => {
                Err(format!("X-Shopify-Shop-Domain {named:?} is not this store"))
            }
            (Some(configured), _) => Ok(configured.to_ascii_lowercase()),
            (None, Some(named)) => Ok(named.to_ascii_lowercase()),
            (None, None) => Err("X-Shopify-Shop-Domain header is missing".into()),
        }
    }

    async fn record(
        &self,
        source: WebhookSource,
        delivery_id: &str,
        delivery: &WebhookDelivery<'_>,
        body: &str,
        parsed: ParsedDelivery,
    ) -> Result<WebhookAnswer, ProcessError> {
        let db = |err| ProcessError::database("recording a webhook delivery", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        let headers = kept_headers(delivery.headers);
        let Some(inbox_id) =
            inbox::store_delivery(&mut tx, source.as_str(), delivery_id, &headers, body)
                .await
                .map_err(db)?
        else {
            tx.rollback().await.map_err(db)?;
            return Ok(WebhookAnswer::new(
                200,
                json!({ "status": "duplicate", "delivery_id": delivery_id }),
            ));
        };
        let recorded = self.record_parsed(&mut tx, source, parsed).await?;
        if !recorded.failures.is_empty() {
            inbox::note_unrecorded_parts(&mut tx, inbox_id, &recorded.failures.join("; "))
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;

        if recorded.follow_ups > 0 && self.publisher.is_some() {
            self.unpublished
                .fetch_add(recorded.follow_ups, Ordering::AcqRel);
        }
        // The answer says what happened: a part written to `ops.process_failures` instead
        // is named, never reported as recorded. Still 200: the delivery is stored and a
        // person has the failure; a retry would fail the same way.
        let status = match (recorded.parts, recorded.failures.len()) {
            (_, 0) => "recorded",
            (parts, failed) if failed < parts => "partly_recorded",
            _ => "not_recorded",
        };
        let mut answer = json!({ "status": status, "delivery_id": delivery_id });
        if let Value::Object(answer) = &mut answer {
            if let Value::Object(details) = recorded.details {
                answer.extend(details);
            }
            if !recorded.failed_refs.is_empty() {
                answer.insert("not_recorded".into(), json!(recorded.failed_refs));
                answer.insert(
                    "error".into(),
                    json!("not recorded: kept for review with the reason"),
                );
            }
        }
        Ok(WebhookAnswer::new(200, answer))
    }

    async fn record_parsed(
        &self,
        tx: &mut PgConnection,
        source: WebhookSource,
        parsed: ParsedDelivery,
    ) -> Result<Recorded, ProcessError> {
        let db = |err| ProcessError::database("recording a webhook delivery", err);
        let mut recorded = Recorded {
            follow_ups: 0,
            parts: 1,
            failures: Vec::new(),
            failed_refs: Vec::new(),
            details: json!({}),
        };
        // Every order's day, noted for the next refresh once the last order is written (a
        // day of an order given up on is noted too, which costs a recompute and changes
        // nothing).
        let mut days = SalesDays::new();
        match parsed {
            ParsedDelivery::MiraklOrders(orders) => {
                recorded.parts = orders.len();
                let mut count = 0;
                for order in &orders {
                    let mut savepoint = tx.begin().await.map_err(db)?;
                    let work = record_mirakl_order(
                        &mut savepoint,
                        order,
                        &self.pepper,
                        SeenBy::MiraklWebhook,
                        &mut days,
                    )
                    .await;
                    let outcome = settle(savepoint, work).await?;
                    match outcome {
                        Ok(done) => {
                            recorded.follow_ups += done.follow_ups;
                            count += 1;
                        }
                        Err(reason) => {
                            give_up(tx, source, "order", &order.value().order_id, &reason).await?;
                            recorded
                                .failures
                                .push(format!("{}: {reason}", order.value().order_id));
                            recorded.failed_refs.push(order.value().order_id.clone());
                        }
                    }
                }
                recorded.details = json!({ "orders": count });
            }
            ParsedDelivery::ShopifyOrder(order) => {
                let mut savepoint = tx.begin().await.map_err(db)?;
                let work = record_shopify_order(
                    &mut savepoint,
                    &order,
                    &self.pepper,
                    SeenBy::ShopifyWebhook,
                    &mut days,
                )
                .await;
                let outcome = settle(savepoint, work).await?;
                if let Err(reason) = outcome {
                    let id = order.value().id.to_string();
                    give_up(tx, source, "order", &id, &reason).await?;
                    recorded.failures.push(reason);
                    recorded.failed_refs.push(id);
                }
            }
            ParsedDelivery::ShopifyCustomer {
                shop_domain,
                customer,
            } => {
                let mut savepoint = tx.begin().await.map_err(db)?;
                let work =
                    record_shopify_customer(&mut savepoint, &shop_domain, &customer, &self.pepper)
                        .await;
                let outcome = settle(savepoint, work).await?;
                if let Err(reason) = outcome {
                    let id = customer.value.id.to_string();
                    give_up(tx, source, "customer", &id, &reason).await?;
                    recorded.failures.push(reason);
                    recorded.failed_refs.push(id);
                }
            }
            ParsedDelivery::FreshdeskTicket { domain, ticket } => {
                let mut savepoint = tx.begin().await.map_err(db)?;
                let work = record_ticket(&mut savepoint, &domain, &ticket, &self.pepper).await;
                let outcome = settle(savepoint, work).await?;
                match outcome {
                    Ok(filed) => {
                        recorded.details = json!({ "ticket_status": filed.status, "ticket_priority": filed.priority });
                    }
                    Err(reason) => {
                        give_up(tx, source, "ticket", &ticket.ticket_id, &reason).await?;
                        recorded.failures.push(reason);
                        recorded.failed_refs.push(ticket.ticket_id.clone());
                    }
                }
            }
        }
        days.note_stale(tx).await.map_err(|err| {
            ProcessError::database("noting the days of the daily sales aggregates", err)
        })?;
        Ok(recorded)
    }

    async fn publish(&self, expected: u32) -> PublishTally {
        let Some(publisher) = &self.publisher else {
            return PublishTally::default();
        };
        let limit = i64::from(expected) + 10;
        let sent = publish_due_within(
            &self.pool,
            &publisher.sqs,
            &publisher.queues,
            limit,
            PUBLISH_WINDOW,
        );
        match sent.await {
            Ok(tally) => {
                if tally.deferred > 0 {
                    tracing::warn!(
                        deferred = tally.deferred,
                        "outbox messages left for the sweep"
                    );
                }
                tally
            }
            Err(err) => {
                tracing::warn!(error = %error_chain(&err), "outbox not published; left for the sweep");
                PublishTally::default()
            }
        }
    }
}

/// Ends the savepoint `work` ran in. A permanent failure rolls it back and comes back
/// as `Ok(Err(reason))`; a retryable one fails the whole delivery.
async fn settle<T>(
    savepoint: sqlx::Transaction<'_, sqlx::Postgres>,
    work: Result<T, sqlx::Error>,
) -> Result<Result<T, String>, ProcessError> {
    let db = |err| ProcessError::database("recording a webhook delivery", err);
    match work {
        Ok(value) => {
            savepoint.commit().await.map_err(db)?;
            Ok(Ok(value))
        }
        Err(err) => {
            savepoint.rollback().await.map_err(db)?;
            let err = db(err);
            match err.disposition() {
                Disposition::Retry => Err(err),
                Disposition::GiveUp => Ok(Err(error_chain(&err))),
            }
        }
    }
}

async fn give_up(
    tx: &mut PgConnection,
    source: WebhookSource,
    entity_type: &str,
    entity_ref: &str,
    reason: &str,
) -> Result<(), ProcessError> {
    tracing::warn!(
        source = source.as_str(),
        entity_type,
        entity_ref,
        reason,
        "webhook part not recorded"
    );
    let process = format!("{}Webhook", source.as_str());
    record_process_failure(
        tx,
        &ProcessFailure {
            process: &process,
            entity_type,
            entity_ref,
            reason,
            payload: None,
        },
    )
    .await
    .map(|_| ())
    .map_err(|err| ProcessError::database("recording a webhook failure", err))
}

/// Refuses a body holding a NUL character, naming the field (see
/// [`field_path::find_nul`]); `root` names the body itself in the path.
fn refuse_nul(body: &str, root: &str) -> Result<(), String> {
    match field_path::find_nul(body, root) {
        Some(field) => Err(field.to_string()),
        None => Ok(()),
    }
}

/// A Shopify document, a failure naming its field.
fn shopify_document<T: serde::de::DeserializeOwned>(
    body: &str,
) -> Result<Received<T>, InvalidField> {
    let raw: Box<RawValue> = serde_json::from_str(body)
        .map_err(|err| InvalidField::new("", format!("body is not JSON: {err}")))?;
    Received::from_raw(raw)
}

/// The delivery id of a source that sends none: the body's SHA-256. A provider's retry
/// resends the same body, so it is the same delivery.
fn body_digest(body: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body.as_bytes())))
}

/// The headers worth keeping with a delivery: never a signature or a secret.
fn kept_headers(headers: &HeaderMap) -> Value {
    const KEPT: &[&str] = &[
        "content-type",
        "user-agent",
        "x-shopify-topic",
        "x-shopify-shop-domain",
        "x-shopify-webhook-id",
        "x-shopify-event-id",
        "x-shopify-triggered-at",
        "x-shopify-api-version",
    ];
    let kept: serde_json::Map<String, Value> = KEPT
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?;
            Some(((*name).to_owned(), Value::from(value)))
        })
        .collect();
    Value::Object(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_their_source_with_or_without_a_stage() {
        assert_eq!(
            WebhookSource::from_path("/webhooks/mirakl"),
            Some(WebhookSource::Mirakl)
        );
        assert_eq!(
            WebhookSource::from_path("/prod/webhooks/shopify/"),
            Some(WebhookSource::Shopify)
        );
        assert_eq!(WebhookSource::from_path("/webhooks/amazon"), None);
        assert_eq!(WebhookSource::from_path("/mirakl"), None);
        assert_eq!(WebhookSource::from_path("/"), None);
    }

    #[test]
    fn kept_headers_never_include_signatures_or_secrets() {
        let mut headers = HeaderMap::new();
        headers.insert("x-shopify-topic", "orders/create".parse().unwrap());
        headers.insert("x-shopify-hmac-sha256", "c2lnbmF0dXJl".parse().unwrap());
        headers.insert(SECRET_HEADER, "hunter2".parse().unwrap());
        let kept = kept_headers(&headers).to_string();
        assert!(kept.contains("orders/create"));
        assert!(!kept.contains("c2lnbmF0dXJl") && !kept.contains("hunter2"));
    }
}
