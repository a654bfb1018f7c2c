//! Cold starts of the functions beside a hello-world (`make bench-coldstart`).
//!
//! Serves a minimal Lambda Runtime API on loopback and starts each function binary
//! fresh `BENCH_RUNS` times (default 20), one at a time, as Lambda does on a cold start:
//! the first `GET …/invocation/next` gets a realistic event from
//! `tests/fixtures/events/`, the answer (`…/response` or `…/error`) is recorded, then the
//! process is killed. Per binary it prints the medians of
//!
//! - init: process start to its first poll of the Runtime API (what Lambda bills as the
//!   init phase),
//! - first response: process start to the first event's answer (the cold start a caller
//!   waits for; it includes the handler's own work on the local stack),
//!
//! the highest peak RSS (`VmHWM`) across runs, read once the answer is in, and init as a
//! ratio to the hello-world's in the same run. The machine's load average is printed
//! before and after: the figures are only comparable between quiet runs.
//!
//! Usage: `bench-coldstart <directory of the built binaries>`, with the functions'
//! environment (the local stack's `env.sh` and `services-env.sh`) already set.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sellerops_tests::bench::{load_average, Figure, Target};

/// The binaries measured, each with the event it gets: what that function receives in
/// production.
const SUBJECTS: &[(&str, &str)] = &[
    ("coldstart-hello", "eventbridge-scheduled.json"),
    ("marketplace-webhook", "apigw-v2-mirakl-webhook.json"),
    ("ingest-orders-file", "sqs-s3-notification.json"),
    ("sync-marketplace", "eventbridge-scheduled.json"),
    ("accept-orders", "sqs-accept-order.json"),
    ("fetch-shipping-label", "sqs-label-order.json"),
    ("conversation-auto-reply", "sqs-reply-message.json"),
    ("evaluate-pricing-rules", "sqs-any-offer-changed.json"),
];

/// How long one start may take before the run counts as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

const TARGET_RATIO: f64 = 2.0;
const TARGET_RSS_KIB: u64 = 16 * 1024;

/// What the Runtime API saw of the process being measured.
enum Seen {
    /// A poll for the next event (the first one ends init).
    Poll(Instant),
    /// The answer to the event; `ok` is false for an `…/error` post.
    Answer { at: Instant, ok: bool },
    /// The function reported that its init failed.
    InitError(String),
}

struct Run {
    init: Duration,
    response: Duration,
    ok: bool,
    hwm_kib: u64,
}

fn main() {
    let bin_dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: bench-coldstart <directory of the built binaries>"),
    );
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .map(|value| value.parse().expect("BENCH_RUNS is a number"))
        .unwrap_or(20);
    let events_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/events");

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the Runtime API");
    let api = listener.local_addr().expect("the Runtime API's address");
    let (seen_tx, seen) = mpsc::channel();
    // The event the process being measured gets on its first poll.
    let current_event = Arc::new(Mutex::new(Vec::new()));
    {
        let current_event = current_event.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen_tx = seen_tx.clone();
                let current_event = current_event.clone();
                thread::spawn(move || serve(stream, &seen_tx, &current_event));
            }
        });
    }

    println!(
        "bench-coldstart: {runs} cold starts each, binaries from {}",
        bin_dir.display()
    );
    println!("load average before: {}", load_average());
    let mut results: BTreeMap<&str, Vec<Run>> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    // Interleaved (hello, webhook, …, hello, webhook, …) so that a change in the
    // machine's load touches every binary alike.
    for _ in 0..runs {
        for (name, event_file) in SUBJECTS {
            let event = std::fs::read(events_dir.join(event_file))
                .unwrap_or_else(|err| panic!("{event_file}: {err}"));
            *current_event.lock().unwrap() = event;
            match cold_start(&bin_dir.join(name), name, &api.to_string(), &seen) {
                Ok(run) => results.entry(name).or_default().push(run),
                Err(reason) => failures.push(format!("{name}: {reason}")),
            }
        }
    }
    println!("load average after:  {}", load_average());
    println!();
    print_table(&results, runs);
    if !failures.is_empty() {
        println!();
        println!("failed starts ({}):", failures.len());
        for failure in failures.iter().take(10) {
            println!("  {failure}");
        }
        std::process::exit(1);
    }
}

/// Starts `binary` once and measures it.
fn cold_start(binary: &Path, name: &str, api: &str, seen: &Receiver<Seen>) -> Result<Run, String> {
    while seen.try_recv().is_ok() {} // whatever the previous process left
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench-coldstart")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("could not start {}: {err}", binary.display()))?;
    let outcome = watch(&mut child, started, seen);
    let _ = child.kill();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let _ = child.wait();
    outcome.map_err(|reason| match stderr.lines().last() {
        Some(line) => format!("{reason}; its last log line: {line}"),
        None => reason,
    })
}

fn watch(child: &mut Child, started: Instant, seen: &Receiver<Seen>) -> Result<Run, String> {
    let deadline = started + RUN_TIMEOUT;
    let mut init = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match seen.recv_timeout(left) {
            Ok(Seen::Poll(at)) => {
                init.get_or_insert(at - started);
            }
            Ok(Seen::Answer { at, ok }) => {
                let init = init.ok_or("answered without polling")?;
                let hwm_kib =
                    peak_rss_kib(child.id()).ok_or("could not read its VmHWM from /proc")?;
                return Ok(Run {
                    init,
                    response: at - started,
                    ok,
                    hwm_kib,
                });
            }
            Ok(Seen::InitError(body)) => return Err(format!("init failed: {body}")),
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!("no answer within {RUN_TIMEOUT:?}"))
            }
            Err(RecvTimeoutError::Disconnected) => return Err("Runtime API gone".into()),
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited with {status} before answering"));
        }
    }
}

/// One connection of the Runtime API: HTTP/1.1 with keep-alive, as the runtime's client
/// speaks it. The first poll gets the event; a later one is left waiting, as on Lambda
/// between invocations.
fn serve(stream: TcpStream, seen: &Sender<Seen>, event: &Mutex<Vec<u8>>) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(stream) => stream,
        Err(_) => return,
    });
    let mut writer = stream;
    let mut polled = false;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let at = Instant::now();
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let answer = if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let _ = seen.send(Seen::Poll(at));
            if polled {
                // The next invocation never comes: the process is killed first.
                thread::sleep(RUN_TIMEOUT);
                return;
            }
            polled = true;
            let event = event.lock().unwrap().clone();
            let deadline_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|now| now.as_millis() + 900_000)
                .unwrap_or_default();
            let mut head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 lambda-runtime-aws-request-id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n\
                 lambda-runtime-deadline-ms: {deadline_ms}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:ca-central-1:123456789012:function:bench\r\n\
                 lambda-runtime-trace-id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\
                 content-length: {}\r\n\r\n",
                event.len()
            )
            .into_bytes();
            head.extend_from_slice(&event);
            head
        } else {
            if path.ends_with("/init/error") {
                let _ = seen.send(Seen::InitError(String::from_utf8_lossy(&body).into()));
            } else if path.ends_with("/response") || path.ends_with("/error") {
                let _ = seen.send(Seen::Answer {
                    at,
                    ok: path.ends_with("/response"),
                });
            }
            b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 16\r\n\r\n{\"status\":\"OK\"}\n".to_vec()
        };
        if writer.write_all(&answer).is_err() {
            return;
        }
    }
}

/// The process's peak resident set (`VmHWM`, in KiB).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn print_table(results: &BTreeMap<&str, Vec<Run>>, runs: usize) {
    let hello_init = results
        .get("coldstart-hello")
        .map(|runs| median(runs.iter().map(|run| run.init).collect()));
    println!(
        "{:<22} {:>5} {:>10} {:>10} {:>15} {:>9} {:>11}  targets: init ≤ {TARGET_RATIO}× hello, RSS ≤ {} MiB",
        "binary",
        "runs",
        "init ms",
        "× hello",
        "first answer ms",
        "peak MiB",
        "answers ok",
        TARGET_RSS_KIB / 1024
    );
    let mut figures = Vec::new();
    for (name, _) in SUBJECTS {
        let Some(measured) = results.get(name) else {
            println!("{name:<22} {:>5}", 0);
            continue;
        };
        let init = median(measured.iter().map(|run| run.init).collect());
        let response = median(measured.iter().map(|run| run.response).collect());
        let peak = measured.iter().map(|run| run.hwm_kib).max().unwrap_or(0);
        let ok = measured.iter().filter(|run| run.ok).count();
        let ratio = hello_init.map_or(f64::NAN, |hello| init.as_secs_f64() / hello.as_secs_f64());
        let verdict = if ratio <= TARGET_RATIO && peak <= TARGET_RSS_KIB {
            "ok"
        } else {
            "over target"
        };
        println!(
            "{name:<22} {:>5} {:>10.2} {:>10.2} {:>15.2} {:>9.1} {:>11}  {verdict}",
            format!("{}/{runs}", measured.len()),
            millis(init),
            ratio,
            millis(response),
            peak as f64 / 1024.0,
            format!("{ok}/{}", measured.len()),
        );
        figures.push((*name, init, peak));
    }
    println!();
    for (name, init, peak) in figures {
        if name == "coldstart-hello" {
            continue;
        }
        Figure {
            name: &format!("cold start init, {name}"),
            value: millis(init),
            unit: "ms",
            anchor: hello_init.map(|hello| ("hello-world init", millis(hello))),
            target: Target::RatioAtMost(TARGET_RATIO),
        }
        .print();
        Figure {
            name: &format!("cold start peak RSS, {name}"),
            value: peak as f64 / 1024.0,
            unit: "MiB",
            anchor: None,
            target: Target::AtMost((TARGET_RSS_KIB / 1024) as f64),
        }
        .print();
    }
}
