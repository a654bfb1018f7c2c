//! marketplace-webhook: `POST /webhooks/{mirakl|shopify|freshdesk}` behind API Gateway.
//! Configuration, pool and clients are built once; each request goes to the shared
//! webhook service.

use lambda_http::{run, service_fn, Error, Request};
use sellerops::aws::AwsClients;
use sellerops::config::Config;
use sellerops::customer_email::EmailPepper;
use sellerops::outbox::OutboxPublisher;
use sellerops::webhooks::WebhookService;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::telemetry::init();
    let config = Config::from_env()?;
    let pool = sellerops::db::pool(&config.database, "marketplace-webhook")?;
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
