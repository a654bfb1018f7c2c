use evaluate_pricing_rules::{handle, EvaluatePricingRules};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::ops::config::{EvaluatePricingRulesSettings, FromEnvironment};
use sellerops::systems::amazon::AmazonClient;
use sellerops::systems::aws::{load_sdk_config, AwsClients};
use sellerops::systems::mirakl::MiraklClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let aws_config = load_sdk_config().await;
    let settings = EvaluatePricingRulesSettings::load(&aws_config).await?;
    let pool = sellerops::systems::db::pool(&settings.database, "evaluate-pricing-rules")?;
    let aws = AwsClients::from_sdk_config(&aws_config, settings.aws.endpoint_url.as_deref());
    let mirakl = MiraklClient::from_settings(&settings.mirakl, pool.clone())?;
    let amazon = settings
        .amazon
        .as_ref()
        .map(|amazon| AmazonClient::from_settings(amazon, pool.clone()))
        .transpose()?;
    let function = EvaluatePricingRules::new(&settings, &pool, &aws.sqs, &mirakl, amazon.as_ref());
    let function = &function;
    run(service_fn(move |event: LambdaEvent<_>| {
        handle(function, event)
    }))
    .await
}
