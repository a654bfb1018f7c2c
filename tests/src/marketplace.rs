//! Helpers for the marketplace tests: Mirakl orders, a configured webhook service,
//! deliveries.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::SecretString;
use sellerops::flows::webhooks::{WebhookAnswer, WebhookDelivery, WebhookService};
use sellerops::model::customer_email::EmailPepper;
use sellerops::ops::config::WebhookSettings;
use sellerops::ops::outbox::OutboxPublisher;
use sqlx::PgPool;

use crate::fixtures;

/// The Mirakl webhook's shared secret in tests.
pub const MIRAKL_SECRET: &str = "mirakl-webhook-secret-for-tests";
/// The Shopify app secret in tests.
pub const SHOPIFY_SECRET: &str = "shpss_shopify-secret-for-tests";
/// The store in tests.
pub const SHOP_DOMAIN: &str = "maple-refurb.myshopify.com";
/// The Freshdesk secret in tests.
pub const FRESHDESK_SECRET: &str = "freshdesk-secret-for-tests";

/// The waiting-acceptance order fixture, moved to `state` at `last_updated` (RFC 3339),
/// under `order_id`.
pub fn mirakl_order(order_id: &str, state: &str, last_updated: &str) -> String {
    fixtures::text("mirakl/order_waiting_acceptance.json")
        .replace("BBY-20260302-0001-A", order_id)
        .replace("\"WAITING_ACCEPTANCE\"", &format!("\"{state}\""))
        .replace("2026-03-02T14:18:45Z", last_updated)
}

/// The pepper every test hashes with.
pub fn pepper() -> EmailPepper {
    EmailPepper::new(SecretString::from("pepper-for-the-marketplace-tests"))
}

/// Webhook settings with every secret configured.
pub fn webhook_settings() -> WebhookSettings {
    WebhookSettings {
        mirakl_secret: Some(SecretString::from(MIRAKL_SECRET)),
        shopify_secret: Some(SecretString::from(SHOPIFY_SECRET)),
        shopify_shop_domain: Some(SHOP_DOMAIN.into()),
        freshdesk_secret: Some(SecretString::from(FRESHDESK_SECRET)),
        freshdesk_domain: None,
        body_limit_bytes: 1024 * 1024,
    }
}

/// A webhook service over `pool`, publishing through `publisher` when given.
pub fn webhook_service(pool: &PgPool, publisher: Option<OutboxPublisher>) -> WebhookService {
    WebhookService::new(pool.clone(), webhook_settings(), pepper(), publisher)
}

/// Headers from name/value pairs.
pub fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| {
            (
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            )
        })
        .collect()
}

/// POSTs `body` to `/webhooks/{source}` with `headers`, then publishes the follow-ups
/// as the function does once the answer has gone.
pub async fn deliver(
    service: &WebhookService,
    source: &str,
    headers: &HeaderMap,
    body: &str,
) -> WebhookAnswer {
    let answer = service
        .handle(WebhookDelivery {
            method: "POST",
            path: &format!("/webhooks/{source}"),
            headers,
            body: body.as_bytes(),
        })
        .await;
    service.publish_follow_ups().await;
    answer
}

/// A Mirakl delivery of `orders` (JSON texts), with the right secret.
pub async fn deliver_mirakl(service: &WebhookService, orders: &[&str]) -> WebhookAnswer {
    let body = format!("[{}]", orders.join(","));
    deliver(
        service,
        "mirakl",
        &headers(&[("x-webhook-secret", MIRAKL_SECRET)]),
        &body,
    )
    .await
}

/// The `X-Shopify-Hmac-Sha256` Shopify sends for `body`: base64 of HMAC-SHA256 of the raw
/// body under the app secret.
pub fn shopify_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    BASE64.encode(mac.finalize().into_bytes())
}

/// Headers of a genuine Shopify delivery of `body`.
pub fn shopify_headers(topic: &str, webhook_id: &str, body: &str) -> HeaderMap {
    headers(&[
        ("x-shopify-topic", topic),
        ("x-shopify-webhook-id", webhook_id),
        ("x-shopify-shop-domain", SHOP_DOMAIN),
        (
            "x-shopify-hmac-sha256",
            &shopify_signature(SHOPIFY_SECRET, body.as_bytes()),
        ),
    ])
}
