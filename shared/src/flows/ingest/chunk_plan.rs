//! What one batch of parsed rows does to the orders: the importer's rules, with no I/O.
//!
//! Rows are taken in file order. The first row of an order reference that the database
//! does not know creates the order; every other row must agree with the order on its
//! customer, date, currency and payment method, or it is rejected as contradicting it.
//! An order has one line per SKU: a row repeating a line exactly (the same file read
//! again, or two exports that overlap) is accepted and changes nothing; a row giving the
//! same SKU another quantity or price is rejected. Orders the database already holds are
//! passed in as [`KnownOrder`]s, read under the lock that keeps other imports out.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::columns::Column;
use super::order_file_row::{
    OrderDate, OrderFileLine, OrderFileRow, OrderHeader, OrderRef, RejectedRow, RowNumber,
    RowProblem, Sku, MAX_AMOUNT,
};
use super::payment_method::PaymentMethod;
use crate::model::customer_email::EmailHash;
use crate::model::customers::CustomerVisit;
use crate::model::money::Currency;

/// An order already in the database, as far as a batch needs to know it.
#[derive(Debug, Clone)]
pub struct KnownOrder {
    /// Its id.
    pub id: Uuid,
    /// Its customer's e-mail hash (`None` when it has none).
    pub customer: Option<EmailHash>,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// Its currency code.
    pub currency: String,
    /// Its payment method, when it has one.
    pub payment_method: Option<PaymentMethod>,
    /// Its total so far.
    pub total: Decimal,
    /// Its lines by SKU.
    pub lines: HashMap<String, KnownLine>,
    /// The highest line number in use.
    pub last_line_number: i32,
}

/// A line already in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownLine {
    /// Units.
    pub quantity: i32,
    /// Price of one unit.
    pub unit_price: Decimal,
}

/// An order the batch creates.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Its id, chosen here (time-ordered, so the indexes grow at one end).
    pub id: Uuid,
    /// Reference, date, customer, currency and payment method.
    pub header: OrderHeader,
    /// Sum of its lines in this batch.
    pub total: Decimal,
    /// The row that created it.
    pub first_row: RowNumber,
}

/// A line the batch adds, to a new or a known order.
#[derive(Debug, Clone)]
pub struct NewLine {
    /// The order it belongs to.
    pub order_id: Uuid,
    /// Its position in the order, from 1.
    pub line_number: i32,
    /// The row it comes from.
    pub row_number: RowNumber,
    /// Its currency (the order's).
    pub currency: Currency,
    /// SKU, names, quantity and price.
    pub line: OrderFileLine,
}

/// A product a new line refers to, as first described in the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductMention {
    pub sku: Sku,
    /// Its name (the SKU when the row names none).
    pub name: String,
    pub category: Option<String>,
    /// The unit price it was sold at, kept as the base price of a new product.
    pub unit_price: Decimal,
    /// The currency of that price.
    pub currency: Currency,
}

/// Everything a batch writes.
#[derive(Debug, Default)]
pub struct BatchPlan {
    /// Orders to create.
    pub new_orders: Vec<NewOrder>,
    /// Lines to add.
    pub new_lines: Vec<NewLine>,
    /// Known orders that gain lines, whose totals must be summed again.
    pub grown_orders: Vec<Uuid>,
    /// Customers of the new orders.
    pub customers: Vec<CustomerVisit>,
    /// Products of the new lines, one per SKU.
    pub products: Vec<ProductMention>,
    /// Rows rejected because they contradict their order.
    pub rejected: Vec<RejectedRow>,
    /// Rows accepted (new lines and exact repeats).
    pub accepted_rows: usize,
    /// UTC days of the orders that gained lines.
    pub days: BTreeSet<NaiveDate>,
}

/// An order as the batch sees it while walking the rows.
struct OrderInProgress {
    id: Uuid,
    order_ref: OrderRef,
    placed_at: OrderDate,
    customer: Option<EmailHash>,
    currency: Option<Currency>,
    payment_method: Option<PaymentMethod>,
    known: bool,
    total: Decimal,
    lines: HashMap<String, KnownLine>,
    last_line_number: i32,
    new_index: Option<usize>,
}

impl BatchPlan {
    /// Decides what `rows` (in file order) do, given the orders the database already
    /// holds among theirs.
    pub fn build(rows: Vec<OrderFileRow>, mut known: HashMap<String, KnownOrder>) -> Self {
        let mut plan = BatchPlan::default();
        let mut orders: HashMap<OrderRef, OrderInProgress> = HashMap::new();
        let mut grown: BTreeSet<Uuid> = BTreeSet::new();
        let mut customers: HashMap<EmailHash, CustomerVisit> = HashMap::new();
        let mut products: HashMap<Sku, ProductMention> = HashMap::new();

        for row in rows {
            let order = orders
                .entry(row.order.order_ref.clone())
                .or_insert_with(|| match known.remove(row.order.order_ref.as_str()) {
                    Some(existing) => OrderInProgress::known(&row.order.order_ref, existing),
                    None => OrderInProgress::new(&row),
                });

            if order.new_index.is_none() && !order.known {
                // The first row of a new order creates it.
                order.new_index = Some(plan.new_orders.len());
                plan.new_orders.push(NewOrder {
                    id: order.id,
                    header: row.order.clone(),
                    total: Decimal::ZERO,
                    first_row: row.row_number,
                });
                let (at, region) = (row.order.placed_at.at(), row.region.as_deref());
                customers
                    .entry(row.order.customer)
                    .and_modify(|visit| visit.add(at, region))
                    .or_insert_with(|| CustomerVisit::new(row.order.customer, at, region));
            }

            let problems = order.contradictions(&row);
            if !problems.is_empty() {
                plan.rejected.push(RejectedRow {
                    row_number: row.row_number,
                    problems,
                    redacted_cells: row.redacted_cells,
                });
                continue;
            }

            let sku = row.line.sku.as_str();
            let wanted = KnownLine {
                quantity: row.line.quantity.get(),
                unit_price: row.line.unit_price.amount(),
            };
            if let Some(existing) = order.lines.get(sku) {
                if *existing == wanted {
                    plan.accepted_rows += 1;
                } else {
                    let reason = format!(
                        "order {} already has SKU {} with quantity {} at {}; this row says quantity {} at {}",
                        order.order_ref,
                        row.line.sku,
                        existing.quantity,
                        existing.unit_price,
                        wanted.quantity,
                        wanted.unit_price
                    );
                    let column = if existing.quantity != wanted.quantity {
                        Column::Quantity
                    } else {
                        Column::UnitPrice
                    };
                    plan.rejected
                        .push(RejectedRow::of(&row, Some(column), reason));
                }
                continue;
            }

            let line_total = row.line.line_total();
            if order.total + line_total > MAX_AMOUNT {
                let reason = format!(
                    "order {} would total more than {MAX_AMOUNT} with this line",
                    order.order_ref
                );
                plan.rejected
                    .push(RejectedRow::of(&row, Some(Column::UnitPrice), reason));
                continue;
            }

            order.total += line_total;
            order.last_line_number += 1;
            order.lines.insert(sku.to_owned(), wanted);
            match order.new_index {
                Some(index) => plan.new_orders[index].total = order.total,
                None => {
                    grown.insert(order.id);
                }
            }
            plan.days.insert(order.placed_at.utc_day());
            products
                .entry(row.line.sku.clone())
                .or_insert_with(|| ProductMention {
                    sku: row.line.sku.clone(),
                    name: row
                        .line
                        .product_name
                        .clone()
                        .unwrap_or_else(|| row.line.sku.as_str().to_owned()),
                    category: row.line.category.clone(),
                    unit_price: row.line.unit_price.amount(),
                    currency: row.order.currency,
                });
            plan.new_lines.push(NewLine {
                order_id: order.id,
                line_number: order.last_line_number,
                row_number: row.row_number,
                currency: row.order.currency,
                line: row.line,
            });
            plan.accepted_rows += 1;
        }

        plan.grown_orders = grown.into_iter().collect();
        plan.customers = customers.into_values().collect();
        plan.customers
            .sort_by_key(|visit| *visit.customer.as_bytes());
        plan.products = products.into_values().collect();
        plan.products.sort_by(|a, b| a.sku.cmp(&b.sku));
        plan
    }
}

impl OrderInProgress {
    fn new(row: &OrderFileRow) -> Self {
        Self {
            id: Uuid::now_v7(),
            order_ref: row.order.order_ref.clone(),
            placed_at: row.order.placed_at,
            customer: Some(row.order.customer),
            currency: Some(row.order.currency),
            payment_method: Some(row.order.payment_method),
            known: false,
            total: Decimal::ZERO,
            lines: HashMap::new(),
            last_line_number: 0,
            new_index: None,
        }
    }

    fn known(order_ref: &OrderRef, existing: KnownOrder) -> Self {
        Self {
            id: existing.id,
            order_ref: order_ref.clone(),
            placed_at: OrderDate::from_stored(existing.placed_at),
            customer: existing.customer,
            currency: Currency::parse(&existing.currency).ok(),
            payment_method: existing.payment_method,
            known: true,
            total: existing.total,
            lines: existing.lines,
            last_line_number: existing.last_line_number,
            new_index: None,
        }
    }

    /// Where `row` disagrees with this order, one problem per column.
    fn contradictions(&self, row: &OrderFileRow) -> Vec<RowProblem> {
        let earlier = if self.known {
            "imported earlier"
        } else {
            "given on an earlier row"
        };
        let mut problems = Vec::new();
        let mut differs = |column: Column, what: String| {
            problems.push(RowProblem {
                column: Some(column),
                reason: format!("order {} {what}", self.order_ref),
            });
        };
        if self.customer != Some(row.order.customer) {
            differs(
                Column::CustomerEmail,
                format!("belongs to another customer ({earlier})"),
            );
        }
        if self.placed_at != row.order.placed_at {
            differs(
                Column::OrderDate,
                format!(
                    "was placed at {} ({earlier}), not {}",
                    self.placed_at.at().to_rfc3339(),
                    row.order.placed_at.at().to_rfc3339()
                ),
            );
        }
        if self.currency != Some(row.order.currency) {
            differs(
                Column::Currency,
                format!(
                    "is in {} ({earlier}), not {}",
                    shown_or_none(self.currency),
                    row.order.currency
                ),
            );
        }
        if self.payment_method != Some(row.order.payment_method) {
            differs(
                Column::PaymentMethod,
                format!(
                    "was paid by {} ({earlier}), not {}",
                    shown_or_none(self.payment_method),
                    row.order.payment_method
                ),
            );
        }
        problems
    }
}

fn shown_or_none(value: Option<impl std::fmt::Display>) -> String {
    value.map_or_else(|| "none".to_owned(), |value| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::ingest::order_file_row::{Quantity, UnitPrice};
    use crate::model::customer_email::{CustomerEmail, EmailPepper};
    use secrecy::SecretString;
    use std::str::FromStr;

    fn customer(address: &str) -> EmailHash {
        CustomerEmail::parse(address)
            .unwrap()
            .hash(&EmailPepper::new(SecretString::from(
                "pepper-for-plan-tests",
            )))
    }

    fn row(
        number: RowNumber,
        order_ref: &str,
        sku: &str,
        quantity: i32,
        price: &str,
    ) -> OrderFileRow {
        OrderFileRow {
            row_number: number,
            order: OrderHeader {
                order_ref: OrderRef::parse(order_ref).unwrap(),
                placed_at: OrderDate::parse("2026-03-02T14:05:00+03:00").unwrap(),
                customer: customer("amina@example.co.ke"),
                currency: Currency::parse("KES").unwrap(),
                payment_method: PaymentMethod::Mpesa,
            },
            region: Some("Nairobi".into()),
            line: OrderFileLine {
                sku: Sku::parse(sku).unwrap(),
                product_name: None,
                category: Some("Lighting".into()),
                quantity: Quantity::parse(&quantity.to_string()).unwrap(),
                unit_price: UnitPrice::parse(price, Currency::parse("KES").unwrap()).unwrap(),
            },
            redacted_cells: format!("{order_ref},{sku}"),
        }
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn rows_of_a_new_order_become_one_order_with_numbered_lines_and_a_summed_total() {
        let plan = BatchPlan::build(
            vec![
                row(2, "NRB-1", "LAMP", 2, "1500.50"),
                row(3, "NRB-1", "BULB", 1, "250"),
                row(4, "NRB-2", "LAMP", 1, "1500.50"),
            ],
            HashMap::new(),
        );
        assert_eq!(plan.new_orders.len(), 2);
        assert_eq!(plan.new_orders[0].total, dec("3251.00"));
        assert_eq!(plan.new_orders[0].first_row, 2);
        let numbers: Vec<_> = plan.new_lines.iter().map(|l| l.line_number).collect();
        assert_eq!(numbers, [1, 2, 1]);
        assert_eq!(plan.accepted_rows, 3);
        assert_eq!(plan.customers.len(), 1);
        assert_eq!(plan.products.len(), 2);
        assert_eq!(
            plan.products[1].name, "LAMP",
            "the SKU names an unnamed product"
        );
        assert_eq!(plan.days.len(), 1);
    }

    #[test]
    fn a_row_that_contradicts_its_order_is_rejected_naming_each_column() {
        let mut other = row(3, "NRB-1", "BULB", 1, "250");
        other.order.customer = customer("someone.else@example.co.ke");
        other.order.payment_method = PaymentMethod::Card;
        let plan = BatchPlan::build(
            vec![row(2, "NRB-1", "LAMP", 1, "10"), other],
            HashMap::new(),
        );
        assert_eq!(plan.accepted_rows, 1);
        assert_eq!(plan.rejected.len(), 1);
        let columns: Vec<_> = plan.rejected[0]
            .problems
            .iter()
            .map(|p| p.column.unwrap().name())
            .collect();
        assert_eq!(columns, ["customer_email", "payment_method"]);
        assert_eq!(
            plan.new_orders[0].total,
            dec("10"),
            "the rejected line is not counted"
        );
    }

    fn known_order(lines: &[(&str, i32, &str)]) -> KnownOrder {
        let sample = row(1, "NRB-1", "LAMP", 1, "1");
        KnownOrder {
            id: Uuid::now_v7(),
            customer: Some(sample.order.customer),
            placed_at: sample.order.placed_at.at(),
            currency: "KES".into(),
            payment_method: Some(PaymentMethod::Mpesa),
            total: lines
                .iter()
                .map(|(_, q, p)| dec(p) * Decimal::from(*q))
                .sum(),
            lines: lines
                .iter()
                .map(|(sku, quantity, price)| {
                    (
                        sku.to_string(),
                        KnownLine {
                            quantity: *quantity,
                            unit_price: dec(price),
                        },
                    )
                })
                .collect(),
            last_line_number: lines.len() as i32,
        }
    }

    #[test]
    fn a_line_already_imported_is_accepted_without_writing_and_a_new_one_extends_the_order() {
        let existing = known_order(&[("LAMP", 2, "1500.50")]);
        let id = existing.id;
        let plan = BatchPlan::build(
            vec![
                row(2, "NRB-1", "LAMP", 2, "1500.50"),
                row(3, "NRB-1", "BULB", 1, "250"),
            ],
            HashMap::from([("NRB-1".to_owned(), existing)]),
        );
        assert!(plan.new_orders.is_empty());
        assert_eq!(plan.accepted_rows, 2);
        assert_eq!(plan.new_lines.len(), 1);
        assert_eq!(plan.new_lines[0].line_number, 2);
        assert_eq!(plan.new_lines[0].order_id, id);
        assert_eq!(plan.grown_orders, [id]);
        assert!(plan.customers.is_empty(), "no new order, no customer visit");
    }

    #[test]
    fn another_quantity_for_a_line_already_imported_is_rejected() {
        let existing = known_order(&[("LAMP", 2, "1500.50")]);
        let plan = BatchPlan::build(
            vec![row(9, "NRB-1", "LAMP", 3, "1500.50")],
            HashMap::from([("NRB-1".to_owned(), existing)]),
        );
        assert_eq!(plan.rejected.len(), 1);
        assert_eq!(plan.rejected[0].row_number, 9);
        assert_eq!(plan.rejected[0].problems[0].column, Some(Column::Quantity));
        assert!(plan.rejected[0].problems[0]
            .reason
            .contains("already has SKU LAMP with quantity 2"));
        assert!(plan.new_lines.is_empty());
    }

    #[test]
    fn an_order_imported_with_another_date_rejects_the_row() {
        let mut existing = known_order(&[]);
        existing.placed_at = "2026-01-01T00:00:00Z".parse().unwrap();
        let plan = BatchPlan::build(
            vec![row(2, "NRB-1", "LAMP", 1, "1")],
            HashMap::from([("NRB-1".to_owned(), existing)]),
        );
        assert_eq!(plan.rejected[0].problems[0].column, Some(Column::OrderDate));
        assert!(plan.rejected[0].problems[0]
            .reason
            .contains("imported earlier"));
    }

    #[test]
    fn the_customer_region_follows_their_latest_order() {
        let mut early = row(2, "NRB-1", "LAMP", 1, "1");
        early.order.placed_at = OrderDate::parse("2026-03-01").unwrap();
        early.region = Some("Mombasa".into());
        let late = row(3, "NRB-2", "LAMP", 1, "1");
        let mut earliest = row(4, "NRB-3", "LAMP", 1, "1");
        earliest.order.placed_at = OrderDate::parse("2026-02-01").unwrap();
        earliest.region = Some("Kisumu".into());
        let plan = BatchPlan::build(vec![early, late, earliest], HashMap::new());
        assert_eq!(plan.customers.len(), 1);
        let visit = &plan.customers[0];
        assert_eq!(visit.region.as_deref(), Some("Nairobi"));
        assert_eq!(
            visit.first_order_at,
            OrderDate::parse("2026-02-01").unwrap().at()
        );
        assert_eq!(
            visit.last_order_at,
            OrderDate::parse("2026-03-02T14:05:00+03:00").unwrap().at()
        );
    }
}
