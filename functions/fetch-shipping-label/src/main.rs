use fetch_shipping_label::{canadapost_client, handle, label_flow, label_options};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::ops::config::{FetchShippingLabelSettings, FromEnvironment};
use sellerops::systems::aws::AwsClients;
use sellerops::systems::mirakl::MiraklClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let settings = FetchShippingLabelSettings::from_env()?;
    let pool = sellerops::systems::db::pool(&settings.database, "fetch-shipping-label")?;
    let mirakl = MiraklClient::from_settings(&settings.mirakl, pool.clone())?;
    let canadapost = canadapost_client(&settings, pool.clone())?;
    let aws = AwsClients::from_env(settings.aws.endpoint_url.as_deref()).await;
    let flow = label_flow(&settings, &pool, &mirakl, &canadapost, &aws.s3);
    let options = label_options(&settings);
    let flow = &flow;
    run(service_fn(move |event: LambdaEvent<_>| {
        handle(flow, options, event)
    }))
    .await
}
