//! A small catalogue for the pricing tests: suppliers, variants with their bills of
//! materials and supplier prices, listings with current prices, rules and competitor
//! offers. Plain `sqlx::query` with binds: fixtures, not product queries.

use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

/// Reads a decimal written in the test.
pub fn dec(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

/// Runs one fixture statement.
pub async fn execute(pool: &PgPool, sql: &str) {
    sqlx::query(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("fixture failed: {e}\n{sql}"));
}

/// A supplier.
pub async fn supplier(pool: &PgPool, name: &str) -> Uuid {
    sqlx::query_scalar("insert into inventory.suppliers (name) values ($1) returning id")
        .bind(name)
        .fetch_one(pool)
        .await
        .expect("insert supplier")
}

/// A product with one variant `sku`, of `category` and carrying `tags`.
pub async fn variant(pool: &PgPool, sku: &str, category: Option<&str>, tags: &[&str]) -> Uuid {
    let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
    sqlx::query_scalar(
        "with product as (
             insert into catalog.products (name, category, tags) values ($1, $2, $3) returning id
         )
         insert into catalog.product_variants (product_id, internal_sku)
         select id, $1 from product returning id",
    )
    .bind(sku)
    .bind(category)
    .bind(&tags)
    .fetch_one(pool)
    .await
    .expect("insert variant")
}

/// A supplier price of `variant`: `unit_cost`, valid from `valid_from` to `valid_to`
/// (dates, `None` for open), with duty and shipping.
#[allow(clippy::too_many_arguments)]
pub async fn price(
    pool: &PgPool,
    variant: Uuid,
    supplier: Uuid,
    unit_cost: &str,
    valid_from: &str,
    valid_to: Option<&str>,
    duty_pct: &str,
    shipping: &str,
) {
    sqlx::query(
        "insert into inventory.component_prices
             (component_variant_id, supplier_id, unit_cost, valid_from, valid_to,
              import_duty_pct, shipping_cost)
         values ($1, $2, $3::numeric, $4::date, $5::date, $6::numeric, $7::numeric)",
    )
    .bind(variant)
    .bind(supplier)
    .bind(unit_cost)
    .bind(valid_from)
    .bind(valid_to)
    .bind(duty_pct)
    .bind(shipping)
    .execute(pool)
    .await
    .expect("insert component price");
}

/// A line of `parent`'s bill of materials.
pub async fn bom(pool: &PgPool, parent: Uuid, component: Uuid, quantity: &str) {
    sqlx::query(
        "insert into catalog.variant_components (variant_id, component_variant_id, quantity)
         values ($1, $2, $3::numeric)",
    )
    .bind(parent)
    .bind(component)
    .bind(quantity)
    .execute(pool)
    .await
    .expect("insert bill of materials line");
}

/// A listing of `variant` on `channel`, selling at `price`, with its stock.
pub async fn listing(pool: &PgPool, variant: Uuid, channel: &str, price: &str, stock: i32) -> Uuid {
    let listing: Uuid = sqlx::query_scalar(
        "insert into catalog.shop_sku_map (channel, shop_sku, variant_id)
         select $1, internal_sku || '-' || $1, id from catalog.product_variants where id = $2
         returning id",
    )
    .bind(channel)
    .bind(variant)
    .fetch_one(pool)
    .await
    .expect("insert listing");
    sqlx::query("insert into pricing.current_prices (listing_id, price) values ($1, $2::numeric)")
        .bind(listing)
        .bind(price)
        .execute(pool)
        .await
        .expect("insert current price");
    sqlx::query(
        "insert into inventory.stock_levels (variant_id, on_hand) values ($1, $2)
         on conflict (variant_id) do update set on_hand = excluded.on_hand",
    )
    .bind(variant)
    .bind(stock)
    .execute(pool)
    .await
    .expect("insert stock");
    listing
}

/// A rule stored directly, config unchecked (what an old row or a hand edit may hold).
pub async fn stored_rule(
    pool: &PgPool,
    name: &str,
    rule_type: &str,
    priority: i32,
    applies_to: &str,
    scope_value: Option<&str>,
    config: Value,
) -> Uuid {
    sqlx::query_scalar(
        "insert into pricing.price_rules (name, applies_to, scope_value, rule_type, config, priority)
         values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(name)
    .bind(applies_to)
    .bind(scope_value)
    .bind(rule_type)
    .bind(config)
    .bind(priority)
    .fetch_one(pool)
    .await
    .expect("insert rule")
}

/// A competitor's offer on `listing`'s product: a competitor product tracked for it.
pub async fn offer(
    pool: &PgPool,
    listing: Uuid,
    seller_id: &str,
    price: &str,
    buy_box: bool,
) -> Uuid {
    let competitor: Uuid = sqlx::query_scalar(
        "insert into competitors.products
             (channel, external_id, seller_id, seller_name, current_price, buy_box_price, buy_box_seller)
         values ('amazon', $1 || '-' || gen_random_uuid(), $1, $1, $2::numeric,
                 case when $3 then $2::numeric end, case when $3 then $1 end)
         returning id",
    )
    .bind(seller_id)
    .bind(price)
    .bind(buy_box)
    .fetch_one(pool)
    .await
    .expect("insert competitor product");
    sqlx::query(
        "insert into competitors.tracked_listings (competitor_id, listing_id) values ($1, $2)",
    )
    .bind(competitor)
    .bind(listing)
    .execute(pool)
    .await
    .expect("track competitor");
    competitor
}

/// How many rows `table` holds.
pub async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("select count(*) from {table}"))
        .fetch_one(pool)
        .await
        .expect("count rows")
}

/// The "re-evaluate these listings" messages queued in the outbox so far, oldest first:
/// (reason, listing ids).
pub async fn queued_reevaluations(pool: &PgPool) -> Vec<(String, Vec<Uuid>)> {
    let bodies: Vec<Value> = sqlx::query_scalar(
        "select message_body from ops.outbox
         where queue_name = 'pricing' and message_body->>'kind' = 'reevaluate_listings'
         order by dedup_id",
    )
    .fetch_all(pool)
    .await
    .expect("read the queued re-evaluations");
    bodies
        .into_iter()
        .map(|body| {
            let listings = body["listing_ids"]
                .as_array()
                .expect("listing_ids")
                .iter()
                .map(|id| {
                    id.as_str()
                        .and_then(|id| id.parse().ok())
                        .expect("a listing id")
                })
                .collect();
            (
                body["reason"].as_str().expect("a reason").to_owned(),
                listings,
            )
        })
        .collect()
}
