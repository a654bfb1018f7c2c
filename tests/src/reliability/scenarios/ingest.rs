//! Order files: an S3 event delivered three times, and PostgreSQL restarted in the
//! middle of an import.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::fixtures;
use crate::order_files::{upload, write_order_file};
use crate::reliability::stack::Stack;
use crate::reliability::tally::Tally;
use crate::reliability::ScenarioError;

/// What a file holds: data rows, and distinct orders (its first column).
struct FileContents {
    rows: u64,
    orders: u64,
}

impl FileContents {
    fn of(file: &[u8]) -> Self {
        let text = String::from_utf8_lossy(file);
        let mut orders = HashSet::new();
        let mut rows = 0;
        for line in text.lines().skip(1).filter(|line| !line.trim().is_empty()) {
            rows += 1;
            orders.insert(line.split(',').next().unwrap_or_default().to_owned());
        }
        Self {
            rows,
            orders: orders.len() as u64,
        }
    }
}

/// The file's import as the database has it: completed imports of the key, its orders,
/// and its rows accounted for (imported lines plus rejected rows).
async fn imported(
    stack: &Stack,
    key: &str,
    contents: &FileContents,
) -> Result<Tally, ScenarioError> {
    let files = stack
        .number(
            "select count(*) from ingest.ingestion_files where object_key = $1 and status = 'completed'",
            key,
        )
        .await?;
    let orders = stack
        .number(
            "select count(*) from sales.orders o
             join ingest.ingestion_files f on f.id = o.ingestion_file_id where f.object_key = $1",
            key,
        )
        .await?;
    let lines = stack
        .number(
            "select (select count(*) from sales.order_lines l
                     join sales.orders o on o.id = l.order_id
                     join ingest.ingestion_files f on f.id = o.ingestion_file_id
                     where f.object_key = $1)
                  + (select count(*) from ingest.ingestion_errors e
                     join ingest.ingestion_files f on f.id = e.file_id where f.object_key = $1)",
            key,
        )
        .await?;
    Ok(Tally::default()
        .count("imports", 1, files)
        .count("orders", contents.orders, orders)
        .count("rows", contents.rows, lines))
}

/// S3 delivers an event at least once: the notification moto sent for a new order file,
/// plus the same event twice more, taken by three instances at once. The file is
/// imported once.
pub async fn s3_event_delivered_three_times(stack: &Stack) -> Result<Tally, ScenarioError> {
    let key = "incoming/reliability/delivered-three-times.csv";
    let file = fixtures::order_file("sample-orders.csv");
    let contents = FileContents::of(&file);
    upload(&stack.aws, &stack.orders_bucket, key, file).await;

    let notification = stack
        .receive_one(&stack.ingest, Duration::from_secs(1))
        .await?
        .ok_or("the upload's S3 notification did not reach the ingest queue")?;
    let body = notification.body().unwrap_or_default().to_owned();
    stack.send(&stack.ingest, &body).await?;
    stack.send(&stack.ingest, &body).await?;
    // The first copy becomes visible again a second after it was looked at.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let deliveries = stack
        .drain(&stack.ingest, 3, Duration::from_secs(60))
        .await?;
    let tally = imported(stack, key, &contents).await?;
    Ok(Tally {
        deliveries,
        ..tally
    })
}

/// Rows of the file imported while PostgreSQL restarts: enough batches that the restart
/// lands in the middle.
const RESTART_FILE_ROWS: u64 = 30_000;

/// PostgreSQL restarts (`pg_ctl restart -m fast`, every connection cut) once the import
/// of an order file has committed some batches. The attempt fails, the message comes
/// back, the next attempt takes the file over once the dead attempt's lease runs out and
/// resumes: every row is imported once.
pub async fn postgres_restarted_during_an_import(stack: &Stack) -> Result<Tally, ScenarioError> {
    let key = "incoming/reliability/postgres-restart.csv";
    let path = std::env::temp_dir().join(format!("reliability-{}.csv", std::process::id()));
    write_order_file(&path, RESTART_FILE_ROWS)?;
    let file = std::fs::read(&path)?;
    std::fs::remove_file(&path)?;
    let contents = FileContents::of(&file);
    upload(&stack.aws, &stack.orders_bucket, key, file).await;

    let import = stack.drain(&stack.ingest, 1, Duration::from_secs(180));
    let restart = async {
        let started = Instant::now();
        loop {
            let orders = stack
                .number(
                    "select count(*) from sales.orders o join ingest.ingestion_files f
                     on f.id = o.ingestion_file_id where f.object_key = $1",
                    key,
                )
                .await?;
            if orders > 0 {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err::<(), ScenarioError>("the import committed nothing within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let completed = stack
            .number(
                "select count(*) from ingest.ingestion_files where object_key = $1 and status = 'completed'",
                key,
            )
            .await?;
        if completed > 0 {
            return Err("the import finished before PostgreSQL could be restarted".into());
        }
        stack.restart("postgres").await
    };
    let (deliveries, restarted) = tokio::join!(import, restart);
    restarted?;
    let tally = imported(stack, key, &contents).await?;
    Ok(Tally {
        deliveries: deliveries?,
        ..tally
    })
}
