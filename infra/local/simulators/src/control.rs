//! The control API under `/_sim/`, served on both ports: seed state, inject faults,
//! inspect what happened, reset.
//!
//! | call | does |
//! |---|---|
//! | `GET /_sim/health` | 200 `ok` |
//! | `GET /_sim/state` | orders, state changes, threads, offers, offer imports, shipments, tickets, Shopify orders and cost bucket, faults, recent calls |
//! | `POST /_sim/orders[?replace=true]` | adds Mirakl orders (an order, an array, or `{"orders": [...]}`) |
//! | `POST /_sim/threads[?replace=true]` | adds inbox threads, likewise |
//! | `POST /_sim/offers[?replace=true]` | adds Mirakl offers (OF21's shape, by `shop_sku`), likewise |
//! | `POST /_sim/shopify/orders[?replace=true]` | adds Shopify orders (the Admin GraphQL `Order` node, by `legacyResourceId`), likewise; replacing one is an update |
//! | `POST /_sim/shopify/bucket` | sets the Shopify query-cost bucket: any of `maximum_available`, `restore_rate`, `currently_available` |
//! | `POST /_sim/tickets[?replace=true]` | adds Freshdesk tickets (the API's shape, `requester` and `description` included, each with its `conversations`), likewise |
//! | `POST /_sim/freshdesk/limit` | Freshdesk's calls per minute, `{"per_minute": 2}` (`null` or 0: no limit) |
//! | `POST /_sim/faults` | adds a fault, e.g. `{"route": "OR21", "status": 503, "times": 2}` |
//! | `GET /_sim/faults`, `DELETE /_sim/faults` | lists / clears the faults |
//! | `GET /_sim/counters` | calls received per route (`NCSHIPMENT`: purchase requests, `REFUND`: refund requests), and Canada Post shipments and refunds, in all and per `customer-ref-1` |
//! | `POST /_sim/reset` | forgets everything |

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::FaultSpec;
use crate::shopify::cost::BucketChange;
use crate::state::{SimState, Simulator};

/// The control routes.
pub fn router() -> Router<Arc<Simulator>> {
    Router::new()
        .route("/_sim/health", get(|| async { "ok" }))
        .route("/_sim/state", get(state))
        .route("/_sim/orders", post(add_orders))
        .route("/_sim/threads", post(add_threads))
        .route("/_sim/offers", post(add_offers))
        .route("/_sim/shopify/orders", post(add_shopify_orders))
        .route("/_sim/shopify/bucket", post(change_shopify_bucket))
        .route("/_sim/tickets", post(add_tickets))
        .route("/_sim/freshdesk/limit", post(set_freshdesk_limit))
        .route(
            "/_sim/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route("/_sim/counters", get(counters))
        .route("/_sim/reset", post(reset))
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"status": 400, "message": message.into()})),
    )
        .into_response()
}

fn parse(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|err| format!("the body is not JSON: {err}"))
}

/// The answer to a seed: 201 with the ids added and kept, or 400 with the reason.
fn seeded(outcome: Result<(Vec<String>, Vec<String>), String>) -> Response {
    match outcome {
        Ok((added, kept)) => (
            StatusCode::CREATED,
            Json(json!({"added": added, "kept": kept})),
        )
            .into_response(),
        Err(message) => bad_request(message),
    }
}

#[derive(Debug, Deserialize)]
struct SeedParams {
    #[serde(default)]
    replace: bool,
}

async fn add_orders(
    State(sim): State<Arc<Simulator>>,
    Query(params): Query<SeedParams>,
    body: Bytes,
) -> Response {
    seeded(parse(&body).and_then(|seed| sim.lock().orders.seed(seed, params.replace, Utc::now())))
}

async fn add_threads(
    State(sim): State<Arc<Simulator>>,
    Query(params): Query<SeedParams>,
    body: Bytes,
) -> Response {
    seeded(parse(&body).and_then(|seed| sim.lock().threads.seed(seed, params.replace, Utc::now())))
}

async fn add_offers(
    State(sim): State<Arc<Simulator>>,
    Query(params): Query<SeedParams>,
    body: Bytes,
) -> Response {
    seeded(parse(&body).and_then(|seed| sim.lock().offers.seed(seed, params.replace)))
}

async fn add_shopify_orders(
    State(sim): State<Arc<Simulator>>,
    Query(params): Query<SeedParams>,
    body: Bytes,
) -> Response {
    seeded(parse(&body).and_then(|seed| {
        sim.lock()
            .shopify_orders
            .seed(seed, params.replace, Utc::now())
    }))
}

/// 200 with the bucket as `throttleStatus` shows it, or 400 with the reason.
async fn change_shopify_bucket(State(sim): State<Arc<Simulator>>, body: Bytes) -> Response {
    let change: BucketChange = match serde_json::from_slice(&body) {
        Ok(change) => change,
        Err(err) => return bad_request(format!("not a bucket change: {err}")),
    };
    let changed = sim
        .lock()
        .shopify_bucket
        .change(change, std::time::Instant::now());
    match changed {
        Ok(status) => Json(json!(status)).into_response(),
        Err(message) => bad_request(message),
    }
}

async fn add_tickets(
    State(sim): State<Arc<Simulator>>,
    Query(params): Query<SeedParams>,
    body: Bytes,
) -> Response {
    seeded(parse(&body).and_then(|seed| sim.lock().helpdesk.seed(seed, params.replace, Utc::now())))
}

#[derive(Debug, Deserialize)]
struct Limit {
    per_minute: Option<u32>,
}

async fn set_freshdesk_limit(State(sim): State<Arc<Simulator>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Limit>(&body) {
        Ok(limit) => {
            sim.lock().helpdesk.limit(limit.per_minute);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => bad_request(format!("expected {{\"per_minute\": n}}: {err}")),
    }
}

async fn add_fault(State(sim): State<Arc<Simulator>>, body: Bytes) -> Response {
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(spec) => spec,
        Err(err) => return bad_request(format!("not a fault: {err}")),
    };
    let added = sim.lock().faults.add(spec);
    match added {
        Ok(fault) => (StatusCode::CREATED, Json(json!(fault))).into_response(),
        Err(message) => bad_request(message),
    }
}

async fn list_faults(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    Json(json!(sim.lock().faults.active()))
}

async fn clear_faults(State(sim): State<Arc<Simulator>>) -> StatusCode {
    sim.lock().faults.clear();
    StatusCode::NO_CONTENT
}

async fn reset(State(sim): State<Arc<Simulator>>) -> StatusCode {
    *sim.lock() = SimState::default();
    StatusCode::NO_CONTENT
}

/// What scenarios count: how often each route was called (even when the caller hung
/// up), how many shipments were bought and refunded, and per order reference.
async fn counters(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    let state = sim.lock();
    let mut by_reference = serde_json::Map::new();
    let (mut shipments, mut refunds) = (0_u64, 0_u64);
    for shipment in state.shipments.all() {
        let refunded = u64::from(shipment.refund.is_some());
        shipments += 1;
        refunds += refunded;
        let reference = shipment.customer_ref_1.clone().unwrap_or_default();
        let entry = by_reference
            .entry(reference)
            .or_insert_with(|| json!({"shipments": 0, "refunded": 0}));
        entry["shipments"] = (entry["shipments"].as_u64().unwrap_or(0) + 1).into();
        entry["refunded"] = (entry["refunded"].as_u64().unwrap_or(0) + refunded).into();
    }
    Json(json!({
        "requests": state.requests,
        "canadapost": {
            "shipments": shipments,
            "refunds": refunds,
            "by_reference": by_reference,
        },
    }))
}

async fn state(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    let mut state = sim.lock();
    let bucket = state.shopify_bucket.status(std::time::Instant::now());
    Json(json!({
        "mirakl": {
            "orders": state.orders.all().collect::<Vec<_>>(),
            "state_changes": state.orders.history(),
            "threads": state.threads.all().collect::<Vec<_>>(),
            "offers": state.offers.all().collect::<Vec<_>>(),
            "offer_imports": state.offers.imports(),
        },
        "canadapost": {
            "shipments": state.shipments.all().collect::<Vec<_>>(),
        },
        "shopify": {
            "orders": state.shopify_orders.all().collect::<Vec<_>>(),
            "cost_bucket": bucket,
        },
        "freshdesk": {
            "tickets": state.helpdesk.all(),
        },
        "faults": state.faults.active(),
        "calls": state.calls,
    }))
}
