//! Helpers for the order-file import tests and benchmark: a bucket of the test's own,
//! uploads, an importer with test settings and its handler, and a digest of everything
//! an import leaves in the database.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use lambda_runtime::{Context, LambdaEvent};
use secrecy::SecretString;
use sellerops::flows::ingest::{ImportOptions, ObjectRef, OrderFileImporter};
use sellerops::model::customer_email::EmailPepper;
use sellerops::model::money::Currency;
use sellerops::systems::aws::AwsClients;
use serde::Serialize;
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::{create_local_bucket, unique_name};

/// The e-mail pepper of every test import.
pub const TEST_PEPPER: &str = "pepper-for-the-integration-tests";

/// The currency test imports assume when a file names none (the sample seller is in
/// Kenya).
pub const TEST_DEFAULT_CURRENCY: &str = "KES";

/// Creates a bucket of the caller's own in the local S3, versioned like the orders
/// bucket unless told otherwise.
pub async fn create_bucket(aws: &AwsClients, versioned: bool) -> String {
    let bucket = create_local_bucket(aws, "orders-test").await;
    if versioned {
        aws.s3
            .put_bucket_versioning()
            .bucket(&bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("enable versioning");
    }
    bucket
}

/// Uploads `body` and returns the object version as a notification would name it.
pub async fn upload(aws: &AwsClients, bucket: &str, key: &str, body: Vec<u8>) -> ObjectRef {
    let size = body.len() as i64;
    let put = aws
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("put object");
    ObjectRef {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        version_id: put.version_id().map(str::to_owned),
        etag: put.e_tag().map(|tag| tag.trim_matches('"').to_owned()),
        size: Some(size),
    }
}

/// An importer on `pool` and the local S3, with the test pepper and default currency.
pub fn importer(pool: &PgPool, aws: &AwsClients, options: ImportOptions) -> OrderFileImporter {
    OrderFileImporter::new(
        pool.clone(),
        aws.s3.clone(),
        EmailPepper::new(SecretString::from(TEST_PEPPER)),
        Currency::parse(TEST_DEFAULT_CURRENCY).expect("currency"),
    )
    .with_options(options)
}

/// Runs the function's handler as Lambda would, with `event` (an SQS or S3 event) as
/// the payload.
pub async fn invoke(
    importer: &OrderFileImporter,
    event: impl Serialize,
) -> Result<Value, lambda_runtime::Error> {
    let payload = serde_json::to_value(event).expect("an event is JSON");
    ingest_orders_file::handle(importer, LambdaEvent::new(payload, Context::default())).await
}

/// Everything an import leaves in the database, by natural keys (no generated ids), one
/// sorted line per row: two databases that imported the same files the same way have
/// equal digests.
pub async fn database_digest(pool: &PgPool) -> Vec<String> {
    const QUERIES: [&str; 8] = [
        "select format('customer %s region=%s first=%s last=%s channel=%s',
                encode(email_hash, 'hex'), region, first_order_at, last_order_at, channel)
         from sales.customers",
        "select format('product %s name=%s category=%s base_price=%s %s',
                sku, name, category, base_price, currency)
         from catalog.products",
        "select format('variant %s of %s', v.internal_sku, p.sku)
         from catalog.product_variants v join catalog.products p on p.id = v.product_id",
        "select format('order %s customer=%s placed=%s total=%s %s paid=%s status=%s file=%s',
                o.external_id, encode(c.email_hash, 'hex'), o.placed_at, o.total_amount,
                o.currency, o.payment_method, o.status, f.object_key)
         from sales.orders o
         left join sales.customers c on c.id = o.customer_id
         left join ingest.ingestion_files f on f.id = o.ingestion_file_id",
        "select format('line %s #%s %s variant=%s title=%s qty=%s price=%s total=%s %s row=%s',
                o.external_id, l.line_number, l.sku, v.internal_sku, l.title, l.quantity,
                l.unit_price, l.line_total, l.currency, l.raw_payload->>'row_number')
         from sales.order_lines l
         join sales.orders o on o.id = l.order_id
         left join catalog.product_variants v on v.id = l.variant_id",
        "select format('aggregate %s %s %s %s revenue=%s %s units=%s orders=%s customers=%s',
                a.day, p.sku, a.category, a.payment_method, a.revenue, a.currency, a.units,
                a.order_count, a.unique_customers)
         from analytics.sales_aggregates_daily a join catalog.products p on p.id = a.product_id",
        "select format('error %s row=%s column=%s reason=%s raw=%s',
                f.object_key, e.row_number, e.column_name, e.reason, e.raw_row)
         from ingest.ingestion_errors e join ingest.ingestion_files f on f.id = e.file_id",
        "select format('file %s status=%s hash=%s total=%s processed=%s failed=%s error=%s duplicate_of=%s lease=%s',
                f.object_key, f.status, f.content_hash, f.total_rows, f.processed_rows,
                f.failed_rows, f.error_message, d.object_key, f.locked_until is not null)
         from ingest.ingestion_files f
         left join ingest.ingestion_files d on d.id = f.duplicate_of_file_id",
    ];
    let mut lines = Vec::new();
    for query in QUERIES {
        let rows: Vec<String> = sqlx::query_scalar(query)
            .fetch_all(pool)
            .await
            .unwrap_or_else(|err| panic!("{query}: {err}"));
        lines.extend(rows);
    }
    lines.sort();
    lines
}

/// A second, empty database with the migrations applied, for comparing an import
/// against a clean one. Drop it with [`ScratchDatabase::drop`].
pub struct ScratchDatabase {
    admin: PgPool,
    name: String,
    /// A pool on the scratch database.
    pub pool: PgPool,
}

impl ScratchDatabase {
    /// Creates it on the server `admin` is connected to.
    pub async fn create(admin: &PgPool) -> Self {
        let name = unique_name("scratch").replace('-', "_");
        sqlx::query(&format!("create database {name}"))
            .execute(admin)
            .await
            .expect("create scratch database");
        let options = (*admin.connect_options()).clone().database(&name);
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .expect("connect to scratch database");
        sellerops::MIGRATOR
            .run(&pool)
            .await
            .expect("migrate scratch database");
        Self {
            admin: admin.clone(),
            name,
            pool,
        }
    }

    /// Closes its pool and drops it.
    pub async fn drop(self) {
        self.pool.close().await;
        sqlx::query(&format!("drop database {} with (force)", self.name))
            .execute(&self.admin)
            .await
            .expect("drop scratch database");
    }
}

/// Writes a deterministic order file: orders of one to four lines over 90 days,
/// 100,000 customers, 1,000 SKUs in 20 categories, every payment method and a few
/// spellings of each. Returns its size in bytes.
pub fn write_order_file(path: &Path, rows: u64) -> std::io::Result<u64> {
    const METHODS: [&str; 7] = [
        "M-Pesa",
        "mpesa",
        "MPESA",
        "Paystack",
        "card",
        "Bank Transfer",
        "other",
    ];
    const REGIONS: [&str; 8] = [
        "Nairobi", "Mombasa", "Kisumu", "Nakuru", "Eldoret", "Kiambu", "Machakos", "Thika",
    ];
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    out.write_all(b"order_ref,order_date,customer_email,customer_region,sku,product_name,category,quantity,unit_price,payment_method,currency\n")?;
    let mut random = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        // xorshift64*: deterministic and good enough to spread orders.
        random ^= random >> 12;
        random ^= random << 25;
        random ^= random >> 27;
        random.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut written = 0_u64;
    let mut order = 0_u64;
    while written < rows {
        order += 1;
        let lines = 1 + next() % 4;
        let customer = next() % 100_000;
        let day = 1 + next() % 90;
        let minute = next() % (24 * 60);
        let (month, day_of_month) = match day {
            1..=31 => (1, day),
            32..=59 => (2, day - 31),
            _ => (3, day - 59),
        };
        let method = METHODS[(next() % METHODS.len() as u64) as usize];
        let region = REGIONS[(customer % REGIONS.len() as u64) as usize];
        let first_sku = next() % 1_000;
        for line in 0..lines {
            if written == rows {
                break;
            }
            let sku = (first_sku + line * 37) % 1_000;
            writeln!(
                out,
                "BENCH-{order:08},2026-{month:02}-{day_of_month:02}T{:02}:{:02}:00+03:00,customer{customer}@example.com,{region},SKU-{sku:04},Product {sku},Category {},{},{}.{:02},{method},KES",
                minute / 60,
                minute % 60,
                sku % 20,
                1 + (sku + line) % 5,
                100 + sku * 7,
                (sku * 13) % 100
            )?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(out.get_ref().metadata()?.len())
}

/// One gzip member holding `text`. Members written one after another are one gzip
/// file, so a member of a mebibyte of zeros repeated makes a small file that expands
/// to any size.
pub async fn gzip_member(text: &[u8]) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut encoder = async_compression::tokio::bufread::GzipEncoder::new(text);
    let mut out = Vec::new();
    encoder.read_to_end(&mut out).await.expect("gzip in memory");
    out
}

/// A gzip order file: the header row, `before`, then `mebibytes` MiB of `filler`
/// bytes, then `after`. Zeros make a bomb of text; letters after an opening quote
/// make one field as long as the file.
pub async fn gzip_bomb(before: &str, filler: u8, mebibytes: usize, after: &str) -> Vec<u8> {
    const HEADER: &str = "order_ref,order_date,customer_email,customer_region,sku,product_name,category,quantity,unit_price,payment_method,currency\n";
    let mut body = gzip_member(format!("{HEADER}{before}").as_bytes()).await;
    let mebibyte = gzip_member(&vec![filler; 1 << 20]).await;
    for _ in 0..mebibytes {
        body.extend_from_slice(&mebibyte);
    }
    body.extend_from_slice(&gzip_member(after.as_bytes()).await);
    body
}
