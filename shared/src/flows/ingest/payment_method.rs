//! Payment methods as order files spell them, normalised to the `sales.payment_method` domain.

use std::fmt;

/// How an order was paid: the values of the `sales.payment_method` domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentMethod {
    /// Safaricom M-Pesa mobile money.
    Mpesa,
    /// Paystack (cards and transfers in Nigeria, Ghana, Kenya…).
    Paystack,
    /// A credit or debit card taken directly.
    Card,
    BankTransfer,
    /// Anything else, but only when the file says `other`.
    Other,
}

/// A payment method the importer does not know. Quotes the value, which is never an
/// e-mail address (cells holding an `@` are withheld by the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown payment method {0:?}: expected M-Pesa, Paystack, card, bank transfer or other")]
pub struct UnknownPaymentMethod(pub String);

impl PaymentMethod {
    /// Parses a method however a file spells it: case, spaces, hyphens and underscores
    /// do not matter (`M-Pesa`, `MPESA`, `mpesa` → [`PaymentMethod::Mpesa`];
    /// `Bank Transfer`, `bank_transfer` → [`PaymentMethod::BankTransfer`]). An unknown
    /// value is an error, never silently `other`.
    pub fn parse(raw: &str) -> Result<Self, UnknownPaymentMethod> {
        let folded: String = raw
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        match folded.as_str() {
            "mpesa" | "lipanampesa" => Ok(Self::Mpesa),
            "paystack" => Ok(Self::Paystack),
            "card" | "creditcard" | "debitcard" => Ok(Self::Card),
            "banktransfer" | "bank" => Ok(Self::BankTransfer),
            "other" => Ok(Self::Other),
            _ => Err(UnknownPaymentMethod(raw.trim().to_owned())),
        }
    }

    /// The value stored in `sales.payment_method` columns.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mpesa => "mpesa",
            Self::Paystack => "paystack",
            Self::Card => "card",
            Self::BankTransfer => "bank_transfer",
            Self::Other => "other",
        }
    }

    /// Reads a stored value back.
    pub(crate) fn from_stored(value: &str) -> Option<Self> {
        match value {
            "mpesa" => Some(Self::Mpesa),
            "paystack" => Some(Self::Paystack),
            "card" => Some(Self::Card),
            "bank_transfer" => Some(Self::BankTransfer),
            "other" => Some(Self::Other),
            _ => None,
        }
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_m_pesa_is_mpesa() {
        for raw in [
            "M-Pesa",
            "MPESA",
            "mpesa",
            " m pesa ",
            "M_PESA",
            "Lipa na M-Pesa",
        ] {
            assert_eq!(PaymentMethod::parse(raw), Ok(PaymentMethod::Mpesa), "{raw}");
        }
    }

    #[test]
    fn the_other_methods_are_recognised_in_any_case() {
        assert_eq!(
            PaymentMethod::parse("Paystack"),
            Ok(PaymentMethod::Paystack)
        );
        assert_eq!(PaymentMethod::parse("CARD"), Ok(PaymentMethod::Card));
        assert_eq!(PaymentMethod::parse("Credit Card"), Ok(PaymentMethod::Card));
        assert_eq!(
            PaymentMethod::parse("Bank Transfer"),
            Ok(PaymentMethod::BankTransfer)
        );
        assert_eq!(
            PaymentMethod::parse("bank_transfer"),
            Ok(PaymentMethod::BankTransfer)
        );
        assert_eq!(PaymentMethod::parse("Other"), Ok(PaymentMethod::Other));
    }

    #[test]
    fn an_unknown_or_empty_method_is_an_error_not_other() {
        for raw in ["bitcoin", "", "  ", "cash on delivery"] {
            assert!(PaymentMethod::parse(raw).is_err(), "{raw:?}");
        }
        let err = PaymentMethod::parse(" Bitcoin ").unwrap_err();
        assert!(err.to_string().contains("\"Bitcoin\""), "{err}");
    }

    #[test]
    fn stored_values_round_trip() {
        for method in [
            PaymentMethod::Mpesa,
            PaymentMethod::Paystack,
            PaymentMethod::Card,
            PaymentMethod::BankTransfer,
            PaymentMethod::Other,
        ] {
            assert_eq!(PaymentMethod::from_stored(method.as_str()), Some(method));
        }
    }
}
