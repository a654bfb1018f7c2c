//! The customer's own words: what is left of a message once quoted earlier messages,
//! signatures and greetings are taken out, cut into folded words (lower-case, accents
//! removed) that keep where they came from.

use super::rules::TextRules;

/// A character as the matcher sees it.
enum Folded {
    One(u8),
    Two(u8, u8),
    /// A letter outside Latin-1 (kept lower-case as it is: it matches no phrase).
    Other(char),
    Apostrophe,
    Separator,
}

impl Folded {
    /// Appends the folded letters, if any.
    fn push_to(self, out: &mut Vec<u8>) {
        match self {
            Folded::One(b) => out.push(b),
            Folded::Two(a, b) => out.extend_from_slice(&[a, b]),
            Folded::Other(c) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            Folded::Apostrophe | Folded::Separator => {}
        }
    }
}

#[inline]
fn fold(c: char) -> Folded {
    match c {
        'a'..='z' | '0'..='9' => Folded::One(c as u8),
        'A'..='Z' => Folded::One(c.to_ascii_lowercase() as u8),
        '\'' | '`' => Folded::Apostrophe,
        _ if c.is_ascii() => Folded::Separator,
        _ => fold_non_ascii(c),
    }
}

fn fold_non_ascii(c: char) -> Folded {
    match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' | 'À' | 'Á' | 'Â' | 'Ä' | 'Ã' | 'Å' => {
            Folded::One(b'a')
        }
        'ç' | 'Ç' => Folded::One(b'c'),
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => Folded::One(b'e'),
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => Folded::One(b'i'),
        'ñ' | 'Ñ' => Folded::One(b'n'),
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' | 'Ò' | 'Ó' | 'Ô' | 'Ö' | 'Õ' => Folded::One(b'o'),
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => Folded::One(b'u'),
        'ÿ' | 'Ÿ' | 'ý' | 'Ý' => Folded::One(b'y'),
        'œ' | 'Œ' => Folded::Two(b'o', b'e'),
        'æ' | 'Æ' => Folded::Two(b'a', b'e'),
        'ß' => Folded::Two(b's', b's'),
        '’' | '‘' | '´' | 'ʼ' => Folded::Apostrophe,
        c if c.is_alphanumeric() => Folded::Other(c.to_lowercase().next().unwrap_or(c)),
        _ => Folded::Separator,
    }
}

/// Folds a whole string: lower-case, accents removed, apostrophes dropped, every run of
/// other characters one space. Data files' phrases and the text's lines are compared in
/// this form.
pub(crate) fn fold_str(text: &str, out: &mut String) {
    // Built as bytes: a message's every character goes through here.
    let mut bytes = std::mem::take(out).into_bytes();
    bytes.clear();
    let mut pending_space = false;
    for c in text.chars() {
        let folded = fold(c);
        if matches!(folded, Folded::Apostrophe | Folded::Separator) {
            pending_space = true;
            continue;
        }
        if pending_space && !bytes.is_empty() {
            bytes.push(b' ');
        }
        pending_space = false;
        folded.push_to(&mut bytes);
    }
    *out = String::from_utf8(bytes).expect("folded text is whole characters");
}

/// French elisions: "l'adresse" is the two words "l" and "adresse", while English
/// contractions stay one word ("don't" is "dont", as customers often write it).
const ELISIONS: [&str; 12] = [
    "l", "d", "j", "n", "m", "t", "s", "c", "qu", "jusqu", "lorsqu", "puisqu",
];

/// One word of the customer's text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    /// Byte range in [`Words::folded`].
    pub start: u32,
    pub end: u32,
    /// Byte range in the own text the word was read from.
    pub orig_start: u32,
    pub orig_end: u32,
    /// Sentences end at `.`, `!`, `?` and line ends; a gap in a phrase never crosses one.
    pub sentence: u16,
    /// Clauses also end at `,`, `;`, `:` and brackets; a negation never reaches past one.
    pub clause: u16,
    pub numeric: bool,
}

/// The customer's own text cut into folded words.
#[derive(Debug, Default)]
pub(crate) struct Words {
    pub folded: String,
    pub tokens: Vec<Token>,
    /// Letters with accents were written (a hint of French when nothing else decides).
    pub accents: u32,
}

impl Words {
    pub fn text(&self, token: &Token) -> &str {
        &self.folded[token.start as usize..token.end as usize]
    }

    pub fn read(own: &str) -> Words {
        // Folded as bytes: a message's every character goes through here.
        let mut folded: Vec<u8> = Vec::with_capacity(own.len());
        let mut tokens: Vec<Token> = Vec::with_capacity(own.len() / 5 + 1);
        let mut accents = 0;
        let mut current: Option<(u32, u32)> = None; // (folded start, original start)
        let mut sentence: u16 = 0;
        let mut clause: u16 = 0;
        let mut chars = own.char_indices().peekable();
        let close = |folded: &[u8],
                     tokens: &mut Vec<Token>,
                     current: &mut Option<(u32, u32)>,
                     at: usize,
                     s: u16,
                     c: u16| {
            if let Some((start, orig_start)) = current.take() {
                let end = folded.len() as u32;
                let numeric = folded[start as usize..].iter().all(u8::is_ascii_digit);
                tokens.push(Token {
                    start,
                    end,
                    orig_start,
                    orig_end: at as u32,
                    sentence: s,
                    clause: c,
                    numeric,
                });
            }
        };
        while let Some((at, c)) = chars.next() {
            let letters = fold(c);
            match letters {
                Folded::One(_) | Folded::Two(..) | Folded::Other(_) => {
                    if !c.is_ascii() {
                        accents += 1;
                    }
                    if current.is_none() {
                        current = Some((folded.len() as u32, at as u32));
                    }
                    letters.push_to(&mut folded);
                }
                Folded::Apostrophe => {
                    let next_is_letter = chars.peek().is_some_and(|(_, n)| n.is_alphabetic());
                    match current {
                        Some((start, _)) if next_is_letter => {
                            let so_far = &folded[start as usize..];
                            if ELISIONS.iter().any(|e| e.as_bytes() == so_far) {
                                close(&folded, &mut tokens, &mut current, at, sentence, clause);
                            }
                            // Otherwise the apostrophe joins: "don't" reads "dont".
                        }
                        _ => close(&folded, &mut tokens, &mut current, at, sentence, clause),
                    }
                }
                Folded::Separator => {
                    close(&folded, &mut tokens, &mut current, at, sentence, clause);
                    match c {
                        '.' | '!' | '?' | '\n' | '\r' => {
                            sentence = sentence.saturating_add(1);
                            clause = clause.saturating_add(1);
                        }
                        ',' | ';' | ':' | '(' | ')' => clause = clause.saturating_add(1),
                        _ => {}
                    }
                }
            }
        }
        close(
            &folded,
            &mut tokens,
            &mut current,
            own.len(),
            sentence,
            clause,
        );
        Words {
            folded: String::from_utf8(folded).expect("folded text is whole characters"),
            tokens,
            accents,
        }
    }
}

/// ASCII-case-insensitive search: a fast scan for the needle's first byte, the rest
/// compared only where it is found. Every line and link of every message goes through it.
pub(super) fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    let (&first, rest) = n.split_first()?;
    let last_start = h.len().checked_sub(n.len())?;
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut from = 0;
    while from <= last_start {
        let at = from + memchr::memchr2(lower, upper, &h[from..=last_start])?;
        if h[at + 1..at + n.len()].eq_ignore_ascii_case(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Where a one-line quote header ("… On Mon, Nov 3, 2025, Seller <x> wrote: > …" or
/// "… Le lun. 3 nov. 2025, Vendeur a écrit : …") starts inside a line, if it does.
/// `folded` is the line folded: most lines name neither marker, and one search of it says so.
fn inline_quote_start(line: &str, folded: &str) -> Option<usize> {
    let folded = folded.as_bytes();
    if memchr::memmem::find(folded, b"wrote").is_none()
        && memchr::memmem::find(folded, b"ecrit").is_none()
    {
        return None;
    }
    let (marker, opener) =
        if let Some(at) = find_ci(line, " wrote:").or_else(|| find_ci(line, " wrote :")) {
            (at, " on ")
        } else if let Some(at) = find_ci(line, " a écrit").or_else(|| find_ci(line, " a ecrit")) {
            (at, " le ")
        } else {
            return None;
        };
    // The last " on " / " le " before the marker opens the header.
    let before = &line[..marker];
    let mut last = None;
    let mut from = 0;
    while let Some(at) = find_ci(&before[from..], opener) {
        last = Some(from + at + 1);
        from += at + 1;
    }
    last
}

fn starts_with_any(folded: &str, starts: &[String]) -> bool {
    starts.iter().any(|s| {
        folded.starts_with(s.as_str())
            && folded[s.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric())
    })
}

fn is_phone_like(line: &str) -> bool {
    let digits = line.bytes().filter(u8::is_ascii_digit).count();
    digits >= 7
        && line.chars().all(|c| {
            c.is_ascii_digit() || " ()+-./x".contains(c) || c.is_alphabetic() && line.len() < 30
        })
        && line.chars().filter(|c| c.is_alphabetic()).count() <= 4
}

/// A short line that reads as part of a signature: a name, a phone number, an e-mail.
fn is_signature_like(line: &str, folded: &str, rules: &TextRules) -> bool {
    let trimmed = line.trim();
    if trimmed.is_empty()
        || is_phone_like(trimmed)
        || starts_with_any(folded, &rules.contact_starts)
    {
        return true;
    }
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    if trimmed.contains('@') && words.len() <= 3 {
        return true;
    }
    // A name: one to four capitalised words, no digits, no question.
    (1..=4).contains(&words.len())
        && !trimmed.contains('?')
        && words.iter().all(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric());
            w.is_empty()
                || (w.chars().next().is_some_and(char::is_uppercase)
                    && !w.chars().any(|c| c.is_ascii_digit())
                    && w.chars()
                        .skip(1)
                        .all(|c| c.is_lowercase() || c == '.' || c == '-'))
        })
}

/// A line of a signature block under a sign-off: a name, a title, a company, an address,
/// a phone number; never a question or a sentence.
fn is_signature_block_line(line: &str, folded: &str, rules: &TextRules) -> bool {
    if is_signature_like(line, folded, rules) {
        return true;
    }
    let trimmed = line.trim();
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    if trimmed.contains('?') || words.len() > 12 {
        return false;
    }
    let has_digit = trimmed.chars().any(|c| c.is_ascii_digit());
    let lower_words = words
        .iter()
        .filter(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphabetic());
            w.chars().count() >= 4 && w.chars().next().is_some_and(char::is_lowercase)
        })
        .count();
    lower_words <= 1 || (has_digit && lower_words <= 2)
}

/// The sign-off phrase a line starts with, when the rest of the line is at most a name.
fn is_sign_off(line: &str, folded: &str, rules: &TextRules) -> bool {
    rules.sign_offs.iter().any(|s| {
        if folded == s.as_str() {
            return true;
        }
        // "Thanks, John" / "Merci! Marie Tremblay"
        folded.starts_with(s.as_str()) && folded.as_bytes().get(s.len()) == Some(&b' ') && {
            let rest_words = folded[s.len()..].split_whitespace().count();
            let rest = line
                .trim()
                .split_once([',', '!', '.'])
                .map_or("", |(_, rest)| rest);
            rest_words <= 3
                && !rest.trim().is_empty()
                && rest
                    .split_whitespace()
                    .all(|w| w.chars().next().is_some_and(char::is_uppercase))
        }
    })
}

/// How many lines under a line `is_quote_header` reads.
const QUOTE_HEADER_LINES: usize = 4;

fn is_quote_header(folded: &str, next: &[String]) -> bool {
    let joined_next = |n: usize| {
        next.iter()
            .take(n)
            .any(|l| l.contains("wrote") || l.contains("a ecrit"))
    };
    // A header wrapped over two lines starts with its date, and is no sentence: "Le numéro
    // que vous m'avez donné fonctionne pas." above "Le 5 mars … a écrit :" is the customer's.
    let wrapped_header = || {
        folded.bytes().any(|b| b.is_ascii_digit())
            && !folded.trim_end().ends_with(['.', '?', '!'])
            && joined_next(2)
    };
    if folded.starts_with("on ") && (folded.contains(" wrote") || wrapped_header()) {
        return true;
    }
    if folded.starts_with("le ") && (folded.contains(" a ecrit") || wrapped_header()) {
        return true;
    }
    if folded.contains("message")
        && (folded.contains("original message")
            || folded.contains("message d origine")
            || folded.contains("message original")
            || folded.contains("forwarded message")
            || folded.contains("message transfere"))
        && folded.split_whitespace().count() <= 5
    {
        return true;
    }
    let header_follows = |starts: &[&str]| {
        next.iter()
            .take(QUOTE_HEADER_LINES)
            .any(|l| starts.iter().any(|s| l.starts_with(s)))
    };
    if folded.starts_with("from ") && header_follows(&["sent ", "date ", "to ", "subject "]) {
        return true;
    }
    if folded.starts_with("de ") && header_follows(&["envoye ", "date ", "a ", "objet "]) {
        return true;
    }
    false
}

/// The customer's own text: the message without quoted earlier messages, signatures,
/// contact lines and greetings. Lines are kept in order, joined by new lines.
pub(crate) fn own_text(text: &str, rules: &TextRules) -> String {
    let lines: Vec<&str> = text.lines().collect();
    // Lines are folded as far as they are read: the quoted history under the customer's
    // part, often most of the text, is not.
    let mut folded: Vec<String> = Vec::with_capacity(lines.len());
    let fold_until = |folded: &mut Vec<String>, count: usize| {
        while folded.len() < count.min(lines.len()) {
            let mut line = String::new();
            fold_str(lines[folded.len()], &mut line);
            folded.push(line);
        }
    };

    // Where the customer's own part ends: a quoted earlier message or a signature.
    let mut end = lines.len();
    let mut partial_last: Option<&str> = None;
    for (i, line) in lines.iter().enumerate() {
        // A header is read with the lines under it (`is_quote_header` looks four ahead).
        fold_until(&mut folded, i + 1 + QUOTE_HEADER_LINES);
        let f = folded[i].as_str();
        let trimmed = line.trim();
        if is_quote_header(f, &folded[i + 1..])
            || trimmed == "--"
            || trimmed == "—"
            || trimmed == "-- "
            || (trimmed.len() >= 10 && trimmed.chars().all(|c| c == '_' || c == '-'))
            || starts_with_any(f, &rules.signature_starts)
        {
            end = i;
            break;
        }
        if let Some(at) = inline_quote_start(line, f) {
            end = i;
            partial_last = Some(&line[..at]);
            break;
        }
        if is_sign_off(line, f, rules) {
            fold_until(&mut folded, lines.len());
            let rest_is_signature = lines[i + 1..]
                .iter()
                .zip(&folded[i + 1..])
                .take_while(|(l, f)| !is_quote_header(f, &[]) && !l.trim_start().starts_with('>'))
                .all(|(l, f)| is_signature_block_line(l, f, rules));
            if rest_is_signature {
                end = i;
                break;
            }
        }
    }

    let mut kept: Vec<usize> = (0..end)
        .filter(|&i| {
            let l = lines[i].trim_start();
            !l.starts_with('>')
                && !l.is_empty()
                && !starts_with_any(&folded[i], &rules.contact_starts)
        })
        .collect();

    // A first line that only greets.
    if let Some(&first) = kept.first() {
        let f = folded[first].as_str();
        let greets = rules.greetings.iter().any(|g| {
            f.starts_with(g.as_str()) && f[g.len()..].chars().next().is_none_or(|c| c == ' ')
        });
        if greets && f.split_whitespace().count() <= 5 && !lines[first].contains('?') {
            kept.remove(0);
        }
    }
    // Trailing name or phone lines, when something else remains.
    while kept.len() > 1 {
        let last = kept[kept.len() - 1];
        if is_signature_like(lines[last], &folded[last], rules) {
            kept.pop();
        } else {
            break;
        }
    }

    let mut own = String::with_capacity(text.len());
    for i in kept {
        if !own.is_empty() {
            own.push('\n');
        }
        own.push_str(lines[i].trim());
    }
    if let Some(part) = partial_last {
        let part = part.trim();
        if !part.is_empty() && !part.starts_with('>') {
            if !own.is_empty() {
                own.push('\n');
            }
            own.push_str(part);
        }
    }
    own
}

#[cfg(test)]
mod tests {
    use super::find_ci;

    #[test]
    fn find_ci_ignores_ascii_case_and_finds_the_first_match() {
        assert_eq!(find_ci("On Mon, Bob WROTE: hi", " wrote:"), Some(11));
        assert_eq!(find_ci("see www.x.ca and WWW.y.ca", "www."), Some(4));
        // A first byte seen early without the rest, then the whole needle at the very end.
        assert_eq!(find_ci("wrong, wrote", "wrote"), Some(7));
        assert_eq!(find_ci("wrot", "wrote"), None);
        assert_eq!(find_ci("anything", ""), None);
        // Non-ASCII letters are compared as they are.
        assert_eq!(find_ci("Paul a écrit :", " a écrit"), Some(4));
        assert_eq!(find_ci("Paul a ÉCRIT :", " a écrit"), None);
    }
}
