//! The Mirakl seller (shop) API as Best Buy Canada runs it: OR11, OR21, OR23, OR24,
//! M10, M11, M12, SH21 and the offers' OF21, OF24, OF02 and OF04 under `/api/…`, checked against the shop API key in the
//! `Authorization` header (no `Bearer`).
//!
//! Errors are JSON `{"status": 400, "message": "ORDER_INVALID_STATE: …"}`: the message
//! starts with Mirakl's error code so that a caller can tell them apart.

pub mod multipart;
pub mod offers;
pub mod orders;
pub mod threads;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use self::multipart::FormData;
use crate::faults::{self, Injection};
use crate::state::Simulator;

/// The simulated shop's id and name, as M11/M12 show them.
pub const SHOP_ID: &str = "2001";
/// See [`SHOP_ID`].
pub const SHOP_NAME: &str = "sellerops (local)";

/// A carrier of the marketplace (SH21).
#[derive(Debug)]
pub struct Carrier {
    /// The code OR23 takes.
    pub code: &'static str,
    /// Its name.
    pub label: &'static str,
    /// Its tracking page, with `{trackingId}`.
    pub tracking_url: &'static str,
}

/// Best Buy Canada's carriers as SH21 lists them (Canada Post is `CPCL`).
pub const SHOP_CARRIERS: &[Carrier] = &[
    Carrier {
        code: "CPCL",
        label: "Canada Post",
        tracking_url:
            "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={trackingId}",
    },
    Carrier {
        code: "PRLA",
        label: "Purolator",
        tracking_url: "https://www.purolator.com/en/shipping/tracker?pin={trackingId}",
    },
    Carrier {
        code: "UPSN",
        label: "UPS",
        tracking_url: "https://www.ups.com/track?tracknum={trackingId}",
    },
];

/// A refused call: its status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The message (starting with the error code for business errors).
    pub message: String,
}

impl ApiError {
    /// A 400 with a plain message (a malformed parameter).
    pub fn bad_request(message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message,
        }
    }

    /// A 400 carrying one of Mirakl's error codes.
    pub fn business(code: &str, detail: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: format!("{code}: {detail}"),
        }
    }

    /// A 404 carrying one of Mirakl's error codes.
    pub fn not_found(code: &str, detail: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: format!("{code}: {detail}"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.status, &self.message)
    }
}

fn error_response(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"status": status.as_u16(), "message": message})),
    )
        .into_response()
}

/// The Mirakl API routes.
pub fn router(sim: Arc<Simulator>) -> Router<Arc<Simulator>> {
    Router::new()
        .route("/api/orders", get(list_orders))
        .route("/api/orders/{order_id}/accept", put(accept_order))
        .route("/api/orders/{order_id}/tracking", put(update_tracking))
        .route("/api/orders/{order_id}/ship", put(ship_order))
        .route("/api/inbox/threads", get(list_threads))
        .route("/api/inbox/threads/{thread_id}", get(read_thread))
        .route(
            "/api/inbox/threads/{thread_id}/message",
            post(reply_to_thread),
        )
        .route("/api/shipping/carriers", get(list_carriers))
        .route("/api/offers", get(list_offers).post(update_offers))
        .route("/api/offers/imports", get(list_imports))
        .route("/api/offers/imports/{import_id}", get(read_import))
        .layer(middleware::from_fn_with_state(sim, guard))
}

/// The operation a request is, for faults and the call log.
fn route_of(method: &Method, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["api", "orders"]) => Some("OR11"),
        ("PUT", ["api", "orders", _, "accept"]) => Some("OR21"),
        ("PUT", ["api", "orders", _, "tracking"]) => Some("OR23"),
        ("PUT", ["api", "orders", _, "ship"]) => Some("OR24"),
        ("GET", ["api", "inbox", "threads"]) => Some("M11"),
        ("GET", ["api", "inbox", "threads", _]) => Some("M10"),
        ("POST", ["api", "inbox", "threads", _, "message"]) => Some("M12"),
        ("GET", ["api", "shipping", "carriers"]) => Some("SH21"),
        ("GET", ["api", "offers"]) => Some("OF21"),
        ("POST", ["api", "offers"]) => Some("OF24"),
        ("GET", ["api", "offers", "imports"]) => Some("OF04"),
        ("GET", ["api", "offers", "imports", _]) => Some("OF02"),
        _ => None,
    }
}

/// Checks the API key, then passes the call through the simulator's fault injection.
async fn guard(State(sim): State<Arc<Simulator>>, request: Request, next: Next) -> Response {
    let route = route_of(request.method(), request.uri().path());
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(sim.credentials().mirakl_api_key.as_str());
    let refusal = (!authorized).then(|| error_response(StatusCode::UNAUTHORIZED, "Unauthorized"));
    faults::serve(
        &sim,
        "mirakl",
        route,
        refusal,
        request,
        next,
        injected_response,
    )
    .await
}

fn injected_response(status: u16, injection: &Injection) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let default_message = match status.as_u16() {
        429 => "Too many requests",
        500..=599 => "Internal server error",
        _ => "VALIDATION_ERROR: injected by the simulator",
    };
    let mut response = error_response(
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

#[derive(Debug, Deserialize)]
struct OrderParams {
    order_ids: Option<String>,
    order_state_codes: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    start_update_date: Option<String>,
    end_update_date: Option<String>,
    max: Option<String>,
    offset: Option<String>,
    order: Option<String>,
    paginate: Option<String>,
}

async fn list_orders(
    State(sim): State<Arc<Simulator>>,
    Query(params): Query<OrderParams>,
) -> Result<Json<Value>, ApiError> {
    let query = orders::OrderQuery {
        order_ids: params.order_ids,
        order_state_codes: params.order_state_codes,
        start_date: params.start_date,
        end_date: params.end_date,
        start_update_date: params.start_update_date,
        end_update_date: params.end_update_date,
        max: params.max,
        offset: params.offset,
        order: params.order,
        paginate: params.paginate,
    };
    let (orders, total_count) = sim.lock().orders.list(&query)?;
    Ok(Json(json!({"orders": orders, "total_count": total_count})))
}

async fn accept_order(
    State(sim): State<Arc<Simulator>>,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let decision = json_body(&body)?;
    sim.lock().orders.accept(&order_id, &decision, Utc::now())?;
    Ok(StatusCode::NO_CONTENT)
}

async fn update_tracking(
    State(sim): State<Arc<Simulator>>,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let tracking = json_body(&body)?;
    sim.lock()
        .orders
        .update_tracking(&order_id, &tracking, Utc::now())?;
    Ok(StatusCode::NO_CONTENT)
}

async fn ship_order(
    State(sim): State<Arc<Simulator>>,
    Path(order_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    sim.lock().orders.ship(&order_id, Utc::now())?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct ThreadParams {
    entity_type: Option<String>,
    entity_id: Option<String>,
    updated_since: Option<String>,
    with_messages: Option<String>,
    limit: Option<String>,
    page_token: Option<String>,
}

async fn list_threads(
    State(sim): State<Arc<Simulator>>,
    Query(params): Query<ThreadParams>,
) -> Result<Json<Value>, ApiError> {
    let query = threads::ThreadQuery {
        entity_type: params.entity_type,
        entity_id: params.entity_id,
        updated_since: params.updated_since,
        with_messages: params.with_messages,
        limit: params.limit,
        page_token: params.page_token,
    };
    let (data, next_page_token) = sim.lock().threads.list(&query)?;
    let mut page = json!({"data": data});
    if let Some(token) = next_page_token {
        page["next_page_token"] = json!(token);
    }
    Ok(Json(page))
}

async fn read_thread(
    State(sim): State<Arc<Simulator>>,
    Path(thread_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(sim.lock().threads.get(&thread_id)?))
}

/// M12: the form's `message_input` part (JSON with its own `Content-Type`) and any
/// `files` parts, which become the message's attachments.
async fn reply_to_thread(
    State(sim): State<Arc<Simulator>>,
    Path(thread_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let form = FormData::parse(content_type, &body).map_err(ApiError::bad_request)?;
    let part = form.part("message_input").ok_or_else(|| {
        ApiError::bad_request("Required request part 'message_input' is not present".to_owned())
    })?;
    let part_type = part
        .content_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    let media_type = part_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: format!("Content type '{part_type}' not supported for the part message_input"),
        });
    }
    let input: Value = serde_json::from_slice(part.content).map_err(|err| {
        ApiError::bad_request(format!("JSON parse error in message_input: {err}"))
    })?;
    let attachments: Vec<threads::Attachment> = form
        .parts_named("files")
        .map(|file| threads::Attachment {
            name: file.filename.clone().unwrap_or_else(|| "file".to_owned()),
            size: file.content.len(),
        })
        .collect();
    let message_id = sim
        .lock()
        .threads
        .reply(&thread_id, &input, &attachments, Utc::now())?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"message_id": message_id, "thread_id": thread_id})),
    ))
}

#[derive(Debug, Deserialize)]
struct OfferParams {
    sku: Option<String>,
}

async fn list_offers(
    State(sim): State<Arc<Simulator>>,
    Query(params): Query<OfferParams>,
) -> Json<Value> {
    let (offers, total_count) = sim.lock().offers.list(params.sku.as_deref());
    Json(json!({"offers": offers, "total_count": total_count}))
}

/// OF24: the import is created and run at once; 201 with its id.
async fn update_offers(
    State(sim): State<Arc<Simulator>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = json_body(&body)?;
    let import_id = sim.lock().offers.import(&body, Utc::now())?;
    Ok((StatusCode::CREATED, Json(json!({"import_id": import_id}))))
}

#[derive(Debug, Deserialize)]
struct ImportParams {
    start_date: Option<String>,
}

async fn list_imports(
    State(sim): State<Arc<Simulator>>,
    Query(params): Query<ImportParams>,
) -> Result<Json<Value>, ApiError> {
    let data = sim
        .lock()
        .offers
        .list_imports(params.start_date.as_deref())?;
    Ok(Json(json!({"data": data})))
}

async fn read_import(
    State(sim): State<Arc<Simulator>>,
    Path(import_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(sim.lock().offers.import_status(&import_id)?))
}

async fn list_carriers() -> Json<Value> {
    let carriers: Vec<Value> = SHOP_CARRIERS
        .iter()
        .map(|c| {
            json!({"code": c.code, "label": c.label, "standard_code": c.code, "tracking_url": c.tracking_url})
        })
        .collect();
    Json(json!({"carriers": carriers}))
}

fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|err| {
        ApiError::business("VALIDATION_ERROR", format!("the body is not JSON: {err}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_mirakl_operations() {
        assert_eq!(
            route_of(&Method::PUT, "/api/orders/X-A/accept"),
            Some("OR21")
        );
        assert_eq!(route_of(&Method::GET, "/api/orders"), Some("OR11"));
        assert_eq!(
            route_of(&Method::POST, "/api/inbox/threads/t/message"),
            Some("M12")
        );
        assert_eq!(route_of(&Method::GET, "/api/inbox/threads/t"), Some("M10"));
        assert_eq!(route_of(&Method::GET, "/api/inbox/threads"), Some("M11"));
        assert_eq!(route_of(&Method::POST, "/api/offers"), Some("OF24"));
        assert_eq!(route_of(&Method::GET, "/api/offers"), Some("OF21"));
        assert_eq!(
            route_of(&Method::GET, "/api/offers/imports/3001"),
            Some("OF02")
        );
        assert_eq!(route_of(&Method::GET, "/api/offers/imports"), Some("OF04"));
        assert_eq!(route_of(&Method::GET, "/api/nothing"), None);
    }
}
