//! fetch-shipping-label against fake Canada Post and Mirakl servers and the local S3.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use fetch_shipping_label::handle;
use sellerops::flows::fulfilment::labels::{LabelFlow, LabelOptions, LabelOutcome};
use sellerops::flows::fulfilment::{OrderMessage, LABEL_PROCESS};
use sellerops::ops::config::{DefaultParcel, SenderSettings};
use sellerops::ops::crash_points::{Crash, CrashPoint};
use sellerops::systems::canadapost::CanadaPostClient;
use sellerops::systems::mirakl::MiraklClient;
use sellerops_tests::fulfilment::{
    canadapost, default_parcel, failures, listed_variant, mirakl, queued, reserve_one_each, sender,
    statuses, stock_of, BestBuyOrder, CP_CUSTOMER, FAST_RETRY, MIRAKL_KEY,
};
use sellerops_tests::{create_local_bucket, fixtures, local_aws};
use sqlx::PgPool;
use tokio::sync::Notify;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request, Respond, ResponseTemplate};

const ORDER: &str = "BB-20417-A";
const SKU: &str = "BBY-T480-16-512";

/// The fakes, the clients and the bucket one test uses.
struct World {
    pool: PgPool,
    mirakl_server: MockServer,
    carrier_server: MockServer,
    mirakl: MiraklClient,
    canadapost: CanadaPostClient,
    s3: aws_sdk_s3::Client,
    bucket: String,
    sender: SenderSettings,
    parcel: DefaultParcel,
}

impl World {
    async fn new(pool: PgPool) -> Self {
        let mirakl_server = MockServer::start().await;
        let carrier_server = MockServer::start().await;
        let aws = local_aws().await;
        let bucket = create_local_bucket(&aws, "labels").await;
        Self {
            mirakl: mirakl(&mirakl_server.uri(), &pool),
            canadapost: canadapost(&carrier_server.uri(), &pool),
            pool,
            mirakl_server,
            carrier_server,
            s3: aws.s3,
            bucket,
            sender: sender(),
            parcel: default_parcel(),
        }
    }

    fn label_flow(&self) -> LabelFlow<'_> {
        LabelFlow {
            pool: &self.pool,
            mirakl: &self.mirakl,
            canadapost: &self.canadapost,
            s3: &self.s3,
            labels_bucket: &self.bucket,
            service_code: "DOM.EP",
            carrier_code: "CPCL",
            sender: &self.sender,
            default_parcel: &self.parcel,
            retry: FAST_RETRY,
        }
    }

    /// An accepted order whose one laptop is reserved, recorded as `status`.
    async fn order(&self, status: &str) -> (OrderMessage, uuid::Uuid) {
        let laptop = listed_variant(&self.pool, SKU, Some(4)).await;
        let order = BestBuyOrder::new(ORDER)
            .status(status)
            .line(SKU, 1)
            .record(&self.pool)
            .await;
        reserve_one_each(&self.pool, order.order_id, laptop).await;
        (order, laptop)
    }

    /// Canada Post buys the label (exact request) `times` times.
    async fn carrier_sells_label(&self, times: u64) {
        self.carrier_sells_label_answering(times, self.label_bought())
            .await;
    }

    /// Canada Post's answer to a label purchase: the shipment, with its label's link.
    fn label_bought(&self) -> ResponseTemplate {
        let answer = fixtures::text("canadapost/ncshipment-info.xml")
            .replace("{base}", &self.carrier_server.uri());
        ResponseTemplate::new(200).set_body_raw(answer, "application/vnd.cpc.ncshipment-v4+xml")
    }

    /// Canada Post buys the label (exact request) `times` times, answering the purchase
    /// with `answer`.
    async fn carrier_sells_label_answering(&self, times: u64, answer: impl Respond + 'static) {
        let basic = "Basic Y3AtYXBpLXVzZXI6Y3AtYXBpLXBhc3N3b3JkLTlkMg==";
        Mock::given(method("POST"))
            .and(path(format!("/rs/{CP_CUSTOMER}/ncshipment")))
            .and(header("authorization", basic))
            .and(header("accept", "application/vnd.cpc.ncshipment-v4+xml"))
            .and(header(
                "content-type",
                "application/vnd.cpc.ncshipment-v4+xml",
            ))
            .and(header("accept-language", "en-CA"))
            .and(XmlBody(fixtures::text("canadapost/ncshipment-request.xml")))
            .respond_with(answer)
            .expect(times)
            .mount(&self.carrier_server)
            .await;
        Mock::given(method("GET"))
            .and(path("/rs/artifact/5e2b8a90c1d4f377/11284/0"))
            .and(header("authorization", basic))
            .and(header("accept", "application/pdf"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(fixtures::bytes("canadapost/label.pdf"), "application/pdf"),
            )
            .expect(times)
            .mount(&self.carrier_server)
            .await;
    }

    /// Mirakl takes OR23 (exact body) and OR24 `times` times.
    async fn marketplace_takes_shipment(&self, times: u64) {
        Mock::given(method("PUT"))
            .and(path(format!("/api/orders/{ORDER}/tracking")))
            .and(header("authorization", MIRAKL_KEY))
            .and(body_json(
                serde_json::json!({ "carrier_code": "CPCL", "tracking_number": "73120984561207" }),
            ))
            .respond_with(ResponseTemplate::new(204))
            .expect(times)
            .mount(&self.mirakl_server)
            .await;
        Mock::given(method("PUT"))
            .and(path(format!("/api/orders/{ORDER}/ship")))
            .and(header("authorization", MIRAKL_KEY))
            .respond_with(ResponseTemplate::new(204))
            .expect(times)
            .mount(&self.mirakl_server)
            .await;
    }

    async fn marketplace_shows(&self, state: &str) {
        let body = fixtures::text("mirakl/or11-order-state.json")
            .replace("{order_id}", ORDER)
            .replace("{state}", state);
        Mock::given(method("GET"))
            .and(path("/api/orders"))
            .and(query_param("order_ids", ORDER))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .mount(&self.mirakl_server)
            .await;
    }

    /// The lease of an attempt that died runs out.
    async fn lease_runs_out(&self) {
        sqlx::query(
            "update ops.idempotency_keys set locked_until = now() - interval '1 second'
             where state = 'in_progress'",
        )
        .execute(&self.pool)
        .await
        .unwrap();
    }

    async fn shipment(
        &self,
        order: &OrderMessage,
    ) -> (String, Option<String>, Option<String>, Option<String>) {
        sqlx::query_as(
            "select state, shipment_id, tracking_pin, label_s3_key from sales.shipments where order_id = $1",
        )
        .bind(order.order_id)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    async fn stored_label(&self, key: &str) -> Vec<u8> {
        self.s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .expect("label in S3")
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes()
            .to_vec()
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_order_in_shipping_gets_its_label_stored_tracked_and_shipped(pool: PgPool) {
    // Arrange
    let world = World::new(pool).await;
    let (order, laptop) = world.order("SHIPPING").await;
    world.carrier_sells_label(1).await;
    world.marketplace_takes_shipment(1).await;

    // Act
    let outcome = world
        .label_flow()
        .handle(&order, LabelOptions::default())
        .await
        .unwrap();

    // Assert
    let key = format!("bestbuy_ca/{ORDER}/347881315405043891.pdf");
    assert_eq!(
        outcome,
        LabelOutcome::Shipped {
            tracking_pin: "73120984561207".into(),
            label_s3_key: key.clone()
        }
    );
    assert_eq!(
        world.shipment(&order).await,
        (
            "shipped".into(),
            Some("347881315405043891".into()),
            Some("73120984561207".into()),
            Some(key.clone())
        )
    );
    assert_eq!(
        world.stored_label(&key).await,
        fixtures::bytes("canadapost/label.pdf")
    );
    assert_eq!(
        statuses(&world.pool, &order).await,
        vec![("SHIPPED".to_owned(), "fetch-shipping-label".to_owned())]
    );
    assert_eq!(
        stock_of(&world.pool, laptop).await,
        (3, 0),
        "the shipped unit left the shelf"
    );
    let logged: Vec<String> =
        sqlx::query_scalar("select c::text from ops.api_calls c where service = 'canadapost'")
            .fetch_all(&world.pool)
            .await
            .unwrap();
    assert_eq!(logged.len(), 2);
    assert!(logged
        .iter()
        .all(|row| !row.contains("Y3AtYXBpLXVzZXI") && row.contains("[redacted]")));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_same_label_message_delivered_twice_at_once_buys_one_label(pool: PgPool) {
    // Arrange
    let world = World::new(pool).await;
    let (order, _) = world.order("SHIPPING").await;
    let purchase = HeldAnswer::new(world.label_bought());
    world
        .carrier_sells_label_answering(1, purchase.clone())
        .await;
    world.marketplace_takes_shipment(1).await;
    let flow = world.label_flow();

    // Act: two deliveries of one message through the handler, the second while the
    // first is buying the label.
    let first = handle(&flow, LabelOptions::default(), queued(&[&order]));
    let second = async {
        purchase.requested().await;
        let answer = handle(&flow, LabelOptions::default(), queued(&[&order])).await;
        purchase.release();
        answer
    };
    let (first, second) = tokio::join!(first, second);

    // Assert: one bought the label, the other is left for redelivery, which then finds it done.
    let retried =
        first.unwrap().batch_item_failures.len() + second.unwrap().batch_item_failures.len();
    assert_eq!(retried, 1);
    let shipments: i64 = sqlx::query_scalar("select count(*) from sales.shipments")
        .fetch_one(&world.pool)
        .await
        .unwrap();
    assert_eq!(shipments, 1);
    let redelivered = world
        .label_flow()
        .handle(&order, LabelOptions::default())
        .await
        .unwrap();
    assert_eq!(redelivered, LabelOutcome::AlreadyDone);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_crash_after_the_carrier_answered_resumes_at_the_pdf_without_buying_again(pool: PgPool) {
    // Arrange
    let world = World::new(pool).await;
    let (order, _) = world.order("SHIPPING").await;
    world.carrier_sells_label(1).await;
    world.marketplace_takes_shipment(1).await;
    let crashed = Crash::at(CrashPoint::LabelBought)
        .during(world.label_flow().handle(&order, LabelOptions::default()))
        .await;
    assert!(crashed.is_err());
    assert_eq!(world.shipment(&order).await.0, "label_created");
    world.lease_runs_out().await;

    // Act: the message comes back after the dead attempt's lease ran out.
    let outcome = world
        .label_flow()
        .handle(&order, LabelOptions::default())
        .await
        .unwrap();

    // Assert: one purchase (the mock's expect(1)), one download, shipped.
    assert!(
        matches!(outcome, LabelOutcome::Shipped { .. }),
        "{outcome:?}"
    );
    let purchases: i64 = sqlx::query_scalar(
        "select count(*) from ops.api_calls where operation = 'CreateNonContractShipment'",
    )
    .fetch_one(&world.pool)
    .await
    .unwrap();
    assert_eq!(purchases, 1);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_carrier_validation_error_is_permanent_and_names_the_carriers_message(pool: PgPool) {
    // Arrange
    let world = World::new(pool).await;
    let (order, _) = world.order("SHIPPING").await;
    Mock::given(method("POST"))
        .and(path(format!("/rs/{CP_CUSTOMER}/ncshipment")))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            fixtures::text("canadapost/messages-postal-code.xml"),
            "application/vnd.cpc.ncshipment-v4+xml",
        ))
        .expect(1)
        .mount(&world.carrier_server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&world.mirakl_server)
        .await;
    let flow = world.label_flow();

    // Act
    let response = handle(&flow, LabelOptions::default(), queued(&[&order]))
        .await
        .unwrap();

    // Assert
    assert!(response.batch_item_failures.is_empty());
    let reasons = failures(&world.pool, LABEL_PROCESS).await;
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].contains("9111 Postal code is not valid for province."),
        "{reasons:?}"
    );
    assert_eq!(world.shipment(&order).await.0, "failed");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_order_still_waiting_for_debit_is_acknowledged_without_buying(pool: PgPool) {
    // Arrange
    let world = World::new(pool).await;
    let (order, _) = world.order("WAITING_DEBIT").await;
    world.marketplace_shows("WAITING_DEBIT_PAYMENT").await;
    world.carrier_sells_label(0).await;

    // Act
    let outcome = world
        .label_flow()
        .handle(&order, LabelOptions::default())
        .await
        .unwrap();

    // Assert
    assert_eq!(
        outcome,
        LabelOutcome::NotYetShipping("WAITING_DEBIT_PAYMENT".into())
    );
    let shipments: i64 = sqlx::query_scalar("select count(*) from sales.shipments")
        .fetch_one(&world.pool)
        .await
        .unwrap();
    assert_eq!(shipments, 0);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_order_debited_since_it_was_recorded_is_marked_shipping_and_labelled(pool: PgPool) {
    // Arrange
    let world = World::new(pool).await;
    let (order, _) = world.order("WAITING_DEBIT").await;
    world.marketplace_shows("SHIPPING").await;
    world.carrier_sells_label(1).await;
    world.marketplace_takes_shipment(1).await;

    // Act
    let outcome = world
        .label_flow()
        .handle(&order, LabelOptions::default())
        .await
        .unwrap();

    // Assert
    assert!(
        matches!(outcome, LabelOutcome::Shipped { .. }),
        "{outcome:?}"
    );
    let history: Vec<String> = statuses(&world.pool, &order)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    assert_eq!(history, vec!["SHIPPING", "SHIPPED"]);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_throttled_purchase_is_sent_again_within_the_invocation(pool: PgPool) {
    // Arrange: one 429 (Canada Post turned the purchase away), then the label.
    let world = World::new(pool).await;
    let (order, _) = world.order("SHIPPING").await;
    Mock::given(method("POST"))
        .and(path(format!("/rs/{CP_CUSTOMER}/ncshipment")))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&world.carrier_server)
        .await;
    world.carrier_sells_label(1).await;
    world.marketplace_takes_shipment(1).await;

    // Act
    let outcome = world
        .label_flow()
        .handle(&order, LabelOptions::default())
        .await
        .unwrap();

    // Assert
    assert!(
        matches!(outcome, LabelOutcome::Shipped { .. }),
        "{outcome:?}"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_401_from_canada_post_leaves_the_shipment_and_stock_alone_and_returns_the_message(
    pool: PgPool,
) {
    // Arrange: the Canada Post password was changed and the function has the old one.
    let world = World::new(pool).await;
    let (order, laptop) = world.order("SHIPPING").await;
    Mock::given(method("POST"))
        .and(path(format!("/rs/{CP_CUSTOMER}/ncshipment")))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            "<messages xmlns=\"http://www.canadapost.ca/ws/messages\"><message><code>E002</code><description>AAA Authentication Failure</description></message></messages>",
            "application/vnd.cpc.ncshipment-v4+xml",
        ))
        .expect(1)
        .mount(&world.carrier_server)
        .await;
    let flow = world.label_flow();

    // Act
    let response = handle(&flow, LabelOptions::default(), queued(&[&order]))
        .await
        .unwrap();

    // Assert: back to its queue, nothing for a person, no label, stock still reserved.
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(failures(&world.pool, LABEL_PROCESS).await.is_empty());
    assert_eq!(
        world.shipment(&order).await,
        ("pending".into(), None, None, None)
    );
    assert_eq!(stock_of(&world.pool, laptop).await, (4, 1));
}

/// Matches an XML body equal to `expected` once whitespace between tags is ignored.
pub struct XmlBody(pub String);

fn squeeze(xml: &str) -> String {
    xml.lines().map(str::trim).collect::<Vec<_>>().join("")
}

impl Match for XmlBody {
    fn matches(&self, request: &Request) -> bool {
        let body = String::from_utf8_lossy(&request.body);
        let matched = squeeze(&body) == squeeze(&self.0);
        if !matched {
            eprintln!(
                "XML body differs:\n got: {}\nwant: {}",
                squeeze(&body),
                squeeze(&self.0)
            );
        }
        matched
    }
}

/// Holds an answer until the test releases it, so that something can happen while the
/// request is in flight. wiremock asks a responder on its server's own thread, so the
/// wait blocks only the fake server; it gives up after a minute so a failed test cannot
/// hang.
#[derive(Clone)]
struct HeldAnswer {
    answer: ResponseTemplate,
    requested: Arc<Notify>,
    released: Arc<(Mutex<bool>, Condvar)>,
}

impl HeldAnswer {
    fn new(answer: ResponseTemplate) -> Self {
        Self {
            answer,
            requested: Arc::new(Notify::new()),
            released: Arc::new((Mutex::new(false), Condvar::new())),
        }
    }

    /// Returns once the request has arrived and is being held.
    async fn requested(&self) {
        self.requested.notified().await;
    }

    fn release(&self) {
        let (released, signal) = &*self.released;
        *released.lock().unwrap() = true;
        signal.notify_all();
    }
}

impl Respond for HeldAnswer {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.requested.notify_one();
        let (released, signal) = &*self.released;
        let _released = signal
            .wait_timeout_while(
                released.lock().unwrap(),
                Duration::from_secs(60),
                |released| !*released,
            )
            .unwrap();
        self.answer.clone()
    }
}
