//! Arrangements of the fulfilment tests: the catalogue and its stock, recorded Best Buy
//! orders and the queue events that carry them, and clients of fake Mirakl and Canada
//! Post servers.

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Context, LambdaEvent};
use rust_decimal::Decimal;
use secrecy::SecretString;
use sellerops::flows::fulfilment::OrderMessage;
use sellerops::ops::config::{CanadaPostSettings, DefaultParcel, SenderSettings};
use sellerops::ops::retry::RetryPolicy;
use sellerops::systems::canadapost::CanadaPostClient;
use sellerops::systems::mirakl::MiraklClient;
use sqlx::PgPool;
use uuid::Uuid;

use crate::events::sqs_event;

/// The shop key the Mirakl client sends.
pub const MIRAKL_KEY: &str = "bestbuy-shop-key-5f1e0c";
const CP_USER: &str = "cp-api-user";
const CP_PASSWORD: &str = "cp-api-password-9d2";
/// The Canada Post customer number, part of every shipment path.
pub const CP_CUSTOMER: &str = "0008675309";

/// Short waits so retries do not slow the suite.
pub const FAST_RETRY: RetryPolicy = RetryPolicy {
    attempts: 3,
    base_delay: Duration::from_millis(10),
    max_delay: Duration::from_secs(2),
};

/// A Mirakl client of the server at `base_url`.
pub fn mirakl(base_url: &str, pool: &PgPool) -> MiraklClient {
    MiraklClient::new(base_url, SecretString::from(MIRAKL_KEY), None, pool.clone()).unwrap()
}

/// A Canada Post client of the server at `base_url`, retrying fast.
pub fn canadapost(base_url: &str, pool: &PgPool) -> CanadaPostClient {
    let settings = CanadaPostSettings {
        base_url: base_url.to_owned(),
        username: SecretString::from(CP_USER),
        password: SecretString::from(CP_PASSWORD),
        customer_number: CP_CUSTOMER.into(),
        service_code: "DOM.EP".into(),
        language: "en-CA".into(),
    };
    CanadaPostClient::from_settings(&settings, pool.clone())
        .unwrap()
        .with_retry_policy(FAST_RETRY)
}

/// The seller's shipping address, as the label request fixture has it.
pub fn sender() -> SenderSettings {
    SenderSettings {
        name: Some("Shipping Desk".into()),
        company: "Northern Refurb Ltd".into(),
        phone: "613-555-0142".into(),
        address_line1: "88 Bank Street".into(),
        address_line2: None,
        city: "Ottawa".into(),
        province: "ON".into(),
        postal_code: "K1P5N2".into(),
        email: "shipping@northernrefurb.example".into(),
    }
}

/// The parcel of a variant without dimensions.
pub fn default_parcel() -> DefaultParcel {
    DefaultParcel {
        weight_kg: Decimal::ONE,
        length_cm: Decimal::from(30),
        width_cm: Decimal::from(20),
        height_cm: Decimal::from(10),
    }
}

/// A sellable variant listed on Best Buy under `shop_sku`, with `on_hand` units.
pub async fn listed_variant(pool: &PgPool, shop_sku: &str, on_hand: Option<i32>) -> Uuid {
    let product: Uuid =
        sqlx::query_scalar("insert into catalog.products (name) values ($1) returning id")
            .bind(format!("ThinkPad T480 ({shop_sku})"))
            .fetch_one(pool)
            .await
            .unwrap();
    let variant: Uuid = sqlx::query_scalar(
        "insert into catalog.product_variants
             (product_id, internal_sku, weight_grams, length_cm, width_cm, height_cm)
         values ($1, $2, 2250, 38, 27, 6) returning id",
    )
    .bind(product)
    .bind(format!("INT-{shop_sku}"))
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into catalog.shop_sku_map (channel, shop_sku, variant_id) values ('bestbuy_ca', $1, $2)",
    )
    .bind(shop_sku)
    .bind(variant)
    .execute(pool)
    .await
    .unwrap();
    if let Some(on_hand) = on_hand {
        stock(pool, variant, on_hand).await;
    }
    variant
}

/// A component variant with `on_hand` units, used `per_unit` times by `assembly`.
pub async fn component_of(
    pool: &PgPool,
    assembly: Uuid,
    name: &str,
    per_unit: i32,
    on_hand: i32,
) -> Uuid {
    let product: Uuid = sqlx::query_scalar(
        "insert into catalog.products (name, product_kind, component_type)
         values ($1, 'component', 'RAM') returning id",
    )
    .bind(name)
    .fetch_one(pool)
    .await
    .unwrap();
    let component: Uuid = sqlx::query_scalar(
        "insert into catalog.product_variants (product_id, internal_sku) values ($1, $2) returning id",
    )
    .bind(product)
    .bind(format!("CMP-{name}"))
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity)
         values ($1, $2, $3)",
    )
    .bind(assembly)
    .bind(component)
    .bind(Decimal::from(per_unit))
    .execute(pool)
    .await
    .unwrap();
    stock(pool, component, on_hand).await;
    component
}

async fn stock(pool: &PgPool, variant: Uuid, on_hand: i32) {
    sqlx::query("insert into inventory.stock_levels (variant_id, on_hand) values ($1, $2)")
        .bind(variant)
        .bind(on_hand)
        .execute(pool)
        .await
        .unwrap();
}

/// Reserves one unit of `variant` for every line of the order, as accepting it would.
pub async fn reserve_one_each(pool: &PgPool, order_id: Uuid, variant: Uuid) {
    sqlx::query(
        "insert into inventory.stock_reservations (order_line_id, variant_id, quantity)
         select id, $2, 1 from sales.order_lines where order_id = $1",
    )
    .bind(order_id)
    .bind(variant)
    .execute(pool)
    .await
    .unwrap();
}

/// (on_hand, reserved) of a variant.
pub async fn stock_of(pool: &PgPool, variant: Uuid) -> (i32, i32) {
    sqlx::query_as("select on_hand, reserved from inventory.stock_levels where variant_id = $1")
        .bind(variant)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A Best Buy order to record: waiting for acceptance unless told otherwise, shipped to
/// Toronto, one line per [`line`](Self::line) with ids `<external_id>-<n>`.
pub struct BestBuyOrder {
    external_id: String,
    status: String,
    lines: Vec<(String, i32)>,
}

impl BestBuyOrder {
    pub fn new(external_id: &str) -> Self {
        Self {
            external_id: external_id.to_owned(),
            status: "WAITING_ACCEPTANCE".to_owned(),
            lines: Vec::new(),
        }
    }

    /// The order's status as recorded.
    pub fn status(mut self, status: &str) -> Self {
        self.status = status.to_owned();
        self
    }

    /// A line of `quantity` units of `sku`.
    pub fn line(mut self, sku: &str, quantity: i32) -> Self {
        self.lines.push((sku.to_owned(), quantity));
        self
    }

    /// Records the order and its lines; returns the message that names it.
    pub async fn record(self, pool: &PgPool) -> OrderMessage {
        let order_id: Uuid = sqlx::query_scalar(
            "insert into sales.orders
                 (channel, external_id, commercial_id, status, total_amount, placed_at,
                  shipping_name, shipping_line1, shipping_line2, shipping_city, shipping_province,
                  shipping_postal_code, shipping_country_code, shipping_phone)
             values ('bestbuy_ca', $1, $2, $3, 1299.00, '2026-03-02T14:18:43Z',
                     'Amelia Tremblay', '221 Queen Street West', 'Unit 4', 'Toronto', 'ON',
                     'M5V 1Z4', 'CA', '4165550187')
             returning id",
        )
        .bind(&self.external_id)
        .bind(self.external_id.trim_end_matches("-A"))
        .bind(&self.status)
        .fetch_one(pool)
        .await
        .unwrap();
        for (index, (sku, quantity)) in self.lines.iter().enumerate() {
            sqlx::query(
                "insert into sales.order_lines
                     (order_id, line_number, external_line_id, sku, quantity, unit_price, line_total)
                 values ($1, $2, $3, $4, $5, 1299.00, 1299.00 * $5)",
            )
            .bind(order_id)
            .bind(index as i32 + 1)
            .bind(format!("{}-{}", self.external_id, index + 1))
            .bind(sku)
            .bind(quantity)
            .execute(pool)
            .await
            .unwrap();
        }
        OrderMessage::best_buy(order_id, &self.external_id)
    }
}

/// What Lambda hands a queue consumer (accept-orders, fetch-shipping-label) for a batch
/// of one message per order.
pub fn queued(orders: &[&OrderMessage]) -> LambdaEvent<SqsEvent> {
    let messages = orders
        .iter()
        .map(|order| (format!("message-{}", order.external_id), order.to_json()));
    LambdaEvent::new(sqs_event(messages), Context::default())
}

/// The order's status history: (status, who set it), oldest first.
pub async fn statuses(pool: &PgPool, order: &OrderMessage) -> Vec<(String, String)> {
    sqlx::query_as(
        "select status, source from sales.order_status_history where order_id = $1 order by changed_at, created_at",
    )
    .bind(order.order_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The reasons recorded in `ops.process_failures` for a person to look at.
pub async fn failures(pool: &PgPool, process: &str) -> Vec<String> {
    sqlx::query_scalar("select reason from ops.process_failures where process_name = $1")
        .bind(process)
        .fetch_all(pool)
        .await
        .unwrap()
}
