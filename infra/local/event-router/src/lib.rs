//! The local stand-in for Lambda's SQS event source mappings.
//!
//! For each work queue of the local stack it receives batches, invokes the consuming
//! function through the local Lambda endpoint (`cargo lambda watch`), deletes what
//! succeeded and leaves reported failures for redelivery; the queues' RedrivePolicy
//! moves a message to its DLQ after the maximum receives.
//!
//! Layout:
//! - [`event`]: received messages → the `SqsEvent` JSON Lambda sends.
//! - [`lambda`]: the invocation and how its answer settles the batch.
//! - [`router`]: the poll → invoke → delete loop of one queue.
//! - [`template`]: each function's batch size, from `infra/template.yaml`.
//! - this file: which queue goes to which function, and the two ways to run
//!   (drain until idle, or forever).

pub mod event;
pub mod lambda;
pub mod router;
pub mod template;

use std::path::Path;
use std::time::{Duration, Instant};

use lambda::Invoke;
use router::{Mapping, PollReport, Route, Router, RouterError};

/// The local stack's queues (by the variable env.sh sets) and their consumers, as in
/// `infra/template.yaml`.
pub const DEFAULT_MAPPINGS: &[(&str, &str)] = &[
    ("INGEST_QUEUE_URL", "ingest-orders-file"),
    ("ACCEPT_QUEUE_URL", "accept-orders"),
    ("LABEL_QUEUE_URL", "fetch-shipping-label"),
    ("REPLY_QUEUE_URL", "conversation-auto-reply"),
    ("PRICING_QUEUE_URL", "evaluate-pricing-rules"),
];

/// The default mappings whose queue variable is set and whose function exists under
/// `functions/<name>/` in `repo_root`; the others, with the reason they are skipped.
pub fn default_mappings(
    lookup: impl Fn(&str) -> Option<String>,
    repo_root: &Path,
) -> (Vec<Mapping>, Vec<(String, String)>) {
    let mut mappings = Vec::new();
    let mut skipped = Vec::new();
    for (variable, function) in DEFAULT_MAPPINGS {
        let Some(queue_url) = lookup(variable).filter(|v| !v.is_empty()) else {
            skipped.push((function.to_string(), format!("{variable} is not set")));
            continue;
        };
        if !repo_root
            .join("functions")
            .join(function)
            .join("Cargo.toml")
            .is_file()
        {
            skipped.push((
                function.to_string(),
                format!("functions/{function}/ is not in this workspace yet"),
            ));
            continue;
        }
        mappings.push(Mapping {
            queue_url,
            function: function.to_string(),
        });
    }
    (mappings, skipped)
}

/// Parses `QUEUE_URL=FUNCTION`.
pub fn parse_mapping(text: &str) -> Result<Mapping, String> {
    let (queue_url, function) = text
        .rsplit_once('=')
        .filter(|(q, f)| !q.is_empty() && !f.is_empty())
        .ok_or_else(|| format!("--map {text}: expected QUEUE_URL=FUNCTION"))?;
    Ok(Mapping {
        queue_url: queue_url.to_owned(),
        function: function.to_owned(),
    })
}

/// What a drain did, per route.
#[derive(Debug, Clone)]
pub struct DrainSummary {
    /// Per route: the function and its totals.
    pub routes: Vec<(Mapping, PollReport)>,
    /// Whether the queues went quiet before the deadline.
    pub finished: bool,
}

/// Polls every route round after round until no queue has a visible message (nor,
/// when failures are retried soon, one in flight), or until `deadline`.
pub async fn drain<I: Invoke>(
    router: &Router<I>,
    routes: &mut [Route],
    deadline: Duration,
) -> Result<DrainSummary, RouterError> {
    let started = Instant::now();
    let mut totals = vec![PollReport::default(); routes.len()];
    let mut quiet_rounds = 0;
    let finished = loop {
        let mut received = 0;
        for (route, total) in routes.iter_mut().zip(totals.iter_mut()) {
            if route.disabled {
                continue;
            }
            let report = router.poll(route, Duration::ZERO).await?;
            received += report.received;
            *total += report;
        }
        if received > 0 {
            quiet_rounds = 0;
        } else {
            let mut busy = false;
            for route in routes.iter().filter(|r| !r.disabled) {
                let (visible, in_flight) = router.queue_depth(&route.mapping.queue_url).await?;
                busy |= visible > 0 || (router.retries_soon() && in_flight > 0);
            }
            quiet_rounds = if busy { 0 } else { quiet_rounds + 1 };
            // Two quiet rounds half a second apart: work a function started
            // (an outbox publish, an S3 notification) has had time to arrive.
            if quiet_rounds >= 2 {
                break true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if started.elapsed() >= deadline {
            break false;
        }
    };
    Ok(DrainSummary {
        routes: routes
            .iter()
            .map(|r| r.mapping.clone())
            .zip(totals)
            .collect(),
        finished,
    })
}

/// Polls every route concurrently with long polling, as the event source mappings do,
/// until `shutdown` completes.
pub async fn run_forever<I: Invoke>(
    router: Router<I>,
    routes: Vec<Route>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for mut route in routes {
        let router = router.clone();
        tasks.spawn(async move {
            while !route.disabled {
                if let Err(err) = router.poll(&mut route, Duration::from_secs(20)).await {
                    tracing::warn!(error = %err, "poll failed; trying again in 5 s");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        });
    }
    tokio::select! {
        () = shutdown => tasks.abort_all(),
        () = async { while tasks.join_next().await.is_some() {} } => {
            tracing::warn!("no queue left to poll");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_is_queue_url_equals_function() {
        let mapping = parse_mapping("http://127.0.0.1:4566/123456789012/q=accept-orders").unwrap();
        assert_eq!(mapping.queue_url, "http://127.0.0.1:4566/123456789012/q");
        assert_eq!(mapping.function, "accept-orders");
        assert!(parse_mapping("no-function").is_err());
    }

    #[test]
    fn default_mappings_skip_functions_not_in_the_workspace() {
        let root = std::env::temp_dir().join(format!("router-{}", std::process::id()));
        let function = root.join("functions").join("accept-orders");
        std::fs::create_dir_all(&function).unwrap();
        std::fs::write(function.join("Cargo.toml"), "").unwrap();

        let (mappings, skipped) = default_mappings(
            |name| (name != "PRICING_QUEUE_URL").then(|| format!("http://q/{name}")),
            &root,
        );

        assert_eq!(mappings.len(), 1);
        assert_eq!(mappings[0].function, "accept-orders");
        assert_eq!(mappings[0].queue_url, "http://q/ACCEPT_QUEUE_URL");
        assert_eq!(skipped.len(), 4);
        std::fs::remove_dir_all(root).unwrap();
    }
}
