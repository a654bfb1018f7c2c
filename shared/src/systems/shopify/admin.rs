//! Shopify's Admin GraphQL API, as the orders reconciliation reads it.
//!
//! [`ShopifyAdminClient::orders_updated_since`] asks for one page of orders updated
//! since a time (`updated_at:>=`), oldest change first, after a cursor, and hands each
//! back as the REST order document Shopify's webhooks send ([`rest_order`]), so that a
//! polled order is read and recorded by exactly the code that records a webhook's.
//!
//! Shopify limits GraphQL by query cost: a bucket of points (`maximumAvailable`) that
//! refills at `restoreRate` a second, reported with every answer under
//! `extensions.cost.throttleStatus`. A query the bucket cannot pay for is answered 200
//! with a `THROTTLED` error; it is asked again after the time the bucket needs to refill
//! for it, when the retry policy allows that wait ([`ShopifyError::Throttled`]). Each
//! answer's [`QueryCost`] tells the caller how long to let the bucket refill before its
//! next page. Every call goes through the shared [`HttpClient`] and is logged in
//! `ops.api_calls` with the access token redacted.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{HeaderName, ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::ops::config::{ConfigError, ShopifyAdminSettings};
use crate::ops::errors::ProcessError;
use crate::ops::retry::{with_retries, RetryPolicy, Transient};
use crate::systems::http::{Answer, Call, Failure, HttpClient};

/// The service name in `ops.api_calls`.
pub const SERVICE: &str = "shopify";

/// How long one request may take before it counts as a timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Orders per page. A page's cost is about one point per order plus one per line item
/// asked for, so ten orders of at most [`LINES_PER_ORDER`] lines stay well under the
/// 1,000 points a single query may cost.
pub const ORDERS_PER_PAGE: u32 = 10;

/// Line items read per order. An order with more is not read by the reconciliation
/// (its lines would be cut short); [`rest_order`] refuses it by name.
pub const LINES_PER_ORDER: u32 = 50;

/// The header carrying the Admin API access token.
const ACCESS_TOKEN: HeaderName = HeaderName::from_static("x-shopify-access-token");

/// The operation's name in `ops.api_calls`.
const OPERATION: &str = "orders";

/// The fields of an order the REST document is made of ([`rest_order`]).
const ORDERS_QUERY: &str = "query OrdersUpdatedSince($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id legacyResourceId name email createdAt updatedAt cancelledAt currencyCode
      taxesIncluded displayFinancialStatus displayFulfillmentStatus
      totalPriceSet { shopMoney { amount } }
      subtotalPriceSet { shopMoney { amount } }
      totalTaxSet { shopMoney { amount } }
      totalDiscountsSet { shopMoney { amount } }
      totalTipReceivedSet { shopMoney { amount } }
      customer { legacyResourceId email }
      shippingAddress { firstName lastName company address1 address2 city provinceCode zip countryCodeV2 phone }
      shippingLines(first: 10) { nodes { originalPriceSet { shopMoney { amount } } } }
      lineItems(first: 50) {
        pageInfo { hasNextPage }
        nodes { id sku title quantity originalUnitPriceSet { shopMoney { amount } } }
      }
    }
  }
}";

/// A client of one store's Admin GraphQL API, built once per Lambda instance.
#[derive(Clone)]
pub struct ShopifyAdminClient {
    http: HttpClient,
    endpoint: String,
    access_token: SecretString,
}

impl std::fmt::Debug for ShopifyAdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyAdminClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// What a query cost and what is left: `extensions.cost` of an answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryCost {
    /// What Shopify charged up front for the query.
    pub requested: f64,
    /// Points in the bucket after this query.
    pub currently_available: f64,
    /// Points restored each second.
    pub restore_rate: f64,
}

impl QueryCost {
    /// How long the bucket needs before it can pay `cost` again: none when it can now,
    /// else the missing points over the restore rate.
    pub fn wait_for(&self, cost: f64) -> Duration {
        let missing = cost - self.currently_available;
        if missing <= 0.0 || self.restore_rate <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((missing / self.restore_rate).min(3600.0))
    }

    /// How long before the same query can be paid for again.
    pub fn wait_for_same_again(&self) -> Duration {
        self.wait_for(self.requested)
    }
}

/// One page of orders, each as a webhook would send it, or why it cannot be read.
#[derive(Debug)]
pub struct OrdersPage {
    /// In the order Shopify listed them (oldest change first): the REST order
    /// document, or the order's id and why it cannot be one.
    pub orders: Vec<Result<String, UnreadOrder>>,
    /// The cursor of the page after this one, when there is one.
    pub next_cursor: Option<String>,
    /// What the page cost; `None` when Shopify did not say.
    pub cost: Option<QueryCost>,
}

/// An order of a page that cannot be turned into the webhook's document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadOrder {
    /// Shopify's order id, or the node id when even that is missing.
    pub order_id: String,
    pub reason: String,
}

/// Why a page could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ShopifyError {
    /// The query cost more than the bucket held: ask again after `wait`.
    #[error("Shopify throttled the orders query (the cost bucket refills in {wait:?})")]
    Throttled { wait: Duration },
    /// 429: too many requests.
    #[error("Shopify is rate limiting (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx: Shopify is failing.
    #[error("Shopify failed with HTTP {status}")]
    Unavailable { status: u16 },
    /// No answer.
    #[error("Shopify could not be reached")]
    Transport {
        #[source]
        source: reqwest::Error,
    },
    /// 401 or 403: the access token was refused or lacks `read_orders`.
    #[error("Shopify rejected the Admin API access token (HTTP {status})")]
    CredentialsRejected { status: u16 },
    /// Any other refusal, or GraphQL errors: the query is wrong for this store.
    #[error("Shopify refused the orders query: {message}")]
    Rejected { message: String },
    /// A 2xx whose body is not what the API documents.
    #[error("Shopify answered the orders query with an unexpected body: {reason}")]
    UnexpectedBody { reason: String },
}

impl ShopifyError {
    /// Whether asking again in a moment may succeed; a throttle or a 429 say how long.
    fn transient(&self) -> Transient {
        match self {
            Self::Throttled { wait } => Transient::Yes(Some(*wait)),
            Self::RateLimited { retry_after } => Transient::Yes(*retry_after),
            Self::Transport { source } if source.is_connect() || source.is_timeout() => {
                Transient::Yes(None)
            }
            Self::Unavailable { .. } => Transient::Yes(None),
            _ => Transient::No,
        }
    }
}

impl From<ShopifyError> for ProcessError {
    fn from(err: ShopifyError) -> Self {
        match err {
            ShopifyError::Rejected { .. } | ShopifyError::UnexpectedBody { .. } => {
                ProcessError::permanent(err.to_string())
            }
            _ => {
                let context = err.to_string();
                ProcessError::retryable(context, err)
            }
        }
    }
}

impl ShopifyAdminClient {
    /// Builds the client from its settings, logging calls through `log`.
    pub fn from_settings(
        settings: &ShopifyAdminSettings,
        log: PgPool,
    ) -> Result<Self, ConfigError> {
        Self::new(
            &settings.base_url,
            &settings.api_version,
            settings.access_token.clone(),
            log,
        )
        .map_err(|err| {
            ConfigError::invalid(
                "SHOPIFY_ADMIN_BASE_URL",
                format!("cannot build an HTTP client: {err}"),
            )
        })
    }

    /// A client for the store at `base_url` (`https://example.myshopify.com`) speaking
    /// `api_version` (`2025-01`).
    pub fn new(
        base_url: &str,
        api_version: &str,
        access_token: SecretString,
        log: PgPool,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: HttpClient::new(SERVICE, REQUEST_TIMEOUT, log)?,
            endpoint: format!(
                "{}/admin/api/{api_version}/graphql.json",
                base_url.trim_end_matches('/')
            ),
            access_token,
        })
    }

    /// One page of the orders updated at or after `since`, oldest change first, after
    /// `cursor` (the first page without one). A throttled query, a 429, a 5xx or no
    /// answer is asked again as `policy` allows, after the wait Shopify's cost bucket
    /// or `Retry-After` asks for.
    pub async fn orders_updated_since(
        &self,
        since: DateTime<Utc>,
        cursor: Option<&str>,
        policy: RetryPolicy,
    ) -> Result<OrdersPage, ShopifyError> {
        let body = json!({
            "query": ORDERS_QUERY,
            "variables": {
                "first": ORDERS_PER_PAGE,
                "after": cursor,
                "query": orders_filter(since),
            },
        })
        .to_string();
        with_retries(policy, ShopifyError::transient, || self.ask(&body)).await
    }

    async fn ask(&self, body: &str) -> Result<OrdersPage, ShopifyError> {
        let mut call = Call::new(OPERATION, Method::POST, self.endpoint.clone());
        call.headers = vec![
            (ACCESS_TOKEN, self.access_token.expose_secret().to_owned()),
            (CONTENT_TYPE, "application/json".to_owned()),
            (ACCEPT, "application/json".to_owned()),
        ];
        call.body = Some(body.to_owned());
        match self.http.send(&call).await {
            Ok(Answer { body, .. }) => read_page(&body),
            Err(failure) => Err(match failure {
                Failure::RateLimited { retry_after } => ShopifyError::RateLimited { retry_after },
                Failure::Unavailable { status } => ShopifyError::Unavailable { status },
                Failure::Transport { source } => ShopifyError::Transport { source },
                Failure::CredentialsRejected { status } => {
                    ShopifyError::CredentialsRejected { status }
                }
                Failure::Rejected { status, body } => ShopifyError::Rejected {
                    message: format!(
                        "HTTP {status}: {}",
                        String::from_utf8_lossy(&body)
                            .trim()
                            .chars()
                            .take(500)
                            .collect::<String>()
                    ),
                },
            }),
        }
    }
}

/// Shopify's search syntax for "updated at or after `since`", to the second.
pub fn orders_filter(since: DateTime<Utc>) -> String {
    format!(
        "updated_at:>='{}'",
        since.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

#[derive(Deserialize)]
struct GraphQlAnswer {
    data: Option<OrdersData>,
    #[serde(default)]
    errors: Vec<GraphQlError>,
    extensions: Option<Extensions>,
}

#[derive(Deserialize)]
struct GraphQlError {
    #[serde(default)]
    message: String,
    extensions: Option<ErrorExtensions>,
}

#[derive(Deserialize)]
struct ErrorExtensions {
    code: Option<String>,
}

#[derive(Deserialize)]
struct Extensions {
    cost: Option<Cost>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cost {
    requested_query_cost: f64,
    throttle_status: ThrottleStatus,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThrottleStatus {
    currently_available: f64,
    restore_rate: f64,
}

#[derive(Deserialize)]
struct OrdersData {
    orders: Connection,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    page_info: PageInfo,
    nodes: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

fn read_page(body: &[u8]) -> Result<OrdersPage, ShopifyError> {
    let answer: GraphQlAnswer =
        serde_json::from_slice(body).map_err(|err| ShopifyError::UnexpectedBody {
            reason: err.to_string(),
        })?;
    let cost = answer
        .extensions
        .and_then(|extensions| extensions.cost)
        .map(|cost| QueryCost {
            requested: cost.requested_query_cost,
            currently_available: cost.throttle_status.currently_available,
            restore_rate: cost.throttle_status.restore_rate,
        });
    let throttled = answer.errors.iter().any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|e| e.code.as_deref())
            .is_some_and(|code| code == "THROTTLED")
    });
    if throttled {
        // Without a cost block, a second is what a bucket restoring 50 points a
        // second (the standard plan) needs for most of a page.
        let wait = cost.map_or(Duration::from_secs(1), |cost| cost.wait_for_same_again());
        return Err(ShopifyError::Throttled { wait });
    }
    if !answer.errors.is_empty() {
        let message = answer
            .errors
            .iter()
            .map(|error| error.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ShopifyError::Rejected { message });
    }
    let connection = answer
        .data
        .ok_or_else(|| ShopifyError::UnexpectedBody {
            reason: "no data and no errors".into(),
        })?
        .orders;
    let next_cursor = if connection.page_info.has_next_page {
        Some(
            connection
                .page_info
                .end_cursor
                .ok_or_else(|| ShopifyError::UnexpectedBody {
                    reason: "hasNextPage without an endCursor".into(),
                })?,
        )
    } else {
        None
    };
    Ok(OrdersPage {
        orders: connection.nodes.iter().map(rest_order).collect(),
        next_cursor,
        cost,
    })
}

/// One order node as the REST document a webhook sends (`orders/updated`), with the
/// fields [`super::ShopifyOrder`] reads: ids as numbers, money as decimal strings in the
/// shop's currency, statuses in REST's lower-case words.
pub fn rest_order(node: &Value) -> Result<String, UnreadOrder> {
    let text = |path: &[&str]| -> Option<&str> {
        path.iter()
            .try_fold(node, |value, key| value.get(key))
            .and_then(Value::as_str)
    };
    let money = |field: &str| text(&[field, "shopMoney", "amount"]).map(str::to_owned);
    let order_id = text(&["legacyResourceId"])
        .map(str::to_owned)
        .or_else(|| text(&["id"]).map(str::to_owned))
        .unwrap_or_else(|| "(no id)".to_owned());
    let unread = |reason: String| UnreadOrder {
        order_id: order_id.clone(),
        reason,
    };
    let id = number(text(&["legacyResourceId"]))
        .ok_or_else(|| unread("legacyResourceId is not a number".into()))?;
    if node["lineItems"]["pageInfo"]["hasNextPage"].as_bool() == Some(true) {
        return Err(unread(format!(
            "more than {LINES_PER_ORDER} line items: the reconciliation does not read it; \
             its webhook records it"
        )));
    }
    let line_items = nodes(&node["lineItems"])
        .iter()
        .map(|line| {
            let line_id = line["id"].as_str().and_then(gid_number).ok_or_else(|| {
                unread(format!("line item id {} is not a Shopify id", line["id"]))
            })?;
            Ok(json!({
                "id": line_id,
                "sku": line["sku"],
                "title": line["title"],
                "quantity": line["quantity"],
                "price": line["originalUnitPriceSet"]["shopMoney"]["amount"],
            }))
        })
        .collect::<Result<Vec<_>, UnreadOrder>>()?;
    let shipping_lines: Vec<Value> = nodes(&node["shippingLines"])
        .iter()
        .map(|line| json!({ "price": line["originalPriceSet"]["shopMoney"]["amount"] }))
        .collect();
    let customer = match &node["customer"] {
        Value::Object(customer) => {
            let customer_id = number(customer.get("legacyResourceId").and_then(Value::as_str))
                .ok_or_else(|| unread("customer.legacyResourceId is not a number".into()))?;
            json!({ "id": customer_id, "email": customer.get("email") })
        }
        _ => Value::Null,
    };
    let shipping_address = match &node["shippingAddress"] {
        Value::Object(a) => json!({
            "first_name": a.get("firstName"),
            "last_name": a.get("lastName"),
            "company": a.get("company"),
            "address1": a.get("address1"),
            "address2": a.get("address2"),
            "city": a.get("city"),
            "province_code": a.get("provinceCode"),
            "zip": a.get("zip"),
            "country_code": a.get("countryCodeV2"),
            "phone": a.get("phone"),
        }),
        _ => Value::Null,
    };
    let document = json!({
        "id": id,
        "admin_graphql_api_id": node["id"],
        "name": node["name"],
        "email": node["email"],
        "created_at": node["createdAt"],
        "updated_at": node["updatedAt"],
        "cancelled_at": node["cancelledAt"],
        "currency": node["currencyCode"],
        "total_price": money("totalPriceSet"),
        "subtotal_price": money("subtotalPriceSet"),
        "total_tax": money("totalTaxSet"),
        "total_discounts": money("totalDiscountsSet"),
        "total_tip_received": money("totalTipReceivedSet"),
        "taxes_included": node["taxesIncluded"],
        "financial_status": text(&["displayFinancialStatus"]).map(str::to_ascii_lowercase),
        "fulfillment_status": text(&["displayFulfillmentStatus"]).and_then(rest_fulfillment_status),
        "customer": customer,
        "line_items": line_items,
        "shipping_lines": shipping_lines,
        "shipping_address": shipping_address,
    });
    Ok(document.to_string())
}

/// A connection's `nodes`, or none.
fn nodes(connection: &Value) -> &[Value] {
    connection["nodes"].as_array().map_or(&[], Vec::as_slice)
}

/// An unsigned id written as digits.
fn number(text: Option<&str>) -> Option<u64> {
    text?.trim().parse().ok()
}

/// The number at the end of a global id, `gid://shopify/LineItem/866550311766439020`.
fn gid_number(gid: &str) -> Option<u64> {
    gid.rsplit('/').next()?.split('?').next()?.parse().ok()
}

/// GraphQL's `displayFulfillmentStatus` as REST's `fulfillment_status`: `null` until
/// something shipped, then `partial` or `fulfilled`, or `restocked`.
fn rest_fulfillment_status(status: &str) -> Option<&'static str> {
    match status {
        "FULFILLED" => Some("fulfilled"),
        "PARTIALLY_FULFILLED" => Some("partial"),
        "RESTOCKED" => Some("restocked"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Value {
        json!({
            "id": "gid://shopify/Order/4058476875", "legacyResourceId": "4058476875",
            "name": "#1021", "email": null, "createdAt": "2026-03-02T10:00:00Z",
            "updatedAt": "2026-03-02T11:00:00Z", "cancelledAt": null, "currencyCode": "CAD",
            "taxesIncluded": false, "displayFinancialStatus": "PARTIALLY_REFUNDED",
            "displayFulfillmentStatus": "PARTIALLY_FULFILLED",
            "totalPriceSet": {"shopMoney": {"amount": "515.0"}},
            "subtotalPriceSet": {"shopMoney": {"amount": "499.0"}},
            "totalTaxSet": {"shopMoney": {"amount": "0.0"}},
            "totalDiscountsSet": {"shopMoney": {"amount": "0.0"}},
            "totalTipReceivedSet": {"shopMoney": {"amount": "0.0"}},
            "customer": {"legacyResourceId": "6147919642668", "email": null},
            "shippingAddress": {"firstName": "Sagar", "lastName": "G", "countryCodeV2": "CA",
                                "provinceCode": "ON"},
            "shippingLines": {"nodes": [{"originalPriceSet": {"shopMoney": {"amount": "16.0"}}}]},
            "lineItems": {"pageInfo": {"hasNextPage": false}, "nodes": [
                {"id": "gid://shopify/LineItem/11", "sku": "LT-T480-A", "title": "ThinkPad T480",
                 "quantity": 1, "originalUnitPriceSet": {"shopMoney": {"amount": "499.0"}}}]}
        })
    }

    #[test]
    fn an_order_node_reads_as_the_webhooks_order() {
        let document = rest_order(&node()).unwrap();
        let order: super::super::ShopifyOrder = serde_json::from_str(&document).unwrap();
        assert_eq!(order.id, 4_058_476_875);
        assert_eq!(order.line_items[0].id, 11);
        assert_eq!(order.total_price, rust_decimal::Decimal::from(515));
        assert_eq!(order.shipping_lines.len(), 1);
        assert_eq!(
            order.customer.as_ref().map(|c| c.id),
            Some(6_147_919_642_668)
        );
        assert_eq!(order.status().as_str(), "partial");
        assert_eq!(
            order.financial_status.as_deref(),
            Some("partially_refunded")
        );
        let address = order.shipping_address.unwrap();
        assert_eq!(address.country_code.as_deref(), Some("CA"));
    }

    #[test]
    fn an_order_whose_lines_do_not_fit_a_page_is_refused_by_id() {
        let mut node = node();
        node["lineItems"]["pageInfo"]["hasNextPage"] = json!(true);
        let unread = rest_order(&node).unwrap_err();
        assert_eq!(unread.order_id, "4058476875");
        assert!(unread.reason.contains("line items"), "{}", unread.reason);
    }

    #[test]
    fn the_bucket_wait_is_the_missing_points_over_the_restore_rate() {
        let cost = QueryCost {
            requested: 600.0,
            currently_available: 100.0,
            restore_rate: 50.0,
        };
        assert_eq!(cost.wait_for_same_again(), Duration::from_secs(10));
        assert_eq!(cost.wait_for(50.0), Duration::ZERO);
    }

    #[test]
    fn a_throttled_answer_asks_to_wait_for_the_bucket() {
        let body = br#"{"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": {"cost": {"requestedQueryCost": 752, "actualQueryCost": null,
              "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 652,
                                 "restoreRate": 50.0}}}}"#;
        match read_page(body) {
            Err(ShopifyError::Throttled { wait }) => assert_eq!(wait, Duration::from_secs(2)),
            other => panic!("expected a throttle, got {other:?}"),
        }
    }

    #[test]
    fn the_filter_names_the_time_to_the_second() {
        let since = "2026-03-02T14:18:45.678Z".parse().unwrap();
        assert_eq!(orders_filter(since), "updated_at:>='2026-03-02T14:18:45Z'");
    }
}
