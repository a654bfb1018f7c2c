//! The table of pricing cases (`tests/fixtures/pricing/cases.jsonl`): each line a
//! `price-check` case with a `note` and the answer worked out by hand from the
//! formulas (`expected`), decided here by the very code `price-check` runs.
//!
//! `expected` is either `{"price", "rule", "bound", "flag"}` or `{"error": "<part of
//! the message>"}`; a line that is not JSON expects an error with a null id.

use sellerops::flows::pricing::check;
use sellerops_tests::fixtures;
use serde_json::Value;

#[test]
fn every_case_in_the_table_gets_its_hand_worked_answer() {
    let table = fixtures::text("pricing/cases.jsonl");
    let mut output = Vec::new();
    check::run(table.as_bytes(), &mut output).expect("price-check runs over the table");
    let answers: Vec<Value> = String::from_utf8(output)
        .expect("answers are UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("each answer is a JSON line"))
        .collect();
    let cases: Vec<&str> = table
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(answers.len(), cases.len(), "one answer per case");
    assert!(cases.len() >= 40, "the table has {} cases", cases.len());

    let mut wrong = Vec::new();
    for (case, answer) in cases.iter().zip(&answers) {
        let Ok(case) = serde_json::from_str::<Value>(case) else {
            let refused = answer["id"].is_null()
                && answer["error"]
                    .as_str()
                    .is_some_and(|error| error.starts_with("not a JSON case"));
            if !refused {
                wrong.push(format!("a line that is not JSON got {answer}"));
            }
            continue;
        };
        let id = &case["id"];
        let expected = &case["expected"];
        let note = case["note"].as_str().unwrap_or_default();
        if answer["id"] != *id {
            wrong.push(format!("{id}: answered as {}", answer["id"]));
            continue;
        }
        if let Some(part) = expected["error"].as_str() {
            match answer["error"].as_str() {
                Some(error) if error.contains(part) => {}
                _ => wrong.push(format!(
                    "{id} ({note}): expected an error naming {part:?}, got {answer}"
                )),
            }
            continue;
        }
        for field in ["price", "rule", "bound", "flag"] {
            if answer[field] != expected[field] {
                wrong.push(format!(
                    "{id} ({note}): {field} expected {}, got {} (answer: {answer})",
                    expected[field], answer[field]
                ));
            }
        }
        if answer["explanation"].as_str().is_none_or(str::is_empty) {
            wrong.push(format!("{id}: no explanation"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
