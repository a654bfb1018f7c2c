//! One row of an order file: one line of one order, parsed into typed values, or
//! rejected with a reason per bad cell.
//!
//! Parsing never fails the file: a bad or implausible date, a quantity that is not a
//! positive whole number, a price that is negative, not a plain decimal or more precise
//! than its currency, an unknown payment method, an empty SKU or a cell the database
//! cannot store (a NUL byte) rejects the row only. Money is never rounded. The
//! rejected row keeps a copy of its cells for the errors table, with the e-mail column
//! (and any other cell holding an `@`) blanked, since plain addresses are never stored,
//! and a NUL byte written as `\0`.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SubsecRound, Utc};
use csv_async::StringRecord;
use rust_decimal::Decimal;

use super::columns::{Column, ColumnMap};
use super::payment_method::PaymentMethod;
use crate::model::customer_email::{CustomerEmail, EmailHash, EmailHasher, EmailPepper};
use crate::model::money::{parse_plain_amount, Currency, Money};
use crate::model::order_time::check_order_time;
use crate::model::personal_data::holds_at_sign;

/// Where a row starts in its file: the line number a text editor shows (the header is
/// line 1).
pub type RowNumber = i32;

/// The largest amount a `numeric(14,2)` column holds.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(276_447_231, 23_283, 0, false, 2); // 999_999_999_999.99

/// What is written in place of a withheld cell.
pub const WITHHELD: &str = "[withheld]";

/// The seller's order reference: rows sharing it are lines of one order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderRef(String);

impl OrderRef {
    /// A non-empty reference, trimmed.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            Err("order_ref is empty".into())
        } else {
            Ok(Self(trimmed.to_owned()))
        }
    }

    /// The reference as the file gives it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Shown in error messages: withheld when it might be an e-mail address.
impl fmt::Display for OrderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(displayable(&self.0))
    }
}

/// A stock-keeping unit: the product of an order line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sku(String);

impl Sku {
    /// A non-empty SKU, trimmed.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            Err("sku is empty".into())
        } else {
            Ok(Self(trimmed.to_owned()))
        }
    }

    /// The SKU as the file gives it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Shown in error messages: withheld when it might be an e-mail address.
impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(displayable(&self.0))
    }
}

fn displayable(value: &str) -> &str {
    if value.contains('@') {
        "(withheld)"
    } else {
        value
    }
}

/// Units of a line: a whole number, at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quantity(i32);

impl Quantity {
    /// Parses a whole number of at least 1.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("quantity is empty".into());
        }
        match trimmed.parse::<i64>() {
            Ok(n) if n < 1 => Err(format!(
                "quantity must be at least 1, got {}",
                shown(trimmed)
            )),
            Ok(n) => i32::try_from(n)
                .map(Self)
                .map_err(|_| format!("quantity {} is too large", shown(trimmed))),
            Err(_) => Err(format!(
                "quantity must be a whole number, got {}",
                shown(trimmed)
            )),
        }
    }

    /// The number of units.
    pub fn get(self) -> i32 {
        self.0
    }
}

/// The decimals the database's money columns (`numeric(14,2)`) keep: an amount with
/// more would be rounded on the way in, so it is refused instead, even in a currency
/// that has three (the dinars).
const STORED_DECIMALS: u32 = 2;

/// The price of one unit: a plain decimal, not negative, with no more decimals than
/// its currency has, small enough for the database's money columns. Never rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnitPrice(Decimal);

impl UnitPrice {
    /// Parses a plain decimal (`1500`, `1500.5`, `1500.50`) in `currency`; no exponent,
    /// currency signs or thousands separators, and no more decimals than the currency's
    /// minor units (`19.999` is not a price in dollars, `1500.5` not one in yen).
    pub fn parse(raw: &str, currency: Currency) -> Result<Self, String> {
        let price = Self::parse_plain(raw)?;
        Money::exact(price, currency).map_err(|err| format!("unit_price {err}"))?;
        if price.normalize().scale() > STORED_DECIMALS {
            return Err(format!(
                "unit_price {price} has more than the {STORED_DECIMALS} decimals the \
                 database keeps"
            ));
        }
        if price > MAX_AMOUNT {
            return Err(format!("unit_price {} is too large", shown(raw.trim())));
        }
        Ok(Self(price.normalize().abs()))
    }

    /// The checks that need no currency: a plain decimal, not negative.
    fn parse_plain(raw: &str) -> Result<Decimal, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("unit_price is empty".into());
        }
        let price = parse_plain_amount(trimmed).map_err(|_| {
            format!(
                "unit_price must be a plain decimal such as 19.99, got {}",
                shown(trimmed)
            )
        })?;
        if price.is_sign_negative() && !price.is_zero() {
            return Err(format!(
                "unit_price must not be negative, got {}",
                shown(trimmed)
            ));
        }
        Ok(price)
    }

    /// The amount.
    pub fn amount(self) -> Decimal {
        self.0
    }
}

/// When an order was placed, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderDate(DateTime<Utc>);

impl OrderDate {
    /// Parses an ISO 8601 date-time with a UTC offset (`2026-03-02T14:05:00+03:00`,
    /// `2026-03-02 11:05:00Z`, `2026-03-02T14:05+0300`) or a plain date (`2026-03-02`,
    /// taken as midnight UTC). A time without an offset is refused: it could be any
    /// of 24 instants. Kept to the microsecond, as PostgreSQL stores it, so that the
    /// same row read again compares equal to what was stored.
    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::parse_exact(raw).map(|date| Self(date.0.trunc_subsecs(6)))
    }

    fn parse_exact(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("order_date is empty".into());
        }
        if let Ok(at) = DateTime::parse_from_rfc3339(trimmed) {
            return Ok(Self(at.with_timezone(&Utc)));
        }
        const WITH_OFFSET: [&str; 4] = [
            "%Y-%m-%dT%H:%M:%S%.f%z",
            "%Y-%m-%d %H:%M:%S%.f%z",
            "%Y-%m-%dT%H:%M%z",
            "%Y-%m-%d %H:%M%z",
        ];
        for format in WITH_OFFSET {
            if let Ok(at) = DateTime::parse_from_str(trimmed, format) {
                return Ok(Self(at.with_timezone(&Utc)));
            }
        }
        if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
            return Ok(Self(date.and_time(chrono::NaiveTime::MIN).and_utc()));
        }
        let without_offset = [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
        ]
        .iter()
        .any(|format| NaiveDateTime::parse_from_str(trimmed, format).is_ok());
        if without_offset {
            Err(format!(
                "order_date {} has a time but no UTC offset (add Z or +03:00)",
                shown(trimmed)
            ))
        } else {
            Err(format!(
                "order_date {} is not an ISO 8601 date-time with offset or a date",
                shown(trimmed)
            ))
        }
    }

    /// An instant read back from the database.
    pub(crate) fn from_stored(at: DateTime<Utc>) -> Self {
        Self(at)
    }

    /// The instant, in UTC.
    pub fn at(self) -> DateTime<Utc> {
        self.0
    }

    /// The UTC day the order counts towards in the daily aggregates.
    pub fn utc_day(self) -> NaiveDate {
        self.0.date_naive()
    }
}

/// What every line of one order must agree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderHeader {
    /// The order's reference.
    pub order_ref: OrderRef,
    /// When it was placed.
    pub placed_at: OrderDate,
    /// Who placed it, as the keyed hash of their e-mail.
    pub customer: EmailHash,
    /// The currency of its prices.
    pub currency: Currency,
    /// How it was paid.
    pub payment_method: PaymentMethod,
}

/// One line of an order as a row gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFileLine {
    /// The product.
    pub sku: Sku,
    /// The product's name, when the row gives one.
    pub product_name: Option<String>,
    /// The product's category, when the row gives one.
    pub category: Option<String>,
    /// Units ordered.
    pub quantity: Quantity,
    /// Price of one unit.
    pub unit_price: UnitPrice,
}

impl OrderFileLine {
    /// Quantity times unit price.
    pub fn line_total(&self) -> Decimal {
        self.unit_price.amount() * Decimal::from(self.quantity.get())
    }
}

/// A row that parsed: one line of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFileRow {
    /// Where the row starts in the file.
    pub row_number: RowNumber,
    /// The order the line belongs to.
    pub order: OrderHeader,
    /// The customer's region, when the row gives one.
    pub region: Option<String>,
    /// The line itself.
    pub line: OrderFileLine,
    /// The row's cells with e-mail addresses withheld, kept in case the row is later
    /// found to contradict its order.
    pub redacted_cells: String,
}

/// One thing wrong with a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The column at fault, when one is.
    pub column: Option<Column>,
    /// Why, in words a person fixing the file understands. Never an e-mail address.
    pub reason: String,
}

/// A row that cannot be imported, with everything the errors table records about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// Where the row starts in the file.
    pub row_number: RowNumber,
    /// Every problem found (at least one).
    pub problems: Vec<RowProblem>,
    /// The row's cells as CSV, e-mail addresses withheld.
    pub redacted_cells: String,
}

impl RejectedRow {
    /// Rejects a parsed row for one reason found later (it contradicts its order).
    pub fn of(row: &OrderFileRow, column: Option<Column>, reason: String) -> Self {
        Self {
            row_number: row.row_number,
            problems: vec![RowProblem { column, reason }],
            redacted_cells: row.redacted_cells.clone(),
        }
    }
}

/// Everything parsing needs besides the row: where the columns are, the default
/// currency and the e-mail pepper. Remembers the last address it hashed, since an
/// order's rows usually follow each other.
pub struct RowParser {
    columns: ColumnMap,
    default_currency: Currency,
    hasher: EmailHasher,
    last_email: Option<(String, EmailHash)>,
    received: DateTime<Utc>,
}

impl fmt::Debug for RowParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowParser")
            .field("columns", &self.columns)
            .field("default_currency", &self.default_currency)
            .finish_non_exhaustive()
    }
}

impl RowParser {
    /// A parser for rows laid out as `columns` describes, of a file received at
    /// `received` (an order dated more than a day after it is implausible).
    pub fn new(
        columns: ColumnMap,
        default_currency: Currency,
        pepper: EmailPepper,
        received: DateTime<Utc>,
    ) -> Self {
        Self {
            columns,
            default_currency,
            hasher: EmailHasher::new(&pepper),
            last_email: None,
            received,
        }
    }

    /// Where the columns are.
    pub fn columns(&self) -> &ColumnMap {
        &self.columns
    }

    /// Parses one data row.
    pub fn parse(
        &mut self,
        row_number: RowNumber,
        record: &StringRecord,
    ) -> Result<OrderFileRow, RejectedRow> {
        let mut problems = unstorable_cells(record, &self.columns);
        let cell = |column| self.columns.cell(record, column);
        let p = &mut problems;

        let order_ref = check(p, Column::OrderRef, OrderRef::parse(cell(Column::OrderRef)));
        let received = self.received;
        let placed_at = check(
            p,
            Column::OrderDate,
            OrderDate::parse(cell(Column::OrderDate)).and_then(|date| {
                check_order_time(date.at(), received)
                    .map(|_| date)
                    .map_err(|err| format!("order_date {err}"))
            }),
        );
        let customer = check(
            p,
            Column::CustomerEmail,
            hash_email(
                &mut self.last_email,
                &self.hasher,
                cell(Column::CustomerEmail),
            ),
        );
        let sku = check(p, Column::Sku, Sku::parse(cell(Column::Sku)));
        let quantity = check(p, Column::Quantity, Quantity::parse(cell(Column::Quantity)));
        let currency_cell = cell(Column::Currency);
        let currency = if currency_cell.is_empty() {
            Ok(self.default_currency)
        } else {
            Currency::parse(currency_cell)
                .map_err(|_| format!("currency {} is not an ISO 4217 code", shown(currency_cell)))
        };
        let unit_price = check(
            p,
            Column::UnitPrice,
            match &currency {
                Ok(currency) => UnitPrice::parse(cell(Column::UnitPrice), *currency),
                // Its decimals are checked once the currency is known.
                Err(_) => UnitPrice::parse_plain(cell(Column::UnitPrice)).map(UnitPrice),
            },
        );
        let method_cell = cell(Column::PaymentMethod);
        let payment_method = check(
            p,
            Column::PaymentMethod,
            PaymentMethod::parse(method_cell).map_err(|err| {
                if method_cell.contains('@') {
                    "unknown payment method (value withheld)".to_owned()
                } else if method_cell.is_empty() {
                    "payment_method is empty".to_owned()
                } else {
                    err.to_string()
                }
            }),
        );
        let currency = check(p, Column::Currency, currency);
        let line_total = match (quantity, unit_price) {
            (Some(quantity), Some(price)) => {
                let total = price.amount() * Decimal::from(quantity.get());
                check(
                    p,
                    Column::UnitPrice,
                    if total > MAX_AMOUNT {
                        Err(format!("line total {total} is too large"))
                    } else {
                        Ok(total)
                    },
                )
            }
            _ => None,
        };

        let redacted_cells = redacted_csv(record, self.columns.position(Column::CustomerEmail));
        match (
            order_ref,
            placed_at,
            customer,
            sku,
            quantity,
            unit_price,
            payment_method,
            currency,
            line_total,
        ) {
            (
                Some(order_ref),
                Some(placed_at),
                Some(customer),
                Some(sku),
                Some(quantity),
                Some(unit_price),
                Some(payment_method),
                Some(currency),
                Some(_),
            ) if problems.is_empty() => Ok(OrderFileRow {
                row_number,
                order: OrderHeader {
                    order_ref,
                    placed_at,
                    customer,
                    currency,
                    payment_method,
                },
                region: optional(cell(Column::CustomerRegion)),
                line: OrderFileLine {
                    sku,
                    product_name: optional(cell(Column::ProductName)),
                    category: optional(cell(Column::Category)),
                    quantity,
                    unit_price,
                },
                redacted_cells,
            }),
            _ => Err(RejectedRow {
                row_number,
                problems,
                redacted_cells,
            }),
        }
    }
}

/// The cells PostgreSQL would refuse to store: a NUL byte has no place in a `text`
/// column, so a row holding one, in any column, is a bad row rather than a failed
/// batch. (Every other value reaching the database is checked by its own parser: the
/// text is UTF-8, amounts and quantities fit their columns, dates their range.)
fn unstorable_cells(record: &StringRecord, columns: &ColumnMap) -> Vec<RowProblem> {
    record
        .iter()
        .enumerate()
        .filter(|(_, cell)| cell.contains('\0'))
        .map(|(index, _)| RowProblem {
            column: columns.column_at(index),
            reason: format!(
                "{} holds a NUL byte (\\0), which cannot be stored",
                columns.name_at(index)
            ),
        })
        .collect()
}

/// The value of a parsed cell, or `None` with its problem noted.
fn check<T>(
    problems: &mut Vec<RowProblem>,
    column: Column,
    parsed: Result<T, String>,
) -> Option<T> {
    match parsed {
        Ok(value) => Some(value),
        Err(reason) => {
            problems.push(RowProblem {
                column: Some(column),
                reason,
            });
            None
        }
    }
}

fn hash_email(
    last: &mut Option<(String, EmailHash)>,
    hasher: &EmailHasher,
    raw: &str,
) -> Result<EmailHash, String> {
    if let Some((address, hash)) = last {
        if address == raw {
            return Ok(*hash);
        }
    }
    let hash = hasher.hash(&CustomerEmail::parse(raw).map_err(|err| err.to_string())?);
    *last = Some((raw.to_owned(), hash));
    Ok(hash)
}

fn optional(cell: &str) -> Option<String> {
    (!cell.is_empty()).then(|| cell.to_owned())
}

/// A cell's value for an error message: quoted, shortened, and withheld when it might
/// be an e-mail address.
pub fn shown(value: &str) -> String {
    const MAX_CHARS: usize = 40;
    if value.contains('@') {
        return "(value withheld)".to_owned();
    }
    if value.chars().count() > MAX_CHARS {
        let head: String = value.chars().take(MAX_CHARS).collect();
        format!("{head:?}…")
    } else {
        format!("{value:?}")
    }
}

/// The row as one CSV line, with the e-mail column and every cell holding an at sign
/// (`@` or its full-width forms) replaced by [`WITHHELD`].
fn redacted_csv(record: &StringRecord, email_position: Option<usize>) -> String {
    let mut line = String::new();
    for (index, cell) in record.iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        let escaped;
        let cell = if Some(index) == email_position || holds_at_sign(cell) {
            WITHHELD
        } else if cell.contains('\0') {
            escaped = cell.replace('\0', "\\0");
            &escaped
        } else {
            cell
        };
        if cell.contains([',', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&cell.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(cell);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;
    use std::str::FromStr;

    const HEADER: [&str; 11] = [
        "order_ref",
        "order_date",
        "customer_email",
        "customer_region",
        "sku",
        "product_name",
        "category",
        "quantity",
        "unit_price",
        "payment_method",
        "currency",
    ];

    fn parser() -> RowParser {
        let columns = ColumnMap::from_header(&StringRecord::from(HEADER.to_vec())).unwrap();
        RowParser::new(
            columns,
            Currency::parse("KES").unwrap(),
            EmailPepper::new(SecretString::from("pepper-for-the-unit-tests")),
            "2026-03-04T00:00:00Z".parse().unwrap(),
        )
    }

    fn row(cells: [&str; 11]) -> StringRecord {
        StringRecord::from(cells.to_vec())
    }

    const GOOD: [&str; 11] = [
        "NRB-1001",
        "2026-03-02T14:05:00+03:00",
        "Wanjiku.Kamau@Example.co.ke",
        "Nairobi",
        "SOLAR-LAMP-01",
        "Solar lamp",
        "Lighting",
        "2",
        "1500.50",
        "M-Pesa",
        "",
    ];

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn an_address_typed_into_any_cell_is_withheld_from_the_stored_row() {
        let mut cells = GOOD;
        cells[5] = "Lamp for wanjiku＠example.co.ke";
        cells[3] = "ask jo@example.com";
        let parsed = parser().parse(2, &row(cells)).unwrap();
        assert!(
            !parsed.redacted_cells.contains("example"),
            "{}",
            parsed.redacted_cells
        );
        assert_eq!(parsed.redacted_cells.matches(WITHHELD).count(), 3);
    }

    #[test]
    fn a_good_row_becomes_a_typed_order_line() {
        let parsed = parser().parse(2, &row(GOOD)).unwrap();
        assert_eq!(parsed.order.order_ref.as_str(), "NRB-1001");
        assert_eq!(
            parsed.order.placed_at.at(),
            "2026-03-02T11:05:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(parsed.order.payment_method, PaymentMethod::Mpesa);
        assert_eq!(parsed.order.currency.code(), "KES", "default currency");
        assert_eq!(parsed.region.as_deref(), Some("Nairobi"));
        assert_eq!(parsed.line.quantity.get(), 2);
        assert_eq!(parsed.line.line_total(), dec("3001.00"));
        assert!(!parsed.redacted_cells.contains('@'));
        assert!(parsed.redacted_cells.contains(WITHHELD));
    }

    #[test]
    fn every_bad_cell_of_a_row_is_named() {
        let mut cells = GOOD;
        cells[1] = "02/03/2026";
        cells[4] = "  ";
        cells[7] = "-1";
        cells[8] = "12,50";
        cells[9] = "bitcoin";
        let rejected = parser().parse(7, &row(cells)).unwrap_err();
        let columns: Vec<_> = rejected
            .problems
            .iter()
            .map(|p| p.column.map(Column::name))
            .collect();
        assert_eq!(
            columns,
            [
                Some("order_date"),
                Some("sku"),
                Some("quantity"),
                Some("unit_price"),
                Some("payment_method")
            ]
        );
        assert_eq!(rejected.row_number, 7);
        assert!(rejected.problems[2].reason.contains("at least 1"));
    }

    #[test]
    fn an_e_mail_never_reaches_a_rejected_row() {
        let mut cells = GOOD;
        cells[2] = "not-an-address";
        cells[3] = "jane@example.com";
        cells[7] = "x@y.z";
        let rejected = parser().parse(3, &row(cells)).unwrap_err();
        assert!(!rejected.redacted_cells.contains('@'));
        for problem in &rejected.problems {
            assert!(!problem.reason.contains("x@y.z"), "{}", problem.reason);
            assert!(
                !problem.reason.contains("not-an-address"),
                "{}",
                problem.reason
            );
        }
        assert!(!rejected.redacted_cells.contains("not-an-address"));
    }

    #[test]
    fn dates_with_offsets_and_plain_dates_are_accepted() {
        let utc = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let cases = [
            ("2026-03-02T14:05:00+03:00", "2026-03-02T11:05:00Z"),
            ("2026-03-02T11:05:00Z", "2026-03-02T11:05:00Z"),
            ("2026-03-02 11:05:00Z", "2026-03-02T11:05:00Z"),
            ("2026-03-02T14:05:00.250+03:00", "2026-03-02T11:05:00.250Z"),
            ("2026-03-02T14:05+0300", "2026-03-02T11:05:00Z"),
            ("2026-03-02", "2026-03-02T00:00:00Z"),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                OrderDate::parse(raw).map(OrderDate::at),
                Ok(utc(expected)),
                "{raw}"
            );
        }
    }

    #[test]
    fn times_are_kept_to_the_microsecond_as_postgres_stores_them() {
        let date = OrderDate::parse("2026-03-02T11:05:00.123456789Z").unwrap();
        assert_eq!(date.at().timestamp_subsec_nanos(), 123_456_000);
    }

    #[test]
    fn a_time_without_offset_or_a_foreign_format_is_refused() {
        assert!(OrderDate::parse("2026-03-02T14:05:00")
            .unwrap_err()
            .contains("no UTC offset"));
        for raw in ["02/03/2026", "2026-02-30", "yesterday", ""] {
            assert!(OrderDate::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn the_utc_day_of_a_late_evening_order_in_nairobi_is_the_same_day() {
        let date = OrderDate::parse("2026-03-02T23:30:00+03:00").unwrap();
        assert_eq!(date.utc_day(), NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        let date = OrderDate::parse("2026-03-03T01:30:00+03:00").unwrap();
        assert_eq!(date.utc_day(), NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
    }

    #[test]
    fn quantities_must_be_positive_whole_numbers() {
        assert_eq!(Quantity::parse(" 3 ").map(Quantity::get), Ok(3));
        for raw in ["0", "-2", "1.5", "two", "", "99999999999"] {
            assert!(Quantity::parse(raw).is_err(), "{raw}");
        }
    }

    fn price(raw: &str, currency: &str) -> Result<Decimal, String> {
        UnitPrice::parse(raw, Currency::parse(currency).unwrap()).map(UnitPrice::amount)
    }

    #[test]
    fn prices_are_exact_non_negative_plain_decimals() {
        assert_eq!(price("1500", "KES"), Ok(dec("1500")));
        assert_eq!(price("19.990", "KES"), Ok(dec("19.99")));
        assert_eq!(price("0", "KES"), Ok(Decimal::ZERO));
        assert_eq!(price("-0", "KES"), Ok(Decimal::ZERO));
        for raw in [
            "-1",
            "1.999",
            "KES 10",
            "1,000.00",
            "",
            "NaN",
            "1e3",
            "1E5",
            "1000000000000",
        ] {
            assert!(price(raw, "KES").is_err(), "{raw}");
        }
        assert!(price("1e3", "KES").unwrap_err().contains("plain decimal"));
    }

    #[test]
    fn a_price_has_no_more_decimals_than_its_currency_and_is_never_rounded() {
        assert_eq!(price("1500", "JPY"), Ok(dec("1500")));
        let err = price("1500.5", "JPY").unwrap_err();
        assert_eq!(
            err,
            "unit_price 1500.5 has more decimals than JPY allows (0)"
        );
        assert!(price("19.999", "CAD")
            .unwrap_err()
            .contains("CAD allows (2)"));
        let err = price("1.125", "KWD").unwrap_err();
        assert!(err.contains("decimals the database keeps"), "{err}");
        assert_eq!(price("1.120", "KWD"), Ok(dec("1.12")));
    }

    #[test]
    fn a_price_in_a_file_is_checked_against_the_row_currency() {
        let mut cells = GOOD;
        cells[8] = "1500.5";
        cells[10] = "JPY";
        let rejected = parser().parse(4, &row(cells)).unwrap_err();
        assert_eq!(rejected.problems[0].column, Some(Column::UnitPrice));
        assert!(rejected.problems[0].reason.contains("JPY"));
    }

    #[test]
    fn an_order_date_before_2000_or_more_than_a_day_after_the_import_is_a_bad_row() {
        for date in ["0001-01-01", "1999-12-31T23:59:59Z", "2026-03-05T00:00:01Z"] {
            let mut cells = GOOD;
            cells[1] = date;
            let rejected = parser().parse(5, &row(cells)).unwrap_err();
            assert_eq!(
                rejected.problems[0].column,
                Some(Column::OrderDate),
                "{date}"
            );
        }
        let mut cells = GOOD;
        cells[1] = "2026-03-05T00:00:00Z";
        assert!(
            parser().parse(5, &row(cells)).is_ok(),
            "a day ahead is allowed"
        );
    }

    #[test]
    fn a_nul_byte_in_any_cell_is_a_bad_row_naming_its_column() {
        let mut cells = GOOD;
        cells[5] = "Solar\0lamp";
        let rejected = parser().parse(9, &row(cells)).unwrap_err();
        assert_eq!(rejected.problems.len(), 1);
        assert_eq!(rejected.problems[0].column, Some(Column::ProductName));
        assert!(rejected.problems[0]
            .reason
            .contains("product_name holds a NUL byte"));
        assert!(!rejected.redacted_cells.contains('\0'));
        assert!(rejected.redacted_cells.contains("Solar\\0lamp"));

        let columns = ColumnMap::from_header(&StringRecord::from(
            HEADER.iter().copied().chain(["notes"]).collect::<Vec<_>>(),
        ))
        .unwrap();
        let mut parser = RowParser::new(
            columns,
            Currency::parse("KES").unwrap(),
            EmailPepper::new(SecretString::from("pepper-for-the-unit-tests")),
            "2026-03-04T00:00:00Z".parse().unwrap(),
        );
        let record = StringRecord::from(GOOD.iter().copied().chain(["gift\0"]).collect::<Vec<_>>());
        let rejected = parser.parse(10, &record).unwrap_err();
        assert_eq!(rejected.problems[0].column, None);
        assert!(rejected.problems[0].reason.contains("column \"notes\""));
    }

    #[test]
    fn the_amount_limit_is_that_of_numeric_14_2() {
        assert_eq!(MAX_AMOUNT, dec("999999999999.99"));
    }

    #[test]
    fn cells_with_commas_or_quotes_are_quoted_in_the_redacted_row() {
        let record = StringRecord::from(vec!["A-1", "Lamp, \"solar\"", "jane@example.com"]);
        assert_eq!(
            redacted_csv(&record, Some(2)),
            "A-1,\"Lamp, \"\"solar\"\"\",[withheld]"
        );
    }
}
