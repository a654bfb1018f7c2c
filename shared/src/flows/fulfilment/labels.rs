//! The label flow, resumable step by step, never buying two labels for one order.
//!
//! `sales.shipments` (one row per order) records each step as it completes:
//!
//! ```text
//! (no row) ─claim─> pending + label_requested_at ─Canada Post answered─> label_created
//!   (shipment id, PIN, label link) ─PDF in S3─> label_stored ─OR23─> tracking_reported
//!   ─OR24─> shipped
//! ```
//!
//! - One attempt at a time per order: a lease in `ops.idempotency_keys`
//!   (`label:<order uuid>`). A second delivery while it is held is retried later; after
//!   the order shipped, any delivery finds the key completed and does nothing.
//! - The row is written (`label_requested_at`, the claim) and committed *before* Canada
//!   Post is called, and the answer is committed before anything else happens. A retry
//!   resumes at the first unfinished step: a crash after the answer was recorded resumes
//!   at the PDF download.
//! - Canada Post's purchase has no idempotency key, so it is sent again only when it
//!   provably bought nothing: the request never left, or Canada Post turned it away
//!   (429, rejected credentials); then the claim is withdrawn. A refusal (`<messages>`)
//!   withdraws it too and the shipment is `failed`. Every other outcome (a 5xx, a
//!   timeout after sending, an answer that cannot be read, a crash before the answer
//!   was written) may have bought a label, so the claim stays.
//! - A claim without a shipment id is settled before anything is bought: the shipments
//!   Canada Post created around the claim are listed and the one whose `customer-ref-1`
//!   is the order is adopted as if its purchase had answered; only when none exists is
//!   the claim renewed and the label bought. Two or more found: the lowest shipment id
//!   is kept, each other one is recorded in `sales.shipment_duplicates` and its refund
//!   requested (a refund request that fails for a moment is sent again by the next
//!   attempt).
//! - Nothing is bought before Mirakl shows the order `SHIPPING` (debited): an order
//!   still in `WAITING_DEBIT` is acknowledged and waits for the poller's SHIPPING message.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use futures::StreamExt as _;
use sqlx::PgPool;
use uuid::Uuid;

use super::parcel::{PackedLine, Parcel};
use super::{record_status, stock, OrderMessage, Reason};
use crate::ops::config::{DefaultParcel, SenderSettings};
use crate::ops::crash_points::crash_point;
use crate::ops::errors::ProcessError;
use crate::ops::idempotency::{self, Claim, KeyPolicy};
use crate::ops::retry::RetryPolicy;
use crate::ops::sqs_batch::BatchPlan;
use crate::systems::canadapost::{
    CallEffect, CanadaPostClient, CanadaPostError, DeliverySpec, Destination, DestinationAddress,
    NonContractShipment, Preferences, References, Sender, SenderAddress, ShipmentInfo,
};
use crate::systems::mirakl::line_decisions::is_invalid_state;
use crate::systems::mirakl::order_state::{read_order_state, OrderState};
use crate::systems::mirakl::shipping::{confirm_shipment, send_tracking, Tracking};
use crate::systems::mirakl::{MiraklClient, MiraklError};

/// How far before a claim the shipments bought for it are looked for: clocks differ,
/// and Canada Post lists by the minute.
const SEARCH_BEFORE_CLAIM: chrono::TimeDelta = chrono::TimeDelta::minutes(2);
/// How far after a claim: the purchase leaves within moments of the claim and Canada
/// Post answers (or the call gives up) within the request timeout.
const SEARCH_AFTER_CLAIM: chrono::TimeDelta = chrono::TimeDelta::minutes(3);

/// How many refund requests of labels bought twice are sent at once.
pub const REFUNDS_AT_ONCE: usize = 8;

/// Who appends the status history rows written here.
pub const SOURCE: &str = "fetch-shipping-label";
const LEASE_SCOPE: &str = "fetch-shipping-label";

/// How `fetch-shipping-label` retries its Mirakl and Canada Post calls within an
/// invocation: not at all. A label takes up to six calls in a row, and the flow resumes
/// at its first unfinished step, so a failed call returns the message to its queue
/// rather than spending the invocation's time budget on waits.
pub const RETRY: RetryPolicy = RetryPolicy::ONCE;

/// Per-invocation options. Production uses [`LabelOptions::default`].
#[derive(Debug, Clone, Copy)]
pub struct LabelOptions {
    /// How long one attempt holds the order ([`LABEL_LEASE`] in production).
    pub lease: Duration,
    /// How a batch is worked through; production takes it from the function's time
    /// budget ([`crate::ops::time_budget::fetch_shipping_label`]).
    pub batch: BatchPlan,
}

/// How long one attempt holds an order: longer than the function's timeout, so a live
/// attempt is never overtaken, and shorter than the label queue's visibility timeout, so
/// a message delivered again after a crash finds the lease run out. The time budget
/// ([`crate::ops::time_budget`]) checks both against the template.
pub const LABEL_LEASE: Duration = Duration::from_secs(210);

impl Default for LabelOptions {
    fn default() -> Self {
        Self {
            lease: LABEL_LEASE,
            batch: BatchPlan::SEQUENTIAL,
        }
    }
}

/// What handling a label message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelOutcome {
    /// The label is bought and stored, and Mirakl knows the order shipped.
    Shipped {
        /// Canada Post's tracking PIN.
        tracking_pin: String,
        /// Where the PDF is.
        label_s3_key: String,
    },
    /// Done before: nothing was done.
    AlreadyDone,
    /// Mirakl has not debited the customer yet (its state is given); nothing was bought.
    NotYetShipping(OrderState),
    /// Mirakl shows the order will not ship from here: refused, cancelled or shipped
    /// elsewhere (its state is given).
    WillNotShip(OrderState),
    /// The shipment was voided: the order does not ship from here.
    Voided,
}

/// Everything the label flow needs, built once per Lambda instance.
#[derive(Debug, Clone)]
pub struct LabelFlow<'a> {
    /// The database.
    pub pool: &'a PgPool,
    /// The marketplace.
    pub mirakl: &'a MiraklClient,
    /// The carrier.
    pub canadapost: &'a CanadaPostClient,
    /// S3, for the PDFs.
    pub s3: &'a aws_sdk_s3::Client,
    /// `LABELS_BUCKET`.
    pub labels_bucket: &'a str,
    /// `CANADAPOST_SERVICE_CODE`.
    pub service_code: &'a str,
    /// `MIRAKL_CARRIER_CODE`.
    pub carrier_code: &'a str,
    /// `SENDER_*`.
    pub sender: &'a SenderSettings,
    /// `DEFAULT_PARCEL_*`.
    pub default_parcel: &'a DefaultParcel,
    /// In-invocation retries of Mirakl calls.
    pub retry: RetryPolicy,
}

/// Where an order's shipment stands (`sales.shipments.state`): the steps drawn above,
/// and the ends a person or the carrier may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ShipmentState {
    /// Not bought yet. With `label_requested_at` set, a purchase was sent and its
    /// outcome is unknown: Canada Post is asked what exists before buying again.
    Pending,
    /// Canada Post sold the label: shipment id, PIN and label link are recorded.
    LabelCreated,
    /// The PDF is in S3.
    LabelStored,
    /// Mirakl has the tracking PIN (OR23).
    TrackingReported,
    /// Mirakl knows the order shipped (OR24).
    Shipped,
    /// The carrier delivered the parcel.
    Delivered,
    /// The label was cancelled: the order does not ship from here.
    Voided,
    /// Canada Post refused the label for good; `last_error` says why, and a person sets
    /// the row back to `pending` once the cause is fixed.
    Failed,
}

#[derive(Debug, Clone)]
struct ShipmentRow {
    state: ShipmentState,
    shipment_id: Option<String>,
    tracking_pin: Option<String>,
    label_artifact_url: Option<String>,
    label_s3_key: Option<String>,
    label_requested_at: Option<chrono::DateTime<chrono::Utc>>,
    last_error: Option<String>,
}

#[derive(Debug, Clone)]
struct OrderRow {
    status: OrderState,
    shipping_name: Option<String>,
    shipping_company: Option<String>,
    shipping_line1: Option<String>,
    shipping_line2: Option<String>,
    shipping_city: Option<String>,
    shipping_province: Option<String>,
    shipping_postal_code: Option<String>,
    shipping_country_code: Option<String>,
    shipping_phone: Option<String>,
}

/// Where a run of the flow stopped, which decides what becomes of the order's lease.
enum Stop {
    /// Nothing is left to do for the order: the lease is completed.
    Done(LabelOutcome),
    /// The order cannot be labelled yet: the lease is released without completing, so a
    /// later message does the work.
    NotReady(LabelOutcome),
}

impl LabelFlow<'_> {
    /// Handles one label-queue message.
    pub async fn handle(
        &self,
        message: &OrderMessage,
        options: LabelOptions,
    ) -> Result<LabelOutcome, ProcessError> {
        let key = format!("label:{}", message.order_id);
        let lease = idempotency::claim(
            self.pool,
            LEASE_SCOPE,
            &key,
            KeyPolicy::leased_for(options.lease),
        )
        .await
        .map_err(|err| ProcessError::database("claiming the order's label", err))?;
        let lease = match lease {
            Claim::AlreadyCompleted(_) => return Ok(LabelOutcome::AlreadyDone),
            Claim::HeldElsewhere => {
                return Err(ProcessError::retryable(
                    format!("label of order {}", message.external_id),
                    Reason("another attempt is working on it".into()),
                ))
            }
            Claim::Acquired(lease) => lease,
        };
        let db = |err| ProcessError::database("settling the label lease", err);
        match self.run(message).await {
            Ok(Stop::Done(outcome)) => {
                idempotency::complete(self.pool, &lease, None)
                    .await
                    .map_err(|err| ProcessError::lease("completing the label lease", err))?;
                Ok(outcome)
            }
            Ok(Stop::NotReady(outcome)) => {
                lease.release(self.pool).await.map_err(db)?;
                Ok(outcome)
            }
            Err(err) => {
                if let Err(release) = lease.release(self.pool).await {
                    tracing::warn!(error = %release, "could not release the label lease");
                }
                Err(err)
            }
        }
    }

    async fn run(&self, message: &OrderMessage) -> Result<Stop, ProcessError> {
        self.refund_duplicates(message).await?;
        loop {
            let shipment = self.shipment(message.order_id).await?;
            match shipment.as_ref().map(|row| (row.state, row)) {
                None | Some((ShipmentState::Pending, _)) => {
                    if let Some(stop) = self.buy_label(message, shipment.as_ref()).await? {
                        return Ok(stop);
                    }
                    crash_point!(LabelBought);
                }
                Some((ShipmentState::LabelCreated, row)) => {
                    self.store_label(message, row).await?;
                    crash_point!(LabelStored);
                }
                Some((ShipmentState::LabelStored, row)) => {
                    if let Some(stop) = self.report_tracking(message, row).await? {
                        return Ok(stop);
                    }
                    crash_point!(TrackingReported);
                }
                Some((ShipmentState::TrackingReported, row)) => {
                    return self.confirm(message, row).await
                }
                Some((ShipmentState::Shipped | ShipmentState::Delivered, _)) => {
                    return Ok(Stop::Done(LabelOutcome::AlreadyDone))
                }
                Some((ShipmentState::Voided, _)) => return Ok(Stop::Done(LabelOutcome::Voided)),
                Some((ShipmentState::Failed, row)) => {
                    let why = row.last_error.as_deref().unwrap_or_default();
                    return Err(ProcessError::permanent(format!(
                        "the label of order {} failed earlier ({why}); fix the cause and set the shipment back to pending",
                        message.external_id
                    )));
                }
            }
        }
    }

    async fn shipment(&self, order_id: Uuid) -> Result<Option<ShipmentRow>, ProcessError> {
        sqlx::query_as!(
            ShipmentRow,
            r#"select state as "state: ShipmentState", shipment_id, tracking_pin,
                    label_artifact_url, label_s3_key, label_requested_at, last_error
             from sales.shipments where order_id = $1"#,
            order_id,
        )
        .fetch_optional(self.pool)
        .await
        .map_err(|err| ProcessError::database("reading the shipment", err))
    }

    /// Step 1: make sure the order may ship, claim the row, buy the label, record the
    /// answer. `Some(stop)` stops the flow here.
    async fn buy_label(
        &self,
        message: &OrderMessage,
        shipment: Option<&ShipmentRow>,
    ) -> Result<Option<Stop>, ProcessError> {
        let previous_claim = shipment.and_then(|row| row.label_requested_at);
        if let Some(claimed_at) = previous_claim {
            if self.settle_claim(message, claimed_at).await? {
                return Ok(None);
            }
        }
        let db = |err| ProcessError::database("preparing the label", err);
        let order = sqlx::query_as!(
            OrderRow,
            r#"select status as "status: OrderState", shipping_name, shipping_company,
                    shipping_line1, shipping_line2, shipping_city, shipping_province,
                    shipping_postal_code, shipping_country_code, shipping_phone
             from sales.orders where id = $1 and channel = $2 and external_id = $3"#,
            message.order_id,
            message.channel,
            message.external_id,
        )
        .fetch_optional(self.pool)
        .await
        .map_err(db)?
        .ok_or_else(|| missing(message))?;
        if order.status != OrderState::Shipping {
            if let Some(stop) = self.wait_for_shipping(message).await? {
                return Ok(Some(stop));
            }
        }

        // A line accepted outside accept-orders may not be mapped yet: the shop SKU map
        // names its variant.
        let lines = sqlx::query_as!(
            PackedLine,
            r#"select l.quantity, v.weight_grams as "weight_grams?", v.length_cm as "length_cm?",
                    v.width_cm as "width_cm?", v.height_cm as "height_cm?"
             from sales.order_lines l
             left join catalog.shop_sku_map m on m.channel = $2 and m.shop_sku = l.sku
             left join catalog.product_variants v on v.id = coalesce(l.variant_id, m.variant_id)
             where l.order_id = $1"#,
            message.order_id,
            message.channel,
        )
        .fetch_all(self.pool)
        .await
        .map_err(db)?;
        let parcel = Parcel::for_lines(&lines, self.default_parcel);
        let request = self.shipment_request(message, &order, &parcel)?;

        // Claim: committed before the carrier is called.
        let claimed = sqlx::query!(
            r#"insert into sales.shipments
                 (order_id, state, carrier, service_code, parcel_weight_grams, label_requested_at)
             values ($1, 'pending', 'canada_post', $2, $3, now())
             on conflict (order_id) do update set
                 label_requested_at = now(), service_code = excluded.service_code,
                 parcel_weight_grams = excluded.parcel_weight_grams, last_error = null
             where shipments.state = 'pending' and shipments.shipment_id is null
               and shipments.label_requested_at is not distinct from $4
             returning label_requested_at as "claimed_at!""#,
            message.order_id,
            self.service_code,
            parcel.weight_grams(),
            previous_claim,
        )
        .fetch_optional(self.pool)
        .await
        .map_err(db)?;
        let Some(claimed) = claimed else {
            return Err(ProcessError::retryable(
                format!("label of order {}", message.external_id),
                Reason("the shipment changed while it was being claimed".into()),
            ));
        };
        let claimed_at = claimed.claimed_at;

        match self
            .canadapost
            .create_shipment(message.order_id, &request)
            .await
        {
            Ok(info) => {
                crash_point!(LabelAnswered);
                let answer = serde_json::json!({
                    "shipment_id": info.shipment_id,
                    "tracking_pin": info.tracking_pin,
                    "label_url": info.label_url,
                });
                record_label(self.pool, message, &info, claimed_at, answer).await?;
                tracing::info!(order = %message.external_id, shipment_id = %info.shipment_id, "label bought");
                Ok(None)
            }
            Err(err) => Err(self.purchase_failed(message, err).await?),
        }
    }

    /// The purchase failed: withdraw the claim when Canada Post provably bought nothing,
    /// keep it when it may have. Returns the error the message fails with.
    async fn purchase_failed(
        &self,
        message: &OrderMessage,
        err: CanadaPostError,
    ) -> Result<ProcessError, ProcessError> {
        let effect = err.effect();
        let reason = err.to_string();
        let db = |err| ProcessError::database("recording the label failure", err);
        if effect == CallEffect::Unknown {
            sqlx::query!(
                "update sales.shipments set last_error = $2 where order_id = $1",
                message.order_id,
                format!("outcome unknown, settled before buying again: {reason}"),
            )
            .execute(self.pool)
            .await
            .map_err(db)?;
            tracing::warn!(order = %message.external_id, error = %reason,
                "the label purchase may have happened; the next attempt looks for it at Canada Post");
            return Ok(ProcessError::retryable(
                format!(
                    "label of order {}: the purchase's outcome is unknown",
                    message.external_id
                ),
                err,
            ));
        }
        // Nothing was bought: the claim is withdrawn, and a refusal is for a person.
        let refused = effect == CallEffect::Refused;
        sqlx::query!(
            "update sales.shipments set label_requested_at = null, last_error = $2,
                 state = case when $3 then 'failed' else 'pending' end
             where order_id = $1",
            message.order_id,
            reason,
            refused,
        )
        .execute(self.pool)
        .await
        .map_err(db)?;
        Ok(ProcessError::from(err))
    }

    /// A purchase was claimed at `claimed_at` and its outcome never recorded: look for
    /// what Canada Post created for the order around then. `true` when a shipment was
    /// found and adopted (the flow goes on from `label_created`); `false` when none
    /// exists and a label may be bought.
    async fn settle_claim(
        &self,
        message: &OrderMessage,
        claimed_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, ProcessError> {
        let found = self
            .canadapost
            .shipments_for_reference(
                message.order_id,
                &customer_reference(message),
                claimed_at - SEARCH_BEFORE_CLAIM,
                claimed_at + SEARCH_AFTER_CLAIM,
            )
            .await
            .map_err(|err| match err.effect() {
                CallEffect::Refused => ProcessError::permanent(format!(
                    "the label purchase of order {} has an unknown outcome and Canada Post could not be searched for it: {err}",
                    message.external_id
                )),
                CallEffect::NotDone | CallEffect::Unknown => ProcessError::retryable(
                    format!(
                        "looking for the label of order {} at Canada Post",
                        message.external_id
                    ),
                    err,
                ),
            })?;
        let Some((kept, duplicates)) = found.split_first() else {
            tracing::info!(order = %message.external_id, "no label was bought by the earlier attempt; buying");
            return Ok(false);
        };
        let db = |err| ProcessError::database("recording the label found at Canada Post", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        for duplicate in duplicates {
            sqlx::query!(
                "insert into sales.shipment_duplicates
                     (order_id, shipment_id, tracking_pin, refund_url)
                 values ($1, $2, $3, $4)
                 on conflict (carrier, shipment_id) do nothing",
                message.order_id,
                duplicate.shipment_id,
                duplicate.tracking_pin,
                duplicate.refund_url,
            )
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        let answer = serde_json::json!({
            "shipment_id": kept.shipment_id,
            "tracking_pin": kept.tracking_pin,
            "label_url": kept.label_url,
            "found_at_canada_post": true,
            "duplicates": duplicates.iter().map(|d| &d.shipment_id).collect::<Vec<_>>(),
        });
        record_label(&mut *tx, message, kept, claimed_at, answer).await?;
        tx.commit().await.map_err(db)?;
        tracing::info!(order = %message.external_id, shipment_id = %kept.shipment_id,
            duplicates = duplicates.len(), "label found at Canada Post and adopted");
        if !duplicates.is_empty() {
            tracing::warn!(order = %message.external_id, duplicates = duplicates.len(),
                "the order's label was bought more than once; refunding the others");
            self.refund_duplicates(message).await?;
        }
        Ok(true)
    }

    /// Requests the refund of every label of the order recorded as bought twice whose
    /// refund is not requested yet, [`REFUNDS_AT_ONCE`] at a time. A refund Canada Post
    /// refuses (or that has no link) is recorded for a person; one that fails for a
    /// moment is left for the next attempt, and fails this one.
    async fn refund_duplicates(&self, message: &OrderMessage) -> Result<(), ProcessError> {
        let db = |err| ProcessError::database("refunding a label bought twice", err);
        let pending = sqlx::query!(
            "select id, shipment_id, refund_url from sales.shipment_duplicates
             where order_id = $1 and refund_requested_at is null and refund_error is null
             order by shipment_id",
            message.order_id,
        )
        .fetch_all(self.pool)
        .await
        .map_err(db)?;
        let requests = pending.into_iter().map(|duplicate| async move {
            let outcome = match &duplicate.refund_url {
                Some(url) => self
                    .canadapost
                    .request_refund(message.order_id, url, &self.sender.email)
                    .await
                    .map_err(|err| (err.effect(), err.to_string())),
                None => Err((
                    CallEffect::Refused,
                    "Canada Post gave no refund link".to_owned(),
                )),
            };
            (duplicate, outcome)
        });
        let outcomes: Vec<_> = futures::stream::iter(requests)
            .buffer_unordered(REFUNDS_AT_ONCE)
            .collect()
            .await;
        let mut unsettled = None;
        for (duplicate, outcome) in outcomes {
            match outcome {
                Ok(ticket) => {
                    sqlx::query!(
                        "update sales.shipment_duplicates set refund_requested_at = now(),
                             refund_ticket_id = $2, refund_ticket_date = $3
                         where id = $1",
                        duplicate.id,
                        ticket.id,
                        ticket.date,
                    )
                    .execute(self.pool)
                    .await
                    .map_err(db)?;
                    tracing::info!(order = %message.external_id, shipment_id = %duplicate.shipment_id,
                        ticket = %ticket.id, "refund of a label bought twice requested");
                }
                Err((CallEffect::Refused, reason)) => {
                    sqlx::query!(
                        "update sales.shipment_duplicates set refund_error = $2 where id = $1",
                        duplicate.id,
                        reason,
                    )
                    .execute(self.pool)
                    .await
                    .map_err(db)?;
                    tracing::error!(order = %message.external_id, shipment_id = %duplicate.shipment_id,
                        error = %reason, "the refund of a label bought twice must be requested by hand");
                }
                Err((CallEffect::NotDone | CallEffect::Unknown, reason)) => {
                    unsettled.get_or_insert(ProcessError::retryable(
                        format!(
                            "requesting the refund of label {} of order {}",
                            duplicate.shipment_id, message.external_id
                        ),
                        Reason(reason),
                    ));
                }
            }
        }
        unsettled.map_or(Ok(()), Err)
    }

    /// The DB does not show the order SHIPPING: ask Mirakl. `None` means go ahead.
    async fn wait_for_shipping(
        &self,
        message: &OrderMessage,
    ) -> Result<Option<Stop>, ProcessError> {
        let state = self.marketplace_state(message).await?;
        if state == OrderState::Shipping {
            self.record_marketplace_state(message, &state).await?;
            return Ok(None);
        }
        if state.is_shipped() || state.is_dead() {
            self.record_marketplace_state(message, &state).await?;
            tracing::info!(order = %message.external_id, %state, "order will not be labelled");
            return Ok(Some(Stop::Done(LabelOutcome::WillNotShip(state))));
        }
        tracing::info!(order = %message.external_id, %state,
            "order not debited yet; no label bought, waiting for its SHIPPING message");
        Ok(Some(Stop::NotReady(LabelOutcome::NotYetShipping(state))))
    }

    /// The order's state on Mirakl now (OR11).
    async fn marketplace_state(&self, message: &OrderMessage) -> Result<OrderState, ProcessError> {
        let snapshot = read_order_state(
            self.mirakl,
            &message.external_id,
            message.order_id,
            self.retry,
        )
        .await?
        .ok_or_else(|| {
            ProcessError::permanent(format!(
                "Mirakl does not list order {}",
                message.external_id
            ))
        })?;
        Ok(snapshot.order_state)
    }

    async fn record_marketplace_state(
        &self,
        message: &OrderMessage,
        state: &OrderState,
    ) -> Result<(), ProcessError> {
        let db = |err| ProcessError::database("recording the order's state", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        let current = sqlx::query_scalar!(
            r#"select status as "status: OrderState" from sales.orders where id = $1 for update"#,
            message.order_id,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if current.as_ref() != Some(state) {
            record_status(
                &mut tx,
                message.order_id,
                state,
                SOURCE,
                Some("read from Mirakl (OR11)"),
            )
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    fn shipment_request(
        &self,
        message: &OrderMessage,
        order: &OrderRow,
        parcel: &Parcel,
    ) -> Result<NonContractShipment, ProcessError> {
        let sender = self.sender;
        let (Some(line1), Some(country)) = (&order.shipping_line1, &order.shipping_country_code)
        else {
            return Err(ProcessError::permanent(format!(
                "order {} has no shipping address (street and country) to print on a label",
                message.external_id
            )));
        };
        Ok(NonContractShipment::new(DeliverySpec {
            service_code: self.service_code.to_owned(),
            sender: Sender {
                name: sender.name.clone(),
                company: sender.company.clone(),
                contact_phone: sender.phone.clone(),
                address_details: SenderAddress {
                    address_line_1: sender.address_line1.clone(),
                    address_line_2: sender.address_line2.clone(),
                    city: sender.city.clone(),
                    prov_state: sender.province.clone(),
                    postal_zip_code: sender.postal_code.clone(),
                },
            },
            destination: Destination {
                name: order.shipping_name.clone(),
                company: order.shipping_company.clone(),
                client_voice_number: order.shipping_phone.clone(),
                address_details: DestinationAddress {
                    address_line_1: line1.clone(),
                    address_line_2: order.shipping_line2.clone(),
                    city: order.shipping_city.clone(),
                    prov_state: order.shipping_province.clone(),
                    country_code: country.clone(),
                    postal_zip_code: order
                        .shipping_postal_code
                        .as_ref()
                        .map(|code| code.replace(' ', "").to_uppercase()),
                },
            },
            parcel_characteristics: parcel.characteristics(),
            preferences: Preferences {
                show_packing_instructions: false,
            },
            references: Some(References {
                customer_ref_1: customer_reference(message),
            }),
        }))
    }

    /// Step 2: fetch the PDF and store it under a key derived from the order.
    async fn store_label(
        &self,
        message: &OrderMessage,
        row: &ShipmentRow,
    ) -> Result<(), ProcessError> {
        let (Some(shipment_id), Some(url)) = (&row.shipment_id, &row.label_artifact_url) else {
            return Err(ProcessError::permanent(format!(
                "Canada Post gave order {} no label link; fetch the label by hand",
                message.external_id
            )));
        };
        let pdf = self
            .canadapost
            .download_label(message.order_id, url)
            .await?;
        let key = label_key(message, shipment_id);
        self.s3
            .put_object()
            .bucket(self.labels_bucket)
            .key(&key)
            .content_type("application/pdf")
            .body(ByteStream::from(pdf))
            .send()
            .await
            .map_err(|err| {
                ProcessError::aws(
                    format!("storing the label s3://{}/{key}", self.labels_bucket),
                    err,
                )
            })?;
        sqlx::query!(
            "update sales.shipments set state = 'label_stored', label_s3_key = $2,
                 label_stored_at = now()
             where order_id = $1 and state = 'label_created'",
            message.order_id,
            key,
        )
        .execute(self.pool)
        .await
        .map_err(|err| ProcessError::database("recording the stored label", err))?;
        Ok(())
    }

    /// Step 3: OR23.
    async fn report_tracking(
        &self,
        message: &OrderMessage,
        row: &ShipmentRow,
    ) -> Result<Option<Stop>, ProcessError> {
        let Some(pin) = &row.tracking_pin else {
            return Err(ProcessError::permanent(format!(
                "the label of order {} has no tracking PIN to report; choose a tracked service",
                message.external_id
            )));
        };
        let tracking = Tracking {
            carrier_code: self.carrier_code,
            tracking_number: pin,
        };
        match send_tracking(
            self.mirakl,
            &message.external_id,
            message.order_id,
            &tracking,
            self.retry,
        )
        .await
        {
            Ok(()) => {}
            Err(err) => return self.after_refusal(message, err, row).await.map(Some),
        }
        sqlx::query!(
            "update sales.shipments set state = 'tracking_reported', tracking_reported_at = now()
             where order_id = $1 and state = 'label_stored'",
            message.order_id,
        )
        .execute(self.pool)
        .await
        .map_err(|err| ProcessError::database("recording the reported tracking", err))?;
        Ok(None)
    }

    /// Step 4: OR24, then the order is shipped and its stock leaves the shelf.
    async fn confirm(
        &self,
        message: &OrderMessage,
        row: &ShipmentRow,
    ) -> Result<Stop, ProcessError> {
        if let Err(err) = confirm_shipment(
            self.mirakl,
            &message.external_id,
            message.order_id,
            self.retry,
        )
        .await
        {
            return self.after_refusal(message, err, row).await;
        }
        self.finish(message, row, "OR24 sent").await
    }

    /// OR23/OR24 refused: if the order already shipped on Mirakl, record that;
    /// otherwise the refusal stands.
    async fn after_refusal(
        &self,
        message: &OrderMessage,
        err: MiraklError,
        row: &ShipmentRow,
    ) -> Result<Stop, ProcessError> {
        if !is_invalid_state(&err) {
            return Err(err.into());
        }
        let state = self.marketplace_state(message).await?;
        if state.is_shipped() {
            return self
                .finish(message, row, "Mirakl already shows the order shipped")
                .await;
        }
        Err(ProcessError::permanent(format!(
            "Mirakl refused to ship order {} in state {state}: {err}",
            message.external_id
        )))
    }

    async fn finish(
        &self,
        message: &OrderMessage,
        row: &ShipmentRow,
        note: &str,
    ) -> Result<Stop, ProcessError> {
        let db = |err| ProcessError::database("recording the shipment", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query!(
            "update sales.shipments set state = 'shipped', shipped_at = now(),
                 tracking_reported_at = coalesce(tracking_reported_at, now())
             where order_id = $1",
            message.order_id,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        record_status(
            &mut tx,
            message.order_id,
            &OrderState::Shipped,
            SOURCE,
            Some(note),
        )
        .await
        .map_err(db)?;
        stock::consume_reservations(&mut tx, message.order_id)
            .await
            .map_err(db)?;
        finish_tx(tx).await?;
        tracing::info!(order = %message.external_id, "order shipped");
        Ok(Stop::Done(LabelOutcome::Shipped {
            tracking_pin: row.tracking_pin.clone().unwrap_or_default(),
            label_s3_key: row.label_s3_key.clone().unwrap_or_default(),
        }))
    }
}

/// Records a label Canada Post sold for the claim of `claimed_at`, bought now or found
/// later: shipment id, PIN and label link, the step `label_created`. Nothing is
/// recorded (and the attempt is retried) if the row moved on meanwhile.
async fn record_label(
    db: impl sqlx::PgExecutor<'_>,
    message: &OrderMessage,
    info: &ShipmentInfo,
    claimed_at: chrono::DateTime<chrono::Utc>,
    answer: serde_json::Value,
) -> Result<(), ProcessError> {
    let recorded = sqlx::query!(
        "update sales.shipments set state = 'label_created', shipment_id = $2,
             tracking_pin = $3, label_artifact_url = $4, label_created_at = now(),
             raw_payload = $5, last_error = null
         where order_id = $1 and state = 'pending' and shipment_id is null
           and label_requested_at = $6",
        message.order_id,
        info.shipment_id,
        info.tracking_pin,
        info.label_url,
        answer,
        claimed_at,
    )
    .execute(db)
    .await
    .map_err(|err| ProcessError::database("recording the bought label", err))?;
    if recorded.rows_affected() != 1 {
        return Err(ProcessError::retryable(
            format!("label of order {}", message.external_id),
            Reason("the shipment changed while its label was being recorded".into()),
        ));
    }
    Ok(())
}

async fn finish_tx(tx: sqlx::Transaction<'_, sqlx::Postgres>) -> Result<(), ProcessError> {
    tx.commit()
        .await
        .map_err(|err| ProcessError::database("recording the shipment", err))
}

/// `bestbuy_ca/<Mirakl order id>/<shipment id>.pdf`.
pub fn label_key(message: &OrderMessage, shipment_id: &str) -> String {
    let safe = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!(
        "{}/{}/{}.pdf",
        message.channel,
        safe(&message.external_id),
        safe(shipment_id)
    )
}

/// The reference a label carries (`customer-ref-1`): the marketplace order id, at most
/// 35 characters; how the shipments bought for an order are found again.
fn customer_reference(message: &OrderMessage) -> String {
    message.external_id.chars().take(35).collect()
}

fn missing(message: &OrderMessage) -> ProcessError {
    ProcessError::permanent(format!(
        "order {} ({}) is not recorded on {}",
        message.external_id, message.order_id, message.channel
    ))
}
