//! The event fixtures in `tests/fixtures/events/` (for `cargo lambda invoke --data-file`
//! and the local demo) have the shapes the functions deserialize.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sqs::SqsEvent;
use sellerops::systems::aws::decode_notification_key;

fn fixture(name: &str) -> String {
    sellerops_tests::fixtures::text(&format!("events/{name}"))
}

#[test]
fn the_sqs_s3_notification_carries_an_object_created_record_for_the_orders_bucket() {
    let event: SqsEvent = serde_json::from_str(&fixture("sqs-s3-notification.json")).unwrap();
    let record = &event.records[0];
    assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
    assert!(record
        .event_source_arn
        .as_deref()
        .unwrap()
        .ends_with(":sellerops-ingest"));

    let notification: S3Event = serde_json::from_str(record.body.as_deref().unwrap()).unwrap();

    let s3 = &notification.records[0].s3;
    assert_eq!(s3.bucket.name.as_deref(), Some("sellerops-orders"));
    let key = decode_notification_key(s3.object.key.as_deref().unwrap()).unwrap();
    assert_eq!(key, "incoming/sample-orders.csv");
}

#[test]
fn the_direct_s3_event_is_an_object_created_record() {
    let event: S3Event = serde_json::from_str(&fixture("s3-object-created.json")).unwrap();
    assert_eq!(
        event.records[0].event_name.as_deref(),
        Some("ObjectCreated:Put")
    );
}

#[test]
fn the_accept_and_label_messages_name_an_order() {
    for name in ["sqs-accept-order.json", "sqs-label-order.json"] {
        let event: SqsEvent = serde_json::from_str(&fixture(name)).unwrap();
        let body: serde_json::Value =
            serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
        assert!(uuid::Uuid::parse_str(body["order_id"].as_str().unwrap()).is_ok());
        assert_eq!(body["channel"], "bestbuy_ca");
        assert_eq!(body["external_id"], "BB-20001-A");
        let attributes = &event.records[0].attributes;
        assert_eq!(attributes["ApproximateReceiveCount"], "1");
    }
}

#[test]
fn the_scheduled_event_comes_from_eventbridge() {
    let event: EventBridgeEvent =
        serde_json::from_str(&fixture("eventbridge-scheduled.json")).unwrap();
    assert_eq!(event.detail_type, "Scheduled Event");
    assert_eq!(event.source, "aws.events");
}

#[test]
fn the_mirakl_webhook_request_carries_the_local_secret_and_a_list_of_orders() {
    let request: ApiGatewayV2httpRequest =
        serde_json::from_str(&fixture("apigw-v2-mirakl-webhook.json")).unwrap();
    assert_eq!(request.raw_path.as_deref(), Some("/webhooks/mirakl"));
    assert_eq!(request.request_context.http.method, "POST");
    assert_eq!(
        request.headers["x-webhook-secret"],
        "local-mirakl-webhook-secret"
    );
    let orders: serde_json::Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
    assert_eq!(orders[0]["order_id"], "BB-20001-A");
    assert_eq!(orders[0]["order_state"], "WAITING_ACCEPTANCE");
}

/// The secrets `infra/local/services-env.sh` gives the local webhook function.
const LOCAL_SHOPIFY_SECRET: &str = "local-shopify-webhook-secret";
const LOCAL_FRESHDESK_SECRET: &str = "local-freshdesk-webhook-secret";

#[test]
fn the_shopify_webhook_request_is_signed_with_the_local_app_secret() {
    let request: ApiGatewayV2httpRequest =
        serde_json::from_str(&fixture("apigw-v2-shopify-webhook.json")).unwrap();
    let body = request.body.as_deref().unwrap();
    let signature = request.headers["x-shopify-hmac-sha256"].to_str().unwrap();
    let secret = secrecy::SecretString::from(LOCAL_SHOPIFY_SECRET);
    assert!(
        sellerops::flows::webhooks::verify::shopify_signature_is_valid(
            &secret,
            body.as_bytes(),
            signature
        )
    );
    assert_eq!(request.headers["x-shopify-topic"], "orders/create");
    assert_eq!(request.raw_path.as_deref(), Some("/webhooks/shopify"));
    let order: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(order["id"].is_number());
}

#[test]
fn the_freshdesk_webhook_request_carries_the_local_secret() {
    let request: ApiGatewayV2httpRequest =
        serde_json::from_str(&fixture("apigw-v2-freshdesk-webhook.json")).unwrap();
    assert_eq!(request.headers["x-webhook-secret"], LOCAL_FRESHDESK_SECRET);
    assert_eq!(request.raw_path.as_deref(), Some("/webhooks/freshdesk"));
    let ticket: serde_json::Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
    assert_eq!(ticket["freshdesk_webhook"]["ticket_id"], "311");
}
