//! A competitor offer change on the pricing queue, end to end in the database: the
//! SP-API notification recorded, the listing it affects re-priced against the competing
//! offers (never the seller's own), the automation rules fired; a redelivery adds
//! nothing.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use sellerops::flows::pricing::automation::{insert_automation_rule, NewAutomationRule};
use sellerops::flows::pricing::offer_changes::{handle_offer_notification, OfferChangeReport};
use sellerops::flows::pricing::rule_store::{create_price_rule, NewPriceRule};
use sellerops::flows::pricing::EvaluationOptions;
use sellerops::ops::errors::ProcessError;
use sellerops_tests::fixtures;
use sellerops_tests::pricing::{count, dec, listing, price, supplier, variant};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

const ASIN: &str = "B0CX7DRILL";

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, hour, 0, 0).unwrap()
}

/// The fixture notification at `hour` o'clock; from 15:00 the rival has dropped to
/// 119.99 and taken the buy box.
fn notification(hour: u32) -> Value {
    let mut document: Value =
        serde_json::from_str(&fixtures::text("amazon/any-offer-changed.json")).unwrap();
    let change = &mut document["Payload"]["AnyOfferChangedNotification"];
    change["OfferChangeTrigger"]["TimeOfOfferChange"] = json!(format!("2026-03-02T{hour}:00:00Z"));
    if hour >= 15 {
        change["Offers"][0]["IsBuyBoxWinner"] = json!(false);
        change["Offers"][1]["IsBuyBoxWinner"] = json!(true);
        change["Offers"][1]["ListingPrice"]["Amount"] = json!(119.99);
    }
    document
}

/// The seller's drill, bought whole at 50.00, listed on Amazon under the fixture's ASIN
/// at 129.99.
async fn drill(pool: &PgPool) -> Uuid {
    let maker = supplier(pool, "Drill maker").await;
    let item = variant(pool, "DRILL-18V", Some("power_tools"), &[]).await;
    price(pool, item, maker, "50.00", "2000-01-01", None, "0", "0").await;
    let id = listing(pool, item, "amazon", "129.99", 12).await;
    sqlx::query("update catalog.shop_sku_map set channel_product_id = $2 where id = $1")
        .bind(id)
        .bind(ASIN)
        .execute(pool)
        .await
        .unwrap();
    id
}

async fn handle(pool: &PgPool, hour: u32) -> Result<OfferChangeReport, ProcessError> {
    handle_offer_notification(
        pool,
        &notification(hour),
        at(hour) + chrono::Duration::minutes(1),
        EvaluationOptions::default(),
    )
    .await
}

async fn suggested(pool: &PgPool, listing: Uuid) -> Decimal {
    sqlx::query_scalar("select optimal_price from pricing.current_prices where listing_id = $1")
        .bind(listing)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn setup(pool: &PgPool) -> Uuid {
    let listing = drill(pool).await;
    create_price_rule(
        &mut pool.acquire().await.unwrap(),
        &NewPriceRule {
            name: "Beat the lowest by 1 %".to_owned(),
            description: None,
            applies_to: "all".to_owned(),
            scope_value: None,
            rule_type: "competitor_beat".to_owned(),
            config: json!({"beat_by_pct": 1}),
            priority: 100,
            is_active: true,
            apply_enabled: false,
        },
    )
    .await
    .unwrap();
    insert_automation_rule(
        pool,
        &NewAutomationRule {
            name: "Buy box watch".to_owned(),
            description: None,
            trigger_type: "competitive".to_owned(),
            trigger_config: json!({"event": "buy_box_lost"}),
            conditions: json!([]),
            action_type: "create_task".to_owned(),
            action_config: json!({"task_type": "competitive", "title_template": "Buy box lost on {asin}: {reason}"}),
            cooldown_minutes: 60,
            max_daily_triggers: None,
        },
    )
    .await
    .unwrap();
    listing
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_offer_change_reprices_the_listing_against_competitors_only_and_fires_the_rules(
    pool: PgPool,
) {
    let listing = setup(&pool).await;

    let first = handle(&pool, 14).await.unwrap();

    assert_eq!(first.recorded.unwrap().affected_listing_ids, [listing]);
    assert_eq!(first.evaluation.listings, 1);
    // The seller's own 129.99 holds the buy box but is no competitor: 1 % under the
    // rival's 134.99, rounded down.
    assert_eq!(suggested(&pool, listing).await, dec("133.64"));
    assert!(first.automation.firings.fired.is_empty());

    let second = handle(&pool, 15).await.unwrap();

    assert_eq!(suggested(&pool, listing).await, dec("118.79"));
    assert_eq!(second.automation.firings.fired.len(), 1);
    let (title, task_type): (String, String) =
        sqlx::query_as("select title, task_type from workflow.tasks")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        title,
        "Buy box lost on B0CX7DRILL: competitor alert buy_box_lost"
    );
    assert_eq!(task_type, "competitive");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_redelivered_offer_change_adds_nothing(pool: PgPool) {
    setup(&pool).await;
    handle(&pool, 14).await.unwrap();
    handle(&pool, 15).await.unwrap();
    let tables = [
        "competitors.alerts",
        "competitors.price_history",
        "pricing.price_decisions",
        "pricing.price_history",
        "ops.audit_log",
        "workflow.automation_firings",
        "workflow.tasks",
    ];
    let mut before = Vec::new();
    for table in tables {
        before.push(count(&pool, table).await);
    }

    let again = handle(&pool, 15).await.unwrap();

    assert!(again.recorded.unwrap().stale);
    let mut after = Vec::new();
    for table in tables {
        after.push(count(&pool, table).await);
    }
    assert_eq!(after, before, "{tables:?}");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_unreadable_notification_is_refused_for_good_naming_the_field(pool: PgPool) {
    setup(&pool).await;
    let mut document = notification(14);
    document["Payload"]["AnyOfferChangedNotification"]["Offers"][1]
        .as_object_mut()
        .unwrap()
        .remove("SellerId");

    let refusal = handle_offer_notification(&pool, &document, at(14), EvaluationOptions::default())
        .await
        .unwrap_err();

    assert!(matches!(refusal, ProcessError::Permanent { .. }));
    assert_eq!(
        refusal.to_string(),
        "SP-API ANY_OFFER_CHANGED notification: \
         Payload.AnyOfferChangedNotification.Offers[1]: missing field `SellerId`"
    );
    assert_eq!(count(&pool, "competitors.products").await, 0);
}
