//! OR23 (carrier tracking) and OR24 (shipment confirmed) for an order in `SHIPPING`.

use reqwest::Method;
use serde::Serialize;
use uuid::Uuid;

use super::line_decisions::path_segment;
use super::{MiraklClient, MiraklError, MiraklRequest};
use crate::ops::retry::RetryPolicy;

/// OR23's body for a carrier registered on the marketplace: its code and the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tracking<'a> {
    /// The marketplace's carrier code (SH21), e.g. `CPCL` for Canada Post on Best Buy.
    pub carrier_code: &'a str,
    /// The carrier's tracking number (Canada Post's tracking PIN).
    pub tracking_number: &'a str,
}

/// Sends OR23 `PUT /api/orders/{order_id}/tracking`; success is 204.
pub async fn send_tracking(
    client: &MiraklClient,
    external_id: &str,
    order_id: Uuid,
    tracking: &Tracking<'_>,
    policy: RetryPolicy,
) -> Result<(), MiraklError> {
    let body = serde_json::to_value(tracking).map_err(|err| MiraklError::UnexpectedBody {
        operation: "OR23".into(),
        reason: err.to_string(),
    })?;
    let mut request = MiraklRequest::new(
        "OR23",
        Method::PUT,
        format!("/api/orders/{}/tracking", path_segment(external_id)),
    );
    request.body = Some(body);
    request.order_id = Some(order_id);
    client.send_retrying(request, policy).await.map(|_| ())
}

/// Sends OR24 `PUT /api/orders/{order_id}/ship` (no body); success is 204.
pub async fn confirm_shipment(
    client: &MiraklClient,
    external_id: &str,
    order_id: Uuid,
    policy: RetryPolicy,
) -> Result<(), MiraklError> {
    let mut request = MiraklRequest::new(
        "OR24",
        Method::PUT,
        format!("/api/orders/{}/ship", path_segment(external_id)),
    );
    request.order_id = Some(order_id);
    client.send_retrying(request, policy).await.map(|_| ())
}
