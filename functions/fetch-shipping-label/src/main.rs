use fetch_shipping_label::{canadapost_client, handle, label_flow, label_options};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::ops::config::{FetchShippingLabelSettings, FromEnvironment};
use sellerops::systems::aws::{load_sdk_config, AwsClients};
use sellerops::systems::mirakl::MiraklClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let aws_config = load_sdk_config().await;
    let settings = FetchShippingLabelSettings::load(&aws_config).await?;
    let pool = sellerops::systems::db::pool(&settings.database, "fetch-shipping-label")?;
    let mirakl = MiraklClient::from_settings(&settings.mirakl, pool.clone())?;
    let canadapost = canadapost_client(&settings, pool.clone())?;
    let aws = AwsClients::from_sdk_config(&aws_config, settings.aws.endpoint_url.as_deref());
    let flow = label_flow(&settings, &pool, &mirakl, &canadapost, &aws.s3);
    let options = label_options(&settings);
    let flow = &flow;
    run(service_fn(move |event: LambdaEvent<_>| {
        handle(flow, options, event)
    }))
    .await
}
