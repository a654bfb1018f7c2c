//! `sellerops-event-router`: routes the local queues to the local functions.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sellerops_event_router::lambda::LambdaEndpoint;
use sellerops_event_router::router::Router;
use sellerops_event_router::template::{BatchSizes, SQS_DEFAULT_BATCH_SIZE};
use sellerops_event_router::{default_mappings, drain, parse_mapping, run_forever};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "\
Usage: sellerops-event-router [--once] [--retry-after SECONDS] [--template PATH]
                              [--map QUEUE_URL=FUNCTION]...

Polls the local SQS queues and invokes their functions through the local Lambda
endpoint (cargo lambda watch), as Lambda's event source mappings do: each function
gets batches of its event source mapping's BatchSize in the template (10, SQS's
default, for a function the template does not list).

Options:
  --once                  drain: stop when no queue has work left, print what was done
  --timeout SECONDS       with --once, give up after this long (300)
  --retry-after SECONDS   make failed messages visible again after this long
                          (default: the queue's visibility timeout, as in Lambda)
  --template PATH         the SAM template to read batch sizes from
                          (SELLEROPS_REPO_ROOT/infra/template.yaml)
  --map QUEUE_URL=FUNCTION
                          route this queue to this function (repeatable); replaces the
                          defaults: INGEST/ACCEPT/LABEL/REPLY/PRICING_QUEUE_URL to
                          ingest-orders-file, accept-orders, fetch-shipping-label,
                          conversation-auto-reply, evaluate-pricing-rules, each only
                          when functions/<name>/ exists
Environment:
  SELLEROPS_LAMBDA_ENDPOINT  the Lambda endpoint (http://127.0.0.1:9000)
  AWS_ENDPOINT_URL, AWS_REGION and the queue URLs: from infra/local/env.sh
  SELLEROPS_REPO_ROOT        where functions/ is (the current directory)
";

#[derive(Debug)]
struct Options {
    once: bool,
    timeout: Duration,
    retry_after: Option<Duration>,
    template: Option<PathBuf>,
    maps: Vec<String>,
}

fn parse_options(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        once: false,
        timeout: Duration::from_secs(300),
        retry_after: None,
        template: None,
        maps: Vec::new(),
    };
    let mut args = args;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let seconds = |name: &str, text: String| {
            text.parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("{name} {text}: expected whole seconds"))
        };
        match arg.as_str() {
            "--once" => options.once = true,
            "--timeout" => options.timeout = seconds("--timeout", value("--timeout")?)?,
            "--retry-after" => {
                options.retry_after = Some(seconds("--retry-after", value("--retry-after")?)?);
            }
            "--template" => options.template = Some(PathBuf::from(value("--template")?)),
            "--map" => options.maps.push(value("--map")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}\n");
            }
            eprint!("{USAGE}");
            return if message.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    match run(options).await {
        Ok(code) => code,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<ExitCode, String> {
    let endpoint = std::env::var("SELLEROPS_LAMBDA_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:9000".to_owned());
    // The first invocation of a function may compile it: allow for that.
    let lambda =
        LambdaEndpoint::new(&endpoint, Duration::from_secs(900)).map_err(|err| err.to_string())?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let region = config
        .region()
        .map(ToString::to_string)
        .unwrap_or_else(|| "ca-central-1".to_owned());
    let router = Router::new(
        aws_sdk_sqs::Client::new(&config),
        lambda,
        &region,
        options.retry_after,
    );

    let root = std::env::var("SELLEROPS_REPO_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("."));
    let template = options
        .template
        .clone()
        .unwrap_or_else(|| root.join("infra/template.yaml"));
    let batch_sizes = BatchSizes::read(&template)?;
    let mappings = if options.maps.is_empty() {
        let (mappings, skipped) = default_mappings(|name| std::env::var(name).ok(), &root);
        for (function, reason) in skipped {
            tracing::info!(%function, %reason, "not routing");
        }
        mappings
    } else {
        options
            .maps
            .iter()
            .map(|m| parse_mapping(m))
            .collect::<Result<_, _>>()?
    };
    let mut routes = Vec::with_capacity(mappings.len());
    for mapping in mappings {
        let batch_size = batch_sizes.of(&mapping.function).unwrap_or_else(|| {
            tracing::warn!(function = %mapping.function,
                "the template gives this function no queue; SQS's default batch size");
            SQS_DEFAULT_BATCH_SIZE
        });
        tracing::info!(queue = %mapping.queue_url, function = %mapping.function, batch_size,
            "routing");
        routes.push(
            router
                .route(mapping, batch_size)
                .await
                .map_err(|err| err.to_string())?,
        );
    }
    if routes.is_empty() {
        tracing::warn!("no queue has a function to route to");
        return Ok(ExitCode::SUCCESS);
    }

    if !options.once {
        tracing::info!(endpoint = %endpoint, "polling until stopped (Ctrl-C)");
        run_forever(router, routes, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        return Ok(ExitCode::SUCCESS);
    }

    let summary = drain(&router, &mut routes, options.timeout)
        .await
        .map_err(|err| err.to_string())?;
    for (mapping, report) in &summary.routes {
        println!(
            "{:<26} {:>4} received  {:>4} succeeded  {:>4} left for retry",
            mapping.function, report.received, report.succeeded, report.failed
        );
    }
    if summary.finished {
        Ok(ExitCode::SUCCESS)
    } else {
        tracing::error!(
            timeout_seconds = options.timeout.as_secs(),
            "the queues still had work when the time ran out"
        );
        Ok(ExitCode::FAILURE)
    }
}
