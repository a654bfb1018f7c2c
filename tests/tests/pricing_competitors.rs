//! Competitor offers from SP-API `ANY_OFFER_CHANGED` notifications: recorded by ASIN with
//! their price history, the seller's own offers told apart, an alert with its severity
//! for each change, and nothing changed by a redelivery.

use rust_decimal::Decimal;
use sellerops::flows::pricing::competitors::{
    record_offers, CompetitorSettings, OfferSnapshot, RecordedOffers,
};
use sellerops::systems::amazon::AnyOfferChanged;
use sellerops_tests::fixtures;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

const ASIN: &str = "B0CX7DRILL";
const OWN: &str = "A1SELLEROPSCA0";
const RIVAL: &str = "A2RIVALTOOLSCA";
const BUDGET: &str = "A3BUDGETDEPOT0";

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// The fixture notification, its offers replaced and its change at `time`.
fn notification(time: &str, offers: Value) -> Value {
    let mut document: Value =
        serde_json::from_str(&fixtures::text("amazon/any-offer-changed.json")).unwrap();
    let change = &mut document["Payload"]["AnyOfferChangedNotification"];
    change["OfferChangeTrigger"]["TimeOfOfferChange"] = json!(time);
    if !offers.is_null() {
        change["Offers"] = offers;
    }
    document
}

fn offer(seller: &str, price: &str, buy_box: bool) -> Value {
    json!({
        "SellerId": seller,
        "ListingPrice": {"Amount": price.parse::<f64>().unwrap(), "CurrencyCode": "CAD"},
        "Shipping": {"Amount": 0.0, "CurrencyCode": "CAD"},
        "ShippingTime": {"AvailabilityType": "available"},
        "IsFulfilledByAmazon": false,
        "IsBuyBoxWinner": buy_box
    })
}

fn out_of_stock(seller: &str, price: &str) -> Value {
    let mut offer = offer(seller, price, false);
    offer["ShippingTime"]["AvailabilityType"] = json!("futureWithoutDate");
    offer
}

async fn listing(pool: &PgPool, sku: &str, asin: &str) -> Uuid {
    sqlx::query_scalar(
        "with product as (
             insert into catalog.products (name) values ($1) returning id
         ), variant as (
             insert into catalog.product_variants (product_id, internal_sku)
             select id, $1 from product returning id
         )
         insert into catalog.shop_sku_map (channel, shop_sku, variant_id, channel_product_id)
         select 'amazon', $1, id, $2 from variant
         returning id",
    )
    .bind(sku)
    .bind(asin)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn record(pool: &PgPool, document: &Value) -> RecordedOffers {
    let settings = CompetitorSettings::load(pool).await.unwrap();
    let parsed = AnyOfferChanged::parse(&document.to_string()).unwrap();
    let snapshot = OfferSnapshot::from_notification(&parsed, &settings.own_seller_ids);
    record_offers(pool, &snapshot, Some(document), &settings)
        .await
        .unwrap()
}

/// (alert type, severity, seller, previous, new, change %), oldest first.
type AlertRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Decimal>,
);

async fn alerts(pool: &PgPool) -> Vec<AlertRow> {
    sqlx::query_as(
        "select alert_type, severity, seller_id, previous_value, new_value, change_pct
         from competitors.alerts order by observed_at, alert_type, seller_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn alert(
    kind: &str,
    severity: &str,
    seller: Option<&str>,
    previous: Option<&str>,
    new: Option<&str>,
    change: Option<&str>,
) -> AlertRow {
    (
        kind.to_owned(),
        severity.to_owned(),
        seller.map(str::to_owned),
        previous.map(str::to_owned),
        new.map(str::to_owned),
        change.map(dec),
    )
}

async fn counts(pool: &PgPool) -> (i64, i64, i64, i64) {
    sqlx::query_as(
        "select (select count(*) from competitors.products),
                (select count(*) from competitors.offers),
                (select count(*) from competitors.price_history),
                (select count(*) from competitors.alerts)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_first_notification_records_the_product_its_offers_and_history_without_alerts(
    pool: PgPool,
) {
    let drill = listing(&pool, "DRILL-18V", ASIN).await;
    let _other = listing(&pool, "SAW-7IN", "B0CX7SAW00").await;

    let recorded = record(&pool, &notification("2026-03-02T14:00:00Z", Value::Null)).await;

    assert_eq!(recorded.affected_listing_ids, [drill]);
    assert!(
        recorded.alerts.is_empty(),
        "the first report is the baseline"
    );
    assert!(!recorded.stale);
    let (external_id, price, seller, buy_box_price, buy_box_seller, bsr): (
        String,
        Decimal,
        String,
        Decimal,
        String,
        i32,
    ) = sqlx::query_as(
        "select external_id, current_price, seller_id, buy_box_price, buy_box_seller, current_bsr
         from competitors.products where channel = 'amazon'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // The seller's own 129.99 holds the buy box but is no competitor: the lowest
    // competing offer is the rival's.
    assert_eq!(
        (external_id.as_str(), price, seller.as_str()),
        (ASIN, dec("134.99"), RIVAL)
    );
    assert_eq!(
        (buy_box_price, buy_box_seller.as_str(), bsr),
        (dec("129.99"), OWN, 412)
    );
    let offers: Vec<(String, bool, Decimal, bool, bool)> = sqlx::query_as(
        "select seller_id, is_own, landed_price, is_buy_box, is_fulfilled_by_amazon
         from competitors.offers where item_condition = 'new' order by seller_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        offers,
        [
            (OWN.to_owned(), true, dec("129.99"), true, false),
            (RIVAL.to_owned(), false, dec("134.99"), false, true),
            (BUDGET.to_owned(), false, dec("144.99"), false, false),
        ]
    );
    let history: Vec<(Decimal, Decimal, String)> =
        sqlx::query_as("select price, buy_box_price, source from competitors.price_history")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        history,
        [(dec("134.99"), dec("129.99"), "sp_api".to_owned())]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn each_change_raises_its_alert_with_its_severity_and_the_listings_it_affects(pool: PgPool) {
    let drill = listing(&pool, "DRILL-18V", ASIN).await;
    record(
        &pool,
        &notification(
            "2026-03-02T14:00:00Z",
            json!([
                offer(OWN, "129.99", true),
                offer(RIVAL, "134.99", false),
                offer(BUDGET, "144.99", false),
                out_of_stock("A4SLEEPYSHOP0", "150.00")
            ]),
        ),
    )
    .await;

    // The rival undercuts and takes the buy box, the budget shop runs out, the sleepy
    // shop is back, dearer than the seller, and a new seller arrives below everyone.
    let recorded = record(
        &pool,
        &notification(
            "2026-03-02T15:00:00Z",
            json!([
                offer(OWN, "129.99", false),
                offer(RIVAL, "119.99", true),
                out_of_stock(BUDGET, "144.99"),
                offer("A4SLEEPYSHOP0", "150.00", false),
                offer("A5NEWCOMER000", "118.00", false)
            ]),
        ),
    )
    .await;

    assert_eq!(recorded.affected_listing_ids, [drill]);
    let t1 = alerts(&pool).await;
    assert_eq!(
        t1,
        [
            alert(
                "back_in_stock",
                "low",
                Some("A4SLEEPYSHOP0"),
                Some("out of stock"),
                Some("150.00"),
                None
            ),
            alert(
                "buy_box_lost",
                "critical",
                Some(RIVAL),
                Some(OWN),
                Some(RIVAL),
                None
            ),
            alert(
                "new_competitor",
                "high",
                Some("A5NEWCOMER000"),
                None,
                Some("118.00"),
                None
            ),
            alert(
                "out_of_stock",
                "low",
                Some(BUDGET),
                Some("144.99"),
                Some("out of stock"),
                None
            ),
            // 134.99 → 119.99 is −11.11 %: over twice the 5 % threshold, and under the seller.
            alert(
                "price_drop",
                "high",
                Some(RIVAL),
                Some("134.99"),
                Some("119.99"),
                Some("-11.11")
            ),
        ]
    );
    let affected: Vec<Vec<Uuid>> =
        sqlx::query_scalar("select distinct affected_listing_ids from competitors.alerts")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(affected, [vec![drill]]);

    // The seller wins the buy box back; the rival raises its price 6 % (it held the buy
    // box: medium); the newcomer leaves the complete list while it was the lowest
    // competing offer (medium).
    record(
        &pool,
        &notification(
            "2026-03-02T16:00:00Z",
            json!([
                offer(OWN, "117.50", true),
                offer(RIVAL, "127.19", false),
                out_of_stock(BUDGET, "144.99"),
                offer("A4SLEEPYSHOP0", "150.00", false)
            ]),
        ),
    )
    .await;
    let t2: Vec<AlertRow> = alerts(&pool).await.split_off(t1.len());
    assert_eq!(
        t2,
        [
            alert(
                "buy_box_won",
                "low",
                Some(RIVAL),
                Some(RIVAL),
                Some(OWN),
                None
            ),
            alert(
                "out_of_stock",
                "medium",
                Some("A5NEWCOMER000"),
                Some("118.00"),
                Some("out of stock"),
                None
            ),
            alert(
                "price_increase",
                "medium",
                Some(RIVAL),
                Some("119.99"),
                Some("127.19"),
                Some("6.00")
            ),
        ]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_sellers_own_offers_are_never_competitors(pool: PgPool) {
    listing(&pool, "DRILL-18V", ASIN).await;
    // A second merchant account of the seller's, named in the settings.
    sqlx::query(
        "update ops.settings set value = '[\"A9SELLEROPSUS\"]' where key = 'pricing.own_seller_ids'",
    )
    .execute(&pool)
    .await
    .unwrap();
    record(
        &pool,
        &notification(
            "2026-03-02T14:00:00Z",
            json!([offer(OWN, "129.99", true), offer(RIVAL, "134.99", false)]),
        ),
    )
    .await;

    // The seller's second account appears far below, and its first drops 30 %.
    let recorded = record(
        &pool,
        &notification(
            "2026-03-02T15:00:00Z",
            json!([
                offer(OWN, "90.00", true),
                offer("A9SELLEROPSUS", "80.00", false),
                offer(RIVAL, "134.99", false)
            ]),
        ),
    )
    .await;

    assert!(recorded.alerts.is_empty(), "{:?}", recorded.alerts);
    let own: Vec<(String, bool)> =
        sqlx::query_as("select seller_id, is_own from competitors.offers order by seller_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        own,
        [
            (OWN.to_owned(), true),
            (RIVAL.to_owned(), false),
            ("A9SELLEROPSUS".to_owned(), true)
        ]
    );
    let lowest: Decimal = sqlx::query_scalar("select current_price from competitors.products")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(lowest, dec("134.99"));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_price_alert_threshold_comes_from_the_settings(pool: PgPool) {
    listing(&pool, "DRILL-18V", ASIN).await;
    sqlx::query(
        "update ops.settings set value = '12.5' where key = 'competitors.price_alert_threshold_pct'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let before = json!([offer(OWN, "129.99", true), offer(RIVAL, "200.00", false)]);
    record(&pool, &notification("2026-03-02T14:00:00Z", before)).await;

    // −12 % is under the seller's 12.5 %; −12.5 % is not.
    let small = json!([offer(OWN, "129.99", true), offer(RIVAL, "176.00", false)]);
    assert!(record(&pool, &notification("2026-03-02T15:00:00Z", small))
        .await
        .alerts
        .is_empty());
    let enough = json!([offer(OWN, "129.99", true), offer(RIVAL, "154.00", false)]);
    let recorded = record(&pool, &notification("2026-03-02T16:00:00Z", enough)).await;
    assert_eq!(recorded.alerts.len(), 1);
    assert_eq!(recorded.alerts[0].change_pct, Some(dec("-12.50")));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_redelivered_or_older_notification_changes_nothing(pool: PgPool) {
    let drill = listing(&pool, "DRILL-18V", ASIN).await;
    let first = notification("2026-03-02T14:00:00Z", Value::Null);
    let second = notification(
        "2026-03-02T15:00:00Z",
        json!([offer(OWN, "129.99", false), offer(RIVAL, "99.00", true)]),
    );
    record(&pool, &first).await;
    record(&pool, &second).await;
    let snapshot_of_tables = || async {
        let rows: Vec<(String,)> = sqlx::query_as(
            "select row_to_json(t)::text from (
                 select p.current_price, p.buy_box_seller, p.updated_at,
                        (select json_agg(o order by o.seller_id) from competitors.offers o) as offers,
                        (select json_agg(h order by h.observed_at) from competitors.price_history h) as history,
                        (select json_agg(a order by a.id) from competitors.alerts a) as alerts
                 from competitors.products p) t",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        rows
    };
    let before = snapshot_of_tables().await;
    assert_eq!(counts(&pool).await, (1, 3, 2, 3));

    let again = record(&pool, &second).await;
    let older = record(&pool, &first).await;

    assert!(again.stale && older.stale);
    assert!(again.alerts.is_empty() && older.alerts.is_empty());
    // Re-evaluating is harmless, and finishes the work of an attempt that failed after
    // recording.
    assert_eq!(again.affected_listing_ids, [drill]);
    assert_eq!(snapshot_of_tables().await, before);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn two_deliveries_of_one_notification_at_once_record_it_once(pool: PgPool) {
    listing(&pool, "DRILL-18V", ASIN).await;
    record(&pool, &notification("2026-03-02T14:00:00Z", Value::Null)).await;
    let change = notification(
        "2026-03-02T15:00:00Z",
        json!([offer(OWN, "129.99", false), offer(RIVAL, "99.00", true)]),
    );

    let (one, two) = tokio::join!(record(&pool, &change), record(&pool, &change));

    assert_eq!(
        [one.stale, two.stale]
            .iter()
            .filter(|stale| **stale)
            .count(),
        1
    );
    assert_eq!(one.alerts.len() + two.alerts.len(), 3);
    assert_eq!(counts(&pool).await, (1, 3, 2, 3));
}

#[test]
fn a_bad_notification_is_refused_naming_the_field() {
    let mut document = notification("2026-03-02T14:00:00Z", Value::Null);
    document["Payload"]["AnyOfferChangedNotification"]["Offers"][2]["ListingPrice"]["Amount"] =
        json!("139,00");
    let refusal = AnyOfferChanged::parse(&document.to_string())
        .expect_err("a price with a comma accepted")
        .to_string();
    assert_eq!(
        refusal,
        "Payload.AnyOfferChangedNotification.Offers[2].ListingPrice.Amount: \
         expected an amount as a plain decimal, got \"139,00\""
    );

    let mut document = notification("2026-03-02T14:00:00Z", Value::Null);
    document["Payload"]["AnyOfferChangedNotification"]["OfferChangeTrigger"]
        .as_object_mut()
        .unwrap()
        .remove("TimeOfOfferChange");
    assert_eq!(
        AnyOfferChanged::parse(&document.to_string())
            .unwrap_err()
            .to_string(),
        "Payload.AnyOfferChangedNotification.OfferChangeTrigger: missing field `TimeOfOfferChange`"
    );
}

#[test]
fn the_sqs_event_fixture_carries_the_notification_as_its_body() {
    let event: Value =
        serde_json::from_str(&fixtures::text("events/sqs-any-offer-changed.json")).unwrap();
    let body = event["Records"][0]["body"].as_str().unwrap();
    let parsed = AnyOfferChanged::parse(body).unwrap();
    assert_eq!(parsed.change().offer_change_trigger.asin, ASIN);
    assert_eq!(parsed.change().offers.len(), 3);
}
