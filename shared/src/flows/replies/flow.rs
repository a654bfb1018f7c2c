//! The reply flow: one customer message decided once, answered at most once, in a Best
//! Buy thread (Mirakl) or a Freshdesk ticket.
//!
//! ```text
//! reply-queue message ─> the customer's message (M10 + recording when not recorded)
//!   ─claim `reply:<message id>`─> decision recorded (classify, guards) ─┬─ hand over: task
//!                                                                     └─ reply stored ─> sent
//! ```
//!
//! The channel changes only the two calls at the edge: a reply is sent with Mirakl's
//! M12 or Freshdesk's ticket reply, and read back with M10 or the ticket's
//! conversations. Everything else (classifier, guards, decision, lease, the send
//! states) is one path for both.
//!
//! - **One decision per message.** `support.reply_decisions` is unique on the message
//!   and written once, in one transaction with what it decided: the task of a hand-over
//!   (unique on the message too), or the reply stored as an `auto_reply` message
//!   (`external_id` null, `send_state = 'stored'`). A redelivered message finds the
//!   decision and carries it out; it never decides again.
//! - **One attempt at a time per message**: a lease in `ops.idempotency_keys`
//!   (`reply:<message uuid>`), completed when the message is settled, as the label flow
//!   does. Every write of an attempt holds the lease, so one overtaken writes nothing.
//! - **One decision at a time per thread**: deciding locks the conversation row, so two
//!   messages of one thread delivered together are decided one after the other, the
//!   second seeing the first's reply (cooling-off).
//! - **Sending is not idempotent** (neither M12 nor Freshdesk's reply takes a key).
//!   Before each request the reply is marked `sending` and committed. A request that
//!   provably never left puts it back to `stored`, and the next delivery sends it. An
//!   ambiguous outcome (timeout, 5xx, unreadable answer) leaves it `sending`: the next
//!   attempt first reads the thread back and adopts a shop message with the same words
//!   dated after the attempt, and sends again only when there is none. A crash after
//!   the channel answered is settled the same way. A ticket too long to read back
//!   whole ([`READ_BACK_PAGES`]) is never sent to again: the message fails for a person.
//!   A reply the channel refuses (a 4xx) stays stored, unsent, and the message becomes
//!   a task.
//! - **Modes.** `off`: acknowledged with a log line, nothing recorded. `shadow`: decided
//!   and recorded with the reply that would have been sent, nothing sent, every message
//!   handed over. `on`: replies sent, the rest handed over.
//! - A hand-over leaves the conversation unread; a reply sent marks it read unless the
//!   customer wrote again since.
//!
//! Message bodies are personal data: no log line here carries one, only ids, intents
//! and guard names.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::classifier::{Classification, Classifier, Intent};
use super::facts::{self, Inbound};
use super::guards::{self, Guard, Limits, Verdict};
use super::message::ReplyMessage;
use super::templates::ReplyTemplates;
use crate::flows::recording::mirakl::record_mirakl_thread;
use crate::model::channel::Channel;
use crate::model::conversation::{ConversationStatus, SenderType};
use crate::ops::config::{AutoReplyMode, AutoReplySettings};
use crate::ops::errors::{BoxError, ProcessError};
use crate::ops::idempotency::{self, Claim, KeyPolicy};
use crate::ops::lease::Lease;
use crate::ops::retry::RetryPolicy;
use crate::systems::freshdesk::client::MAX_PER_PAGE;
use crate::systems::freshdesk::{text_html, FreshdeskClient};
use crate::systems::http::SendEffect;
use crate::systems::mirakl::threads::{get_thread, reply_to_thread, Recipient};
use crate::systems::mirakl::MiraklClient;

/// `ops.process_failures.process_name` and the lease scope of the reply flow.
pub const REPLY_PROCESS: &str = "conversation-auto-reply";

/// How long one attempt holds a message: longer than the function's timeout, so a live
/// attempt is never overtaken, and shorter than the reply queue's visibility timeout,
/// so a message delivered again after a crash finds the lease run out. The time budget
/// ([`crate::ops::time_budget::conversation_auto_reply`]) checks both against the
/// template.
pub const REPLY_LEASE: Duration = Duration::from_secs(120);

/// How the flow retries its channel calls within an invocation: not at all. A message
/// that could not be settled goes back to its queue and resumes where it stopped.
pub const RETRY: RetryPolicy = RetryPolicy::ONCE;

/// How many pages of a ticket's conversations (100 entries each) are read back after a
/// reply in doubt: the time budget counts them
/// ([`crate::ops::time_budget::conversation_auto_reply`]).
pub const READ_BACK_PAGES: u32 = 2;

/// How long before an attempt's recorded start a shop message found in the thread may
/// be dated and still be that attempt's: the channel's clock and ours differ.
const ADOPT_BEFORE_ATTEMPT: TimeDelta = TimeDelta::minutes(2);

/// What handling a reply-queue message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// `AUTO_REPLY_MODE=off`: acknowledged, nothing recorded.
    Off,
    /// The reply is in the thread (`adopted`: found there after an ambiguous send).
    Replied {
        /// The `auto_reply` message.
        reply_message_id: Uuid,
        adopted: bool,
    },
    /// Shadow mode: decided and recorded, nothing sent, handed over.
    Shadow {
        /// Every guard held: the reply recorded would have been sent.
        would_reply: bool,
        /// The guard that stopped it otherwise.
        guard: Option<Guard>,
        task_id: Option<Uuid>,
    },
    /// A person answers: the task says what the customer wants.
    HandedOver { guard: Guard, task_id: Option<Uuid> },
    /// Settled by an earlier delivery: nothing was done.
    AlreadyDone,
}

impl ReplyOutcome {
    /// A short name for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Replied { .. } => "replied",
            Self::Shadow { .. } => "shadow",
            Self::HandedOver { .. } => "handed_over",
            Self::AlreadyDone => "already_done",
        }
    }
}

/// The reply flow, built once per Lambda instance.
#[derive(Debug, Clone)]
pub struct AutoReply<'a> {
    settings: &'a AutoReplySettings,
    pool: &'a PgPool,
    mirakl: &'a MiraklClient,
    /// None when no Freshdesk API key is configured: a ticket's message then fails.
    freshdesk: Option<&'a FreshdeskClient>,
    templates: &'a ReplyTemplates,
    retry: RetryPolicy,
}

/// A recorded decision, as carried out.
#[derive(Debug, Clone)]
struct DecisionRow {
    mode: String,
    replied: bool,
    guard: Option<String>,
    reply_message_id: Option<Uuid>,
    task_id: Option<Uuid>,
}

/// The reply as stored.
#[derive(Debug, Clone)]
struct StoredReply {
    body: String,
    send_state: Option<String>,
    send_attempted_at: Option<DateTime<Utc>>,
    recipients: Option<serde_json::Value>,
}

/// One of the shop's messages in the thread as the channel has it now.
struct ShopMessage {
    /// Its id there (Mirakl's message id, Freshdesk's conversation id).
    id: String,
    text: String,
    at: DateTime<Utc>,
}

/// A send that did not succeed, and what it may have done.
struct SendFailure {
    effect: SendEffect,
    /// The channel's error, as a sentence (no words of the reply are in it).
    detail: String,
    /// The message's failure: an unknown outcome retryable (it is read back first), a
    /// refusal permanent, the rest as the channel's error says.
    error: ProcessError,
}

impl SendFailure {
    fn new<E>(err: E, effect: SendEffect) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
        ProcessError: From<E>,
    {
        let detail = err.to_string();
        let error = match effect {
            SendEffect::Ambiguous => ProcessError::retryable(
                format!(
                    "{detail}: whether the reply was sent is unknown; the thread is read back \
                     before sending it again"
                ),
                BoxError::from(err),
            ),
            SendEffect::NeverLeft | SendEffect::Refused => ProcessError::from(err),
        };
        Self {
            effect,
            detail,
            error,
        }
    }
}

#[derive(Debug, Deserialize)]
struct StoredRecipient {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
}

fn retry_later(context: impl Into<String>, why: &str) -> ProcessError {
    ProcessError::retryable(context, Reason(why.to_owned()))
}

/// A cause with no deeper source.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Reason(String);

impl<'a> AutoReply<'a> {
    /// The flow with the bundled classifier rules and reply templates.
    pub fn new(
        settings: &'a AutoReplySettings,
        pool: &'a PgPool,
        mirakl: &'a MiraklClient,
    ) -> Self {
        Self {
            settings,
            pool,
            mirakl,
            freshdesk: None,
            templates: ReplyTemplates::bundled(),
            retry: RETRY,
        }
    }

    /// The same flow answering Freshdesk tickets through `client` too.
    pub fn with_freshdesk(mut self, client: &'a FreshdeskClient) -> Self {
        self.freshdesk = Some(client);
        self
    }

    /// The same flow retrying its channel calls as `retry` allows (tests).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Handles one reply-queue message.
    pub async fn handle(&self, message: &ReplyMessage) -> Result<ReplyOutcome, ProcessError> {
        if self.settings.mode == AutoReplyMode::Off {
            tracing::info!(
                message_id = %message.message_id,
                conversation_id = %message.conversation_id,
                "automatic replies are off: the message is left to a person"
            );
            return Ok(ReplyOutcome::Off);
        }
        let inbound = self.inbound(message).await?;
        let key = format!("reply:{}", inbound.id);
        let claim = idempotency::claim(
            self.pool,
            REPLY_PROCESS,
            &key,
            KeyPolicy::leased_for(REPLY_LEASE),
        )
        .await
        .map_err(|err| ProcessError::database("claiming the customer's message", err))?;
        let lease = match claim {
            Claim::AlreadyCompleted(_) => return Ok(ReplyOutcome::AlreadyDone),
            Claim::HeldElsewhere => {
                return Err(retry_later(
                    format!("message {}", inbound.id),
                    "another attempt is working on it",
                ))
            }
            Claim::Acquired(lease) => lease,
        };
        match self.run(&inbound, &lease).await {
            Ok(outcome) => {
                idempotency::complete(self.pool, &lease, None)
                    .await
                    .map_err(|err| ProcessError::lease("completing the reply lease", err))?;
                tracing::info!(
                    message_id = %inbound.id,
                    conversation_id = %inbound.conversation_id,
                    outcome = outcome.as_str(),
                    "customer message settled"
                );
                Ok(outcome)
            }
            Err(err) => {
                if let Err(release) = lease.release(self.pool).await {
                    tracing::warn!(error = %release, "could not release the reply lease");
                }
                Err(err)
            }
        }
    }

    /// The customer's message the queue message names, checked against it. A Best Buy
    /// message not recorded yet is read with its thread from Mirakl (M10) and recorded
    /// the way the poller records threads; if its id is still unknown, the thread's
    /// latest customer message is the one answered. A ticket's messages are queued only
    /// once recorded, so one not found is a failure.
    async fn inbound(&self, message: &ReplyMessage) -> Result<Inbound, ProcessError> {
        let db = |err| ProcessError::database("reading the customer's message", err);
        if let Some(found) = facts::inbound(self.pool, message.message_id)
            .await
            .map_err(db)?
        {
            return checked(message, found);
        }
        if facts::conversation_channel(self.pool, message.conversation_id)
            .await
            .map_err(db)?
            == Some(Channel::Freshdesk)
        {
            return Err(ProcessError::permanent(format!(
                "message {} of Freshdesk ticket {} is not recorded",
                message.message_id, message.thread_id
            )));
        }
        let thread = get_thread(self.mirakl, &message.thread_id, self.retry)
            .await
            .map_err(ProcessError::from)?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let recorded = record_mirakl_thread(&mut tx, &thread)
            .await
            .map_err(|err| ProcessError::database("recording the thread read from Mirakl", err))?;
        tx.commit().await.map_err(db)?;
        tracing::info!(
            thread_id = %message.thread_id,
            conversation_id = %recorded.conversation_id,
            new_messages = recorded.new_messages,
            "thread read from Mirakl (M10) and recorded"
        );
        if let Some(found) = facts::inbound(self.pool, message.message_id)
            .await
            .map_err(db)?
        {
            return checked(message, found);
        }
        facts::latest_customer_message(self.pool, &message.thread_id)
            .await
            .map_err(db)?
            .ok_or_else(|| {
                ProcessError::permanent(format!(
                    "thread {} has no customer message to answer",
                    message.thread_id
                ))
            })
    }

    async fn run(
        &self,
        inbound: &Inbound,
        lease: &Lease<String>,
    ) -> Result<ReplyOutcome, ProcessError> {
        let decision = match self.decision(inbound.id).await? {
            Some(decision) => decision,
            None => self.decide(inbound, lease).await?,
        };
        let guard = decision.guard.as_deref().and_then(Guard::named);
        if decision.mode == AutoReplyMode::Shadow.as_str() {
            return Ok(ReplyOutcome::Shadow {
                would_reply: decision.replied,
                guard,
                task_id: decision.task_id,
            });
        }
        match (decision.replied, decision.reply_message_id, guard) {
            (true, Some(reply_id), _) => self.deliver(inbound, reply_id, lease).await,
            (false, _, Some(guard)) => Ok(ReplyOutcome::HandedOver {
                guard,
                task_id: decision.task_id,
            }),
            _ => Err(ProcessError::permanent(format!(
                "the decision on message {} is incomplete (replied without its reply, or \
                 handed over without a guard)",
                inbound.id
            ))),
        }
    }

    async fn decision(&self, message_id: Uuid) -> Result<Option<DecisionRow>, ProcessError> {
        sqlx::query_as!(
            DecisionRow,
            "select mode, replied, guard, reply_message_id, task_id
             from support.reply_decisions where message_id = $1",
            message_id,
        )
        .fetch_optional(self.pool)
        .await
        .map_err(|err| ProcessError::database("reading the decision", err))
    }

    /// Classifies the message, applies the guards and records the decision with what it
    /// decided, in one transaction holding the lease and the conversation.
    async fn decide(
        &self,
        inbound: &Inbound,
        lease: &Lease<String>,
    ) -> Result<DecisionRow, ProcessError> {
        let db = |err| ProcessError::database("recording the decision", err);
        let mode = self.settings.mode;
        let classification = Classifier::bundled().classify(&inbound.body);

        let mut tx = self.pool.begin().await.map_err(db)?;
        lease
            .hold(&mut tx)
            .await
            .map_err(|err| ProcessError::lease("deciding the customer's message", err))?;
        let conversation = facts::lock_conversation(&mut tx, inbound)
            .await
            .map_err(db)?;
        let thread = facts::thread_facts(&mut tx, &conversation, inbound, mode)
            .await
            .map_err(db)?;
        let candidates = facts::order_candidates(
            &mut tx,
            &conversation,
            classification.entities.order_id.as_deref(),
        )
        .await
        .map_err(db)?;
        let now = sqlx::query_scalar!(r#"select now() as "now!""#)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        let limits = Limits {
            cooling_off: self.settings.cooling_off,
            max_replies_per_thread: self.settings.max_replies_per_thread,
        };
        let verdict = guards::decide(
            &classification,
            &thread,
            &candidates,
            self.templates,
            limits,
            now,
        );

        let (replied, guard, why, order_id) = match &verdict {
            Verdict::Reply {
                reason, order_id, ..
            } => (true, None, reason.as_str(), Some(*order_id)),
            Verdict::HandOver {
                guard,
                order_id,
                reason,
            } => (false, Some(*guard), reason.as_str(), *order_id),
        };
        let reason = format!("{}; {why}", classification.reason.trim());
        let order_label = order_id
            .and_then(|id| {
                candidates
                    .thread_order
                    .iter()
                    .chain(&candidates.customer_orders)
                    .find(|order| order.id == id)
                    .map(|order| order.external_id.clone())
            })
            .or_else(|| classification.entities.order_id.clone())
            .or_else(|| conversation.thread_order_id.clone());

        let mut reply_message_id = None;
        let mut reply_body = None;
        let mut task_id = None;
        match (&verdict, mode) {
            (Verdict::Reply { body, customer, .. }, AutoReplyMode::On) => {
                // Whom it goes to, as the channel names them: Mirakl's M12 addresses
                // them, Freshdesk's reply goes to the ticket's requester.
                let to = match inbound.channel {
                    Channel::Freshdesk => serde_json::json!({"type": "REQUESTER", "id": customer}),
                    _ => serde_json::json!(Recipient::customer(customer)),
                };
                let recipients = serde_json::json!({ "to": [to] });
                reply_message_id = Some(
                    sqlx::query_scalar!(
                        "insert into support.messages
                             (conversation_id, channel, sender_type, message_type, body, sent_at,
                              in_reply_to_message_id, send_state, raw_payload)
                         values ($1, $6::text::sales.channel, $2, 'auto_reply', $3, now(), $4,
                                 'stored', $5)
                         returning id",
                        inbound.conversation_id,
                        SenderType::Assistant as SenderType,
                        body,
                        inbound.id,
                        recipients,
                        inbound.channel.as_str(),
                    )
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?,
                );
            }
            _ => {
                if let (Verdict::Reply { body, .. }, AutoReplyMode::Shadow) = (&verdict, mode) {
                    reply_body = Some(body.clone());
                }
                let title = self
                    .templates
                    .hand_over_title(classification.intent, order_label.as_deref());
                let description = task_description(&classification, mode, guard, &reason);
                task_id = Some(
                    sqlx::query_scalar!(
                        "insert into workflow.tasks
                             (title, description, task_type, created_by, order_id,
                              conversation_id, message_id)
                         values ($1, $2, 'customer_message', 'system', $3, $4, $5)
                         on conflict on constraint tasks_message_id_key
                             do update set updated_at = now()
                         returning id",
                        title,
                        description,
                        order_id,
                        inbound.conversation_id,
                        inbound.id,
                    )
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?,
                );
                sqlx::query!(
                    "update support.conversations set status = $2 where id = $1 and status <> $2",
                    inbound.conversation_id,
                    ConversationStatus::Unread as ConversationStatus,
                )
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
        }
        let entities = serde_json::to_value(&classification.entities)
            .unwrap_or_else(|_| serde_json::json!({}));
        let confidence = rust_decimal::Decimal::from_f32_retain(classification.confidence)
            .unwrap_or_default()
            .round_dp(3)
            .clamp(rust_decimal::Decimal::ZERO, rust_decimal::Decimal::ONE);
        let inserted = sqlx::query!(
            "insert into support.reply_decisions
                 (message_id, conversation_id, mode, language, intent, entities, confidence,
                  replied, guard, reason, reply_body, reply_message_id, task_id, decided_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
             on conflict on constraint reply_decisions_message_id_key do nothing",
            inbound.id,
            inbound.conversation_id,
            mode.as_str(),
            classification.language.as_str(),
            classification.intent.as_str(),
            entities,
            confidence,
            replied,
            guard.map(Guard::as_str),
            reason,
            reply_body,
            reply_message_id,
            task_id,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if inserted.rows_affected() == 0 {
            // Decided by an attempt that held the message before this one: its
            // decision stands, this one is dropped with its transaction.
            drop(tx);
            return self.decision(inbound.id).await?.ok_or_else(|| {
                retry_later(
                    format!("message {}", inbound.id),
                    "its decision changed while it was being recorded",
                )
            });
        }
        sqlx::query!(
            "update support.messages set intent = $2 where id = $1",
            inbound.id,
            classification.intent.as_str(),
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        tracing::info!(
            message_id = %inbound.id,
            mode = mode.as_str(),
            language = classification.language.as_str(),
            intent = classification.intent.as_str(),
            confidence = classification.confidence,
            replied,
            guard = guard.map(Guard::as_str),
            "customer message decided"
        );
        Ok(DecisionRow {
            mode: mode.as_str().to_owned(),
            replied,
            guard: guard.map(|guard| guard.as_str().to_owned()),
            reply_message_id,
            task_id,
        })
    }

    /// Gets the stored reply into the thread exactly once: sent, or found there after an
    /// ambiguous attempt, or sent again only when the thread shows it is not there.
    async fn deliver(
        &self,
        inbound: &Inbound,
        reply_id: Uuid,
        lease: &Lease<String>,
    ) -> Result<ReplyOutcome, ProcessError> {
        let db = |err| ProcessError::database("reading the stored reply", err);
        let reply = sqlx::query_as!(
            StoredReply,
            r#"select body, send_state, send_attempted_at, raw_payload -> 'to' as recipients
             from support.messages where id = $1"#,
            reply_id,
        )
        .fetch_one(self.pool)
        .await
        .map_err(db)?;
        let mut adopted = false;
        match reply.send_state.as_deref() {
            Some("sent") => {}
            Some("sending") => {
                let attempted_at = reply.send_attempted_at.unwrap_or_else(Utc::now);
                let shop_messages = self.shop_messages(inbound).await.map_err(|err| {
                    let context = format!(
                        "reading {} {} back before sending its reply again",
                        thread_noun(inbound.channel),
                        inbound.thread_id
                    );
                    match err {
                        ProcessError::Permanent { reason, .. } => {
                            ProcessError::permanent(format!("{context}: {reason}"))
                        }
                        retryable => retryable,
                    }
                })?;
                match self
                    .find_in_thread(inbound, &shop_messages, &reply.body, attempted_at)
                    .await?
                {
                    Some(found) => {
                        self.record_sent(inbound, reply_id, &found, lease).await?;
                        adopted = true;
                        tracing::info!(message_id = %inbound.id, reply_id = %reply_id,
                            "the reply whose sending was ambiguous is in the thread; adopted, not sent again");
                    }
                    None => {
                        tracing::info!(message_id = %inbound.id, reply_id = %reply_id,
                            "the reply whose sending was ambiguous is not in the thread; sending it again");
                        self.send(inbound, reply_id, &reply, lease).await?;
                    }
                }
            }
            Some("stored") => self.send(inbound, reply_id, &reply, lease).await?,
            other => {
                return Err(ProcessError::permanent(format!(
                    "reply {reply_id} is in send state {other:?}, which the flow does not know"
                )))
            }
        }
        self.mark_read(inbound).await?;
        Ok(ReplyOutcome::Replied {
            reply_message_id: reply_id,
            adopted,
        })
    }

    /// One attempt: marked `sending` (committed) before the request, `sent` after.
    async fn send(
        &self,
        inbound: &Inbound,
        reply_id: Uuid,
        reply: &StoredReply,
        lease: &Lease<String>,
    ) -> Result<(), ProcessError> {
        let db = |err| ProcessError::database("marking the reply as being sent", err);
        let to = match inbound.channel {
            // Freshdesk's reply goes to the ticket's requester.
            Channel::Freshdesk => Vec::new(),
            _ => {
                let recipients: Vec<StoredRecipient> = reply
                    .recipients
                    .clone()
                    .and_then(|value| serde_json::from_value(value).ok())
                    .unwrap_or_default();
                let to: Vec<Recipient> = recipients
                    .into_iter()
                    .filter(|recipient| recipient.kind == "CUSTOMER")
                    .filter_map(|recipient| recipient.id.as_deref().map(Recipient::customer))
                    .collect();
                if to.is_empty() {
                    return Err(ProcessError::permanent(format!(
                        "reply {reply_id} names no customer to send it to"
                    )));
                }
                to
            }
        };

        let mut tx = self.pool.begin().await.map_err(db)?;
        lease
            .hold(&mut tx)
            .await
            .map_err(|err| ProcessError::lease("sending the reply", err))?;
        let attempt = sqlx::query_scalar!(
            r#"update support.messages set send_state = 'sending', send_attempted_at = now()
             where id = $1 and send_state = $2
               and send_attempted_at is not distinct from $3
             returning send_attempted_at as "attempted_at!""#,
            reply_id,
            reply.send_state.as_deref(),
            reply.send_attempted_at,
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(attempted_at) = attempt else {
            return Err(retry_later(
                format!("reply {reply_id}"),
                "it changed while it was being sent",
            ));
        };
        tx.commit().await.map_err(db)?;

        match self.post_reply(inbound, &reply.body, &to).await {
            Ok(sent_id) => {
                self.record_sent(inbound, reply_id, &sent_id, lease).await?;
                tracing::info!(message_id = %inbound.id, reply_id = %reply_id,
                    channel = inbound.channel.as_str(), channel_message_id = %sent_id,
                    "reply sent");
                Ok(())
            }
            Err(failure) => match failure.effect {
                effect @ (SendEffect::NeverLeft | SendEffect::Refused) => {
                    // Nothing reached the thread: the reply waits, stored, for the next
                    // attempt; refused, a person answers instead.
                    sqlx::query!(
                        "update support.messages set send_state = 'stored'
                         where id = $1 and send_state = 'sending' and send_attempted_at = $2",
                        reply_id,
                        attempted_at,
                    )
                    .execute(self.pool)
                    .await
                    .map_err(|err| ProcessError::database("withdrawing the send attempt", err))?;
                    tracing::warn!(message_id = %inbound.id, reply_id = %reply_id,
                        error = %failure.detail, "the reply was not sent (the channel did no work)");
                    if effect == SendEffect::Refused {
                        self.hand_over_refused(inbound, &failure.detail).await?;
                    }
                    Err(failure.error)
                }
                SendEffect::Ambiguous => {
                    tracing::warn!(message_id = %inbound.id, reply_id = %reply_id,
                        error = %failure.detail,
                        "the reply may have been sent; the thread is read back before any second attempt");
                    Err(failure.error)
                }
            },
        }
    }

    /// The Freshdesk client, when the message is on a ticket.
    fn freshdesk_for(&self, inbound: &Inbound) -> Result<&'a FreshdeskClient, ProcessError> {
        self.freshdesk.ok_or_else(|| {
            ProcessError::permanent(format!(
                "message {} is on Freshdesk ticket {}, and no Freshdesk API key is configured \
                 (FRESHDESK_API_KEY)",
                inbound.id, inbound.thread_id
            ))
        })
    }

    /// Sends `body` into the thread, returning the channel's id of the new message:
    /// Mirakl's M12 to `to`, or Freshdesk's public reply to the ticket (as HTML).
    async fn post_reply(
        &self,
        inbound: &Inbound,
        body: &str,
        to: &[Recipient],
    ) -> Result<String, SendFailure> {
        match inbound.channel {
            Channel::Freshdesk => {
                let client = self.freshdesk_for(inbound).map_err(|error| SendFailure {
                    effect: SendEffect::NeverLeft,
                    detail: error.to_string(),
                    error,
                })?;
                client
                    .reply(&inbound.thread_id, &text_html(body), self.retry)
                    .await
                    .map(|entry| entry.id)
                    .map_err(|err| {
                        let effect = err.send_effect();
                        SendFailure::new(err, effect)
                    })
            }
            _ => reply_to_thread(self.mirakl, &inbound.thread_id, body, to, self.retry)
                .await
                .map(|sent| sent.message_id)
                .map_err(|err| {
                    let effect = err.send_effect();
                    SendFailure::new(err, effect)
                }),
        }
    }

    /// The shop's messages in the thread as the channel has them now: Mirakl's thread
    /// (M10), or the ticket's public replies (its first [`READ_BACK_PAGES`] pages of
    /// conversations; a longer ticket, or an entry that cannot be read, cannot show
    /// that a reply is not there, and fails for a person).
    async fn shop_messages(&self, inbound: &Inbound) -> Result<Vec<ShopMessage>, ProcessError> {
        if inbound.channel != Channel::Freshdesk {
            let thread = get_thread(self.mirakl, &inbound.thread_id, self.retry).await?;
            return Ok(thread
                .value
                .messages
                .into_iter()
                .map(|message| message.value)
                .filter(|message| message.from.kind == "SHOP_USER")
                .map(|message| ShopMessage {
                    id: message.id,
                    text: message.body,
                    at: message.date_created,
                })
                .collect());
        }
        let client = self.freshdesk_for(inbound)?;
        let mut found = Vec::new();
        for page in 1..=READ_BACK_PAGES {
            let listed = client
                .conversations(&inbound.thread_id, page, MAX_PER_PAGE, self.retry)
                .await?;
            for entry in listed.conversations {
                let entry = entry.map_err(|reason| {
                    ProcessError::permanent(format!(
                        "an entry of the ticket cannot be read ({reason}), so whether the \
                         reply is there is unknown"
                    ))
                })?;
                if !entry.incoming && !entry.private {
                    found.push(ShopMessage {
                        id: entry.id,
                        text: entry.text,
                        at: entry.created_at,
                    });
                }
            }
            if !listed.full {
                return Ok(found);
            }
        }
        Err(ProcessError::permanent(format!(
            "the ticket has more than {} conversation entries, so whether the reply is \
             among them is unknown",
            READ_BACK_PAGES * MAX_PER_PAGE
        )))
    }

    /// The channel refused the reply for good: the message becomes a person's task like
    /// any other not answered automatically (once), and the reply stays stored, unsent.
    async fn hand_over_refused(&self, inbound: &Inbound, why: &str) -> Result<(), ProcessError> {
        let db = |err| ProcessError::database("handing over the refused reply", err);
        let context = sqlx::query!(
            r#"select d.intent, o.external_id as "order_id?"
             from support.reply_decisions d
             join support.conversations c on c.id = d.conversation_id
             left join sales.orders o on o.id = c.order_id
             where d.message_id = $1"#,
            inbound.id,
        )
        .fetch_one(self.pool)
        .await
        .map_err(db)?;
        let title = match Intent::from_name(&context.intent) {
            Some(intent) => self
                .templates
                .hand_over_title(intent, context.order_id.as_deref()),
            None => "Customer wrote about their order".to_owned(),
        };
        let description = format!(
            "The automatic reply was refused by {} and not sent ({why}); answer the \
             customer in the {}.",
            channel_name(inbound.channel),
            thread_noun(inbound.channel)
        );
        let mut tx = self.pool.begin().await.map_err(db)?;
        let task_id = sqlx::query_scalar!(
            "insert into workflow.tasks
                 (title, description, task_type, created_by, order_id, conversation_id,
                  message_id)
             select $1, $2, 'customer_message', 'system', c.order_id, c.id, $3
             from support.conversations c where c.id = $4
             on conflict on constraint tasks_message_id_key do update set updated_at = now()
             returning id",
            title,
            description,
            inbound.id,
            inbound.conversation_id,
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query!(
            "update support.reply_decisions set task_id = $2 where message_id = $1",
            inbound.id,
            task_id,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    /// The shop message in the thread that is this reply: same words, dated after the
    /// attempt (less clock skew), not already another reply of ours.
    async fn find_in_thread(
        &self,
        inbound: &Inbound,
        shop_messages: &[ShopMessage],
        body: &str,
        attempted_at: DateTime<Utc>,
    ) -> Result<Option<String>, ProcessError> {
        let ours = sqlx::query_scalar!(
            r#"select external_id as "external_id!" from support.messages
             where conversation_id = $1 and message_type = 'auto_reply'
               and external_id is not null"#,
            inbound.conversation_id,
        )
        .fetch_all(self.pool)
        .await
        .map_err(|err| ProcessError::database("reading the thread's replies", err))?;
        let wanted = same_text(body);
        Ok(shop_messages
            .iter()
            .filter(|message| message.at >= attempted_at - ADOPT_BEFORE_ATTEMPT)
            .filter(|message| !ours.contains(&message.id))
            .filter(|message| same_text(&message.text) == wanted)
            .min_by_key(|message| message.at)
            .map(|message| message.id.clone()))
    }

    /// Records the channel's id of the reply. A copy the poller recorded meanwhile (the
    /// same message, read as a shop message) is folded into it.
    async fn record_sent(
        &self,
        inbound: &Inbound,
        reply_id: Uuid,
        channel_id: &str,
        lease: &Lease<String>,
    ) -> Result<(), ProcessError> {
        let db = |err| ProcessError::database("recording the reply as sent", err);
        let mut tx = self.pool.begin().await.map_err(db)?;
        lease
            .hold(&mut tx)
            .await
            .map_err(|err| ProcessError::lease("recording the reply as sent", err))?;
        sqlx::query!(
            "delete from support.messages
             where channel = $4::text::sales.channel and external_id = $1 and id <> $2
               and conversation_id = $3 and message_type = 'manual'",
            channel_id,
            reply_id,
            inbound.conversation_id,
            inbound.channel.as_str(),
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let updated = sqlx::query!(
            "update support.messages
             set external_id = $2, send_state = 'sent', sent_at = now()
             where id = $1 and send_state = 'sending'",
            reply_id,
            channel_id,
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if updated.rows_affected() != 1 {
            return Err(retry_later(
                format!("reply {reply_id}"),
                "it changed while its sending was being recorded",
            ));
        }
        tx.commit().await.map_err(db)
    }

    /// The conversation is read once the reply is in it, unless the customer wrote
    /// again since the message answered.
    async fn mark_read(&self, inbound: &Inbound) -> Result<(), ProcessError> {
        sqlx::query!(
            "update support.conversations c set status = 'read'
             where c.id = $1 and c.status = 'unread'
               and not exists (
                   select 1 from support.messages m
                   where m.conversation_id = c.id and m.sender_type = 'customer'
                     and m.sent_at > $2 and m.id <> $3)",
            inbound.conversation_id,
            inbound.sent_at,
            inbound.id,
        )
        .execute(self.pool)
        .await
        .map_err(|err| ProcessError::database("marking the conversation read", err))?;
        Ok(())
    }
}

/// The message found for `message`, when it is the one the queue message describes.
fn checked(message: &ReplyMessage, found: Inbound) -> Result<Inbound, ProcessError> {
    if found.conversation_id != message.conversation_id || found.thread_id != message.thread_id {
        return Err(ProcessError::permanent(format!(
            "message {} belongs to conversation {} (thread {}), not to conversation {} \
             (thread {}) as the queue message says",
            found.id,
            found.conversation_id,
            found.thread_id,
            message.conversation_id,
            message.thread_id
        )));
    }
    if found.sender != SenderType::Customer {
        return Err(ProcessError::permanent(format!(
            "message {} was not written by the customer; only customer messages are answered",
            found.id
        )));
    }
    Ok(found)
}

/// A body as compared: its characters without any white space, whatever spacing and
/// line breaks the channel gave them (Mirakl may change line endings; the plain text
/// Freshdesk keeps of an HTML reply may join its lines or break them anew).
fn same_text(body: &str) -> String {
    body.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The channel, as a seller names it.
fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Freshdesk => "Freshdesk",
        _ => "Mirakl",
    }
}

/// What a conversation is called on the channel.
fn thread_noun(channel: Channel) -> &'static str {
    match channel {
        Channel::Freshdesk => "ticket",
        _ => "thread",
    }
}

/// The task's description: why a person has it, and how the text was read.
fn task_description(
    classification: &Classification,
    mode: AutoReplyMode,
    guard: Option<Guard>,
    reason: &str,
) -> String {
    let read_as = format!(
        "Read as {} ({}, confidence {:.2}).",
        classification.intent.as_str(),
        classification.language.as_str(),
        classification.confidence
    );
    match (mode, guard) {
        (AutoReplyMode::Shadow, None) => format!(
            "Shadow mode: every guard held and the reply was recorded, not sent. {read_as} {reason}"
        ),
        (_, Some(guard)) => format!(
            "Not answered automatically ({}). {read_as} {reason}",
            guard.as_str()
        ),
        (_, None) => format!("{read_as} {reason}"),
    }
}
