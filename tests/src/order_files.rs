//! Helpers for the order-file import tests and benchmark: a bucket of the test's own,
//! uploads, the events S3 and SQS would send, an importer with test settings, and a
//! digest of everything an import leaves in the database.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use lambda_runtime::{Context, LambdaEvent};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use secrecy::SecretString;
use sellerops::flows::ingest::{ImportOptions, ObjectRef, OrderFileImporter};
use sellerops::model::customer_email::EmailPepper;
use sellerops::model::money::Currency;
use sellerops::systems::aws::AwsClients;
use serde_json::{json, Value};
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

/// Runs the function's handler as Lambda would.
pub async fn invoke(
    importer: &OrderFileImporter,
    payload: Value,
) -> Result<Value, lambda_runtime::Error> {
    ingest_orders_file::handle(importer, LambdaEvent::new(payload, Context::default())).await
}

/// Characters S3 leaves as they are when it URL-encodes a key for a notification.
const KEY_ENCODING: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'*');

/// One S3 notification record for `object`, its key URL-encoded as S3 sends it.
pub fn s3_record(object: &ObjectRef) -> Value {
    let key = utf8_percent_encode(&object.key, KEY_ENCODING)
        .to_string()
        .replace("%20", "+");
    let mut s3_object =
        json!({ "key": key, "size": object.size, "sequencer": "0055AED6DCD90281E5" });
    if let Some(version) = &object.version_id {
        s3_object["versionId"] = json!(version);
    }
    if let Some(etag) = &object.etag {
        s3_object["eTag"] = json!(etag);
    }
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "ca-central-1",
        "eventTime": "2026-03-04T08:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "orders-object-created-to-ingest",
            "bucket": {"name": object.bucket, "arn": format!("arn:aws:s3:::{}", object.bucket)},
            "object": s3_object
        }
    })
}

/// A direct S3 event naming `objects`.
pub fn s3_event(objects: &[&ObjectRef]) -> Value {
    json!({ "Records": objects.iter().map(|object| s3_record(object)).collect::<Vec<_>>() })
}

/// The S3 test event S3 sends when a notification is configured.
pub fn s3_test_event() -> Value {
    json!({
        "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-03-04T08:00:00.000Z",
        "Bucket": "sellerops-orders", "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw"
    })
}

/// An SQS event as the ingest queue's event source mapping delivers it: one record per
/// `(message id, body)`.
pub fn sqs_event(messages: &[(&str, Value)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("receipt-{id}"),
                "body": body.to_string(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ca-central-1:123456789012:sellerops-ingest",
                "awsRegion": "ca-central-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The ids of the messages a handler's SQS response asks to have delivered again.
pub fn failed_message_ids(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .map(|failures| {
            failures
                .iter()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
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
