use accept_orders::{handle, AcceptOrders};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::ops::config::{AcceptOrdersSettings, FromEnvironment};
use sellerops::systems::aws::AwsClients;
use sellerops::systems::mirakl::MiraklClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let settings = AcceptOrdersSettings::from_env()?;
    let pool = sellerops::systems::db::pool(&settings.database, "accept-orders")?;
    let mirakl = MiraklClient::from_settings(&settings.mirakl, pool.clone())?;
    let aws = AwsClients::from_env(settings.aws.endpoint_url.as_deref()).await;
    let function = AcceptOrders::new(&settings, &pool, &mirakl, &aws.sqs);
    let function = &function;
    run(service_fn(move |event: LambdaEvent<_>| {
        handle(function, event)
    }))
    .await
}
