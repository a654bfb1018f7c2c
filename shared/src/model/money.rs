//! Money: an exact decimal amount with its ISO 4217 currency. Never a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

/// A currency code that is not three ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("currency must be a three-letter ISO 4217 code, got {0:?}")]
pub struct InvalidCurrency(pub String);

impl Currency {
    /// Canadian dollars, the seller's home currency.
    pub const CAD: Currency = Currency(*b"CAD");
    /// US dollars.
    pub const USD: Currency = Currency(*b"USD");

    /// Parses a code, accepting any case and surrounding spaces (`" cad"` → `CAD`).
    pub fn parse(raw: &str) -> Result<Self, InvalidCurrency> {
        let trimmed = raw.trim();
        match trimmed.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|ch| ch.is_ascii_alphabetic()) => Ok(Currency([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ])),
            _ => Err(InvalidCurrency(raw.to_owned())),
        }
    }

    /// How many decimals an amount in this currency may have: 2 for most, 0 for the
    /// yen and the won, 3 for the dinars of Bahrain, Iraq, Jordan, Kuwait, Libya and
    /// Tunisia and the Omani rial (ISO 4217 minor units).
    pub fn minor_units(&self) -> u32 {
        match &self.0 {
            b"JPY" | b"KRW" | b"CLP" | b"ISK" | b"VND" | b"XAF" | b"XOF" | b"PYG" | b"UGX" => 0,
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            _ => 2,
        }
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // Only ASCII letters are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}

impl FromStr for Currency {
    type Err = InvalidCurrency;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Currency::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// An amount that is not money as sellerops accepts it. Amounts are never rounded or
/// reinterpreted to make them fit: the input is refused, naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAmount {
    /// Not a plain decimal: exponents (`1e3`), thousands separators, currency signs,
    /// words.
    #[error("must be a plain decimal such as 19.99, got {0:?}")]
    NotPlain(String),
    /// More decimals than the currency has (`19.999` dollars).
    #[error("{amount} has more decimals than {currency} allows ({allowed})")]
    TooPrecise {
        /// The amount as given.
        amount: Decimal,
        /// Its currency.
        currency: Currency,
        /// The currency's minor units.
        allowed: u32,
    },
}

/// Reads a plain decimal: an optional sign, digits, and optionally a point and more
/// digits (`1500`, `-2.5`, `19.990`). Anything else, exponents included, is refused:
/// `1e5` as a price is far more likely a spreadsheet's mangling than a price.
pub fn parse_plain_amount(text: &str) -> Result<Decimal, InvalidAmount> {
    let trimmed = text.trim();
    let unsigned = trimmed.strip_prefix(['-', '+']).unwrap_or(trimmed);
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let plain = match unsigned.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(unsigned),
    };
    if !plain {
        return Err(InvalidAmount::NotPlain(text.to_owned()));
    }
    Decimal::from_str_exact(trimmed).map_err(|_| InvalidAmount::NotPlain(text.to_owned()))
}

/// An amount of money in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The exact amount; serialised as a string so no JSON reader turns it into a float.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// The currency the amount is in.
    pub currency: Currency,
}

/// Arithmetic across two currencies, which has no meaning without an exchange rate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot combine amounts in {left} and {right}")]
pub struct CurrencyMismatch {
    /// The currency of the left-hand amount.
    pub left: Currency,
    /// The currency of the right-hand amount.
    pub right: Currency,
}

impl Money {
    /// An amount in a currency.
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// An amount in a currency, refused when it has more (non-zero) decimals than the
    /// currency has: `19.990` CAD is 19.99, `19.999` CAD is not money.
    pub fn exact(amount: Decimal, currency: Currency) -> Result<Self, InvalidAmount> {
        let allowed = currency.minor_units();
        if amount.normalize().scale() > allowed {
            return Err(InvalidAmount::TooPrecise {
                amount,
                currency,
                allowed,
            });
        }
        Ok(Self::new(amount, currency))
    }

    /// Zero in a currency, the start of a sum.
    pub fn zero(currency: Currency) -> Self {
        Self::new(Decimal::ZERO, currency)
    }

    /// The sum of two amounts in the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, CurrencyMismatch> {
        if self.currency != other.currency {
            return Err(CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            });
        }
        Ok(Money::new(self.amount + other.amount, self.currency))
    }

    /// A unit price times a quantity: a line total.
    pub fn times(self, quantity: u32) -> Money {
        Money::new(self.amount * Decimal::from(quantity), self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::prelude::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn currency_codes_are_normalised_to_upper_case() {
        assert_eq!(Currency::parse(" cad ").unwrap(), Currency::CAD);
        assert_eq!(Currency::parse("Usd").unwrap().code(), "USD");
    }

    #[test]
    fn anything_but_three_letters_is_not_a_currency() {
        for bad in ["", "CA", "CADD", "C4D", "$", "€€€"] {
            assert!(Currency::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn decimal_sums_are_exact() {
        let ten_cents = Money::new(dec("0.10"), Currency::CAD);
        let sum = (0..3).try_fold(Money::zero(Currency::CAD), |acc, _| {
            acc.checked_add(ten_cents)
        });
        assert_eq!(sum.unwrap().amount, dec("0.30"));
    }

    #[test]
    fn amounts_in_two_currencies_do_not_add() {
        let cad = Money::new(dec("1"), Currency::CAD);
        let usd = Money::new(dec("1"), Currency::USD);
        assert_eq!(
            cad.checked_add(usd),
            Err(CurrencyMismatch {
                left: Currency::CAD,
                right: Currency::USD
            })
        );
    }

    #[test]
    fn a_line_total_is_price_times_quantity() {
        let price = Money::new(dec("19.99"), Currency::CAD);
        assert_eq!(price.times(3).amount, dec("59.97"));
    }

    #[test]
    fn plain_decimals_are_amounts() {
        for (text, want) in [
            ("1500", "1500"),
            (" 19.99 ", "19.99"),
            ("-2.5", "-2.5"),
            ("+0.10", "0.10"),
        ] {
            assert_eq!(parse_plain_amount(text).unwrap(), dec(want), "{text:?}");
        }
    }

    #[test]
    fn exponents_separators_and_signs_are_not_amounts() {
        for text in [
            "1e3", "1E5", "1,500.00", "$19.99", "19.", ".5", "", "-", "NaN", "1.2.3", "٣",
        ] {
            assert_eq!(
                parse_plain_amount(text),
                Err(InvalidAmount::NotPlain(text.to_owned())),
                "{text:?} accepted"
            );
        }
    }

    #[test]
    fn an_amount_may_not_have_more_decimals_than_its_currency() {
        assert!(Money::exact(dec("19.990"), Currency::CAD).is_ok());
        let err = Money::exact(dec("19.999"), Currency::CAD).unwrap_err();
        assert_eq!(
            err.to_string(),
            "19.999 has more decimals than CAD allows (2)"
        );
        assert!(Money::exact(dec("1500.5"), Currency::parse("JPY").unwrap()).is_err());
        assert!(Money::exact(dec("1.125"), Currency::parse("KWD").unwrap()).is_ok());
    }

    #[test]
    fn money_serialises_its_amount_as_a_string() {
        let json = serde_json::to_string(&Money::new(dec("12.50"), Currency::CAD)).unwrap();
        assert_eq!(json, r#"{"amount":"12.50","currency":"CAD"}"#);
        let back: Money = serde_json::from_str(&json).unwrap();
        assert_eq!(back.amount, dec("12.50"));
    }
}
