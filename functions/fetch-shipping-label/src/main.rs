use fetch_shipping_label::handle;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::flows::fulfilment::labels::{self, LabelFlow, LabelOptions};
use sellerops::ops::config::{FetchShippingLabelSettings, FromEnvironment};
use sellerops::ops::time_budget;
use sellerops::systems::aws::AwsClients;
use sellerops::systems::canadapost::CanadaPostClient;
use sellerops::systems::mirakl::MiraklClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let settings = FetchShippingLabelSettings::from_env()?;
    let pool = sellerops::systems::db::pool(&settings.database, "fetch-shipping-label")?;
    let mirakl = MiraklClient::from_settings(&settings.mirakl, pool.clone())?;
    let canadapost = CanadaPostClient::from_settings(&settings.canadapost, pool.clone())?
        .with_retry_policy(labels::RETRY);
    let aws = AwsClients::from_env(settings.aws.endpoint_url.as_deref()).await;
    let flow = LabelFlow {
        pool: &pool,
        mirakl: &mirakl,
        canadapost: &canadapost,
        s3: &aws.s3,
        labels_bucket: &settings.labels_bucket,
        service_code: &settings.canadapost.service_code,
        carrier_code: &settings.mirakl_carrier_code,
        sender: &settings.sender,
        default_parcel: &settings.default_parcel,
        retry: labels::RETRY,
    };
    let options = LabelOptions {
        batch: time_budget::fetch_shipping_label().batch_plan(&settings.database),
        ..LabelOptions::default()
    };
    let flow = &flow;
    run(service_fn(move |event: LambdaEvent<_>| {
        handle(flow, options, event)
    }))
    .await
}
