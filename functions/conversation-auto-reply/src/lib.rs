//! conversation-auto-reply: answers routine customer messages and hands the rest to a
//! person (SQS reply queue).
//!
//! Each record is a [`ReplyMessage`] (`reply:<message id>`, written by the recording
//! path); [`AutoReply`] decides it once, sends at most one reply (Mirakl M12, or
//! Freshdesk's ticket reply) and creates the task of a hand-over. Records of a batch run side by side within the
//! function's time budget; one that could not be settled goes back to the queue alone.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use sellerops::flows::replies::{AutoReply, ReplyMessage, ReplyOutcome, REPLY_PROCESS};
use sellerops::ops::config::AutoReplySettings;
use sellerops::ops::sqs_batch::{settle_batch_within, BatchPlan, BatchTally};
use sellerops::ops::telemetry::{metrics_document, Count};
use sellerops::ops::time_budget;
use sellerops::systems::freshdesk::FreshdeskClient;
use sellerops::systems::mirakl::MiraklClient;
use sqlx::PgPool;

/// The function's name, in its metrics.
const FUNCTION: &str = "conversation-auto-reply";

/// What the handler borrows, built once per instance.
pub struct ConversationAutoReply<'a> {
    /// The reply flow.
    pub auto_reply: AutoReply<'a>,
    /// Where failures given up on are recorded.
    pub pool: &'a PgPool,
    /// How a batch is worked through: from the function's time budget.
    pub batch: BatchPlan,
}

impl<'a> ConversationAutoReply<'a> {
    /// The function as its settings make it, over clients built once per instance
    /// (`freshdesk` when a helpdesk is configured).
    pub fn new(
        settings: &'a AutoReplySettings,
        pool: &'a PgPool,
        mirakl: &'a MiraklClient,
        freshdesk: Option<&'a FreshdeskClient>,
    ) -> Self {
        let auto_reply = AutoReply::new(settings, pool, mirakl);
        Self {
            auto_reply: match freshdesk {
                Some(client) => auto_reply.with_freshdesk(client),
                None => auto_reply,
            },
            pool,
            batch: time_budget::conversation_auto_reply().batch_plan(&settings.database),
        }
    }
}

/// Handles one SQS batch, reporting the records to retry, and prints the batch's
/// counts as one EMF document.
pub async fn handle(
    function: &ConversationAutoReply<'_>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let plan = function.batch.until(event.context.deadline);
    let outcomes = OutcomeTally::default();
    let outcomes_ref = &outcomes;
    let (response, tally) = settle_batch_within(
        function.pool,
        REPLY_PROCESS,
        event.payload,
        plan,
        |record| async move {
            let message = ReplyMessage::parse(record.body.as_deref())?;
            let outcome = function.auto_reply.handle(&message).await?;
            outcomes_ref.add(&outcome);
            Ok(())
        },
    )
    .await;
    println!("{}", metrics_document(FUNCTION, &outcomes.counts(&tally)));
    Ok(response)
}

/// What the messages of one batch came to, counted as they are settled (side by side).
#[derive(Debug, Default)]
pub struct OutcomeTally {
    sent: AtomicU64,
    handed_over: AtomicU64,
    shadowed: AtomicU64,
}

impl OutcomeTally {
    /// Counts one settled message.
    pub fn add(&self, outcome: &ReplyOutcome) {
        let bump = |counter: &AtomicU64| {
            counter.fetch_add(1, Ordering::Relaxed);
        };
        match outcome {
            ReplyOutcome::Replied { .. } => bump(&self.sent),
            ReplyOutcome::HandedOver { .. } => bump(&self.handed_over),
            ReplyOutcome::Shadow {
                would_reply,
                task_id,
                ..
            } => {
                if *would_reply {
                    bump(&self.shadowed);
                }
                if task_id.is_some() {
                    bump(&self.handed_over);
                }
            }
            ReplyOutcome::Off | ReplyOutcome::AlreadyDone => {}
        }
    }

    /// The batch's metrics: replies sent, messages handed to a person (shadow mode's
    /// included), replies decided but not sent in shadow mode, and from the batch's
    /// tally the messages left for redelivery and those given up on.
    pub fn counts(&self, tally: &BatchTally) -> [Count<'static>; 5] {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        [
            Count {
                name: "RepliesSent",
                value: read(&self.sent),
            },
            Count {
                name: "MessagesHandedOver",
                value: read(&self.handed_over),
            },
            Count {
                name: "RepliesShadowed",
                value: read(&self.shadowed),
            },
            Count {
                name: "MessagesRetried",
                value: tally.retried,
            },
            Count {
                name: "MessagesGivenUp",
                value: tally.gave_up,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use sellerops::flows::replies::guards::Guard;
    use uuid::Uuid;

    use super::*;

    fn value(counts: &[Count<'_>], name: &str) -> u64 {
        counts
            .iter()
            .find(|count| count.name == name)
            .map(|count| count.value)
            .unwrap_or_else(|| panic!("no count {name}"))
    }

    #[test]
    fn each_outcome_is_counted_once_where_it_belongs() {
        let tally = OutcomeTally::default();
        let replied = ReplyOutcome::Replied {
            reply_message_id: Uuid::new_v4(),
            adopted: false,
        };
        tally.add(&replied);
        tally.add(&ReplyOutcome::Replied {
            reply_message_id: Uuid::new_v4(),
            adopted: true,
        });
        tally.add(&ReplyOutcome::HandedOver {
            guard: Guard::Hazard,
            task_id: Some(Uuid::new_v4()),
        });
        tally.add(&ReplyOutcome::AlreadyDone);
        tally.add(&ReplyOutcome::Off);

        let counts = tally.counts(&BatchTally {
            succeeded: 5,
            retried: 2,
            gave_up: 1,
        });

        assert_eq!(value(&counts, "RepliesSent"), 2);
        assert_eq!(value(&counts, "MessagesHandedOver"), 1);
        assert_eq!(value(&counts, "RepliesShadowed"), 0);
        assert_eq!(value(&counts, "MessagesRetried"), 2);
        assert_eq!(value(&counts, "MessagesGivenUp"), 1);
    }

    #[test]
    fn a_shadow_decision_counts_as_shadowed_when_it_would_reply_and_handed_over_with_its_task() {
        let tally = OutcomeTally::default();
        tally.add(&ReplyOutcome::Shadow {
            would_reply: true,
            guard: None,
            task_id: Some(Uuid::new_v4()),
        });
        tally.add(&ReplyOutcome::Shadow {
            would_reply: false,
            guard: Some(Guard::NotRoutineIntent),
            task_id: Some(Uuid::new_v4()),
        });

        let counts = tally.counts(&BatchTally::default());

        assert_eq!(value(&counts, "RepliesShadowed"), 1);
        assert_eq!(value(&counts, "MessagesHandedOver"), 2);
        assert_eq!(value(&counts, "RepliesSent"), 0);
    }
}
