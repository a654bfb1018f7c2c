//! Applying a price: a stored price change goes out to Best Buy (Mirakl OF24, against
//! the Mirakl simulator or a fake with exact request assertions) and to Amazon (the
//! Listings Items patch, against a fake) exactly once: a request in doubt is reconciled
//! by reading the channel back, one that never left is sent again, a refusal becomes a
//! person's task, and a redelivered message does nothing.

use std::str::FromStr;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use chrono::Utc;
use evaluate_pricing_rules::{handle_batch, EvaluatePricingRules};
use lambda_runtime::{Context, LambdaEvent};
use rust_decimal::Decimal;
use secrecy::SecretString;
use sellerops::flows::pricing::apply::{ApplyOutcome, PriceApplier, STALLED_AFTER};
use sellerops::flows::pricing::message::ApplyPriceChange;
use sellerops::flows::pricing::{evaluate_prices, EvaluationOptions, PricingMessage, Selection};
use sellerops::ops::config::QueueUrls;
use sellerops::ops::errors::Disposition;
use sellerops::ops::sqs_batch::BatchPlan;
use sellerops::systems::amazon::{AmazonClient, LwaCredentials};
use sellerops::systems::mirakl::MiraklClient;
use sellerops_simulators::faults::FaultSpec;
use sellerops_simulators::{start, Running, Settings};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;
use wiremock::matchers::{body_json, body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SKU: &str = "TP-T480-16";
const SELLER: &str = "A1SELLERCA";
const MARKETPLACE: &str = "A2EUQ1WTGCTBG2";
const ACCESS_TOKEN: &str = "Atza|local-access-token";
const LISTING_PATH: &str = "/listings/2021-08-01/items/A1SELLERCA/TP%2DT480%2D16";

fn amount(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// A listing on `channel` under [`SKU`], priced 89.99 now.
async fn listing(pool: &PgPool, channel: &str) -> Uuid {
    let product: Uuid = sqlx::query_scalar(
        "insert into catalog.products (name) values ('ThinkPad T480') returning id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let variant: Uuid = sqlx::query_scalar(
        "insert into catalog.product_variants (product_id, internal_sku) values ($1, 'INT-T480') returning id",
    )
    .bind(product)
    .fetch_one(pool)
    .await
    .unwrap();
    let listing: Uuid = sqlx::query_scalar(
        "insert into catalog.shop_sku_map (channel, shop_sku, variant_id) values ($1, $2, $3) returning id",
    )
    .bind(channel)
    .bind(SKU)
    .bind(variant)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query("insert into pricing.current_prices (listing_id, price, apply_enabled) values ($1, 89.99, true)")
        .bind(listing)
        .execute(pool)
        .await
        .unwrap();
    listing
}

/// The evaluation's decision to move `listing` from 89.99 to `new_price` on
/// `channel`, and its "apply a price change" message, as the evaluation writes them.
async fn decide(pool: &PgPool, listing: Uuid, channel: &str, new_price: &str) -> ApplyPriceChange {
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into pricing.price_decisions
             (id, listing_id, evaluated_at, currency, old_price, suggested_price, confidence,
              mode, explanation, digest)
         values ($1, $2, clock_timestamp(), 'CAD', 89.99, $3::numeric, 100, 'apply',
                 'competitor_match applied', '\\x00')",
    )
    .bind(id)
    .bind(listing)
    .bind(new_price)
    .execute(pool)
    .await
    .unwrap();
    ApplyPriceChange {
        price_change_id: id,
        listing_id: listing,
        channel: channel.to_owned(),
        price: amount(new_price),
        currency: "CAD".to_owned(),
        old_price: amount("89.99"),
    }
}

async fn send_state(pool: &PgPool, message: &ApplyPriceChange) -> String {
    sqlx::query_scalar("select send_state from pricing.price_changes where id = $1")
        .bind(message.price_change_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The simulator's calls to `route` so far.
fn calls(sim: &Running, route: &str) -> u64 {
    sim.simulator
        .lock()
        .requests
        .get(route)
        .copied()
        .unwrap_or(0)
}

fn fault(sim: &Running, spec: Value) {
    let spec: FaultSpec = serde_json::from_value(spec).unwrap();
    sim.simulator.lock().faults.add(spec).unwrap();
}

/// The simulator with [`SKU`] on offer at 89.99, 7 in stock, and a client for it.
async fn best_buy(pool: &PgPool) -> (Running, MiraklClient) {
    let sim = start(Settings::for_tests())
        .await
        .expect("simulators start");
    sim.simulator
        .lock()
        .offers
        .seed(
            json!({"shop_sku": SKU, "price": 89.99, "quantity": 7, "description": "Sealed box",
                   "leadtime_to_ship": 3}),
            false,
        )
        .unwrap();
    let key = sim.simulator.credentials().mirakl_api_key.clone();
    let client = MiraklClient::new(&sim.mirakl_url, SecretString::from(key), None, pool.clone())
        .unwrap()
        .with_timeout(Duration::from_millis(500))
        .unwrap();
    (sim, client)
}

fn simulated_offer(sim: &Running) -> Value {
    let state = sim.simulator.lock();
    let offer = state.offers.all().next().unwrap().clone();
    Value::Object(offer)
}

fn amazon(server: &MockServer, pool: &PgPool) -> AmazonClient {
    AmazonClient::new(
        &server.uri(),
        SELLER,
        MARKETPLACE,
        LwaCredentials {
            token_url: format!("{}/auth/o2/token", server.uri()),
            client_id: "amzn1.application-oa2-client.local".to_owned(),
            client_secret: SecretString::from("lwa-client-secret"),
            refresh_token: SecretString::from("Atzr|lwa-refresh-token"),
        },
        pool.clone(),
    )
    .unwrap()
}

async fn mount_lwa(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/auth/o2/token"))
        .and(header("content-type", "application/x-www-form-urlencoded;charset=UTF-8"))
        .and(body_string(
            "grant_type=refresh_token&refresh_token=Atzr%7Clwa%2Drefresh%2Dtoken\
             &client_id=amzn1%2Eapplication%2Doa2%2Dclient%2Elocal&client_secret=lwa%2Dclient%2Dsecret",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 3600}),
        ))
        .mount(server)
        .await;
}

fn listings_item(price: &str) -> Value {
    json!({
        "sku": SKU,
        "summaries": [{"marketplaceId": MARKETPLACE, "asin": "B07T480XYZ", "productType": "NOTEBOOK_COMPUTER",
            "conditionType": "new_new", "status": ["BUYABLE"], "itemName": "ThinkPad T480",
            "createdDate": "2025-02-01T00:00:00Z", "lastUpdatedDate": "2026-11-01T00:00:00Z"}],
        "offers": [{"marketplaceId": MARKETPLACE, "offerType": "B2C",
            "price": {"currencyCode": "CAD", "amount": price}}]
    })
}

// ---- Best Buy ----

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_best_buy_update_sends_the_whole_offer_with_only_the_price_changed(pool: PgPool) {
    // Arrange: a fake Mirakl with exact expectations.
    let server = MockServer::start().await;
    let offer = json!({
        "offer_id": 2101, "shop_sku": SKU, "product_sku": "BBC-T480", "price": 89.99,
        "quantity": 7, "state_code": "11", "currency_iso_code": "CAD", "active": true,
        "description": "Sealed box", "leadtime_to_ship": 3,
        "logistic_class": {"code": "M", "label": "Medium"},
        "applicable_pricing": {"price": 89.99, "unit_origin_price": 89.99, "volume_prices": []}
    });
    Mock::given(method("GET"))
        .and(path("/api/offers"))
        .and(query_param("sku", SKU))
        .and(header("authorization", "shop-key"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"offers": [offer], "total_count": 1})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/offers"))
        .and(header("authorization", "shop-key"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"offers": [{
            "shop_sku": SKU, "state_code": "11", "quantity": 7, "description": "Sealed box",
            "leadtime_to_ship": 3, "product_id": "BBC-T480", "product_id_type": "SKU",
            "logistic_class": "M", "price": 84.5, "update_delete": "update"
        }]})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"import_id": 2044})))
        .expect(1)
        .mount(&server)
        .await;
    let client = MiraklClient::new(
        &server.uri(),
        SecretString::from("shop-key"),
        None,
        pool.clone(),
    )
    .unwrap();
    let listing = listing(&pool, "bestbuy_ca").await;
    let message = decide(&pool, listing, "bestbuy_ca", "84.50").await;

    // Act
    let outcome = PriceApplier::new(&pool, Some(&client), None)
        .handle(&message)
        .await
        .unwrap();

    // Assert: accepted with Mirakl's import id, to be confirmed.
    assert_eq!(
        outcome,
        ApplyOutcome::Accepted {
            reference: "2044".into()
        }
    );
    let (state, reference, attempts): (String, String, i32) = sqlx::query_as(
        "select send_state, channel_reference, attempts from pricing.price_changes where id = $1",
    )
    .bind(message.price_change_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (state.as_str(), reference.as_str(), attempts),
        ("accepted", "2044", 1)
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_simulator_applies_the_price_and_keeps_the_rest_of_the_offer(pool: PgPool) {
    let (sim, client) = best_buy(&pool).await;
    let listing = listing(&pool, "bestbuy_ca").await;
    let message = decide(&pool, listing, "bestbuy_ca", "84.50").await;
    let applier = PriceApplier::new(&pool, Some(&client), None);

    let outcome = applier.handle(&message).await.unwrap();
    let confirmed = applier
        .confirm_accepted(10, Duration::ZERO, None)
        .await
        .unwrap();

    assert!(
        matches!(outcome, ApplyOutcome::Accepted { .. }),
        "{outcome:?}"
    );
    assert_eq!(confirmed.applied, 1, "{confirmed:?}");
    let offer = simulated_offer(&sim);
    assert_eq!(offer["price"], json!(84.5));
    assert_eq!(
        offer["quantity"],
        json!(7),
        "the stock must survive the update"
    );
    assert_eq!(offer["description"], json!("Sealed box"));
    assert_eq!(send_state(&pool, &message).await, "applied");
    let (price, history): (Decimal, i64) = sqlx::query_as(
        "select p.price, (select count(*) from pricing.price_history h where h.listing_id = p.listing_id)
         from pricing.current_prices p where p.listing_id = $1",
    )
    .bind(listing)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((price, history), (amount("84.50"), 1));
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from ops.audit_log where entity_type = 'listing_price' and entity_id = $1",
    )
    .bind(listing.to_string())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_timeout_after_the_price_changed_is_reconciled_without_a_second_update(pool: PgPool) {
    // Arrange: the import runs, then the answer comes after the client gave up.
    let (sim, client) = best_buy(&pool).await;
    fault(
        &sim,
        json!({"route": "OF24", "after": true, "delay_ms": 1500}),
    );
    let listing = listing(&pool, "bestbuy_ca").await;
    let message = decide(&pool, listing, "bestbuy_ca", "84.50").await;
    let applier = PriceApplier::new(&pool, Some(&client), None);

    // Act: the first delivery times out; the queue delivers the message again.
    let first = applier.handle(&message).await.unwrap_err();
    let state_in_doubt = send_state(&pool, &message).await;
    let second = applier.handle(&message).await.unwrap();

    // Assert
    assert_eq!(first.disposition(), Disposition::Retry);
    assert_eq!(state_in_doubt, "sending");
    assert_eq!(second, ApplyOutcome::Applied { adopted: true });
    assert_eq!(calls(&sim, "OF24"), 1, "the price must be sent once");
    assert_eq!(simulated_offer(&sim)["price"], json!(84.5));
    let adopted: bool =
        sqlx::query_scalar("select adopted from pricing.price_changes where id = $1")
            .bind(message.price_change_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(adopted);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_lost_answer_with_the_import_still_pending_waits_instead_of_sending_again(pool: PgPool) {
    // Arrange: a fake Mirakl whose OF24 failed with a 502, whose offer still shows the old
    // price and whose import since the attempt is still running.
    let server = MockServer::start().await;
    let offer = json!({"offer_id": 2101, "shop_sku": SKU, "price": 89.99, "quantity": 7, "state_code": "11"});
    Mock::given(method("GET"))
        .and(path("/api/offers"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"offers": [offer], "total_count": 1})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/offers"))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/offers/imports"))
        .and(query_param("origins", "API"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"import_id": 2045, "status": "RUNNING", "lines_in_error": 0, "lines_in_success": 0,
             "has_error_report": false, "date_created": "2026-11-30T10:00:00Z"}]})))
        .mount(&server)
        .await;
    let client = MiraklClient::new(
        &server.uri(),
        SecretString::from("shop-key"),
        None,
        pool.clone(),
    )
    .unwrap();
    let listing = listing(&pool, "bestbuy_ca").await;
    let message = decide(&pool, listing, "bestbuy_ca", "84.50").await;
    let applier = PriceApplier::new(&pool, Some(&client), None);

    // Act
    let first = applier.handle(&message).await.unwrap_err();
    let second = applier.handle(&message).await.unwrap_err();

    // Assert: both go back to the queue; OF24 was called once (checked on drop).
    assert_eq!(first.disposition(), Disposition::Retry);
    assert_eq!(second.disposition(), Disposition::Retry);
    assert_eq!(send_state(&pool, &message).await, "sending");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_request_turned_away_before_any_work_is_sent_again(pool: PgPool) {
    let (sim, client) = best_buy(&pool).await;
    fault(
        &sim,
        json!({"route": "OF24", "status": 429, "retry_after": 30}),
    );
    let listing = listing(&pool, "bestbuy_ca").await;
    let message = decide(&pool, listing, "bestbuy_ca", "84.50").await;
    let applier = PriceApplier::new(&pool, Some(&client), None);

    let first = applier.handle(&message).await.unwrap_err();
    let state_after_first = send_state(&pool, &message).await;
    let second = applier.handle(&message).await.unwrap();

    assert_eq!(first.disposition(), Disposition::Retry);
    assert_eq!(
        state_after_first, "stored",
        "a request that never left is not in doubt"
    );
    assert!(
        matches!(second, ApplyOutcome::Accepted { .. }),
        "{second:?}"
    );
    assert_eq!(calls(&sim, "OF24"), 2);
    assert_eq!(
        calls(&sim, "OF04"),
        0,
        "nothing was in doubt, so nothing was reconciled"
    );
    assert_eq!(sim.simulator.lock().offers.imports().len(), 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_refusal_is_handed_to_a_person_and_never_retried(pool: PgPool) {
    let (sim, client) = best_buy(&pool).await;
    fault(
        &sim,
        json!({"route": "OF24", "status": 400,
                       "message": "VALIDATION_ERROR: price is below the operator's minimum"}),
    );
    let listing = listing(&pool, "bestbuy_ca").await;
    let message = decide(&pool, listing, "bestbuy_ca", "84.50").await;
    let applier = PriceApplier::new(&pool, Some(&client), None);

    let outcome = applier.handle(&message).await.unwrap();
    let again = applier.handle(&message).await.unwrap();

    let ApplyOutcome::Refused { reason, task_id } = outcome else {
        panic!("expected a refusal, got {outcome:?}");
    };
    assert!(reason.contains("below the operator's minimum"), "{reason}");
    assert_eq!(again, ApplyOutcome::AlreadyDone);
    assert_eq!(calls(&sim, "OF24"), 1);
    let (title, description, task_type, linked): (String, String, String, i64) = sqlx::query_as(
        "select t.title, t.description, t.task_type,
                (select count(*) from workflow.task_listings l where l.task_id = t.id and l.listing_id = $2)
         from workflow.tasks t where t.id = $1 and t.price_change_id = $3",
    )
    .bind(task_id)
    .bind(listing)
    .bind(message.price_change_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        title,
        format!("Best Buy refused the price change of {SKU} from 89.99 to 84.50")
    );
    assert!(
        description.contains("below the operator's minimum"),
        "{description}"
    );
    assert_eq!((task_type.as_str(), linked), ("pricing", 1));
    let (state, why): (String, String) = sqlx::query_as(
        "select send_state, refusal_reason from pricing.price_changes where id = $1",
    )
    .bind(message.price_change_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(state, "refused");
    assert!(why.contains("VALIDATION_ERROR"), "{why}");
    assert_eq!(simulated_offer(&sim)["price"], json!(89.99));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_import_that_failed_its_line_is_confirmed_as_refused(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/offers/imports/2044"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "import_id": 2044, "status": "COMPLETE", "lines_in_error": 1, "lines_in_success": 0,
            "lines_read": 1, "lines_in_pending": 0, "has_error_report": true,
            "reason_status": "1 offer could not be updated", "date_created": "2026-11-30T10:00:00Z",
            "mode": "NORMAL", "offer_inserted": 0, "offer_updated": 0, "offer_deleted": 0, "type": "MIRAKL"})))
        .expect(1)
        .mount(&server)
        .await;
    let client = MiraklClient::new(
        &server.uri(),
        SecretString::from("shop-key"),
        None,
        pool.clone(),
    )
    .unwrap();
    let listing = listing(&pool, "bestbuy_ca").await;
    let message = decide(&pool, listing, "bestbuy_ca", "84.50").await;
    // Sent earlier: Mirakl took the update as import 2044.
    sqlx::query(
        "insert into pricing.price_changes
             (id, listing_id, channel, shop_sku, old_price, new_price, decided_at, send_state,
              channel_reference, send_attempted_at, attempts)
         values ($1, $2, 'bestbuy_ca', $3, 89.99, 84.50, now(), 'accepted', '2044', now(), 1)",
    )
    .bind(message.price_change_id)
    .bind(listing)
    .bind(SKU)
    .execute(&pool)
    .await
    .unwrap();

    let tally = PriceApplier::new(&pool, Some(&client), None)
        .confirm_accepted(10, Duration::ZERO, None)
        .await
        .unwrap();

    assert_eq!(tally.refused, 1, "{tally:?}");
    let why: String =
        sqlx::query_scalar("select refusal_reason from pricing.price_changes where id = $1")
            .bind(message.price_change_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(why.contains("1 offer could not be updated"), "{why}");
    let tasks: i64 =
        sqlx::query_scalar("select count(*) from workflow.tasks where price_change_id = $1")
            .bind(message.price_change_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(tasks, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_redelivered_message_does_nothing(pool: PgPool) {
    let (sim, client) = best_buy(&pool).await;
    let listing = listing(&pool, "bestbuy_ca").await;
    let message = decide(&pool, listing, "bestbuy_ca", "84.50").await;
    let applier = PriceApplier::new(&pool, Some(&client), None);
    applier.handle(&message).await.unwrap();
    let calls_before: u64 = ["OF21", "OF24", "OF04"]
        .iter()
        .map(|route| calls(&sim, route))
        .sum();

    let again = applier.handle(&message).await.unwrap();

    assert_eq!(again, ApplyOutcome::AlreadyDone);
    let calls_after: u64 = ["OF21", "OF24", "OF04"]
        .iter()
        .map(|route| calls(&sim, route))
        .sum();
    assert_eq!(calls_after, calls_before, "a redelivery calls nothing");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_price_already_on_the_channel_is_adopted_without_a_request(pool: PgPool) {
    let (sim, client) = best_buy(&pool).await;
    let listing = listing(&pool, "bestbuy_ca").await;
    let message = decide(&pool, listing, "bestbuy_ca", "89.99").await;

    let outcome = PriceApplier::new(&pool, Some(&client), None)
        .handle(&message)
        .await
        .unwrap();

    assert_eq!(outcome, ApplyOutcome::Applied { adopted: false });
    assert_eq!(calls(&sim, "OF24"), 0);
}

// ---- The intent ----

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_message_that_disagrees_with_its_decision_is_refused_and_nothing_is_sent(pool: PgPool) {
    let (sim, client) = best_buy(&pool).await;
    let listing = listing(&pool, "bestbuy_ca").await;
    let mut message = decide(&pool, listing, "bestbuy_ca", "84.50").await;
    message.price = amount("8.45");

    let err = PriceApplier::new(&pool, Some(&client), None)
        .handle(&message)
        .await
        .unwrap_err();

    assert_eq!(err.disposition(), Disposition::GiveUp);
    assert!(
        err.to_string().contains("price 84.50 (message: 8.45)"),
        "{err}"
    );
    assert_eq!(calls(&sim, "OF21") + calls(&sim, "OF24"), 0);
    let recorded: i64 = sqlx::query_scalar("select count(*) from pricing.price_changes")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(recorded, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_change_overtaken_by_a_later_decision_is_never_sent(pool: PgPool) {
    let (sim, client) = best_buy(&pool).await;
    let listing = listing(&pool, "bestbuy_ca").await;
    let older = decide(&pool, listing, "bestbuy_ca", "84.50").await;
    let newer = decide(&pool, listing, "bestbuy_ca", "82.00").await;
    let applier = PriceApplier::new(&pool, Some(&client), None);

    // The newer message arrives first, the older one after it.
    let newer_outcome = applier.handle(&newer).await.unwrap();
    let older_outcome = applier.handle(&older).await.unwrap();

    assert!(
        matches!(newer_outcome, ApplyOutcome::Accepted { .. }),
        "{newer_outcome:?}"
    );
    assert_eq!(older_outcome, ApplyOutcome::Superseded);
    assert_eq!(calls(&sim, "OF24"), 1);
    assert_eq!(simulated_offer(&sim)["price"], json!(82.0));
    let by: Uuid =
        sqlx::query_scalar("select superseded_by from pricing.price_changes where id = $1")
            .bind(older.price_change_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(by, newer.price_change_id);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_evaluated_price_goes_out_through_the_outbox_message_exactly_once(pool: PgPool) {
    // Arrange: a Best Buy listing at 89.99 that a competitor undercuts at 84.50, with
    // apply enabled, and the simulator's offer for it.
    let (sim, client) = best_buy(&pool).await;
    let maker = sellerops_tests::pricing::supplier(&pool, "Parts Co").await;
    let item = sellerops_tests::pricing::variant(&pool, "T480", None, &[]).await;
    sellerops_tests::pricing::price(&pool, item, maker, "40", "2000-01-01", None, "0", "0").await;
    let listed = sellerops_tests::pricing::listing(&pool, item, "bestbuy_ca", "89.99", 5).await;
    sellerops_tests::pricing::offer(&pool, listed, "RIVAL", "84.50", true).await;
    sellerops_tests::pricing::stored_rule(
        &pool,
        "match",
        "competitor_match",
        100,
        "all",
        None,
        json!({}),
    )
    .await;
    sqlx::query("update pricing.current_prices set apply_enabled = true where listing_id = $1")
        .bind(listed)
        .execute(&pool)
        .await
        .unwrap();
    let sku: String = sqlx::query_scalar("select shop_sku from catalog.shop_sku_map where id = $1")
        .bind(listed)
        .fetch_one(&pool)
        .await
        .unwrap();
    sim.simulator
        .lock()
        .offers
        .seed(
            json!({"shop_sku": sku, "price": 89.99, "quantity": 5}),
            false,
        )
        .unwrap();

    // Act: the evaluation writes the decision and its message; the queue delivers the
    // message twice; the schedule confirms.
    let report = evaluate_prices(
        &pool,
        Selection::All,
        Utc::now(),
        EvaluationOptions::default(),
    )
    .await
    .unwrap();
    let body: Value = sqlx::query_scalar(
        "select message_body from ops.outbox where queue_name = 'pricing' and dedup_id like 'apply-price:%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let PricingMessage::ApplyPriceChange(message) =
        PricingMessage::parse(Some(&body.to_string())).unwrap()
    else {
        panic!("not an apply message: {body}");
    };
    let applier = PriceApplier::new(&pool, Some(&client), None);
    let first = applier.handle(&message).await.unwrap();
    let again = applier.handle(&message).await.unwrap();
    let confirmed = applier
        .confirm_accepted(10, Duration::ZERO, None)
        .await
        .unwrap();

    // Assert
    assert_eq!(report.written.apply_messages, 1);
    assert!(matches!(first, ApplyOutcome::Accepted { .. }), "{first:?}");
    assert_eq!(again, ApplyOutcome::AlreadyDone);
    assert_eq!(confirmed.applied, 1);
    assert_eq!(calls(&sim, "OF24"), 1);
    let offer = sim.simulator.lock().offers.list(Some(&sku)).0.remove(0);
    assert_eq!(offer["price"], json!(84.5));
    assert_eq!(offer["quantity"], json!(5));
    let price: Decimal =
        sqlx::query_scalar("select price from pricing.current_prices where listing_id = $1")
            .bind(listed)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(price, amount("84.50"));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_function_sends_an_apply_message_of_its_batch_and_a_redelivery_changes_nothing(
    pool: PgPool,
) {
    // Arrange: the pricing queue delivers the same apply message twice in one batch.
    let (sim, client) = best_buy(&pool).await;
    let listing = listing(&pool, "bestbuy_ca").await;
    let message = decide(&pool, listing, "bestbuy_ca", "84.50").await;
    let body = message.to_json().to_string();
    let event: SqsEvent = serde_json::from_value(json!({"Records": [
        {"messageId": "first", "body": body},
        {"messageId": "again", "body": body},
    ]}))
    .unwrap();
    let aws = sellerops_tests::local_aws().await;
    let queues = QueueUrls::default();
    let function = EvaluatePricingRules {
        pool: &pool,
        sqs: &aws.sqs,
        queues: &queues,
        batch: BatchPlan::SEQUENTIAL,
        page_time: Duration::ZERO,
        applier: PriceApplier::new(&pool, Some(&client), None),
    };

    // Act
    let response = handle_batch(&function, LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();

    // Assert
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(calls(&sim, "OF24"), 1);
    assert_eq!(send_state(&pool, &message).await, "accepted");
    assert_eq!(simulated_offer(&sim)["price"], json!(84.5));
}

// ---- Amazon ----

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_amazon_patch_replaces_our_price_with_a_fresh_access_token(pool: PgPool) {
    // Arrange
    let server = MockServer::start().await;
    mount_lwa(&server).await;
    Mock::given(method("GET"))
        .and(path(LISTING_PATH))
        .and(query_param("marketplaceIds", MARKETPLACE))
        .and(query_param("includedData", "summaries,offers"))
        .and(header("x-amz-access-token", ACCESS_TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(listings_item("89.99")))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(LISTING_PATH))
        .and(query_param("marketplaceIds", MARKETPLACE))
        .and(header("x-amz-access-token", ACCESS_TOKEN))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "productType": "NOTEBOOK_COMPUTER",
            "patches": [{"op": "replace", "path": "/attributes/purchasable_offer",
                "value": [{"marketplace_id": MARKETPLACE, "currency": "CAD",
                           "our_price": [{"schedule": [{"value_with_tax": 84.5}]}]}]}]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sku": SKU, "status": "ACCEPTED", "submissionId": "f1dc2914-75dd-11ea-bc55-0242ac130003", "issues": []})))
        .expect(1)
        .mount(&server)
        .await;
    let client = amazon(&server, &pool);
    let listing = listing(&pool, "amazon").await;
    let message = decide(&pool, listing, "amazon", "84.50").await;

    // Act
    let outcome = PriceApplier::new(&pool, None, Some(&client))
        .handle(&message)
        .await
        .unwrap();

    // Assert
    assert_eq!(
        outcome,
        ApplyOutcome::Accepted {
            reference: "f1dc2914-75dd-11ea-bc55-0242ac130003".into()
        }
    );
    let logged: Vec<String> = sqlx::query_scalar("select c::text from ops.api_calls c")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(logged.len(), 3, "token, read, patch: {logged:?}");
    for row in logged {
        assert!(
            !row.contains(ACCESS_TOKEN) && !row.contains("lwa-client-secret"),
            "{row}"
        );
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_amazon_patch_in_doubt_is_adopted_once_the_listing_shows_the_price(pool: PgPool) {
    let server = MockServer::start().await;
    mount_lwa(&server).await;
    // The first read shows the old price; every later one the new price.
    Mock::given(method("GET"))
        .and(path(LISTING_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(listings_item("89.99")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(LISTING_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(listings_item("84.50")))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(LISTING_PATH))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let client = amazon(&server, &pool);
    let listing = listing(&pool, "amazon").await;
    let message = decide(&pool, listing, "amazon", "84.50").await;
    let applier = PriceApplier::new(&pool, None, Some(&client));

    let first = applier.handle(&message).await.unwrap_err();
    let second = applier.handle(&message).await.unwrap();

    assert_eq!(first.disposition(), Disposition::Retry);
    assert_eq!(second, ApplyOutcome::Applied { adopted: true });
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_invalid_amazon_submission_is_a_refusal(pool: PgPool) {
    let server = MockServer::start().await;
    mount_lwa(&server).await;
    Mock::given(method("GET"))
        .and(path(LISTING_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(listings_item("89.99")))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(LISTING_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sku": SKU, "status": "INVALID", "submissionId": "sub-2",
            "issues": [{"code": "8541", "message": "The price is outside the allowed range", "severity": "ERROR"}]})))
        .expect(1)
        .mount(&server)
        .await;
    let client = amazon(&server, &pool);
    let listing = listing(&pool, "amazon").await;
    let message = decide(&pool, listing, "amazon", "84.50").await;
    let applier = PriceApplier::new(&pool, None, Some(&client));

    let outcome = applier.handle(&message).await.unwrap();
    let again = applier.handle(&message).await.unwrap();

    let ApplyOutcome::Refused { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.contains("8541: The price is outside the allowed range"),
        "{reason}"
    );
    assert_eq!(again, ApplyOutcome::AlreadyDone);
    assert_eq!(send_state(&pool, &message).await, "refused");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_amazon_4xx_is_a_refusal_and_rejected_credentials_are_retried(pool: PgPool) {
    let server = MockServer::start().await;
    mount_lwa(&server).await;
    Mock::given(method("GET"))
        .and(path(LISTING_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(listings_item("89.99")))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(LISTING_PATH))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(LISTING_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"errors": [{"code": "InvalidInput", "message": "Invalid value_with_tax"}]}),
        ))
        .with_priority(2)
        .mount(&server)
        .await;
    let client = amazon(&server, &pool);
    let listing = listing(&pool, "amazon").await;
    let message = decide(&pool, listing, "amazon", "84.50").await;
    let applier = PriceApplier::new(&pool, None, Some(&client));

    let first = applier.handle(&message).await.unwrap_err();
    let state_after_first = send_state(&pool, &message).await;
    let second = applier.handle(&message).await.unwrap();

    assert_eq!(first.disposition(), Disposition::Retry);
    assert_eq!(state_after_first, "stored");
    let ApplyOutcome::Refused { reason, .. } = second else {
        panic!("{second:?}")
    };
    assert!(
        reason.contains("InvalidInput: Invalid value_with_tax"),
        "{reason}"
    );
}

/// Makes every price change look untouched for `hours` (the touch trigger set aside).
async fn untouched_for(pool: &PgPool, hours: i32) {
    let mut tx = pool.begin().await.unwrap();
    for sql in [
        "alter table pricing.price_changes disable trigger price_changes_touch_updated_at",
        &format!("update pricing.price_changes set updated_at = now() - interval '{hours} hours'"),
        "alter table pricing.price_changes enable trigger price_changes_touch_updated_at",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// The apply messages queued again, as the handler reads them.
async fn queued_again(pool: &PgPool) -> Vec<ApplyPriceChange> {
    let bodies: Vec<String> = sqlx::query_scalar(
        "select message_body::text from ops.outbox
         where queue_name = 'pricing' and dedup_id like 'apply-price:%:again:%'
         order by dedup_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    bodies
        .iter()
        .map(|body| match PricingMessage::parse(Some(body)).unwrap() {
            PricingMessage::ApplyPriceChange(change) => change,
            other => panic!("not an apply message: {other:?}"),
        })
        .collect()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_change_whose_messages_ran_out_is_queued_again_and_settled_without_a_second_update(
    pool: PgPool,
) {
    // Arrange: the import ran but its answer was lost, and the message's deliveries ran
    // out (the dead-letter queue) with the change in doubt.
    let (sim, client) = best_buy(&pool).await;
    fault(
        &sim,
        json!({"route": "OF24", "after": true, "delay_ms": 1500, "times": 1}),
    );
    let in_doubt = listing(&pool, "bestbuy_ca").await;
    let message = decide(&pool, in_doubt, "bestbuy_ca", "84.50").await;
    let applier = PriceApplier::new(&pool, Some(&client), None);
    applier.handle(&message).await.unwrap_err();
    assert_eq!(send_state(&pool, &message).await, "sending");
    untouched_for(&pool, 3).await;

    // Act 1: the scheduled run's sweep, twice in the same period.
    let first = applier.requeue_stalled(10, STALLED_AFTER).await.unwrap();
    let second = applier.requeue_stalled(10, STALLED_AFTER).await.unwrap();

    // Assert 1: the change in doubt is queued once, with its decision's figures.
    assert_eq!((first, second), (1, 0));
    assert_eq!(queued_again(&pool).await, vec![message.clone()]);

    // Act 2: the queued message is handled.
    let outcome = applier.handle(&queued_again(&pool).await[0]).await.unwrap();

    // Assert 2: reconciled with the channel, the price adopted, never sent twice; and a
    // settled change is not queued again.
    assert_eq!(outcome, ApplyOutcome::Applied { adopted: true });
    assert_eq!(calls(&sim, "OF24"), 1, "the price must be sent once");
    untouched_for(&pool, 3).await;
    assert_eq!(applier.requeue_stalled(10, STALLED_AFTER).await.unwrap(), 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_change_in_doubt_for_less_than_the_queues_retries_is_left_to_its_own_message(
    pool: PgPool,
) {
    // Arrange
    let listing = listing(&pool, "bestbuy_ca").await;
    let message = decide(&pool, listing, "bestbuy_ca", "84.50").await;
    sqlx::query(
        "insert into pricing.price_changes
             (id, listing_id, channel, shop_sku, old_price, new_price, decided_at, send_state,
              send_attempted_at, attempts)
         values ($1, $2, 'bestbuy_ca', $3, 89.99, 84.50, now(), 'sending', now(), 1)",
    )
    .bind(message.price_change_id)
    .bind(listing)
    .bind(SKU)
    .execute(&pool)
    .await
    .unwrap();
    untouched_for(&pool, 1).await;

    // Act
    let queued = PriceApplier::new(&pool, None, None)
        .requeue_stalled(10, STALLED_AFTER)
        .await
        .unwrap();

    // Assert
    assert_eq!(queued, 0);
    assert_eq!(queued_again(&pool).await, []);
}
