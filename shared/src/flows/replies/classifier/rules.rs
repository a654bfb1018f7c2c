//! The data files a seller can read and edit (`shared/replies/*.toml`), read and checked
//! into the classifier's rules. Every problem names the file and the entry.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::lexicon::{FastMap, FastSet, Group, Lexicon, Negation, NewPhrase, Strength};
use super::numbers::{Cue, NumberRules};
use super::text::{fold_str, Words};
use super::{Hazard, Intent, Language};

/// A data file that cannot be used, and where in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {entry}: {problem}")]
pub struct RulesError {
    /// The file, as named in the repository (`shared/replies/intents.toml`).
    pub file: &'static str,
    /// The entry in it (`intent.order_status.en.strong[3]`), or `(file)` for the whole file.
    pub entry: String,
    pub problem: String,
}

pub(crate) const INTENTS_FILE: &str = "shared/replies/intents.toml";
pub(crate) const HAZARDS_FILE: &str = "shared/replies/hazards.toml";
/// The section of the hazards file that lists harmless phrases, not a hazard.
const INNOCENT: &str = "innocent";
pub(crate) const TEXT_FILE: &str = "shared/replies/text.toml";

fn error(file: &'static str, entry: impl Into<String>, problem: impl Into<String>) -> RulesError {
    RulesError {
        file,
        entry: entry.into(),
        problem: problem.into(),
    }
}

fn parse_toml<T: for<'de> Deserialize<'de>>(
    file: &'static str,
    source: &str,
) -> Result<T, RulesError> {
    toml::from_str(source).map_err(|e| {
        let entry = e
            .span()
            .map(|span| {
                let line = source[..span.start.min(source.len())].matches('\n').count() + 1;
                format!("line {line}")
            })
            .unwrap_or_else(|| "(file)".to_owned());
        error(file, entry, e.message().trim().to_owned())
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scoring {
    pub decisive_weight: f32,
    pub strong_weight: f32,
    pub hint_weight: f32,
    pub non_routine_wins_at: f32,
    pub min_intent_score: f32,
    pub confidence_half_score: f32,
    pub auto_reply_min_confidence: f32,
    pub competing_intent_factor: f32,
    pub competing_hint_factor: f32,
    pub order_number_weight: f32,
    pub tracking_number_weight: f32,
    pub fuzzy_match_factor: f32,
    pub long_message_words: usize,
    pub long_message_factor: f32,
    pub two_orders_confidence: f32,
    pub fuzzy_min_letters: usize,
    pub model_min_probability: f32,
    pub model_overrules_at: f32,
    pub model_overrules_below_score: f32,
    pub model_doubts_below: f32,
    pub model_reply_min_probability: f32,
    pub model_alone_reply_at: f32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NegationFile {
    window: usize,
    en: Vec<String>,
    fr: Vec<String>,
    after: Vec<String>,
    breakers: Vec<String>,
    conditionals: Vec<String>,
    declines: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhraseLists {
    #[serde(default)]
    decisive: Vec<String>,
    #[serde(default)]
    strong: Vec<String>,
    #[serde(default)]
    hint: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentEntry {
    negatable: bool,
    #[serde(default)]
    hypothetical: bool,
    #[serde(default)]
    en: PhraseLists,
    #[serde(default)]
    fr: PhraseLists,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentsFile {
    scoring: Scoring,
    negation: NegationFile,
    intent: BTreeMap<String, IntentEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HazardEntry {
    en: Vec<String>,
    fr: Vec<String>,
    exclamation_run: Option<usize>,
    symbols: Option<Vec<String>>,
    shouting_min_letters: Option<usize>,
    allowed_link_domains: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageWords {
    en: Vec<String>,
    fr: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Greetings {
    words: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignOffs {
    lines: Vec<String>,
    signature_starts: Vec<String>,
    contact_starts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NumberCues {
    order_cues: Vec<String>,
    tracking_cues: Vec<String>,
    other_cues: Vec<String>,
    amount_after: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TextFile {
    language: LanguageWords,
    greetings: Greetings,
    sign_offs: SignOffs,
    numbers: NumberCues,
}

/// Greetings, sign-offs and signature lines, folded.
#[derive(Debug, Default)]
pub(crate) struct TextRules {
    pub greetings: Vec<String>,
    pub sign_offs: Vec<String>,
    pub signature_starts: Vec<String>,
    pub contact_starts: Vec<String>,
}

/// Which language a common word belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LanguageMark {
    En,
    Fr,
    Both,
}

/// What reads as shouting.
#[derive(Debug, Clone)]
pub(crate) struct Shouting {
    pub exclamation_run: usize,
    pub min_letters: usize,
    pub symbols: Vec<String>,
}

/// Everything the data files say, ready to match.
pub(crate) struct Rules {
    pub lexicon: Lexicon,
    pub negation: Negation,
    pub scoring: Scoring,
    pub language_words: FastMap<Box<str>, LanguageMark>,
    pub text: TextRules,
    pub numbers: NumberRules,
    pub shouting: Shouting,
    pub allowed_link_domains: Vec<String>,
}

fn folded_list(
    file: &'static str,
    entry: &str,
    items: &[String],
) -> Result<Vec<String>, RulesError> {
    let mut out = Vec::with_capacity(items.len());
    let mut buf = String::new();
    for (i, item) in items.iter().enumerate() {
        fold_str(item, &mut buf);
        if buf.is_empty() {
            return Err(error(file, format!("{entry}[{i}]"), "the entry is empty"));
        }
        out.push(buf.clone());
    }
    Ok(out)
}

/// Folds a list of single words.
fn word_list(file: &'static str, entry: &str, items: &[String]) -> Result<Vec<String>, RulesError> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let words = Words::read(item);
        match words.tokens.as_slice() {
            [token] => out.push(words.text(token).to_owned()),
            [] if item.trim() == "$" => out.push("$".to_owned()),
            [] => return Err(error(file, format!("{entry}[{i}]"), "the entry is empty")),
            _ => {
                return Err(error(
                    file,
                    format!("{entry}[{i}]"),
                    format!("\"{item}\" must be a single word"),
                ))
            }
        }
    }
    Ok(out)
}

fn check_range(entry: &str, value: f32, low: f32, high: f32) -> Result<(), RulesError> {
    if value.is_finite() && (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(error(
            INTENTS_FILE,
            format!("scoring.{entry}"),
            format!("{value} is outside {low}..={high}"),
        ))
    }
}

impl Rules {
    pub fn parse(intents: &str, hazards: &str, text: &str) -> Result<Rules, RulesError> {
        let intents: IntentsFile = parse_toml(INTENTS_FILE, intents)?;
        let hazards: BTreeMap<String, HazardEntry> = parse_toml(HAZARDS_FILE, hazards)?;
        let text: TextFile = parse_toml(TEXT_FILE, text)?;

        let s = &intents.scoring;
        for (entry, value, low, high) in [
            ("decisive_weight", s.decisive_weight, 0.0, 100.0),
            ("strong_weight", s.strong_weight, 0.0, 100.0),
            ("hint_weight", s.hint_weight, 0.0, 100.0),
            ("non_routine_wins_at", s.non_routine_wins_at, 0.0, 100.0),
            ("min_intent_score", s.min_intent_score, 0.0, 100.0),
            (
                "confidence_half_score",
                s.confidence_half_score,
                0.01,
                100.0,
            ),
            (
                "auto_reply_min_confidence",
                s.auto_reply_min_confidence,
                0.0,
                1.0,
            ),
            (
                "competing_intent_factor",
                s.competing_intent_factor,
                0.0,
                1.0,
            ),
            ("competing_hint_factor", s.competing_hint_factor, 0.0, 1.0),
            ("order_number_weight", s.order_number_weight, 0.0, 100.0),
            (
                "tracking_number_weight",
                s.tracking_number_weight,
                0.0,
                100.0,
            ),
            ("fuzzy_match_factor", s.fuzzy_match_factor, 0.0, 1.0),
            ("long_message_factor", s.long_message_factor, 0.0, 1.0),
            ("two_orders_confidence", s.two_orders_confidence, 0.0, 1.0),
            ("model_min_probability", s.model_min_probability, 0.0, 1.0),
            ("model_overrules_at", s.model_overrules_at, 0.0, 1.0),
            ("model_doubts_below", s.model_doubts_below, 0.0, 1.0),
            ("model_alone_reply_at", s.model_alone_reply_at, 0.0, 1.0),
            (
                "model_reply_min_probability",
                s.model_reply_min_probability,
                0.0,
                1.0,
            ),
        ] {
            check_range(entry, value, low, high)?;
        }
        for (entry, value) in [
            ("model_doubts_below", s.model_doubts_below),
            ("model_reply_min_probability", s.model_reply_min_probability),
            ("model_min_probability", s.model_min_probability),
        ] {
            // Below these the confidence becomes the model's probability (or
            // `model_min_probability`), which must then stop the reply.
            if value > s.auto_reply_min_confidence {
                return Err(error(
                    INTENTS_FILE,
                    format!("scoring.{entry}"),
                    "must not be above auto_reply_min_confidence",
                ));
            }
        }
        if !(3..=30).contains(&s.fuzzy_min_letters) {
            return Err(error(
                INTENTS_FILE,
                "scoring.fuzzy_min_letters",
                "must be between 3 and 30",
            ));
        }

        let mut lexicon = Lexicon::new(s.fuzzy_min_letters);

        // A phrase written for both languages says nothing about the language.
        let mut by_language: [FastSet<String>; 2] = Default::default();
        for entry in intents.intent.values() {
            for (k, lists) in [&entry.en, &entry.fr].into_iter().enumerate() {
                for phrase in lists
                    .decisive
                    .iter()
                    .chain(&lists.strong)
                    .chain(&lists.hint)
                {
                    by_language[k].insert(phrase.trim().to_lowercase());
                }
            }
        }

        for (name, entry) in &intents.intent {
            let intent = Intent::from_name(name).ok_or_else(|| {
                error(
                    INTENTS_FILE,
                    format!("intent.{name}"),
                    format!(
                        "\"{name}\" is not an intent; expected one of {}",
                        Intent::names()
                    ),
                )
            })?;
            for (language, lists) in [(Language::En, &entry.en), (Language::Fr, &entry.fr)] {
                let other = &by_language[usize::from(language == Language::En)];
                for (strength, weight, list) in [
                    (Strength::Decisive, s.decisive_weight, &lists.decisive),
                    (Strength::Strong, s.strong_weight, &lists.strong),
                    (Strength::Hint, s.hint_weight, &lists.hint),
                ] {
                    for (i, text) in list.iter().enumerate() {
                        let shared = other.contains(&text.trim().to_lowercase());
                        lexicon
                            .add(NewPhrase {
                                text,
                                group: Group::Intent(intent),
                                strength,
                                weight,
                                language: (!shared).then_some(language),
                                fuzzy: true,
                                negatable: entry.negatable,
                                hypothetical: entry.hypothetical,
                            })
                            .map_err(|p| {
                                error(
                                    INTENTS_FILE,
                                    format!(
                                        "intent.{name}.{}.{}[{i}]",
                                        language.as_str(),
                                        strength.as_str()
                                    ),
                                    format!("\"{text}\": {p}"),
                                )
                            })?;
                    }
                }
            }
        }

        let mut shouting = Shouting {
            exclamation_run: 3,
            min_letters: 25,
            symbols: Vec::new(),
        };
        let mut allowed_link_domains = Vec::new();
        for (name, entry) in &hazards {
            // [innocent]: phrases in which a hazard word means no harm ("Fire TV", "nulle
            // part"); everything else is a hazard.
            let hazard = match name.as_str() {
                INNOCENT => None,
                _ => Some(Hazard::from_name(name).ok_or_else(|| {
                    error(
                        HAZARDS_FILE,
                        format!("[{name}]"),
                        format!(
                            "\"{name}\" is not a hazard; expected {INNOCENT} or one of {}",
                            Hazard::names()
                        ),
                    )
                })?),
            };
            for (language, list) in [(Language::En, &entry.en), (Language::Fr, &entry.fr)] {
                for (i, text) in list.iter().enumerate() {
                    lexicon
                        .add(NewPhrase {
                            text,
                            group: hazard.map_or(Group::Innocent, Group::Hazard),
                            strength: Strength::Hazard,
                            weight: 0.0,
                            language: None,
                            fuzzy: false,
                            negatable: false,
                            hypothetical: false,
                        })
                        .map_err(|p| {
                            error(
                                HAZARDS_FILE,
                                format!("{name}.{}[{i}]", language.as_str()),
                                format!("\"{text}\": {p}"),
                            )
                        })?;
                }
            }
            let only_for = |field: &str, wanted: Hazard| {
                if hazard == Some(wanted) {
                    Ok(())
                } else {
                    Err(error(
                        HAZARDS_FILE,
                        format!("{name}.{field}"),
                        format!("only [{}] has {field}", wanted.as_str()),
                    ))
                }
            };
            if let Some(run) = entry.exclamation_run {
                only_for("exclamation_run", Hazard::Anger)?;
                if run < 2 {
                    return Err(error(
                        HAZARDS_FILE,
                        format!("{name}.exclamation_run"),
                        "must be at least 2",
                    ));
                }
                shouting.exclamation_run = run;
            }
            if let Some(symbols) = &entry.symbols {
                only_for("symbols", Hazard::Anger)?;
                if let Some(i) = symbols.iter().position(|s| s.trim().is_empty()) {
                    return Err(error(
                        HAZARDS_FILE,
                        format!("{name}.symbols[{i}]"),
                        "the entry is empty",
                    ));
                }
                shouting.symbols = symbols.iter().map(|s| s.trim().to_owned()).collect();
            }
            if let Some(letters) = entry.shouting_min_letters {
                only_for("shouting_min_letters", Hazard::Anger)?;
                shouting.min_letters = letters;
            }
            if let Some(domains) = &entry.allowed_link_domains {
                only_for("allowed_link_domains", Hazard::Spam)?;
                allowed_link_domains = domains
                    .iter()
                    .map(|d| d.trim().to_ascii_lowercase())
                    .collect();
            }
        }

        let mut negation = Negation {
            window: intents.negation.window,
            ..Negation::default()
        };
        for word in word_list(INTENTS_FILE, "negation.en", &intents.negation.en)?
            .into_iter()
            .chain(word_list(
                INTENTS_FILE,
                "negation.fr",
                &intents.negation.fr,
            )?)
        {
            lexicon.add_known(&word);
            negation.cues.insert(word.into());
        }
        for word in word_list(
            INTENTS_FILE,
            "negation.breakers",
            &intents.negation.breakers,
        )? {
            lexicon.add_known(&word);
            negation.breakers.insert(word.into());
        }
        for word in word_list(INTENTS_FILE, "negation.after", &intents.negation.after)? {
            lexicon.add_known(&word);
            negation.after.insert(word.into());
        }
        for word in word_list(
            INTENTS_FILE,
            "negation.conditionals",
            &intents.negation.conditionals,
        )? {
            lexicon.add_known(&word);
            negation.conditionals.insert(word.into());
        }

        for (i, decline) in intents.negation.declines.iter().enumerate() {
            let words = Words::read(decline);
            if words.tokens.is_empty() {
                return Err(error(
                    INTENTS_FILE,
                    format!("negation.declines[{i}]"),
                    "the entry is empty",
                ));
            }
            let folded: Box<[Box<str>]> = words
                .tokens
                .iter()
                .map(|token| Box::from(words.text(token)))
                .collect();
            for word in &folded {
                lexicon.add_known(word);
            }
            negation.declines.push(folded);
        }

        let mut language_words: FastMap<Box<str>, LanguageMark> = FastMap::default();
        for (mark, entry, list) in [
            (LanguageMark::En, "language.en", &text.language.en),
            (LanguageMark::Fr, "language.fr", &text.language.fr),
        ] {
            for word in word_list(TEXT_FILE, entry, list)? {
                lexicon.add_known(&word);
                language_words
                    .entry(word.into())
                    .and_modify(|m| {
                        if *m != mark {
                            *m = LanguageMark::Both
                        }
                    })
                    .or_insert(mark);
            }
        }

        let text_rules = TextRules {
            greetings: folded_list(TEXT_FILE, "greetings.words", &text.greetings.words)?,
            sign_offs: folded_list(TEXT_FILE, "sign_offs.lines", &text.sign_offs.lines)?,
            signature_starts: folded_list(
                TEXT_FILE,
                "sign_offs.signature_starts",
                &text.sign_offs.signature_starts,
            )?,
            contact_starts: folded_list(
                TEXT_FILE,
                "sign_offs.contact_starts",
                &text.sign_offs.contact_starts,
            )?,
        };

        let mut numbers = NumberRules::default();
        for (cue, entry, list) in [
            (Cue::Order, "numbers.order_cues", &text.numbers.order_cues),
            (
                Cue::Tracking,
                "numbers.tracking_cues",
                &text.numbers.tracking_cues,
            ),
            (Cue::Other, "numbers.other_cues", &text.numbers.other_cues),
        ] {
            for word in word_list(TEXT_FILE, entry, list)? {
                numbers.cues.insert(word.into(), cue);
            }
        }
        for word in word_list(
            TEXT_FILE,
            "numbers.amount_after",
            &text.numbers.amount_after,
        )? {
            numbers.amount_after.insert(word.into());
        }

        Ok(Rules {
            lexicon,
            negation,
            scoring: intents.scoring,
            language_words,
            text: text_rules,
            numbers,
            shouting,
            allowed_link_domains,
        })
    }
}
