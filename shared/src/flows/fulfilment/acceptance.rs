//! Accepting a Best Buy order: decide, reserve, tell Mirakl (OR21), queue the label.
//!
//! 1. In one transaction, with the order row locked: an order already decided is not
//!    decided again; an order no longer `WAITING_ACCEPTANCE` is left alone. Otherwise each
//!    line's offer SKU is mapped to a variant, stock is reserved for every line that can
//!    be filled (see [`super::stock`]) and the decision is written to
//!    `sales.order_acceptances`. An unknown SKU makes no call and no decision: the
//!    message fails permanently with the SKUs named.
//! 2. OR21 is sent with every line, accepted or refused, retrying 429/5xx briefly.
//! 3. In a second transaction the decision is marked sent, the status is appended to the
//!    history and, when a line was accepted, the label message is written to the outbox —
//!    unless the recording path saw the order move on meanwhile: its newer state stands,
//!    and a cancelled or refused order gets no label.
//!
//! A crash between 1 and 3 leaves a `decided` row: the retry sends the same decision.
//! Mirakl answering `ORDER_INVALID_STATE` (the order moved on: accepted by an earlier
//! attempt whose answer was lost, refused, cancelled) is reconciled by reading the
//! order's state with OR11.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::stock::{self, MarketplaceLine, OrderLine, ReleaseReason};
use super::{record_status, OrderMessage, Reason};
use crate::ops::errors::ProcessError;
use crate::ops::outbox::{enqueue, WorkQueue};
use crate::ops::retry::RetryPolicy;
use crate::systems::mirakl::line_decisions::{accept_order_lines, is_invalid_state, LineDecision};
use crate::systems::mirakl::order_state::{read_order_state, OrderSnapshot, OrderState};
use crate::systems::mirakl::MiraklClient;

/// Who appends the status history rows written here.
pub const SOURCE: &str = "accept-orders";

/// How `accept-orders` retries OR21 and OR11 within an invocation: one quick second try;
/// the queue retries the rest.
pub const RETRY: RetryPolicy = RetryPolicy::DEFAULT;

/// What handling an accept message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// OR21 was sent; `accepted` of `lines` lines were accepted.
    Decided {
        /// Lines accepted.
        accepted: usize,
        /// Lines in the order.
        lines: usize,
    },
    /// The order was decided before; nothing was done.
    AlreadyDecided,
    /// The order is not waiting for acceptance (its current status is given).
    NotWaiting(OrderState),
    /// Mirakl had moved on; its state was recorded instead.
    Reconciled(OrderState),
}

/// Where an order's acceptance decision stands (`sales.order_acceptances.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum AcceptanceState {
    /// Stock is reserved and the decision written; Mirakl has not taken it yet, so a retry
    /// sends the same decision.
    Decided,
    /// Mirakl took the decision (OR21).
    Sent,
    /// Mirakl had moved on (`ORDER_INVALID_STATE`); the state it showed was recorded
    /// instead.
    Reconciled,
}

/// What the acceptance flow needs.
#[derive(Debug, Clone)]
pub struct Acceptance<'a> {
    /// The database.
    pub pool: &'a PgPool,
    /// The marketplace.
    pub mirakl: &'a MiraklClient,
    /// In-invocation retries of Mirakl calls.
    pub retry: RetryPolicy,
    /// How long a reservation holds stock for an order that does not progress (see
    /// [`stock::release_expired_reservations`]).
    pub reservation_hold: Duration,
}

/// One line of the stored decision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct DecidedLine {
    id: String,
    accepted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl Acceptance<'_> {
    /// Handles one accept-queue message.
    pub async fn handle(&self, message: &OrderMessage) -> Result<AcceptOutcome, ProcessError> {
        let decision = match self.decide(message).await? {
            Decided::Ready(lines) => lines,
            Decided::NothingToSend(outcome) => return Ok(outcome),
        };
        let or21: Vec<LineDecision> = decision
            .iter()
            .map(|line| LineDecision {
                id: line.id.clone(),
                accepted: line.accepted,
            })
            .collect();
        match accept_order_lines(
            self.mirakl,
            &message.external_id,
            message.order_id,
            &or21,
            self.retry,
        )
        .await
        {
            Ok(()) => self.record_sent(message, &decision).await,
            Err(err) if is_invalid_state(&err) => self.reconcile(message).await,
            Err(err) => {
                let err = ProcessError::from(err);
                if matches!(err, ProcessError::Permanent { .. }) {
                    // Mirakl will never take this decision: free the stock for other
                    // orders and leave the order to a person (the failure names why).
                    self.withdraw(message).await?;
                }
                Err(err)
            }
        }
    }

    /// Step 1: the decision, new or stored.
    async fn decide(&self, message: &OrderMessage) -> Result<Decided, ProcessError> {
        let db = |err| ProcessError::database("deciding the order's acceptance", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        let status = lock_order(&mut tx, message).await?;

        let stored = sqlx::query!(
            r#"select state as "state: AcceptanceState", lines
               from sales.order_acceptances where order_id = $1"#,
            message.order_id,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .map(|row| (row.state, row.lines));
        match stored {
            Some((AcceptanceState::Sent | AcceptanceState::Reconciled, _)) => {
                return Ok(Decided::NothingToSend(AcceptOutcome::AlreadyDecided))
            }
            Some((AcceptanceState::Decided, lines)) => {
                let lines = serde_json::from_value(lines).map_err(|err| {
                    ProcessError::permanent(format!(
                        "the stored acceptance decision of order {} is unreadable: {err}",
                        message.external_id
                    ))
                })?;
                return Ok(Decided::Ready(lines));
            }
            None => {}
        }
        if status != OrderState::WaitingAcceptance {
            tracing::info!(order = %message.external_id, %status, "order is not waiting for acceptance");
            return Ok(Decided::NothingToSend(AcceptOutcome::NotWaiting(status)));
        }

        let lines = sqlx::query_as!(
            OrderLine,
            "select id, external_line_id, sku, quantity from sales.order_lines
             where order_id = $1 order by line_number",
            message.order_id,
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        require_mirakl_line_ids(message, &lines)?;

        let fills =
            match stock::reserve_lines(&mut tx, &message.channel, &lines, self.reservation_hold)
                .await
                .map_err(db)?
            {
                Ok(fills) => fills,
                Err(needs_person) => {
                    return Err(ProcessError::permanent(format!(
                        "order {} cannot be accepted automatically: {needs_person}",
                        message.external_id
                    )))
                }
            };
        let decision: Vec<DecidedLine> = lines
            .iter()
            .zip(fills)
            .map(|(line, fill)| DecidedLine {
                id: line.external_line_id.clone().unwrap_or_default(),
                accepted: fill.reserved,
                reason: fill.shortage,
            })
            .collect();
        sqlx::query!(
            "insert into sales.order_acceptances (order_id, lines) values ($1, $2)",
            message.order_id,
            serde_json::to_value(&decision).unwrap_or_default(),
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Decided::Ready(decision))
    }

    /// Step 3: Mirakl took the decision.
    async fn record_sent(
        &self,
        message: &OrderMessage,
        decision: &[DecidedLine],
    ) -> Result<AcceptOutcome, ProcessError> {
        let db = |err| ProcessError::database("recording the acceptance decision", err);
        let accepted = decision.iter().filter(|line| line.accepted).count();
        let mut tx = self.pool.begin().await.map_err(db)?;
        let current = lock_order(&mut tx, message).await?;
        sqlx::query!(
            "update sales.order_acceptances set state = 'sent', sent_at = now()
             where order_id = $1",
            message.order_id,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        // Best Buy moves an accepted order to WAITING_DEBIT (the poller records what
        // follows); an order with every line refused is REFUSED. While OR21 was on its
        // way the recording path may have seen the order move on (debited, or cancelled
        // and its stock given back): that newer state stands, and a dead order gets no
        // label.
        if current == OrderState::WaitingAcceptance {
            let status = if accepted > 0 {
                OrderState::WaitingDebit
            } else {
                OrderState::Refused
            };
            let note = decision_note(decision);
            record_status(&mut tx, message.order_id, &status, SOURCE, Some(&note))
                .await
                .map_err(db)?;
        }
        if accepted > 0 && !current.is_dead() {
            queue_label(&mut tx, message).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        tracing::info!(order = %message.external_id, accepted, lines = decision.len(), "order decided");
        Ok(AcceptOutcome::Decided {
            accepted,
            lines: decision.len(),
        })
    }

    /// Mirakl said `ORDER_INVALID_STATE`: record where the order really is.
    async fn reconcile(&self, message: &OrderMessage) -> Result<AcceptOutcome, ProcessError> {
        let snapshot = read_order_state(self.mirakl, &message.external_id, message.order_id, self.retry)
            .await?
            .ok_or_else(|| {
                ProcessError::permanent(format!(
                    "Mirakl refused OR21 for order {} as ORDER_INVALID_STATE and does not list the order",
                    message.external_id
                ))
            })?;
        if snapshot.order_state == OrderState::WaitingAcceptance {
            return Err(ProcessError::retryable(
                format!("reconciling order {}", message.external_id),
                Reason(
                    "Mirakl answered ORDER_INVALID_STATE yet lists the order as WAITING_ACCEPTANCE"
                        .into(),
                ),
            ));
        }
        let db = |err| ProcessError::database("recording the reconciled acceptance", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        lock_order(&mut tx, message).await?;
        follow_snapshot_stock(&mut tx, message.order_id, &snapshot)
            .await
            .map_err(db)?;
        sqlx::query!(
            "update sales.order_acceptances
             set state = 'reconciled', sent_at = coalesce(sent_at, now()), marketplace_state = $2
             where order_id = $1",
            message.order_id,
            &snapshot.order_state as &OrderState,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        record_status(
            &mut tx,
            message.order_id,
            &snapshot.order_state,
            SOURCE,
            Some("read from Mirakl after OR21 answered ORDER_INVALID_STATE"),
        )
        .await
        .map_err(db)?;
        if snapshot.order_state.is_waiting_for_debit()
            || snapshot.order_state == OrderState::Shipping
        {
            queue_label(&mut tx, message).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        tracing::info!(order = %message.external_id, state = %snapshot.order_state, "acceptance reconciled");
        Ok(AcceptOutcome::Reconciled(snapshot.order_state))
    }

    /// Mirakl refused the decision for good: release its stock and forget it.
    async fn withdraw(&self, message: &OrderMessage) -> Result<(), ProcessError> {
        let db = |err| ProcessError::database("withdrawing a refused acceptance decision", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        stock::release_reservations(&mut tx, message.order_id, None, ReleaseReason::Manual)
            .await
            .map_err(db)?;
        sqlx::query!(
            "delete from sales.order_acceptances where order_id = $1 and state = 'decided'",
            message.order_id,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }
}

/// What step 1 found: a decision to send with OR21, or an outcome that needs no call.
enum Decided {
    Ready(Vec<DecidedLine>),
    NothingToSend(AcceptOutcome),
}

/// Locks the order row (serialising every decision about it) and returns its status.
async fn lock_order(
    tx: &mut PgConnection,
    message: &OrderMessage,
) -> Result<OrderState, ProcessError> {
    let row = sqlx::query!(
        r#"select external_id, status as "status: OrderState" from sales.orders
         where id = $1 and channel = $2
         for update"#,
        message.order_id,
        message.channel,
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(|err| ProcessError::database("reading the order", err))?
    .map(|row| (row.external_id, row.status));
    match row {
        None => Err(ProcessError::permanent(format!(
            "order {} ({}) is not recorded on {}",
            message.external_id, message.order_id, message.channel
        ))),
        Some((external_id, _)) if external_id != message.external_id => {
            Err(ProcessError::permanent(format!(
                "order {} is recorded as {external_id}, not {}",
                message.order_id, message.external_id
            )))
        }
        Some((_, status)) => Ok(status),
    }
}

/// Refuses what OR21 cannot express, since it must list every line by its Mirakl id: an
/// order without lines, or a line without a Mirakl order line id.
fn require_mirakl_line_ids(
    message: &OrderMessage,
    lines: &[OrderLine],
) -> Result<(), ProcessError> {
    if lines.is_empty() {
        return Err(ProcessError::permanent(format!(
            "order {} has no recorded lines to accept or refuse",
            message.external_id
        )));
    }
    let unnamed: Vec<&str> = lines
        .iter()
        .filter(|line| line.external_line_id.as_deref().is_none_or(str::is_empty))
        .map(|line| line.sku.as_str())
        .collect();
    if !unnamed.is_empty() {
        return Err(ProcessError::permanent(format!(
            "order {} has lines without a Mirakl order line id (SKUs {}): OR21 must list every line",
            message.external_id,
            unnamed.join(", ")
        )));
    }
    Ok(())
}

/// Makes the reservations follow what Mirakl shows: refused or cancelled lines give
/// their stock back, shipped ones consume it.
async fn follow_snapshot_stock(
    tx: &mut PgConnection,
    order_id: Uuid,
    snapshot: &OrderSnapshot,
) -> Result<(), sqlx::Error> {
    let lines: Vec<MarketplaceLine<'_>> = snapshot
        .order_lines
        .iter()
        .map(|line| MarketplaceLine {
            external_line_id: &line.order_line_id,
            state: Some(&line.order_line_state),
            refunded_in_full: false,
        })
        .collect();
    stock::follow_marketplace_order(tx, order_id, &snapshot.order_state, &lines).await?;
    Ok(())
}

/// The label message, deduplicated per order as agreed with the recording path.
async fn queue_label(tx: &mut PgConnection, message: &OrderMessage) -> Result<bool, sqlx::Error> {
    let dedup_id = format!("label:{}:{}:accepted", message.channel, message.external_id);
    enqueue(tx, WorkQueue::Label, &dedup_id, &message.to_json()).await
}

fn decision_note(decision: &[DecidedLine]) -> String {
    let accepted = decision.iter().filter(|line| line.accepted).count();
    let mut note = format!("OR21: {accepted} of {} lines accepted", decision.len());
    for line in decision.iter().filter(|line| !line.accepted) {
        note.push_str(&format!(
            "; refused {} ({})",
            line.id,
            line.reason.as_deref().unwrap_or("no reason recorded")
        ));
    }
    note
}
