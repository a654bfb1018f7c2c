//! Gathers the headline figures the benchmarks printed (see `sellerops_tests::bench`)
//! into one table: `make bench` runs every benchmark into `target/bench/*.log`, then
//! `bench-table target/bench/*.log`.
//!
//! Prints one row per figure: its value, the anchor measured in the same run, the ratio,
//! the target and whether it is met, and the load average when it was taken. Exits
//! non-zero when a log holds no figure at all (a benchmark that failed before measuring).

use std::process::ExitCode;

use sellerops_tests::bench::{number, FigureLine};

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: bench-table <benchmark log>...");
        return ExitCode::FAILURE;
    }
    let header = [
        "figure", "value", "anchor", "ratio", "target", "verdict", "load",
    ];
    let mut rows: Vec<[String; 7]> = Vec::new();
    let mut empty = Vec::new();
    for path in &paths {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) => {
                eprintln!("bench-table: {path}: {err}");
                return ExitCode::FAILURE;
            }
        };
        let before = rows.len();
        for figure in text.lines().filter_map(FigureLine::parse) {
            let f = &figure.fields;
            let anchor = if f[3] == "-" {
                "-".to_owned()
            } else {
                format!("{} {} {}", f[3], f[4], f[2])
            };
            rows.push([
                f[0].clone(),
                format!("{} {}", f[1], f[2]),
                anchor,
                figure
                    .ratio()
                    .map_or("-".to_owned(), |ratio| format!("{}×", number(ratio))),
                f[5].clone(),
                f[6].clone(),
                f[7].clone(),
            ]);
        }
        if rows.len() == before {
            empty.push(path.as_str());
        }
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .chain([header[column].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let print_row = |cells: &[&str]| {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        println!("{}", line.join("  ").trim_end());
    };
    print_row(&header);
    for row in &rows {
        print_row(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    if !empty.is_empty() {
        eprintln!("bench-table: no figure in {}", empty.join(", "));
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
