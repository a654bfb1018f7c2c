//! The store's orders and the `orders` connection: Shopify's search syntax on dates,
//! sort keys and cursor paging.
//!
//! Orders are kept as the Admin GraphQL API's `Order` node (`id` as a global id,
//! `legacyResourceId`, money as `…Set { shopMoney { amount } }`, `lineItems` and
//! `shippingLines` as connections), so a test can seed any field the real API has; a
//! seed may leave out what a store would fill in (ids, name, dates, statuses, totals
//! worked out from the lines). Seeding an order again with `replace` is an update: its
//! `updatedAt` moves to now unless the seed gives one.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::state::seed_objects;

/// The most nodes a connection returns (`first`).
pub const MAX_PAGE_SIZE: u32 = 250;

/// Where the ids of orders seeded without one start, in the range of real order ids.
const FIRST_ORDER_ID: u64 = 6_100_000_000_000;
/// Likewise for line items.
const FIRST_LINE_ID: u64 = 15_200_000_000_000;

/// The connections inside an order node that a query pages on its own.
pub const ORDER_CONNECTIONS: &[&str] = &["lineItems", "shippingLines"];

/// The orders of the simulated store, by numeric id.
#[derive(Debug, Default)]
pub struct ShopifyOrders {
    by_id: BTreeMap<u64, Map<String, Value>>,
    next_order_id: u64,
    next_line_id: u64,
}

/// How `orders` sorts (`sortKey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Id,
    CreatedAt,
    UpdatedAt,
}

impl SortKey {
    /// `sortKey`'s value; `ID` when absent, as Shopify does.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value {
            None | Some("ID") => Ok(Self::Id),
            Some("CREATED_AT") => Ok(Self::CreatedAt),
            Some("UPDATED_AT") => Ok(Self::UpdatedAt),
            Some(other) => Err(format!(
                "sortKey {other} is not one the simulator sorts by (ID, CREATED_AT, UPDATED_AT)"
            )),
        }
    }
}

/// One `orders` request.
#[derive(Debug, Clone)]
pub struct OrdersRequest {
    /// `first`: 1 to [`MAX_PAGE_SIZE`].
    pub first: u32,
    /// `after`: the cursor of the last node already read.
    pub after: Option<String>,
    /// `query`: Shopify's search syntax.
    pub query: Option<String>,
    pub sort_key: SortKey,
    pub reverse: bool,
    /// The `first` of each connection inside an order the query asks for, by name.
    pub nested: BTreeMap<String, u32>,
}

/// One page of orders.
#[derive(Debug, Clone)]
pub struct OrdersPage {
    /// Each node with its cursor, in order.
    pub edges: Vec<(String, Value)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    /// Search terms Shopify would not filter on, as `extensions.search` warnings.
    pub warnings: Vec<Value>,
    /// The query's actual cost: what the connections returned.
    pub actual_cost: u32,
}

/// One comparison of a search query: `updated_at:>='2026-03-02T15:00:00Z'`.
#[derive(Debug, Clone, Copy)]
struct DateFilter {
    field: DateField,
    comparison: Comparison,
    at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
enum DateField {
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Copy)]
enum Comparison {
    Before,
    AtOrBefore,
    At,
    AtOrAfter,
    After,
}

impl ShopifyOrders {
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
            completed.push(self.complete(order, now)?);
        }
        let (mut added, mut kept) = (Vec::new(), Vec::new());
        for (id, order) in completed {
            if self.by_id.contains_key(&id) && !replace {
                kept.push(id.to_string());
            } else {
                self.by_id.insert(id, order);
                added.push(id.to_string());
            }
        }
        Ok((added, kept))
    }

    /// Every order, by id.
    pub fn all(&self) -> impl Iterator<Item = &Map<String, Value>> {
        self.by_id.values()
    }

    /// The requested cost of `request`: the orders connection and the connections each
    /// order may bring.
    pub fn requested_cost(request: &OrdersRequest) -> u32 {
        let order = request.nested.values().fold(1, |cost: u32, first| {
            cost.saturating_add(super::cost::connection_cost(*first, 1))
        });
        super::cost::connection_cost(request.first, order)
    }

    /// One page of the orders `request` matches.
    pub fn list(&self, request: &OrdersRequest) -> Result<OrdersPage, String> {
        if !(1..=MAX_PAGE_SIZE).contains(&request.first) {
            return Err(format!(
                "first must be between 1 and {MAX_PAGE_SIZE}, not {}",
                request.first
            ));
        }
        let (filters, warnings) = parse_search(request.query.as_deref().unwrap_or(""))?;
        let mut matching: Vec<(Position, &Map<String, Value>)> = self
            .by_id
            .iter()
            .filter(|(_, order)| filters.iter().all(|filter| filter.matches(order)))
            .map(|(id, order)| ((sort_value(order, request.sort_key), *id), order))
            .collect();
        matching.sort_by(|a, b| a.0.cmp(&b.0));
        if request.reverse {
            matching.reverse();
        }
        let start = match &request.after {
            None => 0,
            Some(cursor) => {
                let position = read_cursor(cursor, request.sort_key)?;
                matching
                    .iter()
                    .position(|(key, _)| {
                        if request.reverse {
                            *key < position
                        } else {
                            *key > position
                        }
                    })
                    .unwrap_or(matching.len())
            }
        };
        let end = (start + request.first as usize).min(matching.len());
        let mut actual_cost = 2_u32;
        let edges = matching[start..end]
            .iter()
            .map(|((value, id), order)| {
                let (node, cost) = page_connections(order, &request.nested);
                actual_cost = actual_cost.saturating_add(cost);
                (write_cursor(*id, value), node)
            })
            .collect();
        Ok(OrdersPage {
            edges,
            has_next_page: end < matching.len(),
            has_previous_page: start > 0,
            warnings,
            actual_cost,
        })
    }

    fn complete(
        &mut self,
        mut order: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<(u64, Map<String, Value>), String> {
        let given_id = match (order.get("legacyResourceId"), order.get("id")) {
            (Some(Value::String(id)), _) => Some(id.trim().parse().ok()),
            (Some(Value::Number(id)), _) => Some(id.as_u64()),
            (None, Some(Value::String(gid))) => Some(
                gid.strip_prefix("gid://shopify/Order/")
                    .and_then(|n| n.parse().ok()),
            ),
            (None, None) => None,
            _ => Some(None),
        };
        let id = match given_id {
            Some(Some(id)) => id,
            Some(None) => {
                return Err(
                    "an order's legacyResourceId must be digits and its id gid://shopify/Order/<digits>"
                        .to_owned(),
                )
            }
            None => {
                self.next_order_id += 1;
                FIRST_ORDER_ID + self.next_order_id
            }
        };
        let name = |problem: String| format!("order {id}: {problem}");
        order.insert("id".into(), json!(format!("gid://shopify/Order/{id}")));
        order.insert("legacyResourceId".into(), json!(id.to_string()));
        let at = shopify_time(now);
        for field in ["createdAt", "updatedAt"] {
            let value = match order.get(field) {
                None | Some(Value::Null) => at.clone(),
                Some(Value::String(text)) => parse_time(text)
                    .map(shopify_time)
                    .ok_or_else(|| name(format!("{field} {text:?} is not a date-time")))?,
                Some(other) => return Err(name(format!("{field} {other} is not a date-time"))),
            };
            order.insert(field.into(), json!(value));
        }
        let currency = order
            .get("currencyCode")
            .and_then(Value::as_str)
            .unwrap_or("CAD")
            .to_owned();
        let defaults = json!({
            "name": format!("#{}", 1001 + self.by_id.len()),
            "email": null,
            "cancelledAt": null,
            "currencyCode": currency,
            "taxesIncluded": false,
            "displayFinancialStatus": "PAID",
            "displayFulfillmentStatus": "UNFULFILLED",
            "customer": null,
            "shippingAddress": null,
        });
        if let Value::Object(defaults) = defaults {
            for (key, value) in defaults {
                order.entry(key).or_insert(value);
            }
        }
        let lines = connection_nodes(order.remove("lineItems"))
            .map_err(|problem| name(format!("lineItems {problem}")))?;
        if lines.is_empty() {
            return Err(name("an order needs at least one line item".to_owned()));
        }
        let mut lines_total = 0_i64;
        let mut completed_lines = Vec::with_capacity(lines.len());
        for (i, line) in lines.into_iter().enumerate() {
            let Value::Object(mut line) = line else {
                return Err(name(format!("line item {i} is not an object")));
            };
            let quantity = line
                .entry("quantity")
                .or_insert(json!(1))
                .as_i64()
                .filter(|q| *q > 0)
                .ok_or_else(|| {
                    name(format!(
                        "line item {i}: quantity must be a positive integer"
                    ))
                })?;
            let price = amount(line.get("originalUnitPriceSet")).ok_or_else(|| {
                name(format!(
                    "line item {i} needs originalUnitPriceSet {{shopMoney {{amount}}}} (a decimal string)"
                ))
            })?;
            lines_total += price * quantity;
            if !line.contains_key("id") {
                self.next_line_id += 1;
                line.insert(
                    "id".into(),
                    json!(format!(
                        "gid://shopify/LineItem/{}",
                        FIRST_LINE_ID + self.next_line_id
                    )),
                );
            }
            let title = line
                .get("sku")
                .and_then(Value::as_str)
                .unwrap_or("Item")
                .to_owned();
            line.entry("title").or_insert(json!(title));
            line.entry("sku").or_insert(Value::Null);
            line.insert("originalUnitPriceSet".into(), money(price, &currency));
            completed_lines.push(Value::Object(line));
        }
        let shipping = connection_nodes(order.remove("shippingLines"))
            .map_err(|problem| name(format!("shippingLines {problem}")))?;
        let mut shipping_total = 0_i64;
        let mut completed_shipping = Vec::with_capacity(shipping.len());
        for (i, line) in shipping.into_iter().enumerate() {
            let Value::Object(mut line) = line else {
                return Err(name(format!("shipping line {i} is not an object")));
            };
            let price = amount(line.get("originalPriceSet")).ok_or_else(|| {
                name(format!(
                    "shipping line {i} needs originalPriceSet {{shopMoney {{amount}}}}"
                ))
            })?;
            shipping_total += price;
            line.insert("originalPriceSet".into(), money(price, &currency));
            completed_shipping.push(Value::Object(line));
        }
        // Shopify's definitions: the subtotal is the lines less discounts; the total adds
        // shipping, tax (unless prices include it) and tips.
        let taxes_included = order.get("taxesIncluded").and_then(Value::as_bool) == Some(true);
        let mut total = |field: &str, default: i64| -> Result<i64, String> {
            let cents = match order.get(field) {
                None | Some(Value::Null) => default,
                given => amount(given).ok_or_else(|| {
                    name(format!("{field} needs shopMoney.amount (a decimal string)"))
                })?,
            };
            order.insert(field.into(), money(cents, &currency));
            Ok(cents)
        };
        let discounts = total("totalDiscountsSet", 0)?;
        let subtotal = total("subtotalPriceSet", lines_total - discounts)?;
        let tax = total("totalTaxSet", 0)?;
        let tip = total("totalTipReceivedSet", 0)?;
        let added_tax = if taxes_included { 0 } else { tax };
        total("totalPriceSet", subtotal + shipping_total + added_tax + tip)?;
        order.insert("lineItems".into(), json!({ "nodes": completed_lines }));
        order.insert(
            "shippingLines".into(),
            json!({ "nodes": completed_shipping }),
        );
        Ok((id, order))
    }
}

/// Where an order stands in a listing: its sort value, then its id.
type Position = (SortValue, u64);

/// A sort key's value for one order: the id, or a time (an order without one sorts
/// first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Id,
    Time(Option<DateTime<Utc>>),
}

fn sort_value(order: &Map<String, Value>, key: SortKey) -> SortValue {
    let time = |field: &str| {
        order
            .get(field)
            .and_then(Value::as_str)
            .and_then(parse_time)
    };
    match key {
        SortKey::Id => SortValue::Id,
        SortKey::CreatedAt => SortValue::Time(time("createdAt")),
        SortKey::UpdatedAt => SortValue::Time(time("updatedAt")),
    }
}

/// A cursor as Shopify writes them: base64 of `{"last_id": …, "last_value": …}`, the
/// value being the sort key's (a time as `2026-03-03 14:12:46.000000`).
fn write_cursor(id: u64, value: &SortValue) -> String {
    let last_value = match value {
        SortValue::Id => json!(id),
        SortValue::Time(at) => json!(at.map(|at| at.format("%Y-%m-%d %H:%M:%S%.6f").to_string())),
    };
    STANDARD.encode(json!({"last_id": id, "last_value": last_value}).to_string())
}

fn read_cursor(cursor: &str, key: SortKey) -> Result<Position, String> {
    let invalid = || format!("Invalid cursor for current pagination sort: {cursor}");
    let decoded = STANDARD.decode(cursor.trim()).map_err(|_| invalid())?;
    let position: Value = serde_json::from_slice(&decoded).map_err(|_| invalid())?;
    let id = position["last_id"].as_u64().ok_or_else(invalid)?;
    let value = match key {
        SortKey::Id => SortValue::Id,
        SortKey::CreatedAt | SortKey::UpdatedAt => match &position["last_value"] {
            Value::Null => SortValue::Time(None),
            Value::String(text) => SortValue::Time(Some(
                NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                    .map_err(|_| invalid())?
                    .and_utc(),
            )),
            _ => return Err(invalid()),
        },
    };
    Ok((value, id))
}

/// The node as answered: each connection the query asks for cut to its `first`, with
/// its `pageInfo`; and what the node cost (1 and its connections').
fn page_connections(order: &Map<String, Value>, nested: &BTreeMap<String, u32>) -> (Value, u32) {
    let mut node = order.clone();
    let mut cost = 1_u32;
    for (field, first) in nested {
        let nodes = order
            .get(field)
            .and_then(|connection| connection.get("nodes"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let returned: Vec<Value> = nodes.iter().take(*first as usize).cloned().collect();
        cost = cost.saturating_add(super::cost::connection_cost(returned.len() as u32, 1));
        node.insert(
            field.clone(),
            json!({
                "pageInfo": {"hasNextPage": nodes.len() > returned.len(), "hasPreviousPage": false},
                "nodes": returned,
            }),
        );
    }
    (Value::Object(node), cost)
}

/// Reads Shopify's search syntax: terms separated by spaces (and `AND`), each
/// `field:value` with an optional comparison (`:>=`, `:>`, `:<=`, `:<`) and the value
/// optionally quoted. `created_at` and `updated_at` filter; any other term is not
/// applied and comes back as a warning, as Shopify reports a field it does not know.
fn parse_search(query: &str) -> Result<(Vec<DateFilter>, Vec<Value>), String> {
    let (mut filters, mut warnings) = (Vec::new(), Vec::new());
    for term in query.split_whitespace() {
        if term == "AND" {
            continue;
        }
        let Some((field, condition)) = term.split_once(':') else {
            warnings.push(json!({"field": "default", "message": format!("free text {term:?} is not searched by the simulator")}));
            continue;
        };
        let field_kind = match field {
            "created_at" => DateField::CreatedAt,
            "updated_at" => DateField::UpdatedAt,
            other => {
                warnings.push(
                    json!({"field": other, "message": "Invalid search field for this query."}),
                );
                continue;
            }
        };
        let (comparison, value) = [
            (">=", Comparison::AtOrAfter),
            ("<=", Comparison::AtOrBefore),
            (">", Comparison::After),
            ("<", Comparison::Before),
        ]
        .iter()
        .find_map(|(prefix, comparison)| condition.strip_prefix(prefix).map(|v| (*comparison, v)))
        .unwrap_or((Comparison::At, condition));
        let value = value.trim_matches(|c| c == '\'' || c == '"');
        let at = parse_time(value)
            .or_else(|| {
                NaiveDate::parse_from_str(value, "%Y-%m-%d")
                    .ok()
                    .and_then(|day| day.and_hms_opt(0, 0, 0))
                    .map(|at| at.and_utc())
            })
            .ok_or_else(|| format!("{field}: {value:?} is not a date or date-time"))?;
        filters.push(DateFilter {
            field: field_kind,
            comparison,
            at,
        });
    }
    Ok((filters, warnings))
}

impl DateFilter {
    fn matches(&self, order: &Map<String, Value>) -> bool {
        let field = match self.field {
            DateField::CreatedAt => "createdAt",
            DateField::UpdatedAt => "updatedAt",
        };
        let Some(at) = order
            .get(field)
            .and_then(Value::as_str)
            .and_then(parse_time)
        else {
            return false;
        };
        match self.comparison {
            Comparison::Before => at < self.at,
            Comparison::AtOrBefore => at <= self.at,
            Comparison::At => at == self.at,
            Comparison::AtOrAfter => at >= self.at,
            Comparison::After => at > self.at,
        }
    }
}

/// A date-time as RFC 3339, or without a zone (read as UTC).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|at| at.and_utc())
        })
}

/// A time as the Admin API writes `DateTime`: to the second, in UTC.
fn shopify_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The nodes of a connection given as `{"nodes": [...]}` or as a plain array.
fn connection_nodes(value: Option<Value>) -> Result<Vec<Value>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(nodes)) => Ok(nodes),
        Some(Value::Object(mut connection)) => match connection.remove("nodes") {
            Some(Value::Array(nodes)) => Ok(nodes),
            _ => Err("must be an array or {\"nodes\": [...]}".to_owned()),
        },
        Some(_) => Err("must be an array or {\"nodes\": [...]}".to_owned()),
    }
}

/// `{shopMoney {amount}}` in cents; the amount a decimal string of at most two places.
fn amount(set: Option<&Value>) -> Option<i64> {
    let text = set?.get("shopMoney")?.get("amount")?.as_str()?.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || fraction.len() > 2
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents = whole.parse::<i64>().ok()?.checked_mul(100)?
        + format!("{fraction:0<2}").parse::<i64>().ok()?;
    Some(if negative { -cents } else { cents })
}

fn money(cents: i64, currency: &str) -> Value {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    json!({"shopMoney": {
        "amount": format!("{sign}{}.{:02}", cents / 100, cents % 100),
        "currencyCode": currency,
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-03-03T15:00:00Z".parse().unwrap()
    }

    fn line(price: &str, quantity: i64) -> Value {
        json!({"sku": "RF-T480", "quantity": quantity,
               "originalUnitPriceSet": {"shopMoney": {"amount": price}}})
    }

    fn request(first: u32) -> OrdersRequest {
        OrdersRequest {
            first,
            after: None,
            query: None,
            sort_key: SortKey::UpdatedAt,
            reverse: false,
            nested: BTreeMap::new(),
        }
    }

    #[test]
    fn a_seed_without_totals_gets_them_from_its_lines() {
        let mut orders = ShopifyOrders::default();
        let (added, _) = orders
            .seed(
                json!({"lineItems": [line("499.99", 1), line("10.5", 2)],
                       "shippingLines": [{"originalPriceSet": {"shopMoney": {"amount": "16.00"}}}],
                       "totalTaxSet": {"shopMoney": {"amount": "65.00"}}}),
                false,
                now(),
            )
            .unwrap();
        let order = orders.all().next().unwrap();
        assert_eq!(order["legacyResourceId"], json!(added[0]));
        assert_eq!(order["subtotalPriceSet"]["shopMoney"]["amount"], "520.99");
        assert_eq!(order["totalPriceSet"]["shopMoney"]["amount"], "601.99");
        assert_eq!(order["updatedAt"], "2026-03-03T15:00:00Z");
        assert_eq!(order["lineItems"]["nodes"][1]["title"], "RF-T480");
    }

    #[test]
    fn a_seed_that_cannot_be_an_order_is_refused_by_reason() {
        let mut orders = ShopifyOrders::default();
        let no_price = json!({"legacyResourceId": "7", "lineItems": [{"quantity": 1}]});
        let err = orders.seed(no_price, false, now()).unwrap_err();
        assert!(
            err.contains("order 7") && err.contains("originalUnitPriceSet"),
            "{err}"
        );
        let err = orders
            .seed(json!({"lineItems": []}), false, now())
            .unwrap_err();
        assert!(err.contains("at least one line item"), "{err}");
    }

    #[test]
    fn the_search_filters_on_update_time_and_warns_about_other_fields() {
        let (filters, warnings) =
            parse_search("updated_at:>='2026-03-02T15:00:00Z' AND status:open").unwrap();
        assert_eq!(filters.len(), 1);
        assert_eq!(warnings[0]["field"], "status");
        assert!(parse_search("updated_at:>=yesterday").is_err());
    }

    #[test]
    fn cursors_page_through_orders_updated_at_the_same_second() {
        let mut orders = ShopifyOrders::default();
        for id in 1..=5 {
            let order = json!({"legacyResourceId": id.to_string(),
                               "updatedAt": "2026-03-03T14:00:00Z",
                               "lineItems": [line("1.00", 1)]});
            orders.seed(order, false, now()).unwrap();
        }
        let mut seen = Vec::new();
        let mut page_request = request(2);
        loop {
            let page = orders.list(&page_request).unwrap();
            seen.extend(
                page.edges
                    .iter()
                    .map(|(_, node)| node["legacyResourceId"].clone()),
            );
            if !page.has_next_page {
                break;
            }
            page_request.after = page.edges.last().map(|(cursor, _)| cursor.clone());
        }
        assert_eq!(seen, ["1", "2", "3", "4", "5"]);
    }

    #[test]
    fn a_nested_connection_is_cut_to_its_first() {
        let mut orders = ShopifyOrders::default();
        let lines: Vec<Value> = (0..3).map(|_| line("1.00", 1)).collect();
        orders
            .seed(json!({"lineItems": lines}), false, now())
            .unwrap();
        let mut cut = request(10);
        cut.nested.insert("lineItems".to_owned(), 2);
        let page = orders.list(&cut).unwrap();
        let node = &page.edges[0].1;
        assert_eq!(node["lineItems"]["nodes"].as_array().unwrap().len(), 2);
        assert_eq!(node["lineItems"]["pageInfo"]["hasNextPage"], true);
        assert_eq!(page.actual_cost, 2 + 1 + 4);
    }
}
