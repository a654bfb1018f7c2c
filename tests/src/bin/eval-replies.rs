//! Measures the message classifier against a labelled set: `make eval-replies`.
//!
//! ```text
//! eval-replies [--misses] [FILE]     (FILE: tests/fixtures/replies/evaluation-set.jsonl)
//! ```
//!
//! Each line of FILE is `{"id", "text", "lang", "intent", "entities", "auto_reply_eligible"}`
//! with an optional `case` tag. Prints intent accuracy (overall, per language, per intent),
//! language accuracy, precision and recall of `auto_reply_eligible`, the entity exact-match
//! rate (order number and tracking number both as labelled, absent when absent), the
//! confusion matrix, and the case tags that had a miss. `--misses` also lists every message
//! read differently from its label, with the classifier's reason.

use std::collections::BTreeMap;
use std::process::ExitCode;

use sellerops::flows::replies::classifier::{
    Classification, Classifier, Entities, Intent, Language,
};

const DEFAULT_SET: &str = "tests/fixtures/replies/evaluation-set.jsonl";

#[derive(serde::Deserialize)]
struct Labelled {
    id: serde_json::Value,
    text: String,
    lang: Language,
    intent: Intent,
    #[serde(default)]
    entities: Entities,
    auto_reply_eligible: bool,
    #[serde(default)]
    case: Option<String>,
}

/// Right answers out of a count.
#[derive(Default, Clone, Copy)]
struct Tally {
    right: usize,
    total: usize,
}

impl Tally {
    fn add(&mut self, right: bool) {
        self.total += 1;
        self.right += usize::from(right);
    }

    fn rate(self) -> String {
        if self.total == 0 {
            "   n/a".to_owned()
        } else {
            format!("{:.3}", self.right as f64 / self.total as f64)
        }
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}/{})", self.rate(), self.right, self.total)
    }
}

fn main() -> ExitCode {
    let mut misses = false;
    let mut path = DEFAULT_SET.to_owned();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--misses" => misses = true,
            "-h" | "--help" => {
                println!("usage: eval-replies [--misses] [FILE]   (default {DEFAULT_SET})");
                return ExitCode::SUCCESS;
            }
            other => path = other.to_owned(),
        }
    }
    let source = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("eval-replies: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut set = Vec::new();
    for (i, line) in source
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<Labelled>(line) {
            Ok(l) => set.push(l),
            Err(e) => {
                eprintln!("eval-replies: {path} line {}: {e}", i + 1);
                return ExitCode::FAILURE;
            }
        }
    }
    if set.is_empty() {
        eprintln!("eval-replies: {path} holds no labelled message");
        return ExitCode::FAILURE;
    }

    let classifier = Classifier::bundled();
    let read: Vec<Classification> = set.iter().map(|l| classifier.classify(&l.text)).collect();
    report(&path, &set, &read, misses);
    ExitCode::SUCCESS
}

fn report(path: &str, set: &[Labelled], read: &[Classification], misses: bool) {
    let mut intent = Tally::default();
    let mut language = Tally::default();
    let mut entities = Tally::default();
    let mut order_ids = Tally::default();
    let mut pins = Tally::default();
    let mut by_language: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut by_intent: BTreeMap<usize, Tally> = BTreeMap::new();
    let mut by_case: BTreeMap<&str, (Tally, usize)> = BTreeMap::new();
    let mut confusion = [[0usize; 8]; 8];
    let (mut tp, mut fp, mut false_negatives) = (0usize, 0usize, 0usize);
    let mut missed = Vec::new();

    let index = |i: Intent| Intent::ALL.iter().position(|&x| x == i).unwrap_or(0);
    for (label, c) in set.iter().zip(read) {
        let intent_ok = c.intent == label.intent;
        let eligible = c.auto_reply_eligible();
        let entities_ok = c.entities == label.entities;
        intent.add(intent_ok);
        language.add(c.language == label.lang);
        entities.add(entities_ok);
        order_ids.add(c.entities.order_id == label.entities.order_id);
        pins.add(c.entities.tracking_pin == label.entities.tracking_pin);
        by_language
            .entry(label.lang.as_str())
            .or_default()
            .add(intent_ok);
        by_intent
            .entry(index(label.intent))
            .or_default()
            .add(intent_ok);
        confusion[index(label.intent)][index(c.intent)] += 1;
        match (eligible, label.auto_reply_eligible) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => false_negatives += 1,
            (false, false) => {}
        }
        let all_ok = intent_ok
            && entities_ok
            && eligible == label.auto_reply_eligible
            && c.language == label.lang;
        let case = by_case
            .entry(label.case.as_deref().unwrap_or("-"))
            .or_default();
        case.0.add(all_ok);
        if eligible && !label.auto_reply_eligible {
            case.1 += 1;
        }
        if !all_ok {
            missed.push((label, c));
        }
    }

    let precision = if tp + fp == 0 {
        1.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if tp + false_negatives == 0 {
        1.0
    } else {
        tp as f64 / (tp + false_negatives) as f64
    };
    println!("eval-replies: {} labelled messages from {path}", set.len());
    println!();
    println!("intent accuracy        {intent}");
    for (lang, tally) in &by_language {
        println!("  {lang:<20} {tally}");
    }
    for (i, tally) in &by_intent {
        println!("  {:<20} {tally}", Intent::ALL[*i].as_str());
    }
    println!("language accuracy      {language}");
    println!(
        "auto_reply_eligible    precision {precision:.3} ({tp}/{}), recall {recall:.3} ({tp}/{})",
        tp + fp,
        tp + false_negatives
    );
    println!("entity exact match     {entities}");
    println!("  order_id             {order_ids}");
    println!("  tracking_pin         {pins}");
    println!();
    println!("confusion matrix (rows: label, columns: classifier)");
    let short = [
        "status", "track", "invoice", "cancel", "return", "address", "product", "other",
    ];
    print!("{:>18}", "");
    for s in short {
        print!("{s:>9}");
    }
    println!();
    for (i, row) in confusion.iter().enumerate() {
        print!("{:>18}", Intent::ALL[i].as_str());
        for n in row {
            print!("{n:>9}");
        }
        println!();
    }
    let with_misses: Vec<_> = by_case
        .iter()
        .filter(|(_, (t, _))| t.right < t.total)
        .collect();
    if !with_misses.is_empty() {
        println!();
        println!("case tags with a miss (all of intent, language, entities and eligibility right)");
        for (case, (tally, wrongly_eligible)) in with_misses {
            let warn = if *wrongly_eligible > 0 {
                format!(", {wrongly_eligible} wrongly eligible")
            } else {
                String::new()
            };
            println!("  {case:<24} {tally}{warn}");
        }
    }
    if misses {
        println!();
        println!("misses");
        for (label, c) in missed {
            println!(
                "  {} [{}] label {} {} {}{} | read {} {} {}{}",
                label.id,
                label.case.as_deref().unwrap_or("-"),
                label.lang.as_str(),
                label.intent.as_str(),
                if label.auto_reply_eligible {
                    "eligible "
                } else {
                    ""
                },
                serde_json::to_string(&label.entities).unwrap_or_default(),
                c.language.as_str(),
                c.intent.as_str(),
                if c.auto_reply_eligible() {
                    "eligible "
                } else {
                    ""
                },
                serde_json::to_string(&c.entities).unwrap_or_default(),
            );
            println!("      text: {}", label.text.replace('\n', " ⏎ "));
            println!("      why:  {}", c.reason);
        }
    }
}
