//! Matching a source's accounts to a destination's companies. Pure: no I/O, only std, `unicode-normalization`,
//! `strsim` and `rustc-hash`.
//!
//! Rules, in order, for each account (precision before recall: when in doubt, report, never guess):
//! 1. a company whose link field holds the account id wins (two such: ambiguous);
//! 2. the same name: exactly equal, or equal after [`normalize_name`]; several companies with that name
//!    are told apart by address, or reported as ambiguous;
//! 3. a fuzzy match, only when the names differ by what looks like one typo (one letter, not the
//!    first, in a word of six letters or more; or a space) and no other company comes close.
//!
//! A company linked to another account through its link field is never handed to this one
//! by name: that is reported as ambiguous. Deleted companies take no part unless asked for.
//! Overrides are the caller's business, before matching.

use std::borrow::Cow;
use std::sync::Arc;

// Keys are short strings and ids that no adversary picks to collide: rustc's fast hasher beats
// std's SipHash, which would be a large share of the run time.
use rustc_hash::FxHashMap;
use unicode_normalization::char::{canonical_combining_class, decompose_canonical};

/// A postal address; every part optional, since both systems leave parts out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    pub line1: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

/// A source's account, as matching needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRecord {
    pub id: String,
    pub name: String,
    pub address: Option<Address>,
}

/// A destination's company, as matching needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompanyRecord {
    pub id: String,
    pub identifier: String,
    pub name: String,
    pub address: Address,
    pub deleted: bool,
    /// The account its link field names, when set.
    pub linked_account: Option<String>,
}

/// How a match was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    CustomField,
    ExactName,
    NormalizedName,
    NameAndAddress,
    FuzzyName,
}

impl Method {
    /// The snake_case name used in action outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::CustomField => "custom_field",
            Method::ExactName => "exact_name",
            Method::NormalizedName => "normalized_name",
            Method::NameAndAddress => "name_and_address",
            Method::FuzzyName => "fuzzy_name",
        }
    }
}

/// A company that might be the account's, with how sure we are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// Index into the `companies` slice given to the matcher.
    pub company: usize,
    pub confidence: f64,
}

/// The outcome for one account.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Matched { company: usize, method: Method, confidence: f64 },
    Ambiguous { reason: String, candidates: Vec<Candidate> },
    Unmatched { best: Option<Candidate> },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatchOptions {
    /// Name matches below this confidence are reported as unmatched (with the candidate as `best`).
    /// A custom-field match always stands. Not a number means the default.
    pub min_confidence: f64,
    pub include_deleted: bool,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions { min_confidence: DEFAULT_MIN_CONFIDENCE, include_deleted: false }
    }
}

pub const DEFAULT_MIN_CONFIDENCE: f64 = 0.9;

// Confidence by method. Name methods sit below 1.0 and in a fixed order, so a caller sorting by
// confidence sees custom field > exact > normalized > name+address > fuzzy.
const CONF_NORMALIZED_CASE: f64 = 0.99; // differs only in case or whitespace
const CONF_NORMALIZED_FOLD: f64 = 0.98; // ... or accents and punctuation
const CONF_NORMALIZED: f64 = 0.96; // ... or suffixes, "&"/"and", a leading "The"
const CONF_NAME_AND_ADDRESS: f64 = 0.95;
const CONF_FUZZY_MAX: f64 = 0.94;
/// A fuzzy winner must lead every other candidate by this much (Jaro-Winkler points).
const FUZZY_MARGIN: f64 = 0.03;
/// A typo may only touch a word this long (the longer spelling) ...
const TYPO_MIN_LEN: usize = 6;
/// ... and the shorter spelling must keep at least this many characters.
const TYPO_MIN_SHORT_LEN: usize = 5;
/// A token shared by more names than this ("services", "and") is no use for finding fuzzy candidates.
const POSTING_CAP: usize = 64;

/// Matches every account, in order: one decision per account.
pub fn match_accounts(
    accounts: &[AccountRecord],
    companies: &[CompanyRecord],
    options: &MatchOptions,
) -> Vec<Decision> {
    let matcher = Matcher::new(companies, options);
    accounts.iter().map(|account| matcher.decide(account)).collect()
}

/// The companies, indexed once; answers account by account.
pub struct Matcher<'a> {
    companies: &'a [CompanyRecord],
    min_confidence: f64,
    /// Account id -> companies linked to it.
    by_linked_account: FxHashMap<&'a str, Vec<usize>>,
    /// Trimmed name -> companies, only for names without a normalized form ("???").
    by_exact: FxHashMap<&'a str, Vec<usize>>,
    /// The distinct normalized names ("name groups"), each with its companies.
    groups: Vec<NameGroup>,
    /// Normalized name -> its index in `groups`.
    group_of: FxHashMap<String, usize>,
    /// Normalized name without spaces -> groups ("north wind" / "northwind").
    by_compact: FxHashMap<String, Vec<usize>>,
    /// Token -> groups whose name contains it.
    by_token: FxHashMap<String, Vec<usize>>,
    /// Token with one letter deleted -> groups; `by_deletion[n]` holds the keys of `n` letters. A
    /// token one edit away from a query token shares a key with it (a symmetric-delete index): typo
    /// candidates come without comparing against every name.
    by_deletion: Vec<FxHashMap<String, Arc<[usize]>>>,
}

struct NameGroup {
    normalized: String,
    /// In company order.
    companies: Vec<usize>,
}

impl<'a> Matcher<'a> {
    pub fn new(companies: &'a [CompanyRecord], options: &MatchOptions) -> Matcher<'a> {
        let min_confidence =
            if options.min_confidence.is_nan() { DEFAULT_MIN_CONFIDENCE } else { options.min_confidence };
        let mut matcher = Matcher {
            companies,
            min_confidence,
            by_linked_account: FxHashMap::default(),
            by_exact: FxHashMap::default(),
            groups: Vec::new(),
            group_of: FxHashMap::default(),
            by_compact: FxHashMap::default(),
            by_token: FxHashMap::default(),
            by_deletion: Vec::new(),
        };
        for (index, company) in companies.iter().enumerate() {
            if company.deleted && !options.include_deleted {
                continue;
            }
            if let Some(account) = company.linked_account.as_deref() {
                matcher.by_linked_account.entry(account).or_default().push(index);
            }
            let trimmed = company.name.trim();
            if trimmed.is_empty() {
                continue;
            }
            let normalized = normalize_name(trimmed);
            if normalized.is_empty() {
                matcher.by_exact.entry(trimmed).or_default().push(index);
                continue;
            }
            let group = match matcher.group_of.get(&normalized) {
                Some(&group) => group,
                None => {
                    let group = matcher.groups.len();
                    matcher.group_of.insert(normalized.clone(), group);
                    matcher.groups.push(NameGroup { normalized, companies: Vec::new() });
                    group
                }
            };
            if let Some(name) = matcher.groups.get_mut(group) {
                name.companies.push(index);
            }
        }

        for (group, name) in matcher.groups.iter().enumerate() {
            matcher.by_compact.entry(compact(&name.normalized)).or_default().push(group);
            for token in name.normalized.split(' ') {
                add(&mut matcher.by_token, token, group);
            }
        }

        // The largest index by far: a key per letter of every distinct token. Filled one length
        // at a time, so that the table being filled stays in the processor's cache (much faster
        // than one big table). Most keys come from a single token and share its list (`Arc`)
        // rather than each allocating a copy.
        let mut typo_tokens_by_length: Vec<Vec<(&String, &Vec<usize>)>> = Vec::new();
        for (token, groups) in &matcher.by_token {
            if typo_capable(token) {
                if typo_tokens_by_length.len() <= token.len() {
                    typo_tokens_by_length.resize_with(token.len() + 1, Vec::new);
                }
                if let Some(tokens) = typo_tokens_by_length.get_mut(token.len()) {
                    tokens.push((token, groups));
                }
            }
        }
        let mut deleted = String::new();
        // Tokens of n + 1 letters give the keys of n letters.
        for tokens in typo_tokens_by_length.iter().skip(1) {
            let mut index: FxHashMap<String, Arc<[usize]>> = FxHashMap::default();
            for &(token, groups) in tokens {
                let shared: Arc<[usize]> = Arc::from(groups.as_slice());
                for skip in 0..token.len() {
                    delete_at(token, skip, &mut deleted);
                    match index.get_mut(deleted.as_str()) {
                        // Rare: another token, or another letter of this one, gave the same key
                        // ("contoso" / "contaso" -> "contso"; "contosso" -> "contoso" twice).
                        Some(list) => *list = list.iter().chain(groups).copied().collect(),
                        None => {
                            index.insert(deleted.clone(), Arc::clone(&shared));
                        }
                    }
                }
            }
            matcher.by_deletion.push(index);
        }
        matcher
    }

    /// The decision for one account.
    pub fn decide(&self, account: &AccountRecord) -> Decision {
        match self.by_linked_account.get(account.id.as_str()).map_or(&[][..], Vec::as_slice) {
            [] => {}
            [company] => return Decision::Matched { company: *company, method: Method::CustomField, confidence: 1.0 },
            linked => {
                return Decision::Ambiguous {
                    reason: format!("{} companies are linked to account {}", linked.len(), account.id),
                    candidates: linked.iter().map(|&company| Candidate { company, confidence: 1.0 }).collect(),
                };
            }
        }
        let name = account.name.trim();
        if name.is_empty() {
            return Decision::Unmatched { best: None };
        }
        let normalized = normalize_name(name);
        if normalized.is_empty() {
            // A name without letters or digits ("???") can only match itself.
            return match self.by_exact.get(name) {
                Some(exact) => self.decide_same_name(account, name, exact),
                None => Decision::Unmatched { best: None },
            };
        }
        match self.group_of.get(&normalized) {
            Some(&group) => self.decide_same_name(account, name, self.members_of(group)),
            None => self.decide_fuzzy(account, &normalized),
        }
    }

    fn members_of(&self, group: usize) -> &[usize] {
        self.groups.get(group).map_or(&[], |name| &name.companies)
    }

    /// Companies whose names are the account's name, up to normalization.
    fn decide_same_name(&self, account: &AccountRecord, name: &str, members: &[usize]) -> Decision {
        if let [company] = members {
            let confidence = name_confidence(name, &self.companies[*company].name);
            let method = if confidence >= 1.0 { Method::ExactName } else { Method::NormalizedName };
            return self.accept(account, *company, method, confidence);
        }
        // Equal names, even exactly equal ones, are told apart by address or not at all.
        match self.single_address_match(account, members) {
            Some(company) => self.accept(account, company, Method::NameAndAddress, CONF_NAME_AND_ADDRESS),
            None => Decision::Ambiguous {
                reason: format!(
                    "{} companies are named like {name:?} and the address does not single one out",
                    members.len()
                ),
                candidates: sorted_candidates(
                    members
                        .iter()
                        .map(|&company| Candidate {
                            company,
                            confidence: name_confidence(name, &self.companies[company].name),
                        })
                        .collect(),
                ),
            },
        }
    }

    fn decide_fuzzy(&self, account: &AccountRecord, normalized: &str) -> Decision {
        let mut groups: Vec<usize> = Vec::new();
        let mut deleted = String::new();
        for token in normalized.split(' ') {
            collect(&self.by_token, token, &mut groups);
            if typo_capable(token) {
                self.collect_deletion(token, &mut groups); // a letter missing here
                for skip in 0..token.len() {
                    delete_at(token, skip, &mut deleted);
                    collect(&self.by_token, &deleted, &mut groups); // a letter too many here
                    self.collect_deletion(&deleted, &mut groups); // a letter changed or swapped
                }
            }
        }
        if let Some(joined) = self.by_compact.get(&compact(normalized)) {
            groups.extend(joined);
        }
        groups.sort_unstable();
        groups.dedup();
        let mut scored: Vec<Scored> = groups
            .into_iter()
            .map(|group| {
                let other = &self.groups[group].normalized;
                Scored {
                    group,
                    similarity: strsim::jaro_winkler(normalized, other),
                    typo: looks_like_typo(normalized, other),
                }
            })
            .collect();
        scored.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.group.cmp(&b.group)));
        let best = scored.first().and_then(|s| self.group_candidate(s));
        let typos: Vec<&Scored> = scored.iter().filter(|s| s.typo).collect();
        let winner = match typos.as_slice() {
            [] => return Decision::Unmatched { best },
            [winner] => *winner,
            _ => {
                return Decision::Ambiguous {
                    reason: format!(
                        "{} different company names are each one typo away from {:?}",
                        typos.len(),
                        account.name.trim()
                    ),
                    candidates: self.candidates_of(&typos),
                };
            }
        };
        let confidence = winner.similarity.min(CONF_FUZZY_MAX);
        if confidence < self.min_confidence {
            return Decision::Unmatched { best };
        }
        let rivals: Vec<&Scored> = scored
            .iter()
            .filter(|s| s.group == winner.group || s.similarity > winner.similarity - FUZZY_MARGIN)
            .collect();
        if rivals.len() > 1 {
            return Decision::Ambiguous {
                reason: format!("several company names are about as similar to {:?}", account.name.trim()),
                candidates: self.candidates_of(&rivals),
            };
        }
        let members = self.members_of(winner.group);
        let company = match members {
            [company] => *company,
            _ => match self.single_address_match(account, members) {
                Some(company) => company,
                None => {
                    return Decision::Ambiguous {
                        reason: format!(
                            "{} companies are named like {:?} and the address does not single one out",
                            members.len(),
                            self.groups[winner.group].normalized
                        ),
                        candidates: self.candidates_of(&[winner]),
                    };
                }
            },
        };
        self.accept(account, company, Method::FuzzyName, confidence)
    }

    /// Adds the groups under `key` in `by_deletion`, as [`collect`] does.
    fn collect_deletion(&self, key: &str, groups: &mut Vec<usize>) {
        if let Some(index) = self.by_deletion.get(key.len()) {
            collect(index, key, groups);
        }
    }

    fn group_candidate(&self, scored: &Scored) -> Option<Candidate> {
        let company = *self.members_of(scored.group).first()?;
        Some(Candidate { company, confidence: scored.similarity.min(CONF_FUZZY_MAX) })
    }

    fn candidates_of(&self, scored: &[&Scored]) -> Vec<Candidate> {
        let mut candidates = Vec::new();
        for s in scored {
            for &company in self.members_of(s.group) {
                candidates.push(Candidate { company, confidence: s.similarity.min(CONF_FUZZY_MAX) });
            }
        }
        sorted_candidates(candidates)
    }

    /// The one company among `members` whose address agrees with the account's, if exactly one does.
    fn single_address_match(&self, account: &AccountRecord, members: &[usize]) -> Option<usize> {
        let address = account.address.as_ref()?;
        let mut agreeing = members.iter().copied().filter(|&c| addresses_agree(address, &self.companies[c].address));
        match (agreeing.next(), agreeing.next()) {
            (Some(company), None) => Some(company),
            _ => None,
        }
    }

    /// Final checks on a name match: confident enough, and not another account's company.
    fn accept(&self, account: &AccountRecord, company: usize, method: Method, confidence: f64) -> Decision {
        if confidence < self.min_confidence {
            return Decision::Unmatched { best: Some(Candidate { company, confidence }) };
        }
        let record = &self.companies[company];
        match &record.linked_account {
            Some(other) if *other != account.id => Decision::Ambiguous {
                reason: format!(
                    "the company matching by name ({} {:?}) is already linked to account {other}",
                    record.id,
                    record.name.trim()
                ),
                candidates: vec![Candidate { company, confidence }],
            },
            _ => Decision::Matched { company, method, confidence },
        }
    }
}

struct Scored {
    group: usize,
    similarity: f64,
    typo: bool,
}

/// Most confident first, then by index: the same input always gives the same list.
fn sorted_candidates(mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    candidates.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then(a.company.cmp(&b.company)));
    candidates
}

/// How close two names with the same normalized form are, by the least normalization that makes them equal.
fn name_confidence(a: &str, b: &str) -> f64 {
    let (a, b) = (a.trim(), b.trim());
    if a == b {
        1.0
    } else if a.split_whitespace().map(str::to_lowercase).eq(b.split_whitespace().map(str::to_lowercase)) {
        CONF_NORMALIZED_CASE
    } else if fold_compact(a) == fold_compact(b) {
        CONF_NORMALIZED_FOLD
    } else {
        CONF_NORMALIZED
    }
}

// ---------------------------------------------------------------------------------------------
// Name normalization

/// Trailing tokens that only say what kind of company it is. Dotted forms ("L.L.C.", "S.A.")
/// arrive here already joined.
#[rustfmt::skip]
const COMPANY_SUFFIXES: &[&str] = &[
    "inc", "incorporated", "llc", "pllc", "llp", "lllp", "lp", "ltd", "limited", "corp", "corporation", "co",
    "company", "plc", "gmbh", "mbh", "ag", "kg", "kgaa", "sa", "sas", "sarl", "srl", "bv", "nv", "pty", "pte", "pvt",
    "ab", "oy", "oyj", "asa", "aps", "lda", "sdn", "bhd", "ulc", "kk", "ooo",
];

/// The comparable form of a company name: lower case, accents folded ("Müller" = "Muller"), punctuation
/// and whitespace runs as single spaces, apostrophes dropped ("Macy's" = "Macys"), "&" = "and",
/// dotted or spaced initials joined ("I.B.M." = "I B M" = "IBM"), a leading "The" and trailing
/// company suffixes removed — but never down to nothing. Other scripts are not transliterated (that is
/// lossy: different Han names sound alike): a Cyrillic name matches itself, not a Latin spelling of it.
/// Idempotent.
pub fn normalize_name(name: &str) -> String {
    let folded = fold(name);
    let mut words: Vec<Cow<'_, str>> = Vec::new();
    let mut initials = String::new();
    for token in folded.split_whitespace() {
        let mut chars = token.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_alphabetic() => initials.push(c),
            _ => {
                flush_initials(&mut initials, &mut words);
                words.push(Cow::Borrowed(token));
            }
        }
    }
    flush_initials(&mut initials, &mut words);

    let leading_the = words.iter().take_while(|w| *w == "the").count().min(words.len().saturating_sub(1));
    words.drain(..leading_the);
    while words.len() > 1 && words.last().is_some_and(|w| COMPANY_SUFFIXES.contains(&w.as_ref())) {
        words.pop();
        // "Smith & Co" -> "smith and": the "and" belonged to the suffix.
        if words.len() > 1 && words.last().is_some_and(|w| w == "and") {
            words.pop();
        }
    }
    words.join(" ")
}

fn flush_initials<'s>(initials: &mut String, words: &mut Vec<Cow<'s, str>>) {
    if !initials.is_empty() {
        words.push(Cow::Owned(std::mem::take(initials)));
    }
}

/// Lower-case ASCII letters and digits, and other scripts' letters lower-cased, separated by spaces.
/// Accents go: canonical decomposition (NFD: "é" -> "e" + accent), then the accent is dropped.
/// Full-width forms are their ASCII characters; the few Latin letters that do not decompose come
/// from [`latin_letter`].
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        // "Ｃｏｎｔｏｓｏ ＆ Ｃｏ" is "Contoso & Co".
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        };
        if c.is_ascii() {
            push_ascii(&mut out, c);
        } else if is_apostrophe(c) {
            // dropped, as in push_ascii
        } else if c.is_alphanumeric() || is_mark(c) {
            decompose_canonical(c, |part| fold_part(part, &mut out));
        } else {
            out.push(' '); // symbols and emoji
        }
    }
    out
}

/// One character of a letter's decomposition.
fn fold_part(c: char, out: &mut String) {
    if c.is_ascii() {
        push_ascii(out, c);
    } else if is_accent(c) {
        // dropped
    } else if c.is_alphanumeric() || is_mark(c) {
        for lower in c.to_lowercase() {
            match latin_letter(lower) {
                Some(ascii) => out.push_str(ascii),
                None => out.push(lower),
            }
        }
    } else {
        out.push(' ');
    }
}

/// The combining diacritical marks that Latin, Greek and Cyrillic share: accents, dropped. The
/// marks of other scripts (Thai tones, Hebrew points, Devanagari signs) are part of the word and stay.
fn is_accent(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

/// A combining mark: part of the letter before it, not a separator.
fn is_mark(c: char) -> bool {
    canonical_combining_class(c) != 0
}

/// Lower-case Latin letters (and ligatures) without a canonical decomposition, spelled as they
/// usually are in ASCII.
fn latin_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ø' => "o",
        'đ' | 'ð' => "d",
        'ł' | 'ŀ' => "l",
        'þ' => "th",
        'ı' => "i",
        'ħ' => "h",
        'ŧ' => "t",
        'ŋ' => "ng",
        'ƒ' => "f",
        'ſ' => "s",
        'ĳ' => "ij",
        'ǆ' => "dz",
        'ǉ' => "lj",
        'ǌ' => "nj",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' | 'ﬆ' => "st",
        _ => return None,
    })
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '`' | '\u{2018}' | '\u{2019}' | '\u{02BC}' | '\u{00B4}')
}

fn push_ascii(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c.to_ascii_lowercase());
    } else if c == '&' {
        out.push_str(" and ");
    } else if !is_apostrophe(c) {
        out.push(' ');
    }
}

// ---------------------------------------------------------------------------------------------
// Typos

/// Whether a token can take part in a typo match: long enough, and plain ASCII letters — a digit
/// changed is another branch number, a Han character changed is another word.
fn typo_capable(token: &str) -> bool {
    token.len() >= TYPO_MIN_SHORT_LEN && token.bytes().all(|b| b.is_ascii_lowercase())
}

/// Whether two different normalized names differ by what looks like one slip of the keyboard:
/// one edit (substitution, insertion, deletion, swap of neighbours) inside one word of six letters
/// or more, not its first letter, or only where the spaces are ("north wind" / "northwind").
/// "Traders" / "Travel" or an extra word are different names, not typos.
fn looks_like_typo(a: &str, b: &str) -> bool {
    if a == b {
        return false;
    }
    if same_compact(a, b) {
        // Joining words is a typo; moving a space ("pen island" / "penis land") is not.
        let (a_breaks, b_breaks) = (space_offsets(a), space_offsets(b));
        return a_breaks.iter().all(|o| b_breaks.contains(o)) || b_breaks.iter().all(|o| a_breaks.contains(o));
    }
    let (mut a_words, mut b_words) = (a.split(' '), b.split(' '));
    let mut differing = None;
    loop {
        match (a_words.next(), b_words.next()) {
            (None, None) => break,
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) if differing.is_none() => differing = Some((x, y)),
            _ => return false,
        }
    }
    let Some((x, y)) = differing else { return false };
    // The first letter is rarely the one mistyped, and a different first letter makes most of the
    // one-letter pairs of real words ("Dental" / "Rental", "Mining" / "Dining").
    typo_capable(x)
        && typo_capable(y)
        && x.len().max(y.len()) >= TYPO_MIN_LEN
        && x.as_bytes().first() == y.as_bytes().first()
        && strsim::osa_distance(x, y) == 1
}

/// Offsets (in the name without spaces) where a space stood.
fn space_offsets(name: &str) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut letters = 0;
    for c in name.chars() {
        if c == ' ' {
            offsets.push(letters);
        } else {
            letters += 1;
        }
    }
    offsets
}

/// The normalized name with its spaces left out.
fn compact(normalized: &str) -> String {
    normalized.replace(' ', "")
}

fn same_compact(a: &str, b: &str) -> bool {
    a.bytes().filter(|&b| b != b' ').eq(b.bytes().filter(|&b| b != b' '))
}

/// `token` with its character at `skip` deleted, written into `out` (a buffer reused across calls).
fn delete_at(token: &str, skip: usize, out: &mut String) {
    out.clear();
    out.extend(token.chars().enumerate().filter(|&(i, _)| i != skip).map(|(_, c)| c));
}

/// Adds `group` under `key`; a key seen before is not allocated again.
fn add(index: &mut FxHashMap<String, Vec<usize>>, key: &str, group: usize) {
    match index.get_mut(key) {
        Some(groups) => groups.push(group),
        None => {
            index.insert(key.to_owned(), vec![group]);
        }
    }
}

/// Adds the groups under `key`, unless there are so many that the token says nothing.
fn collect<L: AsRef<[usize]>>(index: &FxHashMap<String, L>, key: &str, groups: &mut Vec<usize>) {
    if let Some(found) = index.get(key).map(AsRef::as_ref)
        && found.len() <= POSTING_CAP
    {
        groups.extend(found);
    }
}

// ---------------------------------------------------------------------------------------------
// Addresses

/// Whether a company's address agrees with the account's: at least one of postal code, city,
/// street line is on both sides and equal, and nothing present on both sides differs (postal
/// code, city, street, state, country — "US" and "United States" are the same country).
fn addresses_agree(a: &Address, b: &Address) -> bool {
    let parts = [
        compare(&a.postal_code, &b.postal_code, postal_key, same_postal),
        compare(&a.city, &b.city, fold_compact, |x, y| x == y),
        compare(&a.line1, &b.line1, street_key, |x, y| x == y),
    ];
    if parts.contains(&Some(false)) {
        return false;
    }
    // "TX" vs "Texas" cannot be compared without a table: only like with like.
    let comparable_states = |x: &str, y: &str| (x.len() <= 3) != (y.len() <= 3) || x == y;
    if compare(&a.state, &b.state, fold_compact, comparable_states) == Some(false)
        || compare(&a.country, &b.country, country_key, |x, y| x == y) == Some(false)
    {
        return false;
    }
    parts.contains(&Some(true))
}

/// `None` when either side is missing (or has nothing comparable), else whether the keys agree.
fn compare(
    a: &Option<String>,
    b: &Option<String>,
    key: fn(&str) -> String,
    same: fn(&str, &str) -> bool,
) -> Option<bool> {
    let a = key(present(a)?);
    let b = key(present(b)?);
    (!a.is_empty() && !b.is_empty()).then(|| same(&a, &b))
}

fn fold_compact(text: &str) -> String {
    fold(text).replace(' ', "")
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn postal_key(code: &str) -> String {
    code.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// Equal codes — US ZIP and ZIP+4 agree on their first five digits.
fn same_postal(x: &str, y: &str) -> bool {
    let zip = |s: &str| s.len() >= 5 && s.bytes().all(|b| b.is_ascii_digit());
    if zip(x) && zip(y) { x.get(..5) == y.get(..5) } else { x == y }
}

fn street_key(line: &str) -> String {
    #[rustfmt::skip]
    const ABBREVIATIONS: &[(&str, &str)] = &[
        ("street", "st"), ("avenue", "ave"), ("av", "ave"), ("road", "rd"), ("boulevard", "blvd"), ("drive", "dr"),
        ("lane", "ln"), ("court", "ct"), ("place", "pl"), ("square", "sq"), ("parkway", "pkwy"), ("highway", "hwy"),
        ("terrace", "ter"), ("circle", "cir"), ("suite", "ste"), ("floor", "fl"), ("building", "bldg"),
        ("apartment", "apt"), ("north", "n"), ("south", "s"), ("east", "e"), ("west", "w"),
    ];
    let folded = fold(line);
    let words: Vec<&str> = folded
        .split_whitespace()
        .map(|w| ABBREVIATIONS.iter().find(|(long, _)| *long == w).map_or(w, |(_, short)| short))
        .collect();
    words.join(" ")
}

/// A country as a comparable key: ISO alpha-2 for the common names and codes, else the folded text.
fn country_key(country: &str) -> String {
    #[rustfmt::skip]
    const COUNTRIES: &[(&str, &[&str])] = &[
        ("us", &["us", "usa", "unitedstates", "unitedstatesofamerica", "america"]),
        ("gb", &["gb", "uk", "gbr", "unitedkingdom", "greatbritain", "england", "scotland", "wales", "northernireland"]),
        ("ca", &["ca", "can", "canada"]),
        ("au", &["au", "aus", "australia"]),
        ("nz", &["nz", "nzl", "newzealand"]),
        ("ie", &["ie", "irl", "ireland"]),
        ("de", &["de", "deu", "germany", "deutschland"]),
        ("fr", &["fr", "fra", "france"]),
        ("nl", &["nl", "nld", "netherlands", "thenetherlands", "holland"]),
        ("be", &["be", "bel", "belgium"]),
        ("es", &["es", "esp", "spain"]),
        ("it", &["it", "ita", "italy"]),
        ("ch", &["ch", "che", "switzerland"]),
        ("at", &["at", "aut", "austria"]),
        ("se", &["se", "swe", "sweden"]),
        ("no", &["no", "nor", "norway"]),
        ("dk", &["dk", "dnk", "denmark"]),
        ("fi", &["fi", "fin", "finland"]),
        ("pl", &["pl", "pol", "poland"]),
        ("pt", &["pt", "prt", "portugal"]),
        ("mx", &["mx", "mex", "mexico"]),
        ("br", &["br", "bra", "brazil"]),
        ("in", &["in", "ind", "india"]),
        ("jp", &["jp", "jpn", "japan"]),
        ("cn", &["cn", "chn", "china"]),
        ("sg", &["sg", "sgp", "singapore"]),
        ("za", &["za", "zaf", "southafrica"]),
        ("ae", &["ae", "are", "unitedarabemirates", "uae"]),
    ];
    let key = fold_compact(country);
    COUNTRIES.iter().find(|(_, names)| names.contains(&key.as_str())).map_or(key, |(code, _)| (*code).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn company(id: u64, name: &str) -> CompanyRecord {
        CompanyRecord {
            id: id.to_string(),
            identifier: format!("C{id}"),
            name: name.to_owned(),
            address: Address::default(),
            deleted: false,
            linked_account: None,
        }
    }

    fn at(mut company: CompanyRecord, line1: &str, city: &str, postal: &str, country: &str) -> CompanyRecord {
        company.address = address(line1, city, postal, country);
        company
    }

    fn address(line1: &str, city: &str, postal: &str, country: &str) -> Address {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Address { line1: some(line1), city: some(city), state: None, postal_code: some(postal), country: some(country) }
    }

    fn account(id: u64, name: &str) -> AccountRecord {
        AccountRecord { id: id.to_string(), name: name.to_owned(), address: None }
    }

    fn decide(account: &AccountRecord, companies: &[CompanyRecord]) -> Decision {
        Matcher::new(companies, &MatchOptions::default()).decide(account)
    }

    /// The matched company's index and method, or a panic message with the decision (tests only).
    fn matched(decision: &Decision) -> (usize, Method) {
        match decision {
            Decision::Matched { company, method, .. } => (*company, *method),
            other => panic!("expected a match, got {other:?}"),
        }
    }

    fn is_ambiguous(decision: &Decision) -> bool {
        matches!(decision, Decision::Ambiguous { .. })
    }

    fn is_unmatched(decision: &Decision) -> bool {
        matches!(decision, Decision::Unmatched { .. })
    }

    #[test]
    fn normalizes_the_usual_variants() {
        for (a, b) in [
            ("Contoso, Inc.", "contoso"),
            ("CONTOSO INC", "contoso"),
            ("Contoso Incorporated", "contoso"),
            ("  Contoso \t  Ltd  ", "contoso"),
            ("Smith & Wesson", "smith and wesson"),
            ("Smith and Wesson", "smith and wesson"),
            ("Café Noir Ltd", "cafe noir"),
            ("Cafe Noir Limited", "cafe noir"),
            ("The Fabrikam Group", "fabrikam group"),
            ("Acme L.L.C.", "acme"),
            ("Acme LLC", "acme"),
            ("Globex Corp.", "globex"),
            ("Globex Corporation", "globex"),
            ("Initech Co", "initech"),
            ("Initech Company", "initech"),
            ("Smith & Co.", "smith"),
            ("Umbrella PLC", "umbrella"),
            ("Müller GmbH", "muller"),
            ("Foo Pty. Ltd.", "foo"),
            ("I.B.M.", "ibm"),
            ("I B M Corp", "ibm"),
            ("Macy's", "macys"),
            ("Macy\u{2019}s Inc", "macys"),
            ("Ｃｏｎｔｏｓｏ", "contoso"),
            ("Straße Øresund Łódź", "strasse oresund lodz"),
            ("Nguyễn Cafe\u{301}", "nguyen cafe"),
            ("ﬁnance™", "finance"),
            ("МОСКВА Αθήνα", "москва αθηνα"),
            ("The Company", "company"),
            ("Inc", "inc"),
            ("The", "the"),
            ("The Inc", "inc"),
            ("Company Inc", "company"),
            ("北京科技 Ltd", "北京科技"),
            ("???", ""),
            ("", ""),
        ] {
            assert_eq!(normalize_name(a), b, "normalize_name({a:?})");
        }
    }

    #[test]
    fn an_exact_name_matches_with_full_confidence() {
        let companies = [company(1, "Contoso Pharma Ltd"), company(2, "Contoso Ltd")];
        assert_eq!(
            decide(&account(7001, "Contoso Ltd"), &companies),
            Decision::Matched { company: 1, method: Method::ExactName, confidence: 1.0 }
        );
    }

    #[test]
    fn written_differently_still_matches_by_normalized_name() {
        for (armor, cw) in [
            ("Contoso, Inc.", "CONTOSO INC"),
            ("Contoso, Inc.", "Contoso Incorporated"),
            ("Smith & Wesson", "Smith and Wesson"),
            ("Café Noir Ltd", "Cafe Noir Limited"),
            ("The Fabrikam Group", "Fabrikam Group"),
            ("Acme LLC", "Acme L.L.C."),
            ("Tailspin Ltd", "Tailspin Limited"),
            ("Globex Corp", "Globex Corporation"),
            ("Initech Co", "Initech Company"),
            ("Umbrella PLC", "Umbrella"),
            ("Müller GmbH", "Muller"),
            ("  Wide   World  Importers ", "Wide World Importers"),
            ("wide world importers", "Wide World Importers"),
        ] {
            let companies = [company(1, "Unrelated Holdings"), company(2, cw)];
            let decision = decide(&account(7001, armor), &companies);
            let (index, method) = matched(&decision);
            assert_eq!((index, method), (1, Method::NormalizedName), "{armor:?} / {cw:?}");
            let Decision::Matched { confidence, .. } = decision else { unreachable!() };
            assert!((0.95..=0.99).contains(&confidence), "{armor:?} / {cw:?}: {confidence}");
        }
    }

    #[test]
    fn confidence_reflects_how_much_normalization_was_needed() {
        let confidence = |a: &str, b: &str| match decide(&account(1, a), &[company(1, b)]) {
            Decision::Matched { confidence, .. } => confidence,
            other => panic!("{other:?}"),
        };
        assert_eq!(confidence("Contoso Ltd", "Contoso Ltd"), 1.0);
        assert_eq!(confidence("Contoso  ltd", "CONTOSO LTD"), CONF_NORMALIZED_CASE);
        assert_eq!(confidence("Café, Noir", "CAFE NOIR"), CONF_NORMALIZED_FOLD);
        assert_eq!(confidence("Café Noir Ltd", "Cafe Noir Limited"), CONF_NORMALIZED);
    }

    #[test]
    fn one_letter_typos_in_long_words_match() {
        let companies = [company(1, "Contoso Ltd"), company(2, "Contoso Pharma Ltd"), company(3, "Fabrikam Inc")];
        for (armor, expected) in [
            ("Contosso Ltd", 0),
            ("Contoso Limitd", 0),
            ("Contsoo Ltd", 0),
            ("Fabrikan Inc", 2),
            ("Fabrkam", 2),
            ("Contoso Pharmaa", 1),
        ] {
            // "Limitd" is not a suffix any more, so that one is a typo in a word of the name.
            let decision = decide(&account(7001, armor), &companies);
            if armor == "Contoso Limitd" {
                assert!(is_unmatched(&decision), "{armor:?}: {decision:?}");
                continue;
            }
            assert_eq!(matched(&decision), (expected, Method::FuzzyName), "{armor:?}");
            let Decision::Matched { confidence, .. } = decision else { unreachable!() };
            assert!((0.9..=CONF_FUZZY_MAX).contains(&confidence), "{armor:?}: {confidence}");
        }
    }

    #[test]
    fn joined_or_split_words_match_but_a_moved_space_does_not() {
        let companies = [company(1, "Northwind Traders"), company(2, "Pen Island")];
        assert_eq!(matched(&decide(&account(1, "North Wind Traders"), &companies)), (0, Method::FuzzyName));
        assert_eq!(matched(&decide(&account(1, "NorthwindTraders LLC"), &companies)), (0, Method::FuzzyName));
        assert!(is_unmatched(&decide(&account(1, "Penis Land"), &companies)));
    }

    #[test]
    fn decoys_and_short_words_are_not_matched() {
        // The closest name is still reported, as a hint.
        let decision = decide(&account(1, "Northwind Traders"), &[company(1, "Northwind Travel")]);
        assert!(
            matches!(decision, Decision::Unmatched { best: Some(Candidate { company: 0, confidence }) } if confidence > 0.9)
        );
        for (armor, cw) in [
            ("Contoso Ltd", "Contoso Pharma Ltd"),
            ("Contoso Pharma Ltd", "Contoso Ltd"),
            ("Northwind Traders", "Northwind Travel"),
            ("Tesla", "Tesle"),             // a five-letter word: too short to call a typo
            ("Acme Dental", "Acme Rental"), // the first letter: another word
            ("Fabrikam", "Rabrikam"),
            ("Store 10234", "Store 10235"),           // digits: another branch
            ("Northeast Supply", "Northwest Supply"), // two letters
            ("Alpha Beta Gamma", "Alpha Beta"),
            ("Contosso Ltd", "Contoso Pharma Ltd"),
            ("北京", "背景"), // same pinyin, different name
            ("???", "!!!"),
        ] {
            let decision = decide(&account(1, armor), &[company(1, cw)]);
            assert!(is_unmatched(&decision), "{armor:?} / {cw:?}: {decision:?}");
        }
    }

    #[test]
    fn near_ties_are_ambiguous_not_guessed() {
        // Two names each one letter away.
        let companies = [company(1, "Fabrikam"), company(2, "Fabrikat")];
        assert!(is_ambiguous(&decide(&account(1, "Fabrikan"), &companies)));
        // A typo, but another name is about as close.
        let companies = [company(1, "Adventure Works"), company(2, "Adventure Worksx")];
        let decision = decide(&account(1, "Adventure Workss"), &companies);
        assert!(is_ambiguous(&decision), "{decision:?}");
    }

    #[test]
    fn duplicates_are_told_apart_by_address() {
        let companies = [
            at(company(1, "Contoso Ltd"), "1 Main Street", "Dallas", "75201", "United States"),
            at(company(2, "Contoso Ltd"), "9 Elm St", "Austin", "78701", "United States"),
            at(company(3, "CONTOSO LIMITED"), "5 High St", "London", "SW1A 1AA", "United Kingdom"),
        ];
        let mut armor = account(7001, "Contoso Ltd");
        armor.address = Some(address("1 Main St.", "dallas", "75201-1234", "US"));
        assert_eq!(
            decide(&armor, &companies),
            Decision::Matched { company: 0, method: Method::NameAndAddress, confidence: CONF_NAME_AND_ADDRESS }
        );
        armor.address = Some(address("", "London", "sw1a1aa", "UK"));
        assert_eq!(matched(&decide(&armor, &companies)), (2, Method::NameAndAddress));
        // Postal code agrees but the country does not.
        armor.address = Some(address("", "", "75201", "Canada"));
        assert!(is_ambiguous(&decide(&armor, &companies)));
    }

    #[test]
    fn genuinely_ambiguous_duplicates_are_reported_with_all_candidates() {
        let companies = [
            at(company(1, "Contoso Ltd"), "1 Main St", "Dallas", "75201", "US"),
            company(2, "Unrelated"),
            at(company(3, "CONTOSO LTD"), "1 Main St", "Dallas", "75201", "US"),
        ];
        let mut armor = account(7001, "Contoso Ltd");
        for address in [None, Some(address("1 Main St", "Dallas", "75201", "US")), Some(Address::default())] {
            armor.address = address;
            match decide(&armor, &companies) {
                Decision::Ambiguous { candidates, .. } => {
                    let indices: Vec<usize> = candidates.iter().map(|c| c.company).collect();
                    assert_eq!(indices, vec![0, 2]);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_custom_field_wins_over_any_name() {
        let mut linked = company(1, "Something Else Entirely");
        linked.linked_account = Some("7001".into());
        let companies = [company(2, "Contoso Ltd"), linked];
        assert_eq!(
            decide(&account(7001, "Contoso Ltd"), &companies),
            Decision::Matched { company: 1, method: Method::CustomField, confidence: 1.0 }
        );
        // Two companies carrying the same id: ambiguous, both listed.
        let mut twin = company(3, "Contoso Ltd");
        twin.linked_account = Some("7001".into());
        let companies = [companies[0].clone(), companies[1].clone(), twin];
        match decide(&account(7001, "Contoso Ltd"), &companies) {
            Decision::Ambiguous { candidates, .. } => assert_eq!(candidates.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_company_linked_to_another_account_is_not_offered_by_name() {
        let mut linked = company(1, "Contoso Ltd");
        linked.linked_account = Some("7002".into());
        let companies = [linked];
        assert!(is_ambiguous(&decide(&account(7001, "Contoso Ltd"), &companies)));
        assert!(is_ambiguous(&decide(&account(7001, "Contosso Ltd"), &companies)));
        let decisions = match_accounts(
            &[account(7001, "Contoso Ltd"), account(7002, "Other")],
            &companies,
            &MatchOptions::default(),
        );
        assert!(is_ambiguous(&decisions[0]));
        assert_eq!(matched(&decisions[1]), (0, Method::CustomField));
    }

    #[test]
    fn deleted_companies_take_part_only_when_asked() {
        let mut gone = company(1, "Contoso Ltd");
        gone.deleted = true;
        gone.linked_account = Some("7001".into());
        let mut companies = [gone, company(2, "Other")];
        assert!(is_unmatched(&decide(&account(7001, "Contoso Ltd"), &companies)));
        let options = MatchOptions { include_deleted: true, ..MatchOptions::default() };
        assert_eq!(
            matched(&Matcher::new(&companies, &options).decide(&account(7001, "Contoso Ltd"))),
            (0, Method::CustomField)
        );
        // By name, it is still account 7001's company.
        assert!(is_ambiguous(&Matcher::new(&companies, &options).decide(&account(1, "Contoso Ltd"))));
        companies[0].linked_account = None;
        assert_eq!(
            matched(&Matcher::new(&companies, &options).decide(&account(1, "Contoso Ltd"))).1,
            Method::ExactName
        );
    }

    #[test]
    fn min_confidence_applies_to_name_matches() {
        let companies = [company(1, "Cafe Noir Limited"), company(2, "Fabrikam")];
        let strict = MatchOptions { min_confidence: 0.97, ..MatchOptions::default() };
        let matcher = Matcher::new(&companies, &strict);
        assert_eq!(
            matcher.decide(&account(1, "Café Noir Ltd")),
            Decision::Unmatched { best: Some(Candidate { company: 0, confidence: CONF_NORMALIZED }) }
        );
        assert!(is_unmatched(&matcher.decide(&account(1, "Fabrikan"))));
        let nan = MatchOptions { min_confidence: f64::NAN, ..MatchOptions::default() };
        assert_eq!(matched(&Matcher::new(&companies, &nan).decide(&account(1, "Fabrikan"))).1, Method::FuzzyName);
    }

    #[test]
    fn awkward_characters_match_themselves() {
        let names = [
            "O'Brien \"Quoted\" & Sons",
            r"Back\slash\\ Ltd",
            "100% Pure LLC",
            "Under_score [x] (y) {z}",
            "Ünïcödé GmbH",
            "北京科技有限公司",
            "東京株式会社",
            "Москва Трейдинг",
            "Αθήνα Α.Ε.",
            "شركة الرياض",
            "🦄🦄",
            "???",
            "a\u{0}b\u{7}c",
        ];
        let companies: Vec<CompanyRecord> = names.iter().zip(1..).map(|(n, id)| company(id, n)).collect();
        let matcher = Matcher::new(&companies, &MatchOptions::default());
        for (i, name) in names.iter().enumerate() {
            assert_eq!(matched(&matcher.decide(&account(1, name))), (i, Method::ExactName), "{name:?}");
            let normalized = normalize_name(name);
            if !["🦄🦄", "???"].contains(name) {
                assert!(!normalized.is_empty(), "{name:?}");
            }
        }
        // Other scripts fold case but do not transliterate: a Latin spelling is another name.
        assert_eq!(matched(&matcher.decide(&account(1, "МОСКВА ТРЕЙДИНГ"))), (7, Method::NormalizedName));
        assert!(is_unmatched(&matcher.decide(&account(1, "Moskva Treiding"))));
        assert!(is_unmatched(&matcher.decide(&account(1, "!!!"))));
        assert!(is_unmatched(&matcher.decide(&account(1, "   "))));
    }

    #[test]
    fn a_typo_among_same_named_companies_uses_the_address() {
        let companies =
            [at(company(1, "Fabrikam"), "", "Dallas", "", ""), at(company(2, "Fabrikam Inc"), "", "Austin", "", "")];
        let mut armor = account(1, "Fabrikan");
        assert!(is_ambiguous(&decide(&armor, &companies)));
        armor.address = Some(address("", "Austin", "", ""));
        assert_eq!(matched(&decide(&armor, &companies)), (1, Method::FuzzyName));
    }

    // ------------------------------------------------------------------ properties

    fn config() -> ProptestConfig {
        // No regression files: the tests run from a source tree other sessions share.
        ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
    }

    /// Names from a small alphabet, so that collisions, suffixes and typos actually happen.
    fn messy_name() -> impl Strategy<Value = String> {
        prop_oneof![
            "(The )?(Con|Fab|Nor|Ad)(to|ri|th)(so|kam|wind)( (Traders|Travel|Group))?(,? (Inc|LLC|Ltd|Co|Corp)\\.?)?",
            "[a-cA-C &.,'é北京\"\\\\%_-]{0,10}",
            any::<String>(),
        ]
    }

    fn messy_company() -> impl Strategy<Value = CompanyRecord> {
        (
            messy_name(),
            prop::option::of(0u64..6),
            any::<bool>(),
            prop::option::of("[ab]"),
            prop::option::of("(US|USA|Canada)"),
        )
            .prop_map(|(name, linked, deleted, city, country)| CompanyRecord {
                id: "0".into(),
                identifier: String::new(),
                name,
                address: Address { city, country, ..Address::default() },
                deleted,
                linked_account: linked.map(|a: u64| a.to_string()),
            })
    }

    fn messy_account() -> impl Strategy<Value = AccountRecord> {
        (0u64..8, messy_name(), prop::option::of(("[ab]", "(US|United States|CA)"))).prop_map(|(id, name, address)| {
            AccountRecord {
                id: id.to_string(),
                name,
                address: address.map(|(city, country)| Address {
                    city: Some(city),
                    country: Some(country),
                    ..Address::default()
                }),
            }
        })
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn normalize_name_is_idempotent(name in messy_name()) {
            let once = normalize_name(&name);
            prop_assert_eq!(normalize_name(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
        }

        #[test]
        fn a_unique_name_matches_itself(name in messy_name(), others in prop::collection::vec(messy_name(), 0..6), at in 0usize..7) {
            let trimmed = name.trim();
            prop_assume!(!trimmed.is_empty());
            let normalized = normalize_name(trimmed);
            let mut companies: Vec<CompanyRecord> = others
                .iter()
                .filter(|o| o.trim() != trimmed && (normalized.is_empty() || normalize_name(o) != normalized))
                .map(|o| company(0, o))
                .collect();
            let at = at.min(companies.len());
            companies.insert(at, company(0, &name));
            let decision = decide(&account(1, &name), &companies);
            prop_assert_eq!(decision, Decision::Matched { company: at, method: Method::ExactName, confidence: 1.0 });
        }

        #[test]
        fn decisions_are_in_range_consistent_and_deterministic(
            accounts in prop::collection::vec(messy_account(), 0..12),
            companies in prop::collection::vec(messy_company(), 0..24),
            include_deleted in any::<bool>(),
            min_confidence in prop_oneof![Just(0.9), 0.0f64..1.2],
        ) {
            let options = MatchOptions { min_confidence, include_deleted };
            let decisions = match_accounts(&accounts, &companies, &options);
            prop_assert_eq!(decisions.len(), accounts.len());
            prop_assert_eq!(&decisions, &match_accounts(&accounts, &companies, &options));
            for (account, decision) in accounts.iter().zip(&decisions) {
                match decision {
                    Decision::Matched { company, method, confidence } => {
                        let record = &companies[*company];
                        prop_assert!(include_deleted || !record.deleted);
                        prop_assert!((0.0..=1.0).contains(confidence));
                        if *method == Method::CustomField {
                            prop_assert_eq!(record.linked_account.as_ref(), Some(&account.id));
                        } else {
                            // Never another account's company, never below the bar.
                            prop_assert!(record.linked_account.is_none());
                            prop_assert!(*confidence >= min_confidence);
                        }
                    }
                    Decision::Ambiguous { candidates, .. } => {
                        prop_assert!(!candidates.is_empty());
                        for c in candidates {
                            prop_assert!(c.company < companies.len());
                            prop_assert!(include_deleted || !companies[c.company].deleted);
                        }
                    }
                    Decision::Unmatched { best } => {
                        if let Some(c) = best {
                            prop_assert!(c.company < companies.len());
                        }
                    }
                }
            }
        }
    }
}
