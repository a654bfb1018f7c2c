//! Reads a customer's message: its language, what it asks for, the order and tracking
//! numbers in it, how sure the reading is, and whether anything in it means a person must
//! answer. Every reading says why in one line.
//!
//! # How a message is read
//!
//! 1. Only the customer's own words count: quoted earlier messages ("On … wrote:",
//!    "Le … a écrit :", `>` lines, "-----Original Message-----", "De : … Envoyé :"),
//!    signatures ("Sent from my iPhone", `--`, a sign-off followed by a name or a phone
//!    number), contact lines and a greeting line are removed first ([`text`]).
//! 2. The words are folded (lower case, accents removed, "don't" = "dont") and matched
//!    against the phrases of the data files, tolerating one spelling mistake in longer
//!    words ([`lexicon`]). A negation shortly before a cancel, return, address or product
//!    phrase cancels it: "I don't want to cancel, just tell me where it is"; a decline
//!    ("no need for", "pas besoin de") cancels any request, routine ones included.
//! 3. Each intent scores the weights of its phrases; a non-routine intent (something a
//!    person must handle) wins over a routine one when it is named at all, so a mixed
//!    request goes to a person. Hazard words (anger, legal, damage, fraud, safety, spam)
//!    are looked for separately and never let a message be answered automatically, unless
//!    the word sits inside a harmless phrase of the hazards file ("Fire TV", "nulle part").
//! 4. Numbers are read by shape and by the words before them ([`numbers`]).
//!
//! # Phrases, and a model for what they miss
//!
//! The phrases, hazard words, negation cues and thresholds live in `shared/replies/*.toml`,
//! compiled in and parsed once on first use: a seller can read them, and fix a reading by
//! editing a phrase. Phrases written with one set of messages in view miss the wordings
//! they never saw, so a linear model ([`model`]) learnt from a separate labelled training
//! set reads the messages no phrase covers, may turn a weak reading towards a person (never
//! towards a routine answer, never into an intent a phrase found negated), and stops a
//! routine reply to a message it reads as one for a person. Measured on the evaluation set
//! and on messages written apart from both, the two together were more accurate than
//! either alone, and only together did they keep eligibility precision at its target on
//! the messages the phrases were not written for. Hazards stay with the phrases: a word
//! list says exactly why a message went to a person.
//!
//! # Speed
//!
//! One pass over the text, hash lookups per word (the spelling-mistake variants of the
//! keywords are computed at load), a few small allocations per message.

mod lexicon;
mod model;
mod numbers;
mod rules;
mod text;

use std::fmt::Write as _;
use std::sync::OnceLock;

use lexicon::{Group, Hit};
pub use rules::RulesError;
use rules::{LanguageMark, Rules};
use text::Words;

/// The language of the customer's own text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    En,
    Fr,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
        }
    }
}

/// What the customer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    OrderStatus,
    TrackingRequest,
    InvoiceRequest,
    CancelRequest,
    ReturnRequest,
    AddressChange,
    ProductQuestion,
    Other,
}

impl Intent {
    pub const ALL: [Intent; 8] = [
        Intent::OrderStatus,
        Intent::TrackingRequest,
        Intent::InvoiceRequest,
        Intent::CancelRequest,
        Intent::ReturnRequest,
        Intent::AddressChange,
        Intent::ProductQuestion,
        Intent::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Intent::OrderStatus => "order_status",
            Intent::TrackingRequest => "tracking_request",
            Intent::InvoiceRequest => "invoice_request",
            Intent::CancelRequest => "cancel_request",
            Intent::ReturnRequest => "return_request",
            Intent::AddressChange => "address_change",
            Intent::ProductQuestion => "product_question",
            Intent::Other => "other",
        }
    }

    /// Routine intents can be answered from the order's facts alone.
    pub fn is_routine(self) -> bool {
        matches!(
            self,
            Intent::OrderStatus | Intent::TrackingRequest | Intent::InvoiceRequest
        )
    }

    pub fn from_name(name: &str) -> Option<Intent> {
        Intent::ALL.into_iter().find(|i| i.as_str() == name)
    }

    fn names() -> String {
        Intent::ALL.map(Intent::as_str).join(", ")
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Why a person must read the message, whatever it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hazard {
    Safety,
    Legal,
    Fraud,
    Damage,
    Anger,
    Spam,
}

impl Hazard {
    /// Most serious first: the one a message is handed over for when it has several.
    const ALL: [Hazard; 6] = [
        Hazard::Safety,
        Hazard::Legal,
        Hazard::Fraud,
        Hazard::Damage,
        Hazard::Anger,
        Hazard::Spam,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Hazard::Safety => "safety",
            Hazard::Legal => "legal",
            Hazard::Fraud => "fraud",
            Hazard::Damage => "damage",
            Hazard::Anger => "anger",
            Hazard::Spam => "spam",
        }
    }

    fn from_name(name: &str) -> Option<Hazard> {
        Hazard::ALL.into_iter().find(|h| h.as_str() == name)
    }

    fn names() -> String {
        Hazard::ALL.map(Hazard::as_str).join(", ")
    }
}

/// The numbers the customer wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entities {
    /// The Best Buy order number as written, without a leading `#`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub order_id: Option<String>,
    /// The Canada Post tracking number, spaces and dashes removed, letters upper-cased.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tracking_pin: Option<String>,
}

/// How a message was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub language: Language,
    pub intent: Intent,
    /// 0.0..=1.0: how sure the reading of the intent is (an automatic reply needs the
    /// data files' `auto_reply_min_confidence`).
    pub confidence: f32,
    pub entities: Entities,
    /// Why a person must read it, if anything in it says so.
    pub hazard: Option<Hazard>,
    /// One line a person can read: why this intent, why this confidence.
    pub reason: String,
}

/// The text-only guards, in this order; the first that fails is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextGuard {
    NotRoutine,
    LowConfidence,
    Hazard,
}

impl TextGuard {
    pub fn as_str(self) -> &'static str {
        match self {
            TextGuard::NotRoutine => "not_routine_intent",
            TextGuard::LowConfidence => "low_confidence",
            TextGuard::Hazard => "hazard",
        }
    }
}

impl Classification {
    /// Whether the text alone allows an automatic reply (the order, the thread and the
    /// cooling-off period are the reply flow's own guards). The confidence threshold is the
    /// bundled data files' `auto_reply_min_confidence`.
    pub fn text_guard(&self) -> Result<(), TextGuard> {
        if !self.intent.is_routine() {
            Err(TextGuard::NotRoutine)
        } else if self.confidence
            < Classifier::bundled()
                .rules
                .scoring
                .auto_reply_min_confidence
        {
            Err(TextGuard::LowConfidence)
        } else if self.hazard.is_some() {
            Err(TextGuard::Hazard)
        } else {
            Ok(())
        }
    }

    pub fn auto_reply_eligible(&self) -> bool {
        self.text_guard().is_ok()
    }
}

/// The data files bundled with the build.
const BUNDLED_INTENTS: &str = include_str!("../../../../replies/intents.toml");
const BUNDLED_HAZARDS: &str = include_str!("../../../../replies/hazards.toml");
const BUNDLED_TEXT: &str = include_str!("../../../../replies/text.toml");
const BUNDLED_MODEL: &str = include_str!("../../../../replies/intent-model.tsv");

/// Reads messages with the rules of the data files.
pub struct Classifier {
    rules: Rules,
    /// Reads what the phrases do not cover; without it only the phrases decide.
    model: Option<model::IntentModel>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier").finish_non_exhaustive()
    }
}

/// What one message's words scored.
struct Reading<'a> {
    words: &'a Words,
    own: &'a str,
}

impl Reading<'_> {
    /// The customer's words a hit matched, as written.
    fn quote(&self, hit: &Hit) -> &str {
        let first = self.words.tokens[hit.first as usize];
        let last = self.words.tokens[hit.last as usize];
        &self.own[first.orig_start as usize..last.orig_end as usize]
    }
}

impl Classifier {
    /// The rules bundled with the build (data files compiled in with `include_str!`),
    /// parsed on first use.
    pub fn bundled() -> &'static Classifier {
        static BUNDLED: OnceLock<Classifier> = OnceLock::new();
        BUNDLED.get_or_init(|| {
            match Classifier::bundled_rules()
                .and_then(|classifier| classifier.with_model(BUNDLED_MODEL))
            {
                Ok(classifier) => classifier,
                // The bundled files are part of the build and a unit test parses them.
                Err(e) => panic!("the bundled reply rules do not parse: {e}"),
            }
        })
    }

    /// Rules from the text of the three data files (`intents.toml`, `hazards.toml`,
    /// `text.toml`), checked: a problem names the file and the entry.
    pub fn parse(intents: &str, hazards: &str, text: &str) -> Result<Classifier, RulesError> {
        Ok(Classifier {
            rules: Rules::parse(intents, hazards, text)?,
            model: None,
        })
    }

    /// The bundled rules without the intent model: what the trainer reads messages with
    /// (`make train-replies`), so that a weights file being replaced is never needed.
    pub fn bundled_rules() -> Result<Classifier, RulesError> {
        Classifier::parse(BUNDLED_INTENTS, BUNDLED_HAZARDS, BUNDLED_TEXT)
    }

    /// The same rules with the intent model of a weights file (`intent-model.tsv`).
    pub fn with_model(self, weights: &str) -> Result<Classifier, RulesError> {
        Ok(Classifier {
            model: Some(model::IntentModel::parse(weights)?),
            ..self
        })
    }

    /// What the intent model reads of a message: the features of the customer's own
    /// words. The trainer (`make train-replies`) learns its weights over these.
    pub fn model_features(&self, text: &str) -> Vec<String> {
        model::features(&Words::read(&text::own_text(text, &self.rules.text)))
    }

    pub fn classify(&self, text: &str) -> Classification {
        let rules = &self.rules;
        let s = &rules.scoring;
        let own = text::own_text(text, &rules.text);
        let words = Words::read(&own);
        let mut hits = Vec::with_capacity(16);
        rules.lexicon.find(&words, &rules.negation, &mut hits);

        let reading = Reading {
            words: &words,
            own: &own,
        };

        // Language: common words and language-specific phrases.
        let (mut en, mut fr) = language_votes(rules, &words);
        for hit in hits.iter().filter(|h| !h.negated && !h.fuzzy) {
            match rules.lexicon.phrase(hit.phrase).language {
                Some(Language::En) => en += 2,
                Some(Language::Fr) => fr += 2,
                None => {}
            }
        }
        let mut accents = words.accents;
        if en == 0 && fr == 0 {
            // Nothing of the customer's own says ("Thanks!", an emoji): the whole message,
            // quote and signature included, is in the thread's language.
            let all = Words::read(text);
            (en, fr) = language_votes(rules, &all);
            accents = all.accents;
        }
        let language = if fr > en || (fr == en && accents > 0) {
            Language::Fr
        } else {
            Language::En
        };
        // A misspelt phrase of the other language is a coincidence ("include" is not a
        // misspelt "incluse").
        hits.retain(|h| {
            !h.fuzzy
                || rules
                    .lexicon
                    .phrase(h.phrase)
                    .language
                    .is_none_or(|l| l == language)
        });
        drop_overlaps(&rules.lexicon, &mut hits);

        // Intent scores.
        let mut scores = [0f32; 8];
        let mut fuzzy = [false; 8];
        let mut hazard_hits: Vec<(Hazard, &Hit)> = Vec::new();
        for hit in &hits {
            let phrase = rules.lexicon.phrase(hit.phrase);
            match phrase.group {
                Group::Intent(intent) if !hit.negated => {
                    scores[intent.index()] += phrase.weight;
                    fuzzy[intent.index()] |= hit.fuzzy;
                }
                Group::Intent(_) | Group::Innocent => {}
                Group::Hazard(hazard) => {
                    // "Fire" in "Fire TV Stick", "nulle" in "nulle part".
                    let innocent = hits.iter().any(|other| {
                        rules.lexicon.phrase(other.phrase).group == Group::Innocent
                            && other.first <= hit.first
                            && hit.last <= other.last
                    });
                    if !innocent {
                        hazard_hits.push((hazard, hit));
                    }
                }
            }
        }
        let mut hazards: Vec<(Hazard, String)> = hazard_hits
            .iter()
            .map(|(hazard, hit)| (*hazard, format!("\"{}\"", reading.quote(hit))))
            .collect();
        if let Some(why) = shouting(&own, &rules.shouting) {
            hazards.push((Hazard::Anger, why));
        }
        if let Some(domain) = foreign_link(&own, &rules.allowed_link_domains) {
            hazards.push((Hazard::Spam, format!("a link to {domain}")));
        }
        let hazard = Hazard::ALL
            .into_iter()
            .find(|h| hazards.iter().any(|(k, _)| k == h));

        let numbers = rules.numbers.find(&own, &words);
        let entities = Entities {
            order_id: numbers.order_id.clone(),
            tracking_pin: numbers.tracking_pin.clone(),
        };
        // A tracking number written is a question about tracking; an order number alone,
        // about the order.
        let mut from_numbers = [0f32; 8];
        if numbers.order_id.is_some() {
            from_numbers[Intent::OrderStatus.index()] = s.order_number_weight;
        }
        if numbers.tracking_pin.is_some() {
            from_numbers[Intent::TrackingRequest.index()] = s.tracking_number_weight;
        }
        for (score, extra) in scores.iter_mut().zip(from_numbers) {
            *score += extra;
        }

        // The winner: a non-routine intent named at all, else the best routine one. Ties
        // go to the earlier intent of `PREFERENCE`.
        const PREFERENCE: [Intent; 8] = [
            Intent::Other,
            Intent::CancelRequest,
            Intent::ReturnRequest,
            Intent::AddressChange,
            Intent::ProductQuestion,
            Intent::TrackingRequest,
            Intent::InvoiceRequest,
            Intent::OrderStatus,
        ];
        let best = |routine: bool| {
            PREFERENCE
                .into_iter()
                .filter(|i| i.is_routine() == routine)
                .fold(None::<Intent>, |best, i| match best {
                    Some(b) if scores[b.index()] >= scores[i.index()] => Some(b),
                    _ if scores[i.index()] > 0.0 => Some(i),
                    _ => best,
                })
        };
        let routine = match best(true) {
            // Asked for tracking: the tracking reply states where the order is too.
            Some(Intent::OrderStatus)
                if scores[Intent::TrackingRequest.index()] >= s.strong_weight =>
            {
                Some(Intent::TrackingRequest)
            }
            other => other,
        };
        // A complaint (`other`) names no request: when the customer also asks for something
        // a person can act on (a return, a cancellation...), that is the intent.
        let non_routine = match best(false) {
            Some(Intent::Other) => {
                let actionable = PREFERENCE[1..5]
                    .iter()
                    .copied()
                    .filter(|i| scores[i.index()] >= s.non_routine_wins_at)
                    .fold(None::<Intent>, |best, i| match best {
                        Some(b) if scores[b.index()] >= scores[i.index()] => Some(b),
                        _ => Some(i),
                    });
                actionable.or(Some(Intent::Other))
            }
            other => other,
        };
        let routine_score = routine.map_or(0.0, |i| scores[i.index()]);
        let non_routine_score = non_routine.map_or(0.0, |i| scores[i.index()]);
        let mut intent = match (routine, non_routine) {
            (_, Some(n))
                if non_routine_score >= s.non_routine_wins_at
                    || non_routine_score >= routine_score =>
            {
                n
            }
            (Some(r), _) => r,
            (None, None) => Intent::Other,
            (None, Some(n)) => n,
        };
        if scores[intent.index()] < s.min_intent_score {
            intent = Intent::Other;
        }
        let spam = hazard == Some(Hazard::Spam) && hazards.iter().all(|(h, _)| *h == Hazard::Spam);
        if spam && intent.is_routine() {
            intent = Intent::Other;
        }
        // Barely a routine question next to a legal threat, a fraud, a danger or damage:
        // the hazard is what the message is about.
        let serious = matches!(
            hazard,
            Some(Hazard::Safety | Hazard::Legal | Hazard::Fraud | Hazard::Damage)
        );
        if serious && intent.is_routine() && scores[intent.index()] < s.strong_weight {
            intent = Intent::Other;
        }

        // The intent model reads what the phrases do not cover.
        let probabilities = match &self.model {
            Some(model) if !spam && !own.trim().is_empty() => Some(model.read(&words)),
            _ => None,
        };
        let negated: Vec<Intent> = hits
            .iter()
            .filter(|h| h.negated)
            .filter_map(|h| match rules.lexicon.phrase(h.phrase).group {
                Group::Intent(i) => Some(i),
                Group::Hazard(_) | Group::Innocent => None,
            })
            .collect();
        let read_by_phrases = (intent, scores[intent.index()]);
        let mut by_model: Option<f32> = None;
        let mut model_doubts = false;
        if let Some(reading) = &probabilities {
            let p = &reading.intents;
            let (best, p_best) = Intent::ALL.into_iter().map(|i| (i, p[i.index()])).fold(
                (Intent::Other, -1.0f32),
                |a, b| if b.1 > a.1 { b } else { a },
            );
            let rule_score = scores[intent.index()];
            let nothing_understood = rule_score < s.min_intent_score;
            if best != intent
                && ((nothing_understood && p_best >= s.model_min_probability)
                    || (!nothing_understood
                        && rule_score < s.model_overrules_below_score
                        && p_best >= s.model_overrules_at
                        // Only towards a person: what a phrase read is never read away into
                        // a routine question.
                        && !best.is_routine()))
                // The model does not read negations: "I don't want to cancel".
                && !negated.contains(&best)
            {
                intent = best;
                by_model = Some(p_best);
            } else if intent.is_routine() {
                // What a phrase found negated is not what the model should weigh against.
                let negated_mass: f32 = negated.iter().map(|i| p[i.index()]).sum();
                let p_intent = p[intent.index()] / (1.0 - negated_mass).max(f32::EPSILON);
                model_doubts = p_intent < s.model_doubts_below;
            }
        }

        // Confidence and the reason for it.
        let score = scores[intent.index()];
        let mut reason = String::with_capacity(160);
        let mut confidence;
        if let Some(p) = by_model {
            confidence = p;
            let _ = write!(
                reason,
                "{}: the intent model ({p:.2}); the phrases read {} (score {})",
                intent.as_str(),
                read_by_phrases.0.as_str(),
                read_by_phrases.1,
            );
            if intent.is_routine() && p < s.model_alone_reply_at {
                // No phrase names it: a routine answer on the model's word alone needs the
                // model to be very sure ("thanks for the fast shipping!" is no question).
                confidence = confidence.min(s.model_min_probability);
                reason.push_str("; no phrase names it");
            }
        } else if own.trim().is_empty() {
            confidence = 0.9;
            reason.push_str(
                "other: nothing of the customer's own beyond a greeting, quote or signature",
            );
        } else if score == 0.0 {
            confidence = if spam { 0.9 } else { 0.5 };
            let _ = write!(reason, "other: no phrase of any intent found");
        } else {
            confidence = 1.0 - 0.5f32.powf(score / s.confidence_half_score);
            let _ = write!(reason, "{}: ", intent.as_str());
            let mut first = true;
            for hit in hits.iter().filter(|h| !h.negated) {
                let phrase = rules.lexicon.phrase(hit.phrase);
                if phrase.group == Group::Intent(intent) {
                    let _ = write!(
                        reason,
                        "{}\"{}\" ({}{})",
                        if first { "" } else { ", " },
                        reading.quote(hit),
                        phrase.strength.as_str(),
                        if hit.fuzzy { ", misspelt" } else { "" }
                    );
                    first = false;
                }
            }
            if from_numbers[intent.index()] > 0.0 {
                let what = if intent == Intent::TrackingRequest {
                    "a tracking number"
                } else {
                    "an order number"
                };
                let _ = write!(reason, "{}{what}", if first { "" } else { ", " });
            }
            let _ = write!(reason, "; score {score}");
        }
        if score > 0.0 && intent.is_routine() {
            for i in Intent::ALL {
                if i == intent || scores[i.index()] <= 0.0 {
                    continue;
                }
                // Order status and tracking are answered by the same facts.
                let same_facts = matches!(
                    (intent, i),
                    (Intent::TrackingRequest, Intent::OrderStatus)
                        | (Intent::OrderStatus, Intent::TrackingRequest)
                );
                if i.is_routine() && !same_facts && scores[i.index()] >= s.strong_weight {
                    // Two routine requests: not a single, clear one.
                    confidence *= s.competing_intent_factor;
                    let _ = write!(reason, "; also asks {}", i.as_str());
                } else if !i.is_routine() {
                    confidence *= s.competing_hint_factor;
                    let _ = write!(reason, "; hint of {}", i.as_str());
                }
            }
            if fuzzy[intent.index()] {
                confidence *= s.fuzzy_match_factor;
            }
            if words.tokens.len() > s.long_message_words {
                confidence *= s.long_message_factor;
                let _ = write!(reason, "; long message ({} words)", words.tokens.len());
            }
        }
        for hit in hits.iter().filter(|h| h.negated) {
            let phrase = rules.lexicon.phrase(hit.phrase);
            if let Group::Intent(i) = phrase.group {
                let _ = write!(
                    reason,
                    "; negated {} \"{}\"",
                    i.as_str(),
                    reading.quote(hit)
                );
            }
        }
        // A hazard already hands the message over, and is the better reason to record.
        let model_may_stop = intent.is_routine() && hazard.is_none();
        if let Some(reading) = probabilities.as_ref().filter(|_| model_may_stop) {
            if model_doubts {
                confidence = confidence.min(s.model_doubts_below);
                let _ = write!(
                    reason,
                    "; the intent model doubts it ({:.2})",
                    reading.intents[intent.index()]
                );
            } else if reading.reply < s.model_reply_min_probability {
                confidence = confidence.min(reading.reply);
                let _ = write!(reason, "; reads as one for a person ({:.2})", reading.reply);
            }
        }
        if let Some(other) = &numbers.other_order {
            confidence = confidence.min(s.two_orders_confidence);
            let _ = write!(
                reason,
                "; two order numbers ({} and {other})",
                numbers.order_id.as_deref().unwrap_or_default()
            );
        }
        let confidence = (confidence.clamp(0.0, 1.0) * 100.0).round() / 100.0;
        let _ = write!(reason, "; confidence {confidence:.2}");
        if let Some(h) = hazard {
            let words: Vec<&str> = hazards
                .iter()
                .filter(|(k, _)| *k == h)
                .map(|(_, w)| w.as_str())
                .take(3)
                .collect();
            let _ = write!(reason, "; hazard {} ({})", h.as_str(), words.join(", "));
        }
        let _ = write!(
            reason,
            "; language {} ({en} en, {fr} fr)",
            language.as_str()
        );

        Classification {
            language,
            intent,
            confidence,
            entities,
            hazard,
            reason,
        }
    }
}

/// How many common words of each language the words hold.
fn language_votes(rules: &Rules, words: &Words) -> (u32, u32) {
    let (mut en, mut fr) = (0, 0);
    for token in &words.tokens {
        match rules.language_words.get(words.text(token)) {
            Some(LanguageMark::En) => en += 1,
            Some(LanguageMark::Fr) => fr += 1,
            _ => {}
        }
    }
    (en, fr)
}

/// Overlapping phrases of one intent count once (the longest), and a phrase whose words are
/// all words of a longer phrase of another intent ("not working" inside "tracking not
/// working") does not count: the longer says what the customer meant.
fn drop_overlaps(lexicon: &lexicon::Lexicon, hits: &mut Vec<Hit>) {
    let intent_of = |h: &Hit| match lexicon.phrase(h.phrase).group {
        Group::Intent(i) if !h.negated => Some(i),
        _ => None,
    };
    let size = |h: &Hit| h.words.count_ones();
    // Most words first, then heaviest, then first written.
    let mut order: Vec<usize> = (0..hits.len())
        .filter(|&i| intent_of(&hits[i]).is_some())
        .collect();
    order.sort_by(|&a, &b| {
        size(&hits[b])
            .cmp(&size(&hits[a]))
            .then(
                lexicon
                    .phrase(hits[b].phrase)
                    .weight
                    .total_cmp(&lexicon.phrase(hits[a].phrase).weight),
            )
            .then(hits[a].first.cmp(&hits[b].first))
    });
    // Every word of h is one of g's words (not one g let through in a gap).
    let contains = |g: &Hit, h: &Hit| {
        g.first <= h.first
            && h.first - g.first < 64
            && (h.words << (h.first - g.first)) & !g.words == 0
            && size(g) > size(h)
    };
    let mut kept: Vec<usize> = Vec::with_capacity(order.len());
    let mut dropped = vec![false; hits.len()];
    for &i in &order {
        let h = &hits[i];
        // Inside a longer phrase of another intent, even one that itself counts only once
        // beside an overlapping phrase of its own intent ("marche pas" inside "suivi ..
        // marche pas", itself overlapping "lien de suivi").
        let inside_another = order.iter().any(|&o| {
            let g = &hits[o];
            intent_of(g) != intent_of(h) && contains(g, h)
        });
        let covered = inside_another
            || kept.iter().any(|&k| {
                let g = &hits[k];
                intent_of(g) == intent_of(h) && g.first <= h.last && h.first <= g.last
            });
        if covered {
            dropped[i] = true;
        } else {
            kept.push(i);
        }
    }
    let mut index = 0;
    hits.retain(|_| {
        index += 1;
        !dropped[index - 1]
    });
}

/// Shouting: an angry face, a run of exclamation marks, or a long message all in capitals that
/// exclaims.
fn shouting(own: &str, rules: &rules::Shouting) -> Option<String> {
    // The symbols are emoji: an ASCII text holds none.
    if !own.is_ascii() {
        if let Some(symbol) = rules.symbols.iter().find(|s| own.contains(s.as_str())) {
            return Some(format!("\"{symbol}\""));
        }
    }
    let (mut run, mut letters, mut lower, mut exclaims) = (0, 0, 0, false);
    for c in own.chars() {
        if c == '!' {
            exclaims = true;
            run += 1;
            if run >= rules.exclamation_run {
                return Some(format!("{run} exclamation marks"));
            }
        } else if !c.is_whitespace() && c != '?' && c != '1' {
            run = 0;
        }
        if c.is_alphabetic() {
            letters += 1;
            lower += usize::from(c.is_lowercase());
        }
    }
    (letters >= rules.min_letters && lower == 0 && exclaims)
        .then(|| "written in capitals, exclaiming".to_owned())
}

/// The site of a link in the text that is not one of the allowed sites.
fn foreign_link<'a>(own: &'a str, allowed: &[String]) -> Option<&'a str> {
    if !(own.contains("://") || own.contains("www.") || own.contains("WWW.")) {
        return None;
    }
    let mut rest = own;
    loop {
        let at = ["http://", "https://", "www."]
            .iter()
            .filter_map(|p| text::find_ci(rest, p).map(|i| (i, p.len())))
            .min()?;
        let after = &rest[at.0 + at.1..];
        let end = after
            .find(|c: char| {
                c.is_whitespace() || c == '/' || c == '?' || c == '#' || c == ')' || c == '>'
            })
            .unwrap_or(after.len());
        let host = after[..end]
            .trim_start_matches("www.")
            .trim_end_matches(['.', ',']);
        let host_lower = host.to_ascii_lowercase();
        let ok = allowed
            .iter()
            .any(|d| host_lower == *d || host_lower.ends_with(&format!(".{d}")));
        if !ok && !host.is_empty() {
            return Some(host);
        }
        rest = &after[end..];
    }
}

#[cfg(test)]
mod tests;
