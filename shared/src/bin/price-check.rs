//! Decides prices for cases given as JSON lines on standard input, one answer line per
//! case on standard output: `cargo run --release --bin price-check < cases.jsonl`.
//! The contract (fields, defaults, errors) is documented in
//! `sellerops::flows::pricing::check`; the decision is the evaluation function's own.

use std::io::{self, BufWriter};
use std::process::ExitCode;

use sellerops::flows::pricing::check;

fn main() -> ExitCode {
    if std::env::args().len() > 1 {
        eprintln!(
            "usage: price-check < cases.jsonl\n\
             Reads one pricing case per line (JSON) and writes one decision per line:\n\
             {{\"id\", \"price\", \"rule\", \"bound\", \"flag\", \"explanation\"}}, or {{\"id\", \"error\"}}."
        );
        return ExitCode::from(2);
    }
    let input = io::stdin().lock();
    let output = BufWriter::new(io::stdout().lock());
    match check::run(input, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("price-check: {err}");
            ExitCode::FAILURE
        }
    }
}
