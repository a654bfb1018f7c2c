//! The SQL of one batch: set-based reads and writes over arrays (`unnest`), a handful
//! of statements per batch whatever its size, all inside the batch's transaction.
//!
//! An array argument written `as _` is not type-checked by the query macros, which know
//! arrays only as `&[T]` of owned, non-null elements; the casts in the SQL fix its type.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::chunk_plan::{BatchPlan, KnownLine, KnownOrder, NewLine, NewOrder, ProductMention};
use super::order_file_row::RejectedRow;
use super::payment_method::PaymentMethod;
use crate::model::channel::Channel;
use crate::model::customer_email::EmailHash;
use crate::model::customers::record_customer_visits;

/// Advisory lock held by every transaction that writes file-imported orders. Imports
/// of different files then never interleave inside a batch, so what a batch reads about
/// existing orders stays true until it commits. ("sellerops: file import orders".)
const FILE_IMPORT_ORDERS_LOCK: i64 = 0x5345_4c4c_4f50_0001;

/// Order status given to imported orders: files record sales already made.
const IMPORTED_STATUS: &str = "imported";

/// Takes the advisory lock `FILE_IMPORT_ORDERS_LOCK` until the end of the transaction.
pub async fn lock_file_import_orders(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("select pg_advisory_xact_lock($1)", FILE_IMPORT_ORDERS_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

/// The file-imported orders among `order_refs`, with their lines.
pub async fn known_orders(
    conn: &mut PgConnection,
    order_refs: &[String],
) -> Result<HashMap<String, KnownOrder>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select o.external_id, o.id, c.email_hash as "email_hash?", o.placed_at,
                o.currency::text as "currency!", o.payment_method::text as "payment_method",
                o.total_amount
         from sales.orders o
         left join sales.customers c on c.id = o.customer_id
         where o.channel = $1 and o.external_id = any($2)"#,
        Channel::FileImport.as_str(),
        order_refs,
    )
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let mut orders: HashMap<Uuid, (String, KnownOrder)> = rows
        .into_iter()
        .map(|row| {
            let order = KnownOrder {
                id: row.id,
                customer: row.email_hash.as_deref().and_then(EmailHash::from_stored),
                placed_at: row.placed_at,
                currency: row.currency,
                payment_method: row
                    .payment_method
                    .as_deref()
                    .and_then(PaymentMethod::from_stored),
                total: row.total_amount,
                lines: HashMap::new(),
                last_line_number: 0,
            };
            (row.id, (row.external_id, order))
        })
        .collect();
    let ids: Vec<Uuid> = orders.keys().copied().collect();
    let lines = sqlx::query!(
        "select order_id, sku, quantity, unit_price, line_number
         from sales.order_lines where order_id = any($1)",
        &ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    for line in lines {
        if let Some((_, order)) = orders.get_mut(&line.order_id) {
            order.last_line_number = order.last_line_number.max(line.line_number);
            order.lines.insert(
                line.sku,
                KnownLine {
                    quantity: line.quantity,
                    unit_price: line.unit_price,
                },
            );
        }
    }
    Ok(orders.into_values().collect())
}

/// Variant ids by SKU, remembered across the batches of one import so that a SKU costs
/// a query only the first time it appears. Holds committed ids only.
#[derive(Debug, Default)]
pub struct VariantCache {
    committed: HashMap<String, Uuid>,
}

/// Beyond this many SKUs the cache starts over, keeping memory flat on any file.
const VARIANT_CACHE_LIMIT: usize = 50_000;

impl VariantCache {
    /// Remembers ids whose transaction has committed.
    pub fn remember(&mut self, resolved: HashMap<String, Uuid>) {
        if self.committed.len() + resolved.len() > VARIANT_CACHE_LIMIT {
            self.committed.clear();
        }
        self.committed.extend(resolved);
    }
}

/// The variant of every product the batch's new lines name, creating the product and
/// its variant for an unknown SKU. The order file's SKU is the variant's internal SKU;
/// a new product takes the SKU, the name, the category and the price of the row that
/// introduced it. An existing product only gains a category it lacked: catalogue data
/// is not overwritten by order files.
pub async fn resolve_variants(
    conn: &mut PgConnection,
    products: &[ProductMention],
    cache: &VariantCache,
) -> Result<HashMap<String, Uuid>, sqlx::Error> {
    let mut resolved = HashMap::with_capacity(products.len());
    let mut unknown: Vec<&ProductMention> = Vec::new();
    for product in products {
        match cache.committed.get(product.sku.as_str()) {
            Some(id) => {
                resolved.insert(product.sku.as_str().to_owned(), *id);
            }
            None => unknown.push(product),
        }
    }
    if unknown.is_empty() {
        return Ok(resolved);
    }
    let skus: Vec<&str> = unknown.iter().map(|p| p.sku.as_str()).collect();
    let found = variants_by_sku(conn, &skus).await?;
    let missing: Vec<&ProductMention> = unknown
        .into_iter()
        .filter(|p| !found.contains_key(p.sku.as_str()))
        .collect();
    resolved.extend(found);
    if missing.is_empty() {
        return Ok(resolved);
    }

    let skus: Vec<&str> = missing.iter().map(|p| p.sku.as_str()).collect();
    let names: Vec<&str> = missing.iter().map(|p| p.name.as_str()).collect();
    let categories: Vec<Option<&str>> = missing.iter().map(|p| p.category.as_deref()).collect();
    let prices: Vec<Decimal> = missing.iter().map(|p| p.unit_price).collect();
    let currencies: Vec<&str> = missing.iter().map(|p| p.currency.code()).collect();
    sqlx::query!(
        "insert into catalog.products as p (sku, name, category, base_price, currency)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::text[])
         on conflict (sku) do update set category = excluded.category
             where p.category is null and excluded.category is not null",
        &skus as _,
        &names as _,
        &categories as _,
        &prices,
        &currencies as _,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "insert into catalog.product_variants (product_id, internal_sku, name, list_price, currency)
         select p.id, p.sku, p.name, p.base_price, p.currency
         from catalog.products p
         where p.sku = any($1)
         on conflict (internal_sku) do nothing",
        &skus as _,
    )
    .execute(&mut *conn)
    .await?;
    resolved.extend(variants_by_sku(conn, &skus).await?);
    Ok(resolved)
}

async fn variants_by_sku(
    conn: &mut PgConnection,
    skus: &[&str],
) -> Result<HashMap<String, Uuid>, sqlx::Error> {
    let rows = sqlx::query!(
        "select internal_sku, id from catalog.product_variants where internal_sku = any($1)",
        skus as _,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.internal_sku, row.id))
        .collect())
}

/// Inserts the batch's new orders. Their ids were chosen by the plan, time-ordered.
pub async fn insert_orders(
    conn: &mut PgConnection,
    file_id: Uuid,
    orders: &[NewOrder],
    customers: &HashMap<EmailHash, Uuid>,
) -> Result<(), sqlx::Error> {
    if orders.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    let refs: Vec<&str> = orders.iter().map(|o| o.header.order_ref.as_str()).collect();
    let customer_ids: Vec<Option<Uuid>> = orders
        .iter()
        .map(|o| customers.get(&o.header.customer).copied())
        .collect();
    let currencies: Vec<&str> = orders.iter().map(|o| o.header.currency.code()).collect();
    let totals: Vec<Decimal> = orders.iter().map(|o| o.total).collect();
    let methods: Vec<&str> = orders
        .iter()
        .map(|o| o.header.payment_method.as_str())
        .collect();
    let placed: Vec<DateTime<Utc>> = orders.iter().map(|o| o.header.placed_at.at()).collect();
    let rows: Vec<i32> = orders.iter().map(|o| o.first_row).collect();
    sqlx::query!(
        "insert into sales.orders
             (id, channel, external_id, customer_id, ingestion_file_id, status, currency,
              total_amount, payment_method, placed_at, raw_payload)
         select o.id, $1, o.external_id, o.customer_id, $2, $3, o.currency, o.total_amount,
                o.payment_method, o.placed_at,
                jsonb_build_object('ingestion_file_id', $2::uuid, 'row_number', o.row_number)
         from unnest($4::uuid[], $5::text[], $6::uuid[], $7::text[], $8::numeric[], $9::text[],
                     $10::timestamptz[], $11::int4[])
             as o(id, external_id, customer_id, currency, total_amount, payment_method,
                  placed_at, row_number)",
        Channel::FileImport.as_str() as &str,
        file_id,
        IMPORTED_STATUS,
        &ids,
        &refs as _,
        &customer_ids as _,
        &currencies as _,
        &totals,
        &methods as _,
        &placed,
        &rows,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts the batch's new lines. A line's `external_line_id` is its SKU: one line per
/// SKU per order, which the `(order_id, external_line_id)` key enforces. Ids are
/// time-ordered (UUIDv7), so the primary key index grows at one end instead of taking
/// random page writes.
pub async fn insert_lines(
    conn: &mut PgConnection,
    file_id: Uuid,
    lines: &[NewLine],
    variants: &HashMap<String, Uuid>,
) -> Result<(), sqlx::Error> {
    if lines.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = lines.iter().map(|_| Uuid::now_v7()).collect();
    let order_ids: Vec<Uuid> = lines.iter().map(|l| l.order_id).collect();
    let numbers: Vec<i32> = lines.iter().map(|l| l.line_number).collect();
    let skus: Vec<&str> = lines.iter().map(|l| l.line.sku.as_str()).collect();
    let variant_ids: Vec<Option<Uuid>> = lines
        .iter()
        .map(|l| variants.get(l.line.sku.as_str()).copied())
        .collect();
    let titles: Vec<Option<&str>> = lines
        .iter()
        .map(|l| l.line.product_name.as_deref())
        .collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.line.quantity.get()).collect();
    let prices: Vec<Decimal> = lines.iter().map(|l| l.line.unit_price.amount()).collect();
    let currencies: Vec<&str> = lines.iter().map(|l| l.currency.code()).collect();
    let totals: Vec<Decimal> = lines.iter().map(|l| l.line.line_total()).collect();
    let rows: Vec<i32> = lines.iter().map(|l| l.row_number).collect();
    sqlx::query!(
        "insert into sales.order_lines
             (id, order_id, line_number, external_line_id, sku, variant_id, title, quantity,
              unit_price, currency, line_total, ingestion_file_id, raw_payload)
         select l.id, l.order_id, l.line_number, l.sku, l.sku, l.variant_id, l.title,
                l.quantity, l.unit_price, l.currency, l.line_total, $1,
                jsonb_build_object('ingestion_file_id', $1::uuid, 'row_number', l.row_number)
         from unnest($2::uuid[], $3::uuid[], $4::int4[], $5::text[], $6::uuid[], $7::text[],
                     $8::int4[], $9::numeric[], $10::text[], $11::numeric[], $12::int4[])
             as l(id, order_id, line_number, sku, variant_id, title, quantity, unit_price,
                  currency, line_total, row_number)",
        file_id,
        &ids,
        &order_ids,
        &numbers,
        &skus as _,
        &variant_ids as _,
        &titles as _,
        &quantities,
        &prices,
        &currencies as _,
        &totals,
        &rows,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets each order's total to the sum of its lines.
pub async fn sum_order_totals(
    conn: &mut PgConnection,
    order_ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    if order_ids.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "update sales.orders o set total_amount = l.total
         from (select order_id, sum(line_total) as total from sales.order_lines
               where order_id = any($1) group by order_id) l
         where o.id = l.order_id and o.total_amount <> l.total",
        order_ids,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records rejected rows: one `ingestion_errors` row per problem.
pub async fn insert_row_errors<'r>(
    conn: &mut PgConnection,
    file_id: Uuid,
    rejected: impl IntoIterator<Item = &'r RejectedRow>,
) -> Result<(), sqlx::Error> {
    let mut rows = Vec::new();
    let mut columns = Vec::new();
    let mut reasons = Vec::new();
    let mut raw = Vec::new();
    for row in rejected {
        for problem in &row.problems {
            rows.push(row.row_number);
            columns.push(problem.column.map(|c| c.name()));
            reasons.push(problem.reason.as_str());
            raw.push(row.redacted_cells.as_str());
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "insert into ingest.ingestion_errors (file_id, row_number, column_name, reason, raw_row)
         select $1, e.row_number, e.column_name, e.reason, e.raw_row
         from unnest($2::int4[], $3::text[], $4::text[], $5::text[])
             as e(row_number, column_name, reason, raw_row)",
        file_id,
        &rows,
        &columns as _,
        &reasons as _,
        &raw as _,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the UTC days whose orders the batch changed.
pub async fn record_days(
    conn: &mut PgConnection,
    file_id: Uuid,
    days: &BTreeSet<NaiveDate>,
) -> Result<(), sqlx::Error> {
    if days.is_empty() {
        return Ok(());
    }
    let days: Vec<NaiveDate> = days.iter().copied().collect();
    sqlx::query!(
        "insert into ingest.ingestion_file_days (file_id, day)
         select $1, unnest($2::date[])
         on conflict do nothing",
        file_id,
        &days,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes everything a plan decided, in order: products, customers, orders, lines,
/// order totals, days. Returns the variant ids it resolved, for the cache once the
/// transaction commits.
pub async fn write_plan(
    conn: &mut PgConnection,
    file_id: Uuid,
    plan: &BatchPlan,
    cache: &VariantCache,
) -> Result<HashMap<String, Uuid>, sqlx::Error> {
    let variants = resolve_variants(conn, &plan.products, cache).await?;
    let customers = record_customer_visits(conn, Channel::FileImport, &plan.customers).await?;
    insert_orders(conn, file_id, &plan.new_orders, &customers).await?;
    insert_lines(conn, file_id, &plan.new_lines, &variants).await?;
    sum_order_totals(conn, &plan.grown_orders).await?;
    record_days(conn, file_id, &plan.days).await?;
    Ok(variants)
}
