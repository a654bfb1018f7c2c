//! Canada Post's REST API for non-contract shipments: `POST /rs/{customer}/ncshipment`
//! buys a shipment and answers `non-contract-shipment-info` with links back to this
//! simulator; `GET` on the `rel="label"` link returns the label as a PDF. `GET
//! /rs/{customer}/ncshipment?from=YYYYMMDDHHmm&to=YYYYMMDDHHmm` (UTC, both minutes
//! included) or `?trackingPIN=` lists shipments as links; `GET` on a shipment's link
//! answers its info again, on its `details` link its details (the `delivery-spec` as
//! bought, with `customer-ref-1`), and `POST` on its `refund` link takes a refund
//! request.
//!
//! Every call needs HTTP Basic credentials; errors are `<messages>` documents.

pub mod shipments;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use crate::faults::{self, Injection};
use crate::pdf::label_pdf;
use crate::state::Simulator;
use shipments::{parse_request, CpMessage, Shipment, NAMESPACE};

/// The media type of ncshipment requests and answers.
pub const MEDIA_TYPE: &str = "application/vnd.cpc.ncshipment-v4+xml";
/// The namespace of `<messages>`.
const MESSAGES_NAMESPACE: &str = "http://www.canadapost.ca/ws/messages";

/// The Canada Post routes.
pub fn router(sim: Arc<Simulator>) -> Router<Arc<Simulator>> {
    Router::new()
        .route(
            "/rs/{customer}/ncshipment",
            post(create_shipment).get(list_shipments),
        )
        .route("/rs/{customer}/ncshipment/{shipment_id}", get(get_shipment))
        .route(
            "/rs/{customer}/ncshipment/{shipment_id}/details",
            get(get_details),
        )
        .route(
            "/rs/{customer}/ncshipment/{shipment_id}/refund",
            post(request_refund),
        )
        .route(
            "/rs/artifact/{artifact_id}/{page}/{index}",
            get(get_artifact),
        )
        .layer(middleware::from_fn_with_state(sim, guard))
}

fn route_of(method: &Method, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["rs", _, "ncshipment"]) => Some("NCSHIPMENT"),
        ("GET", ["rs", _, "ncshipment"]) => Some("NCSHIPMENTS"),
        ("GET", ["rs", _, "ncshipment", _]) => Some("SHIPMENT"),
        ("GET", ["rs", _, "ncshipment", _, "details"]) => Some("DETAILS"),
        ("POST", ["rs", _, "ncshipment", _, "refund"]) => Some("REFUND"),
        ("GET", ["rs", "artifact", _, _, _]) => Some("ARTIFACT"),
        _ => None,
    }
}

/// Checks the Basic credentials, then passes the call through the simulator's fault
/// injection.
async fn guard(State(sim): State<Arc<Simulator>>, request: Request, next: Next) -> Response {
    let route = route_of(request.method(), request.uri().path());
    let credentials = sim.credentials();
    let authorized = basic_credentials(request.headers()).is_some_and(|(user, password)| {
        user == credentials.canadapost_username && password == credentials.canadapost_password
    });
    let refusal = (!authorized).then(|| {
        messages_response(
            StatusCode::UNAUTHORIZED,
            &[CpMessage {
                code: "E002".to_owned(),
                description: "AAA Authentication Failure".to_owned(),
            }],
        )
    });
    faults::serve(
        &sim,
        "canadapost",
        route,
        refusal,
        request,
        next,
        injected_response,
    )
    .await
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn injected_response(status: u16, injection: &Injection) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (code, description) = match (&injection.code, status.as_u16()) {
        (Some(code), _) => (
            code.clone(),
            injection
                .description
                .clone()
                .unwrap_or_else(|| "Injected validation error.".to_owned()),
        ),
        (None, 429) => ("Server".to_owned(), "Rejected by SLM Monitor".to_owned()),
        (None, 500..=599) => (
            "Server".to_owned(),
            "The service is temporarily unavailable.".to_owned(),
        ),
        (None, _) => ("E001".to_owned(), "Injected error.".to_owned()),
    };
    let mut response = messages_response(status, &[CpMessage { code, description }]);
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, injection.retry_after.into());
    }
    response
}

/// A `<messages>` error answer.
fn messages_response(status: StatusCode, messages: &[CpMessage]) -> Response {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<messages xmlns=\"{MESSAGES_NAMESPACE}\">"
    );
    for message in messages {
        xml.push_str(&format!(
            "<message><code>{}</code><description>{}</description></message>",
            escape(&message.code),
            escape(&message.description)
        ));
    }
    xml.push_str("</messages>\n");
    xml_response(status, xml)
}

fn xml_response(status: StatusCode, xml: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE))],
        xml,
    )
        .into_response()
}

fn single_message(status: StatusCode, code: &str, description: &str) -> Response {
    messages_response(
        status,
        &[CpMessage {
            code: code.to_owned(),
            description: description.to_owned(),
        }],
    )
}

async fn create_shipment(
    State(sim): State<Arc<Simulator>>,
    Path(customer): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let content_type = header_text(header::CONTENT_TYPE);
    if !content_type.trim().starts_with(MEDIA_TYPE) {
        return single_message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "E001",
            &format!("Content-Type must be {MEDIA_TYPE}."),
        );
    }
    if !header_text(header::ACCEPT).contains(MEDIA_TYPE) {
        return single_message(
            StatusCode::NOT_ACCEPTABLE,
            "E001",
            &format!("Accept must be {MEDIA_TYPE}."),
        );
    }
    let Ok(xml) = std::str::from_utf8(&body) else {
        return single_message(StatusCode::BAD_REQUEST, "E001", "The request is not UTF-8.");
    };
    let request = match parse_request(xml) {
        Ok(request) => request,
        Err(problems) => return messages_response(StatusCode::BAD_REQUEST, &problems),
    };
    let shipment = sim
        .lock()
        .shipments
        .create(&customer, &request, xml, Utc::now());
    xml_response(
        StatusCode::OK,
        shipment_info(&base_url(&headers), &shipment),
    )
}

async fn get_shipment(
    State(sim): State<Arc<Simulator>>,
    Path((customer, shipment_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let shipment = sim.lock().shipments.get(&shipment_id).cloned();
    match shipment {
        Some(shipment) if shipment.customer_number == customer => xml_response(
            StatusCode::OK,
            shipment_info(&base_url(&headers), &shipment),
        ),
        _ => single_message(StatusCode::NOT_FOUND, "E001", "No shipment with this id."),
    }
}

#[derive(Debug, Deserialize)]
struct ListParams {
    from: Option<String>,
    to: Option<String>,
    #[serde(rename = "trackingPIN")]
    tracking_pin: Option<String>,
}

/// `YYYYMMDDHHmm`, read as UTC.
fn minute(value: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(&format!("{}00", value.trim()), "%Y%m%d%H%M%S")
        .ok()
        .map(|at| at.and_utc())
}

async fn list_shipments(
    State(sim): State<Arc<Simulator>>,
    Path(customer): Path<String>,
    Query(params): Query<ListParams>,
    headers: HeaderMap,
) -> Response {
    let state = sim.lock();
    let shipments = match (&params.tracking_pin, &params.from) {
        (Some(pin), _) => state.shipments.with_tracking_pin(&customer, pin),
        (None, Some(from)) => {
            let to = params
                .to
                .as_deref()
                .map_or_else(|| Some(Utc::now()), minute);
            let (Some(from), Some(to)) = (minute(from), to) else {
                return single_message(
                    StatusCode::BAD_REQUEST,
                    "E001",
                    "from and to must be YYYYMMDDHHmm.",
                );
            };
            // `to` names a minute: everything created in it is included.
            let to = to + chrono::Duration::seconds(59) + chrono::Duration::milliseconds(999);
            state.shipments.created_between(&customer, from, to)
        }
        (None, None) => {
            return single_message(
                StatusCode::BAD_REQUEST,
                "E001",
                "Give from (and to) or trackingPIN.",
            )
        }
    };
    let base = escape(&base_url(&headers));
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<non-contract-shipments xmlns=\"{NAMESPACE}\">"
    );
    for shipment in shipments {
        xml.push_str(&format!(
            "<link rel=\"shipment\" href=\"{base}/rs/{customer}/ncshipment/{id}\" media-type=\"{MEDIA_TYPE}\"/>",
            customer = escape(&shipment.customer_number),
            id = shipment.shipment_id,
        ));
    }
    xml.push_str("</non-contract-shipments>\n");
    xml_response(StatusCode::OK, xml)
}

async fn get_details(
    State(sim): State<Arc<Simulator>>,
    Path((customer, shipment_id)): Path<(String, String)>,
) -> Response {
    let shipment = sim.lock().shipments.get(&shipment_id).cloned();
    let Some(shipment) = shipment.filter(|s| s.customer_number == customer) else {
        return single_message(StatusCode::NOT_FOUND, "E001", "No shipment with this id.");
    };
    let refund = shipment.refund.as_ref().map_or_else(String::new, |refund| {
        format!(
            "<refund-request-info><service-ticket-date>{}</service-ticket-date>\
             <service-ticket-id>{}</service-ticket-id></refund-request-info>",
            refund.service_ticket_date,
            escape(&refund.service_ticket_id)
        )
    });
    xml_response(
        StatusCode::OK,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <non-contract-shipment-details xmlns=\"{NAMESPACE}\">\
             <final-shipping-point>{point}</final-shipping-point>\
             <tracking-pin>{pin}</tracking-pin>{spec}{refund}\
             </non-contract-shipment-details>\n",
            point = escape(&shipment.final_shipping_point),
            pin = shipment.tracking_pin,
            spec = shipment.delivery_spec_xml,
        ),
    )
}

async fn request_refund(
    State(sim): State<Arc<Simulator>>,
    Path((customer, shipment_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let xml = String::from_utf8_lossy(&body);
    let email = xml
        .contains("<non-contract-shipment-refund-request")
        .then(|| {
            let start = xml.find("<email>")? + "<email>".len();
            let end = xml[start..].find("</email>")? + start;
            Some(xml[start..end].trim().to_owned())
        })
        .flatten()
        .filter(|email| email.contains('@'));
    let Some(email) = email else {
        return single_message(
            StatusCode::BAD_REQUEST,
            "E001",
            "A non-contract-shipment-refund-request with an email is required.",
        );
    };
    let mut state = sim.lock();
    if state
        .shipments
        .get(&shipment_id)
        .is_none_or(|s| s.customer_number != customer)
    {
        return single_message(StatusCode::NOT_FOUND, "E001", "No shipment with this id.");
    }
    let Some(refund) = state
        .shipments
        .request_refund(&shipment_id, &email, Utc::now())
    else {
        return single_message(StatusCode::NOT_FOUND, "E001", "No shipment with this id.");
    };
    xml_response(
        StatusCode::OK,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <non-contract-shipment-refund-request-info xmlns=\"{NAMESPACE}\">\
             <service-ticket-date>{}</service-ticket-date>\
             <service-ticket-id>{}</service-ticket-id>\
             </non-contract-shipment-refund-request-info>\n",
            refund.service_ticket_date,
            escape(&refund.service_ticket_id)
        ),
    )
}

async fn get_artifact(
    State(sim): State<Arc<Simulator>>,
    Path((artifact_id, _page, index)): Path<(String, String, String)>,
) -> Response {
    let shipment = sim.lock().shipments.by_artifact(&artifact_id).cloned();
    match shipment {
        Some(shipment) if index == "0" => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            )],
            label_pdf(&label_lines(&shipment)),
        )
            .into_response(),
        _ => single_message(StatusCode::NOT_FOUND, "E001", "No artifact with this id."),
    }
}

/// What the label shows.
fn label_lines(shipment: &Shipment) -> Vec<String> {
    let mut lines = vec![
        "Canada Post / Postes Canada".to_owned(),
        format!("Service: {}", shipment.service_code),
        format!("Tracking PIN: {}", shipment.tracking_pin),
        format!("Shipment ID: {}", shipment.shipment_id),
        format!("Weight: {} kg", shipment.weight),
        "Ship to:".to_owned(),
    ];
    lines.extend(shipment.destination.iter().map(|line| format!("  {line}")));
    if let Some(reference) = &shipment.customer_ref_1 {
        lines.push(format!("Reference: {reference}"));
    }
    lines.push("sellerops local simulator - not a real label".to_owned());
    lines
}

/// Links point back at whatever host and port the caller reached.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// `non-contract-shipment-info` for a shipment.
fn shipment_info(base: &str, shipment: &Shipment) -> String {
    let base = escape(base);
    let customer = escape(&shipment.customer_number);
    let id = &shipment.shipment_id;
    let shipment_url = format!("{base}/rs/{customer}/ncshipment/{id}");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <non-contract-shipment-info xmlns=\"{NAMESPACE}\">\
         <shipment-id>{id}</shipment-id>\
         <tracking-pin>{pin}</tracking-pin>\
         <links>\
         <link rel=\"self\" href=\"{shipment_url}\" media-type=\"{MEDIA_TYPE}\"/>\
         <link rel=\"details\" href=\"{shipment_url}/details\" media-type=\"{MEDIA_TYPE}\"/>\
         <link rel=\"receipt\" href=\"{shipment_url}/receipt\" media-type=\"{MEDIA_TYPE}\"/>\
         <link rel=\"refund\" href=\"{shipment_url}/refund\" media-type=\"{MEDIA_TYPE}\"/>\
         <link rel=\"label\" href=\"{base}/rs/artifact/{artifact}/10238/0\" media-type=\"application/pdf\" index=\"0\"/>\
         </links>\
         </non-contract-shipment-info>\n",
        pin = shipment.tracking_pin,
        artifact = shipment.artifact_id,
    )
}

/// XML text and attribute escaping.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
