//! The numbers a customer writes: a Best Buy order number (kept as written) and a Canada
//! Post tracking number (spaces and dashes removed, letters upper-cased), told apart from
//! phone numbers, prices, dates, SKUs and each other by their shape and the words before
//! them.

use super::lexicon::{FastMap, FastSet};
use super::text::Words;

/// What a word shortly before a number says the number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cue {
    Order,
    Tracking,
    /// A phone number, a price, a SKU, a postal code...: never an order number.
    Other,
}

#[derive(Debug, Default)]
pub(crate) struct NumberRules {
    pub cues: FastMap<Box<str>, Cue>,
    pub amount_after: FastSet<Box<str>>,
}

/// The numbers found in the customer's own text.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Numbers {
    pub order_id: Option<String>,
    /// A second, different order number was written.
    pub other_order: Option<String>,
    pub tracking_pin: Option<String>,
}

/// How many words before a number are read for a cue.
const CUE_WINDOW: usize = 4;

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn char_before(text: &str, at: usize) -> Option<char> {
    text[..at].chars().next_back()
}

fn char_at(text: &str, at: usize) -> Option<char> {
    text[at..].chars().next()
}

/// A 13-character international tracking number ("LM123456789CA", "LM 123 456 789 CA")
/// starting at `at`: its end and the number without spaces.
fn international_at(text: &str, at: usize) -> Option<(usize, String)> {
    let bytes = text.as_bytes();
    if at + 13 > bytes.len()
        || !bytes[at].is_ascii_alphabetic()
        || !bytes[at + 1].is_ascii_alphabetic()
        || char_before(text, at).is_some_and(is_word_char)
    {
        return None;
    }
    // Spaced out, the letters must be capitals: "la 700221463 le" is French, not a number.
    let spaced = !bytes[at + 2].is_ascii_digit();
    if spaced && !(bytes[at].is_ascii_uppercase() && bytes[at + 1].is_ascii_uppercase()) {
        return None;
    }
    let mut pin = String::with_capacity(13);
    pin.push(bytes[at].to_ascii_uppercase() as char);
    pin.push(bytes[at + 1].to_ascii_uppercase() as char);
    let mut i = at + 2;
    let mut digits = 0;
    while i < bytes.len() && digits < 9 {
        match bytes[i] {
            b'0'..=b'9' => {
                pin.push(bytes[i] as char);
                digits += 1;
                i += 1;
            }
            b' ' | b'-' if i + 1 < bytes.len() && bytes[i + 1].is_ascii_digit() => i += 1,
            _ => return None,
        }
    }
    if digits != 9 {
        return None;
    }
    if i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'-') {
        i += 1;
    }
    if i + 2 > bytes.len() || !bytes[i].is_ascii_alphabetic() || !bytes[i + 1].is_ascii_alphabetic()
    {
        return None;
    }
    if (spaced || !bytes[i - 1].is_ascii_digit())
        && !(bytes[i].is_ascii_uppercase() && bytes[i + 1].is_ascii_uppercase())
    {
        return None;
    }
    if char_at(text, i + 2).is_some_and(is_word_char) {
        return None;
    }
    pin.push(bytes[i].to_ascii_uppercase() as char);
    pin.push(bytes[i + 1].to_ascii_uppercase() as char);
    Some((i + 2, pin))
}

/// A run of digits, possibly in groups separated by one space or dash.
struct DigitRun {
    start: usize,
    end: usize,
    groups: Vec<(usize, usize)>,
    /// An order suffix right after the last group ("-A"): its end.
    suffix_end: Option<usize>,
}

fn digit_run_at(text: &str, at: usize) -> DigitRun {
    let bytes = text.as_bytes();
    let mut groups = Vec::with_capacity(4);
    let mut i = at;
    loop {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        groups.push((start, i));
        if groups.len() < 5
            && i + 1 < bytes.len()
            && (bytes[i] == b' ' || bytes[i] == b'-')
            && bytes[i + 1].is_ascii_digit()
        {
            i += 1;
        } else {
            break;
        }
    }
    let suffix_end = (i + 1 < bytes.len()
        && bytes[i] == b'-'
        && bytes[i + 1].is_ascii_alphabetic()
        && !char_at(text, i + 2).is_some_and(is_word_char))
    .then_some(i + 2);
    DigitRun {
        start: at,
        end: i,
        groups,
        suffix_end,
    }
}

/// A number to be read as an order or tracking number.
struct Candidate {
    start: usize,
    digits: String,
    suffix: Option<usize>,
    end: usize,
}

impl NumberRules {
    /// The cue closest before byte `at` of the own text, within a few words of the same
    /// sentence.
    fn cue_before(&self, words: &Words, at: usize) -> Option<Cue> {
        let index = words
            .tokens
            .partition_point(|t| (t.orig_end as usize) <= at);
        let sentence = words.tokens.get(index).map(|t| t.sentence);
        for token in words.tokens[..index].iter().rev().take(CUE_WINDOW) {
            if sentence.is_some_and(|s| s != token.sentence) {
                break;
            }
            if let Some(&cue) = self.cues.get(words.text(token)) {
                return Some(cue);
            }
        }
        None
    }

    fn amount_after(&self, own: &str, words: &Words, end: usize) -> bool {
        let rest = own[end..].trim_start();
        if rest.starts_with('$') || rest.starts_with('€') {
            return true;
        }
        let index = words
            .tokens
            .partition_point(|t| (t.orig_start as usize) < end);
        words.tokens.get(index).is_some_and(|t| {
            (t.orig_start as usize) <= end + 2 && self.amount_after.contains(words.text(t))
        })
    }

    /// Whether the message talks of tracking and never of an order: a bare 12-digit number
    /// is then a tracking number.
    fn tracking_talk(&self, words: &Words) -> bool {
        let mut tracking = false;
        for token in &words.tokens {
            match self.cues.get(words.text(token)) {
                Some(Cue::Order) => return false,
                Some(Cue::Tracking) => tracking = true,
                _ => {}
            }
        }
        tracking
    }

    pub fn find(&self, own: &str, words: &Words) -> Numbers {
        let mut found = Numbers::default();
        let bytes = own.as_bytes();
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_alphabetic() {
                if let Some((end, pin)) = international_at(own, i) {
                    if found.tracking_pin.is_none() {
                        found.tracking_pin = Some(pin);
                    }
                    i = end;
                    continue;
                }
                // Skip the rest of the word: digits glued to letters are a model or a code.
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] >= 0x80) {
                    i += 1;
                }
                continue;
            }
            if b.is_ascii_digit() {
                if char_before(own, i).is_some_and(is_word_char) {
                    while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                        i += 1;
                    }
                    continue;
                }
                let run = digit_run_at(own, i);
                i = run.suffix_end.unwrap_or(run.end);
                if char_at(own, run.end).is_some_and(is_word_char) && run.suffix_end.is_none() {
                    // "12345abc": not a number on its own.
                    while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                        i += 1;
                    }
                    continue;
                }
                let total: usize = run.groups.iter().map(|(s, e)| e - s).sum();
                if run.groups.len() > 1
                    && (total == 12 || total == 16)
                    && run.suffix_end.is_none()
                    && run.groups.iter().all(|(s, e)| e - s >= 3)
                {
                    let digits = run.groups.iter().map(|&(s, e)| &own[s..e]).collect();
                    candidates.push(Candidate {
                        start: run.start,
                        digits,
                        suffix: None,
                        end: run.end,
                    });
                } else {
                    let last = run.groups.len() - 1;
                    for (k, &(s, e)) in run.groups.iter().enumerate() {
                        let suffix = if k == last { run.suffix_end } else { None };
                        candidates.push(Candidate {
                            start: s,
                            digits: own[s..e].to_owned(),
                            suffix,
                            end: e,
                        });
                    }
                }
                continue;
            }
            i += 1;
        }

        let tracking_talk = std::cell::OnceCell::new();
        for candidate in candidates {
            let len = candidate.digits.len();
            if !(7..=16).contains(&len) {
                continue;
            }
            let cue = self.cue_before(words, candidate.start);
            let hash = own[..candidate.start].trim_end().ends_with('#');
            // Sixteen digits are only ever a tracking number; anything shorter after "phone",
            // "SKU", "$"... is not an order number.
            if len != 16
                && (cue == Some(Cue::Other)
                    || (candidate.suffix.is_none() && self.amount_after(own, words, candidate.end)))
            {
                continue;
            }
            if own[..candidate.start].trim_end().ends_with('$') {
                continue;
            }
            let is_order = match len {
                16 => false,
                13..=15 => continue,
                12 if candidate.suffix.is_some() => true,
                12 => match cue {
                    Some(Cue::Tracking) => false,
                    Some(Cue::Order) => true,
                    _ if hash => true,
                    _ => !*tracking_talk.get_or_init(|| self.tracking_talk(words)),
                },
                // Too short for a tracking number: an order number written without its
                // leading zeros, whatever the words around it.
                _ => true,
            };
            if is_order {
                let written = match candidate.suffix {
                    Some(end) => format!("{}{}", candidate.digits, &own[candidate.end..end]),
                    None => candidate.digits,
                };
                match &found.order_id {
                    None => found.order_id = Some(written),
                    Some(first) => {
                        if found.other_order.is_none() && !same_order(first, &written) {
                            found.other_order = Some(written);
                        }
                    }
                }
            } else if (len == 12 || len == 16) && found.tracking_pin.is_none() {
                found.tracking_pin = Some(candidate.digits);
            }
        }
        found
    }
}

/// "0201934572-A", "201934572-A" and "201934572" name the same order.
fn same_order(a: &str, b: &str) -> bool {
    let digits = |s: &str| {
        let d = s.split('-').next().unwrap_or(s);
        d.trim_start_matches('0').to_owned()
    };
    digits(a) == digits(b)
}
