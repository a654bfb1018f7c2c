use accept_orders::{handle, AcceptOrders};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::flows::fulfilment::acceptance::Acceptance;
use sellerops::ops::config::{Config, QueueUrls};
use sellerops::ops::retry::RetryPolicy;
use sellerops::systems::aws::AwsClients;
use sellerops::systems::mirakl::MiraklClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let config = Config::from_env()?;
    let pool = sellerops::systems::db::pool(&config.database, "accept-orders")?;
    Config::require(&config.queues.label, "LABEL_QUEUE_URL")?;
    let mirakl = MiraklClient::from_settings(&config.mirakl, pool.clone())?;
    let aws = AwsClients::from_env(config.aws_endpoint_url.as_deref()).await;
    // accept-orders may send to the label queue only; other follow-ups wait for the
    // recording functions, which may send them.
    let label_queue_only = QueueUrls {
        label: config.queues.label.clone(),
        ..QueueUrls::default()
    };
    let function = AcceptOrders {
        acceptance: Acceptance {
            pool: &pool,
            mirakl: &mirakl,
            retry: RetryPolicy::DEFAULT,
        },
        sqs: &aws.sqs,
        queues: &label_queue_only,
    };
    let function = &function;
    run(service_fn(move |event: LambdaEvent<_>| {
        handle(function, event)
    }))
    .await
}
