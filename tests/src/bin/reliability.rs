//! The reliability suite (`make reliability`; run it through `tests/reliability.sh`,
//! which sets up the stack it needs). Runs every scenario of
//! [`sellerops_tests::reliability`] and prints one row per scenario, then
//! `N scenarios, L lost, D doubled`; exits 1 when anything was lost or doubled or a
//! scenario could not run.
//!
//! The table goes to stderr: stdout is the functions', which print their metrics there
//! as Lambda expects, and the script keeps it in a log.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sellerops_tests::reliability::scenarios;
use sellerops_tests::reliability::stack::Stack;
use sellerops_tests::reliability::tally::Tally;

/// The longest a scenario may take before it is stopped and reported.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(240);

#[tokio::main]
async fn main() -> ExitCode {
    sellerops::ops::telemetry::init();
    let started = Instant::now();
    let stack = match Stack::from_env().await {
        Ok(stack) => Arc::new(stack),
        Err(err) => {
            eprintln!("error: {err} (run tests/reliability.sh, which sets up the suite's stack)");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = scenarios::prepare(&stack).await {
        eprintln!("error: preparing the suite's data: {err}");
        return ExitCode::from(2);
    }

    eprintln!(
        "{:<42} {:>10}  {:<40} {:<40} {:>4} {:>7} {:>5}",
        "scenario", "deliveries", "expected", "found", "lost", "doubled", "secs"
    );
    let (mut ran, mut lost, mut doubled, mut broken) = (0, 0, 0, 0);
    for scenario in scenarios::all() {
        let scenario_started = Instant::now();
        let mut run = tokio::spawn((scenario.run)(stack.clone()));
        let result = match tokio::time::timeout(SCENARIO_TIMEOUT, &mut run).await {
            Ok(Ok(result)) => result.map_err(|err| err.to_string()),
            Ok(Err(panicked)) => Err(format!("panicked: {panicked}")),
            Err(_) => {
                run.abort();
                Err(format!(
                    "still running after {}s",
                    SCENARIO_TIMEOUT.as_secs()
                ))
            }
        };
        // A scenario's switches must not reach the next one.
        for simulator in [&stack.mirakl, &stack.canadapost, &stack.freshdesk] {
            if let Err(err) = simulator.clear_faults().await {
                eprintln!("warning: clearing the simulators' faults: {err}");
            }
        }
        ran += 1;
        let seconds = scenario_started.elapsed().as_secs_f64();
        match result {
            Ok(tally) => {
                lost += tally.lost();
                doubled += tally.doubled();
                print_row(scenario.name, &tally, seconds);
            }
            Err(reason) => {
                broken += 1;
                eprintln!(
                    "{:<42} {:>10}  {:<40} {:<40} {:>4} {:>7} {:>5.1}",
                    scenario.name, "-", "-", "-", "-", "-", seconds
                );
                eprintln!("    could not run: {reason}");
            }
        }
    }
    let mut summary = format!("{ran} scenarios, {lost} lost, {doubled} doubled");
    if broken > 0 {
        summary.push_str(&format!(", {broken} could not run"));
    }
    eprintln!("{summary}  ({:.0}s)", started.elapsed().as_secs_f64());
    if lost + doubled + broken > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_row(name: &str, tally: &Tally, seconds: f64) {
    eprintln!(
        "{:<42} {:>10}  {:<40} {:<40} {:>4} {:>7} {:>5.1}",
        name,
        tally.deliveries,
        tally.expected(),
        tally.found(),
        tally.lost(),
        tally.doubled(),
        seconds
    );
    for count in tally.counts.iter().filter(|c| c.lost + c.doubled > 0) {
        eprintln!(
            "    {}: expected {}, found {} ({} lost, {} doubled)",
            count.what, count.expected, count.found, count.lost, count.doubled
        );
    }
}
