//! Failures injected on request through `POST /_sim/faults`.
//!
//! A fault names one route (a Mirakl operation code such as `OR21` or `OF24`, for Canada Post
//! `NCSHIPMENT` (buy), `NCSHIPMENTS` (list), `SHIPMENT`, `DETAILS`, `REFUND`,
//! `ARTIFACT`, for Shopify `GRAPHQL`, the Admin API, and for Freshdesk `TICKETS`,
//! `CONVERSATIONS`, `REPLY`) and says what the next `times` calls to it get instead of
//! the normal answer: a status (5xx, 429 with `Retry-After`, a 400 with a message), a delay before
//! answering (long enough to trip the caller's timeout), or a Canada Post validation
//! error. Faults are used up in the order they were added.
//!
//! By default a fault strikes before the service works: nothing is done. With `after`
//! the service does the work first (a purchase is bought, an offer import runs) and the fault then spoils
//! the answer: the delay runs after it (the caller times out and hangs up, the
//! purchase stays), the status replaces it (a 5xx after buying), or, with `truncate`,
//! the real answer arrives cut in half. These are the ambiguous outcomes: the work was
//! done and the caller cannot tell.
//!
//! The service's work runs in a task of its own, so a caller that hangs up never
//! cancels it, as with a real server.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::state::{timestamp, CallRecord, Simulator};

/// The routes a fault can target.
pub const ROUTES: &[&str] = &[
    "OR11",
    "OR21",
    "OR23",
    "OR24",
    "M10",
    "M11",
    "M12",
    "SH21",
    "OF21",
    "OF24",
    "OF02",
    "OF04",
    "NCSHIPMENT",
    "NCSHIPMENTS",
    "SHIPMENT",
    "DETAILS",
    "REFUND",
    "ARTIFACT",
    "GRAPHQL",
    "TICKETS",
    "CONVERSATIONS",
    "REPLY",
];

/// A fault as posted to `/_sim/faults`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// The route: one of [`ROUTES`] (case-insensitive).
    pub route: String,
    /// The status to answer with instead of the normal answer. With `code` and no
    /// status, 400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Seconds for the `Retry-After` header of a 429 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Wait this long before answering (a timeout, for a caller that gives up sooner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// The Mirakl error message (JSON `message`) of an injected 4xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A Canada Post `<message><code>` for an injected validation error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Strike after the service did its work (see the module doc).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after: bool,
    /// Answer with the real answer's body cut in half (implies `after`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncate: bool,
    /// How many calls get the fault (default 1); 0 means every call until cleared.
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

/// A fault in force, with how many uses it has left.
#[derive(Debug, Clone, Serialize)]
pub struct ActiveFault {
    /// Its number, in the order faults were added.
    pub id: u64,
    /// What was asked for (route normalised to upper case).
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Calls it has answered so far.
    pub used: u32,
}

/// What one call gets because of a fault.
#[derive(Debug, Clone)]
pub struct Injection {
    /// Wait before answering.
    pub delay: Option<Duration>,
    /// Answer with this status instead of the normal answer.
    pub status: Option<u16>,
    /// Seconds for `Retry-After`.
    pub retry_after: u64,
    /// Mirakl message.
    pub message: Option<String>,
    /// Canada Post code and description.
    pub code: Option<String>,
    /// Canada Post description.
    pub description: Option<String>,
    /// Strike after the service did its work.
    pub after: bool,
    /// Cut the real answer's body in half.
    pub truncate: bool,
}

/// The faults in force.
#[derive(Debug, Default)]
pub struct Faults {
    active: Vec<ActiveFault>,
    next_id: u64,
}

impl Faults {
    /// Adds a fault; an unknown route or an empty fault is refused with a reason.
    pub fn add(&mut self, mut spec: FaultSpec) -> Result<ActiveFault, String> {
        spec.route = spec.route.trim().to_ascii_uppercase();
        if !ROUTES.contains(&spec.route.as_str()) {
            return Err(format!(
                "unknown route {:?}; expected one of {}",
                spec.route,
                ROUTES.join(", ")
            ));
        }
        if let Some(status) = spec.status {
            if !(100..=599).contains(&status) {
                return Err(format!("status {status} is not an HTTP status"));
            }
        }
        if spec.status.is_none() && spec.delay_ms.is_none() && spec.code.is_none() && !spec.truncate
        {
            return Err("a fault needs a status, a delay_ms, a code or truncate".to_owned());
        }
        if spec.truncate && (spec.status.is_some() || spec.code.is_some()) {
            return Err("truncate cuts the real answer; it takes no status or code".to_owned());
        }
        self.next_id += 1;
        let fault = ActiveFault {
            id: self.next_id,
            spec,
            used: 0,
        };
        self.active.push(fault.clone());
        Ok(fault)
    }

    /// Removes every fault.
    pub fn clear(&mut self) {
        self.active.clear();
    }

    /// The faults in force.
    pub fn active(&self) -> &[ActiveFault] {
        &self.active
    }

    /// Takes one use of the oldest fault for `route`, if any.
    pub fn take(&mut self, route: &str) -> Option<Injection> {
        let index = self.active.iter().position(|f| f.spec.route == route)?;
        let fault = &mut self.active[index];
        fault.used += 1;
        let spec = fault.spec.clone();
        if spec.times != 0 && fault.used >= spec.times {
            self.active.remove(index);
        }
        let status = spec.status.or_else(|| spec.code.as_ref().map(|_| 400));
        Some(Injection {
            delay: spec.delay_ms.map(Duration::from_millis),
            status,
            retry_after: spec.retry_after.unwrap_or(1),
            message: spec.message,
            code: spec.code,
            description: spec.description,
            after: spec.after || spec.truncate,
            truncate: spec.truncate,
        })
    }
}

/// The door every simulated call passes: a `refusal` (wrong credentials) answers at once;
/// otherwise a fault injected for the call's route is applied (before the service works:
/// its delay, then its status, answered by `injected_response`; after: the service's
/// answer is delayed, replaced or cut), and anything left reaches the service. Every call
/// is counted when it arrives and recorded when answered, for `/_sim/counters` and
/// `/_sim/state`.
pub async fn serve(
    sim: &Simulator,
    service: &'static str,
    route: Option<&'static str>,
    refusal: Option<Response>,
    request: Request,
    next: Next,
    injected_response: fn(u16, &Injection) -> Response,
) -> Response {
    let method = request.method().to_string();
    let target = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    if let Some(route) = route {
        sim.count_request(route);
    }
    let mut injected = false;
    let response = match refusal {
        Some(refusal) => refusal,
        None => match route.and_then(|route| sim.lock().faults.take(route)) {
            None => work(next, request).await,
            Some(injection) if !injection.after => {
                if let Some(delay) = injection.delay {
                    tokio::time::sleep(delay).await;
                }
                match injection.status {
                    Some(status) => {
                        injected = true;
                        injected_response(status, &injection)
                    }
                    None => work(next, request).await,
                }
            }
            Some(injection) => {
                let answer = work(next, request).await;
                if let Some(delay) = injection.delay {
                    tokio::time::sleep(delay).await;
                }
                injected = injection.status.is_some() || injection.truncate;
                match injection.status {
                    Some(status) => injected_response(status, &injection),
                    None if injection.truncate => truncated(answer).await,
                    None => answer,
                }
            }
        },
    };
    sim.record_call(CallRecord {
        service,
        route,
        method,
        target,
        status: response.status().as_u16(),
        injected,
        at: timestamp(Utc::now()),
    });
    response
}

/// Runs the service in a task of its own: a caller hanging up drops this future, not
/// the work, which completes (a shipment bought stays bought).
async fn work(next: Next, request: Request) -> Response {
    tokio::spawn(next.run(request))
        .await
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The answer with its body cut in half: the same status and headers (but a length
/// that matches what is sent), so the caller reads a 2xx it cannot parse.
async fn truncated(answer: Response) -> Response {
    let (mut parts, body) = answer.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(route: &str, status: u16, times: u32) -> FaultSpec {
        FaultSpec {
            route: route.to_owned(),
            status: Some(status),
            retry_after: None,
            delay_ms: None,
            message: None,
            code: None,
            description: None,
            after: false,
            truncate: false,
            times,
        }
    }

    #[test]
    fn a_fault_is_used_up_after_its_times() {
        let mut faults = Faults::default();
        faults.add(spec("or21", 503, 2)).unwrap();
        assert_eq!(faults.take("OR21").unwrap().status, Some(503));
        assert_eq!(faults.take("OR21").unwrap().status, Some(503));
        assert!(faults.take("OR21").is_none());
    }

    #[test]
    fn a_fault_with_zero_times_lasts_until_cleared() {
        let mut faults = Faults::default();
        faults.add(spec("OR11", 500, 0)).unwrap();
        for _ in 0..5 {
            assert!(faults.take("OR11").is_some());
        }
        faults.clear();
        assert!(faults.take("OR11").is_none());
    }

    #[test]
    fn an_unknown_route_is_refused() {
        let mut faults = Faults::default();
        assert!(faults.add(spec("OR99", 500, 1)).is_err());
    }

    #[test]
    fn truncate_strikes_after_the_work_and_takes_no_status() {
        let mut faults = Faults::default();
        let mut cut = spec("NCSHIPMENT", 200, 1);
        cut.status = None;
        cut.truncate = true;
        faults.add(cut.clone()).unwrap();
        let injection = faults.take("NCSHIPMENT").unwrap();
        assert!(injection.after && injection.truncate && injection.status.is_none());
        cut.status = Some(500);
        assert!(faults.add(cut).is_err());
    }

    #[test]
    fn a_code_without_status_is_a_400() {
        let mut faults = Faults::default();
        let mut validation = spec("NCSHIPMENT", 400, 1);
        validation.status = None;
        validation.code = Some("9111".to_owned());
        faults.add(validation).unwrap();
        assert_eq!(faults.take("NCSHIPMENT").unwrap().status, Some(400));
    }
}
