//! The scheduled purge: the call log, the inbox and expired delivery records go once past
//! their ages; young rows and anything still at work stay.

use std::time::{Duration, Instant};

use sellerops::ops::config::RetentionSettings;
use sellerops::ops::retention::{purge_expired, PurgeTally};
use sqlx::PgPool;

const DAY: Duration = Duration::from_secs(24 * 3600);

async fn api_call(pool: &PgPool, operation: &str, days_ago: i32) {
    sqlx::query(
        "insert into ops.api_calls (service, operation, method, url, started_at)
         values ('mirakl', $1, 'GET', 'https://m.test/api/orders',
                 now() - make_interval(days => $2))",
    )
    .bind(operation)
    .bind(days_ago)
    .execute(pool)
    .await
    .unwrap();
}

async fn delivery(pool: &PgPool, id: &str, days_ago: i32, processed: bool) {
    sqlx::query(
        "insert into ops.inbox (source, delivery_id, body, received_at, processed_at)
         values ('shopify', $1, '{}', now() - make_interval(days => $2),
                 case when $3 then now() - make_interval(days => $2) end)",
    )
    .bind(id)
    .bind(days_ago)
    .bind(processed)
    .execute(pool)
    .await
    .unwrap();
}

async fn delivery_record(pool: &PgPool, key: &str, state: &str, expired_days_ago: i32) {
    sqlx::query(
        "insert into ops.idempotency_keys (key, scope, state, locked_until, expires_at)
         values ($1, 'test', $2, now() - make_interval(days => $3),
                 now() - make_interval(days => $3))",
    )
    .bind(key)
    .bind(state)
    .bind(expired_days_ago)
    .execute(pool)
    .await
    .unwrap();
}

async fn left(pool: &PgPool, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sql).fetch_all(pool).await.unwrap()
}

async fn ops_rows_left(pool: &PgPool) -> (Vec<String>, Vec<String>, Vec<String>) {
    (
        left(
            pool,
            "select operation from ops.api_calls order by operation",
        )
        .await,
        left(
            pool,
            "select delivery_id from ops.inbox order by delivery_id",
        )
        .await,
        left(pool, "select key from ops.idempotency_keys order by key").await,
    )
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn old_rows_go_young_ones_stay_and_work_in_progress_is_never_purged(pool: PgPool) {
    // Arrange
    api_call(&pool, "old-call", 31).await;
    api_call(&pool, "young-call", 29).await;
    delivery(&pool, "old-processed", 40, true).await;
    delivery(&pool, "old-in-progress", 40, false).await;
    delivery(&pool, "young-processed", 2, true).await;
    delivery_record(&pool, "expired-completed", "completed", 3).await;
    delivery_record(&pool, "expired-in-progress", "in_progress", 90).await;
    delivery_record(&pool, "just-expired-completed", "completed", 0).await;
    sqlx::query(
        "insert into ops.idempotency_keys (key, scope, state, expires_at)
         values ('live-completed', 'test', 'completed', now() + interval '10 days')",
    )
    .execute(&pool)
    .await
    .unwrap();

    // Act
    let tally = purge_expired(&pool, &RetentionSettings::default(), None)
        .await
        .unwrap();

    // Assert
    assert_eq!(
        tally,
        PurgeTally {
            api_calls: 1,
            inbox: 1,
            delivery_records: 1
        }
    );
    let (calls, inbox, keys) = ops_rows_left(&pool).await;
    assert_eq!(calls, ["young-call"]);
    assert_eq!(inbox, ["old-in-progress", "young-processed"]);
    assert_eq!(
        keys,
        [
            "expired-in-progress",
            "just-expired-completed",
            "live-completed"
        ]
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_run_deletes_at_most_its_rows_oldest_first_and_the_configured_ages_decide(pool: PgPool) {
    // Arrange: three calls past a week, one younger.
    for (operation, days) in [("a", 9), ("b", 8), ("c", 10), ("d", 6)] {
        api_call(&pool, operation, days).await;
    }
    let retention = RetentionSettings {
        api_calls: 7 * DAY,
        rows_per_run: 2,
        ..RetentionSettings::default()
    };

    // Act
    let first = purge_expired(&pool, &retention, None).await.unwrap();
    let after_first = ops_rows_left(&pool).await.0;
    let second = purge_expired(&pool, &retention, None).await.unwrap();

    // Assert
    assert_eq!((first.api_calls, second.api_calls), (2, 1));
    assert_eq!(after_first, ["b", "d"]);
    assert_eq!(ops_rows_left(&pool).await.0, ["d"]);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_run_out_of_time_starts_no_delete(pool: PgPool) {
    // Arrange
    api_call(&pool, "old-call", 400).await;
    let passed = Instant::now() - Duration::from_millis(1);

    // Act
    let tally = purge_expired(&pool, &RetentionSettings::default(), Some(passed))
        .await
        .unwrap();

    // Assert
    assert_eq!(tally, PurgeTally::default());
    assert_eq!(ops_rows_left(&pool).await.0, ["old-call"]);
}
