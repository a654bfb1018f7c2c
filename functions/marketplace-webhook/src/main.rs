//! marketplace-webhook: `POST /webhooks/{mirakl|shopify|freshdesk}` behind API Gateway.
//! Configuration, pool and clients are built once; each request goes to the shared
//! webhook service.

use lambda_http::{run, service_fn, Error, Request};
use sellerops::flows::webhooks::WebhookService;
use sellerops::model::customer_email::EmailPepper;
use sellerops::ops::config::Config;
use sellerops::ops::outbox::OutboxPublisher;
use sellerops::systems::aws::AwsClients;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let config = Config::from_env()?;
    let pool = sellerops::systems::db::pool(&config.database, "marketplace-webhook")?;
    let aws = AwsClients::from_env(config.aws_endpoint_url.as_deref()).await;
    let service = WebhookService::new(
        pool,
        config.webhooks.clone(),
        EmailPepper::new(config.email_hash_pepper.clone()),
        Some(OutboxPublisher {
            sqs: aws.sqs,
            queues: config.queues.clone(),
        }),
    );
    let service = &service;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(marketplace_webhook::handle(service, request).await)
    }))
    .await
}
