//! Freshdesk's REST API v2 as the helpdesk sync and the reply flow use it: the ticket
//! list (`updated_since`, `order_by`, `order_type`, `include`, `page`, `per_page`), a
//! ticket's conversations, and the reply, under `/api/v2/…`. Authentication is HTTP
//! Basic with the API key as the user (any password).
//!
//! Freshdesk limits calls per minute: with a limit set (`POST /_sim/freshdesk/limit`
//! `{"per_minute": 2}`), every answer carries `X-RateLimit-Total`,
//! `X-RateLimit-Remaining` and `X-RateLimit-Used-CurrentRequest`, and a call over the
//! limit gets 429 with `Retry-After` (the seconds left in the minute). Faults are
//! injected like the other services' (routes `TICKETS`, `CONVERSATIONS`, `REPLY`).
//! Errors are Freshdesk's JSON: `{"description": "Validation failed", "errors":
//! [{"field", "message", "code"}]}`.

pub mod helpdesk;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use self::helpdesk::{Allowance, HelpdeskError, TicketQuery};
use crate::faults::{self, Injection};
use crate::state::Simulator;

impl IntoResponse for HelpdeskError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self.body)).into_response()
    }
}

/// The Freshdesk API routes.
pub fn router(sim: Arc<Simulator>) -> Router<Arc<Simulator>> {
    Router::new()
        .route("/api/v2/tickets", get(list_tickets))
        .route(
            "/api/v2/tickets/{ticket_id}/conversations",
            get(list_conversations),
        )
        .route("/api/v2/tickets/{ticket_id}/reply", post(reply))
        .layer(middleware::from_fn_with_state(sim, guard))
}

/// The operation a request is, for faults and the call log.
fn route_of(method: &Method, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["api", "v2", "tickets"]) => Some("TICKETS"),
        ("GET", ["api", "v2", "tickets", _, "conversations"]) => Some("CONVERSATIONS"),
        ("POST", ["api", "v2", "tickets", _, "reply"]) => Some("REPLY"),
        _ => None,
    }
}

/// Whether the `Authorization` header is Basic with the API key as the user.
fn authorized(sim: &Simulator, request: &Request) -> bool {
    let Some(encoded) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let decoded = String::from_utf8_lossy(&decoded);
    decoded.split_once(':').map(|(user, _)| user)
        == Some(sim.credentials().freshdesk_api_key.as_str())
}

fn error(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// Checks the API key and the per-minute limit, then passes the call through the
/// simulator's fault injection.
async fn guard(State(sim): State<Arc<Simulator>>, request: Request, next: Next) -> Response {
    let route = route_of(request.method(), request.uri().path());
    let mut refusal = (!authorized(&sim, &request)).then(|| {
        error(
            StatusCode::UNAUTHORIZED,
            json!({"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}),
        )
    });
    let mut allowance = Allowance::Unlimited;
    if refusal.is_none() {
        allowance = sim.lock().helpdesk.allow(Utc::now());
        if let Allowance::RetryAfter(seconds) = allowance {
            let mut limited = error(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"code": "rate_limit_exceeded", "message": "You have exceeded the limit of requests per minute"}),
            );
            limited
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
            refusal = Some(limited);
        }
    }
    let mut response = faults::serve(
        &sim,
        "freshdesk",
        route,
        refusal,
        request,
        next,
        injected_response,
    )
    .await;
    if let Allowance::Remaining { total, remaining } = allowance {
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-total", HeaderValue::from(total));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        headers.insert("x-ratelimit-used-currentrequest", HeaderValue::from(1));
    }
    response
}

fn injected_response(status: u16, injection: &Injection) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = injection.message.clone().unwrap_or_else(|| {
        match status.as_u16() {
            429 => "You have exceeded the limit of requests per minute",
            500..=599 => "We're sorry, but something went wrong.",
            _ => "Validation failed",
        }
        .to_owned()
    });
    let mut response = error(status, json!({"description": message, "errors": []}));
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, injection.retry_after.into());
    }
    response
}

#[derive(Debug, Deserialize)]
struct TicketParams {
    updated_since: Option<String>,
    order_by: Option<String>,
    order_type: Option<String>,
    include: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
}

async fn list_tickets(
    State(sim): State<Arc<Simulator>>,
    Query(params): Query<TicketParams>,
) -> Result<Json<Value>, HelpdeskError> {
    let query = TicketQuery {
        updated_since: params.updated_since,
        order_by: params.order_by,
        order_type: params.order_type,
        include: params.include,
        page: params.page,
        per_page: params.per_page,
    };
    let tickets = sim.lock().helpdesk.list(&query, Utc::now())?;
    Ok(Json(Value::Array(tickets)))
}

#[derive(Debug, Deserialize)]
struct PageParams {
    page: Option<String>,
    per_page: Option<String>,
}

fn ticket_number(raw: &str) -> Result<u64, HelpdeskError> {
    raw.parse().map_err(|_| HelpdeskError {
        status: 404,
        body: json!({"code": "access_denied", "message": "The requested resource does not exist"}),
    })
}

async fn list_conversations(
    State(sim): State<Arc<Simulator>>,
    Path(ticket_id): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, HelpdeskError> {
    let ticket_id = ticket_number(&ticket_id)?;
    let entries = sim.lock().helpdesk.conversations(
        ticket_id,
        params.page.as_deref(),
        params.per_page.as_deref(),
    )?;
    Ok(Json(Value::Array(entries)))
}

async fn reply(
    State(sim): State<Arc<Simulator>>,
    Path(ticket_id): Path<String>,
    body: Bytes,
) -> Result<Response, HelpdeskError> {
    let ticket_id = ticket_number(&ticket_id)?;
    let body: Value = serde_json::from_slice(&body).map_err(|_| HelpdeskError {
        status: 400,
        body: json!({"code": "invalid_json", "message": "Request body has invalid json format"}),
    })?;
    let entry = sim.lock().helpdesk.reply(ticket_id, &body, Utc::now())?;
    Ok((StatusCode::CREATED, Json(entry)).into_response())
}
