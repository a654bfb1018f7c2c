//! accept-orders against a fake Mirakl: decide, reserve, OR21, queue the label.

use accept_orders::{handle, AcceptOrders};
use futures::future::join_all;
use sellerops::flows::fulfilment::acceptance::{AcceptOutcome, Acceptance};
use sellerops::flows::fulfilment::ACCEPTANCE_PROCESS;
use sellerops_tests::fixtures;
use sellerops_tests::fulfilment::{
    component_of, failures, listed_variant, mirakl, queued, statuses, stock_of, BestBuyOrder,
    FAST_RETRY, MIRAKL_KEY,
};
use sqlx::PgPool;
use wiremock::matchers::{body_json, header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn acceptance<'a>(
    pool: &'a PgPool,
    mirakl: &'a sellerops::systems::mirakl::MiraklClient,
) -> Acceptance<'a> {
    Acceptance {
        pool,
        mirakl,
        retry: FAST_RETRY,
        reservation_hold: sellerops::ops::config::DEFAULT_RESERVATION_HOLD,
    }
}

async fn open_reservations(
    pool: &PgPool,
    order: &sellerops::flows::fulfilment::OrderMessage,
) -> i64 {
    sqlx::query_scalar(
        "select count(*) from inventory.stock_reservations r
         join sales.order_lines l on l.id = r.order_line_id
         where l.order_id = $1 and r.released_at is null",
    )
    .bind(order.order_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_order_in_stock_is_accepted_reserved_and_queued_for_its_label(pool: PgPool) {
    // Arrange
    let laptop = listed_variant(&pool, "BBY-T480-16-512", Some(3)).await;
    let order = BestBuyOrder::new("BB-20417-A")
        .line("BBY-T480-16-512", 2)
        .record(&pool)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/orders/BB-20417-A/accept"))
        .and(header("authorization", MIRAKL_KEY))
        .and(header("accept", "application/json"))
        .and(header("content-type", "application/json"))
        .and(body_json(serde_json::json!({
            "order_lines": [{ "id": "BB-20417-A-1", "accepted": true }]
        })))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = mirakl(&server.uri(), &pool);

    // Act
    let outcome = acceptance(&pool, &client).handle(&order).await.unwrap();

    // Assert
    assert_eq!(
        outcome,
        AcceptOutcome::Decided {
            accepted: 1,
            lines: 1
        }
    );
    assert_eq!(stock_of(&pool, laptop).await, (3, 2));
    assert_eq!(
        statuses(&pool, &order).await,
        vec![("WAITING_DEBIT".to_owned(), "accept-orders".to_owned())]
    );
    let queued: (String, serde_json::Value) = sqlx::query_as(
        "select queue_name, message_body from ops.outbox where dedup_id = 'label:bestbuy_ca:BB-20417-A:accepted'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(queued.0, "label");
    assert_eq!(queued.1, order.to_json());
    let logged: String =
        sqlx::query_scalar("select c::text from ops.api_calls c where operation = 'OR21'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        !logged.contains(MIRAKL_KEY),
        "the shop key leaked into ops.api_calls"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_line_without_stock_is_refused_and_an_assembled_line_uses_its_components(pool: PgPool) {
    // Arrange: the assembled laptop has no finished stock but its RAM is on the shelf;
    // the dock has none at all.
    let laptop = listed_variant(&pool, "BBY-T480-32-1TB", Some(0)).await;
    let ram = component_of(&pool, laptop, "ram-16gb", 2, 4).await;
    listed_variant(&pool, "BBY-DOCK-USB-C", Some(0)).await;
    let order = BestBuyOrder::new("BB-20418-A")
        .line("BBY-T480-32-1TB", 2)
        .line("BBY-DOCK-USB-C", 1)
        .record(&pool)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/orders/BB-20418-A/accept"))
        .and(body_json(serde_json::json!({
            "order_lines": [
                { "id": "BB-20418-A-1", "accepted": true },
                { "id": "BB-20418-A-2", "accepted": false }
            ]
        })))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = mirakl(&server.uri(), &pool);

    // Act
    let outcome = acceptance(&pool, &client).handle(&order).await.unwrap();

    // Assert
    assert_eq!(
        outcome,
        AcceptOutcome::Decided {
            accepted: 1,
            lines: 2
        }
    );
    assert_eq!(stock_of(&pool, ram).await, (4, 4));
    assert_eq!(open_reservations(&pool, &order).await, 1);
    let note: String =
        sqlx::query_scalar("select note from sales.order_status_history where order_id = $1")
            .bind(order.order_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        note.contains("refused BB-20418-A-2 (BBY-DOCK-USB-C: 1 ordered, 0 available)"),
        "{note}"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn fifty_orders_competing_for_ten_units_accept_exactly_ten(pool: PgPool) {
    // Arrange
    let laptop = listed_variant(&pool, "BBY-T480-16-512", Some(10)).await;
    let mut orders = Vec::new();
    for n in 0..50 {
        orders.push(
            BestBuyOrder::new(&format!("BB-3{n:04}-A"))
                .line("BBY-T480-16-512", 1)
                .record(&pool)
                .await,
        );
    }
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path_regex(r"^/api/orders/BB-3\d{4}-A/accept$"))
        .respond_with(ResponseTemplate::new(204))
        .expect(50)
        .mount(&server)
        .await;
    let client = mirakl(&server.uri(), &pool);

    // Act: every order at once.
    let flow = acceptance(&pool, &client);
    let outcomes = join_all(orders.iter().map(|order| flow.handle(order))).await;

    // Assert
    let accepted = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(AcceptOutcome::Decided { accepted: 1, .. })))
        .count();
    let refused = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(AcceptOutcome::Decided { accepted: 0, .. })))
        .count();
    assert_eq!((accepted, refused), (10, 40), "{outcomes:?}");
    assert_eq!(stock_of(&pool, laptop).await, (10, 10));
    let accepted_bodies = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|request| String::from_utf8_lossy(&request.body).contains("\"accepted\":true"))
        .count();
    assert_eq!(accepted_bodies, 10);
    let labels: i64 =
        sqlx::query_scalar("select count(*) from ops.outbox where queue_name = 'label'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(labels, 10);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_unknown_sku_makes_no_call_and_records_why_for_a_person(pool: PgPool) {
    // Arrange
    listed_variant(&pool, "BBY-T480-16-512", Some(5)).await;
    let order = BestBuyOrder::new("BB-20419-A")
        .line("BBY-T480-16-512", 1)
        .line("BBY-UNLISTED-9", 1)
        .record(&pool)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&server)
        .await;
    let client = mirakl(&server.uri(), &pool);
    let aws = sellerops_tests::local_aws().await;
    let queues = sellerops::ops::config::QueueUrls::default();
    let function = AcceptOrders {
        acceptance: acceptance(&pool, &client),
        sqs: &aws.sqs,
        queues: &queues,
        batch: sellerops::ops::sqs_batch::BatchPlan::SEQUENTIAL,
    };

    // Act
    let response = handle(&function, queued(&[&order])).await.unwrap();

    // Assert: acknowledged, recorded, nothing reserved.
    assert!(response.batch_item_failures.is_empty());
    let reasons = failures(&pool, ACCEPTANCE_PROCESS).await;
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].contains("BB-20419-A") && reasons[0].contains("BBY-UNLISTED-9"),
        "{reasons:?}"
    );
    assert_eq!(open_reservations(&pool, &order).await, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_order_already_decided_is_not_decided_again(pool: PgPool) {
    // Arrange
    listed_variant(&pool, "BBY-T480-16-512", Some(5)).await;
    let order = BestBuyOrder::new("BB-20420-A")
        .line("BBY-T480-16-512", 1)
        .record(&pool)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = mirakl(&server.uri(), &pool);
    let flow = acceptance(&pool, &client);
    flow.handle(&order).await.unwrap();

    // Act
    let again = flow.handle(&order).await.unwrap();

    // Assert
    assert_eq!(again, AcceptOutcome::AlreadyDecided);
    assert_eq!(open_reservations(&pool, &order).await, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn order_invalid_state_is_reconciled_by_reading_the_orders_state(pool: PgPool) {
    // Arrange: the customer cancelled while the decision was on its way.
    let laptop = listed_variant(&pool, "BBY-T480-16-512", Some(5)).await;
    let order = BestBuyOrder::new("BB-20421-A")
        .line("BBY-T480-16-512", 1)
        .record(&pool)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/orders/BB-20421-A/accept"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "status": 400, "message": "ORDER_INVALID_STATE"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let or11 = fixtures::text("mirakl/or11-order-state.json")
        .replace("{order_id}", "BB-20421-A")
        .replace("{state}", "CANCELED");
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .and(query_param("order_ids", "BB-20421-A"))
        .and(header("authorization", MIRAKL_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_raw(or11, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let client = mirakl(&server.uri(), &pool);

    // Act
    let outcome = acceptance(&pool, &client).handle(&order).await.unwrap();

    // Assert
    assert_eq!(outcome, AcceptOutcome::Reconciled("CANCELED".into()));
    assert_eq!(stock_of(&pool, laptop).await, (5, 0));
    assert_eq!(statuses(&pool, &order).await[0].0, "CANCELED");
    let queued: Vec<(String, String)> = sqlx::query_as(
        "select queue_name, message_body->>'reason' from ops.outbox order by dedup_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        queued,
        [
            ("pricing".to_owned(), "stock_changed".to_owned()),
            ("pricing".to_owned(), "stock_changed".to_owned())
        ],
        "no label; the laptop's price re-evaluated as its stock was reserved and given back"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_mirakl_429_is_retried_and_the_next_answer_taken(pool: PgPool) {
    // Arrange
    listed_variant(&pool, "BBY-T480-16-512", Some(5)).await;
    let order = BestBuyOrder::new("BB-20422-A")
        .line("BBY-T480-16-512", 1)
        .record(&pool)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/orders/BB-20422-A/accept"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/orders/BB-20422-A/accept"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = mirakl(&server.uri(), &pool);

    // Act
    let outcome = acceptance(&pool, &client).handle(&order).await.unwrap();

    // Assert
    assert_eq!(
        outcome,
        AcceptOutcome::Decided {
            accepted: 1,
            lines: 1
        }
    );
    let logged: Vec<i32> =
        sqlx::query_scalar("select status_code from ops.api_calls order by started_at")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(logged, vec![429, 204]);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_401_on_or21_keeps_the_decision_and_its_stock_and_returns_the_message(pool: PgPool) {
    // Arrange: the shop's API key was rotated and the function still has the old one.
    let laptop = listed_variant(&pool, "BBY-T480-16-512", Some(5)).await;
    let order = BestBuyOrder::new("BB-20423-A")
        .line("BBY-T480-16-512", 1)
        .record(&pool)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/orders/BB-20423-A/accept"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "status": 401, "message": "Unauthorized"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = mirakl(&server.uri(), &pool);
    let aws = sellerops_tests::local_aws().await;
    let queues = sellerops::ops::config::QueueUrls::default();
    let function = AcceptOrders {
        acceptance: acceptance(&pool, &client),
        sqs: &aws.sqs,
        queues: &queues,
        batch: sellerops::ops::sqs_batch::BatchPlan::SEQUENTIAL,
    };

    // Act
    let response = handle(&function, queued(&[&order])).await.unwrap();

    // Assert: back to its queue, nothing for a person, the decision and stock kept.
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(failures(&pool, ACCEPTANCE_PROCESS).await.is_empty());
    assert_eq!(open_reservations(&pool, &order).await, 1);
    assert_eq!(stock_of(&pool, laptop).await, (5, 1));
    let decision: String =
        sqlx::query_scalar("select state from sales.order_acceptances where order_id = $1")
            .bind(order.order_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(decision, "decided");
}
