//! The poller against a fake Mirakl (wiremock): paging, overlap, 429, threads, the
//! watermark in etl.sync_metadata, and the outbox sweep retrying a failed publish.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use sellerops::flows::marketplace_sync::MarketplaceSync;
use sellerops::ops::config::{MarketplaceSyncSettings, QueueUrls};
use sellerops::ops::outbox::OutboxPublisher;
use sellerops::ops::retry::RetryPolicy;
use sellerops::ops::time_budget;
use sellerops::systems::mirakl::MiraklClient;
use sellerops_tests::fixtures;
use sellerops_tests::marketplace::{mirakl_order, pepper};
use sellerops_tests::{local_aws, unique_name};
use sqlx::PgPool;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn poller(server: &MockServer, pool: &PgPool, page_size: u32) -> MarketplaceSync {
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
        settings: MarketplaceSyncSettings {
            overlap: Duration::from_secs(300),
            first_lookback: Duration::from_secs(24 * 3600),
            page_size,
        },
        retry: RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        },
        shopify: None,
        freshdesk: None,
    }
}

fn page(orders: &[String], total: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        format!(
            r#"{{"orders":[{}],"total_count":{total}}}"#,
            orders.join(",")
        ),
        "application/json",
    )
}

async fn no_threads(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/api/inbox/threads"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "data": [] })))
        .mount(server)
        .await;
}

async fn sync_row(pool: &PgPool, entity: &str) -> (String, Option<DateTime<Utc>>, Option<String>) {
    sqlx::query_as(
        "select sync_status, watermark_at, last_error from etl.sync_metadata
         where source = 'mirakl' and entity = $1",
    )
    .bind(entity)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_first_poll_reads_every_page_and_keeps_the_newest_change_as_watermark(pool: PgPool) {
    // Arrange: three orders, two a page.
    let server = MockServer::start().await;
    let now = at("2026-03-05T12:00:00Z");
    let orders: Vec<String> = (1..=3)
        .map(|i| {
            mirakl_order(
                &format!("BBY-P-{i}"),
                "SHIPPED",
                &format!("2026-03-05T0{i}:00:00Z"),
            )
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .and(query_param("start_update_date", "2026-03-04T12:00:00Z"))
        .and(query_param("offset", "0"))
        .and(query_param("max", "2"))
        .respond_with(page(&orders[..2], 3))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .and(query_param("offset", "2"))
        .respond_with(page(&orders[2..], 3))
        .expect(1)
        .mount(&server)
        .await;

    // Act
    let tally = poller(&server, &pool, 2).sync_orders(now).await.unwrap();

    // Assert
    assert_eq!((tally.seen, tally.changed), (3, 3));
    let recorded: i64 = sqlx::query_scalar("select count(*) from sales.orders")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(recorded, 3);
    let (status, watermark, error) = sync_row(&pool, "orders").await;
    assert_eq!(status, "success");
    assert_eq!(watermark, Some(at("2026-03-05T03:00:00Z")));
    assert_eq!(error, None);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_next_poll_starts_an_overlap_before_the_watermark_and_an_order_seen_twice_changes_nothing(
    pool: PgPool,
) {
    let server = MockServer::start().await;
    sqlx::query(
        "insert into etl.sync_metadata (source, entity, watermark_at)
         values ('mirakl', 'orders', '2026-03-05T03:00:00Z')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let order = mirakl_order("BBY-O-1", "WAITING_ACCEPTANCE", "2026-03-05T02:58:00Z");
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .and(query_param("start_update_date", "2026-03-05T02:55:00Z"))
        .respond_with(page(std::slice::from_ref(&order), 1))
        .expect(2)
        .mount(&server)
        .await;
    let sync = poller(&server, &pool, 100);

    let first = sync.sync_orders(at("2026-03-05T12:00:00Z")).await.unwrap();
    let second = sync.sync_orders(at("2026-03-05T12:05:00Z")).await.unwrap();

    assert_eq!((first.changed, first.follow_ups), (1, 1));
    assert_eq!((second.seen, second.changed, second.follow_ups), (1, 0, 0));
    let (_, watermark, _) = sync_row(&pool, "orders").await;
    assert_eq!(
        watermark,
        Some(at("2026-03-05T03:00:00Z")),
        "never moves back"
    );
    let queued: i64 = sqlx::query_scalar("select count(*) from ops.outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(queued, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_429_is_waited_out_as_retry_after_asks_and_the_page_is_read_again(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(page(
            &[mirakl_order("BBY-R-1", "SHIPPED", "2026-03-05T01:00:00Z")],
            1,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let started = std::time::Instant::now();

    let tally = poller(&server, &pool, 100)
        .sync_orders(at("2026-03-05T12:00:00Z"))
        .await
        .unwrap();

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(tally.seen, 1);
    assert_eq!(sync_row(&pool, "orders").await.0, "success");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_poll_that_stays_rate_limited_records_the_failure_and_keeps_the_watermark(pool: PgPool) {
    let server = MockServer::start().await;
    sqlx::query(
        "insert into etl.sync_metadata (source, entity, watermark_at)
         values ('mirakl', 'orders', '2026-03-05T03:00:00Z')",
    )
    .execute(&pool)
    .await
    .unwrap();
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(429))
        .expect(3)
        .mount(&server)
        .await;

    let err = poller(&server, &pool, 100)
        .sync_orders(at("2026-03-05T12:00:00Z"))
        .await
        .unwrap_err();

    assert_eq!(
        err.disposition(),
        sellerops::ops::errors::Disposition::Retry
    );
    let (status, watermark, error) = sync_row(&pool, "orders").await;
    assert_eq!(status, "failed");
    assert_eq!(watermark, Some(at("2026-03-05T03:00:00Z")));
    assert!(error.unwrap().contains("rate limited"));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn threads_are_read_page_by_page_and_new_customer_messages_queue_a_reply(pool: PgPool) {
    let server = MockServer::start().await;
    let thread = fixtures::text("mirakl/thread_where_is_my_order.json");
    let other = thread
        .replace(
            "4b8f0c2e-6f1a-4d7e-9a51-2f0b6d3c9e11",
            "9c1d2e3f-0000-4000-8000-000000000002",
        )
        .replace("msg-000", "msg-100");
    Mock::given(method("GET"))
        .and(path("/api/inbox/threads"))
        .and(query_param("with_messages", "true"))
        .and(query_param("page_token", "page-2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(format!(r#"{{"data":[{other}]}}"#), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/inbox/threads"))
        .and(query_param("updated_since", "2026-03-04T12:00:00Z"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!(r#"{{"data":[{thread}],"next_page_token":"page-2"}}"#),
            "application/json",
        ))
        .mount(&server)
        .await;

    let tally = poller(&server, &pool, 100)
        .sync_threads(at("2026-03-05T12:00:00Z"))
        .await
        .unwrap();

    assert_eq!((tally.seen, tally.changed, tally.follow_ups), (2, 2, 2));
    let replies: Vec<String> = sqlx::query_scalar(
        "select dedup_id from ops.outbox where queue_name = 'reply' order by dedup_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(replies, ["reply:msg-0003", "reply:msg-1003"]);
    let (status, watermark, _) = sync_row(&pool, "threads").await;
    assert_eq!(status, "success");
    assert_eq!(watermark, Some(at("2026-03-04T16:40:00Z")));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_follow_up_whose_publish_failed_is_sent_by_the_next_run(pool: PgPool) {
    // Arrange: a run records a waiting order, but its accept queue is not configured,
    // so the publish fails and the message stays in the outbox.
    let server = MockServer::start().await;
    no_threads(&server).await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(page(
            &[mirakl_order(
                "BBY-OB-1",
                "WAITING_ACCEPTANCE",
                "2026-03-05T01:00:00Z",
            )],
            1,
        ))
        .mount(&server)
        .await;
    let aws = local_aws().await;
    let queue_url = aws
        .sqs
        .create_queue()
        .queue_name(unique_name("accept"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let sync = poller(&server, &pool, 100);
    // The accept queue's URL names a queue that does not exist: the send fails.
    let broken = OutboxPublisher {
        sqs: aws.sqs.clone(),
        queues: QueueUrls {
            accept: Some(format!("{queue_url}-not-created")),
            ..QueueUrls::default()
        },
    };

    // Act 1
    let first = sync
        .run(at("2026-03-05T12:00:00Z"), Some(&broken))
        .await
        .unwrap();

    // Assert 1: kept for later, not lost.
    assert_eq!((first.published, first.deferred), (0, 1));
    sqlx::query("update ops.outbox set next_attempt_at = now()")
        .execute(&pool)
        .await
        .unwrap();

    // Act 2: the next scheduled run, with the queue reachable.
    let fixed = OutboxPublisher {
        sqs: aws.sqs.clone(),
        queues: QueueUrls {
            accept: Some(queue_url.clone()),
            ..QueueUrls::default()
        },
    };
    let second = sync
        .run(at("2026-03-05T12:05:00Z"), Some(&fixed))
        .await
        .unwrap();
    let third = sync
        .run(at("2026-03-05T12:10:00Z"), Some(&fixed))
        .await
        .unwrap();

    // Assert 2: sent exactly once, with the agreed body.
    assert_eq!((second.published, third.published), (1, 0));
    let received = aws
        .sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(received.len(), 1);
    let body: serde_json::Value = serde_json::from_str(received[0].body().unwrap()).unwrap();
    assert_eq!(body["channel"], "bestbuy_ca");
    assert_eq!(body["external_id"], "BBY-OB-1");
    aws.sqs
        .delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_poll_short_of_time_reads_one_page_keeps_what_it_recorded_and_leaves_the_watermark(
    pool: PgPool,
) {
    // Arrange: four orders on two pages, listed oldest created first, so the second page
    // holds changes older than the first page's newest; time for one page only.
    let server = MockServer::start().await;
    sqlx::query(
        "insert into etl.sync_metadata (source, entity, watermark_at)
         values ('mirakl', 'orders', '2026-03-05T06:00:00Z')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let first_page = [
        mirakl_order("BBY-D-1", "SHIPPED", "2026-03-05T11:00:00Z"),
        mirakl_order("BBY-D-2", "SHIPPED", "2026-03-05T07:00:00Z"),
    ];
    let second_page = [
        mirakl_order("BBY-D-3", "SHIPPED", "2026-03-05T06:30:00Z"),
        mirakl_order("BBY-D-4", "SHIPPED", "2026-03-05T08:00:00Z"),
    ];
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .and(query_param("start_update_date", "2026-03-05T05:55:00Z"))
        .and(query_param("offset", "0"))
        .respond_with(page(&first_page, 4).set_delay(Duration::from_secs(2)))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .and(query_param("start_update_date", "2026-03-05T05:55:00Z"))
        .and(query_param("offset", "2"))
        .respond_with(page(&second_page, 4))
        .expect(1)
        .mount(&server)
        .await;
    let sync = poller(&server, &pool, 2);
    let one_page = time_budget::poll_page_worst_case(sync.retry);
    let deadline = Instant::now() + one_page + Duration::from_secs(1);

    // Act 1: the first page takes 2 s, leaving less than another page's worst case.
    let short = sync
        .sync_orders_until(at("2026-03-05T12:00:00Z"), Some(deadline))
        .await
        .unwrap();

    // Assert 1: the first page is recorded, the watermark has not moved.
    assert_eq!((short.seen, short.changed, short.cut_short), (2, 2, true));
    let recorded: Vec<String> =
        sqlx::query_scalar("select external_id from sales.orders order by external_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(recorded, ["BBY-D-1", "BBY-D-2"]);
    let (status, watermark, error) = sync_row(&pool, "orders").await;
    assert_eq!(status, "failed");
    assert_eq!(watermark, Some(at("2026-03-05T06:00:00Z")));
    assert!(error.is_some_and(|e| e.contains("short of time")));

    // Act 2: the next run, with time enough.
    let next = sync.sync_orders(at("2026-03-05T12:05:00Z")).await.unwrap();

    // Assert 2: it read from the same watermark and lost nothing.
    assert_eq!((next.seen, next.changed, next.cut_short), (4, 2, false));
    let recorded: i64 = sqlx::query_scalar("select count(*) from sales.orders")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(recorded, 4);
    let (status, watermark, _) = sync_row(&pool, "orders").await;
    assert_eq!(status, "success");
    assert_eq!(watermark, Some(at("2026-03-05T11:00:00Z")));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_order_refused_by_its_checks_is_written_down_naming_the_field_and_the_page_goes_on(
    pool: PgPool,
) {
    let server = MockServer::start().await;
    let order = |id: &str| mirakl_order(id, "SHIPPED", "2026-03-05T01:00:00Z");
    let nul = order("BBY-NUL-1").replacen("\"Élodie\"", "\"Élo\\u0000die\"", 1);
    let exponent = order("BBY-EXP-1").replace("\"total_price\": 519.97", "\"total_price\": 1e5");
    let repeated = order("BBY-DUP-1").replace("BBY-DUP-1-2", "BBY-DUP-1-1");
    let orders = [nul, order("BBY-OK-1"), exponent, repeated];
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(page(&orders, 4))
        .expect(1)
        .mount(&server)
        .await;

    let tally = poller(&server, &pool, 100)
        .sync_orders(at("2026-03-05T12:00:00Z"))
        .await
        .unwrap();

    assert_eq!((tally.seen, tally.changed, tally.failed), (4, 1, 3));
    let recorded: Vec<String> = sqlx::query_scalar("select external_id from sales.orders")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(recorded, ["BBY-OK-1"]);
    let failures: Vec<(String, String)> =
        sqlx::query_as("select entity_ref, reason from ops.process_failures order by entity_ref")
            .fetch_all(&pool)
            .await
            .unwrap();
    let reason = |id: &str| {
        failures
            .iter()
            .find(|(entity, _)| entity == id)
            .map(|(_, reason)| reason.clone())
            .unwrap_or_default()
    };
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert!(
        reason("BBY-NUL-1").contains("customer.firstname") && reason("BBY-NUL-1").contains("NUL"),
        "{failures:?}"
    );
    assert!(reason("BBY-EXP-1").contains("total_price"), "{failures:?}");
    assert!(
        reason("BBY-DUP-1").contains("order_lines[1].order_line_id"),
        "{failures:?}"
    );
    assert_eq!(sync_row(&pool, "orders").await.0, "success");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_429_asking_to_wait_longer_than_the_run_stops_the_poll_and_no_run_calls_before_it_ends(
    pool: PgPool,
) {
    // Arrange: OR11 answers 429 with Retry-After 120 s once, then pages normally.
    let server = MockServer::start().await;
    no_threads(&server).await;
    sqlx::query(
        "insert into etl.sync_metadata (source, entity, watermark_at)
         values ('mirakl', 'orders', '2026-03-05T03:00:00Z')",
    )
    .execute(&pool)
    .await
    .unwrap();
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "120"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(page(
            &[mirakl_order("BBY-W-1", "SHIPPED", "2026-03-05T04:00:00Z")],
            1,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let sync = poller(&server, &pool, 100);
    let now = at("2026-03-05T12:00:00Z");
    // Less time left than the 120 s asked for, enough for the pages' worst case.
    let deadline = Instant::now() + Duration::from_secs(100);

    // Act 1
    let first = sync.run_until(now, None, Some(deadline)).await.unwrap();

    // Assert 1: it stopped at once, without waiting, and recorded the wait.
    assert!(
        deadline.saturating_duration_since(Instant::now()) > Duration::from_secs(60),
        "waited for the Retry-After"
    );
    let until = first.orders.wait_until.expect("the wait is reported");
    assert!(
        until >= now + chrono::Duration::seconds(120)
            && until < now + chrono::Duration::seconds(150),
        "{until}"
    );
    let (status, watermark, error) = sync_row(&pool, "orders").await;
    assert_eq!(status, "failed");
    assert_eq!(watermark, Some(at("2026-03-05T03:00:00Z")));
    assert!(error.is_some_and(|e| e.contains("Retry-After")));
    let next_allowed: Option<DateTime<Utc>> = sqlx::query_scalar(
        "select next_allowed_at from etl.sync_metadata where source = 'mirakl' and entity = 'orders'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(next_allowed, Some(until));

    // Act 2: the next scheduled run, one minute later, is still inside the wait.
    let second = sync
        .run_until(now + chrono::Duration::seconds(60), None, None)
        .await
        .unwrap();

    // Assert 2: OR11 not called (the mocks' expectations count the calls).
    assert_eq!(second.orders.seen, 0);
    assert_eq!(second.orders.wait_until, Some(until));

    // Act 3: the run after the wait reads from the watermark as usual.
    let third = sync
        .run_until(now + chrono::Duration::seconds(300), None, None)
        .await
        .unwrap();

    assert_eq!((third.orders.seen, third.orders.wait_until), (1, None));
    let (status, watermark, _) = sync_row(&pool, "orders").await;
    assert_eq!(status, "success");
    assert_eq!(watermark, Some(at("2026-03-05T04:00:00Z")));
}
