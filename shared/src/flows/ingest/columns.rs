//! The columns of an order file, found in its header row by name.
//!
//! Names are matched case-insensitively, ignoring surrounding spaces and a UTF-8 byte
//! order mark, in any order; columns the importer does not know are ignored.

use std::fmt;

use csv_async::StringRecord;

use super::order_file_row::shown;

/// A column the importer reads. Every one but [`Column::Currency`] must be in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// The seller's order reference; rows sharing it are lines of one order.
    OrderRef,
    /// When the order was placed: an ISO 8601 date-time with offset, or a date.
    OrderDate,
    /// The customer's e-mail address; only its keyed hash is kept.
    CustomerEmail,
    /// Where the customer is (county, state, province); may be blank.
    CustomerRegion,
    /// The stock-keeping unit of the line's product.
    Sku,
    /// The product's name; may be blank for a product already known.
    ProductName,
    /// The product's category; may be blank.
    Category,
    /// Units ordered: a whole number, at least 1.
    Quantity,
    /// Price of one unit: a plain decimal, not negative, with no more decimals than the
    /// row's currency has.
    UnitPrice,
    /// How the order was paid (see [`super::payment_method`]).
    PaymentMethod,
    /// ISO 4217 currency of the prices; optional, defaults from configuration.
    Currency,
}

impl Column {
    /// Every column, in the order the README documents them.
    pub const ALL: [Column; 11] = [
        Column::OrderRef,
        Column::OrderDate,
        Column::CustomerEmail,
        Column::CustomerRegion,
        Column::Sku,
        Column::ProductName,
        Column::Category,
        Column::Quantity,
        Column::UnitPrice,
        Column::PaymentMethod,
        Column::Currency,
    ];

    /// The column's name in an order file's header row.
    pub fn name(self) -> &'static str {
        match self {
            Column::OrderRef => "order_ref",
            Column::OrderDate => "order_date",
            Column::CustomerEmail => "customer_email",
            Column::CustomerRegion => "customer_region",
            Column::Sku => "sku",
            Column::ProductName => "product_name",
            Column::Category => "category",
            Column::Quantity => "quantity",
            Column::UnitPrice => "unit_price",
            Column::PaymentMethod => "payment_method",
            Column::Currency => "currency",
        }
    }

    /// Whether a file without this column is refused.
    pub fn is_required(self) -> bool {
        self != Column::Currency
    }

    fn slot(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A header the importer cannot work with: the whole file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Required columns are absent. Names every missing column.
    #[error("order file is missing required columns: {}", join(.0))]
    MissingColumns(Vec<&'static str>),
    /// A column appears twice, so it is unclear which cell to read.
    #[error("order file has the column {0} more than once")]
    DuplicateColumn(&'static str),
}

fn join(names: &[&'static str]) -> String {
    names.join(", ")
}

/// Where each known column sits in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    positions: [Option<usize>; Column::ALL.len()],
    /// The header's names, to name a column the importer does not read in a reason.
    header: Vec<String>,
}

impl ColumnMap {
    /// Reads the header row.
    pub fn from_header(header: &StringRecord) -> Result<Self, HeaderError> {
        let mut positions = [None; Column::ALL.len()];
        for (index, raw) in header.iter().enumerate() {
            let name = raw.trim_start_matches('\u{feff}').trim();
            let Some(column) = Column::ALL
                .into_iter()
                .find(|column| column.name().eq_ignore_ascii_case(name))
            else {
                continue;
            };
            if positions[column.slot()].replace(index).is_some() {
                return Err(HeaderError::DuplicateColumn(column.name()));
            }
        }
        let missing: Vec<&'static str> = Column::ALL
            .into_iter()
            .filter(|column| column.is_required() && positions[column.slot()].is_none())
            .map(Column::name)
            .collect();
        if missing.is_empty() {
            let header = header.iter().map(str::to_owned).collect();
            Ok(Self { positions, header })
        } else {
            Err(HeaderError::MissingColumns(missing))
        }
    }

    /// The cell of `column` in `row`, trimmed; empty when the column is absent or the row
    /// is short.
    pub fn cell<'r>(&self, row: &'r StringRecord, column: Column) -> &'r str {
        self.positions[column.slot()]
            .and_then(|index| row.get(index))
            .map_or("", str::trim)
    }

    /// The column the importer reads at `index`, if any.
    pub fn column_at(&self, index: usize) -> Option<Column> {
        Column::ALL
            .into_iter()
            .find(|column| self.positions[column.slot()] == Some(index))
    }

    /// How a reason names the column at `index`: its name, or for a column the importer
    /// does not read, its header (quoted and shortened) or its position.
    pub fn name_at(&self, index: usize) -> String {
        match (self.column_at(index), self.header.get(index)) {
            (Some(column), _) => column.name().to_owned(),
            (None, Some(name)) => format!("column {}", shown(name.trim())),
            (None, None) => format!("column number {}", index + 1),
        }
    }

    /// The position of `column` in a row, when the header has it.
    pub fn position(&self, column: Column) -> Option<usize> {
        self.positions[column.slot()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> StringRecord {
        StringRecord::from(names.to_vec())
    }

    const SEED_ORDER: [&str; 10] = [
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
    ];

    #[test]
    fn columns_are_found_in_any_order_and_case_with_extra_columns_ignored() {
        let map = ColumnMap::from_header(&header(&[
            "Notes",
            " SKU ",
            "Quantity",
            "\u{feff}Order_Ref",
            "ORDER_DATE",
            "customer_email",
            "Customer_Region",
            "product_name",
            "category",
            "unit_price",
            "Payment_Method",
        ]))
        .unwrap();
        assert_eq!(map.position(Column::OrderRef), Some(3));
        assert_eq!(map.position(Column::Sku), Some(1));
        assert_eq!(map.position(Column::Currency), None);
        let row = StringRecord::from(vec!["gift", " ABC-1 ", "2"]);
        assert_eq!(map.cell(&row, Column::Sku), "ABC-1");
        assert_eq!(map.cell(&row, Column::Quantity), "2");
        assert_eq!(map.cell(&row, Column::UnitPrice), "", "short row");
    }

    #[test]
    fn a_missing_column_is_named_and_currency_is_optional() {
        let without: Vec<&str> = SEED_ORDER
            .iter()
            .copied()
            .filter(|name| !matches!(*name, "sku" | "quantity"))
            .collect();
        let err = ColumnMap::from_header(&header(&without)).unwrap_err();
        assert_eq!(err, HeaderError::MissingColumns(vec!["sku", "quantity"]));
        assert_eq!(
            err.to_string(),
            "order file is missing required columns: sku, quantity"
        );
        assert!(ColumnMap::from_header(&header(&SEED_ORDER)).is_ok());
    }

    #[test]
    fn a_column_given_twice_is_refused() {
        let mut names = SEED_ORDER.to_vec();
        names.push("SKU");
        assert_eq!(
            ColumnMap::from_header(&header(&names)),
            Err(HeaderError::DuplicateColumn("sku"))
        );
    }
}
