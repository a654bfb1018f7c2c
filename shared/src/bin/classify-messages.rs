//! Classifies customer messages from the command line, with the rules bundled in the build:
//!
//! ```text
//! echo '{"id": 1, "text": "Where is my order 201934572-A?"}' | cargo run --release --bin classify-messages
//! ```
//!
//! Reads JSON lines `{"id": …, "text": …}` on standard input and writes one JSON line per
//! message: `{"id", "lang", "intent", "confidence", "entities", "auto_reply_eligible",
//! "reason"}`, where eligibility is the text-only part of the reply guards (a routine
//! intent, enough confidence, no hazard), assuming the order is known. A line that cannot
//! be read gets `{"line": n, "error": "…"}` instead and the others go on; the exit status
//! is then 1.

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use sellerops::flows::replies::classifier::{Classifier, Entities, Intent, Language};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    id: serde_json::Value,
    text: String,
}

#[derive(Serialize)]
struct Output<'a> {
    id: &'a serde_json::Value,
    lang: Language,
    intent: Intent,
    confidence: f32,
    entities: &'a Entities,
    auto_reply_eligible: bool,
    reason: &'a str,
}

#[derive(Serialize)]
struct LineError<'a> {
    line: usize,
    error: &'a str,
}

fn main() -> ExitCode {
    let classifier = Classifier::bundled();
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut bad_lines = 0usize;
    for (index, line) in stdin.lines().enumerate() {
        let number = index + 1;
        let written = match line {
            Err(e) => {
                bad_lines += 1;
                write_error(&mut out, number, &format!("cannot read the line: {e}"))
            }
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => match serde_json::from_str::<Input>(&line) {
                Err(e) => {
                    bad_lines += 1;
                    write_error(
                        &mut out,
                        number,
                        &format!("not a message {{\"id\", \"text\"}}: {e}"),
                    )
                }
                Ok(input) => {
                    let c = classifier.classify(&input.text);
                    let output = Output {
                        id: &input.id,
                        lang: c.language,
                        intent: c.intent,
                        confidence: c.confidence,
                        entities: &c.entities,
                        auto_reply_eligible: c.auto_reply_eligible(),
                        reason: &c.reason,
                    };
                    serde_json::to_writer(&mut out, &output)
                        .map_err(std::io::Error::from)
                        .and_then(|()| out.write_all(b"\n"))
                }
            },
        };
        if let Err(e) = written {
            eprintln!("classify-messages: cannot write the output: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = out.flush() {
        eprintln!("classify-messages: cannot write the output: {e}");
        return ExitCode::FAILURE;
    }
    if bad_lines > 0 {
        eprintln!("classify-messages: {bad_lines} line(s) could not be read");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn write_error(out: &mut impl Write, line: usize, error: &str) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &LineError { line, error })?;
    out.write_all(b"\n")
}
