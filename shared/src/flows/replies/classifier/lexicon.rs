//! The phrases of the data files, compiled once into a keyword index, and the matcher that
//! finds them in a message's words: exact words, word prefixes (`annul*`) and, for longer
//! words, one spelling mistake (a letter missing, added, wrong or two letters swapped).
//!
//! Fast by construction: a word is looked up in hash maps, never compared with every
//! keyword; the one-mistake variants of the keywords are computed once at load (each
//! keyword without one of its letters), so a message's word costs a few lookups.

use super::text::{Token, Words};
use super::{Hazard, Intent, Language};

/// Maps and sets keyed by words: a fast hash with a seed chosen per process.
pub(crate) type FastMap<K, V> = foldhash::HashMap<K, V>;
pub(crate) type FastSet<K> = foldhash::HashSet<K>;

/// What a matched phrase says about the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    Intent(Intent),
    Hazard(Hazard),
    /// A phrase in which a hazard word means no harm ("Fire TV", "nulle part").
    Innocent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strength {
    Decisive,
    Strong,
    Hint,
    /// Hazard words carry no weight: any one is enough.
    Hazard,
}

impl Strength {
    pub fn as_str(self) -> &'static str {
        match self {
            Strength::Decisive => "decisive",
            Strength::Strong => "strong",
            Strength::Hint => "hint",
            Strength::Hazard => "hazard",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    keyword: u16,
    /// How many other words may come before this one (0: right after the previous word).
    gap: u8,
}

#[derive(Debug)]
pub(crate) struct Phrase {
    slots: Vec<Slot>,
    pub group: Group,
    pub strength: Strength,
    pub weight: f32,
    /// The language the phrase belongs to, when it belongs to only one.
    pub language: Option<Language>,
    /// Whether a spelling mistake may match it (hazard words match exactly).
    fuzzy: bool,
    /// Whether a negation just before it cancels it.
    negatable: bool,
    /// Whether "if" or "in case" just before it cancels it (a complaint that has not
    /// happened: "if something got lost").
    hypothetical: bool,
}

/// A phrase found in a message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub phrase: u32,
    /// First and last token of the match.
    pub first: u32,
    pub last: u32,
    /// The tokens the phrase's words matched (bit i: token `first + i`), not the gaps.
    pub words: u64,
    /// Matched through a spelling mistake.
    pub fuzzy: bool,
    pub negated: bool,
}

/// At most this many keywords per word of a message (an exact word, prefixes, variants).
const MAX_PER_TOKEN: usize = 6;

#[derive(Clone, Copy, Default)]
struct TokenKeywords {
    ids: [u16; MAX_PER_TOKEN],
    fuzzy: [bool; MAX_PER_TOKEN],
    len: u8,
}

impl TokenKeywords {
    fn push(&mut self, id: u16, fuzzy: bool) {
        let len = self.len as usize;
        if len < MAX_PER_TOKEN && !self.ids[..len].contains(&id) {
            self.ids[len] = id;
            self.fuzzy[len] = fuzzy;
            self.len += 1;
        }
    }

    fn find(&self, id: u16) -> Option<bool> {
        (0..self.len as usize)
            .find(|&i| self.ids[i] == id)
            .map(|i| self.fuzzy[i])
    }
}

/// The negation cues and what stops them, folded.
#[derive(Debug, Default)]
pub(crate) struct Negation {
    pub cues: FastSet<Box<str>>,
    /// Negations that follow the verb in spoken French: "j'annule pas", "je retourne rien".
    pub after: FastSet<Box<str>>,
    pub breakers: FastSet<Box<str>>,
    /// "if", "si": a negation right after one is a condition, not a refusal ("if I don't
    /// get a refund"), and one before a complaint makes it a worry, not a fact.
    pub conditionals: FastSet<Box<str>>,
    /// Words that turn down what follows, whatever it is: "no need for the invoice",
    /// "pas besoin de facture". Each is a sequence of folded words.
    pub declines: Vec<Box<[Box<str>]>>,
    pub window: usize,
}

impl Negation {
    /// Whether a negation cue comes shortly before `first`, in the same clause, with no
    /// breaker in between.
    fn negates(&self, words: &Words, first: usize, last: usize) -> bool {
        let tokens = &words.tokens;
        let clause = tokens[first].clause;
        if let Some(next) = tokens.get(last + 1) {
            if next.clause == clause && self.after.contains(words.text(next)) {
                return true;
            }
        }
        let from = first.saturating_sub(self.window);
        for k in (from..first).rev() {
            let token = &tokens[k];
            if token.clause != clause {
                return false;
            }
            let word = words.text(token);
            if self.breakers.contains(word) {
                return false;
            }
            if self.cues.contains(word) {
                // "if I don't get a refund": a condition, not a refusal.
                let conditional = tokens[k.saturating_sub(2)..k]
                    .iter()
                    .any(|t| t.clause == clause && self.conditionals.contains(words.text(t)));
                return !conditional;
            }
        }
        false
    }

    /// Whether a decline ("no need", "pas besoin") ends shortly before `first`, in the same
    /// clause, with no breaker in between.
    fn declines(&self, words: &Words, first: usize) -> bool {
        let tokens = &words.tokens;
        let clause = tokens[first].clause;
        for end in (first.saturating_sub(self.window)..first).rev() {
            if tokens[end].clause != clause || self.breakers.contains(words.text(&tokens[end])) {
                return false;
            }
            let ends_here = |decline: &[Box<str>]| {
                decline.len() <= end + 1
                    && decline.iter().rev().enumerate().all(|(back, word)| {
                        let token = &tokens[end - back];
                        token.clause == clause && words.text(token) == &**word
                    })
            };
            if self.declines.iter().any(|decline| ends_here(decline)) {
                return true;
            }
        }
        false
    }

    /// Whether "if" or "in case" comes shortly before `first` in the same clause.
    fn supposes(&self, words: &Words, first: usize) -> bool {
        let clause = words.tokens[first].clause;
        words.tokens[first.saturating_sub(self.window)..first]
            .iter()
            .rev()
            .take_while(|t| t.clause == clause)
            .any(|t| self.conditionals.contains(words.text(t)))
    }
}

/// What one spelling is to the lexicon, so that a word of a message costs one lookup.
#[derive(Debug, Default)]
struct Form {
    /// The keyword written this way.
    keyword: Option<u16>,
    /// The long keywords that read this way without one of their letters.
    one_letter_less_of: Vec<u16>,
    /// A common word of either language, never read as a misspelt keyword.
    known: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Lexicon {
    forms: FastMap<Box<str>, Form>,
    keywords: Vec<Box<str>>,
    /// Word prefixes (`annul*`) by their first two letters, and those shorter apart.
    prefixes: FastMap<[u8; 2], Vec<(Box<str>, u16)>>,
    short_prefixes: Vec<(Box<str>, u16)>,
    fuzzy_min: usize,
    phrases: Vec<Phrase>,
    /// Phrases by their first keyword.
    by_first: Vec<Vec<u32>>,
}

/// Why a phrase could not be read.
pub(crate) enum PhraseProblem {
    Empty,
    GapFirst,
    GapLast,
    TooManyKeywords,
}

impl std::fmt::Display for PhraseProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PhraseProblem::Empty => "the phrase has no word",
            PhraseProblem::GapFirst => "the phrase starts with \"..\"",
            PhraseProblem::GapLast => "the phrase ends with \"..\"",
            PhraseProblem::TooManyKeywords => "too many different words in the data files",
        })
    }
}

fn first_two(word: &str) -> Option<[u8; 2]> {
    match word.as_bytes() {
        [a, b, ..] => Some([*a, *b]),
        _ => None,
    }
}

/// How many words ".." lets through.
const GAP_WORDS: u8 = 8;

pub(crate) struct NewPhrase<'a> {
    pub text: &'a str,
    pub group: Group,
    pub strength: Strength,
    pub weight: f32,
    pub language: Option<Language>,
    pub fuzzy: bool,
    pub negatable: bool,
    pub hypothetical: bool,
}

impl Lexicon {
    pub fn new(fuzzy_min: usize) -> Lexicon {
        Lexicon {
            fuzzy_min,
            ..Lexicon::default()
        }
    }

    pub fn phrase(&self, id: u32) -> &Phrase {
        &self.phrases[id as usize]
    }

    pub fn add_known(&mut self, word: &str) {
        self.forms.entry(word.into()).or_default().known = true;
    }

    fn keyword(&mut self, word: &str) -> Result<u16, PhraseProblem> {
        let known = match word.strip_suffix('*') {
            // One keyword per prefix however many phrases use it: a word of the message
            // holds at most `MAX_PER_TOKEN` keywords.
            Some(stem) => self
                .stems_like(stem)
                .find(|(known, _)| **known == *stem)
                .map(|&(_, id)| id),
            None => self.forms.get(word).and_then(|form| form.keyword),
        };
        if let Some(id) = known {
            return Ok(id);
        }
        let id = u16::try_from(self.keywords.len()).map_err(|_| PhraseProblem::TooManyKeywords)?;
        self.keywords.push(word.into());
        self.by_first.push(Vec::new());
        if let Some(stem) = word.strip_suffix('*') {
            match first_two(stem) {
                Some(key) => self
                    .prefixes
                    .entry(key)
                    .or_default()
                    .push((stem.into(), id)),
                None => self.short_prefixes.push((stem.into(), id)),
            }
        } else {
            self.forms.entry(word.into()).or_default().keyword = Some(id);
        }
        Ok(id)
    }

    /// The prefixes that may start `word`: those with its first two letters, and the
    /// shorter ones.
    fn stems_like(&self, word: &str) -> impl Iterator<Item = &(Box<str>, u16)> {
        let same_start = first_two(word).and_then(|key| self.prefixes.get(&key));
        same_start.into_iter().flatten().chain(&self.short_prefixes)
    }

    fn add_deletions(&mut self, word: &str, id: u16) {
        // A prefix's stem also matches misspelt: "cancle" for "cancel*".
        let word = word.strip_suffix('*').unwrap_or(word);
        if word.chars().count() < self.fuzzy_min || !word.is_ascii() {
            return;
        }
        for i in 0..word.len() {
            let mut variant = String::with_capacity(word.len() - 1);
            variant.push_str(&word[..i]);
            variant.push_str(&word[i + 1..]);
            let ids = &mut self
                .forms
                .entry(variant.into_boxed_str())
                .or_default()
                .one_letter_less_of;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }

    /// Adds a phrase written as in the data files.
    pub fn add(&mut self, new: NewPhrase<'_>) -> Result<(), PhraseProblem> {
        let mut slots = Vec::new();
        let mut gap = 0u8;
        // ".." and "*" are separators to the word reader: find them in the raw text.
        for raw in new.text.split_whitespace() {
            if raw == ".." {
                if slots.is_empty() {
                    return Err(PhraseProblem::GapFirst);
                }
                gap = GAP_WORDS;
                continue;
            }
            let star = raw.ends_with('*');
            let inner = Words::read(raw.trim_end_matches('*'));
            let count = inner.tokens.len();
            for (k, token) in inner.tokens.iter().enumerate() {
                let mut word = inner.text(token).to_owned();
                if star && k + 1 == count {
                    word.push('*');
                }
                let id = self.keyword(&word)?;
                if new.fuzzy {
                    self.add_deletions(&word, id);
                }
                slots.push(Slot { keyword: id, gap });
                gap = 0;
            }
        }
        if slots.is_empty() {
            return Err(PhraseProblem::Empty);
        }
        if gap > 0 {
            return Err(PhraseProblem::GapLast);
        }
        let id = self.phrases.len() as u32;
        self.by_first[slots[0].keyword as usize].push(id);
        self.phrases.push(Phrase {
            slots,
            group: new.group,
            strength: new.strength,
            weight: new.weight,
            language: new.language,
            fuzzy: new.fuzzy,
            negatable: new.negatable,
            hypothetical: new.hypothetical,
        });
        Ok(())
    }

    /// The keywords each word of the message may be.
    fn keywords_of(&self, words: &Words, out: &mut Vec<TokenKeywords>) {
        out.clear();
        let mut variant = String::with_capacity(32);
        for token in &words.tokens {
            let mut found = TokenKeywords::default();
            if token.numeric {
                out.push(found);
                continue;
            }
            let word = words.text(token);
            let form = self.forms.get(word);
            if let Some(id) = form.and_then(|form| form.keyword) {
                found.push(id, false);
            }
            for (stem, id) in self.stems_like(word) {
                if word.starts_with(&**stem) {
                    found.push(*id, false);
                }
            }
            if found.len == 0
                && word.len() + 1 >= self.fuzzy_min
                && word.is_ascii()
                && !form.is_some_and(|form| form.known)
            {
                // Misspellings keep the first letter: "menvoyer" is not "renvoyer".
                let first = word.as_bytes()[0];
                let same_start =
                    |id: u16| self.keywords[id as usize].as_bytes().first() == Some(&first);
                // The keyword with one letter less is the word: a letter is missing.
                for &id in form.map_or(&[][..], |form| &form.one_letter_less_of) {
                    if same_start(id) {
                        found.push(id, true);
                    }
                }
                for i in 0..word.len() {
                    variant.clear();
                    variant.push_str(&word[..i]);
                    variant.push_str(&word[i + 1..]);
                    let Some(form) = self.forms.get(variant.as_str()) else {
                        continue;
                    };
                    // The word with one letter less is a keyword: a letter too many.
                    if let Some(id) = form.keyword {
                        if self.keywords[id as usize].len() >= self.fuzzy_min && same_start(id) {
                            found.push(id, true);
                        }
                    }
                    // Both without one letter agree: a wrong or swapped letter.
                    for &id in &form.one_letter_less_of {
                        if same_start(id) {
                            found.push(id, true);
                        }
                    }
                }
            }
            out.push(found);
        }
    }

    /// Every phrase found in the words, at most one hit per phrase: its first match that
    /// is not negated, or else its first match.
    pub fn find(&self, words: &Words, negation: &Negation, hits: &mut Vec<Hit>) {
        hits.clear();
        let mut keywords = Vec::with_capacity(words.tokens.len());
        self.keywords_of(words, &mut keywords);
        let tokens: &[Token] = &words.tokens;
        // Which keywords the message holds at all: most phrases are ruled out by one bit.
        let mut present = vec![0u64; self.keywords.len().div_ceil(64)];
        for found in &keywords {
            for &id in &found.ids[..found.len as usize] {
                present[id as usize / 64] |= 1 << (id % 64);
            }
        }
        let has = |id: u16| present[id as usize / 64] & (1 << (id % 64)) != 0;
        for (start, found) in keywords.iter().enumerate() {
            for k in 0..found.len as usize {
                let (first_id, first_fuzzy) = (found.ids[k], found.fuzzy[k]);
                for &phrase_id in &self.by_first[first_id as usize] {
                    let phrase = &self.phrases[phrase_id as usize];
                    if (first_fuzzy && !phrase.fuzzy)
                        || !phrase.slots[1..].iter().all(|slot| has(slot.keyword))
                    {
                        continue;
                    }
                    let Some((last, matched, fuzzy)) =
                        self.match_rest(phrase, tokens, &keywords, start)
                    else {
                        continue;
                    };
                    let fuzzy = fuzzy || first_fuzzy;
                    let negated = (phrase.negatable
                        && negation.negates(words, start, last as usize))
                        || (phrase.hypothetical && negation.supposes(words, start))
                        || (matches!(phrase.group, Group::Intent(_))
                            && negation.declines(words, start));
                    let hit = Hit {
                        phrase: phrase_id,
                        first: start as u32,
                        last,
                        words: matched,
                        fuzzy,
                        negated,
                    };
                    match hits.iter_mut().find(|h| h.phrase == phrase_id) {
                        Some(existing) if existing.negated && !negated => *existing = hit,
                        Some(_) => {}
                        None => hits.push(hit),
                    }
                }
            }
        }
    }

    fn match_rest(
        &self,
        phrase: &Phrase,
        tokens: &[Token],
        keywords: &[TokenKeywords],
        start: usize,
    ) -> Option<(u32, u64, bool)> {
        let mut at = start;
        let mut fuzzy = false;
        let mut matched = 1u64;
        let sentence = tokens[start].sentence;
        for slot in &phrase.slots[1..] {
            let from = at + 1;
            let to = (from + slot.gap as usize).min(tokens.len().saturating_sub(1));
            let mut matched_slot = None;
            for (i, token) in tokens.iter().enumerate().take(to + 1).skip(from) {
                if token.sentence != sentence {
                    break;
                }
                if let Some(f) = keywords[i].find(slot.keyword) {
                    if f && !phrase.fuzzy {
                        continue;
                    }
                    matched_slot = Some((i, f));
                    break;
                }
            }
            let (i, f) = matched_slot?;
            fuzzy |= f;
            at = i;
            if i - start < 64 {
                matched |= 1 << (i - start);
            }
        }
        Some((at as u32, matched, fuzzy))
    }
}
