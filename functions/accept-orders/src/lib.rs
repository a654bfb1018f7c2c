//! accept-orders: decides Best Buy orders waiting for acceptance (SQS accept queue).
//!
//! Each record is an [`OrderMessage`]; [`Acceptance`] does the work. After the batch the
//! outbox is published, so accepted orders reach the label queue without waiting for
//! another function.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use sellerops::flows::fulfilment::acceptance::{self, Acceptance};
use sellerops::flows::fulfilment::{OrderMessage, ACCEPTANCE_PROCESS};
use sellerops::ops::config::{AcceptOrdersSettings, QueueUrls};
use sellerops::ops::errors::error_chain;
use sellerops::ops::outbox::publish_due_until;
use sellerops::ops::sqs_batch::{settle_batch_within, BatchPlan};
use sellerops::ops::telemetry::{metrics_document, Count};
use sellerops::ops::time_budget;
use sellerops::systems::mirakl::MiraklClient;
use sqlx::PgPool;

/// What the handler borrows, built once per instance.
pub struct AcceptOrders<'a> {
    /// The acceptance flow.
    pub acceptance: Acceptance<'a>,
    /// For publishing the outbox.
    pub sqs: &'a aws_sdk_sqs::Client,
    /// Where the outbox publishes.
    pub queues: &'a QueueUrls,
    /// How a batch is worked through: from the function's time budget in production.
    pub batch: BatchPlan,
}

impl<'a> AcceptOrders<'a> {
    /// The function as its settings make it, over clients built once per instance (by
    /// `main`, or by the reliability suite, which runs it in its own process).
    pub fn new(
        settings: &'a AcceptOrdersSettings,
        pool: &'a PgPool,
        mirakl: &'a MiraklClient,
        sqs: &'a aws_sdk_sqs::Client,
    ) -> Self {
        Self {
            acceptance: Acceptance {
                pool,
                mirakl,
                retry: acceptance::RETRY,
                reservation_hold: settings.reservation_hold,
            },
            sqs,
            queues: &settings.outbox_queues,
            batch: time_budget::accept_orders().batch_plan(&settings.database),
        }
    }
}

/// Handles one SQS batch, reporting the records to retry.
pub async fn handle(
    function: &AcceptOrders<'_>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let pool = function.acceptance.pool;
    let plan = function.batch.until(event.context.deadline);
    let (response, tally) = settle_batch_within(
        pool,
        ACCEPTANCE_PROCESS,
        event.payload,
        plan,
        |record| async move {
            let message = OrderMessage::parse(record.body.as_deref())?;
            function.acceptance.handle(&message).await.map(|_| ())
        },
    )
    .await;
    match publish_due_until(pool, function.sqs, function.queues, 50, plan.deadline).await {
        Ok(published) => tracing::info!(
            published = published.published,
            deferred = published.deferred,
            "outbox published"
        ),
        Err(err) => {
            tracing::warn!(error = %error_chain(&err), "outbox not published; a later run sends it")
        }
    }
    let counts = [
        Count {
            name: "OrdersDecided",
            value: tally.succeeded,
        },
        Count {
            name: "OrdersRetried",
            value: tally.retried,
        },
        Count {
            name: "OrdersNeedingPerson",
            value: tally.gave_up,
        },
    ];
    println!("{}", metrics_document("accept-orders", &counts));
    Ok(response)
}
