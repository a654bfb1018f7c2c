use fetch_shipping_label::handle;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::flows::fulfilment::labels::{LabelFlow, LabelOptions};
use sellerops::ops::config::Config;
use sellerops::ops::retry::RetryPolicy;
use sellerops::systems::aws::AwsClients;
use sellerops::systems::canadapost::CanadaPostClient;
use sellerops::systems::mirakl::MiraklClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let config = Config::from_env()?;
    let pool = sellerops::systems::db::pool(&config.database, "fetch-shipping-label")?;
    let bucket = Config::require(&config.buckets.labels, "LABELS_BUCKET")?;
    let mirakl = MiraklClient::from_settings(&config.mirakl, pool.clone())?;
    let canadapost = CanadaPostClient::from_settings(&config.canadapost, pool.clone())?;
    let aws = AwsClients::from_env(config.aws_endpoint_url.as_deref()).await;
    let flow = LabelFlow {
        pool: &pool,
        mirakl: &mirakl,
        canadapost: &canadapost,
        s3: &aws.s3,
        labels_bucket: bucket,
        service_code: &config.canadapost.service_code,
        carrier_code: &config.fulfilment.mirakl_carrier_code,
        sender: &config.fulfilment.sender,
        default_parcel: &config.fulfilment.default_parcel,
        retry: RetryPolicy::DEFAULT,
    };
    let flow = &flow;
    run(service_fn(move |event: LambdaEvent<_>| {
        handle(flow, LabelOptions::default(), event)
    }))
    .await
}
