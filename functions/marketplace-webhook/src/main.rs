//! marketplace-webhook: `POST /webhooks/{mirakl|shopify|freshdesk}` behind API Gateway.
//! Settings, pool and clients are built once; each request goes to the shared
//! webhook service.

use lambda_http::{run, service_fn, Error, Request};
use sellerops::flows::webhooks::WebhookService;
use sellerops::ops::config::{FromEnvironment, MarketplaceWebhookSettings};
use sellerops::ops::outbox::OutboxPublisher;
use sellerops::systems::aws::{load_sdk_config, AwsClients};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let aws_config = load_sdk_config().await;
    let settings = MarketplaceWebhookSettings::load(&aws_config).await?;
    let pool = sellerops::systems::db::pool(&settings.database, "marketplace-webhook")?;
    let aws = AwsClients::from_sdk_config(&aws_config, settings.aws.endpoint_url.as_deref());
    let service = WebhookService::new(
        pool,
        settings.webhooks,
        settings.email_hash_pepper,
        Some(OutboxPublisher {
            sqs: aws.sqs,
            queues: settings.outbox_queues,
        }),
    );
    let service = &service;
    run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(marketplace_webhook::handle(service, request).await)
    }))
    .await
}
