//! ingest-orders-file: what an order file becomes. Formats, bad rows, customers,
//! products, orders and the daily aggregates, against the real PostgreSQL and the local
//! S3, through the function's handler.

use rust_decimal::Decimal;
use sellerops::flows::ingest::notification::notifications_in_message_body;
use sellerops::flows::ingest::{
    ImportOptions, ImportOutcome, Invocation, Notification, ObjectRef, OrderFileImporter,
    OrderFileLimits,
};
use sellerops_tests::events::{failed_message_ids, s3_event, s3_test_event, sqs_event};
use sellerops_tests::fixtures::{self, order_file};
use sellerops_tests::local_aws;
use sellerops_tests::order_files::{create_bucket, gzip_bomb, importer, invoke, upload};
use serde_json::json;
use sqlx::PgPool;
use std::str::FromStr;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// Uploads `body` to a bucket of the test's own and imports it directly.
async fn import_bytes(
    pool: &PgPool,
    key: &str,
    body: Vec<u8>,
) -> (ImportOutcome, OrderFileImporter, ObjectRef) {
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let object = upload(&aws, &bucket, key, body).await;
    let importer = importer(pool, &aws, ImportOptions::default());
    let outcome = importer.import(&object).await.expect("import");
    (outcome, importer, object)
}

async fn scalar_i64(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

fn completed(outcome: &ImportOutcome) -> (i64, i64, i64) {
    match outcome {
        ImportOutcome::Completed {
            total_rows,
            processed_rows,
            failed_rows,
            ..
        } => (*total_rows, *processed_rows, *failed_rows),
        other => panic!("expected a completed import, got {other:?}"),
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_sample_file_becomes_customers_products_orders_and_lines(pool: PgPool) {
    // Act
    let (outcome, _, _) = import_bytes(
        &pool,
        "incoming/sample-orders.csv",
        order_file("sample-orders.csv"),
    )
    .await;

    // Assert
    assert_eq!(completed(&outcome), (12, 12, 0));
    type FileRow = (String, i32, i32, i32, bool, i64, bool);
    let (status, total, processed, failed, hash_matches, size, timed): FileRow = sqlx::query_as(
        "select status::text, total_rows, processed_rows, failed_rows,
                content_hash = encode(sha256($1), 'hex'), size_bytes,
                started_at <= completed_at and locked_until is null
         from ingest.ingestion_files",
    )
    .bind(order_file("sample-orders.csv"))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), total, processed, failed),
        ("completed", 12, 12, 0)
    );
    assert!(hash_matches, "content_hash is the SHA-256 of the file");
    assert_eq!(size, order_file("sample-orders.csv").len() as i64);
    assert!(
        timed,
        "started and completed times are set, the lease is gone"
    );
    assert_eq!(
        scalar_i64(&pool, "select count(*) from sales.customers").await,
        5
    );
    assert_eq!(
        scalar_i64(&pool, "select count(*) from catalog.products").await,
        6
    );
    assert_eq!(
        scalar_i64(&pool, "select count(*) from catalog.product_variants").await,
        6
    );
    assert_eq!(
        scalar_i64(&pool, "select count(*) from sales.order_lines").await,
        12
    );
    let orders: Vec<(String, Decimal, String, String, String)> = sqlx::query_as(
        "select external_id, total_amount, payment_method::text, currency::text, channel::text
         from sales.orders order by external_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected = [
        ("SHG-10001", "6750.00", "mpesa"),
        ("SHG-10002", "3600.00", "mpesa"),
        ("SHG-10003", "2450.00", "card"),
        ("SHG-10004", "8000.00", "mpesa"),
        ("SHG-10005", "3101.00", "bank_transfer"),
        ("SHG-10006", "5650.00", "paystack"),
        ("SHG-10007", "1750.50", "other"),
    ];
    assert_eq!(orders.len(), expected.len());
    for ((order_ref, total, method, currency, channel), (want_ref, want_total, want_method)) in
        orders.iter().zip(expected)
    {
        assert_eq!(order_ref, want_ref);
        assert_eq!(*total, dec(want_total), "{order_ref}");
        assert_eq!(method, want_method, "{order_ref}");
        assert_eq!(currency, "KES");
        assert_eq!(channel, "file_import");
    }
    // Every order's total is the sum of its lines.
    assert_eq!(
        scalar_i64(
            &pool,
            "select count(*) from sales.orders o
             where o.total_amount <> (select sum(line_total) from sales.order_lines where order_id = o.id)"
        )
        .await,
        0
    );
    let (name, category): (String, String) =
        sqlx::query_as("select name, category from catalog.products where sku = 'SISAL-BASKET-M'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(name, "Woven sisal basket \"kiondo\", medium");
    assert_eq!(category, "Home decor");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn one_customer_per_address_with_first_and_last_order_and_the_latest_region(pool: PgPool) {
    // Act: Wanjiku orders twice, the second time with her address in another case.
    import_bytes(&pool, "sample-orders.csv", order_file("sample-orders.csv")).await;

    // Assert
    let (orders, region, first, last): (i64, String, String, String) = sqlx::query_as(
        "select count(o.id), c.region, c.first_order_at::text, c.last_order_at::text
         from sales.customers c join sales.orders o on o.customer_id = c.id
         where o.external_id in ('SHG-10001', 'SHG-10004')
         group by c.id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(orders, 2, "both orders belong to one customer");
    assert_eq!(region, "Nakuru", "the region of her latest order");
    assert_eq!(first, "2026-03-02 06:15:00+00");
    assert_eq!(last, "2026-03-02 22:30:00+00");
    let plain: i64 = scalar_i64(
        &pool,
        "select count(*) from sales.customers c
         where c::text ilike '%wanjiku%' or c::text ilike '%example%'",
    )
    .await;
    assert_eq!(plain, 0, "no plain address is stored");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_customer_seen_in_two_files_keeps_one_row_spanning_both(pool: PgPool) {
    // Arrange
    import_bytes(&pool, "march.csv", order_file("sample-orders.csv")).await;
    let april = "order_ref,order_date,customer_email,customer_region,sku,product_name,category,quantity,unit_price,payment_method\n\
                 SHG-10100,2026-04-10T10:00:00+03:00,  WANJIKU.KAMAU@example.co.ke ,Eldoret,SOLAR-LAMP-01,,,1,2450,mpesa\n\
                 SHG-10101,2026-02-01T10:00:00+03:00,wanjiku.kamau@example.co.ke,Thika,SOLAR-LAMP-01,,,1,2450,mpesa\n";

    // Act
    let (outcome, _, _) = import_bytes(&pool, "april.csv", april.as_bytes().to_vec()).await;

    // Assert
    assert_eq!(completed(&outcome), (2, 2, 0));
    let (count, region, first, last): (i64, String, String, String) = sqlx::query_as(
        "select count(distinct c.id), min(c.region), min(c.first_order_at)::text, max(c.last_order_at)::text
         from sales.customers c join sales.orders o on o.customer_id = c.id
         where o.external_id in ('SHG-10001', 'SHG-10100', 'SHG-10101')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(count, 1);
    assert_eq!(
        region, "Eldoret",
        "an older order does not move the region back"
    );
    assert_eq!(first, "2026-02-01 07:00:00+00");
    assert_eq!(last, "2026-04-10 07:00:00+00");
    assert_eq!(
        scalar_i64(&pool, "select count(*) from catalog.products").await,
        6,
        "SKU upsert"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn columns_in_any_order_and_case_with_bom_crlf_quotes_and_extras_read_as_the_same_orders(
    pool: PgPool,
) {
    // Arrange: the reordered file first, into an empty database.
    let (outcome, _, _) = import_bytes(
        &pool,
        "reordered.csv",
        order_file("sample-orders-reordered.csv"),
    )
    .await;
    assert_eq!(completed(&outcome), (12, 12, 0));

    // Act: the plain sample, the same orders written the seed's way.
    let (outcome, _, _) = import_bytes(&pool, "plain.csv", order_file("sample-orders.csv")).await;

    // Assert: every row is recognised as already imported; nothing new, nothing refused.
    assert_eq!(completed(&outcome), (12, 12, 0));
    assert_eq!(
        scalar_i64(&pool, "select count(*) from sales.orders").await,
        7
    );
    assert_eq!(
        scalar_i64(&pool, "select count(*) from sales.order_lines").await,
        12
    );
    assert_eq!(
        scalar_i64(&pool, "select count(*) from ingest.ingestion_errors").await,
        0
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_gzipped_file_imports_like_the_plain_one(pool: PgPool) {
    // Act
    let (outcome, _, _) = import_bytes(
        &pool,
        "incoming/orders.csv.gz",
        order_file("sample-orders.csv.gz"),
    )
    .await;

    // Assert
    assert_eq!(completed(&outcome), (12, 12, 0));
    let (total,): (Decimal,) = sqlx::query_as("select sum(total_amount) from sales.orders")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, dec("31301.50"));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_file_without_a_currency_column_takes_the_configured_currency(pool: PgPool) {
    let (outcome, _, _) = import_bytes(
        &pool,
        "no-currency.csv",
        order_file("no-currency-column.csv"),
    )
    .await;
    assert_eq!(completed(&outcome), (3, 3, 0));
    let currencies: Vec<String> =
        sqlx::query_scalar("select distinct currency::text from sales.orders")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(currencies, ["KES"]);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn bad_rows_are_recorded_with_row_column_and_reason_and_the_rest_is_imported(pool: PgPool) {
    // Act
    let (outcome, _, _) = import_bytes(&pool, "bad-rows.csv", order_file("bad-rows.csv")).await;

    // Assert: processed + failed = total.
    assert_eq!(completed(&outcome), (9, 2, 7));
    let errors: Vec<(i32, Option<String>, String, String)> = sqlx::query_as(
        "select row_number, column_name, reason, raw_row from ingest.ingestion_errors
         order by row_number, column_name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let found: Vec<(i32, Option<&str>)> = errors
        .iter()
        .map(|(row, column, _, _)| (*row, column.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            (3, Some("order_date")),
            (4, Some("quantity")),
            (5, Some("quantity")),
            (6, Some("unit_price")),
            (7, Some("payment_method")),
            (8, Some("sku")),
            (9, Some("customer_email")),
        ]
    );
    assert!(errors[0].2.contains("\"05/03/2026\""), "{}", errors[0].2);
    assert!(errors[2].2.contains("at least 1"), "{}", errors[2].2);
    assert!(errors[3].2.contains("negative"), "{}", errors[3].2);
    assert!(errors[4].2.contains("\"Bitcoin\""), "{}", errors[4].2);
    assert!(
        errors[6]
            .2
            .contains("SHG-30001 belongs to another customer"),
        "{}",
        errors[6].2
    );
    for (_, _, reason, raw_row) in &errors {
        assert!(!raw_row.contains('@'), "{raw_row}");
        assert!(!reason.contains("example.com"), "{reason}");
        assert!(raw_row.contains("[withheld]"), "{raw_row}");
    }
    // The order kept its good lines: the first row and the last.
    let (lines, total): (i64, Decimal) = sqlx::query_as(
        "select count(l.id), o.total_amount from sales.orders o join sales.order_lines l on l.order_id = o.id
         where o.external_id = 'SHG-30001' group by o.id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((lines, total), (2, dec("6750.00")));
    assert_eq!(
        scalar_i64(&pool, "select count(*) from sales.orders").await,
        1
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_line_contradicting_an_order_imported_from_another_file_is_an_error_not_a_crash(
    pool: PgPool,
) {
    // Arrange
    import_bytes(&pool, "march.csv", order_file("sample-orders.csv")).await;
    let correction = "order_ref,order_date,customer_email,customer_region,sku,product_name,category,quantity,unit_price,payment_method,currency\n\
        SHG-10002,2026-03-02T11:40:00+03:00,someone.else@example.com,Kisumu,KIKOY-TOWEL-L,Kikoy,Textiles,3,1200.00,mpesa,KES\n\
        SHG-10003,2026-03-05T23:30:00+03:00,amina.hassan@example.co.ke,Mombasa,SOLAR-LAMP-01,Lamp,Lighting,1,2450.00,card,KES\n\
        SHG-10001,2026-03-02T09:15:00+03:00,wanjiku.kamau@example.co.ke,Nairobi,JIKO-CERAMIC,Jiko,Kitchen,5,1850.00,mpesa,KES\n\
        SHG-10001,2026-03-02T09:15:00+03:00,wanjiku.kamau@example.co.ke,Nairobi,SOLAR-LAMP-01,Lamp,Lighting,2,2450.00,mpesa,USD\n\
        SHG-10001,2026-03-02T09:15:00+03:00,wanjiku.kamau@example.co.ke,Nairobi,MAASAI-SHUKA,Shuka,Textiles,1,800.00,mpesa,KES\n";

    // Act
    let (outcome, _, _) =
        import_bytes(&pool, "correction.csv", correction.as_bytes().to_vec()).await;

    // Assert: four contradictions; the new line extends SHG-10001 and its total.
    assert_eq!(completed(&outcome), (5, 1, 4));
    let columns: Vec<Option<String>> = sqlx::query_scalar(
        "select column_name from ingest.ingestion_errors order by row_number, column_name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        columns,
        [
            Some("customer_email".to_owned()),
            Some("order_date".to_owned()),
            Some("quantity".to_owned()),
            Some("currency".to_owned()),
        ]
    );
    let (total, lines): (Decimal, i64) = sqlx::query_as(
        "select o.total_amount, count(l.id) from sales.orders o join sales.order_lines l on l.order_id = o.id
         where o.external_id = 'SHG-10001' group by o.id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((total, lines), (dec("7550.00"), 3));
    let line_number: i32 = sqlx::query_scalar(
        "select line_number from sales.order_lines where sku = 'MAASAI-SHUKA' and order_id =
             (select id from sales.orders where external_id = 'SHG-10001')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(line_number, 3);
}

/// The aggregates as `refresh_sales_aggregates_daily` would compute them now, for
/// comparison with the table.
async fn aggregates_recomputed_from_base_rows(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "select format('%s %s %s %s %s %s %s %s %s', day, product_id, category, payment_method,
                currency, revenue, units, order_count, unique_customers)
         from (select (o.placed_at at time zone 'UTC')::date as day, v.product_id,
                      coalesce(p.category, '') as category, o.payment_method, l.currency,
                      sum(l.line_total) as revenue, sum(l.quantity) as units,
                      count(distinct o.id) as order_count,
                      count(distinct o.customer_id) as unique_customers
               from sales.orders o
               join sales.order_lines l on l.order_id = o.id
               join catalog.product_variants v on v.id = l.variant_id
               join catalog.products p on p.id = v.product_id
               group by 1, 2, 3, 4, 5) recomputed",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn aggregates_in_table(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "select format('%s %s %s %s %s %s %s %s %s', day, product_id, category, payment_method,
                currency, revenue, units, order_count, unique_customers)
         from analytics.sales_aggregates_daily order by 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn daily_aggregates_are_exact_after_every_import_including_overlapping_files(pool: PgPool) {
    // Act 1: the sample.
    import_bytes(&pool, "march.csv", order_file("sample-orders.csv")).await;

    // Assert 1: exact, and the UTC day of 01:30 in Nairobi is the day before.
    let mut expected = aggregates_recomputed_from_base_rows(&pool).await;
    expected.sort();
    let mut actual = aggregates_in_table(&pool).await;
    actual.sort();
    assert_eq!(actual, expected);
    let (revenue, units, orders, customers): (Decimal, i32, i32, i32) = sqlx::query_as(
        "select a.revenue, a.units, a.order_count, a.unique_customers
         from analytics.sales_aggregates_daily a join catalog.products p on p.id = a.product_id
         where a.day = '2026-03-02' and p.sku = 'JIKO-CERAMIC' and a.payment_method = 'mpesa'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (revenue, units, orders, customers),
        (dec("5550.00"), 3, 2, 1)
    );

    // Act 2: an overlapping export, repeating SHG-10006 and adding one order that day.
    let overlap = "order_ref,order_date,customer_email,customer_region,sku,product_name,category,quantity,unit_price,payment_method,currency\n\
        SHG-10006,2026-03-03T14:05:00Z,brian.mutua@example.co.ke,Machakos,MAASAI-SHUKA,Maasai shuka blanket,Textiles,4,800.00,Paystack,KES\n\
        SHG-10006,2026-03-03T14:05:00Z,brian.mutua@example.co.ke,Machakos,SOLAR-LAMP-01,Solar lantern with phone charger,Lighting,1,2450.00,Paystack,KES\n\
        SHG-10008,2026-03-03T18:00:00Z,amina.hassan@example.co.ke,Mombasa,MAASAI-SHUKA,Maasai shuka blanket,Textiles,1,800.00,paystack,KES\n";
    import_bytes(&pool, "overlap.csv", overlap.as_bytes().to_vec()).await;

    // Assert 2: still exact; the repeated order is not counted twice.
    let mut expected = aggregates_recomputed_from_base_rows(&pool).await;
    expected.sort();
    let mut actual = aggregates_in_table(&pool).await;
    actual.sort();
    assert_eq!(actual, expected);
    let (revenue, units, orders, customers): (Decimal, i32, i32, i32) = sqlx::query_as(
        "select a.revenue, a.units, a.order_count, a.unique_customers
         from analytics.sales_aggregates_daily a join catalog.products p on p.id = a.product_id
         where a.day = '2026-03-03' and p.sku = 'MAASAI-SHUKA' and a.payment_method = 'paystack'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (revenue, units, orders, customers),
        (dec("4000.00"), 5, 2, 2)
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn daily_revenue_in_two_currencies_is_two_aggregates_never_one_sum(pool: PgPool) {
    // Arrange: the same product, day and payment method, sold in shillings and in dollars.
    let file = "order_ref,order_date,customer_email,customer_region,sku,product_name,category,quantity,unit_price,payment_method,currency\n\
        FX-1,2026-03-04T10:00:00Z,amina.hassan@example.co.ke,Mombasa,MAASAI-SHUKA,Maasai shuka blanket,Textiles,2,800.00,card,KES\n\
        FX-2,2026-03-04T11:00:00Z,brian.mutua@example.co.ke,Machakos,MAASAI-SHUKA,Maasai shuka blanket,Textiles,1,6.50,card,USD\n\
        FX-3,2026-03-04T12:00:00Z,brian.mutua@example.co.ke,Machakos,MAASAI-SHUKA,Maasai shuka blanket,Textiles,3,6.50,card,USD\n";

    // Act
    import_bytes(&pool, "two-currencies.csv", file.as_bytes().to_vec()).await;

    // Assert
    let rows: Vec<(String, Decimal, i32, i32, i32)> = sqlx::query_as(
        "select a.currency::text, a.revenue, a.units, a.order_count, a.unique_customers
         from analytics.sales_aggregates_daily a join catalog.products p on p.id = a.product_id
         where a.day = '2026-03-04' and p.sku = 'MAASAI-SHUKA' and a.payment_method = 'card'
         order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            ("KES".to_owned(), dec("1600.00"), 2, 1, 1),
            ("USD".to_owned(), dec("26.00"), 4, 2, 1),
        ]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_file_missing_required_columns_fails_naming_them_and_the_message_is_acknowledged(
    pool: PgPool,
) {
    // Arrange
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let object = upload(
        &aws,
        &bucket,
        "missing.csv",
        order_file("missing-columns.csv"),
    )
    .await;
    let importer = importer(&pool, &aws, ImportOptions::default());
    let event = sqs_event([("m-1", s3_event(&[&object]))]);

    // Act
    let response = invoke(&importer, event).await.unwrap();

    // Assert
    assert!(failed_message_ids(&response).is_empty(), "{response}");
    let (status, error): (String, String) =
        sqlx::query_as("select status::text, error_message from ingest.ingestion_files")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    assert!(
        error.contains("missing required columns: sku, quantity"),
        "{error}"
    );
    let (process, entity_type, reason): (String, String, String) =
        sqlx::query_as("select process_name, entity_type, reason from ops.process_failures")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (process.as_str(), entity_type.as_str()),
        ("OrderFileImport", "ingestion_file")
    );
    assert!(reason.contains("sku, quantity"), "{reason}");
    assert_eq!(
        scalar_i64(&pool, "select count(*) from sales.orders").await,
        0
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_file_that_is_not_utf8_or_not_csv_fails_before_any_row_is_written(pool: PgPool) {
    for (key, body, expected) in [
        ("latin1.csv", order_file("latin1.csv"), "not UTF-8"),
        (
            "photo.csv",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
            "not UTF-8",
        ),
        (
            "broken.csv.gz",
            [&[0x1f_u8, 0x8b, 8, 0][..], b"not really gzip"].concat(),
            "not readable",
        ),
        ("empty.csv", Vec::new(), "missing required columns"),
    ] {
        let (outcome, _, _) = import_bytes(&pool, key, body).await;
        let ImportOutcome::Failed { reason, .. } = outcome else {
            panic!("{key}: expected a failure, got {outcome:?}");
        };
        assert!(reason.contains(expected), "{key}: {reason}");
    }
    assert_eq!(
        scalar_i64(
            &pool,
            "select count(*) from ingest.ingestion_files where status = 'failed'"
        )
        .await,
        4
    );
    assert_eq!(
        scalar_i64(&pool, "select count(*) from ops.process_failures").await,
        4
    );
    assert_eq!(
        scalar_i64(&pool, "select count(*) from sales.orders").await,
        0
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_sqs_batch_of_notifications_imports_each_file_with_url_encoded_keys(pool: PgPool) {
    // Arrange
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let march = upload(
        &aws,
        &bucket,
        "incoming/2026/March orders, Nairobi+Mombasa.csv",
        order_file("sample-orders.csv"),
    )
    .await;
    let april = upload(
        &aws,
        &bucket,
        "incoming/2026/no currency.csv",
        order_file("no-currency-column.csv"),
    )
    .await;
    let importer = importer(&pool, &aws, ImportOptions::default());
    let event = sqs_event([
        ("m-march", s3_event(&[&march])),
        ("m-test", s3_test_event()),
        ("m-april", s3_event(&[&april])),
    ]);

    // Act
    let response = invoke(&importer, event).await.unwrap();

    // Assert
    assert!(failed_message_ids(&response).is_empty(), "{response}");
    let keys: Vec<String> = sqlx::query_scalar(
        "select object_key from ingest.ingestion_files where status = 'completed' order by object_key",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        keys,
        [
            "incoming/2026/March orders, Nairobi+Mombasa.csv",
            "incoming/2026/no currency.csv"
        ]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_direct_s3_event_imports_the_file_and_reports_the_outcome(pool: PgPool) {
    // Arrange
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let object = upload(
        &aws,
        &bucket,
        "adhoc/sample.csv",
        order_file("sample-orders.csv"),
    )
    .await;
    let importer = importer(&pool, &aws, ImportOptions::default());

    // Act
    let response = invoke(&importer, s3_event(&[&object])).await.unwrap();

    // Assert
    assert_eq!(response["results"][0]["outcome"], "completed", "{response}");
    assert_eq!(response["results"][0]["processed_rows"], 12);
    assert_eq!(
        scalar_i64(&pool, "select count(*) from sales.orders").await,
        7
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_s3_test_event_is_acknowledged_and_ignored(pool: PgPool) {
    let aws = local_aws().await;
    let importer = importer(&pool, &aws, ImportOptions::default());

    let direct = invoke(&importer, s3_test_event()).await.unwrap();
    let queued = invoke(&importer, sqs_event([("m-test", s3_test_event())]))
        .await
        .unwrap();

    assert_eq!(direct["results"][0]["outcome"], "ignored");
    assert!(failed_message_ids(&queued).is_empty());
    assert_eq!(
        scalar_i64(&pool, "select count(*) from ingest.ingestion_files").await,
        0
    );
    assert_eq!(
        scalar_i64(&pool, "select count(*) from ops.process_failures").await,
        0
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_message_that_is_not_an_s3_notification_is_recorded_and_acknowledged(pool: PgPool) {
    let aws = local_aws().await;
    let importer = importer(&pool, &aws, ImportOptions::default());

    let response = invoke(
        &importer,
        sqs_event([("m-odd", json!({ "order": "SHG-1" }))]),
    )
    .await
    .unwrap();

    assert!(failed_message_ids(&response).is_empty());
    let (entity_type, entity_ref): (String, String) =
        sqlx::query_as("select entity_type, entity_ref from ops.process_failures")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (entity_type.as_str(), entity_ref.as_str()),
        ("sqs_message", "m-odd")
    );
}

/// The object both ingest event fixtures notify: what `cargo lambda invoke` and the
/// end-to-end test hand the function.
fn object_in_the_event_fixtures() -> Notification {
    Notification::ObjectCreated(ObjectRef {
        bucket: "sellerops-orders".into(),
        key: "incoming/sample-orders.csv".into(),
        version_id: None,
        etag: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
        size: Some(1533),
    })
}

fn event_fixture(name: &str) -> serde_json::Value {
    serde_json::from_str(&fixtures::text(&format!("events/{name}"))).unwrap()
}

#[test]
fn the_queued_notification_fixture_is_an_sqs_event_naming_the_sample_file() {
    let Invocation::Sqs(event) =
        Invocation::from_payload(event_fixture("sqs-s3-notification.json")).unwrap()
    else {
        panic!("expected an SQS event");
    };

    let body = event.records[0].body.as_deref().unwrap();
    assert_eq!(
        notifications_in_message_body(body).unwrap(),
        [object_in_the_event_fixtures()]
    );
}

#[test]
fn the_direct_s3_event_fixture_names_the_sample_file() {
    let invocation = Invocation::from_payload(event_fixture("s3-object-created.json")).unwrap();

    let Invocation::S3(notifications) = invocation else {
        panic!("expected a direct S3 event, got {invocation:?}");
    };
    assert_eq!(notifications, [object_in_the_event_fixtures()]);
}

const HEADER: &str = "order_ref,order_date,customer_email,customer_region,sku,product_name,category,quantity,unit_price,payment_method,currency\n";

/// Imports `body` with `limits` instead of the defaults.
async fn import_within(
    pool: &PgPool,
    key: &str,
    body: Vec<u8>,
    limits: OrderFileLimits,
) -> ImportOutcome {
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let object = upload(&aws, &bucket, key, body).await;
    let options = ImportOptions {
        limits,
        ..ImportOptions::default()
    };
    importer(pool, &aws, options)
        .import(&object)
        .await
        .expect("import")
}

fn refused(outcome: &ImportOutcome) -> &str {
    match outcome {
        ImportOutcome::Failed { reason, .. } => reason,
        other => panic!("expected the file to be refused, got {other:?}"),
    }
}

/// The file's row: status and stored reason.
async fn file_status(pool: &PgPool) -> (String, Option<String>) {
    sqlx::query_as("select status::text, error_message from ingest.ingestion_files")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_gzip_bomb_is_refused_at_the_decompressed_limit_before_any_row_is_written(pool: PgPool) {
    // Arrange: 40 MiB of zeros after the header, some 40 KiB of gzip.
    let body = gzip_bomb("", 0, 40, "").await;
    assert!(body.len() < 200 * 1024, "{} bytes of gzip", body.len());
    let limits = OrderFileLimits {
        max_decompressed_bytes: 4 << 20,
        ..OrderFileLimits::default()
    };

    // Act
    let outcome = import_within(&pool, "bomb.csv.gz", body, limits).await;

    // Assert
    let reason = refused(&outcome);
    assert!(reason.contains("longer than 4194304 bytes"), "{reason}");
    assert!(
        reason.contains("ORDER_FILE_MAX_DECOMPRESSED_BYTES"),
        "{reason}"
    );
    assert!(reason.contains("line 2"), "{reason}");
    assert_eq!(
        file_status(&pool).await,
        ("failed".to_owned(), Some(reason.to_owned()))
    );
    assert_eq!(
        scalar_i64(&pool, "select count(*) from sales.orders").await,
        0
    );
    assert_eq!(
        scalar_i64(
            &pool,
            "select count(*) from ops.process_failures where process_name = 'OrderFileImport'"
        )
        .await,
        1
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_gzip_that_expands_to_one_huge_field_is_refused_at_the_line_limit(pool: PgPool) {
    // Arrange: a good row, then a row whose product name is a quoted 24 MiB field.
    let good = "A-1,2026-03-02,jane@example.com,Nairobi,LAMP,Lamp,Lighting,1,10,card,KES\n";
    let before = format!("{good}A-2,2026-03-02,jane@example.com,Nairobi,LAMP,\"");
    let body = gzip_bomb(&before, b'x', 24, "\",Lighting,1,10,card,KES\n").await;

    // Act
    let outcome = import_within(&pool, "one-field.csv.gz", body, OrderFileLimits::default()).await;

    // Assert
    let reason = refused(&outcome);
    assert!(
        reason.contains("a line is longer than 65536 bytes"),
        "{reason}"
    );
    assert!(reason.contains("ORDER_FILE_MAX_LINE_BYTES"), "{reason}");
    assert!(reason.contains("line 3"), "{reason}");
    assert_eq!(file_status(&pool).await.0, "failed");
    assert_eq!(
        scalar_i64(&pool, "select count(*) from sales.orders").await,
        0
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_field_longer_than_its_limit_refuses_the_file_naming_line_and_column(pool: PgPool) {
    // Arrange
    let name = "n".repeat(600);
    let file = format!(
        "{HEADER}A-1,2026-03-02,jane@example.com,Nairobi,LAMP,Lamp,Lighting,1,10,card,KES\n\
         A-2,2026-03-02,jane@example.com,Nairobi,LAMP,{name},Lighting,1,10,card,KES\n"
    );
    let limits = OrderFileLimits {
        max_field_bytes: 512,
        ..OrderFileLimits::default()
    };

    // Act
    let outcome = import_within(&pool, "long-name.csv", file.into_bytes(), limits).await;

    // Assert
    let reason = refused(&outcome);
    assert_eq!(
        reason,
        "order file refused: a field is longer than 512 bytes (ORDER_FILE_MAX_FIELD_BYTES) \
         at line 3, column product_name"
    );
    assert_eq!(
        scalar_i64(&pool, "select count(*) from sales.orders").await,
        0
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_row_with_a_nul_byte_is_a_bad_row_and_the_rest_of_the_file_imports(pool: PgPool) {
    // Arrange: 30,000 one-line orders over ten days; row 25,000 has a NUL in its name.
    let mut file = String::from(HEADER);
    for row in 1..=30_000 {
        let name = if row == 25_000 { "Lamp\0" } else { "Lamp" };
        file.push_str(&format!(
            "NUL-{row:05},2026-03-{:02}T10:00:00Z,customer{}@example.com,Nairobi,SKU-{},{name},Lighting,{},{}.50,card,KES\n",
            1 + row % 10,
            row % 700,
            row % 40,
            1 + row % 3,
            100 + row % 50,
        ));
    }

    // Act
    let (outcome, _, _) = import_bytes(&pool, "nul.csv", file.into_bytes()).await;

    // Assert
    assert_eq!(completed(&outcome), (30_000, 29_999, 1));
    assert_eq!(
        scalar_i64(&pool, "select count(*) from sales.orders").await,
        29_999
    );
    let errors: Vec<(i32, Option<String>, String, String)> = sqlx::query_as(
        "select row_number, column_name, reason, raw_row from ingest.ingestion_errors",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(errors.len(), 1);
    let (row_number, column, reason, raw_row) = &errors[0];
    assert_eq!(*row_number, 25_001, "data row 25,000 is line 25,001");
    assert_eq!(column.as_deref(), Some("product_name"));
    assert!(reason.contains("NUL byte"), "{reason}");
    assert!(raw_row.starts_with("NUL-25000,"), "{raw_row}");
    let mut expected = aggregates_recomputed_from_base_rows(&pool).await;
    expected.sort();
    assert_eq!(aggregates_in_table(&pool).await, expected);
    assert!(!expected.is_empty());
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn prices_and_dates_that_are_not_plain_or_plausible_are_bad_rows_naming_the_column(
    pool: PgPool,
) {
    // Arrange
    let file = format!(
        "{HEADER}M-1,2026-03-02,jane@example.com,Nairobi,LAMP,Lamp,Lighting,1,1e3,card,KES\n\
         M-2,2026-03-02,jane@example.com,Nairobi,LAMP,Lamp,Lighting,1,19.999,card,CAD\n\
         M-3,2026-03-02,jane@example.com,Nairobi,LAMP,Lamp,Lighting,1,1500.5,card,JPY\n\
         M-4,0001-01-01,jane@example.com,Nairobi,LAMP,Lamp,Lighting,1,10,card,KES\n\
         M-5,2999-12-31,jane@example.com,Nairobi,LAMP,Lamp,Lighting,1,10,card,KES\n\
         M-6,2026-03-02,jane@example.com,Nairobi,LAMP,Lamp,Lighting,1,1500,card,JPY\n"
    );

    // Act
    let (outcome, _, _) = import_bytes(&pool, "money.csv", file.into_bytes()).await;

    // Assert
    assert_eq!(completed(&outcome), (6, 1, 5));
    let errors: Vec<(i32, Option<String>, String)> = sqlx::query_as(
        "select row_number, column_name, reason from ingest.ingestion_errors order by row_number",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let found: Vec<(i32, Option<&str>)> = errors
        .iter()
        .map(|(row, column, _)| (*row, column.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            (2, Some("unit_price")),
            (3, Some("unit_price")),
            (4, Some("unit_price")),
            (5, Some("order_date")),
            (6, Some("order_date")),
        ]
    );
    assert!(errors[0].2.contains("plain decimal"), "{}", errors[0].2);
    assert!(errors[1].2.contains("CAD allows (2)"), "{}", errors[1].2);
    assert!(errors[2].2.contains("JPY allows (0)"), "{}", errors[2].2);
    assert!(errors[3].2.contains("before 2000-01-01"), "{}", errors[3].2);
    assert!(
        errors[4].2.contains("more than a day after"),
        "{}",
        errors[4].2
    );
    let (total, currency): (Decimal, String) =
        sqlx::query_as("select total_amount, currency::text from sales.orders")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((total, currency.as_str()), (dec("1500"), "JPY"));
}
