//! SQS batches within the invocation's time: records not started for lack of time go
//! back to the queue untouched, and records run side by side no more than allowed.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sellerops::ops::sqs_batch::{settle_batch_within, BatchPlan};
use sellerops_tests::events::sqs_event;
use serde_json::json;
use sqlx::PgPool;

fn batch_of(n: usize) -> (aws_lambda_events::event::sqs::SqsEvent, BTreeSet<String>) {
    let ids: Vec<String> = (1..=n).map(|i| format!("m-{i}")).collect();
    let event = sqs_event(ids.iter().map(|id| (id.clone(), json!({ "order": id }))));
    (event, ids.into_iter().collect())
}

/// Lambda's `Context::deadline` for an invocation ending `after` from now.
fn deadline_in(after: Duration) -> u64 {
    let at = SystemTime::now() + after;
    u64::try_from(at.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn a_batch_short_of_time_returns_the_records_it_did_not_start_and_loses_none(pool: PgPool) {
    // Arrange: one record takes 500 ms and needs 600 ms at worst; the invocation has 1 s.
    let (event, all) = batch_of(5);
    let plan = BatchPlan {
        deadline: None,
        record_time: Duration::from_millis(600),
        concurrency: 1,
    }
    .until(deadline_in(Duration::from_secs(1)));
    let handled = Mutex::new(BTreeSet::new());

    // Act
    let (response, tally) = settle_batch_within(&pool, "TestProcess", event, plan, |record| {
        let handled = &handled;
        async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            handled.lock().unwrap().insert(record.message_id.unwrap());
            Ok(())
        }
    })
    .await;

    // Assert: the first record ran; the four after it were not started and go back to
    // the queue; every record is either handled or returned, none both.
    let handled = handled.into_inner().unwrap();
    let returned: BTreeSet<String> = response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.clone())
        .collect();
    assert_eq!(handled, BTreeSet::from(["m-1".to_owned()]));
    assert_eq!(returned.len(), 4, "{returned:?}");
    assert!(handled.is_disjoint(&returned));
    assert_eq!(&handled | &returned, all);
    assert_eq!((tally.succeeded, tally.retried, tally.gave_up), (1, 4, 0));
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn an_invocation_already_out_of_time_starts_nothing(pool: PgPool) {
    let (event, all) = batch_of(3);
    let plan = BatchPlan {
        deadline: None,
        record_time: Duration::from_secs(60),
        concurrency: 2,
    }
    .until(deadline_in(Duration::from_secs(30)));
    let started = AtomicUsize::new(0);

    let (response, _) = settle_batch_within(&pool, "TestProcess", event, plan, |_| {
        started.fetch_add(1, Ordering::SeqCst);
        async { Ok(()) }
    })
    .await;

    assert_eq!(started.load(Ordering::SeqCst), 0);
    let returned: BTreeSet<String> = response
        .batch_item_failures
        .into_iter()
        .map(|failure| failure.item_identifier)
        .collect();
    assert_eq!(returned, all);
}

#[sqlx::test(migrator = "sellerops::MIGRATOR")]
async fn records_run_side_by_side_no_more_than_the_plan_allows(pool: PgPool) {
    // Arrange: 6 records, 2 at a time, no deadline (a default context's 0).
    let (event, _) = batch_of(6);
    let plan = BatchPlan {
        deadline: None,
        record_time: Duration::from_secs(60),
        concurrency: 2,
    }
    .until(0);
    let running = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);

    // Act
    let (response, tally) = settle_batch_within(&pool, "TestProcess", event, plan, |_| {
        let (running, most) = (&running, &most);
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    })
    .await;

    // Assert: every record handled, two at once at most (and at some point two).
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(tally.succeeded, 6);
    assert_eq!(most.load(Ordering::SeqCst), 2);
}
