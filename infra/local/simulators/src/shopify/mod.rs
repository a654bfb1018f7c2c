//! Shopify's Admin GraphQL API as the orders reconciliation reads it:
//! `POST /admin/api/{version}/graphql.json` with the app's access token in
//! `X-Shopify-Access-Token`, answering the `orders` connection.
//!
//! - `orders(first, after, query, sortKey, reverse)`: `query` in Shopify's search syntax
//!   filters on `updated_at` and `created_at` (`updated_at:>='2026-03-02T15:00:00Z'`);
//!   other terms are reported under `extensions.search` and not applied. `sortKey` is
//!   `ID` (default), `CREATED_AT` or `UPDATED_AT`. Cursors are Shopify's (base64 of the
//!   last id and sort value), so a page is stable while orders change. Each order's
//!   `lineItems` and `shippingLines` are cut to the `first` the query gives them.
//! - The query-cost limit ([`cost`]): every answer carries `extensions.cost` with the
//!   bucket's `throttleStatus`; a query the bucket cannot pay for is answered 200 with
//!   a `THROTTLED` error and runs nothing, and one dearer than 1,000 points is refused
//!   with `MAX_COST_EXCEEDED`.
//!
//! The simulator does not execute GraphQL: it reads the arguments of the `orders` field
//! ([`graphql`]) and answers each order node whole, whatever fields were selected.
//! Any other query is answered with a GraphQL error naming what it serves.
//!
//! Errors outside GraphQL are Shopify's: 401 `{"errors": "[API] Invalid API key or
//! access token …"}` for a wrong token, and the injected faults of route `GRAPHQL`.

pub mod cost;
pub mod graphql;
pub mod orders;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use self::cost::{Charge, MAX_QUERY_COST};
use self::orders::{OrdersRequest, ShopifyOrders, SortKey, ORDER_CONNECTIONS};
use crate::faults::{self, Injection};
use crate::state::Simulator;

/// The header carrying the Admin API access token.
pub const ACCESS_TOKEN_HEADER: &str = "x-shopify-access-token";

/// The Admin API routes.
pub fn router(sim: Arc<Simulator>) -> Router<Arc<Simulator>> {
    Router::new()
        .route("/admin/api/{version}/graphql.json", post(graphql_endpoint))
        .layer(middleware::from_fn_with_state(sim, guard))
}

fn route_of(method: &Method, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["admin", "api", _, "graphql.json"]) => Some("GRAPHQL"),
        _ => None,
    }
}

/// Checks the access token, then passes the call through the simulator's fault
/// injection.
async fn guard(State(sim): State<Arc<Simulator>>, request: Request, next: Next) -> Response {
    let route = route_of(request.method(), request.uri().path());
    let authorized = request
        .headers()
        .get(ACCESS_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        == Some(sim.credentials().shopify_access_token.as_str());
    let refusal = (!authorized).then(|| {
        rest_error(
            StatusCode::UNAUTHORIZED,
            "[API] Invalid API key or access token (unrecognized login or wrong password)",
        )
    });
    faults::serve(
        &sim,
        "shopify",
        route,
        refusal,
        request,
        next,
        injected_response,
    )
    .await
}

/// An error outside GraphQL, as Shopify writes it: `{"errors": "…"}`.
fn rest_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "errors": message }))).into_response()
}

fn injected_response(status: u16, injection: &Injection) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let default_message = match status.as_u16() {
        429 => "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.",
        500..=599 => "Internal Server Error",
        _ => "Bad Request",
    };
    let mut response = rest_error(
        status,
        injection.message.as_deref().unwrap_or(default_message),
    );
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, injection.retry_after.into());
    }
    response
}

/// A 200 carrying GraphQL errors (and the cost, when the query was costed).
fn graphql_errors(message: &str, code: &str, extensions: Option<Value>) -> Response {
    let mut body = json!({"errors": [{"message": message, "extensions": {"code": code}}]});
    if let Some(extensions) = extensions {
        body["extensions"] = extensions;
    }
    (StatusCode::OK, Json(body)).into_response()
}

async fn graphql_endpoint(
    State(sim): State<Arc<Simulator>>,
    Path(version): Path<String>,
    body: Bytes,
) -> Response {
    if !valid_version(&version) {
        return rest_error(StatusCode::NOT_FOUND, "Not Found");
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(request)) => Value::Object(request),
        _ => {
            return rest_error(
                StatusCode::BAD_REQUEST,
                "Bad Request: the body is not a JSON object",
            )
        }
    };
    let Some(query) = request["query"].as_str() else {
        return rest_error(StatusCode::BAD_REQUEST, "Bad Request: no query");
    };
    let variables = request["variables"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let orders_request = match read_orders_request(query, &variables) {
        Ok(orders_request) => orders_request,
        Err((message, code)) => return graphql_errors(&message, code, None),
    };
    let requested = ShopifyOrders::requested_cost(&orders_request);
    let now = Instant::now();
    let mut state = sim.lock();
    if requested > MAX_QUERY_COST {
        let status = state.shopify_bucket.status(now);
        return graphql_errors(
            &format!(
                "Query cost is {requested}, which exceeds the single query max cost limit \
                 ({MAX_QUERY_COST})."
            ),
            "MAX_COST_EXCEEDED",
            Some(cost::extensions(requested, None, status)),
        );
    }
    if state.shopify_bucket.ask(requested, now) == Charge::Throttled {
        let status = state.shopify_bucket.status(now);
        return graphql_errors(
            "Throttled",
            "THROTTLED",
            Some(cost::extensions(requested, None, status)),
        );
    }
    let page = match state.shopify_orders.list(&orders_request) {
        Ok(page) => page,
        Err(message) => {
            // A query that fails to run is charged the one point Shopify charges.
            state.shopify_bucket.charge(1, now);
            let status = state.shopify_bucket.status(now);
            return graphql_errors(
                &message,
                "BAD_REQUEST",
                Some(cost::extensions(requested, Some(1), status)),
            );
        }
    };
    state.shopify_bucket.charge(page.actual_cost, now);
    let status = state.shopify_bucket.status(now);
    drop(state);
    let mut extensions = cost::extensions(requested, Some(page.actual_cost), status);
    if !page.warnings.is_empty() {
        extensions["search"] = json!([{
            "path": ["orders"],
            "query": orders_request.query,
            "warnings": page.warnings,
        }]);
    }
    let start_cursor = page.edges.first().map(|(cursor, _)| cursor.clone());
    let end_cursor = page.edges.last().map(|(cursor, _)| cursor.clone());
    let nodes: Vec<&Value> = page.edges.iter().map(|(_, node)| node).collect();
    let edges: Vec<Value> = page
        .edges
        .iter()
        .map(|(cursor, node)| json!({"cursor": cursor, "node": node}))
        .collect();
    Json(json!({
        "data": {"orders": {
            "pageInfo": {
                "hasNextPage": page.has_next_page,
                "hasPreviousPage": page.has_previous_page,
                "startCursor": start_cursor,
                "endCursor": end_cursor,
            },
            "edges": edges,
            "nodes": nodes,
        }},
        "extensions": extensions,
    }))
    .into_response()
}

/// `2025-01`: a year and a month.
fn valid_version(version: &str) -> bool {
    let bytes = version.as_bytes();
    bytes.len() == 7
        && bytes[4] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || b.is_ascii_digit())
}

/// The `orders` field's arguments, or the GraphQL error and its code.
fn read_orders_request(
    query: &str,
    variables: &Map<String, Value>,
) -> Result<OrdersRequest, (String, &'static str)> {
    if !graphql::is_query(query) {
        return Err((
            "the simulator answers queries only, not mutations".to_owned(),
            "BAD_REQUEST",
        ));
    }
    let unreadable = |message: String| (message, "BAD_REQUEST");
    let arguments = graphql::field_arguments(query, "orders", variables)
        .map_err(unreadable)?
        .ok_or_else(|| {
            (
                "the simulator answers the orders connection only (QueryRoot.orders)".to_owned(),
                "BAD_REQUEST",
            )
        })?;
    let first = first_argument(&arguments, "orders")?;
    let text = |name: &str| {
        arguments
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let sort_key =
        SortKey::parse(arguments.get("sortKey").and_then(Value::as_str)).map_err(unreadable)?;
    let mut nested = BTreeMap::new();
    for connection in ORDER_CONNECTIONS {
        if let Some(arguments) =
            graphql::field_arguments(query, connection, variables).map_err(unreadable)?
        {
            nested.insert(
                (*connection).to_owned(),
                first_argument(&arguments, connection)?,
            );
        }
    }
    Ok(OrdersRequest {
        first,
        after: text("after"),
        query: text("query"),
        sort_key,
        reverse: arguments.get("reverse").and_then(Value::as_bool) == Some(true),
        nested,
    })
}

/// A connection's `first`: required (the simulator does not page backwards with
/// `last`), at most 250.
fn first_argument(
    arguments: &Map<String, Value>,
    field: &str,
) -> Result<u32, (String, &'static str)> {
    match arguments.get("first") {
        None | Some(Value::Null) => Err((
            format!("{field}: you must provide one of first or last"),
            "BAD_REQUEST",
        )),
        Some(value) => value
            .as_u64()
            .and_then(|first| u32::try_from(first).ok())
            .filter(|first| (1..=orders::MAX_PAGE_SIZE).contains(first))
            .ok_or_else(|| {
                (
                    format!(
                        "{field}: first must be between 1 and {}, not {value}",
                        orders::MAX_PAGE_SIZE
                    ),
                    "BAD_REQUEST",
                )
            }),
    }
}
