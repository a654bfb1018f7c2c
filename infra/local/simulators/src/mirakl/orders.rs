//! Mirakl orders and what OR11, OR21, OR23 and OR24 do to them.
//!
//! Orders are kept as the JSON Mirakl sends (OR11's order object), so a test can seed
//! any field the real API has; fields a seed leaves out get plausible Best Buy Canada
//! values. The simulator changes only states, dates and shipping fields.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{ApiError, SHOP_CARRIERS};
use crate::state::{parse_timestamp, seed_objects, timestamp};

/// Mirakl's order states (OR11 `order_state`).
pub const ORDER_STATES: &[&str] = &[
    "STAGING",
    "WAITING_ACCEPTANCE",
    "WAITING_DEBIT",
    "WAITING_DEBIT_PAYMENT",
    "SHIPPING",
    "SHIPPED",
    "TO_COLLECT",
    "RECEIVED",
    "CLOSED",
    "REFUSED",
    "CANCELED",
];

/// OR11's page size when `max` is not given, and the largest it accepts.
const DEFAULT_PAGE_SIZE: usize = 10;
const MAX_PAGE_SIZE: usize = 100;

/// The orders of the simulated shop, by Mirakl order id.
#[derive(Debug, Default)]
pub struct Orders {
    by_id: BTreeMap<String, Map<String, Value>>,
    history: Vec<StateChange>,
}

/// One order state change, for `/_sim/state`.
#[derive(Debug, Clone, Serialize)]
pub struct StateChange {
    /// The Mirakl order id.
    pub order_id: String,
    /// The state before.
    pub from: String,
    /// The state after.
    pub to: String,
    /// The operation that changed it.
    pub by: &'static str,
    /// When.
    pub at: String,
}

/// OR11's filters and paging, from the query string.
#[derive(Debug, Default)]
pub struct OrderQuery {
    /// `order_ids`: comma-separated.
    pub order_ids: Option<String>,
    /// `order_state_codes`: comma-separated.
    pub order_state_codes: Option<String>,
    /// `start_date` / `end_date`: on `created_date`.
    pub start_date: Option<String>,
    /// See `start_date`.
    pub end_date: Option<String>,
    /// `start_update_date` / `end_update_date`: on `last_updated_date`.
    pub start_update_date: Option<String>,
    /// See `start_update_date`.
    pub end_update_date: Option<String>,
    /// `max`: page size, 1 to 100 (default 10).
    pub max: Option<String>,
    /// `offset`: orders to skip (default 0).
    pub offset: Option<String>,
    /// `order`: `asc` (default) or `desc`, by creation date.
    pub order: Option<String>,
    /// `paginate=false` returns every match.
    pub paginate: Option<String>,
}

impl Orders {
    /// Adds orders from a seed (one order object, an array, or `{"orders": [...]}`).
    /// An order already present is kept as it is unless `replace`; returns the ids
    /// added and those kept.
    pub fn seed(
        &mut self,
        seed: Value,
        replace: bool,
        now: DateTime<Utc>,
    ) -> Result<(Vec<String>, Vec<String>), String> {
        let orders = seed_objects(seed, "orders", "an order")?;
        let mut completed = Vec::with_capacity(orders.len());
        for order in orders {
            completed.push(complete_order(order, now)?);
        }
        let (mut added, mut kept) = (Vec::new(), Vec::new());
        for order in completed {
            let id = text(&order, "order_id").to_owned();
            if self.by_id.contains_key(&id) && !replace {
                kept.push(id);
            } else {
                self.by_id.insert(id.clone(), order);
                added.push(id);
            }
        }
        Ok((added, kept))
    }

    /// Every order, by id.
    pub fn all(&self) -> impl Iterator<Item = &Map<String, Value>> {
        self.by_id.values()
    }

    /// One order.
    pub fn get(&self, order_id: &str) -> Option<&Map<String, Value>> {
        self.by_id.get(order_id)
    }

    /// Every state change so far.
    pub fn history(&self) -> &[StateChange] {
        &self.history
    }

    /// OR11: the page of matching orders and how many match in all.
    pub fn list(&self, query: &OrderQuery) -> Result<(Vec<Value>, usize), ApiError> {
        let ids: Option<HashSet<&str>> = query.order_ids.as_deref().map(comma_list);
        let states: Option<HashSet<&str>> = query.order_state_codes.as_deref().map(comma_list);
        if let Some(states) = &states {
            if let Some(unknown) = states.iter().find(|s| !ORDER_STATES.contains(s)) {
                return Err(ApiError::bad_request(format!(
                    "Invalid order state code: {unknown}"
                )));
            }
        }
        let start = date_param("start_date", query.start_date.as_deref())?;
        let end = date_param("end_date", query.end_date.as_deref())?;
        let start_update = date_param("start_update_date", query.start_update_date.as_deref())?;
        let end_update = date_param("end_update_date", query.end_update_date.as_deref())?;
        let max = number_param("max", query.max.as_deref(), DEFAULT_PAGE_SIZE)?;
        if !(1..=MAX_PAGE_SIZE).contains(&max) {
            return Err(ApiError::bad_request(format!(
                "max must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        let offset = number_param("offset", query.offset.as_deref(), 0)?;
        let descending = match query.order.as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "order must be asc or desc, not {other}"
                )))
            }
        };
        let paginate = query.paginate.as_deref() != Some("false");

        let mut matching: Vec<&Map<String, Value>> = self
            .by_id
            .values()
            .filter(|order| {
                let created = parse_timestamp(text(order, "created_date"));
                let updated = parse_timestamp(text(order, "last_updated_date"));
                ids.as_ref()
                    .is_none_or(|ids| ids.contains(text(order, "order_id")))
                    && states
                        .as_ref()
                        .is_none_or(|states| states.contains(text(order, "order_state")))
                    && within(created, start, end)
                    && within(updated, start_update, end_update)
            })
            .collect();
        matching.sort_by(|a, b| {
            (text(a, "created_date"), text(a, "order_id"))
                .cmp(&(text(b, "created_date"), text(b, "order_id")))
        });
        if descending {
            matching.reverse();
        }
        let total = matching.len();
        let page = matching
            .into_iter()
            .skip(if paginate { offset } else { 0 })
            .take(if paginate { max } else { usize::MAX })
            .map(|order| Value::Object(order.clone()))
            .collect();
        Ok((page, total))
    }

    /// OR21: accepts or refuses every line of an order waiting for acceptance.
    pub fn accept(
        &mut self,
        order_id: &str,
        decision: &Value,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let order = self
            .by_id
            .get(order_id)
            .ok_or_else(|| not_found(order_id))?;
        let state = text(order, "order_state").to_owned();
        if state != "WAITING_ACCEPTANCE" {
            return Err(ApiError::business(
                "ORDER_INVALID_STATE",
                format!("order {order_id} is {state}; it must be WAITING_ACCEPTANCE"),
            ));
        }
        let decisions = line_decisions(order, decision)?;

        let at = timestamp(now);
        let accepted_any = decisions.values().any(|accepted| *accepted);
        let order = self
            .by_id
            .get_mut(order_id)
            .ok_or_else(|| not_found(order_id))?;
        for line in lines_mut(order) {
            let accepted = decisions
                .get(text(line, "order_line_id"))
                .copied()
                .unwrap_or(false);
            let line_state = if accepted { "SHIPPING" } else { "REFUSED" };
            line.insert("order_line_state".into(), json!(line_state));
            line.insert("last_updated_date".into(), json!(at));
        }
        order.insert("acceptance_decision_date".into(), json!(at));
        order.insert("last_updated_date".into(), json!(at));
        if accepted_any {
            // Best Buy debits the customer on acceptance; the simulator's payment
            // always succeeds at once, so the order passes straight through.
            self.change_state(order_id, "WAITING_DEBIT_PAYMENT", "OR21", &at);
            self.change_state(order_id, "SHIPPING", "OR21", &at);
        } else {
            self.change_state(order_id, "REFUSED", "OR21", &at);
        }
        Ok(())
    }

    /// OR23: records the carrier and tracking number of an order being shipped.
    pub fn update_tracking(
        &mut self,
        order_id: &str,
        tracking: &Value,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let order = self
            .by_id
            .get(order_id)
            .ok_or_else(|| not_found(order_id))?;
        let state = text(order, "order_state");
        if state != "SHIPPING" && state != "SHIPPED" {
            return Err(ApiError::business(
                "ORDER_INVALID_STATE",
                format!("order {order_id} is {state}; tracking needs SHIPPING or SHIPPED"),
            ));
        }
        let field = |name: &str| {
            tracking
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let tracking_number = field("tracking_number")
            .ok_or_else(|| ApiError::business("VALIDATION_ERROR", "tracking_number is required"))?;
        let (code, label, url) = match (field("carrier_code"), field("carrier_name")) {
            (Some(code), _) => {
                let carrier = SHOP_CARRIERS
                    .iter()
                    .find(|c| c.code == code)
                    .ok_or_else(|| {
                        ApiError::business(
                            "VALIDATION_ERROR",
                            format!(
                                "carrier_code {code} is not a carrier of this marketplace (SH21)"
                            ),
                        )
                    })?;
                (
                    Value::from(carrier.code),
                    carrier.label.to_owned(),
                    Value::from(
                        carrier
                            .tracking_url
                            .replace("{trackingId}", tracking_number),
                    ),
                )
            }
            (None, Some(name)) => (
                Value::Null,
                name.to_owned(),
                field("carrier_url").map_or(Value::Null, Value::from),
            ),
            (None, None) => {
                return Err(ApiError::business(
                    "VALIDATION_ERROR",
                    "carrier_code (a registered carrier) or carrier_name is required",
                ))
            }
        };
        let at = timestamp(now);
        let order = self
            .by_id
            .get_mut(order_id)
            .ok_or_else(|| not_found(order_id))?;
        order.insert("shipping_carrier_code".into(), code);
        order.insert("shipping_company".into(), json!(label));
        order.insert("shipping_tracking".into(), json!(tracking_number));
        order.insert("shipping_tracking_url".into(), url);
        order.insert("last_updated_date".into(), json!(at));
        Ok(())
    }

    /// OR24: confirms the shipment of an order in SHIPPING.
    pub fn ship(&mut self, order_id: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        let order = self
            .by_id
            .get(order_id)
            .ok_or_else(|| not_found(order_id))?;
        let state = text(order, "order_state");
        if state != "SHIPPING" {
            return Err(ApiError::business(
                "ORDER_INVALID_STATE",
                format!("order {order_id} is {state}; it must be SHIPPING"),
            ));
        }
        let at = timestamp(now);
        let order = self
            .by_id
            .get_mut(order_id)
            .ok_or_else(|| not_found(order_id))?;
        for line in lines_mut(order) {
            if text(line, "order_line_state") == "SHIPPING" {
                line.insert("order_line_state".into(), json!("SHIPPED"));
                line.insert("last_updated_date".into(), json!(at));
            }
        }
        order.insert("last_updated_date".into(), json!(at));
        self.change_state(order_id, "SHIPPED", "OR24", &at);
        Ok(())
    }

    fn change_state(&mut self, order_id: &str, to: &str, by: &'static str, at: &str) {
        let Some(order) = self.by_id.get_mut(order_id) else {
            return;
        };
        let from = text(order, "order_state").to_owned();
        order.insert("order_state".into(), json!(to));
        self.history.push(StateChange {
            order_id: order_id.to_owned(),
            from,
            to: to.to_owned(),
            by,
            at: at.to_owned(),
        });
    }
}

/// OR21's decisions by line id, checked against the order's lines.
fn line_decisions(
    order: &Map<String, Value>,
    decision: &Value,
) -> Result<BTreeMap<String, bool>, ApiError> {
    let Some(lines) = decision.get("order_lines").and_then(Value::as_array) else {
        return Err(ApiError::business(
            "VALIDATION_ERROR",
            "order_lines (an array of {id, accepted}) is required",
        ));
    };
    let order_line_ids: Vec<&str> = order
        .get("order_lines")
        .and_then(Value::as_array)
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| l.get("order_line_id").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let mut decisions = BTreeMap::new();
    for line in lines {
        if line.is_null() {
            return Err(ApiError::business(
                "ORDER_LINE_NULL_ELEMENT",
                "order_lines contains a null element",
            ));
        }
        let (Some(id), Some(accepted)) = (
            line.get("id").and_then(Value::as_str),
            line.get("accepted").and_then(Value::as_bool),
        ) else {
            return Err(ApiError::business(
                "VALIDATION_ERROR",
                "every order line needs an id (string) and accepted (boolean)",
            ));
        };
        if !order_line_ids.contains(&id) {
            return Err(ApiError::business(
                "ORDER_LINE_NOT_FOUND",
                format!("order line {id} is not a line of this order"),
            ));
        }
        if decisions.insert(id.to_owned(), accepted).is_some() {
            return Err(ApiError::business(
                "ORDER_LINE_DUPLICATE_ID",
                format!("order line {id} appears twice"),
            ));
        }
    }
    let missing: Vec<&str> = order_line_ids
        .iter()
        .copied()
        .filter(|id| !decisions.contains_key(*id))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::business(
            "ORDER_LINE_ACCEPTANCE_DECISION_MISSING",
            format!("no decision for order lines {}", missing.join(", ")),
        ));
    }
    Ok(decisions)
}

fn not_found(order_id: &str) -> ApiError {
    ApiError::not_found(
        "ORDER_NOT_FOUND",
        format!("order {order_id} does not exist"),
    )
}

fn lines_mut(order: &mut Map<String, Value>) -> impl Iterator<Item = &mut Map<String, Value>> {
    order
        .get_mut("order_lines")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// A string field, or "" when absent.
pub(crate) fn text<'a>(object: &'a Map<String, Value>, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or("")
}

fn comma_list(value: &str) -> HashSet<&str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

fn date_param(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            parse_timestamp(v).ok_or_else(|| {
                ApiError::bad_request(format!("{name} is not an ISO 8601 date-time: {v}"))
            })
        })
        .transpose()
}

fn number_param(name: &str, value: Option<&str>, default: usize) -> Result<usize, ApiError> {
    value.map_or(Ok(default), |v| {
        v.trim()
            .parse()
            .map_err(|_| ApiError::bad_request(format!("{name} must be a whole number, not {v}")))
    })
}

fn within(
    at: Option<DateTime<Utc>>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> bool {
    match at {
        Some(at) => start.is_none_or(|s| at >= s) && end.is_none_or(|e| at <= e),
        None => start.is_none() && end.is_none(),
    }
}

/// Fills the fields OR11 always sends that a seed left out.
fn complete_order(
    mut order: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, String> {
    let order_id = match order.get("order_id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_owned(),
        _ => return Err("every order needs an order_id (string)".to_owned()),
    };
    let at = timestamp(now);
    let state = order
        .entry("order_state")
        .or_insert_with(|| json!("WAITING_ACCEPTANCE"))
        .as_str()
        .unwrap_or("")
        .to_owned();
    if !ORDER_STATES.contains(&state.as_str()) {
        return Err(format!("order {order_id}: unknown order_state {state:?}"));
    }
    let commercial_id = order_id
        .rsplit_once('-')
        .map_or(order_id.as_str(), |(head, _)| head)
        .to_owned();
    let defaults = json!({
        "commercial_id": commercial_id,
        "created_date": at,
        "last_updated_date": at,
        "currency_iso_code": "CAD",
        "leadtime_to_ship": 2,
        "shipping_deadline": timestamp(now + chrono::Duration::days(2)),
        "customer": default_customer(&order_id),
        "shipping_type_code": "STD",
        "shipping_type_label": "Standard",
        "shipping_zone_code": "CA",
        "shipping_zone_label": "Canada",
        "can_cancel": false,
        "can_shop_ship": true,
        "has_customer_message": false,
        "has_incident": false,
        "has_invoice": false,
        "fully_refunded": false,
        "order_tax_mode": "TAX_EXCLUDED",
        "paymentType": "Visa",
        "fulfillment": {"center": {"code": "DEFAULT"}},
        "references": {},
    });
    if let Value::Object(defaults) = defaults {
        for (key, value) in defaults {
            order.entry(key).or_insert(value);
        }
    }
    let created = text(&order, "created_date").to_owned();
    let lines = match order.remove("order_lines") {
        None => vec![json!({})],
        Some(Value::Array(lines)) if !lines.is_empty() => lines,
        Some(_) => {
            return Err(format!(
                "order {order_id}: order_lines must be a non-empty array"
            ))
        }
    };
    let mut completed_lines = Vec::with_capacity(lines.len());
    let mut sums = [0_i64; 4];
    for (index, line) in lines.into_iter().enumerate() {
        let Value::Object(line) = line else {
            return Err(format!(
                "order {order_id}: every order line must be an object"
            ));
        };
        let line = complete_line(line, &order_id, index + 1, &state, &created);
        for (sum, key) in sums.iter_mut().zip(MONEY_SUMS) {
            *sum += cents(line.get(key));
        }
        completed_lines.push(Value::Object(line));
    }
    order.insert("order_lines".into(), Value::Array(completed_lines));
    for (sum, key) in sums.iter().zip(MONEY_SUMS) {
        order.entry(key).or_insert_with(|| money(*sum));
    }
    Ok(order)
}

/// Order amounts that are the sums of their lines'.
const MONEY_SUMS: [&str; 4] = ["price", "shipping_price", "total_price", "total_commission"];

fn complete_line(
    mut line: Map<String, Value>,
    order_id: &str,
    index: usize,
    state: &str,
    created: &str,
) -> Map<String, Value> {
    let quantity = line.get("quantity").and_then(Value::as_i64).unwrap_or(1);
    let unit = line.get("price_unit").map_or(2_999, |v| cents(Some(v)));
    let price = line
        .get("price")
        .map_or(unit * quantity, |v| cents(Some(v)));
    let shipping = cents(line.get("shipping_price"));
    let commission = line
        .get("total_commission")
        .map_or(price * 8 / 100, |v| cents(Some(v)));
    let defaults = json!({
        "order_line_id": format!("{order_id}-{index}"),
        "order_line_index": index,
        "order_line_state": state,
        "offer_id": 2000 + index,
        "offer_sku": format!("SKU-{index:03}"),
        "product_sku": format!("MKP{:012}", 100 + index),
        "product_title": format!("Sample product {index}"),
        "quantity": quantity,
        "price_unit": money(unit),
        "price": money(price),
        "shipping_price": money(shipping),
        "total_price": money(price + shipping),
        "commission_fee": money(commission),
        "total_commission": money(commission),
        "category_code": "electronics",
        "category_label": "Electronics",
        "cancelations": [],
        "refunds": [],
        "product_medias": [],
        "created_date": created,
        "last_updated_date": created,
    });
    if let Value::Object(defaults) = defaults {
        for (key, value) in defaults {
            line.entry(key).or_insert(value);
        }
    }
    line
}

fn default_customer(order_id: &str) -> Value {
    let address = json!({
        "firstname": "Jane",
        "lastname": "Doe",
        "company": null,
        "street_1": "500 Main St",
        "street_2": null,
        "city": "Toronto",
        "state": "ON",
        "zip_code": "M5V 3L9",
        "country": "Canada",
        "country_iso_code": "CAN",
        "phone": "4165551212",
    });
    let mut shipping = address.clone();
    if let Value::Object(shipping) = &mut shipping {
        shipping.insert("additional_info".into(), Value::Null);
    }
    json!({
        "customer_id": format!("CUST-{order_id}"),
        "firstname": "Jane",
        "lastname": "Doe",
        "civility": null,
        "locale": "en_CA",
        "billing_address": address,
        "shipping_address": shipping,
    })
}

/// A JSON amount as whole cents (Mirakl sends numbers; the simulator adds in cents).
fn cents(value: Option<&Value>) -> i64 {
    match value {
        Some(Value::Number(n)) => n
            .as_i64()
            .map(|whole| whole * 100)
            .or_else(|| n.as_f64().map(|f| (f * 100.0).round() as i64))
            .unwrap_or(0),
        Some(Value::String(s)) => s
            .parse::<f64>()
            .map(|f| (f * 100.0).round() as i64)
            .unwrap_or(0),
        _ => 0,
    }
}

/// Whole cents as the JSON number Mirakl would send (`12.5`, `30`).
fn money(cents: i64) -> Value {
    if cents % 100 == 0 {
        json!(cents / 100)
    } else {
        serde_json::Number::from_f64(cents as f64 / 100.0).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders_with(seed: Value) -> Orders {
        let mut orders = Orders::default();
        orders.seed(seed, false, Utc::now()).unwrap();
        orders
    }

    #[test]
    fn a_minimal_seed_gets_every_required_field() {
        let orders = orders_with(json!({"order_id": "BB-1-A"}));
        let order = orders.get("BB-1-A").unwrap();
        for key in [
            "commercial_id",
            "order_state",
            "customer",
            "order_lines",
            "price",
            "total_price",
            "paymentType",
            "shipping_deadline",
        ] {
            assert!(order.contains_key(key), "{key} missing");
        }
        assert_eq!(text(order, "commercial_id"), "BB-1");
        assert_eq!(order["total_price"], json!(29.99));
    }

    #[test]
    fn line_amounts_add_up_in_cents() {
        let orders = orders_with(json!({"order_id": "X-A", "order_lines": [
            {"price_unit": 0.1, "quantity": 3, "shipping_price": 0.2},
            {"price_unit": 0.2, "quantity": 1}
        ]}));
        let order = orders.get("X-A").unwrap();
        assert_eq!(order["price"], json!(0.5));
        assert_eq!(order["total_price"], json!(0.7));
    }

    #[test]
    fn seeding_again_keeps_the_current_order_unless_replacing() {
        let mut orders = orders_with(json!({"order_id": "X-A"}));
        orders
            .accept(
                "X-A",
                &json!({"order_lines": [{"id": "X-A-1", "accepted": true}]}),
                Utc::now(),
            )
            .unwrap();
        let (added, kept) = orders
            .seed(json!([{"order_id": "X-A"}]), false, Utc::now())
            .unwrap();
        assert!(added.is_empty());
        assert_eq!(kept, vec!["X-A".to_owned()]);
        assert_eq!(text(orders.get("X-A").unwrap(), "order_state"), "SHIPPING");
    }
}
