use accept_orders::{handle, AcceptOrders};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::aws::AwsClients;
use sellerops::config::{Config, QueueUrls};
use sellerops::fulfilment::acceptance::Acceptance;
use sellerops::mirakl::MiraklClient;
use sellerops::retry::RetryPolicy;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::telemetry::init();
    let config = Config::from_env()?;
    let pool = sellerops::db::pool(&config.database, "accept-orders")?;
    let base_url = Config::require(&config.mirakl.base_url, "MIRAKL_BASE_URL")?;
    let api_key = config
        .mirakl
        .api_key
        .clone()
        .ok_or(sellerops::config::ConfigError::Missing("MIRAKL_API_KEY"))?;
    Config::require(&config.queues.label, "LABEL_QUEUE_URL")?;
    let mirakl = MiraklClient::new(
        base_url,
        api_key,
        config.mirakl.shop_id.clone(),
        pool.clone(),
    )?;
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
