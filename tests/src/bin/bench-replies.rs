//! How fast the message classifier reads, on one core: `make bench-replies`.
//!
//! Classifies the evaluation set's messages over and over on this one thread for a few
//! seconds and prints messages per second, with the machine's load average (the figure
//! means little on a busy machine). Also prints the classifier's cold start: the time its
//! first use takes in a fresh process (parsing the bundled data files; the median of
//! `FRESH_PROCESSES` processes started for it), and the median of parsing them again.
//!
//! An argument names another JSON-lines file of `{"text": …}` messages. Built with the
//! release profile, as Lambda runs it.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sellerops::flows::replies::classifier::Classifier;
use sellerops_tests::bench::{load_average, Figure, Target};

const DEFAULT_SET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/replies/evaluation-set.jsonl"
);
const INTENTS: &str = include_str!("../../../shared/replies/intents.toml");
const HAZARDS: &str = include_str!("../../../shared/replies/hazards.toml");
const TEXT: &str = include_str!("../../../shared/replies/text.toml");
const RUN_FOR: Duration = Duration::from_secs(3);
/// Fresh processes started to time the classifier's first use; the median is the figure.
const FRESH_PROCESSES: usize = 11;
/// Set in a fresh process: time the first use, print it in microseconds, and stop.
const FIRST_USE_ONLY: &str = "BENCH_REPLIES_FIRST_USE_ONLY";

#[derive(serde::Deserialize)]
struct Message {
    text: String,
}

/// This thread's time on a CPU so far (Linux), which a busy machine does not inflate as it
/// does wall-clock time.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// The classifier's first use in this process: wall-clock and CPU time.
fn first_use() -> (&'static Classifier, Duration, Option<Duration>) {
    let started = Instant::now();
    let started_cpu = cpu_time();
    let classifier = Classifier::bundled();
    let took = started.elapsed();
    let took_cpu = cpu_time().zip(started_cpu).map(|(end, start)| end - start);
    (classifier, took, took_cpu)
}

/// The median first use of `FRESH_PROCESSES` fresh processes of this benchmark, wall-clock
/// and CPU, when this binary can be started again.
fn first_use_in_fresh_processes() -> Option<(Duration, Duration)> {
    let me = std::env::current_exe().ok()?;
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..FRESH_PROCESSES {
        let output = std::process::Command::new(&me)
            .env(FIRST_USE_ONLY, "1")
            .output()
            .ok()?;
        let text = String::from_utf8(output.stdout).ok()?;
        let (w, c) = text.trim().split_once(' ')?;
        wall.push(Duration::from_micros(w.parse().ok()?));
        cpu.push(Duration::from_micros(c.parse().ok()?));
    }
    wall.sort();
    cpu.sort();
    Some((wall[wall.len() / 2], cpu[cpu.len() / 2]))
}

fn main() -> ExitCode {
    if std::env::var_os(FIRST_USE_ONLY).is_some() {
        let (_, took, took_cpu) = first_use();
        println!(
            "{} {}",
            took.as_micros(),
            took_cpu.unwrap_or(took).as_micros()
        );
        return ExitCode::SUCCESS;
    }
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_SET.to_owned());

    let (classifier, first_use, first_use_cpu) = match first_use_in_fresh_processes() {
        Some((wall, cpu)) => {
            let (classifier, _, _) = first_use();
            (classifier, wall, Some(cpu))
        }
        None => first_use(),
    };
    let mut parses: Vec<Duration> = (0..21)
        .map(|_| {
            let started = Instant::now();
            let parsed = Classifier::parse(INTENTS, HAZARDS, TEXT);
            let took = started.elapsed();
            assert!(black_box(parsed).is_ok(), "the bundled rules parse");
            took
        })
        .collect();
    parses.sort();

    let source = match std::fs::read_to_string(&path) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("bench-replies: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut messages = Vec::new();
    for (i, line) in source
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<Message>(line) {
            Ok(m) => messages.push(m.text),
            Err(e) => {
                eprintln!("bench-replies: {path} line {}: {e}", i + 1);
                return ExitCode::FAILURE;
            }
        }
    }
    if messages.is_empty() {
        eprintln!("bench-replies: {path} holds no message");
        return ExitCode::FAILURE;
    }
    let bytes: usize = messages.iter().map(String::len).sum();

    // Warm up, then measure whole passes over the set.
    for text in &messages {
        black_box(classifier.classify(black_box(text)));
    }
    let started = Instant::now();
    let started_cpu = cpu_time();
    let mut classified = 0usize;
    while started.elapsed() < RUN_FOR {
        for text in &messages {
            black_box(classifier.classify(black_box(text)));
        }
        classified += messages.len();
    }
    let took = started.elapsed();
    let took_cpu = cpu_time().zip(started_cpu).map(|(end, start)| end - start);
    let per_second = classified as f64 / took.as_secs_f64();

    let load = load_average();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "bench-replies: {} messages ({} bytes on average) from {path}",
        messages.len(),
        bytes / messages.len()
    );
    println!(
        "  throughput: {per_second:.0} messages/s on one thread ({classified} classified in {:.2} s, {:.1} µs each)",
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / classified as f64
    );
    if let Some(cpu) = took_cpu {
        println!(
            "  per CPU second: {:.0} messages/s ({:.1} µs of CPU each; the wall-clock figure above shares the cores with the load below)",
            classified as f64 / cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / classified as f64
        );
    }
    if let Some(cpu) = first_use_cpu {
        println!(
            "  cold start on the CPU: first use {:.2} ms (median of {FRESH_PROCESSES} fresh processes)",
            cpu.as_secs_f64() * 1e3
        );
    }
    println!(
        "  cold start: first use {:.2} ms (parses the bundled rules); parsing again: median {:.2} ms, max {:.2} ms",
        first_use.as_secs_f64() * 1e3,
        parses[parses.len() / 2].as_secs_f64() * 1e3,
        parses[parses.len() - 1].as_secs_f64() * 1e3
    );
    println!("  load average: {load} ({cores} cores)");
    Figure {
        name: "replies classified per CPU second, one core",
        value: classified as f64 / took_cpu.unwrap_or(took).as_secs_f64(),
        unit: "messages/s",
        anchor: None,
        target: Target::AtLeast(50_000.0),
    }
    .print();
    Figure {
        name: "replies classifier first use (added cold start)",
        value: first_use_cpu.unwrap_or(first_use).as_secs_f64() * 1e3,
        unit: "ms",
        anchor: None,
        target: Target::AtMost(10.0),
    }
    .print();
    ExitCode::SUCCESS
}
