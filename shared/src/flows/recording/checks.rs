//! What a channel order must be to be recorded, and what is recorded but raised.
//!
//! **Refused**, naming the field by its JSON path: the order is not recorded at all (a
//! webhook answers 400, a poll writes the order to `ops.process_failures` and goes on):
//! - a string or key holding a NUL character, which PostgreSQL cannot store;
//! - an amount with more decimals than the order's currency has (`19.999` dollars),
//!   or than the order tables keep (two); an amount that is not a plain decimal
//!   (`1e5`) never parses ([`crate::model::received::decimal`]);
//! - a currency code that is not three letters;
//! - an order date (placed or last changed) outside the plausible window
//!   ([`check_order_time`]);
//! - a line id given twice in one order (it names one line on the channel).
//!
//! **Recorded as sent, and raised** as a [`DataProblem`] (`ops.data_problems`, and a
//! warning in the log):
//! - a total that disagrees with the sum of its lines as the channel defines its total
//!   (see [`mirakl_data_problems`] and [`shopify_data_problems`]): each line keeps its
//!   own amounts and the order its total, exactly as sent. Money is never rounded or
//!   rewritten to make it add up;
//! - a Mirakl order or line state sellerops does not know: stored as `UNKNOWN`, so no
//!   rule reads it as a state it knows, and the word Mirakl sent is kept in the raw
//!   payload and in the problem.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::data_problems::{DataProblem, ProblemKind};
use crate::model::field_path::{self, InvalidField};
use crate::model::money::{Currency, Money};
use crate::model::order_time::check_order_time;
use crate::model::received::Received;
use crate::systems::mirakl::order_state::OrderState;
use crate::systems::mirakl::orders::MiraklOrder;
use crate::systems::shopify::ShopifyOrder;

/// An order that passed its channel's checks; only such an order is recorded.
#[derive(Debug)]
pub struct CheckedOrder<T> {
    received: Received<T>,
}

impl<T> CheckedOrder<T> {
    /// The order as received.
    pub fn received(&self) -> &Received<T> {
        &self.received
    }

    /// The parsed order.
    pub fn value(&self) -> &T {
        &self.received.value
    }
}

/// An order refused by its checks: its channel id and the field that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("order {external_id}: {field}")]
pub struct RefusedOrder {
    /// The channel's id of the order.
    pub external_id: String,
    /// The field and what is wrong with it.
    pub field: InvalidField,
}

/// Checks a Mirakl order received at `received_at`.
pub fn check_mirakl_order(
    received: Received<MiraklOrder>,
    received_at: DateTime<Utc>,
) -> Result<CheckedOrder<MiraklOrder>, RefusedOrder> {
    match mirakl_order_problem(&received, received_at) {
        None => Ok(CheckedOrder { received }),
        Some(field) => Err(RefusedOrder {
            external_id: received.value.order_id.clone(),
            field,
        }),
    }
}

fn mirakl_order_problem(
    received: &Received<MiraklOrder>,
    received_at: DateTime<Utc>,
) -> Option<InvalidField> {
    let order = &received.value;
    let checked = || -> Result<(), InvalidField> {
        nul_free(received.raw())?;
        let currency = currency("currency_iso_code", &order.currency_iso_code)?;
        plausible("created_date", order.created_date, received_at)?;
        plausible("last_updated_date", order.last_updated_date, received_at)?;
        let money = Amounts(currency);
        money.exact("price", order.price)?;
        money.exact_optional("shipping_price", order.shipping_price)?;
        money.exact("total_price", order.total_price)?;
        money.exact_optional("total_commission", order.total_commission)?;
        for (i, line) in order.order_lines.iter().enumerate() {
            let at = |field: &str| field_path::join(&field_path::index("order_lines", i), field);
            money.exact(&at("price_unit"), line.price_unit)?;
            money.exact(&at("price"), line.price)?;
            money.exact_optional(&at("shipping_price"), line.shipping_price)?;
            for (name, taxes) in [
                ("taxes", &line.taxes),
                ("shipping_taxes", &line.shipping_taxes),
            ] {
                for (k, tax) in taxes.iter().enumerate() {
                    let path = field_path::join(&field_path::index(&at(name), k), "amount");
                    money.exact(&path, tax.amount)?;
                }
            }
        }
        unique_line_ids(
            "order_lines",
            "order_line_id",
            order
                .order_lines
                .iter()
                .map(|line| line.order_line_id.clone()),
        )
    };
    checked().err()
}

/// Checks a Shopify order received at `received_at`.
pub fn check_shopify_order(
    received: Received<ShopifyOrder>,
    received_at: DateTime<Utc>,
) -> Result<CheckedOrder<ShopifyOrder>, RefusedOrder> {
    match shopify_order_problem(&received, received_at) {
        None => Ok(CheckedOrder { received }),
        Some(field) => Err(RefusedOrder {
            external_id: received.value.id.to_string(),
            field,
        }),
    }
}

fn shopify_order_problem(
    received: &Received<ShopifyOrder>,
    received_at: DateTime<Utc>,
) -> Option<InvalidField> {
    let order = &received.value;
    let checked = || -> Result<(), InvalidField> {
        nul_free(received.raw())?;
        let currency = currency("currency", &order.currency)?;
        plausible("created_at", order.created_at, received_at)?;
        plausible("updated_at", order.updated_at, received_at)?;
        let money = Amounts(currency);
        money.exact("total_price", order.total_price)?;
        money.exact_optional("subtotal_price", order.subtotal_price)?;
        money.exact_optional("total_tax", order.total_tax)?;
        money.exact_optional("total_discounts", order.total_discounts)?;
        money.exact_optional("total_tip_received", order.total_tip_received)?;
        for (i, line) in order.line_items.iter().enumerate() {
            let path = field_path::join(&field_path::index("line_items", i), "price");
            money.exact(&path, line.price)?;
        }
        for (i, line) in order.shipping_lines.iter().enumerate() {
            let path = field_path::join(&field_path::index("shipping_lines", i), "price");
            money.exact(&path, line.price)?;
        }
        unique_line_ids(
            "line_items",
            "id",
            order.line_items.iter().map(|line| line.id.to_string()),
        )
    };
    checked().err()
}

fn nul_free(raw: &str) -> Result<(), InvalidField> {
    field_path::find_nul(raw, "").map_or(Ok(()), Err)
}

fn currency(path: &str, code: &str) -> Result<Currency, InvalidField> {
    Currency::parse(code).map_err(|err| InvalidField::new(path, err.to_string()))
}

fn plausible(
    path: &str,
    at: DateTime<Utc>,
    received_at: DateTime<Utc>,
) -> Result<(), InvalidField> {
    check_order_time(at, received_at)
        .map(|_| ())
        .map_err(|err| InvalidField::new(path, format!("not a plausible order date: {err}")))
}

/// Decimals the order tables keep (`numeric(14,2)`): more would be rounded on the way
/// in, so an amount in a currency with three (the Kuwaiti dinar) is refused past two.
const STORED_DECIMALS: u32 = 2;

/// The order's currency, against which every amount is checked.
struct Amounts(Currency);

impl Amounts {
    fn exact(&self, path: &str, amount: Decimal) -> Result<(), InvalidField> {
        Money::exact(amount, self.0).map_err(|err| InvalidField::new(path, err.to_string()))?;
        if amount.normalize().scale() > STORED_DECIMALS {
            return Err(InvalidField::new(
                path,
                format!("{amount} has more than the {STORED_DECIMALS} decimals sellerops stores"),
            ));
        }
        Ok(())
    }

    fn exact_optional(&self, path: &str, amount: Option<Decimal>) -> Result<(), InvalidField> {
        amount.map_or(Ok(()), |amount| self.exact(path, amount))
    }
}

/// Refuses a line id that an earlier line of the order already has.
fn unique_line_ids(
    lines: &str,
    id_field: &str,
    ids: impl Iterator<Item = String>,
) -> Result<(), InvalidField> {
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    for (i, id) in ids.enumerate() {
        if let Some(earlier) = first_seen.get(&id) {
            return Err(InvalidField::new(
                field_path::join(&field_path::index(lines, i), id_field),
                format!(
                    "{id:?} is also the id of {}: a line id appears once in an order",
                    field_path::index(lines, *earlier)
                ),
            ));
        }
        first_seen.insert(id, i);
    }
    Ok(())
}

/// A Mirakl order's data problems. Mirakl defines `price` as the sum of the lines'
/// `price`, `shipping_price` as the sum of the lines' `shipping_price`, and
/// `total_price` as price plus shipping (taxes excluded, as Best Buy orders are
/// `TAX_EXCLUDED`); each is checked against the lines, and a state not known is raised.
pub fn mirakl_data_problems(order: &MiraklOrder) -> Vec<DataProblem> {
    let mut problems = Vec::new();
    let lines_price: Decimal = order.order_lines.iter().map(|line| line.price).sum();
    let lines_shipping: Decimal = order
        .order_lines
        .iter()
        .filter_map(|line| line.shipping_price)
        .sum();
    if order.price != lines_price {
        problems.push(mismatch(
            "price",
            order.price,
            lines_price,
            format!(
                "price {} is not the sum of the lines' prices, {lines_price}",
                order.price
            ),
        ));
    }
    if let Some(shipping) = order.shipping_price {
        if shipping != lines_shipping {
            problems.push(mismatch(
                "shipping_price",
                shipping,
                lines_shipping,
                format!("shipping_price {shipping} is not the sum of the lines' shipping prices, {lines_shipping}"),
            ));
        }
    }
    let expected_total = lines_price + lines_shipping;
    if order.total_price != expected_total {
        problems.push(mismatch(
            "total_price",
            order.total_price,
            expected_total,
            format!(
                "total_price {} is not the lines' prices plus their shipping, \
                 {lines_price} + {lines_shipping} = {expected_total}",
                order.total_price
            ),
        ));
    }
    if let OrderState::Other(state) = &order.order_state {
        problems.push(unknown_state("order_state", state));
    }
    for (i, line) in order.order_lines.iter().enumerate() {
        if let Some(OrderState::Other(state)) = &line.order_line_state {
            let path = field_path::join(&field_path::index("order_lines", i), "order_line_state");
            problems.push(unknown_state(&path, state));
        }
    }
    problems
}

/// A Shopify order's data problems. Shopify defines `subtotal_price` as the line items'
/// prices times their quantities less `total_discounts`, and `total_price` as that plus
/// shipping (`shipping_lines`), taxes unless `taxes_included`, and tips; both are checked
/// against the lines.
pub fn shopify_data_problems(order: &ShopifyOrder) -> Vec<DataProblem> {
    let mut problems = Vec::new();
    let lines: Decimal = order
        .line_items
        .iter()
        .map(|line| line.price * Decimal::from(line.quantity))
        .sum();
    let discounts = order.total_discounts.unwrap_or_default();
    let subtotal = lines - discounts;
    if let Some(sent) = order.subtotal_price {
        if sent != subtotal {
            problems.push(mismatch(
                "subtotal_price",
                sent,
                subtotal,
                format!(
                    "subtotal_price {sent} is not the line items' prices times their \
                     quantities less discounts, {lines} - {discounts} = {subtotal}"
                ),
            ));
        }
    }
    let shipping: Decimal = order.shipping_lines.iter().map(|line| line.price).sum();
    let tax = if order.taxes_included == Some(true) {
        Decimal::ZERO
    } else {
        order.total_tax.unwrap_or_default()
    };
    let tips = order.total_tip_received.unwrap_or_default();
    let total = subtotal + shipping + tax + tips;
    if order.total_price != total {
        problems.push(mismatch(
            "total_price",
            order.total_price,
            total,
            format!(
                "total_price {} is not the subtotal plus shipping, taxes and tips, \
                 {subtotal} + {shipping} + {tax} + {tips} = {total}",
                order.total_price
            ),
        ));
    }
    problems
}

fn mismatch(field: &str, sent: Decimal, expected: Decimal, detail: String) -> DataProblem {
    DataProblem {
        field: field.to_owned(),
        kind: ProblemKind::TotalMismatch,
        sent: sent.to_string(),
        expected: Some(expected.to_string()),
        detail,
    }
}

fn unknown_state(field: &str, state: &str) -> DataProblem {
    DataProblem {
        field: field.to_owned(),
        kind: ProblemKind::UnknownState,
        sent: state.to_owned(),
        expected: None,
        detail: format!(
            "Mirakl state {state:?} is not one sellerops knows: recorded as UNKNOWN and \
             acted on by no rule"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    const ORDER: &str = r#"{
        "order_id": "BBY-1-A", "order_state": "SHIPPING",
        "created_date": "2026-03-02T14:18:43Z", "last_updated_date": "2026-03-02T14:59:58Z",
        "currency_iso_code": "CAD", "price": 39.98, "shipping_price": 5, "total_price": 44.98,
        "customer": {"customer_id": "C-1"},
        "order_lines": [
            {"order_line_id": "L-1", "order_line_index": 1, "offer_sku": "A", "quantity": 1,
             "price_unit": 19.99, "price": 19.99, "shipping_price": 5,
             "taxes": [{"amount": 2.6}]},
            {"order_line_id": "L-2", "order_line_index": 2, "offer_sku": "B", "quantity": 1,
             "price_unit": 19.99, "price": 19.99, "shipping_price": 0}
        ]
    }"#;

    fn mirakl(text: &str) -> Result<CheckedOrder<MiraklOrder>, RefusedOrder> {
        check_mirakl_order(
            serde_json::from_str(text).unwrap(),
            at("2026-03-05T00:00:00Z"),
        )
    }

    #[test]
    fn an_order_that_adds_up_passes_and_has_no_problem() {
        let checked = mirakl(ORDER).unwrap();
        assert_eq!(mirakl_data_problems(checked.value()), []);
    }

    #[test]
    fn each_refusal_names_its_field() {
        for (from, to, field) in [
            (
                "\"price_unit\": 19.99, \"price\": 19.99, \"shipping_price\": 5",
                "\"price_unit\": 19.999, \"price\": 19.99, \"shipping_price\": 5",
                "order_lines[0].price_unit",
            ),
            (
                "{\"amount\": 2.6}",
                "{\"amount\": 2.605}",
                "order_lines[0].taxes[0].amount",
            ),
            (
                "\"2026-03-02T14:18:43Z\"",
                "\"0001-01-01T00:00:00Z\"",
                "created_date",
            ),
            (
                "\"2026-03-02T14:59:58Z\"",
                "\"2999-01-01T00:00:00Z\"",
                "last_updated_date",
            ),
            ("\"L-2\"", "\"L-1\"", "order_lines[1].order_line_id"),
            ("\"CAD\"", "\"C$\"", "currency_iso_code"),
            ("\"C-1\"", "\"C\\u0000-1\"", "customer.customer_id"),
        ] {
            let refused = mirakl(&ORDER.replacen(from, to, 1)).unwrap_err();
            assert_eq!(refused.external_id, "BBY-1-A");
            assert_eq!(refused.field.path, field, "{refused}");
        }
    }

    #[test]
    fn a_total_that_disagrees_with_its_lines_is_raised_naming_both_values() {
        let order = ORDER.replace("\"total_price\": 44.98", "\"total_price\": 100000");
        let problems = mirakl_data_problems(mirakl(&order).unwrap().value());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "total_price");
        assert_eq!(problems[0].sent, "100000");
        assert_eq!(problems[0].expected.as_deref(), Some("44.98"));
        assert!(problems[0].detail.contains("100000") && problems[0].detail.contains("44.98"));
    }

    #[test]
    fn an_unknown_state_of_the_order_or_a_line_is_raised() {
        let order = ORDER
            .replace("\"SHIPPING\"", "\"WAITING_SCORING\"")
            .replacen(
                "\"order_line_id\": \"L-2\"",
                "\"order_line_id\": \"L-2\", \"order_line_state\": \"ON_HOLD\"",
                1,
            );
        let problems = mirakl_data_problems(mirakl(&order).unwrap().value());
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["order_state", "order_lines[1].order_line_state"]);
        assert!(problems.iter().all(|p| p.kind == ProblemKind::UnknownState));
    }

    #[test]
    fn a_shopify_total_counts_shipping_taxes_unless_included_and_discounts() {
        let order = |extra: &str| -> ShopifyOrder {
            serde_json::from_str(&format!(
                r#"{{"id": 1, "created_at": "2026-03-02T10:00:00Z",
                    "updated_at": "2026-03-02T10:00:00Z", "currency": "CAD",
                    "line_items": [{{"id": 7, "quantity": 2, "price": "10.00"}}],
                    {extra}}}"#
            ))
            .unwrap()
        };
        let adds_up = order(
            r#""subtotal_price": "18.00", "total_discounts": "2.00", "total_tax": "2.34",
               "shipping_lines": [{"price": "5.00"}], "total_price": "25.34""#,
        );
        assert_eq!(shopify_data_problems(&adds_up), []);
        let included = order(
            r#""subtotal_price": "20.00", "total_tax": "2.30", "taxes_included": true,
               "total_price": "20.00""#,
        );
        assert_eq!(shopify_data_problems(&included), []);
        let off = order(r#""subtotal_price": "20.00", "total_price": "99.00""#);
        let problems = shopify_data_problems(&off);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            (problems[0].sent.as_str(), problems[0].expected.as_deref()),
            ("99.00", Some("20.00"))
        );
    }
}
