//! Lambda entry point: telemetry, configuration, pool and S3 client, built once per
//! instance; then one [`ingest_orders_file::handle`] call per event.

use ingest_orders_file::{handle, FUNCTION_NAME};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::flows::ingest::OrderFileImporter;
use sellerops::model::customer_email::EmailPepper;
use sellerops::ops::config::Config;
use sellerops::systems::aws::AwsClients;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let config = Config::from_env()?;
    let pool = sellerops::systems::db::pool(&config.database, FUNCTION_NAME)?;
    let aws = AwsClients::from_env(config.aws_endpoint_url.as_deref()).await;
    let importer = OrderFileImporter::new(
        pool,
        aws.s3,
        EmailPepper::new(config.email_hash_pepper.clone()),
        config.default_currency,
    );
    run(service_fn(|event: LambdaEvent<Value>| {
        handle(&importer, event)
    }))
    .await
}
