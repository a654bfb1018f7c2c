//! fetch-shipping-label: buys the Canada Post label of an accepted Best Buy order,
//! stores the PDF, and tells Mirakl (OR23, OR24) — SQS label queue.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use sellerops::flows::fulfilment::labels::{self, LabelFlow, LabelOptions};
use sellerops::flows::fulfilment::{OrderMessage, LABEL_PROCESS};
use sellerops::ops::config::{ConfigError, FetchShippingLabelSettings};
use sellerops::ops::sqs_batch::settle_batch_within;
use sellerops::ops::telemetry::{metrics_document, Count};
use sellerops::ops::time_budget;
use sellerops::systems::canadapost::CanadaPostClient;
use sellerops::systems::mirakl::MiraklClient;
use sqlx::PgPool;

/// The Canada Post client as the function calls it (the label flow's retry policy).
pub fn canadapost_client(
    settings: &FetchShippingLabelSettings,
    pool: PgPool,
) -> Result<CanadaPostClient, ConfigError> {
    Ok(CanadaPostClient::from_settings(&settings.canadapost, pool)?
        .with_retry_policy(labels::RETRY))
}

/// The options production runs the flow with: its lease, and the batch plan of the
/// function's time budget.
pub fn label_options(settings: &FetchShippingLabelSettings) -> LabelOptions {
    LabelOptions {
        batch: time_budget::fetch_shipping_label().batch_plan(&settings.database),
        ..LabelOptions::default()
    }
}

/// The label flow as the settings make it, over clients built once per instance (by
/// `main`, or by the reliability suite, which runs it in its own process).
pub fn label_flow<'a>(
    settings: &'a FetchShippingLabelSettings,
    pool: &'a PgPool,
    mirakl: &'a MiraklClient,
    canadapost: &'a CanadaPostClient,
    s3: &'a aws_sdk_s3::Client,
) -> LabelFlow<'a> {
    LabelFlow {
        pool,
        mirakl,
        canadapost,
        s3,
        labels_bucket: &settings.labels_bucket,
        service_code: &settings.canadapost.service_code,
        carrier_code: &settings.mirakl_carrier_code,
        sender: &settings.sender,
        default_parcel: &settings.default_parcel,
        retry: labels::RETRY,
    }
}

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
