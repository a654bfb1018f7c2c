//! Who sent a delivery: Shopify's HMAC signature, or a shared secret (Mirakl, Freshdesk).
//! Every comparison takes the same time whatever the first differing byte.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Whether `signature` (the `X-Shopify-Hmac-Sha256` header: base64 of HMAC-SHA256 of the
/// raw body under the app secret) signs `body`.
pub fn shopify_signature_is_valid(secret: &SecretString, body: &[u8], signature: &str) -> bool {
    let Ok(claimed) = BASE64.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&claimed).is_ok()
}

/// Whether `presented` is the shared secret.
pub fn secret_matches(secret: &SecretString, presented: &str) -> bool {
    let expected = secret.expose_secret().as_bytes();
    !expected.is_empty() && bool::from(expected.ct_eq(presented.as_bytes()))
}

/// Whether an `Authorization: Basic …` header carries the shared secret as its password
/// (Freshdesk's "Requires Authentication"; the user name is not checked).
pub fn basic_auth_password_matches(secret: &SecretString, authorization: &str) -> bool {
    let Some(encoded) = authorization
        .strip_prefix("Basic ")
        .or_else(|| authorization.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(decoded) = BASE64.decode(encoded.trim()) else {
        return false;
    };
    let Ok(credentials) = std::str::from_utf8(&decoded) else {
        return false;
    };
    credentials
        .split_once(':')
        .is_some_and(|(_, password)| secret_matches(secret, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    /// The signature Shopify sends for `body`.
    fn shopify_signature(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        BASE64.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn a_shopify_signature_over_the_exact_body_is_valid() {
        let body = br#"{"id":1}"#;
        let signature = shopify_signature("app-secret", body);
        assert!(shopify_signature_is_valid(
            &secret("app-secret"),
            body,
            &signature
        ));
        assert!(!shopify_signature_is_valid(
            &secret("other"),
            body,
            &signature
        ));
        assert!(!shopify_signature_is_valid(
            &secret("app-secret"),
            br#"{"id":2}"#,
            &signature
        ));
        assert!(!shopify_signature_is_valid(
            &secret("app-secret"),
            body,
            "not base64!"
        ));
    }

    #[test]
    fn a_known_hmac_vector_verifies() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let signature = BASE64.encode(
            hex::decode("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
                .unwrap(),
        );
        assert!(shopify_signature_is_valid(
            &secret("Jefe"),
            b"what do ya want for nothing?",
            &signature
        ));
    }

    #[test]
    fn shared_secrets_and_basic_passwords_must_match_exactly() {
        let s = secret("fd-secret");
        assert!(secret_matches(&s, "fd-secret"));
        assert!(!secret_matches(&s, "fd-secre"));
        assert!(!secret_matches(&secret(""), ""));
        let header = format!("Basic {}", BASE64.encode("freshdesk:fd-secret"));
        assert!(basic_auth_password_matches(&s, &header));
        let wrong = format!("Basic {}", BASE64.encode("freshdesk:nope"));
        assert!(!basic_auth_password_matches(&s, &wrong));
        assert!(!basic_auth_password_matches(&s, "Bearer fd-secret"));
    }
}
