//! Prints the support reports for a period of whole UTC days:
//! `cargo run -p sellerops --bin support-report -- --from 2026-11-01 --to 2026-11-30`.
//! What each report counts is documented in `sellerops::flows::support_reports`.

use std::process::ExitCode;

use chrono::NaiveDate;
use sellerops::flows::support_reports::{ReportPeriod, SupportReport};
use sellerops::ops::config::{DatabaseSettings, FromEnvironment};

const USAGE: &str = "usage: support-report --from YYYY-MM-DD --to YYYY-MM-DD \
[--domain HELPDESK] [--top N]\n\
Prints, for the days from --from to --to (both included, UTC): the summary of the \
tickets opened, the trending categories, the comparison with the period of the same \
length just before, and the queue as it stands now. --domain keeps one Freshdesk \
helpdesk (e.g. example.freshdesk.com); --top is how many categories (default 10). \
Reads DATABASE_URL.";

/// What the command line asks for.
struct Request {
    period: ReportPeriod,
    domain: Option<String>,
    top: i32,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Request, String> {
    let (mut from, mut to, mut domain, mut top) = (None, None, None, 10);
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let day = |text: String, flag: &str| {
            NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map_err(|_| format!("{flag} {text:?} is not a day (YYYY-MM-DD)"))
        };
        match flag.as_str() {
            "--from" => from = Some(day(value()?, "--from")?),
            "--to" => to = Some(day(value()?, "--to")?),
            "--domain" => domain = Some(value()?),
            "--top" => {
                let text = value()?;
                top = text
                    .parse::<i32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--top {text:?} is not a positive number"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let (Some(from), Some(to)) = (from, to) else {
        return Err("--from and --to are required".into());
    };
    let period = ReportPeriod::new(from, to).map_err(|err| err.to_string())?;
    Ok(Request {
        period,
        domain,
        top,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let request = match parse_args(std::env::args().skip(1)) {
        Ok(request) => request,
        Err(problem) => {
            eprintln!("support-report: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let pool = match DatabaseSettings::from_env()
        .and_then(|settings| sellerops::systems::db::pool(&settings, "support-report"))
    {
        Ok(pool) => pool,
        Err(err) => {
            eprintln!("support-report: {err}");
            return ExitCode::FAILURE;
        }
    };
    let report = SupportReport::load(
        &pool,
        request.period,
        request.domain.as_deref(),
        request.top,
    )
    .await;
    match report {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!(
                "support-report: {}",
                sellerops::ops::errors::error_chain(&err)
            );
            ExitCode::FAILURE
        }
    }
}
