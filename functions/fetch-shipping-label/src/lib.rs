//! fetch-shipping-label: buys the Canada Post label of an accepted Best Buy order,
//! stores the PDF, and tells Mirakl (OR23, OR24) — SQS label queue.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use sellerops::flows::fulfilment::labels::{LabelFlow, LabelOptions};
use sellerops::flows::fulfilment::{OrderMessage, LABEL_PROCESS};
use sellerops::ops::sqs_batch::settle_batch_within;
use sellerops::ops::telemetry::{metrics_document, Count};

/// Handles one SQS batch, reporting the records to retry (those that failed, and those
/// not started because the invocation ran short of time). In production `options`
/// carries the function's batch plan.
pub async fn handle(
    flow: &LabelFlow<'_>,
    options: LabelOptions,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let plan = options.batch.until(event.context.deadline);
    let (response, tally) = settle_batch_within(
        flow.pool,
        LABEL_PROCESS,
        event.payload,
        plan,
        |record| async move {
            let message = OrderMessage::parse(record.body.as_deref())?;
            let outcome = flow.handle(&message, options).await?;
            tracing::info!(order = %message.external_id, ?outcome, "label message handled");
            Ok(())
        },
    )
    .await;
    let counts = [
        Count {
            name: "LabelMessagesHandled",
            value: tally.succeeded,
        },
        Count {
            name: "LabelMessagesRetried",
            value: tally.retried,
        },
        Count {
            name: "LabelsNeedingPerson",
            value: tally.gave_up,
        },
    ];
    println!("{}", metrics_document("fetch-shipping-label", &counts));
    Ok(response)
}
