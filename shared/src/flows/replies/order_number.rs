//! Best Buy order numbers as customers write them, matched to the orders we hold.
//!
//! A Mirakl order id on Best Buy is the commercial order's digits and a logistic
//! suffix: `201934572-A`. Customers write it with or without the suffix, sometimes
//! without its leading zeros (`0201934572-A` and `201934572` name the same order), in
//! lower case or after a `#`. [`OrderNumber`] keeps the two parts apart so that
//! comparing them is exact: the digits without leading zeros must be equal, and a
//! suffix, when the customer wrote one, must be the order's.

/// An order number reduced to what identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderNumber {
    /// The digits (or, for an id that is not digits, the id itself, upper-cased),
    /// without leading zeros.
    base: String,
    /// The logistic suffix (`A`, `B`…), upper-cased, when written.
    suffix: Option<String>,
}

impl OrderNumber {
    /// Reads an order number; `None` for text that holds no id at all.
    pub fn parse(text: &str) -> Option<Self> {
        let cleaned = text
            .trim()
            .trim_start_matches('#')
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_uppercase();
        if cleaned.is_empty() {
            return None;
        }
        let (base, suffix) = match cleaned.rsplit_once('-') {
            Some((base, suffix))
                if !suffix.is_empty()
                    && suffix.len() <= 2
                    && suffix.chars().all(|c| c.is_ascii_alphabetic()) =>
            {
                (base.to_owned(), Some(suffix.to_owned()))
            }
            _ => (cleaned, None),
        };
        let base = if base.chars().all(|c| c.is_ascii_digit()) {
            let digits = base.trim_start_matches('0');
            if digits.is_empty() {
                return None;
            }
            digits.to_owned()
        } else {
            base
        };
        Some(Self { base, suffix })
    }

    /// Whether the customer's number (`self`) names the order whose Mirakl id is
    /// `order_id`: the same digits, and the same suffix when the customer wrote one.
    pub fn names(&self, order_id: &str) -> bool {
        let Some(order) = Self::parse(order_id) else {
            return false;
        };
        self.base == order.base
            && match (&self.suffix, &order.suffix) {
                (Some(written), Some(actual)) => written == actual,
                (Some(_), None) => false,
                (None, _) => true,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(written: &str, order: &str) -> bool {
        OrderNumber::parse(written).is_some_and(|number| number.names(order))
    }

    #[test]
    fn the_suffix_and_leading_zeros_may_be_left_out() {
        for written in [
            "201934572-A",
            "201934572",
            "0201934572-A",
            "00201934572",
            "#201934572-a",
            " 201934572-A. ",
        ] {
            assert!(names(written, "201934572-A"), "{written}");
        }
        assert!(names("201934572-A", "0201934572-A"));
    }

    #[test]
    fn another_number_or_suffix_is_another_order() {
        assert!(!names("201934573-A", "201934572-A"));
        assert!(!names("201934572-B", "201934572-A"));
        assert!(!names("20193457", "201934572-A"));
        assert!(!names("2019345720", "201934572-A"));
        assert!(!names("201934572-A", "201934572"));
    }

    #[test]
    fn ids_that_are_not_digits_compare_whole() {
        assert!(names("bby-20260302-0001-a", "BBY-20260302-0001-A"));
        assert!(names("BBY-20260302-0001", "BBY-20260302-0001-A"));
        assert!(!names("BBY-20260302-0002-A", "BBY-20260302-0001-A"));
    }

    #[test]
    fn text_without_an_id_is_no_number() {
        assert_eq!(OrderNumber::parse(" # "), None);
        assert_eq!(OrderNumber::parse("000"), None);
    }
}
