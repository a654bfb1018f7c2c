//! Personal data only where the work needs it: outside documents are redacted on their
//! parsed values before any copy is stored, whatever the spelling of an address.

use sellerops_tests::fixtures;
use sellerops_tests::marketplace::{deliver, deliver_mirakl, shopify_headers, webhook_service};
use sqlx::PgPool;

/// The customer fixture with a note holding addresses written as JSON escapes and in
/// non-ASCII letters.
fn customer_with_a_note() -> String {
    fixtures::text("shopify/customer_created.json").replace(
        r#""note":null"#,
        r#""note":"Backup: liam.m\u0040example.org, Zoë\u0040exämple.ca, jos\u00e9@exemple.ca""#,
    )
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_shopify_customer_whose_note_holds_an_escaped_address_is_recorded(pool: PgPool) {
    // Arrange
    let service = webhook_service(&pool, None);
    let body = customer_with_a_note();

    // Act
    let answer = deliver(
        &service,
        "shopify",
        &shopify_headers("customers/create", "wh-note-1", &body),
        &body,
    )
    .await;

    // Assert: recorded, not given up on, and the note kept less its addresses.
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["status"], "recorded");
    let failures: Vec<String> = sqlx::query_scalar("select reason from ops.process_failures")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    let note: String = sqlx::query_scalar("select data ->> 'note' from etl.shopify_customers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        note,
        "Backup: [email redacted], [email redacted], [email redacted]"
    );
    let inbox: String = sqlx::query_scalar("select body::text from ops.inbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    for spelled in ["liam", "Zoë", "josé", "+19025550133", "Spring Garden"] {
        assert!(!inbox.contains(spelled), "{spelled} in {inbox}");
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_mirakl_order_keeps_no_escaped_or_non_ascii_address_in_its_copies(pool: PgPool) {
    // Arrange: the shipping note carries two addresses the customer typed.
    let service = webhook_service(&pool, None);
    let order = fixtures::text("mirakl/order_waiting_acceptance.json").replace(
        r#""additional_info": "Buzz 12""#,
        r#""additional_info": "Buzz 12", "delivery_note": "Call or write élodie\u0040exemple.ca / t\u00e9l@exemple.ca""#,
    );

    // Act
    let answer = deliver_mirakl(&service, &[&order]).await;

    // Assert: the note stays, its addresses do not; the ship-to columns keep the label's
    // address, and the copies lose it.
    assert_eq!(answer.status, 200, "{}", answer.body);
    let (note, raw, inbox, line1, phone): (String, String, String, String, String) =
        sqlx::query_as(
            "select o.raw_payload -> 'customer' -> 'shipping_address' ->> 'delivery_note',
                    o.raw_payload::text, i.body::text, o.shipping_line1, o.shipping_phone
             from sales.orders o cross join ops.inbox i",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(note, "Call or write [email redacted] / [email redacted]");
    assert_eq!(
        (line1.as_str(), phone.as_str()),
        ("1450 Rue Sherbrooke O", "5145550147")
    );
    for copy in [&raw, &inbox] {
        for personal in ["exemple.ca", "5145550147", "Sherbrooke", "Tremblay"] {
            assert!(!copy.contains(personal), "{personal} in {copy}");
        }
        assert!(
            copy.contains("Montréal") && copy.contains("H3G 1L2"),
            "{copy}"
        );
    }
}
