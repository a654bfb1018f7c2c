//! The intent model: a linear classifier (multinomial logistic regression) over the
//! customer's own folded words, word pairs and word stems. It reads the messages the
//! phrases of the data files do not cover: the rules find nothing, or only a hint.
//!
//! Its weights are data like the phrases: `shared/replies/intent-model.tsv`, written by
//! `make train-replies` (`tests/src/bin/train-reply-model.rs`) from the labelled training
//! messages in `tests/fixtures/replies/training-set.jsonl`, which are kept apart from the
//! evaluation set so that `make eval-replies` measures messages the model never saw.
//!
//! # Format of the weights file
//!
//! Lines starting with `#` are comments. `bias` and then one line per feature: the
//! feature, a tab, and nine weights separated by spaces: one per intent, in the order of
//! [`Intent::ALL`], then the weight towards "a routine reply may answer it" (a second,
//! two-way model learnt from the labels' `auto_reply_eligible`: it reads the anger,
//! sarcasm and complaints that no hazard word names). A feature is `w:<word>`, `b:<word> <word>` (two words in a row in one
//! sentence), `s:<stem>` (the first five letters of a word of six or more) or
//! `n:<digits>` (a number, by its count of digits).

use std::fmt::Write as _;

use std::hash::BuildHasher as _;

use super::lexicon::FastMap;
use super::rules::RulesError;
use super::text::Words;
use super::Intent;

pub(crate) const MODEL_FILE: &str = "shared/replies/intent-model.tsv";

const INTENTS: usize = Intent::ALL.len();
/// The intents' weights, then the reply model's.
pub(crate) const COLUMNS: usize = INTENTS + 1;

/// The shipped weights.
pub(crate) struct IntentModel {
    bias: [f32; COLUMNS],
    /// By [`feature_key`]: a message's features are looked up without comparing text.
    weights: FastMap<u64, [f32; COLUMNS]>,
}

/// A feature's key in the weights: a 64-bit hash of its text. Two features of the file
/// with one key are refused when it is read; a word of a message that no feature names
/// lands on a feature's key only by a 64-bit coincidence.
fn feature_key(feature: &str) -> u64 {
    foldhash::quality::FixedState::with_seed(0x5e11_e705).hash_one(feature)
}

/// What the model reads in one message.
pub(crate) struct ModelReading {
    /// The probability of each intent, in the order of [`Intent::ALL`].
    pub intents: [f32; INTENTS],
    /// The probability that a routine reply may answer the message.
    pub reply: f32,
}

impl IntentModel {
    /// Reads the weights file; a problem names the line.
    pub(crate) fn parse(source: &str) -> Result<IntentModel, RulesError> {
        let problem = |line: usize, what: String| RulesError {
            file: MODEL_FILE,
            entry: format!("line {line}"),
            problem: what,
        };
        let mut bias = None;
        let mut weights = FastMap::default();
        let mut keys: FastMap<u64, &str> = FastMap::default();
        for (index, line) in source.lines().enumerate() {
            let number = index + 1;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (feature, values) = line
                .split_once('\t')
                .ok_or_else(|| problem(number, "expected a feature, a tab and weights".into()))?;
            let mut row = [0f32; COLUMNS];
            let mut count = 0;
            for (slot, value) in row.iter_mut().zip(values.split(' ')) {
                *slot = value
                    .parse()
                    .map_err(|_| problem(number, format!("\"{value}\" is not a number")))?;
                count += 1;
            }
            if count != COLUMNS || values.split(' ').count() != COLUMNS {
                return Err(problem(
                    number,
                    format!("expected {COLUMNS} weights, one per intent and the reply's"),
                ));
            }
            if feature == "bias" {
                bias = Some(row);
            } else if let Some(other) = keys.insert(feature_key(feature), feature) {
                let problem_text = if other == feature {
                    format!("\"{feature}\" appears twice")
                } else {
                    format!("\"{feature}\" has the same key as \"{other}\"")
                };
                return Err(problem(number, problem_text));
            } else {
                weights.insert(feature_key(feature), row);
            }
        }
        let bias = bias.ok_or_else(|| problem(0, "no bias line".into()))?;
        Ok(IntentModel { bias, weights })
    }

    pub(crate) fn read(&self, words: &Words) -> ModelReading {
        let mut sums = self.bias;
        let mut key = String::with_capacity(48);
        for_each_feature(words, &mut key, |feature| {
            if let Some(row) = self.weights.get(&feature_key(feature)) {
                for (sum, weight) in sums.iter_mut().zip(row) {
                    *sum += weight;
                }
            }
        });
        let mut intents = [0f32; INTENTS];
        intents.copy_from_slice(&sums[..INTENTS]);
        ModelReading {
            intents: softmax(intents),
            reply: 1.0 / (1.0 + (-sums[INTENTS]).exp()),
        }
    }
}

/// The features of a message, as the trainer and the model read them.
pub(crate) fn features(words: &Words) -> Vec<String> {
    let mut all = Vec::with_capacity(words.tokens.len() * 3);
    let mut key = String::with_capacity(48);
    for_each_feature(words, &mut key, |feature| all.push(feature.to_owned()));
    all
}

/// Calls `found` with each feature of the words, built in `key` (no allocation per
/// feature once `key` has grown).
fn for_each_feature(words: &Words, key: &mut String, mut found: impl FnMut(&str)) {
    let mut previous: Option<(&str, u16)> = None;
    for token in &words.tokens {
        let word = words.text(token);
        let word = if token.numeric {
            key.clear();
            key.push_str("n:");
            let _ = write!(key, "{}", word.len().min(20));
            found(key);
            "#"
        } else {
            key.clear();
            key.push_str("w:");
            key.push_str(word);
            found(key);
            if word.chars().count() >= 6 {
                key.clear();
                key.push_str("s:");
                key.extend(word.chars().take(5));
                found(key);
            }
            word
        };
        if let Some((before, sentence)) = previous {
            if sentence == token.sentence {
                key.clear();
                key.push_str("b:");
                key.push_str(before);
                key.push(' ');
                key.push_str(word);
                found(key);
            }
        }
        previous = Some((word, token.sentence));
    }
}

/// Turns scores into probabilities that sum to one.
pub(crate) fn softmax(mut sums: [f32; INTENTS]) -> [f32; INTENTS] {
    let max = sums.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    for sum in &mut sums {
        *sum = (*sum - max).exp();
        total += *sum;
    }
    for sum in &mut sums {
        *sum /= total;
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weights_file_is_read_and_scores_its_features() {
        let model =
            IntentModel::parse("# test\nbias\t0 0 0 0 0 0 0 0 0\nw:facture\t0 0 6 0 0 0 0 0 2\n")
                .expect("parses");
        let reading = model.read(&Words::read("Facture svp"));
        assert!(reading.intents[Intent::InvoiceRequest as usize] > 0.9);
        assert!(reading.reply > 0.8);
    }

    #[test]
    fn a_bad_weights_file_names_its_line() {
        let error = IntentModel::parse("bias\t0 0 0 0 0 0 0 0 0\nw:x\t1 2 3\n")
            .err()
            .expect("refused");
        assert_eq!(error.file, MODEL_FILE);
        assert_eq!(error.entry, "line 2");
        assert!(error.problem.contains("9 weights"), "{}", error.problem);
        let error = IntentModel::parse("w:x\t1 2 3 4 5 6 7 8 nine\n")
            .err()
            .expect("refused");
        assert!(error.problem.contains("\"nine\""), "{}", error.problem);
    }

    #[test]
    fn a_feature_written_twice_is_refused() {
        let error = IntentModel::parse(
            "bias\t0 0 0 0 0 0 0 0 0\nw:x\t1 0 0 0 0 0 0 0 0\nw:x\t0 1 0 0 0 0 0 0 0\n",
        )
        .err()
        .expect("refused");
        assert_eq!(error.entry, "line 3");
        assert!(
            error.problem.contains("\"w:x\" appears twice"),
            "{}",
            error.problem
        );
    }

    #[test]
    fn features_are_words_pairs_stems_and_number_lengths() {
        let features = features(&Words::read("Where is 123456789? Expédiée"));
        for expected in [
            "w:where",
            "b:where is",
            "b:is #",
            "n:9",
            "w:expediee",
            "s:exped",
        ] {
            assert!(
                features.iter().any(|f| f == expected),
                "{expected} missing from {features:?}"
            );
        }
        assert!(
            !features.iter().any(|f| f == "b:# expediee"),
            "pairs stay in a sentence"
        );
    }
}
