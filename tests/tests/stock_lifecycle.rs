//! Stock follows the order's life: reservations come back when the marketplace cancels,
//! refuses or refunds, leave `on_hand` once when the order ships, and expire when the
//! order never progresses; the daily sales aggregates count only what sold.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use secrecy::SecretString;
use sellerops::flows::fulfilment::acceptance::Acceptance;
use sellerops::flows::fulfilment::stock::{self, OrderLine};
use sellerops::flows::fulfilment::OrderMessage;
use sellerops::flows::marketplace_sync::MarketplaceSync;
use sellerops::flows::sales_aggregates::refresh_stale_days;
use sellerops::ops::config::MarketplaceSyncSettings;
use sellerops::ops::config::DEFAULT_RESERVATION_HOLD;
use sellerops::ops::retry::RetryPolicy;
use sellerops::systems::mirakl::MiraklClient;
use sellerops_tests::fixtures;
use sellerops_tests::fulfilment::{listed_variant, mirakl, stock_of, FAST_RETRY};
use sellerops_tests::marketplace::{
    deliver, deliver_mirakl, mirakl_order, pepper, shopify_headers, webhook_service,
};
use sellerops_tests::pricing::queued_reevaluations;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ORDER: &str = "BBY-20260302-0001-A";
const LAPTOP: &str = "RF-T480-I5-16-512";
const CHARGER: &str = "RF-CHARGER-65W-USBC";
const HOLD: Duration = Duration::from_secs(72 * 3600);

/// The fixture order (a laptop, two chargers) in `state` at `at`, lines in the same state,
/// then changed by `edit`.
fn order(state: &str, at: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut order: Value = serde_json::from_str(&mirakl_order(ORDER, state, at)).unwrap();
    edit(&mut order);
    order.to_string()
}

/// The laptop (3 on hand) and the charger (5 on hand), listed on Best Buy.
async fn catalogue(pool: &PgPool) -> (Uuid, Uuid) {
    (
        listed_variant(pool, LAPTOP, Some(3)).await,
        listed_variant(pool, CHARGER, Some(5)).await,
    )
}

/// Reserves the recorded order's lines as accepting it does.
async fn reserve(pool: &PgPool, external_id: &str) {
    let rows: Vec<(Uuid, Option<String>, String, i32)> = sqlx::query_as(
        "select l.id, l.external_line_id, l.sku, l.quantity
         from sales.order_lines l join sales.orders o on o.id = l.order_id
         where o.external_id = $1 order by l.line_number",
    )
    .bind(external_id)
    .fetch_all(pool)
    .await
    .unwrap();
    let lines: Vec<OrderLine> = rows
        .into_iter()
        .map(|(id, external_line_id, sku, quantity)| OrderLine {
            id,
            external_line_id,
            sku,
            quantity,
        })
        .collect();
    let mut tx = pool.begin().await.unwrap();
    let fills = stock::reserve_lines(&mut tx, "bestbuy_ca", &lines, HOLD)
        .await
        .unwrap()
        .unwrap();
    assert!(fills.iter().all(|fill| fill.reserved), "{fills:?}");
    tx.commit().await.unwrap();
}

/// (line id, state, release reason) of the order's reservations, as
/// `inventory.order_reservations` shows them.
async fn reservations(pool: &PgPool, external_id: &str) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as(
        "select external_line_id, state, release_reason from inventory.order_reservations
         where order_external_id = $1 order by external_line_id",
    )
    .bind(external_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The Best Buy listing of `variant`.
async fn listing_of(pool: &PgPool, variant: Uuid) -> Uuid {
    sqlx::query_scalar("select id from catalog.shop_sku_map where variant_id = $1")
        .bind(variant)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn stock_changed(listings: &[Uuid]) -> (String, Vec<Uuid>) {
    (stock::STOCK_CHANGED.to_owned(), listings.to_vec())
}

fn line(n: u32) -> String {
    format!("{ORDER}-{n}")
}

fn released(n: u32, reason: &str) -> (String, String, Option<String>) {
    (line(n), "released".into(), Some(reason.into()))
}

fn consumed(n: u32) -> (String, String, Option<String>) {
    (line(n), "consumed".into(), Some("shipped".into()))
}

fn poller(server: &MockServer, pool: &PgPool) -> MarketplaceSync {
    MarketplaceSync {
        pool: pool.clone(),
        client: MiraklClient::new(
            &server.uri(),
            SecretString::from("shop-key"),
            None,
            pool.clone(),
        )
        .unwrap(),
        pepper: pepper(),
        settings: MarketplaceSyncSettings::default(),
        retry: RetryPolicy {
            attempts: 1,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
        },
        shopify: None,
        freshdesk: None,
    }
}

/// A Mirakl that lists `orders` on OR11 and has no threads.
async fn mirakl_listing(orders: &[String]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!(
                r#"{{"orders":[{}],"total_count":{}}}"#,
                orders.join(","),
                orders.len()
            ),
            "application/json",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/inbox/threads"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "data": [] })))
        .mount(&server)
        .await;
    server
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// (units, revenue) of the day's aggregates, all products together, read as a report
/// does: through `analytics.fresh_sales_aggregates_daily`, exact as of the read.
async fn day_sales(pool: &PgPool, day: &str) -> (i64, Decimal) {
    sqlx::query_as(
        "select coalesce(sum(units), 0)::bigint, coalesce(sum(revenue), 0)
         from analytics.fresh_sales_aggregates_daily($1::date, $1::date + 1)",
    )
    .bind(day)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// (units, revenue) of the day as the table holds it now, with no refresh first.
async fn stored_day_sales(pool: &PgPool, day: &str) -> (i64, Decimal) {
    sqlx::query_as(
        "select coalesce(sum(units), 0)::bigint, coalesce(sum(revenue), 0)
         from analytics.sales_aggregates_daily where day = $1::date",
    )
    .bind(day)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The days noted for the aggregates' next refresh, one per note.
async fn noted_days(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("select day::text from analytics.sales_days_to_refresh order by day")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_accepted_order_cancelled_on_mirakl_gives_its_stock_back_as_it_is_recorded(
    pool: PgPool,
) {
    // Arrange: accepted, its stock reserved.
    let (laptop, charger) = catalogue(&pool).await;
    let service = webhook_service(&pool, None);
    deliver_mirakl(
        &service,
        &[&mirakl_order(
            ORDER,
            "WAITING_ACCEPTANCE",
            "2026-03-02T14:18:45Z",
        )],
    )
    .await;
    reserve(&pool, ORDER).await;
    assert_eq!(stock_of(&pool, laptop).await, (3, 1));

    // Act: the customer cancels before it is debited.
    let answer = deliver_mirakl(
        &service,
        &[&mirakl_order(ORDER, "CANCELED", "2026-03-02T16:00:00Z")],
    )
    .await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(stock_of(&pool, laptop).await, (3, 0));
    assert_eq!(stock_of(&pool, charger).await, (5, 0));
    assert_eq!(
        reservations(&pool, ORDER).await,
        [released(1, "cancelled"), released(2, "cancelled")]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_poll_that_sees_the_order_refused_gives_its_stock_back(pool: PgPool) {
    // Arrange
    let (laptop, _) = catalogue(&pool).await;
    let service = webhook_service(&pool, None);
    deliver_mirakl(
        &service,
        &[&mirakl_order(
            ORDER,
            "WAITING_ACCEPTANCE",
            "2026-03-02T14:18:45Z",
        )],
    )
    .await;
    reserve(&pool, ORDER).await;
    let server = mirakl_listing(&[mirakl_order(ORDER, "REFUSED", "2026-03-02T15:00:00Z")]).await;

    // Act
    let tally = poller(&server, &pool)
        .sync_orders(at("2026-03-02T16:00:00Z"))
        .await
        .unwrap();

    // Assert
    assert_eq!(tally.changed, 1);
    assert_eq!(stock_of(&pool, laptop).await, (3, 0));
    assert_eq!(
        reservations(&pool, ORDER).await,
        [released(1, "refused"), released(2, "refused")]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_cancelled_line_and_a_line_refunded_in_full_give_back_only_their_own_stock(pool: PgPool) {
    // Arrange: debited, both lines reserved.
    let (laptop, charger) = catalogue(&pool).await;
    let service = webhook_service(&pool, None);
    deliver_mirakl(
        &service,
        &[&mirakl_order(ORDER, "SHIPPING", "2026-03-02T15:00:00Z")],
    )
    .await;
    reserve(&pool, ORDER).await;

    // Act 1: the chargers' line is cancelled; the order stands.
    let one_line_cancelled = order("SHIPPING", "2026-03-02T16:00:00Z", |order| {
        order["order_lines"][1]["order_line_state"] = "CANCELED".into();
    });
    deliver_mirakl(&service, &[&one_line_cancelled]).await;

    // Assert 1
    assert_eq!(stock_of(&pool, charger).await, (5, 0));
    assert_eq!(stock_of(&pool, laptop).await, (3, 1));

    // Act 2: the laptop is refunded in full before it ships; the line stays SHIPPING.
    let laptop_refunded = order("SHIPPING", "2026-03-02T17:00:00Z", |order| {
        order["order_lines"][1]["order_line_state"] = "CANCELED".into();
        order["order_lines"][0]["refunds"] = serde_json::json!([{
            "id": "R-1", "quantity": 1, "amount": 479.99, "refund_state": "WAITING_REFUND"
        }]);
    });
    deliver_mirakl(&service, &[&laptop_refunded]).await;

    // Assert 2
    assert_eq!(stock_of(&pool, laptop).await, (3, 0));
    assert_eq!(
        reservations(&pool, ORDER).await,
        [released(1, "refunded"), released(2, "cancelled")]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn stock_reserved_or_given_back_queues_a_price_re_evaluation_of_exactly_its_listings(
    pool: PgPool,
) {
    // Arrange: debited, nothing reserved yet.
    let (laptop, charger) = catalogue(&pool).await;
    let (laptop_listing, charger_listing) = (
        listing_of(&pool, laptop).await,
        listing_of(&pool, charger).await,
    );
    let mut both = vec![laptop_listing, charger_listing];
    both.sort();
    let service = webhook_service(&pool, None);
    deliver_mirakl(
        &service,
        &[&mirakl_order(ORDER, "SHIPPING", "2026-03-02T15:00:00Z")],
    )
    .await;
    assert_eq!(queued_reevaluations(&pool).await, []);

    // Act 1: accepting reserves the laptop and the chargers.
    reserve(&pool, ORDER).await;

    // Assert 1
    assert_eq!(queued_reevaluations(&pool).await, [stock_changed(&both)]);

    // Act 2: the chargers' line is cancelled, and Mirakl's delivery comes twice.
    let one_line_cancelled = order("SHIPPING", "2026-03-02T16:00:00Z", |order| {
        order["order_lines"][1]["order_line_state"] = "CANCELED".into();
    });
    deliver_mirakl(&service, &[&one_line_cancelled]).await;
    deliver_mirakl(&service, &[&one_line_cancelled]).await;

    // Assert 2: the chargers' stock came back once, and only their listing is re-evaluated.
    assert_eq!(stock_of(&pool, charger).await, (5, 0));
    assert_eq!(
        queued_reevaluations(&pool).await,
        [stock_changed(&both), stock_changed(&[charger_listing])]
    );

    // Act 3: the laptop ships; its units leave the shelf and the reservation together.
    let shipped = order("SHIPPED", "2026-03-03T09:00:00Z", |order| {
        order["order_lines"][1]["order_line_state"] = "CANCELED".into();
    });
    deliver_mirakl(&service, &[&shipped]).await;

    // Assert 3: the available units did not change, so nothing more is queued.
    assert_eq!(stock_of(&pool, laptop).await, (2, 0));
    assert_eq!(queued_reevaluations(&pool).await.len(), 2);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn shipped_units_leave_on_hand_once_whichever_path_sees_the_shipment(pool: PgPool) {
    // Arrange
    let (laptop, charger) = catalogue(&pool).await;
    let service = webhook_service(&pool, None);
    deliver_mirakl(
        &service,
        &[&mirakl_order(ORDER, "SHIPPING", "2026-03-02T15:00:00Z")],
    )
    .await;
    reserve(&pool, ORDER).await;
    let order_id: Uuid = sqlx::query_scalar("select id from sales.orders where external_id = $1")
        .bind(ORDER)
        .fetch_one(&pool)
        .await
        .unwrap();

    // Act: Mirakl shows it shipped (the webhook), the label flow finishes too, and the
    // customer's receipt comes later.
    deliver_mirakl(
        &service,
        &[&mirakl_order(ORDER, "SHIPPED", "2026-03-03T09:00:00Z")],
    )
    .await;
    let mut tx = pool.begin().await.unwrap();
    let by_label_flow = stock::consume_reservations(&mut tx, order_id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    deliver_mirakl(
        &service,
        &[&mirakl_order(ORDER, "RECEIVED", "2026-03-06T09:00:00Z")],
    )
    .await;

    // Assert
    assert_eq!(
        by_label_flow, 0,
        "already consumed when the webhook saw SHIPPED"
    );
    assert_eq!(stock_of(&pool, laptop).await, (2, 0));
    assert_eq!(stock_of(&pool, charger).await, (3, 0));
    assert_eq!(reservations(&pool, ORDER).await, [consumed(1), consumed(2)]);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_reservation_holds_stock_for_the_configured_time(pool: PgPool) {
    catalogue(&pool).await;
    let service = webhook_service(&pool, None);
    deliver_mirakl(
        &service,
        &[&mirakl_order(
            ORDER,
            "WAITING_ACCEPTANCE",
            "2026-03-02T14:18:45Z",
        )],
    )
    .await;

    reserve(&pool, ORDER).await;

    let held: Vec<f64> = sqlx::query_scalar(
        "select extract(epoch from expires_at - reserved_at)::float8
         from inventory.stock_reservations",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(held.len(), 2);
    for seconds in held {
        assert!((seconds - HOLD.as_secs_f64()).abs() < 5.0, "{seconds}");
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn each_poller_run_releases_expired_reservations_of_orders_that_never_progressed(
    pool: PgPool,
) {
    // Arrange: three accepted orders for one laptop each; two held past their time, of
    // which one has been debited since.
    let laptop = listed_variant(&pool, LAPTOP, Some(3)).await;
    let service = webhook_service(&pool, None);
    let laptop_only = |id: &str, state: &str| {
        let mut order: Value =
            serde_json::from_str(&mirakl_order(id, state, "2026-03-02T15:00:00Z")).unwrap();
        order["order_lines"].as_array_mut().unwrap().truncate(1);
        order.to_string()
    };
    for (id, state) in [
        ("BBY-STUCK-A", "WAITING_DEBIT"),
        ("BBY-DEBITED-A", "SHIPPING"),
        ("BBY-FRESH-A", "WAITING_DEBIT"),
    ] {
        deliver_mirakl(&service, &[&laptop_only(id, state)]).await;
        reserve(&pool, id).await;
    }
    sqlx::query(
        "update inventory.stock_reservations r set expires_at = now() - interval '1 minute'
         from sales.order_lines l join sales.orders o on o.id = l.order_id
         where l.id = r.order_line_id and o.external_id in ('BBY-STUCK-A', 'BBY-DEBITED-A')",
    )
    .execute(&pool)
    .await
    .unwrap();
    // The stuck and the fresh order's decisions were stored, never sent.
    sqlx::query(
        "insert into sales.order_acceptances (order_id, lines)
         select id, '[]'::jsonb from sales.orders where external_id in ('BBY-STUCK-A', 'BBY-FRESH-A')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let server = mirakl_listing(&[]).await;

    // Act
    let report = poller(&server, &pool)
        .run(at("2026-03-05T12:00:00Z"), None)
        .await
        .unwrap();

    // Assert
    assert_eq!(report.expired_reservations, 1);
    assert_eq!(stock_of(&pool, laptop).await, (3, 2));
    let states: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "select order_external_id, state, release_reason from inventory.order_reservations
         order by order_external_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        states,
        [
            ("BBY-DEBITED-A".into(), "open".into(), None),
            ("BBY-FRESH-A".into(), "open".into(), None),
            (
                "BBY-STUCK-A".into(),
                "released".into(),
                Some("expired".into())
            ),
        ]
    );
    let decided: Vec<String> = sqlx::query_scalar(
        "select o.external_id from sales.order_acceptances a
         join sales.orders o on o.id = a.order_id order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(decided, ["BBY-FRESH-A"], "the stuck decision is withdrawn");
    let queued = queued_reevaluations(&pool).await;
    let laptop_listing = listing_of(&pool, laptop).await;
    assert_eq!(
        queued,
        vec![stock_changed(&[laptop_listing]); 4],
        "three reservations and one release"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_best_buy_order_counts_in_its_day_and_its_cancellation_takes_it_out(pool: PgPool) {
    // Arrange
    catalogue(&pool).await;
    let service = webhook_service(&pool, None);

    // Act 1
    deliver_mirakl(
        &service,
        &[&mirakl_order(ORDER, "SHIPPING", "2026-03-02T15:00:00Z")],
    )
    .await;

    // Assert 1: a laptop and two chargers.
    assert_eq!(
        day_sales(&pool, "2026-03-02").await,
        (3, Decimal::new(51997, 2))
    );

    // Act 2
    deliver_mirakl(
        &service,
        &[&mirakl_order(ORDER, "CANCELED", "2026-03-02T16:00:00Z")],
    )
    .await;

    // Assert 2
    assert_eq!(day_sales(&pool, "2026-03-02").await, (0, Decimal::ZERO));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn deliveries_note_their_day_and_the_sweep_recomputes_it_once_for_all_of_them(pool: PgPool) {
    // Arrange
    catalogue(&pool).await;
    let service = webhook_service(&pool, None);
    let shipping = mirakl_order(ORDER, "SHIPPING", "2026-03-02T15:00:00Z");
    let second = mirakl_order("BBY-20260302-0002-A", "SHIPPING", "2026-03-02T15:05:00Z");

    // Act 1: an order, the same delivery again, and a second order of the day.
    deliver_mirakl(&service, &[&shipping]).await;
    let again = deliver_mirakl(&service, &[&shipping]).await;
    deliver_mirakl(&service, &[&second]).await;

    // Assert 1: the table waits for a refresh; each delivery recorded noted the day.
    assert_eq!(again.body["status"], "duplicate", "{}", again.body);
    assert_eq!(
        stored_day_sales(&pool, "2026-03-02").await,
        (0, Decimal::ZERO)
    );
    assert_eq!(noted_days(&pool).await, ["2026-03-02", "2026-03-02"]);

    // Act 2: the sync's sweep.
    let refreshed = refresh_stale_days(&pool).await.unwrap();

    // Assert 2: one recompute of the day, both orders in it once.
    assert_eq!(refreshed, 1);
    assert_eq!(
        stored_day_sales(&pool, "2026-03-02").await,
        (6, Decimal::new(51997, 2) * Decimal::from(2))
    );
    assert!(noted_days(&pool).await.is_empty());

    // Act 3: the first order is cancelled; the cancellation is delivered twice.
    let cancelled = mirakl_order(ORDER, "CANCELED", "2026-03-02T16:00:00Z");
    deliver_mirakl(&service, &[&cancelled]).await;
    deliver_mirakl(&service, &[&cancelled]).await;

    // Assert 3: out of its day for a reader at once, and for the table once swept.
    assert_eq!(
        stored_day_sales(&pool, "2026-03-02").await,
        (6, Decimal::new(51997, 2) * Decimal::from(2)),
        "the table keeps the day as last refreshed"
    );
    assert_eq!(
        day_sales(&pool, "2026-03-02").await,
        (3, Decimal::new(51997, 2))
    );
    assert!(noted_days(&pool).await.is_empty(), "the read took the note");
    assert_eq!(refresh_stale_days(&pool).await.unwrap(), 0);
    assert_eq!(
        stored_day_sales(&pool, "2026-03-02").await,
        (3, Decimal::new(51997, 2))
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_cancelled_or_refused_line_does_not_count_in_its_day(pool: PgPool) {
    catalogue(&pool).await;
    let service = webhook_service(&pool, None);

    let chargers_cancelled = order("SHIPPING", "2026-03-02T16:00:00Z", |order| {
        order["order_lines"][1]["order_line_state"] = "REFUSED".into();
    });
    deliver_mirakl(&service, &[&chargers_cancelled]).await;

    assert_eq!(
        day_sales(&pool, "2026-03-02").await,
        (1, Decimal::new(47999, 2))
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_shopify_order_counts_in_its_day_as_it_is_recorded(pool: PgPool) {
    // Arrange: the laptop is listed on Shopify too.
    let laptop = listed_variant(&pool, LAPTOP, Some(3)).await;
    sqlx::query(
        "insert into catalog.shop_sku_map (channel, shop_sku, variant_id) values ('shopify', $1, $2)",
    )
    .bind(LAPTOP)
    .bind(laptop)
    .execute(&pool)
    .await
    .unwrap();
    let service = webhook_service(&pool, None);
    let body = fixtures::text("shopify/order_created.json");

    // Act
    let answer = deliver(
        &service,
        "shopify",
        &shopify_headers("orders/create", "wh-1", &body),
        &body,
    )
    .await;

    // Assert
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        day_sales(&pool, "2026-03-03").await,
        (1, Decimal::new(49999, 2))
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_order_cancelled_while_its_acceptance_is_on_its_way_stays_cancelled_without_a_label(
    pool: PgPool,
) {
    // Arrange: decided and reserved; OR21's first answer is lost (500).
    let (laptop, _) = catalogue(&pool).await;
    let service = webhook_service(&pool, None);
    deliver_mirakl(
        &service,
        &[&mirakl_order(
            ORDER,
            "WAITING_ACCEPTANCE",
            "2026-03-02T14:18:45Z",
        )],
    )
    .await;
    let order_id: Uuid = sqlx::query_scalar("select id from sales.orders where external_id = $1")
        .bind(ORDER)
        .fetch_one(&pool)
        .await
        .unwrap();
    let message = OrderMessage::best_buy(order_id, ORDER);
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(format!("/api/orders/{ORDER}/accept")))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let client = mirakl(&server.uri(), &pool);
    let acceptance = Acceptance {
        pool: &pool,
        mirakl: &client,
        retry: FAST_RETRY,
        reservation_hold: DEFAULT_RESERVATION_HOLD,
    };
    acceptance.handle(&message).await.unwrap_err();
    assert_eq!(stock_of(&pool, laptop).await, (3, 1));
    // The customer cancels; the webhook records it and gives the stock back.
    deliver_mirakl(
        &service,
        &[&mirakl_order(ORDER, "CANCELED", "2026-03-02T14:30:00Z")],
    )
    .await;
    server.reset().await;
    Mock::given(method("PUT"))
        .and(path(format!("/api/orders/{ORDER}/accept")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;

    // Act: the retry sends the stored decision and Mirakl takes it.
    acceptance.handle(&message).await.unwrap();

    // Assert
    let status: String = sqlx::query_scalar("select status from sales.orders where id = $1")
        .bind(order_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "CANCELED");
    let labels: i64 =
        sqlx::query_scalar("select count(*) from ops.outbox where queue_name = 'label'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(labels, 0);
    assert_eq!(stock_of(&pool, laptop).await, (3, 0));
    assert_eq!(
        reservations(&pool, ORDER).await,
        [released(1, "cancelled"), released(2, "cancelled")]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn concurrent_deliveries_meeting_two_days_in_opposite_orders_each_count_once(pool: PgPool) {
    // Arrange: per round, two deliveries of two orders each, one placed on 2 March and
    // one on 3 March, listed in opposite orders; every order has its own customer, so
    // the deliveries share nothing but their days.
    catalogue(&pool).await;
    let service = webhook_service(&pool, None);
    let placed_on = |id: &str, day: &str| {
        let mut order: Value = serde_json::from_str(&mirakl_order(
            id,
            "WAITING_ACCEPTANCE",
            "2026-03-04T10:00:00Z",
        ))
        .unwrap();
        order["created_date"] = format!("{day}T12:00:00Z").into();
        order["customer"]["customer_id"] = format!("CUST-{id}").into();
        order["customer_notification_email"] = format!("{id}@relay.example").into();
        order.to_string()
    };
    const ROUNDS: i64 = 6;

    // Act
    for round in 0..ROUNDS {
        let march_2_first = [
            placed_on(&format!("BBY-R{round}-A"), "2026-03-02"),
            placed_on(&format!("BBY-R{round}-B"), "2026-03-03"),
        ];
        let march_3_first = [
            placed_on(&format!("BBY-R{round}-C"), "2026-03-03"),
            placed_on(&format!("BBY-R{round}-D"), "2026-03-02"),
        ];
        let first_delivery = [march_2_first[0].as_str(), march_2_first[1].as_str()];
        let second_delivery = [march_3_first[0].as_str(), march_3_first[1].as_str()];
        let (first, second) = futures::join!(
            deliver_mirakl(&service, &first_delivery),
            deliver_mirakl(&service, &second_delivery),
        );

        // Assert: neither delivery was aborted.
        assert_eq!(first.status, 200, "round {round}: {}", first.body);
        assert_eq!(second.status, 200, "round {round}: {}", second.body);
    }

    // Assert: every order recorded once and counted once in its day.
    let orders: i64 = sqlx::query_scalar("select count(*) from sales.orders")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(orders, 4 * ROUNDS);
    for day in ["2026-03-02", "2026-03-03"] {
        assert_eq!(
            day_sales(&pool, day).await,
            (
                3 * 2 * ROUNDS,
                Decimal::new(51997, 2) * Decimal::from(2 * ROUNDS)
            ),
            "{day}"
        );
    }
}
