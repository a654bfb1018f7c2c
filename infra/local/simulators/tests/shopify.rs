//! The Shopify Admin API simulator over HTTP: the orders query, its search filter and
//! cursor paging, the cost extension and throttling, auth and faults.

use reqwest::StatusCode;
use sellerops_simulators::{start, Running, Settings};
use serde_json::{json, Value};

const TOKEN: &str = "local-shopify-admin-token";
const ENDPOINT: &str = "/admin/api/2025-01/graphql.json";

/// The query sync-marketplace sends, less the fields that change nothing here.
const ORDERS_QUERY: &str =
    "query OrdersUpdatedSince($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id legacyResourceId name updatedAt
      totalPriceSet { shopMoney { amount } }
      shippingLines(first: 10) { nodes { originalPriceSet { shopMoney { amount } } } }
      lineItems(first: 50) {
        pageInfo { hasNextPage }
        nodes { id sku title quantity originalUnitPriceSet { shopMoney { amount } } }
      }
    }
  }
}";

struct Shopify {
    sim: Running,
    http: reqwest::Client,
}

impl Shopify {
    async fn start() -> Self {
        Self {
            sim: start(Settings::for_tests())
                .await
                .expect("simulators start"),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.shopify_url)
    }

    async fn control(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn seed(&self, orders: Value) -> Value {
        let response = self.control("/_sim/shopify/orders", orders).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    async fn graphql_with(&self, token: &str, query: &str, variables: Value) -> reqwest::Response {
        self.http
            .post(self.url(ENDPOINT))
            .header("X-Shopify-Access-Token", token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap()
    }

    /// The orders query's answer, which must be a 200.
    async fn orders(&self, first: u32, after: Option<&str>, search: &str) -> Value {
        let response = self
            .graphql_with(
                TOKEN,
                ORDERS_QUERY,
                json!({"first": first, "after": after, "query": search}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

fn order(id: u64, updated_at: &str) -> Value {
    json!({
        "legacyResourceId": id.to_string(),
        "createdAt": "2026-03-01T09:00:00Z",
        "updatedAt": updated_at,
        "lineItems": [{"sku": "RF-T480-I5-16-512", "quantity": 1,
                       "originalUnitPriceSet": {"shopMoney": {"amount": "499.99"}}}],
    })
}

fn ids(answer: &Value) -> Vec<String> {
    answer["data"]["orders"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["legacyResourceId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_orders_query_filters_on_update_time_oldest_change_first() {
    let shopify = Shopify::start().await;
    shopify
        .seed(json!([
            order(3, "2026-03-03T12:00:00Z"),
            order(1, "2026-03-03T14:00:00Z"),
            order(2, "2026-03-02T08:00:00Z"),
        ]))
        .await;

    let answer = shopify
        .orders(10, None, "updated_at:>='2026-03-03T00:00:00Z'")
        .await;

    assert_eq!(ids(&answer), ["3", "1"]);
    let node = &answer["data"]["orders"]["nodes"][0];
    assert_eq!(node["id"], "gid://shopify/Order/3");
    assert_eq!(node["totalPriceSet"]["shopMoney"]["amount"], "499.99");
    assert_eq!(node["lineItems"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(answer["data"]["orders"]["pageInfo"]["hasNextPage"], false);
    assert!(answer.get("errors").is_none(), "{answer}");
}

#[tokio::test]
async fn the_cursor_pages_to_the_end_without_repeating_an_order() {
    let shopify = Shopify::start().await;
    let orders: Vec<Value> = (1..=7)
        .map(|id| order(id, &format!("2026-03-03T1{}:00:00Z", id % 3)))
        .collect();
    shopify.seed(json!({ "orders": orders })).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let answer = shopify
            .orders(3, cursor.as_deref(), "updated_at:>='2026-03-03T00:00:00Z'")
            .await;
        pages += 1;
        seen.extend(ids(&answer));
        let page_info = &answer["data"]["orders"]["pageInfo"];
        if page_info["hasNextPage"] != true {
            break;
        }
        cursor = Some(page_info["endCursor"].as_str().unwrap().to_owned());
    }

    assert_eq!(pages, 3);
    // Updated at 10:00 (3, 6), 11:00 (1, 4, 7), 12:00 (2, 5): by time, then id.
    assert_eq!(seen, ["3", "6", "1", "4", "7", "2", "5"]);
}

#[tokio::test]
async fn every_answer_reports_its_cost_and_the_bucket() {
    let shopify = Shopify::start().await;
    shopify.seed(order(1, "2026-03-03T10:00:00Z")).await;

    let answer = shopify.orders(10, None, "").await;

    let cost = &answer["extensions"]["cost"];
    // 2 + 10 × (1 + lineItems 2 + 50 + shippingLines 2 + 10).
    assert_eq!(cost["requestedQueryCost"], 652);
    // 2 + one order × (1 + lineItems 2 + 1 + shippingLines 2 + 0).
    assert_eq!(cost["actualQueryCost"], 8);
    let status = &cost["throttleStatus"];
    assert_eq!(status["maximumAvailable"], 2000.0);
    assert_eq!(status["restoreRate"], 100.0);
    assert!(
        status["currentlyAvailable"].as_f64().unwrap() >= 1992.0,
        "{status}"
    );
}

#[tokio::test]
async fn a_query_the_bucket_cannot_pay_for_is_throttled_and_runs_nothing() {
    let shopify = Shopify::start().await;
    shopify.seed(order(1, "2026-03-03T10:00:00Z")).await;
    let response = shopify
        .control(
            "/_sim/shopify/bucket",
            json!({"currently_available": 100, "restore_rate": 50}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let answer = shopify.orders(10, None, "").await;

    assert_eq!(answer["errors"][0]["extensions"]["code"], "THROTTLED");
    assert!(answer.get("data").is_none(), "{answer}");
    let cost = &answer["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 652);
    assert_eq!(cost["actualQueryCost"], Value::Null);
    let available = cost["throttleStatus"]["currentlyAvailable"]
        .as_f64()
        .unwrap();
    assert!((100.0..652.0).contains(&available), "{available}");

    // Once the bucket holds enough, the same query runs.
    shopify
        .control("/_sim/shopify/bucket", json!({"currently_available": 2000}))
        .await;
    assert_eq!(ids(&shopify.orders(10, None, "").await), ["1"]);
}

#[tokio::test]
async fn a_query_dearer_than_any_bucket_is_refused() {
    let shopify = Shopify::start().await;

    let answer = shopify.orders(20, None, "").await;

    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        "MAX_COST_EXCEEDED"
    );
    assert_eq!(answer["extensions"]["cost"]["requestedQueryCost"], 1302);
}

#[tokio::test]
async fn a_replaced_order_is_an_update_seen_by_the_next_poll() {
    let shopify = Shopify::start().await;
    shopify.seed(order(1, "2026-03-03T10:00:00Z")).await;
    let since = "updated_at:>='2026-03-03T11:00:00Z'";
    assert!(ids(&shopify.orders(10, None, since).await).is_empty());

    let mut updated = order(1, "2026-03-03T12:00:00Z");
    updated["displayFulfillmentStatus"] = json!("FULFILLED");
    let kept = shopify.seed(updated.clone()).await;
    assert_eq!(
        kept["kept"],
        json!(["1"]),
        "without replace, a seed keeps the order"
    );
    let response = shopify
        .control("/_sim/shopify/orders?replace=true", updated)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let answer = shopify.orders(10, None, since).await;
    assert_eq!(ids(&answer), ["1"]);
    assert_eq!(
        answer["data"]["orders"]["nodes"][0]["displayFulfillmentStatus"],
        "FULFILLED"
    );
}

#[tokio::test]
async fn a_wrong_access_token_is_refused_with_shopifys_401() {
    let shopify = Shopify::start().await;

    let response = shopify
        .graphql_with(
            "shpat_wrong",
            ORDERS_QUERY,
            json!({"first": 1, "query": ""}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["errors"]
            .as_str()
            .unwrap()
            .contains("Invalid API key or access token"),
        "{body}"
    );
}

#[tokio::test]
async fn an_injected_fault_answers_instead_and_is_used_up() {
    let shopify = Shopify::start().await;
    let response = shopify
        .control(
            "/_sim/faults",
            json!({"route": "graphql", "status": 503, "times": 1}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let failed = shopify
        .graphql_with(TOKEN, ORDERS_QUERY, json!({"first": 1, "query": ""}))
        .await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    let answer = shopify.orders(1, None, "").await;
    assert!(answer.get("errors").is_none(), "{answer}");

    let counters: Value = shopify
        .http
        .get(shopify.url("/_sim/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["requests"]["GRAPHQL"], 2);
}

#[tokio::test]
async fn a_seed_that_is_not_an_order_is_refused_with_the_reason() {
    let shopify = Shopify::start().await;

    let response = shopify
        .control(
            "/_sim/shopify/orders",
            json!({"legacyResourceId": "9", "lineItems": [{"sku": "X"}]}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("originalUnitPriceSet"),
        "{body}"
    );
}

#[tokio::test]
async fn a_query_for_something_else_gets_a_graphql_error() {
    let shopify = Shopify::start().await;

    let response = shopify
        .graphql_with(TOKEN, "{ shop { name } }", json!({}))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("orders"),
        "{body}"
    );
}
