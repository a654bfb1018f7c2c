//! Lambda entry point: telemetry, settings, pool and S3 client, built once per
//! instance; then one [`ingest_orders_file::handle`] call per event.

use ingest_orders_file::{handle, FUNCTION_NAME};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::flows::ingest::{ImportOptions, OrderFileImporter};
use sellerops::ops::config::{FromEnvironment, IngestOrdersFileSettings};
use sellerops::systems::aws::{load_sdk_config, AwsClients};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let aws_config = load_sdk_config().await;
    let settings = IngestOrdersFileSettings::load(&aws_config).await?;
    let pool = sellerops::systems::db::pool(&settings.database, FUNCTION_NAME)?;
    let aws = AwsClients::from_sdk_config(&aws_config, settings.aws.endpoint_url.as_deref());
    let importer = OrderFileImporter::new(
        pool,
        aws.s3,
        settings.email_hash_pepper,
        settings.default_currency,
    )
    .with_options(ImportOptions {
        limits: settings.limits,
        ..ImportOptions::default()
    });
    run(service_fn(|event: LambdaEvent<Value>| {
        handle(&importer, event)
    }))
    .await
}
