//! fetch-shipping-label against the Canada Post simulator when the purchase's outcome is
//! unknown: the answer lost after the label was bought (a timeout, a 5xx, a body cut
//! short, a crash before it was written). Redelivery must find the label, not buy
//! another; the simulator counts what the carrier sold.

use std::time::Duration;

use fetch_shipping_label::handle;
use secrecy::SecretString;
use sellerops::flows::fulfilment::labels::{self, LabelFlow, LabelOptions, LabelOutcome};
use sellerops::flows::fulfilment::{OrderMessage, LABEL_PROCESS};
use sellerops::ops::config::{CanadaPostSettings, DefaultParcel, SenderSettings};
use sellerops::ops::crash_points::{Crash, CrashPoint};
use sellerops::systems::canadapost::CanadaPostClient;
use sellerops::systems::mirakl::MiraklClient;
use sellerops_simulators::{start, Running, Settings};
use sellerops_tests::fulfilment::{
    default_parcel, failures, listed_variant, mirakl, queued, reserve_one_each, sender,
    BestBuyOrder, CP_CUSTOMER,
};
use sellerops_tests::{create_local_bucket, fixtures, local_aws};
use serde_json::{json, Value};
use sqlx::PgPool;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ORDER: &str = "BB-30512-A";
const SKU: &str = "BBY-X1-32-1T";
/// The simulated carrier answers a delayed purchase after this; the client gives up
/// sooner.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(500);

/// The carrier simulator, a fake Mirakl that takes OR23 and OR24 exactly once, the
/// clients and the bucket one test uses.
struct World {
    pool: PgPool,
    carrier: Running,
    /// Kept alive: its expectations are checked when it drops.
    _mirakl_server: MockServer,
    mirakl: MiraklClient,
    canadapost: CanadaPostClient,
    s3: aws_sdk_s3::Client,
    bucket: String,
    sender: SenderSettings,
    parcel: DefaultParcel,
    http: reqwest::Client,
}

impl World {
    async fn new(pool: PgPool) -> Self {
        let carrier = start(Settings::for_tests())
            .await
            .expect("simulators start");
        let credentials = carrier.simulator.credentials().clone();
        let settings = CanadaPostSettings {
            base_url: carrier.canadapost_url.clone(),
            username: SecretString::from(credentials.canadapost_username),
            password: SecretString::from(credentials.canadapost_password),
            customer_number: CP_CUSTOMER.into(),
            service_code: "DOM.EP".into(),
            language: "en-CA".into(),
        };
        let canadapost = CanadaPostClient::from_settings(&settings, pool.clone())
            .unwrap()
            .with_retry_policy(labels::RETRY)
            .with_request_timeout(CLIENT_TIMEOUT)
            .unwrap();
        let mirakl_server = MockServer::start().await;
        for route in ["tracking", "ship"] {
            Mock::given(method("PUT"))
                .and(path(format!("/api/orders/{ORDER}/{route}")))
                .respond_with(ResponseTemplate::new(204))
                .expect(1)
                .mount(&mirakl_server)
                .await;
        }
        let aws = local_aws().await;
        let bucket = create_local_bucket(&aws, "labels").await;
        Self {
            mirakl: mirakl(&mirakl_server.uri(), &pool),
            canadapost,
            pool,
            carrier,
            _mirakl_server: mirakl_server,
            s3: aws.s3,
            bucket,
            sender: sender(),
            parcel: default_parcel(),
            http: reqwest::Client::new(),
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
            retry: labels::RETRY,
        }
    }

    /// An order Mirakl has debited, one unit reserved.
    async fn order(&self) -> OrderMessage {
        let variant = listed_variant(&self.pool, SKU, Some(3)).await;
        let order = BestBuyOrder::new(ORDER)
            .status("SHIPPING")
            .line(SKU, 1)
            .record(&self.pool)
            .await;
        reserve_one_each(&self.pool, order.order_id, variant).await;
        order
    }

    async fn carrier_fault(&self, fault: Value) {
        let response = self
            .http
            .post(format!("{}/_sim/faults", self.carrier.canadapost_url))
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{fault}");
    }

    /// What the carrier counted: purchase requests, refund requests, shipments for the
    /// order, refunded shipments for the order.
    async fn carrier_counts(&self) -> (u64, u64, u64, u64) {
        let counters: Value = self
            .http
            .get(format!("{}/_sim/counters", self.carrier.canadapost_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let count = |value: &Value| value.as_u64().unwrap_or(0);
        let order = &counters["canadapost"]["by_reference"][ORDER];
        (
            count(&counters["requests"]["NCSHIPMENT"]),
            count(&counters["requests"]["REFUND"]),
            count(&order["shipments"]),
            count(&order["refunded"]),
        )
    }

    /// The label message delivered until it is done (at most `deliveries` times);
    /// returns how many deliveries were retried.
    async fn deliver(&self, order: &OrderMessage, deliveries: usize) -> usize {
        let flow = self.label_flow();
        let mut retried = 0;
        for _ in 0..deliveries {
            let response = handle(&flow, LabelOptions::default(), queued(&[order]))
                .await
                .unwrap();
            if response.batch_item_failures.is_empty() {
                break;
            }
            retried += 1;
        }
        retried
    }

    /// The shipment row: state, shipment id, label key.
    async fn shipment(&self, order: &OrderMessage) -> (String, Option<String>, Option<String>) {
        sqlx::query_as(
            "select state, shipment_id, label_s3_key from sales.shipments where order_id = $1",
        )
        .bind(order.order_id)
        .fetch_one(&self.pool)
        .await
        .unwrap()
    }

    /// The one label stored under the order's prefix, and the shipment it is of.
    async fn stored_labels(&self) -> Vec<String> {
        self.s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("bestbuy_ca/{ORDER}/"))
            .send()
            .await
            .unwrap()
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_owned))
            .collect()
    }

    /// One label bought, stored and reported: the row is shipped with the carrier's one
    /// shipment, one PDF is stored for it, nothing was left for a person (OR23 and OR24
    /// once each are the fake Mirakl's expectations, checked when it drops).
    async fn assert_shipped_once(&self, order: &OrderMessage) {
        let sold: Vec<String> = self
            .carrier
            .simulator
            .lock()
            .shipments
            .all()
            .map(|shipment| shipment.shipment_id.clone())
            .collect();
        assert_eq!(sold.len(), 1, "the carrier sold {sold:?}");
        let (state, shipment_id, key) = self.shipment(order).await;
        assert_eq!(state, "shipped");
        assert_eq!(shipment_id.as_deref(), Some(sold[0].as_str()));
        let expected_key = format!("bestbuy_ca/{ORDER}/{}.pdf", sold[0]);
        assert_eq!(key.as_deref(), Some(expected_key.as_str()));
        assert_eq!(self.stored_labels().await, vec![expected_key]);
        assert!(failures(&self.pool, LABEL_PROCESS).await.is_empty());
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_purchase_answered_after_the_client_gave_up_is_found_on_redelivery_not_bought_again(
    pool: PgPool,
) {
    // Arrange: Canada Post buys the label and answers after the client hung up.
    let world = World::new(pool).await;
    let order = world.order().await;
    world
        .carrier_fault(json!({"route": "NCSHIPMENT", "delay_ms": 3000, "after": true}))
        .await;

    // Act: the first delivery times out; the message comes back.
    let retried = world.deliver(&order, 3).await;

    // Assert
    assert_eq!(retried, 1);
    assert_eq!(world.carrier_counts().await, (1, 0, 1, 0));
    world.assert_shipped_once(&order).await;
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_5xx_after_the_label_was_bought_is_settled_on_redelivery_not_bought_again(pool: PgPool) {
    // Arrange
    let world = World::new(pool).await;
    let order = world.order().await;
    world
        .carrier_fault(json!({"route": "NCSHIPMENT", "status": 503, "after": true}))
        .await;

    // Act
    let retried = world.deliver(&order, 3).await;

    // Assert
    assert_eq!(retried, 1);
    assert_eq!(world.carrier_counts().await, (1, 0, 1, 0));
    world.assert_shipped_once(&order).await;
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_purchase_answer_cut_short_is_settled_on_redelivery_not_bought_again(pool: PgPool) {
    // Arrange: a 200 whose body cannot be parsed.
    let world = World::new(pool).await;
    let order = world.order().await;
    world
        .carrier_fault(json!({"route": "NCSHIPMENT", "truncate": true}))
        .await;

    // Act
    let retried = world.deliver(&order, 3).await;

    // Assert
    assert_eq!(retried, 1);
    assert_eq!(world.carrier_counts().await, (1, 0, 1, 0));
    world.assert_shipped_once(&order).await;
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_crash_before_the_carriers_answer_was_written_is_settled_by_adopting_the_label(
    pool: PgPool,
) {
    // Arrange: the process dies between Canada Post's answer and the database write.
    let world = World::new(pool).await;
    let order = world.order().await;
    let crashed = Crash::at(CrashPoint::LabelAnswered)
        .during(world.label_flow().handle(&order, LabelOptions::default()))
        .await;
    assert!(crashed.is_err());
    assert_eq!(world.shipment(&order).await, ("pending".into(), None, None));
    sqlx::query(
        "update ops.idempotency_keys set locked_until = now() - interval '1 second'
         where state = 'in_progress'",
    )
    .execute(&world.pool)
    .await
    .unwrap();

    // Act: the message comes back after the dead attempt's lease ran out.
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
    assert_eq!(world.carrier_counts().await, (1, 0, 1, 0));
    world.assert_shipped_once(&order).await;
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_label_bought_twice_is_kept_once_and_the_other_refunded(pool: PgPool) {
    // Arrange: the purchase's answer is lost, and the carrier holds two shipments for
    // the order (bought again by hand, say) when the message comes back.
    let world = World::new(pool).await;
    let order = world.order().await;
    world
        .carrier_fault(json!({"route": "NCSHIPMENT", "status": 500, "after": true}))
        .await;
    assert_eq!(world.deliver(&order, 1).await, 1);
    let again = world
        .http
        .post(format!(
            "{}/rs/{CP_CUSTOMER}/ncshipment",
            world.carrier.canadapost_url
        ))
        .basic_auth("local-canadapost-user", Some("local-canadapost-password"))
        .header("Content-Type", "application/vnd.cpc.ncshipment-v4+xml")
        .header("Accept", "application/vnd.cpc.ncshipment-v4+xml")
        .body(fixtures::text("canadapost/ncshipment-request.xml").replace("BB-20417-A", ORDER))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);

    // Act
    let retried = world.deliver(&order, 3).await;

    // Assert: one label used, the other refunded once and recorded with its ticket.
    assert_eq!(retried, 0);
    assert_eq!(world.carrier_counts().await, (2, 1, 2, 1));
    let mut sold: Vec<String> = world
        .carrier
        .simulator
        .lock()
        .shipments
        .all()
        .map(|shipment| shipment.shipment_id.clone())
        .collect();
    sold.sort();
    let (state, kept, _) = world.shipment(&order).await;
    assert_eq!(state, "shipped");
    assert_eq!(kept.as_deref(), Some(sold[0].as_str()));
    let duplicates: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "select shipment_id, refund_ticket_id, refund_error from sales.shipment_duplicates
         where order_id = $1",
    )
    .bind(order.order_id)
    .fetch_all(&world.pool)
    .await
    .unwrap();
    assert_eq!(duplicates.len(), 1, "{duplicates:?}");
    assert_eq!(duplicates[0].0, sold[1]);
    assert!(duplicates[0].1.is_some() && duplicates[0].2.is_none());
    assert_eq!(
        world.stored_labels().await,
        vec![format!("bestbuy_ca/{ORDER}/{}.pdf", sold[0])]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn when_the_lost_purchase_bought_nothing_the_redelivery_buys_one_label(pool: PgPool) {
    // Arrange: a 502 from in front of the carrier, which did nothing; the flow cannot
    // know that and keeps its claim.
    let world = World::new(pool).await;
    let order = world.order().await;
    world
        .carrier_fault(json!({"route": "NCSHIPMENT", "status": 502}))
        .await;

    // Act
    let retried = world.deliver(&order, 3).await;

    // Assert: two purchase requests, one label.
    assert_eq!(retried, 1);
    assert_eq!(world.carrier_counts().await, (2, 0, 1, 0));
    world.assert_shipped_once(&order).await;
}
