//! evaluate-pricing-rules: keeps every listing's price inside the seller's rules.
//!
//! Two ways in, told apart by the event's shape:
//!
//! - **The pricing queue** (SQS, partial batch failures): each record a
//!   [`PricingMessage`]. "Re-evaluate these listings" and "re-evaluate all" run an
//!   evaluation ([`evaluate_prices`]); an Amazon SP-API `ANY_OFFER_CHANGED`
//!   notification is recorded and the listings it affects evaluated
//!   ([`handle_offer_notification`]); "apply a price change" sends the decided price to
//!   its channel exactly once ([`PriceApplier`]: Mirakl's offer update for Best Buy,
//!   the Listings Items patch for Amazon).
//! - **The EventBridge schedule**: any other event first confirms the price changes the
//!   channels accepted ([`PriceApplier::confirm_accepted`]: Mirakl's import status,
//!   Amazon's listing read back), queues again the changes whose messages ran out of
//!   deliveries ([`PriceApplier::requeue_stalled`]), then runs the full evaluation
//!   (time windows opening and closing, sales ending).
//!
//! After an evaluation the automation rules run over the listings it decided
//! ([`run_automation`]); then the outbox's "apply a price change" messages are published.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use sellerops::flows::pricing::apply::{ConfirmTally, PriceApplier, STALLED_AFTER};
use sellerops::flows::pricing::automation::run_automation;
use sellerops::flows::pricing::offer_changes::handle_offer_notification;
use sellerops::flows::pricing::{
    evaluate_prices, EvaluationOptions, EvaluationReport, PricingMessage, Selection,
};
use sellerops::ops::config::{EvaluatePricingRulesSettings, QueueUrls};
use sellerops::ops::errors::{error_chain, ProcessError};
use sellerops::ops::outbox::publish_due_until;
use sellerops::ops::sqs_batch::{settle_batch_within, BatchPlan, BatchTally};
use sellerops::ops::telemetry::{metrics_document, Count};
use sellerops::ops::time_budget::{self, database_allowance};
use sellerops::systems::amazon::AmazonClient;
use sellerops::systems::mirakl::MiraklClient;
use sqlx::PgPool;

/// `ops.process_failures.process_name` of the pricing queue's messages.
pub const PRICING_PROCESS: &str = "PriceEvaluation";

/// Accepted price changes one scheduled run confirms at most; the rest wait for the
/// next run.
pub const CONFIRM_PER_RUN: i64 = 50;

/// How long an accepted price change waits before its first confirmation: Mirakl asks
/// for an import's status no more than once a minute, and both channels take a moment.
pub const CONFIRM_AFTER: Duration = Duration::from_secs(60);

/// Stalled price changes one scheduled run queues again at most; the rest wait for the
/// next run.
pub const REQUEUE_PER_RUN: i64 = 500;

/// What the handler borrows, built once per instance.
pub struct EvaluatePricingRules<'a> {
    /// Listings, rules, costs, offers, decisions.
    pub pool: &'a PgPool,
    /// For publishing the outbox.
    pub sqs: &'a aws_sdk_sqs::Client,
    /// Where the outbox publishes: the pricing queue.
    pub queues: &'a QueueUrls,
    /// How a batch is worked through: from the function's time budget.
    pub batch: BatchPlan,
    /// How long one page of an evaluation may take: no page starts with less left.
    pub page_time: Duration,
    /// Sends applied prices to their channels.
    pub applier: PriceApplier<'a>,
}

impl<'a> EvaluatePricingRules<'a> {
    /// The function as its settings make it, over clients built once per instance.
    pub fn new(
        settings: &'a EvaluatePricingRulesSettings,
        pool: &'a PgPool,
        sqs: &'a aws_sdk_sqs::Client,
        mirakl: &'a MiraklClient,
        amazon: Option<&'a AmazonClient>,
    ) -> Self {
        Self {
            pool,
            sqs,
            queues: &settings.outbox_queues,
            batch: time_budget::evaluate_pricing_rules().batch_plan(&settings.database),
            page_time: database_allowance(&settings.database),
            applier: PriceApplier::new(pool, Some(mirakl), amazon),
        }
    }

    fn options(&self, plan: BatchPlan) -> EvaluationOptions {
        EvaluationOptions {
            deadline: plan.deadline,
            page_time: self.page_time,
            ..EvaluationOptions::default()
        }
    }
}

/// Handles one invocation: an SQS batch (answered with its batch item failures) or the
/// schedule (answered with the run's counts).
pub async fn handle(
    function: &EvaluatePricingRules<'_>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Error> {
    let (payload, context) = event.into_parts();
    if payload.get("Records").is_some() {
        let batch: SqsEvent = serde_json::from_value(payload)?;
        let response = handle_batch(function, LambdaEvent::new(batch, context)).await?;
        return Ok(serde_json::to_value(response)?);
    }
    let plan = function.batch.until(context.deadline);
    let confirmed = confirm(function, plan).await;
    let requeued = requeue_stalled(function).await;
    let report = evaluate_prices(
        function.pool,
        Selection::AllUnlessUnchanged,
        chrono::Utc::now(),
        function.options(plan),
    )
    .await
    .map_err(|err| {
        let err = ProcessError::from(err);
        tracing::error!(error = %error_chain(&err), "scheduled price evaluation failed");
        err
    })?;
    if !report.stopped_short {
        // Automation rules that are not held by their cooldown fire after a complete
        // run; a failure is logged and the next run fires them.
        if let Err(err) =
            run_automation(function.pool, None, &HashMap::new(), chrono::Utc::now()).await
        {
            tracing::error!(error = %error_chain(&err), "automation rules did not run");
        }
    }
    publish(function, plan).await;
    emit(&report, &BatchTally::default());
    Ok(serde_json::json!({
        "listings": report.listings,
        "unchanged": report.unchanged,
        "nothing_changed": report.nothing_changed,
        "decisions": report.written.decisions,
        "apply_messages": report.written.apply_messages,
        "prices_confirmed": confirmed.applied,
        "prices_refused": confirmed.refused,
        "prices_requeued": requeued,
        "stopped_short": report.stopped_short,
    }))
}

/// Handles one batch of the pricing queue, reporting the records to retry.
pub async fn handle_batch(
    function: &EvaluatePricingRules<'_>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let plan = function.batch.until(event.context.deadline);
    let total = Mutex::new(EvaluationReport::default());
    let total_ref = &total;
    let (response, tally) = settle_batch_within(
        function.pool,
        PRICING_PROCESS,
        event.payload,
        plan,
        |record| async move {
            let message = PricingMessage::parse(record.body.as_deref())?;
            let report = handle_message(function, plan, message).await?;
            if let Ok(mut total) = total_ref.lock() {
                add(&mut total, &report);
            }
            Ok(())
        },
    )
    .await;
    publish(function, plan).await;
    let total = total.into_inner().unwrap_or_default();
    emit(&total, &tally);
    Ok(response)
}

/// One message of the pricing queue.
async fn handle_message(
    function: &EvaluatePricingRules<'_>,
    plan: BatchPlan,
    message: PricingMessage,
) -> Result<EvaluationReport, ProcessError> {
    let now = chrono::Utc::now();
    let options = function.options(plan);
    match message {
        PricingMessage::Reevaluate(message) => {
            tracing::info!(listings = message.listing_ids.len(), reason = %message.reason,
                "re-evaluating listings");
            let report = evaluate_prices(
                function.pool,
                Selection::Listings(&message.listing_ids),
                now,
                options,
            )
            .await?;
            let report = finished(report)?;
            run_automation(
                function.pool,
                Some(&message.listing_ids),
                &HashMap::new(),
                now,
            )
            .await?;
            Ok(report)
        }
        PricingMessage::ReevaluateAll { reason } => {
            tracing::info!(%reason, "re-evaluating every listing");
            let report =
                finished(evaluate_prices(function.pool, Selection::All, now, options).await?)?;
            run_automation(function.pool, None, &HashMap::new(), now).await?;
            Ok(report)
        }
        PricingMessage::ApplyPriceChange(change) => {
            let outcome = function.applier.handle(&change).await?;
            tracing::info!(price_change_id = %change.price_change_id, listing_id = %change.listing_id,
                channel = %change.channel, outcome = outcome.as_str(), "price change handled");
            Ok(EvaluationReport::default())
        }
        PricingMessage::SpApi { notification, .. } => {
            let handled =
                handle_offer_notification(function.pool, &notification, now, options).await?;
            Ok(handled.evaluation)
        }
    }
}

/// Confirms the accepted price changes, using at most half the run's time so the
/// evaluation keeps the rest; a failure is logged and left to the next run.
async fn confirm(function: &EvaluatePricingRules<'_>, plan: BatchPlan) -> ConfirmTally {
    let halfway = plan.deadline.map(|deadline| {
        let now = std::time::Instant::now();
        now + deadline.saturating_duration_since(now) / 2
    });
    match function
        .applier
        .confirm_accepted(CONFIRM_PER_RUN, CONFIRM_AFTER, halfway)
        .await
    {
        Ok(tally) => {
            tracing::info!(
                applied = tally.applied,
                refused = tally.refused,
                pending = tally.pending,
                failed = tally.failed,
                "accepted price changes confirmed"
            );
            tally
        }
        Err(err) => {
            tracing::warn!(error = %error_chain(&err), "accepted price changes not confirmed; the next run does");
            ConfirmTally::default()
        }
    }
}

/// Queues again the price changes whose messages ran out of deliveries; a failure is
/// logged and left to the next run.
async fn requeue_stalled(function: &EvaluatePricingRules<'_>) -> u64 {
    match function
        .applier
        .requeue_stalled(REQUEUE_PER_RUN, STALLED_AFTER)
        .await
    {
        Ok(queued) => queued,
        Err(err) => {
            tracing::warn!(error = %error_chain(&err), "stalled price changes not queued again; the next run does");
            0
        }
    }
}

/// A run that stopped short of time left listings undecided: the message is retried.
fn finished(report: EvaluationReport) -> Result<EvaluationReport, ProcessError> {
    if report.stopped_short {
        return Err(ProcessError::retryable(
            "re-evaluating listings",
            "the invocation ran short of time before every listing was decided",
        ));
    }
    Ok(report)
}

fn add(total: &mut EvaluationReport, report: &EvaluationReport) {
    total.listings += report.listings;
    total.unchanged += report.unchanged;
    total.written += report.written;
    total.no_landed_cost += report.no_landed_cost;
    total.bounds_conflicts += report.bounds_conflicts;
    total.without_fees += report.without_fees;
    total.unreadable_rules = total.unreadable_rules.max(report.unreadable_rules);
}

async fn publish(function: &EvaluatePricingRules<'_>, plan: BatchPlan) {
    match publish_due_until(
        function.pool,
        function.sqs,
        function.queues,
        50,
        plan.deadline,
    )
    .await
    {
        Ok(published) => tracing::info!(
            published = published.published,
            deferred = published.deferred,
            "outbox published"
        ),
        Err(err) => {
            tracing::warn!(error = %error_chain(&err), "outbox not published; a later run sends it")
        }
    }
}

fn emit(report: &EvaluationReport, tally: &BatchTally) {
    let counts = [
        Count {
            name: "ListingsEvaluated",
            value: report.listings,
        },
        Count {
            name: "DecisionsWritten",
            value: report.written.decisions,
        },
        Count {
            name: "ApplyMessages",
            value: report.written.apply_messages,
        },
        Count {
            name: "ListingsWithoutLandedCost",
            value: report.no_landed_cost,
        },
        Count {
            name: "BoundsConflicts",
            value: report.bounds_conflicts,
        },
        Count {
            name: "RulesUnreadable",
            value: report.unreadable_rules,
        },
        Count {
            name: "MessagesRetried",
            value: tally.retried,
        },
        Count {
            name: "MessagesGivenUp",
            value: tally.gave_up,
        },
    ];
    println!("{}", metrics_document("evaluate-pricing-rules", &counts));
}
