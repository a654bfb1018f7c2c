//! The evaluate-pricing-rules handler over a pricing-queue batch: one bad message is
//! recorded and acknowledged, its neighbours are evaluated.

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use evaluate_pricing_rules::{handle_batch, EvaluatePricingRules, PRICING_PROCESS};
use lambda_runtime::{Context, LambdaEvent};
use sellerops::flows::pricing::apply::PriceApplier;
use sellerops::flows::pricing::message::ReevaluateListings;
use sellerops::ops::config::QueueUrls;
use sellerops::ops::sqs_batch::BatchPlan;
use sellerops_tests::pricing::{count, listing, price, supplier, variant};
use sqlx::PgPool;

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_batch_with_one_bad_message_evaluates_the_others_and_records_the_bad_one(pool: PgPool) {
    let maker = supplier(&pool, "Parts Co").await;
    let item = variant(&pool, "ITEM", None, &[]).await;
    price(&pool, item, maker, "10", "2000-01-01", None, "0", "0").await;
    let listed = listing(&pool, item, "amazon", "12.00", 5).await;
    let good = ReevaluateListings {
        listing_ids: vec![listed],
        reason: "stock_changed".into(),
    }
    .to_json()
    .to_string();
    let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [
        {"messageId": "good", "body": good},
        {"messageId": "bad", "body": "{\"kind\": \"reprice everything\"}"},
    ]}))
    .expect("an SQS event");
    let aws = sellerops_tests::local_aws().await;
    let queues = QueueUrls::default();
    let function = EvaluatePricingRules {
        pool: &pool,
        sqs: &aws.sqs,
        queues: &queues,
        batch: BatchPlan::SEQUENTIAL,
        page_time: Duration::ZERO,
        applier: PriceApplier::new(&pool, None, None),
    };

    let response = handle_batch(&function, LambdaEvent::new(event, Context::default()))
        .await
        .expect("the batch is settled");

    assert!(response.batch_item_failures.is_empty());
    // 12.00 is below the floor price 10 / (1 − 0.15 − 0.20) = 15.39: raised to it.
    let suggested: Option<rust_decimal::Decimal> = sqlx::query_scalar(
        "select optimal_price from pricing.current_prices where listing_id = $1",
    )
    .bind(listed)
    .fetch_one(&pool)
    .await
    .expect("summary");
    assert_eq!(suggested, Some("15.39".parse().unwrap()));
    let reason: String = sqlx::query_scalar(
        "select reason from ops.process_failures where process_name = $1 and entity_ref = 'bad'",
    )
    .bind(PRICING_PROCESS)
    .fetch_one(&pool)
    .await
    .expect("the bad message is recorded");
    assert!(reason.contains("reevaluate_listings"), "{reason}");
    assert_eq!(count(&pool, "pricing.price_decisions").await, 1);
}
