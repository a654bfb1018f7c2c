//! The Shopify orders reconciliation against a fake Admin GraphQL API (wiremock): the
//! request it sends, a missed webhook recovered, a webhook and a poll of one update
//! recorded once, the cost bucket waited for, the cursor followed, the watermark; and
//! against the local stack's Shopify simulator, pages, cost bucket and all.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use sellerops::flows::marketplace_sync::shopify_orders::ShopifyPoll;
use sellerops::flows::marketplace_sync::MarketplaceSync;
use sellerops::ops::config::MarketplaceSyncSettings;
use sellerops::ops::retry::RetryPolicy;
use sellerops::systems::mirakl::MiraklClient;
use sellerops::systems::shopify::admin::ShopifyAdminClient;
use sellerops_simulators::Settings;
use sellerops_tests::fixtures;
use sellerops_tests::marketplace::{deliver, pepper, shopify_headers, webhook_service};
use serde_json::{json, Value};
use sqlx::PgPool;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ENDPOINT: &str = "/admin/api/2025-01/graphql.json";
const TOKEN: &str = "shpat_token-for-tests";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// A poller whose Shopify store is `server`; Mirakl is never called here.
fn poller(server: &MockServer, pool: &PgPool) -> MarketplaceSync {
    poller_of(&server.uri(), pool)
}

/// A poller whose Shopify store is at `base_url`.
fn poller_of(base_url: &str, pool: &PgPool) -> MarketplaceSync {
    MarketplaceSync {
        pool: pool.clone(),
        client: MiraklClient::new(
            "http://127.0.0.1:9",
            SecretString::from("shop-key"),
            None,
            pool.clone(),
        )
        .unwrap(),
        pepper: pepper(),
        settings: MarketplaceSyncSettings {
            overlap: Duration::from_secs(300),
            first_lookback: Duration::from_secs(24 * 3600),
            page_size: 100,
        },
        retry: RetryPolicy::ONCE,
        shopify: Some(ShopifyPoll {
            client: ShopifyAdminClient::new(
                base_url,
                "2025-01",
                SecretString::from(TOKEN),
                pool.clone(),
            )
            .unwrap(),
            retry: RetryPolicy {
                attempts: 3,
                base_delay: Duration::from_millis(50),
                max_delay: Duration::from_secs(2),
            },
        }),
        freshdesk: None,
    }
}

/// The fixture page: order #1042, the order the webhook fixture delivers, one page.
fn page_of_1042() -> Value {
    serde_json::from_str(&fixtures::text("shopify/admin_orders_page.json")).unwrap()
}

/// A page holding one order `id` updated at `updated_at`, continued at `next` when given.
fn page_of(id: u64, updated_at: &str, next: Option<&str>) -> Value {
    let mut page = page_of_1042();
    let node = &mut page["data"]["orders"]["nodes"][0];
    node["id"] = json!(format!("gid://shopify/Order/{id}"));
    node["legacyResourceId"] = json!(id.to_string());
    node["name"] = json!(format!("#{}", id % 10_000));
    node["updatedAt"] = json!(updated_at);
    page["data"]["orders"]["pageInfo"] = json!({"hasNextPage": next.is_some(), "endCursor": next});
    page
}

fn graphql(body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn request_body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

async fn shopify_orders(pool: &PgPool) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "select o.external_id, o.status,
                (select string_agg(h.source, ',' order by h.created_at)
                 from sales.order_status_history h where h.order_id = o.id)
         from sales.orders o where o.channel = 'shopify' order by o.external_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn watermark(pool: &PgPool) -> (Option<DateTime<Utc>>, String) {
    sqlx::query_as(
        "select watermark_at, sync_status from etl.sync_metadata
         where source = 'shopify' and entity = 'orders'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_webhook_that_never_arrived_is_recovered_by_the_poll(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("x-shopify-access-token", TOKEN))
        .and(header("content-type", "application/json"))
        .respond_with(graphql(&page_of_1042()))
        .mount(&server)
        .await;
    let now = at("2026-03-03T15:00:00Z");

    let tally = poller(&server, &pool)
        .sync_shopify_orders(now)
        .await
        .unwrap();

    assert_eq!((tally.seen, tally.changed, tally.failed), (1, 1, 0));
    assert_eq!(
        shopify_orders(&pool).await,
        vec![(
            "5820417390766".to_owned(),
            "paid".to_owned(),
            "shopify_poll".to_owned()
        )]
    );
    let requests = server.received_requests().await.unwrap();
    let sent = request_body(&requests[0]);
    let query = sent["query"].as_str().unwrap();
    assert!(
        query.contains("orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT)"),
        "{query}"
    );
    assert!(
        query.contains("pageInfo { hasNextPage endCursor }"),
        "{query}"
    );
    assert_eq!(
        sent["variables"],
        json!({"first": 10, "after": null, "query": "updated_at:>='2026-03-02T15:00:00Z'"}),
        "the first run reads the first look-back"
    );
    assert_eq!(
        watermark(&pool).await,
        (Some(at("2026-03-03T14:12:46Z")), "success".to_owned())
    );
    let (total, email_kept): (rust_decimal::Decimal, bool) = sqlx::query_as(
        "select total_amount, raw_payload::text like '%liam.macdonald%'
         from sales.orders where channel = 'shopify'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(total.to_string(), "563.48");
    assert!(!email_kept, "the address is hashed, never stored");

    // The next run starts the overlap before the watermark.
    poller(&server, &pool)
        .sync_shopify_orders(at("2026-03-03T15:05:00Z"))
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        request_body(&requests[1])["variables"]["query"],
        "updated_at:>='2026-03-03T14:07:46Z'"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_webhook_and_a_poll_of_the_same_update_record_it_once(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(graphql(&page_of_1042()))
        .mount(&server)
        .await;
    let body = fixtures::text("shopify/order_created.json");
    let answer = deliver(
        &webhook_service(&pool, None),
        "shopify",
        &shopify_headers("orders/create", "wh-1042", &body),
        &body,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let before: (String, String) = sqlx::query_as(
        "select raw_payload::text, updated_at::text from sales.orders where channel = 'shopify'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();

    let tally = poller(&server, &pool)
        .sync_shopify_orders(at("2026-03-03T15:00:00Z"))
        .await
        .unwrap();

    assert_eq!((tally.seen, tally.changed), (1, 0));
    assert_eq!(
        shopify_orders(&pool).await,
        vec![(
            "5820417390766".to_owned(),
            "paid".to_owned(),
            "shopify_webhook".to_owned()
        )],
        "one order, one status row: the webhook's"
    );
    let after: (String, String) = sqlx::query_as(
        "select raw_payload::text, updated_at::text from sales.orders where channel = 'shopify'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(after, before, "the poll changed nothing");
    let lines: i64 = sqlx::query_scalar("select count(*) from sales.order_lines")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(lines, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_poll_before_the_webhook_leaves_the_webhook_nothing_to_change(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(graphql(&page_of_1042()))
        .mount(&server)
        .await;
    poller(&server, &pool)
        .sync_shopify_orders(at("2026-03-03T15:00:00Z"))
        .await
        .unwrap();

    let body = fixtures::text("shopify/order_created.json");
    let answer = deliver(
        &webhook_service(&pool, None),
        "shopify",
        &shopify_headers("orders/create", "wh-1042-late", &body),
        &body,
    )
    .await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        shopify_orders(&pool).await,
        vec![(
            "5820417390766".to_owned(),
            "paid".to_owned(),
            "shopify_poll".to_owned()
        )]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_throttled_query_waits_for_the_cost_bucket_and_is_asked_again(pool: PgPool) {
    let server = MockServer::start().await;
    // 300 points asked, 100 left, 1,000 a second back: 200 ms to wait.
    let throttled = json!({
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED",
            "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
        "extensions": {"cost": {"requestedQueryCost": 300, "actualQueryCost": null,
            "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 100,
                               "restoreRate": 1000.0}}}
    });
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(graphql(&throttled))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(graphql(&page_of_1042()))
        .with_priority(2)
        .mount(&server)
        .await;
    let started = Instant::now();

    let tally = poller(&server, &pool)
        .sync_shopify_orders(at("2026-03-03T15:00:00Z"))
        .await
        .expect("a throttle is waited for, not a failure");

    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "asked again only after the bucket refilled ({:?})",
        started.elapsed()
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert_eq!((tally.seen, tally.changed), (1, 1));
    assert_eq!(watermark(&pool).await.1, "success");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_throttle_longer_than_the_run_may_wait_keeps_the_watermark(pool: PgPool) {
    let server = MockServer::start().await;
    // 900 points missing at 50 a second: 18 s, longer than the 2 s the policy waits.
    let throttled = json!({
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {"cost": {"requestedQueryCost": 1000, "actualQueryCost": null,
            "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 100,
                               "restoreRate": 50.0}}}
    });
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(graphql(&throttled))
        .mount(&server)
        .await;

    let err = poller(&server, &pool)
        .sync_shopify_orders(at("2026-03-03T15:00:00Z"))
        .await
        .unwrap_err();

    assert!(err.to_string().contains("throttled"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert_eq!(watermark(&pool).await, (None, "failed".to_owned()));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn paging_follows_the_cursor_to_the_last_page(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(body_partial_json(json!({"variables": {"after": null}})))
        .respond_with(graphql(&page_of(
            5_820_417_390_001,
            "2026-03-03T14:00:00Z",
            Some("cursor-after-first"),
        )))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(body_partial_json(
            json!({"variables": {"after": "cursor-after-first"}}),
        ))
        .respond_with(graphql(&page_of(
            5_820_417_390_002,
            "2026-03-03T14:30:00Z",
            None,
        )))
        .mount(&server)
        .await;

    let tally = poller(&server, &pool)
        .sync_shopify_orders(at("2026-03-03T15:00:00Z"))
        .await
        .unwrap();

    assert_eq!((tally.seen, tally.changed), (2, 2));
    let ids: Vec<String> = shopify_orders(&pool)
        .await
        .into_iter()
        .map(|o| o.0)
        .collect();
    assert_eq!(ids, ["5820417390001", "5820417390002"]);
    let afters: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| request_body(request)["variables"]["after"].clone())
        .collect();
    assert_eq!(afters, [Value::Null, json!("cursor-after-first")]);
    assert_eq!(
        watermark(&pool).await.0,
        Some(at("2026-03-03T14:30:00Z")),
        "the newest change of the last page"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_order_that_cannot_be_read_is_kept_for_review_and_the_rest_recorded(pool: PgPool) {
    let server = MockServer::start().await;
    let mut page = page_of_1042();
    let mut long = page["data"]["orders"]["nodes"][0].clone();
    long["legacyResourceId"] = json!("5820417399999");
    long["lineItems"]["pageInfo"]["hasNextPage"] = json!(true);
    page["data"]["orders"]["nodes"]
        .as_array_mut()
        .unwrap()
        .insert(0, long);
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(graphql(&page))
        .mount(&server)
        .await;

    let tally = poller(&server, &pool)
        .sync_shopify_orders(at("2026-03-03T15:00:00Z"))
        .await
        .unwrap();

    assert_eq!((tally.seen, tally.changed, tally.failed), (2, 1, 1));
    let (process, entity, reason): (String, String, String) =
        sqlx::query_as("select process_name, entity_ref, reason from ops.process_failures")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(process, "ShopifyReconciliation");
    assert_eq!(entity, "5820417399999");
    assert!(reason.contains("line items"), "{reason}");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn without_a_store_the_run_calls_no_shopify(pool: PgPool) {
    let server = MockServer::start().await;
    let mut sync = poller(&server, &pool);
    sync.shopify = None;

    let tally = sync
        .sync_shopify_orders(at("2026-03-03T15:00:00Z"))
        .await
        .unwrap();

    assert_eq!(tally.seen, 0);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_poll_reads_every_page_of_the_simulated_store_through_a_throttle(pool: PgPool) {
    let mut settings = Settings::for_tests();
    settings.credentials.shopify_access_token = TOKEN.to_owned();
    let simulator = sellerops_simulators::start(settings)
        .await
        .expect("simulators start");
    // Twelve orders never delivered by webhook: two pages of ten.
    let template = page_of_1042()["data"]["orders"]["nodes"][0].clone();
    let orders: Vec<Value> = (1..=12_u64)
        .map(|n| {
            let mut order = template.clone();
            order["legacyResourceId"] = json!((5_820_417_391_000 + n).to_string());
            order.as_object_mut().unwrap().remove("id");
            order["updatedAt"] = json!(format!("2026-03-03T14:{n:02}:00Z"));
            order["lineItems"]["nodes"][0]
                .as_object_mut()
                .unwrap()
                .remove("id");
            order
        })
        .collect();
    let http = reqwest::Client::new();
    let control = |path: &str| format!("{}{path}", simulator.shopify_url);
    let seeded = http
        .post(control("/_sim/shopify/orders"))
        .json(&json!({ "orders": orders }))
        .send()
        .await
        .unwrap();
    assert_eq!(seeded.status(), 201);
    // The bucket holds less than a page costs (652): the first query is throttled
    // until it refills.
    let bucket = http
        .post(control("/_sim/shopify/bucket"))
        .json(&json!({"currently_available": 600, "restore_rate": 200}))
        .send()
        .await
        .unwrap();
    assert_eq!(bucket.status(), 200);

    let tally = poller_of(&simulator.shopify_url, &pool)
        .sync_shopify_orders(at("2026-03-03T15:00:00Z"))
        .await
        .unwrap();

    assert_eq!((tally.seen, tally.changed, tally.failed), (12, 12, 0));
    let recorded = shopify_orders(&pool).await;
    assert_eq!(recorded.len(), 12);
    assert!(
        recorded
            .iter()
            .all(|(_, status, source)| status == "paid" && source == "shopify_poll"),
        "{recorded:?}"
    );
    assert_eq!(
        watermark(&pool).await,
        (Some(at("2026-03-03T14:12:00Z")), "success".to_owned())
    );
    let state: Value = http
        .get(control("/_sim/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<u64> = state["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|call| call["route"] == "GRAPHQL")
        .map(|call| call["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 200, 200], "throttled once, then two pages");
    let logged: i64 =
        sqlx::query_scalar("select count(*) from ops.api_calls where service = 'shopify'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(logged, 3, "every call logged, the throttled one too");
}
