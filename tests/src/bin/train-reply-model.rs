//! `make train-replies`: learns the weights of the message classifier's intent model
//! (`shared/replies/intent-model.tsv`) from the labelled training messages
//! (`tests/fixtures/replies/training-set.jsonl`), and prints the model's own intent
//! accuracy on the evaluation set, which it never trains on.
//!
//! Multinomial logistic regression over the classifier's features, fitted by AdaGrad
//! with L2 regularisation in a fixed order, so the same messages always give the same
//! weights. Features seen in fewer than two training messages are left out: they would
//! learn a single message by heart.
//!
//! Usage: `train-reply-model [TRAINING.jsonl] [OUTPUT.tsv] [EVALUATION.jsonl]`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use sellerops::flows::replies::classifier::{Classifier, Intent};
use serde::Deserialize;

const EPOCHS: usize = 60;
const LEARNING_RATE: f64 = 0.5;
const L2: f64 = 1e-4;
const MIN_MESSAGES_PER_FEATURE: usize = 2;
/// Weights smaller than this in every intent are left out of the file.
const PRUNE_BELOW: f64 = 0.01;

#[derive(Deserialize)]
struct Labelled {
    id: String,
    text: String,
    intent: String,
    auto_reply_eligible: bool,
}

struct Example {
    features: Vec<usize>,
    intent: usize,
    eligible: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let training = args
        .first()
        .map_or("tests/fixtures/replies/training-set.jsonl", String::as_str);
    let output = args
        .get(1)
        .map_or("shared/replies/intent-model.tsv", String::as_str);
    let evaluation = args.get(2).map_or(
        "tests/fixtures/replies/evaluation-set.jsonl",
        String::as_str,
    );
    match run(training, output, evaluation) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("train-reply-model: {problem}");
            ExitCode::FAILURE
        }
    }
}

fn read_set(path: &str) -> Result<Vec<Labelled>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str::<Labelled>(line)
                .map_err(|e| format!("{path} line {}: {e}", index + 1))
        })
        .collect()
}

fn intent_index(message: &Labelled) -> Result<usize, String> {
    Intent::from_name(&message.intent)
        .map(|intent| intent as usize)
        .ok_or_else(|| format!("{}: unknown intent \"{}\"", message.id, message.intent))
}

fn run(training: &str, output: &str, evaluation: &str) -> Result<(), String> {
    let classifier = Classifier::bundled_rules().map_err(|e| e.to_string())?;
    let messages = read_set(training)?;

    // The vocabulary: features of at least MIN_MESSAGES_PER_FEATURE messages.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let per_message: Vec<Vec<String>> = messages
        .iter()
        .map(|m| {
            let mut features = classifier.model_features(&m.text);
            features.sort();
            features.dedup();
            for feature in &features {
                *seen.entry(feature.clone()).or_default() += 1;
            }
            features
        })
        .collect();
    let mut vocabulary: Vec<String> = seen
        .into_iter()
        .filter(|(_, count)| *count >= MIN_MESSAGES_PER_FEATURE)
        .map(|(feature, _)| feature)
        .collect();
    vocabulary.sort();
    let index: HashMap<&str, usize> = vocabulary
        .iter()
        .enumerate()
        .map(|(i, f)| (f.as_str(), i))
        .collect();
    let examples: Vec<Example> = messages
        .iter()
        .zip(&per_message)
        .map(|(message, features)| {
            Ok(Example {
                features: features
                    .iter()
                    .filter_map(|f| index.get(f.as_str()).copied())
                    .collect(),
                intent: intent_index(message)?,
                eligible: message.auto_reply_eligible,
            })
        })
        .collect::<Result<_, String>>()?;

    let classes = Intent::ALL.len();
    let mut weights = vec![0f64; vocabulary.len() * classes];
    let mut bias = vec![0f64; classes];
    let mut squares = vec![1e-8f64; vocabulary.len() * classes];
    let mut bias_squares = vec![1e-8f64; classes];
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut seed: u64 = 0x5eed;
    for _ in 0..EPOCHS {
        shuffle(&mut order, &mut seed);
        for &e in &order {
            let example = &examples[e];
            let probabilities = predict(&weights, &bias, &example.features, classes);
            for class in 0..classes {
                let target = if class == example.intent { 1.0 } else { 0.0 };
                let gradient = probabilities[class] - target;
                bias_squares[class] += gradient * gradient;
                bias[class] -= LEARNING_RATE * gradient / bias_squares[class].sqrt();
                for &feature in &example.features {
                    let at = feature * classes + class;
                    let g = gradient + L2 * weights[at];
                    squares[at] += g * g;
                    weights[at] -= LEARNING_RATE * g / squares[at].sqrt();
                }
            }
        }
    }

    // The reply model: may a routine reply answer it? Learnt on the messages asking
    // something routine, where the question is whether anything else stands in the way.
    let (reply_weights, reply_bias) = train_reply(&examples, vocabulary.len());

    let accuracy = |set: &[Example]| {
        let right = set
            .iter()
            .filter(|e| argmax(&predict(&weights, &bias, &e.features, classes)) == e.intent)
            .count();
        right as f64 / set.len().max(1) as f64
    };
    println!(
        "trained on {} messages, {} features: training accuracy {:.3}",
        examples.len(),
        vocabulary.len(),
        accuracy(&examples)
    );
    let held_out = read_set(evaluation)?;
    let held_out: Vec<Example> = held_out
        .iter()
        .map(|m| {
            Ok(Example {
                features: classifier
                    .model_features(&m.text)
                    .iter()
                    .filter_map(|f| index.get(f.as_str()).copied())
                    .collect(),
                intent: intent_index(m)?,
                eligible: m.auto_reply_eligible,
            })
        })
        .collect::<Result<_, String>>()?;
    println!(
        "model alone on {evaluation}: intent accuracy {:.3}",
        accuracy(&held_out)
    );

    let mut file = String::new();
    let _ = writeln!(
        file,
        "# The message classifier's intent model: written by `make train-replies` from\n\
         # tests/fixtures/replies/training-set.jsonl ({} messages). Do not edit by hand:\n\
         # add labelled messages to the training set and train again.\n\
         # Columns: feature, then one weight per intent: {}.",
        examples.len(),
        Intent::ALL.map(Intent::as_str).join(" ")
    );
    let row = |values: &[f64]| {
        values
            .iter()
            .map(|v| format!("{v:.4}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let with_reply = |values: &[f64], reply: f64| {
        let mut all = values.to_vec();
        all.push(reply);
        row(&all)
    };
    let _ = writeln!(file, "bias\t{}", with_reply(&bias, reply_bias));
    let mut kept = 0;
    for (i, feature) in vocabulary.iter().enumerate() {
        let values = &weights[i * classes..(i + 1) * classes];
        if values.iter().all(|v| v.abs() < PRUNE_BELOW) && reply_weights[i].abs() < PRUNE_BELOW {
            continue;
        }
        kept += 1;
        let _ = writeln!(file, "{feature}\t{}", with_reply(values, reply_weights[i]));
    }
    std::fs::write(output, file).map_err(|e| format!("{output}: {e}"))?;
    println!("wrote {output}: {kept} features");
    Ok(())
}

/// Binary logistic regression of `eligible` over the routine-intent messages.
fn train_reply(examples: &[Example], features: usize) -> (Vec<f64>, f64) {
    let routine: Vec<&Example> = examples
        .iter()
        .filter(|e| Intent::ALL[e.intent].is_routine())
        .collect();
    let mut weights = vec![0f64; features];
    let mut squares = vec![1e-8f64; features];
    let (mut bias, mut bias_square) = (0f64, 1e-8f64);
    let mut order: Vec<usize> = (0..routine.len()).collect();
    let mut seed: u64 = 0x7e91;
    for _ in 0..EPOCHS {
        shuffle(&mut order, &mut seed);
        for &e in &order {
            let example = routine[e];
            let sum: f64 = bias + example.features.iter().map(|&f| weights[f]).sum::<f64>();
            let probability = 1.0 / (1.0 + (-sum).exp());
            let gradient = probability - if example.eligible { 1.0 } else { 0.0 };
            bias_square += gradient * gradient;
            bias -= LEARNING_RATE * gradient / bias_square.sqrt();
            for &f in &example.features {
                let g = gradient + L2 * weights[f];
                squares[f] += g * g;
                weights[f] -= LEARNING_RATE * g / squares[f].sqrt();
            }
        }
    }
    (weights, bias)
}

/// Fisher–Yates with a fixed linear congruential sequence: the same order every run.
fn shuffle(order: &mut [usize], seed: &mut u64) {
    for i in (1..order.len()).rev() {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (*seed >> 33) as usize % (i + 1);
        order.swap(i, j);
    }
}

fn predict(weights: &[f64], bias: &[f64], features: &[usize], classes: usize) -> Vec<f64> {
    let mut sums = bias.to_vec();
    for &feature in features {
        for (class, sum) in sums.iter_mut().enumerate() {
            *sum += weights[feature * classes + class];
        }
    }
    let max = sums.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for sum in &mut sums {
        *sum = (*sum - max).exp();
        total += *sum;
    }
    sums.iter().map(|s| s / total).collect()
}

fn argmax(values: &[f64]) -> usize {
    values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}
