//! sync-marketplace: on an EventBridge schedule, polls Mirakl OR11 orders and M11
//! threads, reconciles the Shopify store's orders (when configured) through the Admin
//! GraphQL API, syncs the Freshdesk tickets and their conversations (when configured),
//! records them through the shared path, releases expired stock reservations,
//! recomputes the sales aggregates of the days noted since the last run,
//! sends what waits in the outbox, and purges the call log, inbox and delivery records
//! past their ages.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::flows::marketplace_sync::freshdesk_tickets::{FreshdeskPoll, FRESHDESK_POLL_RETRY};
use sellerops::flows::marketplace_sync::shopify_orders::{ShopifyPoll, SHOPIFY_POLL_RETRY};
use sellerops::flows::marketplace_sync::{MarketplaceSync, RunReport, POLL_RETRY};
use sellerops::ops::config::{FromEnvironment, SyncMarketplaceSettings};
use sellerops::ops::outbox::OutboxPublisher;
use sellerops::ops::retention::{purge_expired, PurgeTally};
use sellerops::ops::sqs_batch::BatchPlan;
use sellerops::ops::telemetry::{emit_counts, Count};
use sellerops::ops::time_budget::database_allowance;
use sellerops::systems::aws::{load_sdk_config, AwsClients};
use sellerops::systems::mirakl::MiraklClient;
use sellerops::systems::shopify::admin::ShopifyAdminClient;
use tracing::Instrument;

const FUNCTION: &str = "sync-marketplace";

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let aws_config = load_sdk_config().await;
    let settings = SyncMarketplaceSettings::load(&aws_config).await?;
    let pool = sellerops::systems::db::pool(&settings.database, FUNCTION)?;
    let client = MiraklClient::from_settings(&settings.mirakl, pool.clone())?;
    let shopify = match &settings.shopify {
        Some(shopify) => Some(ShopifyPoll {
            client: ShopifyAdminClient::from_settings(shopify, pool.clone())?,
            retry: SHOPIFY_POLL_RETRY,
        }),
        None => None,
    };
    let freshdesk = match &settings.freshdesk {
        Some(freshdesk) => Some(FreshdeskPoll::from_settings(
            freshdesk,
            pool.clone(),
            FRESHDESK_POLL_RETRY,
        )?),
        None => None,
    };
    let aws = AwsClients::from_sdk_config(&aws_config, settings.aws.endpoint_url.as_deref());
    let retention = settings.retention;
    // A purge delete starts only while one statement still fits before the deadline.
    let statement = database_allowance(&settings.database);
    let sync = MarketplaceSync {
        pool,
        client,
        pepper: settings.email_hash_pepper,
        settings: settings.sync,
        retry: POLL_RETRY,
        shopify,
        freshdesk,
    };
    let publisher = OutboxPublisher {
        sqs: aws.sqs,
        queues: settings.outbox_queues,
    };
    let (sync, publisher) = (&sync, &publisher);
    run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| async move {
            let span = tracing::info_span!("sync", request_id = %event.context.request_id);
            let deadline = BatchPlan::SEQUENTIAL.until(event.context.deadline).deadline;
            let report = sync
                .run_until(chrono::Utc::now(), Some(publisher), deadline)
                .instrument(span.clone())
                .await;
            // The purge runs whatever the polls did: a Mirakl outage must not let the
            // logs grow.
            let start_by = deadline.map(|d| d.checked_sub(statement).unwrap_or(d));
            match purge_expired(&sync.pool, &retention, start_by)
                .instrument(span)
                .await
            {
                Ok(purged) => emit_purge(&purged),
                Err(err) => tracing::warn!(error = %sellerops::ops::errors::error_chain(&err),
                    "purge failed; the next run tries again"),
            }
            let report = report.inspect_err(|err| {
                tracing::error!(error = %sellerops::ops::errors::error_chain(err),
                    "marketplace sync failed");
            })?;
            emit(&report);
            Ok::<_, Error>(())
        },
    ))
    .await
}

fn emit(report: &RunReport) {
    emit_counts(
        FUNCTION,
        &[
            Count {
                name: "OrdersSeen",
                value: report.orders.seen,
            },
            Count {
                name: "OrdersChanged",
                value: report.orders.changed,
            },
            Count {
                name: "ThreadsSeen",
                value: report.threads.seen,
            },
            Count {
                name: "ShopifyOrdersSeen",
                value: report.shopify_orders.seen,
            },
            Count {
                name: "ShopifyOrdersChanged",
                value: report.shopify_orders.changed,
            },
            Count {
                name: "FreshdeskTicketsSeen",
                value: report.freshdesk_tickets.seen,
            },
            Count {
                name: "FreshdeskTicketsChanged",
                value: report.freshdesk_tickets.changed,
            },
            Count {
                name: "FollowUpsQueued",
                value: report.orders.follow_ups + report.threads.follow_ups,
            },
            Count {
                name: "ItemsFailed",
                value: report.orders.failed
                    + report.threads.failed
                    + report.shopify_orders.failed
                    + report.freshdesk_tickets.failed,
            },
            Count {
                name: "DataProblems",
                value: report.orders.data_problems
                    + report.shopify_orders.data_problems
                    + report.freshdesk_tickets.data_problems,
            },
            Count {
                name: "OutboxPublished",
                value: report.published,
            },
            Count {
                name: "OutboxDeferred",
                value: report.deferred,
            },
            Count {
                name: "ReservationsExpired",
                value: report.expired_reservations,
            },
            Count {
                name: "SalesDaysRefreshed",
                value: report.sales_days_refreshed,
            },
        ],
    );
}

fn emit_purge(purged: &PurgeTally) {
    emit_counts(
        FUNCTION,
        &[
            Count {
                name: "ApiCallsPurged",
                value: purged.api_calls,
            },
            Count {
                name: "InboxPurged",
                value: purged.inbox,
            },
            Count {
                name: "DeliveryRecordsPurged",
                value: purged.delivery_records,
            },
        ],
    );
}
