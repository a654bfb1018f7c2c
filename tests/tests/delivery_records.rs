//! Idempotency keys and their leases, partial SQS batches and the ops logs, against a
//! real PostgreSQL.

use std::time::Duration;

use sellerops::ops::api_calls::{record_api_call, ApiCall};
use sellerops::ops::errors::ProcessError;
use sellerops::ops::idempotency::{claim, complete, Claim, KeyPolicy};
use sellerops::ops::lease::{Lease, LeaseError};
use sellerops::ops::sqs_batch::{settle_batch, BatchTally};
use sellerops_tests::events::sqs_event;
use serde_json::json;
use sqlx::PgPool;

const LEASE: KeyPolicy = KeyPolicy {
    lease: Duration::from_secs(60),
    retention: Duration::from_secs(3600),
};

/// Claims `key`, which must be free.
async fn acquire(pool: &PgPool, key: &str) -> Lease<String> {
    match claim(pool, "test", key, LEASE).await.unwrap() {
        Claim::Acquired(lease) => lease,
        other => panic!("expected to acquire {key}, got {other:?}"),
    }
}

/// What a crashed attempt's lease does once its time is up.
async fn let_leases_run_out(pool: &PgPool) {
    sqlx::query(
        "update ops.idempotency_keys set locked_until = now() - interval '1 second'
         where state = 'in_progress'",
    )
    .execute(pool)
    .await
    .unwrap();
}

async fn key_row(pool: &PgPool, key: &str) -> (String, Option<serde_json::Value>) {
    sqlx::query_as("select state, result from ops.idempotency_keys where key = $1")
        .bind(key)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_second_delivery_of_a_completed_key_changes_nothing(pool: PgPool) {
    // Arrange
    let lease = acquire(&pool, "s3://orders/a.csv#v1").await;
    let result = serde_json::json!({ "rows": 12 });
    complete(&pool, &lease, Some(&result)).await.unwrap();

    // Act
    let again = claim(&pool, "test", "s3://orders/a.csv#v1", LEASE)
        .await
        .unwrap();

    // Assert
    assert_eq!(again, Claim::AlreadyCompleted(Some(result)));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_live_lease_keeps_a_concurrent_delivery_out(pool: PgPool) {
    let (a, b) = tokio::join!(
        claim(&pool, "test", "webhook:42", LEASE),
        claim(&pool, "test", "webhook:42", LEASE)
    );
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|c| matches!(c, Claim::Acquired(_)));
    assert_eq!(outcomes[0], Claim::HeldElsewhere);
    assert!(matches!(outcomes[1], Claim::Acquired(_)), "{outcomes:?}");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_crashed_attempt_is_taken_over_once_its_lease_runs_out(pool: PgPool) {
    // Arrange: an attempt claimed the key and died without completing.
    let crashed = acquire(&pool, "msg-1").await;
    assert_eq!(
        claim(&pool, "test", "msg-1", LEASE).await.unwrap(),
        Claim::HeldElsewhere,
        "its lease is still live"
    );
    let_leases_run_out(&pool).await;

    // Act
    let retry = claim(&pool, "test", "msg-1", LEASE).await.unwrap();

    // Assert
    let Claim::Acquired(retry) = retry else {
        panic!("expected a take-over, got {retry:?}");
    };
    assert_ne!(retry, crashed, "the take-over holds a lease of its own");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_released_key_can_be_claimed_again_at_once(pool: PgPool) {
    let lease = acquire(&pool, "msg-2").await;
    lease.release(&pool).await.unwrap();
    assert!(matches!(
        claim(&pool, "test", "msg-2", LEASE).await.unwrap(),
        Claim::Acquired(_)
    ));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_stale_holders_completion_is_refused_and_changes_nothing(pool: PgPool) {
    // Arrange: the first attempt stalled past its lease and a retry took the key over.
    let stale = acquire(&pool, "msg-3").await;
    let_leases_run_out(&pool).await;
    let current = acquire(&pool, "msg-3").await;

    // Act
    let refused = complete(&pool, &stale, Some(&serde_json::json!({ "by": "stale" }))).await;

    // Assert
    assert!(matches!(refused, Err(LeaseError::Lost)), "{refused:?}");
    assert_eq!(
        key_row(&pool, "msg-3").await,
        ("in_progress".to_owned(), None)
    );
    assert_eq!(
        claim(&pool, "test", "msg-3", LEASE).await.unwrap(),
        Claim::HeldElsewhere,
        "the current holder's lease is untouched"
    );
    let result = serde_json::json!({ "by": "current" });
    complete(&pool, &current, Some(&result)).await.unwrap();
    assert_eq!(
        key_row(&pool, "msg-3").await,
        ("completed".to_owned(), Some(result))
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_stale_holders_release_leaves_the_current_lease_alone(pool: PgPool) {
    // Arrange
    let stale = acquire(&pool, "msg-4").await;
    let_leases_run_out(&pool).await;
    let _current = acquire(&pool, "msg-4").await;

    // Act
    stale.release(&pool).await.unwrap();

    // Assert
    assert_eq!(
        claim(&pool, "test", "msg-4", LEASE).await.unwrap(),
        Claim::HeldElsewhere
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_completed_key_cannot_be_completed_twice(pool: PgPool) {
    // Arrange
    let lease = acquire(&pool, "msg-5").await;
    let first = serde_json::json!({ "attempt": 1 });
    complete(&pool, &lease, Some(&first)).await.unwrap();

    // Act
    let again = complete(&pool, &lease, Some(&serde_json::json!({ "attempt": 2 }))).await;

    // Assert
    assert!(matches!(again, Err(LeaseError::Lost)), "{again:?}");
    assert_eq!(
        key_row(&pool, "msg-5").await,
        ("completed".to_owned(), Some(first))
    );
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn one_bad_message_never_fails_its_neighbours(pool: PgPool) {
    // Arrange
    let event = sqs_event([
        ("m-ok", json!({ "order": "A" })),
        ("m-busy", json!({ "order": "B" })),
        ("m-bad", json!({ "order": "C" })),
    ]);

    // Act
    let (response, tally) = settle_batch(&pool, "TestProcess", event, |record| async move {
        match record.message_id.as_deref() {
            Some("m-busy") => Err(ProcessError::retryable(
                "marketplace is throttling",
                std::io::Error::other("429"),
            )),
            Some("m-bad") => Err(ProcessError::permanent("order C has no lines")),
            _ => Ok(()),
        }
    })
    .await;

    // Assert: only the retryable one goes back; the permanent one is recorded.
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m-busy"]);
    assert_eq!(
        tally,
        BatchTally {
            succeeded: 1,
            retried: 1,
            gave_up: 1
        }
    );
    let (process, entity_ref, reason, payload): (String, String, String, serde_json::Value) =
        sqlx::query_as(
            "select process_name, entity_ref, reason, payload from ops.process_failures",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(process, "TestProcess");
    assert_eq!(entity_ref, "m-bad");
    assert_eq!(reason, "order C has no lines");
    assert_eq!(payload["order"], "C");
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_api_call_is_logged_without_its_credentials(pool: PgPool) {
    // Arrange
    let mut call = ApiCall::new(
        "canadapost",
        "CreateNonContractShipment",
        "post",
        "https://ct.soa-gw.canadapost.ca/rs/0001234567/ncshipment?key=s3cr3t",
        [
            ("Authorization", "Basic dXNlcjpzM2NyM3Q="),
            ("Content-Type", "application/vnd.cpc.ncshipment-v4+xml"),
        ],
    );
    call.status_code = Some(200);
    call.request_body = Some("<non-contract-shipment/>".into());

    // Act
    record_api_call(&pool, &call).await.unwrap();

    // Assert
    let row: String = sqlx::query_scalar("select c::text from ops.api_calls c")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!row.contains("s3cr3t"), "{row}");
    assert!(!row.contains("dXNlcjpzM2NyM3Q="), "{row}");
    assert!(row.contains("CreateNonContractShipment"));
    assert!(row.contains("[redacted]"));
}
