//! marketplace-webhook: `POST /webhooks/{mirakl|shopify|freshdesk}` behind API Gateway.
//! Settings, pool and clients are built once; each request goes to the shared
//! webhook service, and its follow-ups are published once the answer has gone.

use lambda_http::lambda_runtime::layers::TracingLayer;
use lambda_http::tower::layer::layer_fn;
use lambda_http::{service_fn, Error, Request};
use marketplace_webhook::PublishAfterAnswer;
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
    // One service for the life of the process.
    let service: &'static WebhookService = Box::leak(Box::new(service));
    lambda_http::runtime(service_fn(move |request: Request| async move {
        Ok::<_, Error>(marketplace_webhook::handle(service, request).await)
    }))
    .layer(layer_fn(move |inner| PublishAfterAnswer { inner, service }))
    .layer(TracingLayer::new())
    .run()
    .await
}
