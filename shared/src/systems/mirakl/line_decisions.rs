//! OR21: accept or refuse the lines of an order waiting for acceptance.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{MiraklClient, MiraklError, MiraklRequest};
use crate::ops::retry::RetryPolicy;

/// Mirakl's answer when the order is no longer `WAITING_ACCEPTANCE`.
pub const ORDER_INVALID_STATE: &str = "ORDER_INVALID_STATE";

/// The decision for one order line, as OR21 takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDecision {
    /// Mirakl's `order_line_id`.
    pub id: String,
    /// Accept (true) or refuse (false).
    pub accepted: bool,
}

#[derive(Serialize)]
struct AcceptRequest<'a> {
    order_lines: &'a [LineDecision],
}

/// Sends OR21 `PUT /api/orders/{order_id}/accept`. Mirakl requires every line of the
/// order in `lines`; success is 204.
pub async fn accept_order_lines(
    client: &MiraklClient,
    external_id: &str,
    order_id: Uuid,
    lines: &[LineDecision],
    policy: RetryPolicy,
) -> Result<(), MiraklError> {
    let body = serde_json::to_value(AcceptRequest { order_lines: lines }).map_err(|err| {
        MiraklError::UnexpectedBody {
            operation: "OR21".into(),
            reason: err.to_string(),
        }
    })?;
    let mut request = MiraklRequest::new(
        "OR21",
        Method::PUT,
        format!("/api/orders/{}/accept", path_segment(external_id)),
    );
    request.body = Some(body);
    request.order_id = Some(order_id);
    client.send_retrying(request, policy).await.map(|_| ())
}

/// Whether Mirakl refused the call because the order had already left the state the
/// operation needs.
pub fn is_invalid_state(err: &MiraklError) -> bool {
    matches!(err, MiraklError::Rejected { message, .. } if message.contains(ORDER_INVALID_STATE))
}

/// An order id as one URL path segment (Mirakl ids are `[A-Za-z0-9-_]`, but a stray
/// `/` or `?` must not change the path).
pub(crate) fn path_segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%5F", "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_stay_one_path_segment() {
        assert_eq!(path_segment("BB-1001_A-1"), "BB-1001_A-1");
        assert_eq!(path_segment("a/b?c"), "a%2Fb%3Fc");
    }

    #[test]
    fn the_decision_serialises_as_mirakl_documents_it() {
        let lines = [LineDecision {
            id: "BB-1-A-1".into(),
            accepted: false,
        }];
        let json = serde_json::to_value(AcceptRequest {
            order_lines: &lines,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "order_lines": [{ "id": "BB-1-A-1", "accepted": false }] })
        );
    }
}
