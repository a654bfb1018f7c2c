//! Applying a price: a decided price goes out to its channel exactly once.
//!
//! ```text
//! decision (mode apply) + outbox "apply a price change" ─> pricing queue ─> PriceApplier::handle
//!   ─claim `price-change:<id>`─> price change recorded `stored` ─> read the channel ─┬─ price there: applied
//!                                                                                 └─ `sending` ─> OF24 / patch ─> accepted
//! schedule ─> PriceApplier::confirm_accepted ─> OF02 / getListingsItem ─> applied or refused
//! ```
//!
//! - **The intent is stored first.** The evaluation writes the decision
//!   (`pricing.price_decisions`, mode `apply`) and its outbox message
//!   ([`ApplyPriceChange`], dedup `apply-price:<decision id>`) in one transaction. The
//!   handler records the price change (`pricing.price_changes`, keyed by the decision,
//!   `stored`) from the decision, not from the message: a message that disagrees with
//!   its decision is refused as permanent. Only a listing's latest decision is sent: a
//!   change overtaken by a later decision is `superseded`, never sent.
//! - **One attempt at a time per change**: a lease in `ops.idempotency_keys`
//!   (`price-change:<id>`), completed once the change is settled (accepted, applied,
//!   refused or superseded). A redelivered message finds it completed and does nothing.
//!   Every write of an attempt holds the lease, so an attempt overtaken writes nothing.
//! - **Every request is preceded by a read.** Mirakl's OF24 rewrites the whole offer,
//!   so the update is built from the offer OF21 just returned (see
//!   [`crate::systems::mirakl::offers`]); Amazon's patch names the listing's product
//!   type, read with its offers. A price already there is adopted, nothing sent.
//! - **Neither update is idempotent.** Before each request the change is marked
//!   `sending` and committed. A request that provably never left puts it back to
//!   `stored` (the queue's next delivery sends it); a refusal (a 4xx, an `INVALID`
//!   submission) is final: `refused` with the channel's reason and a task for a person.
//!   Anything else (a timeout, a 5xx, an answer that could not be read) leaves it
//!   `sending`, and the next delivery reconciles first: the price found there is
//!   adopted; on Best Buy, an offer import started since the attempt and still pending
//!   is waited for (OF04); on Amazon, an attempt younger than
//!   [`plan::AMAZON_SETTLE`] is waited for; only then is the price sent again.
//! - **Both channels apply asynchronously.** OF24 answers an import id, the patch a
//!   submission id: the change is `accepted` with that reference. The schedule's run
//!   confirms accepted changes ([`PriceApplier::confirm_accepted`]): Mirakl's import
//!   status (OF02) says complete (applied) or a line in error (refused, with a task);
//!   Amazon's listing read back shows the price (applied), and a submission that has
//!   not shown after [`AMAZON_CONFIRM_WITHIN`] is handed to a person.
//! - When the channel carries the price, the listing's current price follows, its
//!   price history gets the new price, and the audit log records the change.

pub mod plan;

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use self::plan::{
    after_failure, first_step, reconcile_amazon, reconcile_best_buy, refusal_title, same_price,
    AfterFailure, Confirmation, FirstStep, PriceChannel, Reconciled, SendState,
};
use super::message::ApplyPriceChange;
use crate::ops::errors::ProcessError;
use crate::ops::idempotency::{self, Claim, KeyPolicy};
use crate::ops::lease::Lease;
use crate::ops::outbox::{enqueue_many, WorkQueue};
use crate::ops::retry::RetryPolicy;
use crate::systems::amazon::listings::{get_listings_item, patch_listings_item, price_patch};
use crate::systems::amazon::{AmazonClient, AmazonError};
use crate::systems::mirakl::offers::{
    find_offer, import_status, imports_since, price_update, update_offers,
};
use crate::systems::mirakl::{MiraklClient, MiraklError};

/// `ops.process_failures.process_name` and the lease scope of applying prices.
pub const APPLY_PROCESS: &str = "apply-price-change";

/// How long one attempt holds a change: longer than the function's timeout, so a live
/// attempt is never overtaken, and shorter than the pricing queue's visibility timeout,
/// so a message delivered again after a crash finds it run out. The time budget
/// ([`crate::ops::time_budget::evaluate_pricing_rules`]) checks both against the
/// template.
pub const APPLY_LEASE: Duration = Duration::from_secs(300);

/// How the flow retries its calls within an invocation: not at all. A change that could
/// not be settled goes back to its queue and resumes where it stopped.
pub const RETRY: RetryPolicy = RetryPolicy::ONCE;

/// Who the audit log names for every price the function applies.
pub const ACTOR: &str = "evaluate-pricing-rules";

/// How long an accepted Amazon submission may take to show on the listing before a
/// person is asked to look.
pub const AMAZON_CONFIRM_WITHIN: Duration = Duration::from_secs(60 * 60);

/// The longest one confirmation takes: an LWA token and a read on Amazon (a read on
/// Best Buy), and the statement recording it.
pub const CONFIRM_TIME: Duration = Duration::from_secs(35);

/// How long before an attempt's recorded start an offer import may be dated and still
/// be that attempt's: Mirakl's clock and ours differ.
const IMPORT_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(2);

/// How long a change may stay `stored` or `sending`, untouched, before the scheduled run
/// queues it again ([`PriceApplier::requeue_stalled`]): past the pricing queue's last
/// redelivery (5 receives of 900 s visibility each, 75 minutes in the template), so by
/// then its own message has gone to the dead-letter queue and nothing else would send it.
pub const STALLED_AFTER: Duration = Duration::from_secs(2 * 60 * 60);

/// What handling an apply message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The channel carries the price (`adopted`: found there after a request in doubt,
    /// or before any request).
    Applied { adopted: bool },
    /// The channel took the update and applies it asynchronously: Mirakl's import id or
    /// Amazon's submission id.
    Accepted { reference: String },
    /// The channel refused it; a person has the task.
    Refused { reason: String, task_id: Uuid },
    /// A newer change of the listing replaces it; nothing sent.
    Superseded,
    /// Settled by an earlier delivery: nothing was done.
    AlreadyDone,
}

impl ApplyOutcome {
    /// A short name for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Applied { .. } => "applied",
            Self::Accepted { .. } => "accepted",
            Self::Refused { .. } => "refused",
            Self::Superseded => "superseded",
            Self::AlreadyDone => "already_done",
        }
    }
}

/// What one confirmation pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConfirmTally {
    pub applied: u64,
    pub refused: u64,
    /// Still running on the channel; looked at again next time.
    pub pending: u64,
    /// Could not be looked at now (a channel failing, not configured): next time.
    pub failed: u64,
}

/// A change as stored.
#[derive(Debug, Clone)]
struct ChangeRow {
    id: Uuid,
    listing_id: Uuid,
    channel: String,
    shop_sku: String,
    currency: String,
    old_price: Option<Decimal>,
    new_price: Decimal,
    send_state: String,
    send_attempted_at: Option<DateTime<Utc>>,
    channel_reference: Option<String>,
    newest: bool,
}

/// What the channel shows for the change's offer.
enum ChannelOffer {
    /// Best Buy: the offer's JSON text, to build the update from.
    BestBuy { offer: String, price: Decimal },
    /// Amazon: the listing's product type, for the patch.
    Amazon {
        product_type: Option<String>,
        price: Option<Decimal>,
    },
}

impl ChannelOffer {
    fn shows(&self, price: Decimal) -> bool {
        match self {
            Self::BestBuy { price: shown, .. } => same_price(*shown, price),
            Self::Amazon { price: shown, .. } => {
                shown.is_some_and(|shown| same_price(shown, price))
            }
        }
    }
}

/// A channel failure, with what it may have done.
enum ChannelError {
    Mirakl(MiraklError),
    Amazon(AmazonError),
    /// The channel cannot take this change as it is (no such offer, no product type):
    /// a refusal that needs no request.
    Unusable(String),
}

impl ChannelError {
    fn effect(&self) -> crate::systems::http::SendEffect {
        match self {
            Self::Mirakl(err) => err.send_effect(),
            Self::Amazon(err) => err.send_effect(),
            Self::Unusable(_) => crate::systems::http::SendEffect::Refused,
        }
    }

    fn into_process(self, context: &str) -> ProcessError {
        let process = match self {
            Self::Mirakl(err) => ProcessError::from(err),
            Self::Amazon(err) => ProcessError::from(err),
            Self::Unusable(reason) => ProcessError::permanent(reason),
        };
        match process {
            ProcessError::Permanent { reason, .. } => {
                ProcessError::permanent(format!("{context}: {reason}"))
            }
            ProcessError::Retryable { source, .. } => ProcessError::Retryable {
                context: context.to_owned(),
                source,
            },
        }
    }

    fn reason(&self) -> String {
        match self {
            Self::Mirakl(err) => err.to_string(),
            Self::Amazon(err) => err.to_string(),
            Self::Unusable(reason) => reason.clone(),
        }
    }
}

/// What the channel answered to an update.
enum Sent {
    Accepted(String),
    Refused(String),
}

fn retry_later(context: impl Into<String>, why: &str) -> ProcessError {
    ProcessError::retryable(context, Reason(why.to_owned()))
}

/// A cause with no deeper source.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Reason(String);

/// Applies stored price changes, built once per Lambda instance with the clients of
/// the channels configured.
#[derive(Debug, Clone)]
pub struct PriceApplier<'a> {
    pool: &'a PgPool,
    mirakl: Option<&'a MiraklClient>,
    amazon: Option<&'a AmazonClient>,
    retry: RetryPolicy,
}

impl<'a> PriceApplier<'a> {
    /// The applier; a channel without a client has its changes wait (retryable) until
    /// one is configured.
    pub fn new(
        pool: &'a PgPool,
        mirakl: Option<&'a MiraklClient>,
        amazon: Option<&'a AmazonClient>,
    ) -> Self {
        Self {
            pool,
            mirakl,
            amazon,
            retry: RETRY,
        }
    }

    /// The same applier retrying its calls as `retry` allows (tests).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Handles one apply message.
    pub async fn handle(&self, message: &ApplyPriceChange) -> Result<ApplyOutcome, ProcessError> {
        let id = message.price_change_id;
        let key = format!("price-change:{id}");
        let claim = idempotency::claim(
            self.pool,
            APPLY_PROCESS,
            &key,
            KeyPolicy::leased_for(APPLY_LEASE),
        )
        .await
        .map_err(|err| ProcessError::database("claiming the price change", err))?;
        let lease = match claim {
            Claim::AlreadyCompleted(_) => return Ok(ApplyOutcome::AlreadyDone),
            Claim::HeldElsewhere => {
                return Err(retry_later(
                    format!("price change {id}"),
                    "another attempt is working on it",
                ))
            }
            Claim::Acquired(lease) => lease,
        };
        match self.run(message, &lease).await {
            Ok(outcome) => {
                idempotency::complete(self.pool, &lease, None)
                    .await
                    .map_err(|err| ProcessError::lease("completing the price change", err))?;
                tracing::info!(price_change_id = %id, outcome = outcome.as_str(), "price change settled");
                Ok(outcome)
            }
            Err(err) => {
                if let Err(release) = lease.release(self.pool).await {
                    tracing::warn!(error = %release, "could not release the price change lease");
                }
                Err(err)
            }
        }
    }

    async fn run(
        &self,
        message: &ApplyPriceChange,
        lease: &Lease<String>,
    ) -> Result<ApplyOutcome, ProcessError> {
        let id = message.price_change_id;
        self.record_intent(message, lease).await?;
        let change = self.change(id).await?;
        let state = SendState::parse(&change.send_state).ok_or_else(|| {
            ProcessError::permanent(format!(
                "price change {id} is in send state {:?}, which the flow does not know",
                change.send_state
            ))
        })?;
        let channel = PriceChannel::parse(&change.channel).ok_or_else(|| {
            ProcessError::permanent(format!(
                "price change {id} is for channel {}, where prices are not applied",
                change.channel
            ))
        })?;
        match first_step(state, change.newest) {
            FirstStep::Nothing => Ok(ApplyOutcome::AlreadyDone),
            FirstStep::Supersede => {
                self.supersede(&change, lease).await?;
                Ok(ApplyOutcome::Superseded)
            }
            FirstStep::ReadThenSend => {
                let offer = match self.read(channel, &change).await {
                    Ok(offer) => offer,
                    Err(err) => return self.read_failed(channel, &change, err, lease).await,
                };
                if offer.shows(change.new_price) {
                    self.record_applied(&change, false, lease).await?;
                    return Ok(ApplyOutcome::Applied { adopted: false });
                }
                self.send(channel, &change, &offer, lease).await
            }
            FirstStep::Reconcile => {
                let offer = match self.read(channel, &change).await {
                    Ok(offer) => offer,
                    Err(err) => return self.read_failed(channel, &change, err, lease).await,
                };
                let attempted_at = change.send_attempted_at.unwrap_or_else(Utc::now);
                let verdict = match channel {
                    PriceChannel::BestBuy => {
                        let pending = !offer.shows(change.new_price)
                            && self.import_pending_since(attempted_at).await?;
                        reconcile_best_buy(offer.shows(change.new_price), pending)
                    }
                    PriceChannel::Amazon => {
                        reconcile_amazon(offer.shows(change.new_price), attempted_at, Utc::now())
                    }
                };
                match verdict {
                    Reconciled::Adopt => {
                        self.record_applied(&change, true, lease).await?;
                        tracing::info!(price_change_id = %change.id,
                            "the price whose update was in doubt is on the channel; adopted, not sent again");
                        Ok(ApplyOutcome::Applied { adopted: true })
                    }
                    Reconciled::Wait => Err(retry_later(
                        format!("price change {}", change.id),
                        "the channel may still be applying the update in doubt; it is \
                         looked at again before anything is sent",
                    )),
                    Reconciled::SendAgain => {
                        tracing::info!(price_change_id = %change.id,
                            "the price whose update was in doubt is not on the channel; sending it again");
                        self.send(channel, &change, &offer, lease).await
                    }
                }
            }
        }
    }

    /// Records the change its message names, from the decision, once: a redelivery
    /// finds it recorded. A message that disagrees with its decision (another listing,
    /// channel, price or currency) or names one that is not to be applied is refused.
    async fn record_intent(
        &self,
        message: &ApplyPriceChange,
        lease: &Lease<String>,
    ) -> Result<(), ProcessError> {
        let db = |err| ProcessError::database("recording the price change", err);
        let id = message.price_change_id;
        let mut tx = self.pool.begin().await.map_err(db)?;
        lease
            .hold(&mut tx)
            .await
            .map_err(|err| ProcessError::lease("recording the price change", err))?;
        let decision = sqlx::query!(
            r#"select d.listing_id, d.suggested_price, d.currency as "currency!", d.mode,
                   l.channel as "channel!"
             from pricing.price_decisions d
             join catalog.shop_sku_map l on l.id = d.listing_id
             where d.id = $1"#,
            id,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .ok_or_else(|| {
            ProcessError::permanent(format!("there is no price decision {id} to apply"))
        })?;
        if decision.mode != "apply" {
            return Err(ProcessError::permanent(format!(
                "price decision {id} is a {}, not one to apply",
                decision.mode
            )));
        }
        let disagreement = [
            (decision.listing_id != message.listing_id).then(|| {
                format!(
                    "listing {} (message: {})",
                    decision.listing_id, message.listing_id
                )
            }),
            (decision.channel != message.channel).then(|| {
                format!(
                    "channel {} (message: {})",
                    decision.channel, message.channel
                )
            }),
            (!same_price(decision.suggested_price, message.price)).then(|| {
                format!(
                    "price {} (message: {})",
                    decision.suggested_price, message.price
                )
            }),
            (decision.currency.trim() != message.currency.trim()).then(|| {
                format!(
                    "currency {} (message: {})",
                    decision.currency, message.currency
                )
            }),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
        if !disagreement.is_empty() {
            return Err(ProcessError::permanent(format!(
                "the apply message of price decision {id} disagrees with the decision, which \
                 has {}; nothing was sent",
                disagreement.join(", ")
            )));
        }
        sqlx::query!(
            "insert into pricing.price_changes
                 (id, listing_id, channel, shop_sku, currency, old_price, new_price, rule_id,
                  decided_at)
             select d.id, d.listing_id, l.channel, l.shop_sku, d.currency, d.old_price,
                    d.suggested_price, d.rule_id, d.evaluated_at
             from pricing.price_decisions d
             join catalog.shop_sku_map l on l.id = d.listing_id
             where d.id = $1
             on conflict (id) do nothing",
            id,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn change(&self, id: Uuid) -> Result<ChangeRow, ProcessError> {
        sqlx::query_as!(
            ChangeRow,
            r#"select c.id, c.listing_id, c.channel as "channel!", c.shop_sku,
                   c.currency as "currency!", c.old_price, c.new_price, c.send_state,
                   c.send_attempted_at, c.channel_reference,
                   not exists (
                       select 1 from pricing.price_decisions n
                       where n.listing_id = c.listing_id and n.id <> c.id
                         and (n.evaluated_at, n.id) > (c.decided_at, c.id)
                   ) as "newest!"
             from pricing.price_changes c where c.id = $1"#,
            id,
        )
        .fetch_optional(self.pool)
        .await
        .map_err(|err| ProcessError::database("reading the price change", err))?
        .ok_or_else(|| ProcessError::permanent(format!("there is no price change {id}")))
    }

    fn mirakl(&self) -> Result<&'a MiraklClient, ProcessError> {
        self.mirakl.ok_or_else(|| {
            retry_later(
                "applying a Best Buy price",
                "the Mirakl client is not configured for this function",
            )
        })
    }

    fn amazon(&self) -> Result<&'a AmazonClient, ProcessError> {
        self.amazon.ok_or_else(|| {
            retry_later(
                "applying an Amazon price",
                "the Amazon client is not configured for this function",
            )
        })
    }

    /// Reads the change's offer on its channel.
    async fn read(
        &self,
        channel: PriceChannel,
        change: &ChangeRow,
    ) -> Result<ChannelOffer, ReadError> {
        match channel {
            PriceChannel::BestBuy => {
                let client = self.mirakl().map_err(ReadError::Process)?;
                let offer = find_offer(client, &change.shop_sku, self.retry)
                    .await
                    .map_err(|err| ReadError::Channel(ChannelError::Mirakl(err)))?
                    .ok_or_else(|| {
                        ReadError::Channel(ChannelError::Unusable(format!(
                            "Best Buy has no offer with SKU {} (OF21)",
                            change.shop_sku
                        )))
                    })?;
                Ok(ChannelOffer::BestBuy {
                    price: offer.value.origin_price(),
                    offer: offer.raw().to_owned(),
                })
            }
            PriceChannel::Amazon => {
                let client = self.amazon().map_err(ReadError::Process)?;
                let item = get_listings_item(client, &change.shop_sku, self.retry)
                    .await
                    .map_err(|err| ReadError::Channel(ChannelError::Amazon(err)))?
                    .ok_or_else(|| {
                        ReadError::Channel(ChannelError::Unusable(format!(
                            "Amazon has no listing with SKU {} (getListingsItem)",
                            change.shop_sku
                        )))
                    })?;
                let marketplace = client.marketplace_id();
                Ok(ChannelOffer::Amazon {
                    product_type: item.product_type(marketplace).map(str::to_owned),
                    price: item.our_price(marketplace).map(|money| money.amount),
                })
            }
        }
    }

    /// A read that failed: a channel refusing it (no such offer) refuses the change;
    /// anything else leaves the change as it is for the next delivery.
    async fn read_failed(
        &self,
        channel: PriceChannel,
        change: &ChangeRow,
        err: ReadError,
        lease: &Lease<String>,
    ) -> Result<ApplyOutcome, ProcessError> {
        let context = format!(
            "reading {} offer {} before applying its price",
            channel.label(),
            change.shop_sku
        );
        match err {
            ReadError::Process(err) => Err(err),
            ReadError::Channel(err @ ChannelError::Unusable(_)) => {
                self.refuse(channel, change, &err.reason(), lease).await
            }
            ReadError::Channel(err) => Err(err.into_process(&context)),
        }
    }

    /// Whether a Mirakl offer import started since the attempt (less clock skew) is
    /// still waiting or running.
    async fn import_pending_since(
        &self,
        attempted_at: DateTime<Utc>,
    ) -> Result<bool, ProcessError> {
        let imports = imports_since(self.mirakl()?, attempted_at - IMPORT_CLOCK_SKEW, self.retry)
            .await
            .map_err(|err| {
                ChannelError::Mirakl(err).into_process("listing Best Buy's recent offer imports")
            })?;
        Ok(imports.iter().any(|import| import.is_pending()))
    }

    /// One update request: marked `sending` (committed) before it, settled after.
    async fn send(
        &self,
        channel: PriceChannel,
        change: &ChangeRow,
        offer: &ChannelOffer,
        lease: &Lease<String>,
    ) -> Result<ApplyOutcome, ProcessError> {
        // What to send is worked out before anything is marked: an offer that cannot be
        // updated is refused without a request.
        let request = match (channel, offer) {
            (PriceChannel::BestBuy, ChannelOffer::BestBuy { offer, .. }) => {
                match price_update(offer, change.new_price) {
                    Ok(update) => update,
                    Err(err) => return self.refuse(channel, change, &err.to_string(), lease).await,
                }
            }
            (PriceChannel::Amazon, ChannelOffer::Amazon { product_type, .. }) => {
                let Some(product_type) = product_type else {
                    let reason = format!(
                        "Amazon's listing {} has no product type in the marketplace",
                        change.shop_sku
                    );
                    return self.refuse(channel, change, &reason, lease).await;
                };
                price_patch(
                    product_type,
                    self.amazon()?.marketplace_id(),
                    &change.currency,
                    change.new_price,
                )
            }
            _ => {
                return Err(ProcessError::permanent(format!(
                    "price change {}: the offer read does not belong to its channel",
                    change.id
                )))
            }
        };

        let db = |err| ProcessError::database("marking the price change as being sent", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        lease
            .hold(&mut tx)
            .await
            .map_err(|err| ProcessError::lease("sending the price change", err))?;
        let attempt = sqlx::query_scalar!(
            r#"update pricing.price_changes
             set send_state = 'sending', send_attempted_at = now(), attempts = attempts + 1
             where id = $1 and send_state = $2
               and send_attempted_at is not distinct from $3
             returning send_attempted_at as "attempted_at!""#,
            change.id,
            change.send_state,
            change.send_attempted_at,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(attempted_at) = attempt else {
            return Err(retry_later(
                format!("price change {}", change.id),
                "it changed while it was being sent",
            ));
        };
        tx.commit().await.map_err(db)?;
        let change = &ChangeRow {
            send_state: SendState::Sending.as_str().to_owned(),
            send_attempted_at: Some(attempted_at),
            ..change.clone()
        };

        let answer = match channel {
            PriceChannel::BestBuy => update_offers(self.mirakl()?, vec![request], self.retry)
                .await
                .map(|import| Sent::Accepted(import.import_id.to_string()))
                .map_err(ChannelError::Mirakl),
            PriceChannel::Amazon => {
                patch_listings_item(self.amazon()?, &change.shop_sku, request, self.retry)
                    .await
                    .map(|response| match response.refusal() {
                        None => Sent::Accepted(response.submission_id),
                        Some(reason) => {
                            Sent::Refused(format!("Amazon did not accept the price ({reason})"))
                        }
                    })
                    .map_err(ChannelError::Amazon)
            }
        };
        match answer {
            Ok(Sent::Accepted(reference)) => {
                self.record_accepted(change, &reference, lease).await?;
                tracing::info!(price_change_id = %change.id, channel = channel.as_str(),
                    reference = %reference, "price update accepted by the channel");
                Ok(ApplyOutcome::Accepted { reference })
            }
            Ok(Sent::Refused(reason)) => self.refuse(channel, change, &reason, lease).await,
            Err(err) => match after_failure(err.effect()) {
                AfterFailure::BackToStored => {
                    sqlx::query!(
                        "update pricing.price_changes set send_state = 'stored'
                         where id = $1 and send_state = 'sending' and send_attempted_at = $2",
                        change.id,
                        attempted_at,
                    )
                    .execute(self.pool)
                    .await
                    .map_err(|err| ProcessError::database("withdrawing the send attempt", err))?;
                    tracing::warn!(price_change_id = %change.id, error = %err.reason(),
                        "the price update never left; it is sent again on the next delivery");
                    Err(err.into_process(&format!("sending price change {}", change.id)))
                }
                AfterFailure::Refuse => self.refuse(channel, change, &err.reason(), lease).await,
                AfterFailure::StaySending => {
                    tracing::warn!(price_change_id = %change.id, error = %err.reason(),
                        "the price update may have reached the channel; it is read back before any second attempt");
                    Err(ProcessError::retryable(
                        format!(
                            "price change {}: the update's outcome is unknown; the channel is \
                             read back before sending it again",
                            change.id
                        ),
                        Reason(err.reason()),
                    ))
                }
            },
        }
    }

    async fn supersede(
        &self,
        change: &ChangeRow,
        lease: &Lease<String>,
    ) -> Result<(), ProcessError> {
        let db = |err| ProcessError::database("superseding the price change", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        lease
            .hold(&mut tx)
            .await
            .map_err(|err| ProcessError::lease("superseding the price change", err))?;
        sqlx::query!(
            "update pricing.price_changes c set send_state = 'superseded',
                 superseded_by = (
                     select n.id from pricing.price_decisions n
                     where n.listing_id = c.listing_id and n.id <> c.id
                     order by n.evaluated_at desc, n.id desc limit 1)
             where c.id = $1 and c.send_state in ('stored', 'sending')",
            change.id,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn record_accepted(
        &self,
        change: &ChangeRow,
        reference: &str,
        lease: &Lease<String>,
    ) -> Result<(), ProcessError> {
        let db = |err| ProcessError::database("recording the price update as accepted", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        lease
            .hold(&mut tx)
            .await
            .map_err(|err| ProcessError::lease("recording the price update as accepted", err))?;
        let updated = sqlx::query!(
            "update pricing.price_changes
             set send_state = 'accepted', channel_reference = $2
             where id = $1 and send_state = 'sending'",
            change.id,
            reference,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if updated.rows_affected() != 1 {
            return Err(retry_later(
                format!("price change {}", change.id),
                "it changed while its update was being recorded",
            ));
        }
        tx.commit().await.map_err(db)
    }

    /// The channel carries the price: the change is applied, and the listing's current
    /// price, history and audit log follow, in one transaction holding the lease.
    async fn record_applied(
        &self,
        change: &ChangeRow,
        adopted: bool,
        lease: &Lease<String>,
    ) -> Result<(), ProcessError> {
        let db = |err| ProcessError::database("recording the price as applied", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        lease
            .hold(&mut tx)
            .await
            .map_err(|err| ProcessError::lease("recording the price as applied", err))?;
        if !mark_applied(&mut tx, change, adopted).await.map_err(db)? {
            return Err(retry_later(
                format!("price change {}", change.id),
                "it changed while it was being applied",
            ));
        }
        tx.commit().await.map_err(db)
    }

    /// The channel refused the change for good: `refused` with the reason, and a task
    /// for a person (once), in one transaction holding the lease.
    async fn refuse(
        &self,
        channel: PriceChannel,
        change: &ChangeRow,
        reason: &str,
        lease: &Lease<String>,
    ) -> Result<ApplyOutcome, ProcessError> {
        let db = |err| ProcessError::database("recording the refused price change", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        lease
            .hold(&mut tx)
            .await
            .map_err(|err| ProcessError::lease("recording the refused price change", err))?;
        let task_id = mark_refused(&mut tx, channel, change, reason)
            .await
            .map_err(db)?
            .ok_or_else(|| {
                retry_later(
                    format!("price change {}", change.id),
                    "it changed while its refusal was being recorded",
                )
            })?;
        tx.commit().await.map_err(db)?;
        tracing::warn!(price_change_id = %change.id, channel = channel.as_str(), reason,
            "the channel refused the price change; a person has the task");
        Ok(ApplyOutcome::Refused {
            reason: reason.to_owned(),
            task_id,
        })
    }

    /// Queues again, through the outbox, up to `limit` changes still
    /// `stored` or `sending` that nothing has touched for `after` (oldest first): their
    /// messages ran out of deliveries, say while a channel was down for longer than the
    /// queue retries. The message is the one the evaluation wrote, from the same
    /// decision, and is handled as a redelivery is: a change overtaken by a later decision
    /// is superseded, and a `sending` one is reconciled with the channel before any second
    /// request. At most one message per change per `after` (its deduplication id names
    /// the period). Returns how many were queued.
    pub async fn requeue_stalled(&self, limit: i64, after: Duration) -> Result<u64, ProcessError> {
        let db = |err| ProcessError::database("queueing stalled price changes again", err);
        let stalled = sqlx::query!(
            r#"select d.id, d.listing_id, l.channel as "channel!", d.suggested_price,
                   d.currency as "currency!", d.old_price
             from pricing.price_changes c
             join pricing.price_decisions d on d.id = c.id
             join catalog.shop_sku_map l on l.id = d.listing_id
             where c.send_state in ('stored', 'sending')
               and c.updated_at <= now() - $2 * interval '1 second'
             order by c.updated_at
             limit $1"#,
            limit,
            after.as_secs_f64(),
        )
        .fetch_all(self.pool)
        .await
        .map_err(db)?;
        let period = Utc::now().timestamp() / i64::try_from(after.as_secs().max(1)).unwrap_or(1);
        let messages: Vec<(String, serde_json::Value)> = stalled
            .into_iter()
            .map(|row| {
                let message = ApplyPriceChange {
                    price_change_id: row.id,
                    listing_id: row.listing_id,
                    channel: row.channel,
                    price: row.suggested_price,
                    currency: row.currency.trim().to_owned(),
                    old_price: row.old_price,
                };
                (
                    format!("{}:again:{period}", message.dedup_id()),
                    message.to_json(),
                )
            })
            .collect();
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let queued = enqueue_many(&mut conn, WorkQueue::Pricing, &messages)
            .await
            .map_err(db)?;
        if queued > 0 {
            tracing::warn!(
                queued,
                "price changes left unsettled after their messages ran out are queued again"
            );
        }
        Ok(queued)
    }

    /// Confirms up to `limit` accepted changes, oldest first, that have waited at least
    /// `min_age` (Mirakl asks for an import's status no more than once a minute): a
    /// Best Buy import's status (OF02), an Amazon listing's offers. Each change is
    /// settled in a statement of its own, so a failure leaves the others' results. No
    /// confirmation starts once less than [`CONFIRM_TIME`] is left before `deadline`.
    pub async fn confirm_accepted(
        &self,
        limit: i64,
        min_age: Duration,
        deadline: Option<Instant>,
    ) -> Result<ConfirmTally, ProcessError> {
        let rows = sqlx::query_as!(
            ChangeRow,
            r#"select id, listing_id, channel as "channel!", shop_sku, currency as "currency!",
                   old_price, new_price, send_state, send_attempted_at, channel_reference,
                   true as "newest!"
             from pricing.price_changes
             where send_state = 'accepted' and updated_at <= now() - $2 * interval '1 second'
             order by updated_at
             limit $1"#,
            limit,
            min_age.as_secs_f64(),
        )
        .fetch_all(self.pool)
        .await
        .map_err(|err| ProcessError::database("reading the accepted price changes", err))?;
        let mut tally = ConfirmTally::default();
        for change in rows {
            if deadline.is_some_and(|deadline| {
                deadline.saturating_duration_since(Instant::now()) < CONFIRM_TIME
            }) {
                tracing::info!(
                    "short of time; the other accepted price changes are confirmed next time"
                );
                break;
            }
            match self.confirm(&change).await {
                Ok(Confirmation::Applied) => tally.applied += 1,
                Ok(Confirmation::Refused(_)) => tally.refused += 1,
                Ok(Confirmation::Pending) => tally.pending += 1,
                Err(err) => {
                    tracing::warn!(price_change_id = %change.id, error = %crate::ops::errors::error_chain(&err),
                        "could not confirm the price change; it is looked at again next time");
                    tally.failed += 1;
                }
            }
        }
        Ok(tally)
    }

    async fn confirm(&self, change: &ChangeRow) -> Result<Confirmation, ProcessError> {
        let channel = PriceChannel::parse(&change.channel).ok_or_else(|| {
            ProcessError::permanent(format!("price change {} has no channel", change.id))
        })?;
        let reference = change.channel_reference.clone().unwrap_or_default();
        let confirmation = match channel {
            PriceChannel::BestBuy => {
                let import_id: i64 = reference.parse().map_err(|_| {
                    ProcessError::permanent(format!(
                        "price change {}: Mirakl import id {reference:?} is not a number",
                        change.id
                    ))
                })?;
                let import = import_status(self.mirakl()?, import_id, self.retry)
                    .await
                    .map_err(|err| {
                        ChannelError::Mirakl(err)
                            .into_process("reading a Best Buy offer import (OF02)")
                    })?;
                plan::best_buy_import(
                    &import.status,
                    import.lines_in_error,
                    import.reason_status.as_deref(),
                )
            }
            PriceChannel::Amazon => {
                let item = get_listings_item(self.amazon()?, &change.shop_sku, self.retry)
                    .await
                    .map_err(|err| {
                        ChannelError::Amazon(err).into_process("reading an Amazon listing back")
                    })?;
                let marketplace = self.amazon()?.marketplace_id();
                let shown = item
                    .as_ref()
                    .and_then(|item| item.our_price(marketplace))
                    .is_some_and(|money| same_price(money.amount, change.new_price));
                let waited = change
                    .send_attempted_at
                    .map_or(TimeDelta::MAX, |at| Utc::now() - at);
                let limit = TimeDelta::from_std(AMAZON_CONFIRM_WITHIN).unwrap_or(TimeDelta::MAX);
                match (shown, waited >= limit) {
                    (true, _) => Confirmation::Applied,
                    (false, false) => Confirmation::Pending,
                    (false, true) => Confirmation::Refused(format!(
                        "Amazon accepted submission {reference} but the listing does not show \
                         {} after {} minutes",
                        change.new_price,
                        AMAZON_CONFIRM_WITHIN.as_secs() / 60
                    )),
                }
            }
        };
        let db = |err| ProcessError::database("recording the confirmation", err);
        match &confirmation {
            Confirmation::Pending => {}
            Confirmation::Applied => {
                let mut tx = self.pool.begin().await.map_err(db)?;
                mark_applied(&mut tx, change, false).await.map_err(db)?;
                tx.commit().await.map_err(db)?;
            }
            Confirmation::Refused(reason) => {
                let mut tx = self.pool.begin().await.map_err(db)?;
                mark_refused(&mut tx, channel, change, reason)
                    .await
                    .map_err(db)?;
                tx.commit().await.map_err(db)?;
            }
        }
        Ok(confirmation)
    }
}

/// Why reading the channel did not give an offer.
enum ReadError {
    /// Not the channel's doing (the client is not configured).
    Process(ProcessError),
    Channel(ChannelError),
}

/// Marks `change` applied if it is still in the state it was read in, and moves the
/// listing's current price, history and audit log to the new price. False when the
/// change was no longer in that state.
async fn mark_applied(
    tx: &mut PgConnection,
    change: &ChangeRow,
    adopted: bool,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query!(
        "update pricing.price_changes
         set send_state = 'applied', applied_at = now(), adopted = $3
         where id = $1 and send_state = $2",
        change.id,
        change.send_state,
        adopted,
    )
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query!(
        "update pricing.current_prices set price = $2, updated_at = now()
         where listing_id = $1 and price <> $2",
        change.listing_id,
        change.new_price,
    )
    .execute(&mut *tx)
    .await?;
    // The channel's price as observed, beside the decided prices the evaluation writes.
    let source = match change.channel.as_str() {
        "amazon" => "sp_api",
        _ => "mirakl",
    };
    sqlx::query!(
        "insert into pricing.price_history
             (listing_id, observed_at, price, currency, source, decision_id)
         values ($1, now(), $2, $3::text, $4, $5)
         on conflict on constraint price_history_pkey do nothing",
        change.listing_id,
        change.new_price,
        change.currency,
        source,
        change.id,
    )
    .execute(&mut *tx)
    .await?;
    let changes = serde_json::json!({
        "price": {"old": change.old_price, "new": change.new_price},
        "channel": change.channel,
        "adopted": adopted,
    });
    sqlx::query!(
        "insert into ops.audit_log (entity_type, entity_id, action, changes, source, source_id, actor)
         values ('listing_price', $1, 'update', $2, $3, $4, $5)",
        change.listing_id.to_string(),
        changes,
        APPLY_PROCESS,
        change.id.to_string(),
        ACTOR,
    )
    .execute(&mut *tx)
    .await?;
    Ok(true)
}

/// Marks `change` refused with `reason` if it is still in the state it was read in,
/// and gives a person the task (once per change). `None` when the change was no longer
/// in that state.
async fn mark_refused(
    tx: &mut PgConnection,
    channel: PriceChannel,
    change: &ChangeRow,
    reason: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    let updated = sqlx::query!(
        "update pricing.price_changes set send_state = 'refused', refusal_reason = $3
         where id = $1 and send_state = $2",
        change.id,
        change.send_state,
        reason,
    )
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Ok(None);
    }
    let title = refusal_title(
        channel,
        &change.shop_sku,
        change.old_price,
        change.new_price,
    );
    let description = format!(
        "{reason}. The price on {} is unchanged; correct the offer or the price rule, then \
         set the price there or let the next evaluation propose it again.",
        channel.label()
    );
    let task_id = sqlx::query_scalar!(
        "insert into workflow.tasks (title, description, task_type, created_by, price_change_id)
         values ($1, $2, 'pricing', 'system', $3)
         on conflict on constraint tasks_price_change_id_key do update set updated_at = now()
         returning id",
        title,
        description,
        change.id,
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "insert into workflow.task_listings (task_id, listing_id) values ($1, $2)
         on conflict do nothing",
        task_id,
        change.listing_id,
    )
    .execute(&mut *tx)
    .await?;
    Ok(Some(task_id))
}
