//! Customer emails and their keyed hashes.
//!
//! sellerops never stores a customer's email address. It stores
//! HMAC-SHA256(pepper, trimmed lower-cased address): the same customer gets the
//! same hash across files and channels, and without the pepper (a secret held in
//! Secrets Manager) the hash cannot be matched against a list of addresses.

use std::fmt;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// A customer's email address, normalised (trimmed, lower-cased) and checked for shape.
///
/// `Debug` hides the address, so it never reaches a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct CustomerEmail(String);

/// Why an address was refused. Never repeats the address itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEmail {
    /// Nothing but whitespace.
    #[error("customer email is empty")]
    Empty,
    /// Not `local@domain` with one `@`, or it has spaces inside.
    #[error("customer email is not a single local@domain address")]
    Malformed,
    /// Longer than an address can be (254 characters).
    #[error("customer email is longer than 254 characters")]
    TooLong,
}

const MAX_EMAIL_LEN: usize = 254;

impl CustomerEmail {
    /// Normalises and checks an address as it arrives from outside.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let normalised = raw.trim().to_lowercase();
        if normalised.is_empty() {
            return Err(InvalidEmail::Empty);
        }
        if normalised.len() > MAX_EMAIL_LEN {
            return Err(InvalidEmail::TooLong);
        }
        let mut parts = normalised.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(InvalidEmail::Malformed);
        };
        if local.is_empty() || domain.is_empty() || normalised.chars().any(char::is_whitespace) {
            return Err(InvalidEmail::Malformed);
        }
        Ok(Self(normalised))
    }

    /// The keyed hash of this address under `pepper`.
    pub fn hash(&self, pepper: &EmailPepper) -> EmailHash {
        let mut mac = Hmac::<Sha256>::new_from_slice(pepper.0.expose_secret().as_bytes())
            .expect("HMAC accepts a key of any length");
        mac.update(self.0.as_bytes());
        EmailHash(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for CustomerEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomerEmail(<redacted>)")
    }
}

/// Hashes many addresses under one pepper, keying the HMAC once rather than per address
/// (an order file hashes one address per order).
#[derive(Clone)]
pub struct EmailHasher(Hmac<Sha256>);

impl EmailHasher {
    /// A hasher keyed with `pepper`.
    pub fn new(pepper: &EmailPepper) -> Self {
        Self(
            Hmac::<Sha256>::new_from_slice(pepper.0.expose_secret().as_bytes())
                .expect("HMAC accepts a key of any length"),
        )
    }

    /// The keyed hash of `email`, equal to `email.hash(pepper)`.
    pub fn hash(&self, email: &CustomerEmail) -> EmailHash {
        let mut mac = self.0.clone();
        mac.update(email.0.as_bytes());
        EmailHash(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for EmailHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailHasher(<redacted>)")
    }
}

/// The secret key of the email hash (`EMAIL_HASH_PEPPER`).
#[derive(Clone)]
pub struct EmailPepper(SecretString);

impl EmailPepper {
    /// Wraps the configured pepper.
    pub fn new(secret: SecretString) -> Self {
        Self(secret)
    }
}

impl fmt::Debug for EmailPepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailPepper(<redacted>)")
    }
}

/// HMAC-SHA256 of a normalised customer email: what the database keeps (`bytea`, 32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EmailHash([u8; 32]);

impl EmailHash {
    /// The 32 bytes, as stored in `sales.customers.email_hash`.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A hash read back from `sales.customers.email_hash`; `None` unless 32 bytes.
    pub fn from_stored(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// Lower-case hex, for display and for matching in logs without the address.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for EmailHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailHash({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pepper(s: &str) -> EmailPepper {
        EmailPepper::new(SecretString::from(s.to_owned()))
    }

    #[test]
    fn case_and_surrounding_spaces_do_not_change_the_hash() {
        let pepper = pepper("pepper-one-for-the-tests");
        let a = CustomerEmail::parse("Jane.Doe@Example.COM")
            .unwrap()
            .hash(&pepper);
        let b = CustomerEmail::parse("  jane.doe@example.com\t")
            .unwrap()
            .hash(&pepper);
        assert_eq!(a, b);
    }

    #[test]
    fn a_keyed_hasher_gives_the_same_hash_as_the_address_itself() {
        let pepper = pepper("pepper-one-for-the-tests");
        let hasher = EmailHasher::new(&pepper);
        for address in ["jane@example.com", "john@example.com"] {
            let email = CustomerEmail::parse(address).unwrap();
            assert_eq!(hasher.hash(&email), email.hash(&pepper));
        }
    }

    #[test]
    fn another_pepper_gives_another_hash() {
        let email = CustomerEmail::parse("jane.doe@example.com").unwrap();
        assert_ne!(
            email.hash(&pepper("pepper-one-for-the-tests")),
            email.hash(&pepper("pepper-two-for-the-tests"))
        );
    }

    #[test]
    fn another_address_gives_another_hash() {
        let pepper = pepper("pepper-one-for-the-tests");
        assert_ne!(
            CustomerEmail::parse("jane@example.com")
                .unwrap()
                .hash(&pepper),
            CustomerEmail::parse("john@example.com")
                .unwrap()
                .hash(&pepper)
        );
    }

    #[test]
    fn the_hash_is_hmac_sha256_of_the_normalised_address() {
        // RFC 4231-style check computed independently:
        // HMAC-SHA256(key="key", msg="a@b.c").
        let hash = CustomerEmail::parse(" A@B.C ")
            .unwrap()
            .hash(&pepper("key"));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"a@b.c");
        assert_eq!(
            hash.as_bytes().as_slice(),
            mac.finalize().into_bytes().as_slice()
        );
        assert_eq!(hash.to_hex().len(), 64);
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_reason() {
        assert_eq!(CustomerEmail::parse("   "), Err(InvalidEmail::Empty));
        for bad in [
            "no-at-sign",
            "@example.com",
            "jane@",
            "a@b@c",
            "jane doe@example.com",
        ] {
            assert_eq!(
                CustomerEmail::parse(bad),
                Err(InvalidEmail::Malformed),
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(CustomerEmail::parse(&long), Err(InvalidEmail::TooLong));
    }

    #[test]
    fn debug_output_never_shows_the_address_or_the_pepper() {
        let email = CustomerEmail::parse("jane.doe@example.com").unwrap();
        let pepper = pepper("pepper-one-for-the-tests");
        let printed = format!("{email:?} {pepper:?} {:?}", email.hash(&pepper));
        assert!(!printed.contains("jane"), "{printed}");
        assert!(!printed.contains("pepper-one"), "{printed}");
    }
}
