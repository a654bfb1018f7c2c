//! The recording path: Mirakl orders and threads into the canonical tables, and the
//! follow-up work they queue.

use rust_decimal::Decimal;
use sellerops::flows::recording::mirakl::record_mirakl_thread;
use sellerops::model::received::Received;
use sellerops_tests::fixtures;
use sellerops_tests::marketplace::{deliver_mirakl, mirakl_order, webhook_service};
use sqlx::PgPool;
use std::str::FromStr;

const ORDER: &str = "BBY-20260302-0001-A";

async fn outbox(pool: &PgPool) -> Vec<(String, String, serde_json::Value)> {
    sqlx::query_as("select queue_name, dedup_id, message_body from ops.outbox order by created_at")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn data_problems(pool: &PgPool) -> Vec<(String, String, String, Option<String>)> {
    sqlx::query_as(
        "select field, kind, sent_value, expected_value from ops.data_problems
         where channel = 'bestbuy_ca' order by field desc",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn history(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "select status from sales.order_status_history order by changed_at, created_at",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_waiting_order_is_recorded_with_its_lines_customer_history_and_acceptance_request(
    pool: PgPool,
) {
    let service = webhook_service(&pool, None);

    let answer = deliver_mirakl(
        &service,
        &[&fixtures::text("mirakl/order_waiting_acceptance.json")],
    )
    .await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    let (order_id, status, total, city, country, customer): (
        uuid::Uuid,
        String,
        Decimal,
        String,
        String,
        uuid::Uuid,
    ) = sqlx::query_as(
        "select id, status, total_amount, shipping_city, shipping_country_code, customer_id
         from sales.orders where channel = 'bestbuy_ca' and external_id = $1",
    )
    .bind(ORDER)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(status, "WAITING_ACCEPTANCE");
    assert_eq!(total, Decimal::from_str("519.97").unwrap());
    assert_eq!((city.as_str(), country.as_str()), ("Montréal", "CA"));
    let lines: Vec<(i32, String, i32)> = sqlx::query_as(
        "select line_number, sku, quantity from sales.order_lines where order_id = $1
         order by line_number",
    )
    .bind(order_id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1], (2, "RF-CHARGER-65W-USBC".to_owned(), 2));
    let external: String =
        sqlx::query_scalar("select external_id from sales.customers where id = $1")
            .bind(customer)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(external, "BBY-CUST-558201");
    assert_eq!(history(&pool).await, ["WAITING_ACCEPTANCE"]);
    let queued = outbox(&pool).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].0, "accept");
    assert_eq!(queued[0].1, format!("accept:bestbuy_ca:{ORDER}"));
    assert_eq!(
        queued[0].2,
        serde_json::json!({ "order_id": order_id, "channel": "bestbuy_ca", "external_id": ORDER })
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn money_sent_as_json_numbers_stays_exact_to_the_cent(pool: PgPool) {
    let service = webhook_service(&pool, None);

    deliver_mirakl(
        &service,
        &[&fixtures::text("mirakl/order_waiting_acceptance.json")],
    )
    .await;

    let (unit, total, tax): (Decimal, Decimal, Decimal) = sqlx::query_as(
        "select unit_price, line_total, tax_amount from sales.order_lines where sku = $1",
    )
    .bind("RF-CHARGER-65W-USBC")
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(unit.to_string(), "19.99");
    assert_eq!(total.to_string(), "39.98");
    assert_eq!(tax.to_string(), "5.99");
    let raw_unit: String = sqlx::query_scalar(
        "select raw_payload -> 'order_lines' -> 1 ->> 'price_unit' from sales.orders",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(raw_unit, "19.99");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_customer_email_is_hashed_and_no_address_is_stored_anywhere(pool: PgPool) {
    let service = webhook_service(&pool, None);

    deliver_mirakl(
        &service,
        &[&fixtures::text("mirakl/order_waiting_acceptance.json")],
    )
    .await;

    let hashed: bool =
        sqlx::query_scalar("select octet_length(email_hash) = 32 from sales.customers")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(hashed);
    let leaks: i64 = sqlx::query_scalar(
        "select (select count(*) from sales.orders where ops.contains_email_address(raw_payload::text))
              + (select count(*) from ops.inbox where ops.contains_email_address(body::text))",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(leaks, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_mapped_shop_sku_finds_its_variant_and_an_unknown_one_is_recorded_without(pool: PgPool) {
    let variant: uuid::Uuid = sqlx::query_scalar(
        "with p as (insert into catalog.products (name) values ('ThinkPad T480') returning id)
         insert into catalog.product_variants (product_id, internal_sku)
         select id, 'T480-I5-16-512' from p returning id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into catalog.shop_sku_map (channel, shop_sku, variant_id)
         values ('bestbuy_ca', 'RF-T480-I5-16-512', $1)",
    )
    .bind(variant)
    .execute(&pool)
    .await
    .unwrap();
    let service = webhook_service(&pool, None);

    let answer = deliver_mirakl(
        &service,
        &[&fixtures::text("mirakl/order_waiting_acceptance.json")],
    )
    .await;

    assert_eq!(answer.status, 200);
    let lines: Vec<(String, Option<uuid::Uuid>)> =
        sqlx::query_as("select sku, variant_id from sales.order_lines order by line_number")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(lines[0], ("RF-T480-I5-16-512".to_owned(), Some(variant)));
    assert_eq!(lines[1], ("RF-CHARGER-65W-USBC".to_owned(), None));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_older_update_arriving_late_never_rolls_an_order_back(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let shipped = mirakl_order(ORDER, "SHIPPED", "2026-03-04T10:00:00Z");
    let accepted = mirakl_order(ORDER, "SHIPPING", "2026-03-03T10:00:00Z");

    deliver_mirakl(&service, &[&shipped]).await;
    let late = deliver_mirakl(&service, &[&accepted]).await;

    assert_eq!(late.status, 200);
    let (status, updated): (String, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("select status, last_updated_at from sales.orders")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "SHIPPED");
    assert_eq!(updated.to_rfc3339(), "2026-03-04T10:00:00+00:00");
    assert_eq!(history(&pool).await, ["SHIPPED"]);
    assert!(
        outbox(&pool).await.is_empty(),
        "a stale SHIPPING must not ask for a label"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn history_gets_a_row_only_when_the_state_changes(pool: PgPool) {
    let service = webhook_service(&pool, None);

    for (state, at) in [
        ("WAITING_ACCEPTANCE", "2026-03-02T14:18:45Z"),
        ("WAITING_ACCEPTANCE", "2026-03-02T14:20:00Z"),
        ("SHIPPING", "2026-03-02T15:00:00Z"),
        ("SHIPPING", "2026-03-02T15:05:00Z"),
        ("SHIPPED", "2026-03-03T09:00:00Z"),
    ] {
        let answer = deliver_mirakl(&service, &[&mirakl_order(ORDER, state, at)]).await;
        assert_eq!(answer.status, 200);
    }

    assert_eq!(
        history(&pool).await,
        ["WAITING_ACCEPTANCE", "SHIPPING", "SHIPPED"]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_state_mirakl_adds_later_is_recorded_as_unknown_raised_and_queues_nothing(pool: PgPool) {
    let service = webhook_service(&pool, None);

    let answer = deliver_mirakl(
        &service,
        &[&mirakl_order(
            ORDER,
            "WAITING_SCORING",
            "2026-03-02T14:00:00Z",
        )],
    )
    .await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    let (status, total, lines): (String, Decimal, i64) = sqlx::query_as(
        "select status, total_amount, (select count(*) from sales.order_lines) from sales.orders",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        status, "UNKNOWN",
        "never stored as if it were a known state"
    );
    assert_eq!(total, Decimal::from_str("519.97").unwrap());
    assert_eq!(lines, 2, "the order's other data is recorded");
    assert_eq!(history(&pool).await, ["UNKNOWN"]);
    assert!(outbox(&pool).await.is_empty());
    let problems = data_problems(&pool).await;
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert_eq!(
        problems[0],
        (
            "order_state".to_owned(),
            "unknown_state".to_owned(),
            "WAITING_SCORING".to_owned(),
            None
        )
    );
    assert_eq!(problems[1].0, "order_lines[1].order_line_state");
    assert_eq!(problems[2].0, "order_lines[0].order_line_state");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_total_that_disagrees_with_its_lines_is_recorded_as_sent_and_raised(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let inflated = fixtures::text("mirakl/order_waiting_acceptance.json")
        .replace("\"total_price\": 519.97", "\"total_price\": 100000");

    let answer = deliver_mirakl(&service, &[&inflated]).await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["status"], "recorded");
    let (subtotal, total): (Decimal, Decimal) =
        sqlx::query_as("select subtotal_amount, total_amount from sales.orders")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(subtotal, Decimal::from_str("519.97").unwrap());
    assert_eq!(
        total,
        Decimal::from(100_000),
        "the total as sent, never rewritten"
    );
    let line_totals: Vec<String> =
        sqlx::query_scalar("select line_total::text from sales.order_lines order by line_number")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(line_totals, ["479.99", "39.98"]);
    let problems = data_problems(&pool).await;
    assert_eq!(
        problems,
        [(
            "total_price".to_owned(),
            "total_mismatch".to_owned(),
            "100000".to_owned(),
            Some("519.97".to_owned())
        )]
    );
    let detail: String = sqlx::query_scalar("select detail from ops.data_problems")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        detail.contains("100000") && detail.contains("519.97"),
        "{detail}"
    );

    // A later version that adds up resolves the problem.
    let fixed = fixtures::text("mirakl/order_waiting_acceptance.json")
        .replace("2026-03-02T14:18:45Z", "2026-03-02T15:00:00Z");
    deliver_mirakl(&service, &[&fixed]).await;
    let open: i64 =
        sqlx::query_scalar("select count(*) from ops.data_problems where resolved_at is null")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(open, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_shipping_order_without_a_shipment_is_queued_for_a_label_once(pool: PgPool) {
    let service = webhook_service(&pool, None);

    deliver_mirakl(
        &service,
        &[&mirakl_order(ORDER, "SHIPPING", "2026-03-02T15:00:00Z")],
    )
    .await;
    deliver_mirakl(
        &service,
        &[&mirakl_order(ORDER, "SHIPPING", "2026-03-02T15:05:00Z")],
    )
    .await;

    let queued = outbox(&pool).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].0, "label");
    assert_eq!(queued[0].1, format!("label:bestbuy_ca:{ORDER}:shipping"));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_shipping_order_that_has_a_shipment_is_not_queued_for_a_label(pool: PgPool) {
    let service = webhook_service(&pool, None);
    deliver_mirakl(
        &service,
        &[&mirakl_order(ORDER, "STAGING", "2026-03-02T14:00:00Z")],
    )
    .await;
    sqlx::query("insert into sales.shipments (order_id) select id from sales.orders")
        .execute(&pool)
        .await
        .unwrap();

    deliver_mirakl(
        &service,
        &[&mirakl_order(ORDER, "SHIPPING", "2026-03-02T15:00:00Z")],
    )
    .await;

    assert!(outbox(&pool).await.is_empty());
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_unanswered_customer_message_is_queued_for_a_reply_once(pool: PgPool) {
    let service = webhook_service(&pool, None);
    deliver_mirakl(
        &service,
        &[&fixtures::text("mirakl/order_waiting_acceptance.json")],
    )
    .await;
    let thread: Received<sellerops::systems::mirakl::threads::MiraklThread> =
        serde_json::from_str(&fixtures::text("mirakl/thread_where_is_my_order.json")).unwrap();

    let mut tx = pool.begin().await.unwrap();
    let first = record_mirakl_thread(&mut tx, &thread).await.unwrap();
    let again = record_mirakl_thread(&mut tx, &thread).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!((first.new_messages, first.follow_ups), (3, 1));
    assert_eq!((again.new_messages, again.follow_ups), (0, 0));
    let replies: Vec<(String, serde_json::Value)> =
        sqlx::query_as("select dedup_id, message_body from ops.outbox where queue_name = 'reply'")
            .fetch_all(&pool)
            .await
            .unwrap();
    // msg-0001 was answered by the shop at 15:30; msg-0003 was not.
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].0, "reply:msg-0003");
    let (message_id, conversation_id, order_linked, body): (uuid::Uuid, uuid::Uuid, bool, String) =
        sqlx::query_as(
            "select m.id, c.id, c.order_id is not null and c.customer_id is not null, m.body
             from support.messages m join support.conversations c on c.id = m.conversation_id
             where m.external_id = 'msg-0003'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(order_linked);
    assert!(body.contains("tracking number"));
    assert_eq!(
        replies[0].1,
        serde_json::json!({
            "message_id": message_id,
            "conversation_id": conversation_id,
            "thread_id": "4b8f0c2e-6f1a-4d7e-9a51-2f0b6d3c9e11",
        })
    );
    let leaked: i64 = sqlx::query_scalar(
        "select count(*) from support.messages where ops.contains_email_address(body)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(leaked, 0);
}
