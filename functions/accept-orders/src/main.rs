use accept_orders::{handle, AcceptOrders};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::ops::config::{AcceptOrdersSettings, FromEnvironment};
use sellerops::systems::aws::{load_sdk_config, AwsClients};
use sellerops::systems::mirakl::MiraklClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let aws_config = load_sdk_config().await;
    let settings = AcceptOrdersSettings::load(&aws_config).await?;
    let pool = sellerops::systems::db::pool(&settings.database, "accept-orders")?;
    let mirakl = MiraklClient::from_settings(&settings.mirakl, pool.clone())?;
    let aws = AwsClients::from_sdk_config(&aws_config, settings.aws.endpoint_url.as_deref());
    let function = AcceptOrders::new(&settings, &pool, &mirakl, &aws.sqs);
    let function = &function;
    run(service_fn(move |event: LambdaEvent<_>| {
        handle(function, event)
    }))
    .await
}
