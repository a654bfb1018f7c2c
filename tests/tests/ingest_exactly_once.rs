//! ingest-orders-file: every way an order file can arrive more than once, crash halfway
//! or meet a dependency that is down leaves the database as if it had been imported
//! exactly once.

use std::time::Duration;

use sellerops::flows::ingest::ingestion_file::{self, Claim};
use sellerops::flows::ingest::{
    ImportOptions, ImportOutcome, ObjectRef, OrderFileImporter, OrderFileLimits,
};
use sellerops::ops::crash_points::{Crash, CrashPoint};
use sellerops::ops::errors::Disposition;
use sellerops::ops::lease::LeaseError;
use sellerops::systems::aws::AwsClients;
use sellerops_tests::events::{failed_message_ids, s3_event, sqs_event};
use sellerops_tests::fixtures::order_file;
use sellerops_tests::local_aws;
use sellerops_tests::order_files::{
    create_bucket, database_digest, importer, invoke, upload, ScratchDatabase,
};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// Small batches, so that the sample file spans several.
fn in_batches_of(rows: usize) -> ImportOptions {
    ImportOptions {
        batch_rows: rows,
        ..ImportOptions::default()
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// The digest of a clean, uninterrupted import of `object` into a fresh database.
async fn digest_of_one_clean_import(
    admin: &PgPool,
    aws: &AwsClients,
    object: &ObjectRef,
) -> Vec<String> {
    let scratch = ScratchDatabase::create(admin).await;
    let outcome = importer(&scratch.pool, aws, in_batches_of(3))
        .import(object)
        .await
        .expect("clean import");
    assert!(
        matches!(outcome, ImportOutcome::Completed { .. }),
        "{outcome:?}"
    );
    let digest = database_digest(&scratch.pool).await;
    scratch.drop().await;
    digest
}

/// What a crashed attempt's lease does once its time is up.
async fn let_leases_run_out(pool: &PgPool) {
    sqlx::query(
        "update ingest.ingestion_files set locked_until = now() - interval '1 second'
                 where status = 'processing'",
    )
    .execute(pool)
    .await
    .unwrap();
}

/// Imports `object` and dies, as the process would, once `batches` batches have
/// committed (0: before the first).
async fn import_crashing_after(importer: &OrderFileImporter, object: &ObjectRef, batches: usize) {
    let crashed = Crash::at(CrashPoint::OrderFileBatchBoundary)
        .after_passing(batches)
        .during(importer.import(object))
        .await;
    assert!(
        crashed.is_err(),
        "expected a crash after {batches} batches: {crashed:?}"
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_same_event_delivered_twice_imports_the_file_once(pool: PgPool) {
    // Arrange
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let object = upload(&aws, &bucket, "sample.csv", order_file("sample-orders.csv")).await;
    let importer = importer(&pool, &aws, ImportOptions::default());
    let event = sqs_event([("m-1", s3_event(&[&object]))]);
    invoke(&importer, event.clone()).await.unwrap();
    let after_first = database_digest(&pool).await;

    // Act
    let response = invoke(&importer, event).await.unwrap();

    // Assert
    assert!(failed_message_ids(&response).is_empty());
    assert_eq!(database_digest(&pool).await, after_first);
    assert_eq!(
        count(&pool, "select count(*) from ingest.ingestion_files").await,
        1
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_same_content_under_another_key_is_a_duplicate_and_adds_no_rows(pool: PgPool) {
    // Arrange
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let first = upload(
        &aws,
        &bucket,
        "exports/2026-03-04.csv",
        order_file("sample-orders.csv"),
    )
    .await;
    let again = upload(
        &aws,
        &bucket,
        "exports/copy of 2026-03-04.csv",
        order_file("sample-orders.csv"),
    )
    .await;
    let importer = importer(&pool, &aws, ImportOptions::default());
    let ImportOutcome::Completed {
        file_id: original, ..
    } = importer.import(&first).await.unwrap()
    else {
        panic!("first import should complete");
    };
    let rows_before = count(&pool, "select (select count(*) from sales.orders) + (select count(*) from sales.order_lines)
                                     + (select count(*) from ingest.ingestion_errors) + (select count(*) from sales.customers)").await;

    // Act
    let outcome = importer.import(&again).await.unwrap();

    // Assert
    let ImportOutcome::Duplicate { duplicate_of, .. } = outcome else {
        panic!("expected a duplicate, got {outcome:?}");
    };
    assert_eq!(duplicate_of, original);
    let rows_after = count(&pool, "select (select count(*) from sales.orders) + (select count(*) from sales.order_lines)
                                    + (select count(*) from ingest.ingestion_errors) + (select count(*) from sales.customers)").await;
    assert_eq!(rows_after, rows_before);
    let (status, hash_equal): (String, bool) = sqlx::query_as(
        "select d.status::text, d.content_hash = o.content_hash
         from ingest.ingestion_files d join ingest.ingestion_files o on o.id = d.duplicate_of_file_id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), hash_equal), ("duplicate", true));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn two_copies_of_one_file_imported_at_once_import_once(pool: PgPool) {
    // Arrange
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let a = upload(&aws, &bucket, "a.csv", order_file("sample-orders.csv")).await;
    let b = upload(&aws, &bucket, "b.csv", order_file("sample-orders.csv")).await;
    let importer = importer(&pool, &aws, in_batches_of(2));

    // Act
    let (first, second) = tokio::join!(importer.import(&a), importer.import(&b));

    // Assert: one completed, one duplicate of it.
    let mut outcomes = [first.unwrap(), second.unwrap()];
    outcomes.sort_by_key(|o| matches!(o, ImportOutcome::Completed { .. }));
    assert!(
        matches!(outcomes[0], ImportOutcome::Duplicate { .. }),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[1], ImportOutcome::Completed { .. }),
        "{outcomes:?}"
    );
    assert_eq!(count(&pool, "select count(*) from sales.orders").await, 7);
    assert_eq!(
        count(&pool, "select count(*) from sales.order_lines").await,
        12
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn two_concurrent_invocations_for_one_object_import_it_once(pool: PgPool) {
    // Arrange
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let object = upload(&aws, &bucket, "sample.csv", order_file("sample-orders.csv")).await;
    let importer = importer(&pool, &aws, in_batches_of(2));
    let event = |id: &str| sqs_event([(id, s3_event(&[&object]))]);

    // Act: S3 sent the notification twice and two instances took one each.
    let (first, second) = tokio::join!(
        invoke(&importer, event("m-1")),
        invoke(&importer, event("m-2"))
    );
    let mut retried: Vec<String> = failed_message_ids(&first.unwrap());
    retried.extend(failed_message_ids(&second.unwrap()));
    // A message sent back (the other held the lease) is delivered again later.
    for id in &retried {
        let response = invoke(&importer, event(id)).await.unwrap();
        assert!(failed_message_ids(&response).is_empty(), "{response}");
    }

    // Assert
    assert!(retried.len() <= 1, "{retried:?}");
    assert_eq!(
        database_digest(&pool).await,
        digest_of_one_clean_import(&pool, &aws, &object).await
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_crash_between_batches_then_a_retry_leaves_the_database_as_one_clean_import(
    pool: PgPool,
) {
    // Arrange
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let object = upload(&aws, &bucket, "sample.csv", order_file("sample-orders.csv")).await;
    let importer = importer(&pool, &aws, in_batches_of(3));

    // Act: the first attempt dies after two of four batches; its lease runs out; the
    // message is delivered again.
    import_crashing_after(&importer, &object, 2).await;
    let (processed, status): (i32, String) =
        sqlx::query_as("select processed_rows, status::text from ingest.ingestion_files")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (processed, status.as_str()),
        (6, "processing"),
        "two batches committed"
    );
    let_leases_run_out(&pool).await;
    let retry = importer.import(&object).await.unwrap();

    // Assert
    assert!(
        matches!(
            retry,
            ImportOutcome::Completed {
                total_rows: 12,
                processed_rows: 12,
                failed_rows: 0,
                ..
            }
        ),
        "{retry:?}"
    );
    assert_eq!(
        database_digest(&pool).await,
        digest_of_one_clean_import(&pool, &aws, &object).await
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_crash_at_any_batch_boundary_then_a_retry_gives_the_same_database(pool: PgPool) {
    // Arrange: bad rows too, so that errors and counts must also come out right.
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let body = [
        order_file("sample-orders.csv"),
        order_file("bad-rows.csv")[order_file("bad-rows.csv")
            .iter()
            .position(|&b| b == b'\n')
            .unwrap()
            + 1..]
            .to_vec(),
    ]
    .concat();
    let mut digests = Vec::new();
    let mut objects = Vec::new();
    // Batches of 4 over 21 rows: 6 batches; crash before the first, in the middle, and
    // after the last (before the file is completed). Each case uses its own database.
    for crash_after in [0, 3, 6] {
        let scratch = ScratchDatabase::create(&pool).await;
        let object = upload(&aws, &bucket, "sample-and-bad.csv", body.clone()).await;
        let importer = importer(&scratch.pool, &aws, in_batches_of(4));

        // Act
        import_crashing_after(&importer, &object, crash_after).await;
        let_leases_run_out(&scratch.pool).await;
        let retry = importer.import(&object).await.unwrap();

        // Assert
        assert!(
            matches!(
                retry,
                ImportOutcome::Completed {
                    total_rows: 21,
                    processed_rows: 14,
                    failed_rows: 7,
                    ..
                }
            ),
            "crash after {crash_after}: {retry:?}"
        );
        digests.push(database_digest(&scratch.pool).await);
        objects.push(object);
        scratch.drop().await;
    }
    let clean = digest_of_one_clean_import(&pool, &aws, &objects[0]).await;
    for digest in digests {
        assert_eq!(digest, clean);
    }
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn attempts_racing_on_one_file_after_its_lease_ran_out_still_import_it_once(pool: PgPool) {
    // Arrange: no lease at all, so every attempt may take the file over at any time;
    // only the checkpoint keeps them from writing a batch twice.
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let object = upload(&aws, &bucket, "sample.csv", order_file("sample-orders.csv")).await;
    let racing = importer(
        &pool,
        &aws,
        ImportOptions {
            lease: Duration::ZERO,
            ..in_batches_of(1)
        },
    );

    // Act: three attempts at once, then redeliveries until one settles the file.
    let (a, b, c) = tokio::join!(
        racing.import(&object),
        racing.import(&object),
        racing.import(&object)
    );
    let mut settled = [&a, &b, &c]
        .iter()
        .filter(|outcome| outcome.is_ok())
        .count();
    while settled == 0 {
        settled += usize::from(racing.import(&object).await.is_ok());
    }

    // Assert
    for outcome in [a, b, c].into_iter().filter_map(Result::err) {
        assert_eq!(outcome.disposition(), Disposition::Retry, "{outcome}");
    }
    assert_eq!(
        database_digest(&pool).await,
        digest_of_one_clean_import(&pool, &aws, &object).await
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_unversioned_key_is_read_as_notified_and_new_content_under_it_is_refused(pool: PgPool) {
    // Arrange
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, false).await;
    let first = upload(
        &aws,
        &bucket,
        "daily.csv",
        order_file("no-currency-column.csv"),
    )
    .await;
    assert_eq!(first.version_id, None);
    let importer = importer(&pool, &aws, ImportOptions::default());
    let imported = importer.import(&first).await.unwrap();
    assert!(
        matches!(imported, ImportOutcome::Completed { .. }),
        "{imported:?}"
    );

    // Act: other content uploaded under the same key.
    let replaced = upload(&aws, &bucket, "daily.csv", order_file("sample-orders.csv")).await;
    let outcome = importer.import(&replaced).await.unwrap();

    // Assert: nothing imported under the old row; a person is told.
    let ImportOutcome::Failed { reason, .. } = outcome else {
        panic!("expected a refusal, got {outcome:?}");
    };
    assert!(reason.contains("Upload it under a new key"), "{reason}");
    assert_eq!(
        count(&pool, "select count(*) from sales.orders").await,
        2,
        "the first content only"
    );
    assert_eq!(
        count(&pool, "select count(*) from ops.process_failures").await,
        1
    );
    // The first notification, delivered again, is still settled.
    assert!(matches!(
        importer.import(&first).await.unwrap(),
        ImportOutcome::AlreadySettled { .. }
    ));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_live_lease_sends_only_that_message_back_to_the_queue(pool: PgPool) {
    // Arrange: an attempt on b.csv crashed a moment ago; its lease is still running.
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let a = upload(&aws, &bucket, "a.csv", order_file("no-currency-column.csv")).await;
    let b = upload(&aws, &bucket, "b.csv", order_file("sample-orders.csv")).await;
    import_crashing_after(&importer(&pool, &aws, in_batches_of(5)), &b, 1).await;
    let importer = importer(&pool, &aws, ImportOptions::default());
    let event = sqs_event([("m-a", s3_event(&[&a])), ("m-b", s3_event(&[&b]))]);

    // Act
    let response = invoke(&importer, event).await.unwrap();

    // Assert: partial batch failure, per message.
    assert_eq!(failed_message_ids(&response), ["m-b"]);
    assert_eq!(
        count(
            &pool,
            "select count(*) from ingest.ingestion_files where status = 'completed'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&pool, "select count(*) from ops.process_failures").await,
        0
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn s3_unavailable_is_retryable_and_leaves_nothing_behind_but_the_released_claim(
    pool: PgPool,
) {
    // Arrange: an S3 endpoint where nothing listens.
    let aws = local_aws().await;
    let config = aws
        .s3
        .config()
        .to_builder()
        .endpoint_url("http://127.0.0.1:9")
        .timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .build(),
        )
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled());
    let unreachable = AwsClients {
        s3: aws_sdk_s3::Client::from_conf(config.build()),
        sqs: aws.sqs.clone(),
    };
    let object = ObjectRef::new("sellerops-orders", "unreachable.csv");
    let importer = importer(&pool, &unreachable, ImportOptions::default());
    let event = sqs_event([("m-1", s3_event(&[&object]))]);

    // Act
    let response = invoke(&importer, event).await.unwrap();

    // Assert
    assert_eq!(failed_message_ids(&response), ["m-1"]);
    let (status, lease_over): (String, bool) =
        sqlx::query_as("select status::text, locked_until <= now() from ingest.ingestion_files")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), lease_over), ("processing", true));
    assert_eq!(
        count(&pool, "select count(*) from ops.process_failures").await,
        0
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn the_database_unavailable_is_retryable(pool: PgPool) {
    // Arrange: a pool on a port where nothing listens.
    let options = (*pool.connect_options()).clone().port(9);
    let down = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy_with(options);
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let object = upload(&aws, &bucket, "sample.csv", order_file("sample-orders.csv")).await;
    let importer = importer(&down, &aws, ImportOptions::default());
    let event = sqs_event([("m-1", s3_event(&[&object]))]);

    // Act
    let response = invoke(&importer, event).await.unwrap();

    // Assert
    assert_eq!(failed_message_ids(&response), ["m-1"]);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_attempt_taken_over_can_neither_checkpoint_nor_complete_the_file(pool: PgPool) {
    // Arrange: an attempt claimed the file, stalled past its lease, and a retry took the
    // file over.
    let lease = ImportOptions::default().lease;
    let object = ObjectRef::new("sellerops-orders", "stalled.csv");
    let Claim::Claimed(stale) = ingestion_file::claim(&pool, &object, lease).await.unwrap() else {
        panic!("the first attempt claims the file");
    };
    let_leases_run_out(&pool).await;
    let Claim::Claimed(current) = ingestion_file::claim(&pool, &object, lease).await.unwrap()
    else {
        panic!("the retry takes the file over");
    };
    assert_eq!(current.file_id(), stale.file_id());

    // Act: the stalled attempt wakes up and tries to commit a batch, then to complete.
    let mut tx = pool.begin().await.unwrap();
    let renewed = stale.lease.renew(&mut tx, lease).await;
    let completed = ingestion_file::complete(&mut tx, &stale.lease, 0).await;
    tx.commit().await.unwrap();

    // Assert: both refused, nothing changed; the current attempt completes the file.
    assert!(matches!(renewed, Err(LeaseError::Lost)), "{renewed:?}");
    assert!(matches!(completed, Err(LeaseError::Lost)), "{completed:?}");
    let (status, leased): (String, bool) =
        sqlx::query_as("select status::text, locked_until > now() from ingest.ingestion_files")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), leased), ("processing", true));
    let mut tx = pool.begin().await.unwrap();
    let counts = ingestion_file::complete(&mut tx, &current.lease, 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(counts, Some((0, 0)));
    assert_eq!(
        count(
            &pool,
            "select count(*) from ingest.ingestion_files where status = 'completed'"
        )
        .await,
        1
    );
}

/// The digest without the order files' own rows, which a failed file adds to.
fn without_file_rows(digest: Vec<String>) -> Vec<String> {
    digest
        .into_iter()
        .filter(|line| !line.starts_with("file "))
        .collect()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_file_refused_after_batches_committed_takes_them_back_and_its_days_stay_exact(
    pool: PgPool,
) {
    // Arrange: the sample is imported; then a file of batches of three whose eighth line
    // holds a field past the limit. An attempt writes two batches (new orders, products
    // and customers, a bad row, a line added to an order of the sample) and dies.
    let aws = local_aws().await;
    let bucket = create_bucket(&aws, true).await;
    let sample = upload(&aws, &bucket, "march.csv", order_file("sample-orders.csv")).await;
    importer(&pool, &aws, ImportOptions::default())
        .import(&sample)
        .await
        .unwrap();
    let before = database_digest(&pool).await;
    let long_name = "n".repeat(100);
    let file = format!(
        "order_ref,order_date,customer_email,customer_region,sku,product_name,category,quantity,unit_price,payment_method,currency\n\
         SHG-20001,2026-03-02T10:00:00Z,new.customer@example.com,Kisumu,SOLAR-LAMP-01,Lamp,Lighting,1,2450.00,card,KES\n\
         SHG-20001,2026-03-02T10:00:00Z,new.customer@example.com,Kisumu,NEW-SKU-1,New thing,Kitchen,2,99.50,card,KES\n\
         SHG-20002,2026-03-09T10:00:00Z,another@example.com,Thika,JIKO-CERAMIC,Jiko,Kitchen,1,1e3,card,KES\n\
         SHG-10001,2026-03-02T09:15:00+03:00,wanjiku.kamau@example.co.ke,Nairobi,NEW-SKU-2,Other thing,Kitchen,1,10.00,M-Pesa,KES\n\
         SHG-20003,2026-03-04T10:00:00Z,new.customer@example.com,Kisumu,SOLAR-LAMP-01,Lamp,Lighting,3,2450.00,card,KES\n\
         SHG-20004,2026-03-05T10:00:00Z,wanjiku.kamau@example.co.ke,Nakuru,SOLAR-LAMP-01,Lamp,Lighting,1,2450.00,mpesa,KES\n\
         SHG-20005,2026-03-05T10:00:00Z,third@example.com,Thika,SOLAR-LAMP-01,{long_name},Lighting,1,2450.00,mpesa,KES\n"
    );
    let object = upload(&aws, &bucket, "refused.csv", file.into_bytes()).await;
    let options = ImportOptions {
        batch_rows: 3,
        limits: OrderFileLimits {
            max_field_bytes: 64,
            ..OrderFileLimits::default()
        },
        ..ImportOptions::default()
    };
    let importer = importer(&pool, &aws, options);
    import_crashing_after(&importer, &object, 2).await;
    assert_eq!(
        count(
            &pool,
            "select count(*) from sales.orders where external_id like 'SHG-2000%'"
        )
        .await,
        3,
        "the crashed attempt committed two batches"
    );
    let_leases_run_out(&pool).await;

    // Act: the retry resumes after them and meets the long field.
    let response = invoke(&importer, sqs_event([("m-1", s3_event(&[&object]))]))
        .await
        .unwrap();

    // Assert: acknowledged, failed with its reason, and nothing of it left.
    assert!(failed_message_ids(&response).is_empty(), "{response}");
    let (status, processed, failed, reason): (String, i32, i32, String) = sqlx::query_as(
        "select status::text, processed_rows, failed_rows, error_message
         from ingest.ingestion_files where object_key = 'refused.csv'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), processed, failed), ("failed", 0, 0));
    assert_eq!(
        reason,
        "order file refused: a field is longer than 64 bytes (ORDER_FILE_MAX_FIELD_BYTES) \
         at line 8, column product_name"
    );
    assert_eq!(
        count(&pool, "select count(*) from ops.process_failures where reason = 'order file refused: a field is longer than 64 bytes (ORDER_FILE_MAX_FIELD_BYTES) at line 8, column product_name'").await,
        1
    );
    let after = without_file_rows(database_digest(&pool).await);
    let catalogued: Vec<&String> = after.iter().filter(|line| !before.contains(line)).collect();
    assert_eq!(
        catalogued,
        [
            "product NEW-SKU-1 name=New thing category=Kitchen base_price=99.50 KES",
            "product NEW-SKU-2 name=Other thing category=Kitchen base_price=10.00 KES",
            "variant NEW-SKU-1 of NEW-SKU-1",
            "variant NEW-SKU-2 of NEW-SKU-2",
        ],
        "only the products it named stay, as catalogue entries"
    );
    assert_eq!(
        after
            .into_iter()
            .filter(|line| !line.contains("NEW-SKU"))
            .collect::<Vec<_>>(),
        without_file_rows(before),
        "the database holds the sales it held before the refused file, aggregates included"
    );
    let stale_days = count(
        &pool,
        "select count(*) from (
             (select day, product_id, category, payment_method, currency, revenue, units,
                     order_count, unique_customers from analytics.sales_aggregates_daily
              except
              select (o.placed_at at time zone 'UTC')::date, v.product_id, coalesce(p.category, ''),
                     o.payment_method, l.currency, sum(l.line_total), sum(l.quantity),
                     count(distinct o.id), count(distinct o.customer_id)
              from sales.orders o join sales.order_lines l on l.order_id = o.id
              join catalog.product_variants v on v.id = l.variant_id
              join catalog.products p on p.id = v.product_id
              group by 1, 2, 3, 4, 5)
         ) stale",
    )
    .await;
    assert_eq!(stale_days, 0);
}
