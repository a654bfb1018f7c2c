//! Handler-level webhook benchmark against the local PostgreSQL (`make bench-webhooks`).
//!
//! Creates a fresh `<database>_bench` database next to `DATABASE_URL` (the previous
//! run's is dropped), applies the migrations, then sends Mirakl and Shopify deliveries straight to
//! `WebhookService::handle` at a fixed rate (default 200/s, `BENCH_RATE`) for
//! `BENCH_SECONDS` (default 10) each, after [`WARM_UP_SECONDS`] at that rate untimed, and
//! prints p50/p99/max latency and the achieved throughput. It uses the functions' own
//! pool (`sellerops::systems::db::pool`). Every delivery is a new order, so each one
//! does the full recording work: inbox, customer, order, lines, status history, its day
//! noted for the sales aggregates (and for Mirakl a follow-up in the outbox; publishing
//! to SQS is left out, as it happens after the answer).
//! Then it says what each part of a Mirakl delivery costs at that rate, measured alone:
//! a bare transaction, the inbox (store the delivery), the recording
//! (customer, order, lines, history, stock, outbox row, the day's note) and, with the
//! local SQS (`AWS_ENDPOINT_URL`), the answer of a service that publishes each
//! follow-up after answering, as the function does, and that publishing itself. With
//! the local SQS it also times one delivery of 150 orders waiting for acceptance: its
//! answer, then the publishing of its 150 accept messages after it.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sellerops::flows::webhooks::{inbox, WebhookDelivery, WebhookService};
use sellerops::ops::config::{DatabaseSettings, DEFAULT_LOCK_TIMEOUT, DEFAULT_STATEMENT_TIMEOUT};
use sellerops_tests::bench::{Figure, Target};
use sellerops_tests::marketplace::{headers, mirakl_order, shopify_headers, MIRAKL_SECRET};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// How long each source runs at the measured rate before it is timed.
const WARM_UP_SECONDS: u64 = 3;

#[tokio::main]
async fn main() {
    let url = sellerops_tests::stack_var("DATABASE_URL");
    let rate: u64 = env_number("BENCH_RATE", 200);
    let seconds: u64 = env_number("BENCH_SECONDS", 10);
    let connections: u32 = env_number("BENCH_CONNECTIONS", 8) as u32;

    let options = PgConnectOptions::from_str(&url).expect("DATABASE_URL");
    let bench_db = format!("{}_bench", options.get_database().unwrap_or("sellerops"));
    // A fresh database each run: every delivery refreshes its order's day, so orders
    // left on that day by earlier runs would make each run slower than the last.
    let mut admin = options.clone().connect().await.expect("connect");
    sqlx::query(&format!("drop database if exists {bench_db} with (force)"))
        .execute(&mut admin)
        .await
        .expect("drop the previous run's database");
    sqlx::query(&format!("create database {bench_db}"))
        .execute(&mut admin)
        .await
        .expect("create the bench database");
    admin.close().await.ok();
    // The functions' own pool, as configured in production.
    let settings = DatabaseSettings {
        url: options
            .database(&bench_db)
            .to_url_lossy()
            .to_string()
            .into(),
        max_connections: connections,
        statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
        lock_timeout: DEFAULT_LOCK_TIMEOUT,
    };
    let pool = sellerops::systems::db::pool(&settings, "bench-webhooks").expect("the pool");
    sellerops::MIGRATOR.run(&pool).await.expect("migrations");

    let service = Arc::new(sellerops_tests::marketplace::webhook_service(&pool, None));
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    println!(
        "webhook benchmark: {rate} deliveries/s for {seconds} s per source, {connections} connections"
    );
    let mut figures = Vec::new();
    for source in ["mirakl", "shopify"] {
        // Warm up at the measured rate (the pool, the plan caches, the new tables' first
        // pages): the steady state after it is what is timed.
        run(
            &service,
            source,
            &format!("{run_id}w"),
            rate,
            WARM_UP_SECONDS,
        )
        .await;
        let (mut latencies, elapsed) = run(&service, source, &run_id, rate, seconds).await;
        latencies.sort();
        let pick = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "{source:8} n={:5}  p50={:6.2} ms  p99={:6.2} ms  max={:6.2} ms  throughput={:7.1}/s",
            latencies.len(),
            ms(pick(0.50)),
            ms(pick(0.99)),
            ms(*latencies.last().unwrap()),
            latencies.len() as f64 / elapsed.as_secs_f64()
        );
        figures.push((source, ms(pick(0.99))));
    }
    // Unthrottled: how many deliveries a second the handler sustains.
    let (latencies, elapsed) = run(&service, "mirakl", &format!("{run_id}max"), 0, 5).await;
    println!(
        "mirakl   unthrottled with {connections} in flight: {:7.1}/s",
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!();
    for (source, p99) in figures {
        Figure {
            name: &format!("{source} webhook p99 at {rate}/s"),
            value: p99,
            unit: "ms",
            anchor: None,
            target: Target::AtMost(10.0),
        }
        .print();
    }
    Figure {
        name: &format!("mirakl webhooks unthrottled, {connections} in flight"),
        value: latencies.len() as f64 / elapsed.as_secs_f64(),
        unit: "deliveries/s",
        anchor: None,
        target: Target::AtLeast(1000.0),
    }
    .print();
    parts(&pool, &service, &run_id, rate, seconds.min(5)).await;
    if std::env::var("AWS_ENDPOINT_URL").is_ok() {
        many_waiting_orders(&pool, &run_id).await;
    }
}

/// What each part of a Mirakl delivery costs, each measured alone at `rate` for
/// `seconds`: the median latency of a bare transaction, of one that stores and marks a
/// delivery in the inbox, of the whole delivery recorded, and (with the local SQS) of the
/// same answered by a service that then publishes the follow-up, as the function does.
/// A part's cost is its step over the one before; the publishing after the answer is
/// timed on its own.
async fn parts(
    pool: &sqlx::PgPool,
    service: &Arc<WebhookService>,
    run_id: &str,
    rate: u64,
    seconds: u64,
) {
    let transaction = paced(rate, seconds, |_| {
        let pool = pool.clone();
        async move {
            let tx = pool.begin().await.expect("begin");
            tx.commit().await.expect("commit");
        }
    })
    .await;
    let inbox = paced(rate, seconds, |n| {
        let pool = pool.clone();
        let id = format!("{run_id}-inbox-{n}");
        async move {
            let (_, body) = delivery("mirakl", &id);
            let mut tx = pool.begin().await.expect("begin");
            inbox::store_delivery(&mut tx, "mirakl", &id, &serde_json::json!({}), &body)
                .await
                .expect("store the delivery")
                .expect("a new delivery");
            tx.commit().await.expect("commit");
        }
    })
    .await;
    let recorded = paced(rate, seconds, |n| {
        let service = service.clone();
        let id = format!("{run_id}-parts-{n}");
        async move { deliver(&service, "mirakl", &id).await }
    })
    .await;
    let mut steps = vec![
        ("transaction (begin, commit)", median(transaction)),
        ("inbox (store the delivery)", median(inbox)),
        (
            "recording (customer, order, lines, history, stock, outbox row, day's note)",
            median(recorded),
        ),
    ];
    let mut after_answer = None;
    if std::env::var("AWS_ENDPOINT_URL").is_ok() {
        let (service, queue) = publishing_service(pool).await;
        let service = Arc::new(service);
        let answers = Arc::new(std::sync::Mutex::new(Vec::new()));
        let publishing = Arc::new(std::sync::Mutex::new(Vec::new()));
        paced(rate, seconds, |n| {
            let service = service.clone();
            let (answers, publishing) = (answers.clone(), publishing.clone());
            let id = format!("{run_id}-publish-{n}");
            async move {
                let sent = Instant::now();
                deliver(&service, "mirakl", &id).await;
                let answered = sent.elapsed();
                // As the function does once the answer has gone: not in the latency.
                let tally = service.publish_follow_ups().await;
                let took = sent.elapsed().saturating_sub(answered);
                answers.lock().unwrap().push(answered);
                if tally.published > 0 {
                    publishing.lock().unwrap().push((took, tally.published));
                }
            }
        })
        .await;
        let answers = std::mem::take(&mut *answers.lock().unwrap());
        steps.push((
            "a publishing service's answer (its follow-up sent after it)",
            median(answers),
        ));
        let passes = std::mem::take(&mut *publishing.lock().unwrap());
        if !passes.is_empty() {
            let sent: u64 = passes.iter().map(|(_, sent)| sent).sum();
            let per_pass = sent as f64 / passes.len() as f64;
            let took = median(passes.into_iter().map(|(took, _)| took).collect());
            after_answer = Some((took, per_pass));
        }
        queue.delete().await;
    }
    println!("\nparts of a Mirakl delivery at {rate}/s, each measured alone (median; a part is its step over the one before):");
    let mut before = Duration::ZERO;
    for (part, total) in &steps {
        println!(
            "  {part:84} {:6.2} ms  (total {:6.2} ms)",
            ms(total.saturating_sub(before)),
            ms(*total)
        );
        before = *total;
    }
    if let Some((took, per_pass)) = after_answer {
        println!(
            "  {:84} {:6.2} ms  ({per_pass:.1} messages a pass; one pass at a time)",
            "after the answer: a publishing pass to SQS (median; not in any latency above)",
            ms(took)
        );
    }
}

fn median(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort();
    latencies[latencies.len() / 2]
}

/// A local SQS queue for the accept follow-ups, deleted when done.
struct BenchQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl BenchQueue {
    async fn delete(self) {
        self.sqs
            .delete_queue()
            .queue_url(&self.url)
            .send()
            .await
            .ok();
    }
}

/// A webhook service that publishes its follow-ups to a new local SQS queue.
async fn publishing_service(pool: &sqlx::PgPool) -> (WebhookService, BenchQueue) {
    let aws = sellerops_tests::local_aws().await;
    let url = aws
        .sqs
        .create_queue()
        .queue_name(sellerops_tests::unique_name("bench-accept"))
        .send()
        .await
        .expect("create the accept queue")
        .queue_url
        .unwrap_or_default();
    let publisher = sellerops::ops::outbox::OutboxPublisher {
        sqs: aws.sqs.clone(),
        queues: sellerops::ops::config::QueueUrls {
            accept: Some(url.clone()),
            ..Default::default()
        },
    };
    let service = sellerops_tests::marketplace::webhook_service(pool, Some(publisher));
    (service, BenchQueue { sqs: aws.sqs, url })
}

/// One Mirakl delivery of 150 orders waiting for acceptance: its answer, then the
/// publishing of its 150 accept messages to the local SQS (ten a `SendMessageBatch`)
/// after it, as the function does.
async fn many_waiting_orders(pool: &sqlx::PgPool, run_id: &str) {
    let (service, queue) = publishing_service(pool).await;
    let orders: Vec<String> = (0..150)
        .map(|i| {
            mirakl_order(
                &format!("BENCH-{run_id}-MANY-{i}"),
                "WAITING_ACCEPTANCE",
                "2026-03-02T14:18:45Z",
            )
        })
        .collect();
    let body = format!("[{}]", orders.join(","));
    let headers = headers(&[("x-webhook-secret", MIRAKL_SECRET)]);
    let sent = Instant::now();
    let answer = service
        .handle(WebhookDelivery {
            method: "POST",
            path: "/webhooks/mirakl",
            headers: &headers,
            body: body.as_bytes(),
        })
        .await;
    let took = sent.elapsed();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let publishing = Instant::now();
    service.publish_follow_ups().await;
    let published = publishing.elapsed();
    println!(
        "mirakl   one delivery of 150 waiting orders: answered in {:8.2} ms, its 150 follow-ups published after it in {:8.2} ms",
        ms(took),
        ms(published)
    );
    queue.delete().await;
}

/// Sends `rate` deliveries a second for `seconds` (rate 0: as fast as the pool allows).
async fn run(
    service: &Arc<WebhookService>,
    source: &'static str,
    run_id: &str,
    rate: u64,
    seconds: u64,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let latencies = paced(rate, seconds, |n| {
        let service = service.clone();
        let id = format!("{run_id}-{n}");
        async move { deliver(&service, source, &id).await }
    })
    .await;
    (latencies, started.elapsed())
}

/// Starts `work(n)` `rate` times a second for `seconds` (rate 0: eight at a time, as
/// fast as they finish) and returns each one's latency.
async fn paced<F, W>(rate: u64, seconds: u64, mut work: W) -> Vec<Duration>
where
    W: FnMut(u64) -> F,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    let limiter = Arc::new(tokio::sync::Semaphore::new(if rate == 0 {
        8
    } else {
        10_000
    }));
    let mut n = 0u64;
    while Instant::now() < deadline {
        if rate > 0 {
            let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let permit = limiter.clone().acquire_owned().await.unwrap();
        let work = work(n);
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            work.await;
            let latency = sent.elapsed();
            drop(permit);
            latency
        }));
        n += 1;
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for task in tasks {
        latencies.push(task.await.unwrap());
    }
    latencies
}

/// One new order from `source`, through the whole handler; anything but 200 stops the run.
async fn deliver(service: &WebhookService, source: &str, id: &str) {
    let (headers, body) = delivery(source, id);
    let answer = service
        .handle(WebhookDelivery {
            method: "POST",
            path: &format!("/webhooks/{source}"),
            headers: &headers,
            body: body.as_bytes(),
        })
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

fn delivery(source: &str, id: &str) -> (reqwest::header::HeaderMap, String) {
    match source {
        "mirakl" => {
            let body = format!(
                "[{}]",
                mirakl_order(
                    &format!("BENCH-{id}"),
                    "WAITING_ACCEPTANCE",
                    "2026-03-02T14:18:45Z"
                )
                .replace("BBY-CUST-558201", &format!("BENCH-CUST-{id}"))
                .replace("k7f3q9x2-relay", &format!("relay-{id}"))
            );
            (headers(&[("x-webhook-secret", MIRAKL_SECRET)]), body)
        }
        _ => {
            let body = sellerops_tests::fixtures::text("shopify/order_created.json")
                .replace("5820417390766", &format!("9{}", digits(id)))
                .replace("7310044512430", &format!("8{}", digits(id)))
                .replace("liam.macdonald", &format!("liam.{id}"));
            (shopify_headers("orders/create", id, &body), body)
        }
    }
}

fn digits(id: &str) -> String {
    let hash = id
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    format!("{}", hash % 1_000_000_000_000)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
