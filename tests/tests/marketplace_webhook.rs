//! The webhook endpoint: signatures, every answer, the inbox and duplicates.

use base64::Engine as _;
use sellerops::flows::webhooks::WebhookDelivery;
use sellerops_tests::fixtures;
use sellerops_tests::marketplace::{
    deliver, deliver_mirakl, headers, mirakl_order, shopify_headers, shopify_signature,
    webhook_service, FRESHDESK_SECRET, MIRAKL_SECRET,
};
use sqlx::PgPool;

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("select count(*) from {table}"))
        .fetch_one(pool)
        .await
        .unwrap()
}

// --- Signatures -------------------------------------------------------------

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_shopify_delivery_signed_with_the_app_secret_is_recorded(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let body = fixtures::text("shopify/order_created.json");

    let answer = deliver(
        &service,
        "shopify",
        &shopify_headers("orders/create", "wh-1", &body),
        &body,
    )
    .await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    let (status, total, name): (String, rust_decimal::Decimal, String) = sqlx::query_as(
        "select status, total_amount, commercial_id from sales.orders where channel = 'shopify'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), name.as_str()), ("paid", "#1042"));
    assert_eq!(total.to_string(), "563.48");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_shopify_delivery_with_a_wrong_missing_or_stale_signature_is_401_and_stores_nothing(
    pool: PgPool,
) {
    let service = webhook_service(&pool, None);
    let body = fixtures::text("shopify/order_created.json");
    let signed = shopify_headers("orders/create", "wh-1", &body);

    let mut wrong = signed.clone();
    let forged = shopify_signature("not-the-secret", body.as_bytes());
    wrong.insert("x-shopify-hmac-sha256", forged.parse().unwrap());
    let mut missing = signed.clone();
    missing.remove("x-shopify-hmac-sha256");
    let tampered = body.replace("563.48", "0.01");

    for (name, headers, body) in [
        ("wrong", &wrong, body.as_str()),
        ("missing", &missing, body.as_str()),
        ("tampered", &signed, tampered.as_str()),
    ] {
        let answer = deliver(&service, "shopify", headers, body).await;
        assert_eq!(answer.status, 401, "{name}: {}", answer.body);
    }
    assert_eq!(count(&pool, "ops.inbox").await, 0);
    assert_eq!(count(&pool, "sales.orders").await, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_mirakl_delivery_needs_the_shared_secret(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let body = format!(
        "[{}]",
        fixtures::text("mirakl/order_waiting_acceptance.json")
    );

    let wrong = deliver(
        &service,
        "mirakl",
        &headers(&[("x-webhook-secret", "guess")]),
        &body,
    )
    .await;
    let missing = deliver(&service, "mirakl", &headers(&[]), &body).await;
    let right = deliver(
        &service,
        "mirakl",
        &headers(&[("x-webhook-secret", MIRAKL_SECRET)]),
        &body,
    )
    .await;

    assert_eq!(
        (wrong.status, missing.status, right.status),
        (401, 401, 200)
    );
    assert_eq!(count(&pool, "ops.inbox").await, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_freshdesk_ticket_is_filed_with_normalised_status_and_priority(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let body = fixtures::text("freshdesk/ticket_created.json");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("freshdesk:{FRESHDESK_SECRET}"))
    );

    let unsigned = deliver(&service, "freshdesk", &headers(&[]), &body).await;
    let answer = deliver(
        &service,
        "freshdesk",
        &headers(&[("authorization", &basic)]),
        &body,
    )
    .await;
    let updated = body
        .replace("\"Pending\"", "\"Resolved\"")
        .replace("\"High\"", "\"Urgent\"");
    let by_header = deliver(
        &service,
        "freshdesk",
        &headers(&[("x-webhook-secret", FRESHDESK_SECRET)]),
        &updated,
    )
    .await;

    assert_eq!(unsigned.status, 401);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["ticket_status"], "pending");
    assert_eq!(answer.body["ticket_priority"], "high");
    assert_eq!(by_header.body["ticket_status"], "resolved");
    let (domain, id, status, priority, hashed): (String, String, String, String, bool) =
        sqlx::query_as(
            "select domain, freshdesk_ticket_id, support.extract_ticket_status(data),
                    support.extract_ticket_priority(data), octet_length(requester_email_hash) = 32
             from etl.freshdesk_tickets",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        (
            domain.as_str(),
            id.as_str(),
            status.as_str(),
            priority.as_str(),
            hashed
        ),
        (
            "maplerefurb.freshdesk.com",
            "311",
            "resolved",
            "urgent",
            true
        )
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_shopify_customer_lands_in_the_envelope_without_its_email(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let body = fixtures::text("shopify/customer_created.json");

    let answer = deliver(
        &service,
        "shopify",
        &shopify_headers("customers/create", "wh-c1", &body),
        &body,
    )
    .await;
    let updated = body.replace("Halifax", "Dartmouth").replace(
        "\"updated_at\":\"2026-03-03T09:10:02-05:00\"",
        "\"updated_at\":\"2026-03-04T11:00:00-05:00\"",
    );
    let again = deliver(
        &service,
        "shopify",
        &shopify_headers("customers/update", "wh-c2", &updated),
        &updated,
    )
    .await;

    assert_eq!((answer.status, again.status), (200, 200), "{}", answer.body);
    let (shop, id, city, hashed, linked): (String, String, String, bool, bool) = sqlx::query_as(
        "select shop_domain, shopify_customer_id, data -> 'default_address' ->> 'city',
                octet_length(email_hash) = 32, customer_id is not null
         from etl.shopify_customers",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (shop.as_str(), id.as_str(), city.as_str(), hashed, linked),
        (
            "maple-refurb.myshopify.com",
            "7310044512430",
            "Dartmouth",
            true,
            true
        )
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_shopify_topic_sellerops_does_not_record_is_acknowledged_and_ignored(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let body = r#"{"id": 1, "title": "Spring sale"}"#;

    let answer = deliver(
        &service,
        "shopify",
        &shopify_headers("products/update", "wh-p", body),
        body,
    )
    .await;

    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["status"], "ignored");
    assert_eq!(count(&pool, "ops.inbox").await, 0);
}

// --- Answers ------------------------------------------------------------------

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_malformed_body_is_400_with_a_message_naming_the_problem(pool: PgPool) {
    let service = webhook_service(&pool, None);

    let not_json = deliver_mirakl(&service, &["{not json"]).await;
    let missing_field = deliver_mirakl(&service, &[r#"{"order_id": "BBY-9"}"#]).await;
    let body = r#"{"id": 5}"#;
    let mut no_id = shopify_headers("orders/create", "x", body);
    no_id.remove("x-shopify-webhook-id");
    let shopify = deliver(&service, "shopify", &no_id, body).await;

    assert_eq!(not_json.status, 400);
    assert!(not_json.body["error"]
        .as_str()
        .unwrap()
        .contains("Mirakl orders"));
    assert_eq!(missing_field.status, 400);
    assert!(
        missing_field.body["error"]
            .as_str()
            .unwrap()
            .contains("order_state"),
        "{}",
        missing_field.body
    );
    assert_eq!(shopify.status, 400);
    assert!(shopify.body["error"]
        .as_str()
        .unwrap()
        .contains("X-Shopify-Webhook-Id"));
    assert_eq!(count(&pool, "ops.inbox").await, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn unknown_routes_are_404_other_methods_405_and_large_bodies_413(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let empty = headers(&[("x-webhook-secret", MIRAKL_SECRET)]);
    let large = format!("[{}]", " ".repeat(1024 * 1024));
    let call = |method: &'static str, path: &'static str, body: &'static [u8]| WebhookDelivery {
        method,
        path,
        headers: &empty,
        body,
    };

    let unknown = service.handle(call("POST", "/webhooks/ebay", b"[]")).await;
    let get = service.handle(call("GET", "/webhooks/mirakl", b"")).await;
    let too_large = deliver(&service, "mirakl", &empty, &large).await;

    assert_eq!(
        (unknown.status, get.status, too_large.status),
        (404, 405, 413)
    );
    assert_eq!(count(&pool, "ops.inbox").await, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_database_failure_is_500_without_internals(pool: PgPool) {
    let service = webhook_service(&pool, None);
    pool.close().await;

    let answer = deliver_mirakl(
        &service,
        &[&fixtures::text("mirakl/order_waiting_acceptance.json")],
    )
    .await;

    assert_eq!(answer.status, 500);
    assert_eq!(
        answer.body,
        serde_json::json!({ "error": "internal error" })
    );
}

// --- Inbox and duplicates -------------------------------------------------------

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_delivery_is_stored_raw_and_a_repeat_answers_200_and_changes_nothing(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let order = fixtures::text("mirakl/order_waiting_acceptance.json");

    let first = deliver_mirakl(&service, &[&order]).await;
    let snapshot: String = sqlx::query_scalar("select row_to_json(o)::text from sales.orders o")
        .fetch_one(&pool)
        .await
        .unwrap();
    let second = deliver_mirakl(&service, &[&order]).await;

    assert_eq!(first.body["status"], "recorded");
    assert_eq!(second.status, 200);
    assert_eq!(second.body["status"], "duplicate");
    let (source, processed): (String, bool) =
        sqlx::query_as("select source, processed_at is not null from ops.inbox")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((source.as_str(), processed), ("mirakl", true));
    let after: String = sqlx::query_scalar("select row_to_json(o)::text from sales.orders o")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(snapshot, after);
    assert_eq!(count(&pool, "ops.inbox").await, 1);
    assert_eq!(count(&pool, "ops.outbox").await, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_shopify_retry_with_the_same_webhook_id_is_a_duplicate(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let body = fixtures::text("shopify/order_created.json");
    let signed = shopify_headers("orders/create", "wh-7", &body);

    let first = deliver(&service, "shopify", &signed, &body).await;
    let retry = deliver(&service, "shopify", &signed, &body).await;

    assert_eq!(first.body["status"], "recorded");
    assert_eq!(retry.body["status"], "duplicate");
    assert_eq!(count(&pool, "sales.order_status_history").await, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn concurrent_duplicate_deliveries_record_the_order_once(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let order = mirakl_order(
        "BBY-CONCURRENT-1",
        "WAITING_ACCEPTANCE",
        "2026-03-02T14:18:45Z",
    );

    let answers = futures::future::join_all(
        (0..8).map(|_| async { deliver_mirakl(&service, &[order.as_str()]).await }),
    )
    .await;

    assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
    let recorded = answers
        .iter()
        .filter(|a| a.body["status"] == "recorded")
        .count();
    assert_eq!(recorded, 1);
    assert_eq!(count(&pool, "sales.orders").await, 1);
    assert_eq!(count(&pool, "sales.order_lines").await, 2);
    assert_eq!(count(&pool, "sales.order_status_history").await, 1);
    assert_eq!(count(&pool, "ops.outbox").await, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn concurrent_different_deliveries_of_one_order_queue_its_work_once(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let versions: Vec<String> = (0..6)
        .map(|i| {
            mirakl_order(
                "BBY-RACE-1",
                "WAITING_ACCEPTANCE",
                &format!("2026-03-02T14:18:4{i}Z"),
            )
        })
        .collect();

    let answers = futures::future::join_all(
        versions
            .iter()
            .map(|v| async { deliver_mirakl(&service, &[v.as_str()]).await }),
    )
    .await;

    assert!(answers
        .iter()
        .all(|a| a.status == 200 && a.body["status"] == "recorded"));
    let updated: String = sqlx::query_scalar("select last_updated_at::text from sales.orders")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(updated, "2026-03-02 14:18:45+00");
    assert_eq!(count(&pool, "sales.order_status_history").await, 1);
    assert_eq!(count(&pool, "ops.outbox").await, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_order_that_breaks_a_rule_is_written_down_and_its_neighbours_are_recorded(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let good = mirakl_order("BBY-GOOD-1", "SHIPPED", "2026-03-02T14:18:45Z");
    let negative = mirakl_order("BBY-BAD-1", "SHIPPED", "2026-03-02T14:18:45Z")
        .replace("\"total_price\": 519.97", "\"total_price\": -1");

    let answer = deliver_mirakl(&service, &[&negative, &good]).await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["status"], "partly_recorded");
    assert_eq!(
        answer.body["not_recorded"],
        serde_json::json!(["BBY-BAD-1"])
    );
    let orders: Vec<String> = sqlx::query_scalar("select external_id from sales.orders")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(orders, ["BBY-GOOD-1"]);
    let (entity, reason): (String, String) =
        sqlx::query_as("select entity_ref, reason from ops.process_failures")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(entity, "BBY-BAD-1");
    assert!(reason.contains("orders_amounts_check"), "{reason}");
    let inbox_error: Option<String> = sqlx::query_scalar("select error from ops.inbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(inbox_error.unwrap().contains("BBY-BAD-1"));
}

// --- Bad input ------------------------------------------------------------------

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_nul_in_any_string_or_key_is_400_naming_the_field_and_stores_nothing(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let order = fixtures::text("mirakl/order_waiting_acceptance.json");
    let escaped_name = order.replacen("\"Élodie\"", "\"Élo\\u0000die\"", 1);
    let raw_in_key = order.replace("\"additional_info\"", "\"additional\0info\"");
    let shopify = fixtures::text("shopify/order_created.json")
        .replace("ThinkPad T480 (Refurbished)", "ThinkPad\\u0000T480");

    let escaped = deliver_mirakl(&service, &[&order, &escaped_name]).await;
    let raw = deliver_mirakl(&service, &[&raw_in_key]).await;
    let shopify = deliver(
        &service,
        "shopify",
        &shopify_headers("orders/create", "wh-nul", &shopify),
        &shopify,
    )
    .await;

    let error = |answer: &sellerops::flows::webhooks::WebhookAnswer| {
        answer.body["error"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(escaped.status, 400, "{}", escaped.body);
    assert!(
        error(&escaped).contains("orders[1].customer.firstname"),
        "{}",
        escaped.body
    );
    assert_eq!(raw.status, 400, "{}", raw.body);
    assert!(
        error(&raw).contains(r#"orders[0].customer.shipping_address["additional\u0000info"]"#),
        "{}",
        raw.body
    );
    assert_eq!(shopify.status, 400, "{}", shopify.body);
    assert!(
        error(&shopify).contains("line_items[0].title"),
        "{}",
        shopify.body
    );
    assert_eq!(count(&pool, "ops.inbox").await, 0);
    assert_eq!(count(&pool, "sales.orders").await, 0);
    assert_eq!(count(&pool, "ops.process_failures").await, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_shopify_order_from_another_store_is_400_and_stores_nothing(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let body = fixtures::text("shopify/order_created.json");
    let mut elsewhere = shopify_headers("orders/create", "wh-other", &body);
    elsewhere.insert(
        "x-shopify-shop-domain",
        "someone-else.myshopify.com".parse().unwrap(),
    );

    let answer = deliver(&service, "shopify", &elsewhere, &body).await;

    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body["error"]
            .as_str()
            .unwrap()
            .contains("someone-else.myshopify.com"),
        "{}",
        answer.body
    );
    assert_eq!(count(&pool, "ops.inbox").await, 0);
    assert_eq!(count(&pool, "sales.orders").await, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_shopify_order_kept_for_review_is_not_answered_as_recorded(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let body = fixtures::text("shopify/order_created.json")
        .replace("\"total_price\":\"563.48\"", "\"total_price\":\"-1.00\"");

    let answer = deliver(
        &service,
        "shopify",
        &shopify_headers("orders/create", "wh-review", &body),
        &body,
    )
    .await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["status"], "not_recorded", "{}", answer.body);
    assert_eq!(
        answer.body["not_recorded"],
        serde_json::json!(["5820417390766"])
    );
    assert_eq!(count(&pool, "sales.orders").await, 0);
    assert_eq!(count(&pool, "ops.process_failures").await, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_order_with_money_dates_or_line_ids_it_cannot_be_is_400_naming_the_field(pool: PgPool) {
    let service = webhook_service(&pool, None);
    let order = fixtures::text("mirakl/order_waiting_acceptance.json");
    let cases = [
        (
            order.replace("\"total_price\": 519.97", "\"total_price\": 1e5"),
            "orders[1].total_price",
            "plain decimal",
        ),
        (
            order.replace("\"price_unit\": 19.99", "\"price_unit\": 19.999"),
            "orders[1].order_lines[1].price_unit",
            "more decimals than CAD",
        ),
        (
            order.replace(
                "\"created_date\": \"2026-03-02T14:18:43Z\"",
                "\"created_date\": \"0001-01-01T00:00:00Z\"",
            ),
            "orders[1].created_date",
            "before 2000-01-01",
        ),
        (
            order.replace("BBY-20260302-0001-A-2", "BBY-20260302-0001-A-1"),
            "orders[1].order_lines[1].order_line_id",
            "appears once in an order",
        ),
    ];
    let good = mirakl_order("BBY-GOOD-2", "SHIPPED", "2026-03-02T14:18:45Z");

    for (bad, field, problem) in &cases {
        let answer = deliver_mirakl(&service, &[&good, bad]).await;

        assert_eq!(answer.status, 400, "{field}: {}", answer.body);
        let error = answer.body["error"].as_str().unwrap();
        assert!(
            error.contains(field) && error.contains(problem),
            "{field}: {error}"
        );
    }
    let shopify = fixtures::text("shopify/order_created.json")
        .replace("\"price\":\"499.99\"", "\"price\":\"499.999\"");
    let answer = deliver(
        &service,
        "shopify",
        &shopify_headers("orders/create", "wh-precise", &shopify),
        &shopify,
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body["error"]
        .as_str()
        .unwrap()
        .contains("line_items[0].price"));
    assert_eq!(count(&pool, "ops.inbox").await, 0);
    assert_eq!(count(&pool, "sales.orders").await, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_delivery_of_150_waiting_orders_is_answered_once_and_queues_each_acceptance_once(
    pool: PgPool,
) {
    // Arrange: a real accept queue in the local SQS.
    let aws = sellerops_tests::local_aws().await;
    let queue_url = aws
        .sqs
        .create_queue()
        .queue_name(sellerops_tests::unique_name("accept-150"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let publisher = sellerops::ops::outbox::OutboxPublisher {
        sqs: aws.sqs.clone(),
        queues: sellerops::ops::config::QueueUrls {
            accept: Some(queue_url.clone()),
            ..Default::default()
        },
    };
    let service = webhook_service(&pool, Some(publisher));
    let orders: Vec<String> = (0..150)
        .map(|i| {
            mirakl_order(
                &format!("BBY-MANY-{i:03}"),
                "WAITING_ACCEPTANCE",
                "2026-03-02T14:18:45Z",
            )
        })
        .collect();
    let orders: Vec<&str> = orders.iter().map(String::as_str).collect();

    // Act
    let answer = deliver_mirakl(&service, &orders).await;

    // Assert: one answer, every order recorded, 150 accept messages sent exactly once:
    // after the answer within the publishing window, and what a busy machine left for
    // the outbox sweep by the sweep (which must not send any of them again).
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["orders"], 150);
    sellerops::ops::outbox::publish_due(
        &pool,
        &aws.sqs,
        &sellerops::ops::config::QueueUrls {
            accept: Some(queue_url.clone()),
            ..Default::default()
        },
        1_000,
    )
    .await
    .expect("the sweep publishes what the handler left");
    let unpublished: i64 =
        sqlx::query_scalar("select count(*) from ops.outbox where published_at is null")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(unpublished, 0);
    let mut received = Vec::new();
    loop {
        let batch = aws
            .sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        for message in batch {
            let body: serde_json::Value =
                serde_json::from_str(message.body().unwrap_or_default()).unwrap();
            received.push(body["external_id"].as_str().unwrap_or_default().to_owned());
        }
    }
    received.sort();
    let distinct: std::collections::BTreeSet<&String> = received.iter().collect();
    assert_eq!((received.len(), distinct.len()), (150, 150));
    aws.sqs
        .delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_delivery_is_answered_before_its_follow_up_is_sent_and_sent_after(pool: PgPool) {
    // Arrange: a real accept queue in the local SQS.
    let aws = sellerops_tests::local_aws().await;
    let queue_url = aws
        .sqs
        .create_queue()
        .queue_name(sellerops_tests::unique_name("accept-after"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let publisher = sellerops::ops::outbox::OutboxPublisher {
        sqs: aws.sqs.clone(),
        queues: sellerops::ops::config::QueueUrls {
            accept: Some(queue_url.clone()),
            ..Default::default()
        },
    };
    let service = webhook_service(&pool, Some(publisher));
    let body = format!(
        "[{}]",
        mirakl_order("BBY-AFTER-1", "WAITING_ACCEPTANCE", "2026-03-02T14:18:45Z")
    );
    let unpublished = |pool: PgPool| async move {
        sqlx::query_scalar::<_, i64>("select count(*) from ops.outbox where published_at is null")
            .fetch_one(&pool)
            .await
            .unwrap()
    };

    // Act 1: the handler alone, as API Gateway waits for it.
    let answer = service
        .handle(WebhookDelivery {
            method: "POST",
            path: "/webhooks/mirakl",
            headers: &headers(&[("x-webhook-secret", MIRAKL_SECRET)]),
            body: body.as_bytes(),
        })
        .await;

    // Assert 1: answered with the follow-up committed, not yet sent.
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(unpublished(pool.clone()).await, 1);

    // Act 2: what the function does once the answer has gone.
    let tally = service.publish_follow_ups().await;

    // Assert 2
    assert_eq!((tally.published, tally.deferred), (1, 0));
    assert_eq!(unpublished(pool.clone()).await, 0);
    let sent = aws
        .sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(sent.len(), 1);
    aws.sqs
        .delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
}
