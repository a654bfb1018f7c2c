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

// --- Every path, then every column of every table --------------------------------

/// Customer e-mail addresses the fixtures carry, as they read once parsed: plain, sent
/// with `\u0040` escapes, and in non-ASCII letters. None may be stored anywhere.
const EMAILS: &[&str] = &[
    "zoe.b@exemple.ca",
    "élodie.côté@exämple.ca",
    "amelia.tremblay@example.ca",
    "elodie.tremblay@example.ca",
    "liam.macdonald@example.ca",
    "noah.singh@example.ca",
    "k7f3q9x2-relay@marketplace.bestbuy.ca",
];

/// Customer phone numbers the fixtures carry. Only the order's ship-to phone may keep
/// one, since the label is bought with it.
const PHONES: &[&str] = &["5145550147", "9025550133", "6135550199"];

/// Where the README says a phone number is kept.
const PHONE_HOMES: &[&str] = &["sales.orders.shipping_phone"];

const WAITING: &str = "BBY-PII-1-A";
const SHIPPING: &str = "BBY-PII-2-A";
const POLLED: &str = "BBY-PII-3-A";

/// The Mirakl order fixture as `order_id` in `state`, its notification address sent
/// escaped and an address in non-ASCII letters in a note.
fn mirakl_order_with_addresses(order_id: &str, state: &str) -> String {
    fixtures::text("mirakl/order_waiting_acceptance.json")
        .replace("BBY-20260302-0001-A", order_id)
        .replace("\"WAITING_ACCEPTANCE\"", &format!("\"{state}\""))
        .replace(
            r#""customer_notification_email": "k7f3q9x2-relay@marketplace.bestbuy.ca""#,
            r#""customer_notification_email": "zoe.b\u0040exemple.ca", "note": "relay k7f3q9x2-relay@marketplace.bestbuy.ca""#,
        )
        .replace(
            r#""additional_info": "Buzz 12""#,
            r#""additional_info": "Buzz 12 or write \u00e9lodie.c\u00f4t\u00e9@ex\u00e4mple.ca", "delivery_note": "or élodie.côté@exämple.ca""#,
        )
}

/// Every text-like column (text, varchar, char, json, jsonb, bytea, arrays) of every
/// table in every schema, as `schema.table.column`, with the rows' values as text.
async fn every_stored_text(pool: &PgPool) -> Vec<(String, String)> {
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "select c.table_schema::text, c.table_name::text, c.column_name::text, c.data_type::text
         from information_schema.columns c
         join information_schema.tables t
           on t.table_schema = c.table_schema and t.table_name = c.table_name
         where t.table_type = 'BASE TABLE'
           and c.table_schema not in ('pg_catalog', 'information_schema')
           and c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb',
                               'bytea', 'ARRAY', 'USER-DEFINED')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(
        columns.len() > 100,
        "expected the whole schema, found {columns:?}"
    );
    let mut values = Vec::new();
    for (schema, table, column, data_type) in columns {
        let as_text = if data_type == "bytea" {
            format!(r#"encode("{column}", 'escape')"#)
        } else {
            format!(r#""{column}"::text"#)
        };
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            r#"select {as_text} from "{schema}"."{table}" where "{column}" is not null"#
        ))
        .fetch_all(pool)
        .await
        .unwrap();
        let name = format!("{schema}.{table}.{column}");
        values.extend(rows.into_iter().map(|row| (name.clone(), row)));
    }
    values
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn customer_addresses_and_phones_are_stored_only_where_the_readme_says(pool: PgPool) {
    use sellerops::flows::fulfilment::acceptance::Acceptance;
    use sellerops::flows::fulfilment::labels::{LabelFlow, LabelOptions, LabelOutcome};
    use sellerops::flows::fulfilment::OrderMessage;
    use sellerops::flows::marketplace_sync::MarketplaceSync;
    use sellerops::flows::replies::{AutoReply, ReplyMessage, ReplyOutcome};
    use sellerops::ops::config::MarketplaceSyncSettings;
    use sellerops::ops::config::{AutoReplySettings, FromEnvironment};
    use sellerops_tests::fulfilment::{
        canadapost, default_parcel, listed_variant, mirakl, sender, CP_CUSTOMER, FAST_RETRY,
    };
    use sellerops_tests::marketplace::{headers, pepper, FRESHDESK_SECRET};
    use sellerops_tests::{create_local_bucket, local_aws};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    // Arrange: stock for the orders, fake Mirakl and Canada Post servers whose failed
    // answers echo the customer back.
    for sku in ["RF-T480-I5-16-512", "RF-CHARGER-65W-USBC"] {
        listed_variant(&pool, sku, Some(10)).await;
    }
    let echo = serde_json::json!({
        "message": "temporarily unavailable for zoe.b@exemple.ca",
        "customer": {"phone": "5145550147", "email": "élodie.côté@exämple.ca"}
    });
    let marketplace = MockServer::start().await;
    for (verb, route) in [
        ("PUT", format!("/api/orders/{WAITING}/accept")),
        ("PUT", format!("/api/orders/{SHIPPING}/tracking")),
    ] {
        Mock::given(method(verb))
            .and(path(route.clone()))
            .respond_with(ResponseTemplate::new(503).set_body_json(&echo))
            .up_to_n_times(1)
            .mount(&marketplace)
            .await;
        Mock::given(method(verb))
            .and(path(route))
            .respond_with(ResponseTemplate::new(204))
            .mount(&marketplace)
            .await;
    }
    Mock::given(method("PUT"))
        .and(path(format!("/api/orders/{SHIPPING}/ship")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&marketplace)
        .await;
    let polled = mirakl_order_with_addresses(POLLED, "SHIPPED")
        .replace("5145550147", "6135550199")
        .replace(
            r#""note": "relay"#,
            r#""note": "amelia.tremblay@example.ca relay"#,
        );
    Mock::given(method("GET"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!(r#"{{"orders":[{polled}],"total_count":1}}"#),
            "application/json",
        ))
        .mount(&marketplace)
        .await;
    let thread = fixtures::text("mirakl/thread_where_is_my_order.json").replace(
        "Merci! Could I get",
        r"Merci! Or zoe.b\u0040exemple.ca, \u00e9lodie.c\u00f4t\u00e9@ex\u00e4mple.ca. Could I get",
    );
    Mock::given(method("GET"))
        .and(path("/api/inbox/threads"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(format!(r#"{{"data":[{thread}]}}"#), "application/json"),
        )
        .mount(&marketplace)
        .await;
    let carrier = MockServer::start().await;
    let bought = fixtures::text("canadapost/ncshipment-info.xml").replace("{base}", &carrier.uri());
    Mock::given(method("POST"))
        .and(path(format!("/rs/{CP_CUSTOMER}/ncshipment")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(bought, "application/vnd.cpc.ncshipment-v4+xml"),
        )
        .mount(&carrier)
        .await;
    Mock::given(method("GET"))
        .and(path("/rs/artifact/5e2b8a90c1d4f377/11284/0"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixtures::bytes("canadapost/label.pdf"), "application/pdf"),
        )
        .mount(&carrier)
        .await;
    let service = webhook_service(&pool, None);
    let mirakl_client = mirakl(&marketplace.uri(), &pool);
    let carrier_client = canadapost(&carrier.uri(), &pool);
    let aws = local_aws().await;
    let bucket = create_local_bucket(&aws, "labels").await;
    let (sender, parcel) = (sender(), default_parcel());

    // Act: the webhook path (Mirakl, Shopify order and customer, Freshdesk ticket) ...
    let answers = [
        deliver_mirakl(
            &service,
            &[
                &mirakl_order_with_addresses(WAITING, "WAITING_ACCEPTANCE"),
                &mirakl_order_with_addresses(SHIPPING, "SHIPPING"),
            ],
        )
        .await,
        {
            let body = fixtures::text("shopify/order_created.json");
            let headers = shopify_headers("orders/create", "wh-pii-o", &body);
            deliver(&service, "shopify", &headers, &body).await
        },
        {
            let body = customer_with_a_note();
            let headers = shopify_headers("customers/create", "wh-pii-c", &body);
            deliver(&service, "shopify", &headers, &body).await
        },
        {
            let body = fixtures::text("freshdesk/ticket_created.json");
            let headers = headers(&[("x-webhook-secret", FRESHDESK_SECRET)]);
            deliver(&service, "freshdesk", &headers, &body).await
        },
    ];
    // ... the poll (OR11 and M11) ...
    let poll = MarketplaceSync {
        pool: pool.clone(),
        client: mirakl_client.clone(),
        pepper: pepper(),
        settings: MarketplaceSyncSettings::default(),
        retry: FAST_RETRY,
        shopify: None,
        freshdesk: None,
    }
    .run(chrono::Utc::now(), None)
    .await;
    // ... acceptance (OR21 failing once, then taken) ...
    let order_id = |external_id: &'static str| {
        let pool = pool.clone();
        async move {
            let id: uuid::Uuid =
                sqlx::query_scalar("select id from sales.orders where external_id = $1")
                    .bind(external_id)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            OrderMessage::best_buy(id, external_id)
        }
    };
    let accepted = Acceptance {
        pool: &pool,
        mirakl: &mirakl_client,
        retry: FAST_RETRY,
        reservation_hold: sellerops::ops::config::DEFAULT_RESERVATION_HOLD,
    }
    .handle(&order_id(WAITING).await)
    .await;
    // ... and the label (OR23 failing once, then taken).
    let labelled = LabelFlow {
        pool: &pool,
        mirakl: &mirakl_client,
        canadapost: &carrier_client,
        s3: &aws.s3,
        labels_bucket: &bucket,
        service_code: "DOM.EP",
        carrier_code: "CPCL",
        sender: &sender,
        default_parcel: &parcel,
        retry: FAST_RETRY,
    }
    .handle(&order_id(SHIPPING).await, LabelOptions::default())
    .await;
    // ... and the reply flow on the customer's message the poll queued (decided and
    // handed over: the thread's order is not recorded here).
    let reply_settings = {
        let uri = marketplace.uri();
        let vars = [
            ("DATABASE_URL", "postgres://unused@localhost/unused"),
            ("MIRAKL_BASE_URL", uri.as_str()),
            ("MIRAKL_API_KEY", "unused"),
            ("AUTO_REPLY_MODE", "on"),
        ];
        AutoReplySettings::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    };
    let reply_bodies: Vec<String> =
        sqlx::query_scalar("select message_body::text from ops.outbox where queue_name = 'reply'")
            .fetch_all(&pool)
            .await
            .unwrap();
    let auto_reply = AutoReply::new(&reply_settings, &pool, &mirakl_client);
    let mut decided = Vec::new();
    for body in &reply_bodies {
        decided.push(
            auto_reply
                .handle(&ReplyMessage::parse(Some(body)).unwrap())
                .await,
        );
    }

    // Assert: every path did its work ...
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_ne!(answer.body["status"], "duplicate");
    }
    let poll = poll.unwrap();
    assert_eq!((poll.orders.seen, poll.threads.seen), (1, 1), "{poll:?}");
    accepted.unwrap();
    assert!(
        matches!(labelled, Ok(LabelOutcome::Shipped { .. })),
        "{labelled:?}"
    );
    assert_eq!(decided.len(), 1);
    assert!(
        matches!(decided[0], Ok(ReplyOutcome::HandedOver { .. })),
        "{decided:?}"
    );
    let failed_calls: i64 = sqlx::query_scalar(
        "select count(*) from ops.api_calls where status_code = 503 and response_body is not null",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        failed_calls, 2,
        "both echoed failures are logged with their bodies"
    );
    // ... and no column holds a customer's address, nor a phone outside the ship-to.
    let stored = every_stored_text(&pool).await;
    let mut misplaced = Vec::new();
    for (column, text) in &stored {
        let lower = text.to_lowercase();
        for email in EMAILS {
            let local_part = email.split('@').next().unwrap_or(email);
            if lower.contains(email) || lower.contains(&format!("{local_part}\\u0040")) {
                misplaced.push(format!("{email} in {column}: {text}"));
            }
        }
        for phone in PHONES {
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            if (text.contains(phone) || digits.contains(phone))
                && !PHONE_HOMES.contains(&column.as_str())
            {
                misplaced.push(format!("{phone} in {column}: {text}"));
            }
        }
    }
    assert!(misplaced.is_empty(), "{misplaced:#?}");
    let ship_to_phones: Vec<String> = stored
        .iter()
        .filter(|(column, _)| column == "sales.orders.shipping_phone")
        .map(|(_, phone)| phone.clone())
        .collect();
    assert!(
        ship_to_phones.contains(&"5145550147".to_owned()),
        "{ship_to_phones:?}"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_failure_quoting_the_customer_is_recorded_without_them(pool: PgPool) {
    use sellerops::ops::process_failures::{record_process_failure, ProcessFailure};

    // Arrange: a reason quoting an outside message, a payload that is an outside document.
    let failure = ProcessFailure {
        process: "OrderAcceptance",
        entity_type: "order",
        entity_ref: "BBY-1",
        reason: "Mirakl refused: customer zoe.b@exemple.ca is blocked",
        payload: Some(serde_json::json!({
            "order_id": "BBY-1",
            "customer": {"phone": "5145550147", "email": "élodie.côté@exämple.ca"}
        })),
    };

    // Act
    record_process_failure(&pool, &failure).await.unwrap();

    // Assert
    let (reason, payload): (String, serde_json::Value) =
        sqlx::query_as("select reason, payload from ops.process_failures")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        reason,
        "Mirakl refused: customer [email redacted] is blocked"
    );
    assert_eq!(payload["order_id"], "BBY-1");
    assert_eq!(payload["customer"]["phone"], "[redacted]");
    assert_eq!(payload["customer"]["email"], "[redacted]");
}
