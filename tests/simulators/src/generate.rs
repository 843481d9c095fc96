//! Deterministic (per seed) generation of a realistic, messy Dataset with its ground truth.
//!
//! Each sub-account gets a "kind" saying how its ConnectWise counterpart is written (or why there is
//! none); the truth records the expected outcome. Unrelated companies come from a separate
//! vocabulary (see names.rs), so they never come closer to an account name than its counterpart.

use crate::connectwise::custom_field_entry;
use crate::data::*;
use crate::names::{self, key};
use rand::rngs::ChaCha8Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, RngExt, SeedableRng};
use serde_json::{Value, json};
use std::collections::HashSet;

mod directory;
mod mail;
pub use directory::{
    DIRECTORY_DEFAULT_USERS, DIRECTORY_DOMAINS, DIRECTORY_INITIAL_DOMAIN, ZIVVER_DIVISIONS, ZIVVER_GROUP,
    directory_from, zivver_from,
};
pub(crate) use directory::{guid, new_dir_user};
pub use mail::{MAIL_ANCHOR_S, MAIL_DEFAULT_MESSAGES, MAIL_FOLDER, archer_from, mail_from};
pub(crate) use mail::{html_of, immutable_id, reported_message};

pub(crate) const COMPANY_STATUSES: [(i64, &str); 3] = [(1, "Active"), (2, "Inactive"), (3, "Not-Approved")];
/// (ConnectWise id, ConnectWise name, ARMOR country code).
pub(crate) const COUNTRIES: [(i64, &str, &str); 5] = [
    (1, "United States", "US"),
    (2, "Canada", "CA"),
    (3, "United Kingdom", "GB"),
    (4, "Germany", "DE"),
    (5, "France", "FR"),
];

pub const MAX_ACCOUNTS: usize = 100_000;
pub const MAX_COMPANIES: usize = 1_000_000;
pub const MAX_TICKETS: usize = 1_000_000;

/// Generated dates lie before this instant, so a seed always gives the same data.
const BASE_UNIX: i64 = 1_748_736_000; // 2025-06-01T00:00:00Z
pub const MSP_ACCOUNT_ID: i64 = 1001;
const FIRST_ACCOUNT_ID: i64 = 7001;
const FIRST_COMPANY_ID: i64 = 250;
const LEGACY_TERRITORY: i64 = 9;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Exact,
    CasePunct,
    AndAmp,
    Accent,
    The,
    Suffix,
    Whitespace,
    Typo,
    Address,
    Ambiguous,
    NoMatch,
    Decoy,
    CustomField,
    Deleted,
}

const ALL_KINDS: [(Kind, &str, u32); 14] = [
    (Kind::Exact, "exact", 22),
    (Kind::CasePunct, "case_punct", 12),
    (Kind::AndAmp, "and_amp", 5),
    (Kind::Accent, "accent", 5),
    (Kind::The, "the_prefix", 5),
    (Kind::Suffix, "suffix", 12),
    (Kind::Whitespace, "whitespace", 5),
    (Kind::Typo, "typo", 8),
    (Kind::Address, "address", 5),
    (Kind::Ambiguous, "ambiguous", 3),
    (Kind::NoMatch, "none", 8),
    (Kind::Decoy, "decoy", 5),
    (Kind::CustomField, "custom_field", 3),
    (Kind::Deleted, "deleted", 2),
];

fn kind_name(k: Kind) -> &'static str {
    ALL_KINDS.iter().find(|(x, _, _)| *x == k).map(|(_, n, _)| *n).unwrap_or("exact")
}

/// (city, state, postal prefix, country index)
const CITIES: [(&str, &str, &str, usize); 20] = [
    ("Dallas", "TX", "752", 0),
    ("Austin", "TX", "787", 0),
    ("Denver", "CO", "802", 0),
    ("Seattle", "WA", "981", 0),
    ("Boston", "MA", "021", 0),
    ("Chicago", "IL", "606", 0),
    ("Atlanta", "GA", "303", 0),
    ("Phoenix", "AZ", "850", 0),
    ("Portland", "OR", "972", 0),
    ("Nashville", "TN", "372", 0),
    ("Tampa", "FL", "336", 0),
    ("Columbus", "OH", "432", 0),
    ("Toronto", "ON", "M5V", 1),
    ("Vancouver", "BC", "V6B", 1),
    ("London", "", "EC1A", 2),
    ("Manchester", "", "M1", 2),
    ("Berlin", "BE", "101", 3),
    ("München", "BY", "803", 3),
    ("Paris", "IDF", "750", 4),
    ("Lyon", "ARA", "690", 4),
];

const STREETS: [&str; 16] = [
    "Main St",
    "Oak Ave",
    "Elm St",
    "Market St",
    "Commerce Dr",
    "Industrial Blvd",
    "Park Ave",
    "Lakeview Rd",
    "Cedar Ln",
    "Harbor Way",
    "Mill Rd",
    "Station Rd",
    "High St",
    "King St",
    "Queen St",
    "Pine Ct",
];

#[derive(Clone, Debug, Default, PartialEq)]
struct Addr {
    line1: Option<String>,
    line2: Option<String>,
    city: Option<String>,
    state: Option<String>,
    zip: Option<String>,
    country: Option<usize>,
}

impl Addr {
    fn to_armor(&self) -> ArmorAddress {
        ArmorAddress {
            address_line1: self.line1.clone(),
            address_line2: self.line2.clone(),
            city: self.city.clone(),
            state: self.state.clone(),
            postal_code: self.zip.clone(),
            country: self.country.map(|c| COUNTRIES[c].2.to_string()),
        }
    }

    fn from_armor(a: &ArmorAddress) -> Addr {
        Addr {
            line1: a.address_line1.clone(),
            line2: a.address_line2.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            zip: a.postal_code.clone(),
            country: a.country.as_deref().and_then(|c| COUNTRIES.iter().position(|x| x.2 == c)),
        }
    }
}

/// ARMOR custom field values a company already carries (from an earlier sync).
#[derive(Clone, Debug)]
struct Preset {
    account_id: i64,
    name: Option<String>,
    parent: Option<i64>,
    date: Option<String>,
}

struct Co {
    name: String,
    addr: Addr,
    deleted: bool,
    inactive: bool,
    territory: Option<i64>,
    preset: Option<Preset>,
}

struct TruthSlots {
    armor_id: i64,
    armor_name: String,
    expect: Expect,
    slots: Vec<usize>,
    kind: &'static str,
    decoys: Vec<usize>,
}

struct Gen {
    rng: ChaCha8Rng,
    /// Keys of every name handed out so far (accounts, counterparts, decoys, unrelated).
    used: HashSet<String>,
    account_words: Vec<&'static str>,
    word_cursor: usize,
    unique_counter: usize,
}

impl Gen {
    fn hex(&mut self, bytes: usize) -> String {
        (0..bytes).map(|_| format!("{:02x}", self.rng.next_u32() as u8)).collect()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        items.choose(&mut self.rng).expect("non-empty list")
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn next_account_word(&mut self) -> &'static str {
        let w = self.account_words[self.word_cursor % self.account_words.len()];
        self.word_cursor += 1;
        w
    }

    fn address(&mut self) -> Addr {
        let (city, state, prefix, country) = *self.pick(&CITIES);
        let zip = match country {
            0 => format!("{prefix}{:02}", self.rng.random_range(0..100)),
            1 => format!(
                "{prefix} {}{}{}",
                self.rng.random_range(1..10),
                (b'A' + self.rng.random_range(0..26u8)) as char,
                self.rng.random_range(0..10)
            ),
            2 => format!(
                "{prefix} {}{}{}",
                self.rng.random_range(1..10),
                (b'A' + self.rng.random_range(0..26u8)) as char,
                (b'A' + self.rng.random_range(0..26u8)) as char
            ),
            _ => format!("{prefix}{:02}", self.rng.random_range(0..100)),
        };
        let line1 = format!("{} {}", self.rng.random_range(1..9999), self.pick(&STREETS));
        let line2 = self.chance(0.2).then(|| format!("Suite {}", self.rng.random_range(100..999)));
        Addr {
            line1: Some(line1),
            line2,
            city: Some(city.to_string()),
            state: (!state.is_empty()).then(|| state.to_string()),
            zip: Some(zip),
            country: Some(country),
        }
    }

    /// An ARMOR address with the realistic holes: some fields null, some "".
    fn messy_address(&mut self) -> Addr {
        let mut a = self.address();
        if self.chance(0.05) {
            a.line1 = Some(String::new());
        }
        if self.chance(0.04) {
            a.city = None;
        }
        if self.chance(0.08) {
            a.state = Some(String::new());
        }
        if self.chance(0.05) {
            a.zip = None;
        }
        if a.line2.is_none() && self.chance(0.3) {
            a.line2 = Some(String::new());
        }
        a
    }

    /// Reserve a name whose key is new; false if the key is taken.
    fn claim(&mut self, name: &str) -> bool {
        let k = key(name);
        !k.is_empty() && self.used.insert(k)
    }

    fn account_name(&mut self, kind: Kind, special: &mut std::slice::Iter<'static, &'static str>) -> String {
        if kind == Kind::Exact
            && let Some(s) = special.next()
            && self.claim(s)
        {
            return s.to_string();
        }
        for _ in 0..100 {
            let w = self.next_account_word();
            let ind = *self.pick(names::INDUSTRIES);
            let plain_suffix = |g: &mut Gen| {
                if g.chance(0.3) { format!(" {}", g.pick(&["Inc.", "LLC", "Ltd", "Group"])) } else { String::new() }
            };
            let name = match kind {
                Kind::CasePunct => {
                    if self.chance(0.6) {
                        format!("{w} {ind}, Inc.")
                    } else {
                        format!("{w} {ind} Inc.")
                    }
                }
                Kind::AndAmp => {
                    let a = *self.pick(names::SURNAMES);
                    let b = *self.pick(names::SURNAMES);
                    if a == b {
                        continue;
                    }
                    let and = if self.chance(0.7) { "&" } else { "and" };
                    format!("{a} {and} {b} {ind}")
                }
                Kind::Accent => {
                    let acc = *self.pick(names::ACCENTED);
                    let suffix = if self.chance(0.5) { " Ltd" } else { "" };
                    format!("{acc} {ind}{suffix}")
                }
                Kind::The => {
                    if self.chance(0.6) {
                        format!("The {w} {ind}")
                    } else {
                        format!("{w} {ind}")
                    }
                }
                Kind::Suffix => {
                    let (s, _) = *self.pick(names::SUFFIX_VARIANTS);
                    format!("{w} {ind} {s}")
                }
                Kind::Deleted => format!("{w} {ind} {}", self.pick(&["Ltd", "LLC", "Corp", "Co"])),
                Kind::Decoy => {
                    if self.chance(0.5) {
                        let (a, _) = *self.pick(names::DECOY_PAIRS);
                        format!("{w} {a}")
                    } else {
                        format!("{w} {}", self.pick(&["Ltd", "Inc.", "LLC"]))
                    }
                }
                Kind::Typo => {
                    if w.chars().count() < 6 && ind.chars().count() < 6 {
                        continue;
                    }
                    format!("{w} {ind}")
                }
                _ => format!("{w} {ind}{}", plain_suffix(self)),
            };
            if self.claim(&name) {
                return name;
            }
        }
        // Bounded fallback: a numbered name is always new.
        loop_free_unique(self, |n| format!("{} Holdings {n}", ACCOUNT_FALLBACK))
    }

    /// A name for an unrelated company (separate vocabulary), unique by key.
    fn unrelated_name(&mut self) -> String {
        for _ in 0..50 {
            let b = *self.pick(names::OTHER_WORDS);
            let ind = *self.pick(names::INDUSTRIES);
            let mut name = if self.chance(0.7) {
                format!("{b} {ind}")
            } else {
                let b2 = *self.pick(names::OTHER_WORDS);
                if b2 == b {
                    continue;
                }
                format!("{b} {b2} {ind}")
            };
            if self.chance(0.4) {
                name.push(' ');
                let suffix = *self.pick(&["Inc.", "LLC", "Ltd", "Corp.", "Co.", "Group", "PLC", "GmbH"]);
                name.push_str(suffix);
            }
            if self.chance(0.08) {
                name = name.to_uppercase();
            }
            if self.claim(&name) {
                return name;
            }
        }
        let b = *self.pick(names::OTHER_WORDS);
        let ind = *self.pick(names::INDUSTRIES);
        loop_free_unique(self, |n| format!("{b} {ind} {n}"))
    }

    /// Counterpart address: usually the ARMOR one, sometimes the company moved.
    fn counterpart_addr(&mut self, armor: &ArmorAddress) -> Addr {
        if self.chance(0.7) { Addr::from_armor(armor) } else { self.address() }
    }
}

const ACCOUNT_FALLBACK: &str = "Fallback";

/// A name from a numbered family, the first whose key is unused (bounded; numbers never repeat).
fn loop_free_unique(g: &mut Gen, make: impl Fn(usize) -> String) -> String {
    for _ in 0..1_000_000 {
        g.unique_counter += 1;
        let name = make(g.unique_counter);
        if g.claim(&name) {
            return name;
        }
    }
    make(usize::MAX)
}

/// Case/punctuation variant of "X, Inc." / "X Inc.".
fn case_punct_variant(g: &mut Gen, name: &str) -> String {
    let base = name.trim_end_matches("Inc.").trim_end().trim_end_matches(',').to_string();
    match g.rng.random_range(0..4) {
        0 => format!("{} INC", base.to_uppercase()),
        1 => format!("{base} Incorporated"),
        2 => name.to_lowercase(),
        _ => format!("{base}, Inc"),
    }
}

fn whitespace_variant(g: &mut Gen, name: &str) -> String {
    let words: Vec<&str> = name.split(' ').collect();
    match g.rng.random_range(0..3) {
        0 => format!("  {}  ", words.join("   ")),
        1 => format!("{} ", words.join("\t")),
        _ => format!(" {}", words.join("  ")),
    }
}

/// One letter changed or dropped inside a word of at least 6 letters (never the first letter).
fn typo_variant(g: &mut Gen, name: &str) -> Option<String> {
    let words: Vec<&str> = name.split(' ').collect();
    let long: Vec<usize> =
        (0..words.len()).filter(|i| words[*i].chars().filter(|c| c.is_ascii_alphabetic()).count() >= 6).collect();
    let wi = *long.choose(&mut g.rng)?;
    let mut chars: Vec<char> = words[wi].chars().collect();
    let pos = g.rng.random_range(1..chars.len() - 1);
    if g.chance(0.75) {
        let old = chars[pos].to_ascii_lowercase();
        let mut c = (b'a' + g.rng.random_range(0..26u8)) as char;
        if c == old {
            c = if old == 'x' { 'q' } else { 'x' };
        }
        chars[pos] = c;
    } else {
        chars.remove(pos);
    }
    let mut out: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    out[wi] = chars.into_iter().collect();
    Some(out.join(" "))
}

fn custom_field_defs(seed: u64) -> Vec<CustomFieldDef> {
    let def = |id: i64, caption: &str, t: &str, entry: &str, dec: u32| CustomFieldDef {
        id,
        caption: caption.into(),
        field_type: t.into(),
        entry_method: entry.into(),
        number_of_decimals: dec,
    };
    // The ARMOR fields' ids differ per instance (never 1-4); ARMORparentId is Number or Text.
    let base = 31 + (seed % 13) as i64;
    let parent_type = if seed.is_multiple_of(2) { "Number" } else { "Text" };
    vec![
        def(5, "Tier", "Text", "List", 0),
        def(14, "Onboarded", "Checkbox", "EntryField", 0),
        def(21, "SLA Notes", "Text", "EntryField", 0),
        def(base, "ARMORcompanyId", "Text", "EntryField", 0),
        def(base + 1, "ARMORcompanyName", "Text", "EntryField", 0),
        def(base + 2, "ARMORparentId", parent_type, "EntryField", 0),
        def(base + 3, "ARMORdateUpdated", "Date", "EntryField", 0),
        def(58, "Contract Value", "Number", "EntryField", 2),
    ]
}

fn boards_and_statuses(seed: u64) -> (Vec<Board>, Vec<BoardStatus>) {
    let armor_board = 17 + (seed % 9) as i64;
    let boards = vec![
        Board { id: 1, name: "Help Desk".into(), inactive_flag: false, project_flag: false },
        Board { id: armor_board, name: "ARMORtickets".into(), inactive_flag: false, project_flag: false },
    ];
    let st = |id: i64, name: &str, board_id: i64, sort: i64, closed: bool, default: bool| BoardStatus {
        id,
        name: name.into(),
        board_id,
        sort_order: sort,
        closed_status: closed,
        default_flag: default,
        inactive: false,
    };
    let statuses = vec![
        // The other board has "Waiting for Support": resolving names globally instead of per board is a 400.
        st(1, "New", 1, 0, false, true),
        st(2, "Assigned", 1, 1, false, false),
        st(3, "Waiting for Support", 1, 2, false, false),
        st(4, "Waiting for Customer", 1, 3, false, false),
        st(5, "Closed (resolved)", 1, 4, true, false),
        st(6, "Closed", 1, 5, true, false),
        st(31, "New", armor_board, 0, false, true),
        st(32, "Open", armor_board, 1, false, false),
        st(33, "In Progress", armor_board, 2, false, false),
        st(34, "Waiting", armor_board, 3, false, false),
        st(35, "Resolved", armor_board, 4, true, false),
        st(36, "Completed", armor_board, 5, true, false),
        st(37, "Closed", armor_board, 6, true, false),
    ];
    (boards, statuses)
}

fn priorities() -> Vec<Priority> {
    [
        (1, "Priority 1 - Emergency Response"),
        (2, "Priority 2 - Quick Response"),
        (3, "Priority 3 - Normal Response"),
        (4, "Priority 4 - Schedule Maintenance"),
    ]
    .iter()
    .map(|(id, name)| Priority { id: *id, name: (*name).into(), sort_order: *id, default_flag: *id == 3 })
    .collect()
}

fn iso(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()
}

fn kinds_for(g: &mut Gen, n: usize) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = ALL_KINDS.iter().map(|(k, _, _)| *k).collect();
    if n >= 25 {
        kinds.extend([Kind::Exact; 5]);
    }
    let total: u32 = ALL_KINDS.iter().map(|(_, _, w)| w).sum();
    while kinds.len() < n {
        let mut r = g.rng.random_range(0..total);
        for (k, _, w) in ALL_KINDS {
            if r < w {
                kinds.push(k);
                break;
            }
            r -= w;
        }
    }
    kinds.shuffle(&mut g.rng);
    kinds.truncate(n);
    kinds
}

/// Generate a Dataset. `accounts` = sub-accounts under the MSP root (1001).
pub fn generate(accounts: usize, companies: usize, tickets: usize, seed: u64) -> Dataset {
    let (n_accounts, n_companies, n_tickets) =
        (accounts.min(MAX_ACCOUNTS), companies.min(MAX_COMPANIES), tickets.min(MAX_TICKETS));
    let mut account_words = names::ACCOUNT_WORDS.to_vec();
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
        used: HashSet::new(),
        account_words: Vec::new(),
        word_cursor: 0,
        unique_counter: 0,
    };
    account_words.shuffle(&mut g.rng);
    g.account_words = account_words;

    let credentials = Credentials {
        armor: ArmorCredentials {
            account_id: MSP_ACCOUNT_ID,
            username: format!("msp-admin-{}@armor-sim.test", g.hex(3)),
            password: format!("ArmorPw-{}!", g.hex(8)),
            mfa_username: format!("mfa-analyst-{}@armor-sim.test", g.hex(3)),
            mfa_password: format!("ArmorMfaPw-{}", g.hex(8)),
            key_id: format!("armorkey-{}", g.hex(6)),
            secret_key: format!("ArmorSecret-{}", g.hex(16)),
        },
        connectwise: ConnectWiseCredentials {
            company_id: format!("psasim{}", g.hex(3)),
            public_key: format!("CwPub{}", g.hex(6)),
            private_key: format!("CwPriv{}", g.hex(8)),
            client_id: format!("{}-{}-4{}-a{}-{}", g.hex(4), g.hex(2), &g.hex(2)[1..], &g.hex(2)[1..], g.hex(6)),
        },
    };
    let defs = custom_field_defs(seed);
    let parent_is_number = defs.iter().any(|d| d.caption == "ARMORparentId" && d.field_type == "Number");
    let territories = vec![
        Territory { id: 1, name: "East".into(), inactive: false },
        Territory { id: 2, name: "West".into(), inactive: false },
        Territory { id: 3, name: "Central".into(), inactive: false },
        Territory { id: LEGACY_TERRITORY, name: "Legacy North".into(), inactive: true },
    ];
    let (boards, statuses) = boards_and_statuses(seed);

    // ---- ARMOR accounts ----
    let kinds = kinds_for(&mut g, n_accounts);
    let mut special = names::SPECIAL.iter();
    let msp_name = format!("{} Managed Security", g.pick(&["Bastion", "Rampart", "Sentinel", "Bulwark"]));
    g.claim(&msp_name);
    let mut armor_accounts = vec![ArmorAccount {
        id: MSP_ACCOUNT_ID,
        name: msp_name,
        currency: "USD ".into(),
        status: "Active".into(),
        parent: -1,
        products: json!({"armorAnywhere": 0, "armorComplete": 0}),
        account_type: "MSP".into(),
        is_synced: true,
        is_free_trial: false,
        address: g.address().to_armor(),
    }];
    let mut children: Vec<i64> = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let id = FIRST_ACCOUNT_ID + i as i64;
        let name = g.account_name(*kind, &mut special);
        let parent = if children.is_empty() || g.chance(0.7) { MSP_ACCOUNT_ID } else { *g.pick(&children) };
        if parent == MSP_ACCOUNT_ID {
            children.push(id);
        }
        let address = if matches!(kind, Kind::Address | Kind::Ambiguous) { g.address() } else { g.messy_address() };
        let status = *g.pick(&[
            "Active",
            "Active",
            "Active",
            "Active",
            "Active",
            "Active",
            "Active",
            "Inactive",
            "Cancelled",
            "Pending",
        ]);
        let currency = *g.pick(&["USD ", "USD ", "USD", "EUR ", "GBP "]);
        armor_accounts.push(ArmorAccount {
            id,
            name,
            currency: currency.into(),
            status: status.into(),
            parent,
            products: json!({"armorAnywhere": g.rng.random_range(0..50), "armorComplete": g.rng.random_range(0..5)}),
            account_type: "Customer".into(),
            is_synced: g.chance(0.9),
            is_free_trial: g.chance(0.05),
            address: address.to_armor(),
        });
    }

    // ---- ConnectWise counterparts per kind ----
    let mut cos: Vec<Co> = Vec::new();
    let mut truth: Vec<TruthSlots> = vec![TruthSlots {
        armor_id: MSP_ACCOUNT_ID,
        armor_name: armor_accounts[0].name.clone(),
        expect: Expect::None,
        slots: vec![],
        kind: "root",
        decoys: vec![],
    }];
    let mut legacy_quota = 2;
    for (i, kind) in kinds.iter().enumerate() {
        let acc = armor_accounts[i + 1].clone();
        let name = acc.name.clone();
        let (expect, slots, decoys): (Expect, Vec<usize>, Vec<usize>) = match kind {
            Kind::NoMatch => (Expect::None, vec![], vec![]),
            Kind::Address => {
                let addr = Addr::from_armor(&acc.address);
                let mut other = g.address();
                for _ in 0..20 {
                    if other.zip != addr.zip && other.city != addr.city {
                        break;
                    }
                    other = g.address();
                }
                let (a, b) = (push(&mut cos, name.clone(), addr), push(&mut cos, name.clone(), other));
                (Expect::Match, vec![a], vec![b])
            }
            Kind::Ambiguous => {
                let addr = if g.chance(0.5) { Addr::from_armor(&acc.address) } else { Addr::default() };
                let (a, b) = (push(&mut cos, name.clone(), addr.clone()), push(&mut cos, name.clone(), addr));
                (Expect::Ambiguous, vec![a, b], vec![])
            }
            Kind::CustomField => {
                let other = g.unrelated_name();
                let addr = g.counterpart_addr(&acc.address);
                let s = push(&mut cos, other, addr);
                cos[s].preset = Some(Preset {
                    account_id: acc.id,
                    name: g.chance(0.5).then(|| name.clone()),
                    parent: None,
                    date: None,
                });
                (Expect::Match, vec![s], vec![])
            }
            Kind::Deleted => {
                let addr = g.counterpart_addr(&acc.address);
                let d = push(&mut cos, name.clone(), addr.clone());
                cos[d].deleted = true;
                let variant = names::swap_suffix(&name).unwrap_or_else(|| name.to_uppercase());
                let a = push(&mut cos, variant, addr);
                (Expect::Match, vec![a], vec![d])
            }
            Kind::Decoy => {
                let addr = g.counterpart_addr(&acc.address);
                let s = push(&mut cos, name.clone(), addr);
                let (head, last) = name.rsplit_once(' ').unwrap_or((name.as_str(), ""));
                let mut decoy_names = Vec::new();
                if let Some((_, twin)) = names::DECOY_PAIRS.iter().find(|(a, _)| *a == last) {
                    decoy_names.push(format!("{head} {twin}"));
                } else {
                    decoy_names.push(format!("{head} {} {last}", g.pick(names::DECOY_INSERTS)));
                }
                decoy_names.push(format!("{head} {} {last}", g.pick(names::DECOY_INSERTS)));
                let mut decoys = Vec::new();
                for dn in decoy_names {
                    if g.claim(&dn) {
                        let addr = g.address();
                        decoys.push(push(&mut cos, dn, addr));
                    }
                }
                (Expect::Match, vec![s], decoys)
            }
            _ => {
                let variant = match kind {
                    Kind::Exact => name.clone(),
                    Kind::CasePunct => case_punct_variant(&mut g, &name),
                    Kind::AndAmp => {
                        if name.contains(" & ") {
                            name.replacen(" & ", " and ", 1)
                        } else {
                            name.replacen(" and ", " & ", 1)
                        }
                    }
                    Kind::Accent => {
                        let folded = names::fold(&name);
                        if g.chance(0.5) { names::swap_suffix(&folded).unwrap_or(folded) } else { folded }
                    }
                    Kind::The => name.strip_prefix("The ").map(str::to_string).unwrap_or_else(|| format!("The {name}")),
                    Kind::Suffix => names::swap_suffix(&name).unwrap_or_else(|| name.clone()),
                    Kind::Whitespace => whitespace_variant(&mut g, &name),
                    Kind::Typo => {
                        // Retry until the typo is not some other name's key (bounded).
                        let mut out = name.clone();
                        for _ in 0..20 {
                            if let Some(t) = typo_variant(&mut g, &name)
                                && g.claim(&t)
                            {
                                out = t;
                                break;
                            }
                        }
                        out
                    }
                    _ => name.clone(),
                };
                let addr = g.counterpart_addr(&acc.address);
                let s = push(&mut cos, variant, addr);
                if legacy_quota > 0 && matches!(kind, Kind::Exact | Kind::Suffix | Kind::CasePunct) {
                    // A retired territory: PATCH fails re-validation, PUT works.
                    legacy_quota -= 1;
                    cos[s].territory = Some(LEGACY_TERRITORY);
                } else if g.chance(0.3) {
                    let stale = g.chance(0.25);
                    cos[s].preset = Some(Preset {
                        account_id: acc.id,
                        name: Some(if stale { format!("{name} (old)") } else { name.clone() }),
                        parent: Some(if stale { MSP_ACCOUNT_ID } else { acc.parent }),
                        date: Some(iso(BASE_UNIX - g.rng.random_range(86_400..90 * 86_400))),
                    });
                }
                (Expect::Match, vec![s], vec![])
            }
        };
        truth.push(TruthSlots { armor_id: acc.id, armor_name: name, expect, slots, kind: kind_name(*kind), decoys });
    }

    // ---- unrelated companies up to the requested count ----
    while cos.len() < n_companies {
        let name = g.unrelated_name();
        let addr = if g.chance(0.1) { Addr::default() } else { g.address() };
        let deleted = g.chance(0.01);
        cos.push(Co { name, addr, deleted, inactive: g.chance(0.08), territory: None, preset: None });
    }
    for co in cos.iter_mut() {
        if co.territory.is_none() && g.rng.random_bool(0.6) {
            let t = if g.rng.random_bool(0.03) { LEGACY_TERRITORY } else { g.rng.random_range(1..4) };
            // Legacy territories only on unrelated companies or the reserved counterparts.
            co.territory = Some(if co.preset.is_some() { 1 } else { t });
        }
    }

    // ---- ids (shuffled so they do not reveal the account order, with gaps) and records ----
    let mut order: Vec<usize> = (0..cos.len()).collect();
    order.shuffle(&mut g.rng);
    let mut id_of = vec![0i64; cos.len()];
    let mut next = FIRST_COMPANY_ID;
    for slot in &order {
        id_of[*slot] = next;
        next += 1 + if g.chance(0.1) { g.rng.random_range(1..4) } else { 0 };
    }
    let mut identifiers: HashSet<String> = HashSet::new();
    let mut companies_json = Vec::with_capacity(cos.len());
    for slot in &order {
        let co = &cos[*slot];
        companies_json.push(company_json(
            &mut g,
            id_of[*slot],
            co,
            &defs,
            &territories,
            parent_is_number,
            &mut identifiers,
        ));
    }

    let truth = Truth {
        accounts: truth
            .into_iter()
            .map(|t| TruthEntry {
                armor_id: t.armor_id,
                armor_name: t.armor_name,
                expect: t.expect,
                company_ids: t.slots.iter().map(|s| id_of[*s]).collect(),
                kind: t.kind.to_string(),
                decoy_ids: t.decoys.iter().map(|s| id_of[*s]).collect(),
            })
            .collect(),
    };

    let armor_tickets = armor_tickets(&mut g, &armor_accounts, n_tickets);
    let (mut cw_tickets, cw_notes) = help_desk_tickets(&mut g, &companies_json, n_companies);

    let mut dataset = Dataset {
        seed: Some(seed),
        credentials,
        armor: ArmorData { accounts: armor_accounts, tickets: armor_tickets },
        connectwise: ConnectWiseData {
            codebase: "v4_6_release/".into(),
            custom_fields: defs,
            territories,
            companies: companies_json,
            boards,
            statuses,
            priorities: priorities(),
            tickets: Vec::new(),
            notes: cw_notes,
            members: Vec::new(),
            teams: Vec::new(),
            types: Vec::new(),
            ticket_custom_fields: Vec::new(),
        },
        truth,
        halo: HaloData::default(),
        stellar: StellarData::default(),
        mail: MailData::default(),
        archer: ArcherData::default(),
        directory: DirectoryData::default(),
        zivver: ZivverData::default(),
    };
    // Members, board teams and types, ticket custom fields: their own RNG, so everything generated
    // before they existed stays the same for a seed.
    let mut x = ticket_rng(seed);
    ticket_reference(&mut x, &mut dataset.connectwise);
    stamp_tickets(&mut x, &dataset.connectwise, &mut cw_tickets);
    dataset.connectwise.tickets = cw_tickets;
    dataset.halo = halo_from_connectwise(&dataset.connectwise, seed);
    dataset.stellar = stellar_from(&dataset, seed, stellar_default_cases(&dataset));
    // The mailbox and Archer: their own RNG streams too.
    dataset.mail = mail_from(seed, MAIL_DEFAULT_MESSAGES);
    dataset.archer = archer_from(seed);
    // The directory and Zivver: their own RNG streams too.
    dataset.directory = directory_from(seed, DIRECTORY_DEFAULT_USERS);
    dataset.zivver = zivver_from(seed, &dataset.directory);
    dataset
}

/// Add a plain company; returns its slot.
fn push(cos: &mut Vec<Co>, name: String, addr: Addr) -> usize {
    cos.push(Co { name, addr, deleted: false, inactive: false, territory: None, preset: None });
    cos.len() - 1
}

fn identifier(name: &str, used: &mut HashSet<String>) -> String {
    let mut base: String = names::fold(name).chars().filter(char::is_ascii_alphanumeric).take(25).collect();
    if base.is_empty() {
        base = "Company".into();
    }
    if used.insert(base.to_lowercase()) {
        return base;
    }
    for n in 2..1_000_000usize {
        let suffix = n.to_string();
        let cand: String = base.chars().take(25 - suffix.len()).chain(suffix.chars()).collect();
        if used.insert(cand.to_lowercase()) {
            return cand;
        }
    }
    base
}

fn company_json(
    g: &mut Gen,
    id: i64,
    co: &Co,
    defs: &[CustomFieldDef],
    territories: &[Territory],
    parent_is_number: bool,
    identifiers: &mut HashSet<String>,
) -> Value {
    let null_unset = g.chance(0.5);
    let custom_fields: Vec<Value> = defs
        .iter()
        .map(|d| {
            let p = co.preset.as_ref();
            let v: Option<Value> = match d.caption.as_str() {
                "Tier" => g.chance(0.6).then(|| json!(g.pick(&["Gold", "Silver", "Bronze"]))),
                "Onboarded" => g.chance(0.5).then(|| json!(g.chance(0.7))),
                "SLA Notes" => g.chance(0.2).then(|| {
                    json!(g.pick(&[
                        "24x7 \"gold\" support; 100% uptime target",
                        "Business hours only",
                        "Escalate to C:\\Ops\\oncall",
                        "Café hours: 8–18 CET"
                    ]))
                }),
                "Contract Value" => g.chance(0.3).then(|| json!(g.rng.random_range(10_000..500_000) as f64 / 4.0)),
                "ARMORcompanyId" => p.map(|p| json!(p.account_id.to_string())),
                "ARMORcompanyName" => p.and_then(|p| p.name.clone()).map(Value::from),
                "ARMORparentId" => {
                    p.and_then(|p| p.parent).map(|v| if parent_is_number { json!(v) } else { json!(v.to_string()) })
                }
                "ARMORdateUpdated" => p.and_then(|p| p.date.clone()).map(Value::from),
                _ => None,
            };
            custom_field_entry(d, v.or(null_unset.then_some(Value::Null)))
        })
        .collect();
    let status = if co.inactive { COMPANY_STATUSES[1] } else { COMPANY_STATUSES[0] };
    let ident = identifier(&co.name, identifiers);
    let mut m = serde_json::Map::new();
    m.insert("id".into(), json!(id));
    m.insert("identifier".into(), json!(ident));
    m.insert("name".into(), json!(co.name));
    m.insert("status".into(), json!({"id": status.0, "name": status.1}));
    m.insert("addressLine1".into(), json!(co.addr.line1));
    m.insert("addressLine2".into(), json!(co.addr.line2));
    m.insert("city".into(), json!(co.addr.city));
    m.insert("state".into(), json!(co.addr.state));
    m.insert("zip".into(), json!(co.addr.zip));
    m.insert(
        "country".into(),
        co.addr.country.map_or(Value::Null, |c| json!({"id": COUNTRIES[c].0, "name": COUNTRIES[c].1})),
    );
    m.insert(
        "phoneNumber".into(),
        json!(format!("{}-555-{:04}", g.rng.random_range(201..990), g.rng.random_range(0..10_000))),
    );
    m.insert("website".into(), json!(format!("www.{}.example", ident.to_lowercase())));
    if let Some(t) = co.territory.and_then(|t| territories.iter().find(|x| x.id == t)) {
        m.insert("territory".into(), json!({"id": t.id, "name": t.name}));
    }
    m.insert("deletedFlag".into(), json!(co.deleted));
    m.insert("types".into(), json!([{"id": 1, "name": "Client"}]));
    m.insert(
        "_info".into(),
        json!({"lastUpdated": iso(BASE_UNIX - g.rng.random_range(0..400 * 86_400)), "updatedBy": "jsmith"}),
    );
    m.insert("customFields".into(), Value::Array(custom_fields));
    Value::Object(m)
}

const SUMMARIES: [&str; 12] = [
    "Suspicious login for {user} from {ip}",
    "Malware detected on host {host}",
    "Vulnerability scan finding CVE-2024-{n} on {host}",
    "Request: add {ip} to the allow list",
    "Change: rotate API keys for {host}",
    "Firewall rule change request for {host}",
    "User \"{user}\" locked out after failed logins",
    "Disk 95% full on {host}",
    "Alerte : connexion suspecte – {host}",
    "Agent offline: {host}",
    "Path C:\\Windows\\Temp\\{n}.exe flagged on {host}",
    "Certificate expiring on {host}_web",
];

const LONG_SUMMARY: &str = "Multiple failed authentication attempts followed by a successful login from an unusual location were detected for {user} on {host} (source {ip}); please confirm whether this activity is expected";

const COMMENTS: [&str; 8] = [
    "Investigating the alert.",
    "Customer notified by email.",
    "Escalated to Tier 2.",
    "Blocked the source IP at the perimeter firewall.",
    "Waiting on the customer to confirm the change window.",
    "Closed as a false positive: scheduled backup job.",
    "Patched and rebooted; monitoring for recurrence.",
    "Customer says: \"this was us\" — verifying 100% before closing.",
];

fn fill(g: &mut Gen, template: &str, host_base: &str) -> String {
    let user = format!(
        "{}.{}",
        g.pick(&["jane", "omar", "li", "maria", "kofi", "anna"]),
        g.pick(&["doe", "smith", "ng", "garcia", "mensah"])
    );
    let ip = format!(
        "{}.{}.{}.{}",
        g.rng.random_range(11..223),
        g.rng.random_range(0..255),
        g.rng.random_range(0..255),
        g.rng.random_range(1..255)
    );
    let host = format!("{}-{:02}", host_base, g.rng.random_range(1..40));
    template
        .replace("{user}", &user)
        .replace("{ip}", &ip)
        .replace("{host}", &host)
        .replace("{n}", &g.rng.random_range(1000..99_999).to_string())
}

fn armor_tickets(g: &mut Gen, accounts: &[ArmorAccount], n: usize) -> Vec<ArmorTicket> {
    let subs: Vec<&ArmorAccount> = accounts.iter().filter(|a| a.parent != -1).collect();
    if subs.is_empty() || n == 0 {
        return Vec::new();
    }
    // Owners: one heavy account (> 100 tickets so paging matters), a second for big runs, the rest Zipf-like.
    let mut owners: Vec<i64> = Vec::with_capacity(n);
    let heavy = if n >= 150 { (n * 30 / 100).max(105).min(n) } else { n / 3 };
    owners.extend(std::iter::repeat_n(subs[0].id, heavy));
    if n >= 1000 && subs.len() > 1 {
        owners.extend(std::iter::repeat_n(subs[1].id, n / 10));
    }
    let weights: Vec<u32> = subs.iter().map(|_| if g.chance(0.25) { 0 } else { g.rng.random_range(1..10) }).collect();
    let total: u32 = weights.iter().sum::<u32>().max(1);
    while owners.len() < n {
        let mut r = g.rng.random_range(0..total);
        let mut chosen = subs[subs.len() - 1].id;
        for (a, w) in subs.iter().zip(&weights) {
            if r < *w {
                chosen = a.id;
                break;
            }
            r -= *w;
        }
        owners.push(chosen);
    }
    const STATUSES: [(&str, u32); 9] = [
        ("New", 10),
        ("Open", 15),
        ("In Progress", 10),
        ("Waiting for Support", 12),
        ("Waiting for Customer", 10),
        ("Pending Vendor", 5),
        ("Resolved", 10),
        ("Completed", 8),
        ("Closed", 20),
    ];
    let mut tickets: Vec<(i64, ArmorTicket)> = Vec::with_capacity(n);
    for (i, owner) in owners.iter().enumerate() {
        let created = BASE_UNIX - g.rng.random_range(3_600..730 * 86_400);
        let updated = (created + g.rng.random_range(0..30 * 86_400)).min(BASE_UNIX);
        let host_base = format!("srv{}", owner % 97);
        let summary = if i == 0 || g.chance(0.1) {
            fill(g, LONG_SUMMARY, &host_base)
        } else {
            let t = *g.pick(&SUMMARIES);
            fill(g, t, &host_base)
        };
        let status = match i {
            1 => "Waiting for Support",
            2 => "Pending Vendor",
            _ => {
                let mut r = g.rng.random_range(0..100);
                let mut s = "Open";
                for (name, w) in STATUSES {
                    if r < w {
                        s = name;
                        break;
                    }
                    r -= w;
                }
                s
            }
        };
        let n_comments = g.rng.random_range(0..6);
        let comments: Vec<ArmorComment> = (0..n_comments)
            .map(|k| ArmorComment {
                id: 0,
                author: if g.chance(0.7) { "ARMOR SOC".into() } else { "customer".into() },
                body: g.pick(&COMMENTS).to_string(),
                created: iso((created + (k + 1) * 3_600).min(BASE_UNIX)),
                public: g.chance(0.85),
            })
            .collect();
        let old = created < BASE_UNIX - 365 * 86_400;
        let comments404 = comments.is_empty() && old && g.chance(0.7);
        let request_type =
            *g.pick(&["Incident", "Incident", "Incident", "Service Request", "Service Request", "Change"]);
        tickets.push((
            created,
            ArmorTicket {
                issue_key_id: String::new(),
                account_id: *owner,
                summary,
                description: format!("Detected by ARMOR monitoring.\nHost: {host_base}\nDetails: see console."),
                current_status: status.into(),
                request_type: request_type.into(),
                reporter: format!("{}@customer{}.example", g.pick(&["it-admin", "secops", "helpdesk"]), owner),
                assignee: if g.chance(0.85) {
                    Some(g.pick(&["ARMOR SOC", "ARMOR SOC", "Tier 2 Analyst"]).to_string())
                } else {
                    None
                },
                priority: g.pick(&["P1", "P2", "P3", "P3", "P4"]).to_string(),
                created_date: iso(created),
                updated_date: iso(updated),
                comments,
                comments404,
            },
        ));
    }
    // Keys and comment ids ascend with creation time, like a real tracker.
    tickets.sort_by_key(|(c, _)| *c);
    let mut comment_id = 50_001;
    let mut out: Vec<ArmorTicket> = Vec::with_capacity(n);
    for (i, (_, mut t)) in tickets.into_iter().enumerate() {
        t.issue_key_id = format!("ATS-{}", 10_001 + i);
        for c in t.comments.iter_mut() {
            c.id = comment_id;
            comment_id += 1;
        }
        out.push(t);
    }
    if !out.iter().any(|t| t.comments404) {
        // Make sure the quirk is present: the oldest ticket loses its comments and answers 404.
        out[0].comments.clear();
        out[0].comments404 = true;
    }
    out
}

/// Pre-existing Help Desk tickets (unrelated to ARMOR) and their notes.
fn help_desk_tickets(g: &mut Gen, companies: &[Value], n_companies: usize) -> (Vec<Value>, Vec<Value>) {
    let active: Vec<&Value> = companies.iter().filter(|c| c["deletedFlag"] == json!(false)).collect();
    if active.is_empty() {
        return (vec![], vec![]);
    }
    let n = (n_companies / 20).min(200);
    let statuses = [(1, "New", false), (2, "Assigned", false), (3, "Waiting for Support", false), (6, "Closed", true)];
    let summaries = [
        "Printer offline on 3rd floor",
        "Password reset request",
        "New laptop setup",
        "VPN disconnects every hour",
        "Outlook crashes on start",
    ];
    let mut tickets = Vec::new();
    let mut notes = Vec::new();
    let mut note_id = 8_001;
    for i in 0..n {
        let id = 4_001 + i as i64;
        let c = *g.pick(&active);
        let (sid, sname, closed) = *g.pick(&statuses);
        let entered = iso(BASE_UNIX - g.rng.random_range(0..200 * 86_400));
        let mut t = json!({
            "id": id, "summary": g.pick(&summaries), "recordType": "ServiceTicket",
            "board": {"id": 1, "name": "Help Desk"}, "status": {"id": sid, "name": sname},
            "company": {"id": c["id"], "identifier": c["identifier"], "name": c["name"]},
            "priority": {"id": 3, "name": "Priority 3 - Normal Response"}, "closedFlag": closed,
            "_info": {"dateEntered": entered, "lastUpdated": entered, "enteredBy": "jsmith", "updatedBy": "jsmith"}
        });
        if g.chance(0.3) {
            t["externalXRef"] = json!(format!("INC-{}", 20_000 + i));
        }
        for _ in 0..g.rng.random_range(0..3) {
            notes.push(json!({"id": note_id, "ticketId": id, "text": "Called the user back.", "detailDescriptionFlag": true,
                              "internalAnalysisFlag": false, "resolutionFlag": false, "dateCreated": entered, "createdBy": "jsmith",
                              "_info": {"lastUpdated": entered, "updatedBy": "jsmith"}}));
            note_id += 1;
        }
        tickets.push(t);
    }
    (tickets, notes)
}

fn ticket_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0xc3_71c4_e75e)
}

/// Fill in the ticket reference data of a data file written before it existed (the generated
/// values for its seed); a file that has any of it keeps what it has.
pub fn fill_ticket_reference(cw: &mut ConnectWiseData, seed: u64) {
    if cw.members.is_empty() && cw.teams.is_empty() && cw.types.is_empty() && cw.ticket_custom_fields.is_empty() {
        ticket_reference(&mut ticket_rng(seed), cw);
    }
}

/// Other members the MSP may have (first, last); five of them join jsmith.
const MEMBER_POOL: [(&str, &str); 10] = [
    ("Maria", "Garcia"),
    ("Omar", "Haddad"),
    ("Li", "Wei"),
    ("Anna", "Kowalski"),
    ("Kofi", "Mensah"),
    ("Priya", "Nair"),
    ("Lucas", "Martin"),
    ("Emma", "Johansson"),
    ("Diego", "Ramos"),
    ("Sarah", "O'Brien"),
];

/// Per board name: the team and type every instance has, then optional extras (some names recur
/// on other boards, so resolving a team or type by name across boards goes wrong).
fn board_vocabulary(board: &str) -> ([&'static str; 4], [&'static str; 4]) {
    match board.to_ascii_lowercase().as_str() {
        "armortickets" => (
            ["SOC", "Incident Response", "Threat Hunting", "Escalations"],
            ["Security Incident", "Vulnerability", "Service Request", "Change Request"],
        ),
        "help desk" => (
            ["Service Desk", "Field Services", "Escalations", "Projects"],
            ["Incident", "Service Request", "Problem", "Change Request"],
        ),
        _ => (["General", "Escalations", "Tier 2", "Projects"], ["General", "Incident", "Service Request", "Problem"]),
    }
}

/// Members (jsmith, five others, one of them inactive, and the API member), each board's teams and
/// types, and the ticket custom fields; ids instance-specific.
fn ticket_reference(x: &mut ChaCha8Rng, cw: &mut ConnectWiseData) {
    let mut pool = MEMBER_POOL.to_vec();
    pool.shuffle(x);
    let mut people: Vec<(&str, &str, bool)> = vec![("John", "Smith", false)];
    people.extend(pool.iter().take(5).enumerate().map(|(i, (f, l))| (*f, *l, i == 4)));
    people.shuffle(x);
    let mut next = 140 + x.random_range(0..50i64);
    let mut members = Vec::new();
    let mut used = HashSet::new();
    for (first, last, inactive) in people {
        let base: String = format!("{}{}", &first[..1], last)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .take(15)
            .collect();
        let identifier = (1..)
            .map(|n| if n == 1 { base.clone() } else { format!("{base}{n}") })
            .find(|i| used.insert(i.clone()))
            .unwrap_or(base);
        members.push(Member {
            id: next,
            office_email: Some(format!("{identifier}@msp.example")),
            identifier,
            first_name: first.into(),
            last_name: last.into(),
            inactive_flag: inactive,
            license_class: "F".into(),
        });
        next += 1 + if x.random_bool(0.3) { x.random_range(1..6) } else { 0 };
    }
    members.push(Member {
        id: next,
        identifier: "APIMember".into(),
        first_name: "API".into(),
        last_name: "Member".into(),
        office_email: None,
        inactive_flag: false,
        license_class: "A".into(),
    });
    let active: Vec<i64> =
        members.iter().filter(|m| !m.inactive_flag && m.license_class != "A").map(|m| m.id).collect();

    let mut teams = Vec::new();
    let mut types = Vec::new();
    let mut team_id = 20 + x.random_range(0..11i64);
    let mut type_id = 40 + x.random_range(0..13i64);
    for board in &cw.boards {
        let (team_names, type_names) = board_vocabulary(&board.name);
        let n_teams = x.random_range(2..=3);
        let mut extra: Vec<&str> = team_names[1..].to_vec();
        extra.shuffle(x);
        for name in std::iter::once(team_names[0]).chain(extra.into_iter().take(n_teams - 1)) {
            let mut on_team: Vec<i64> = active.sample(x, 3).copied().collect();
            let leader = on_team.first().copied();
            on_team.sort();
            teams.push(BoardTeam {
                id: team_id,
                name: name.into(),
                board_id: board.id,
                team_leader_id: leader,
                members: on_team,
                default_flag: false,
            });
            team_id += 1 + if x.random_bool(0.3) { x.random_range(1..4) } else { 0 };
        }
        let n_types = x.random_range(2..=4);
        let mut extra: Vec<&str> = type_names[1..].to_vec();
        extra.shuffle(x);
        for name in std::iter::once(type_names[0]).chain(extra.into_iter().take(n_types - 1)) {
            let change = name.contains("Change");
            types.push(BoardType {
                id: type_id,
                name: name.into(),
                board_id: board.id,
                category: if change || name == "Service Request" { "Proactive" } else { "Reactive" }.into(),
                default_flag: false,
                inactive_flag: false,
                request_for_change_flag: change,
            });
            type_id += 1 + if x.random_bool(0.3) { x.random_range(1..4) } else { 0 };
        }
    }
    // Custom field ids share one space with the company fields' (ConnectWise keeps all user-defined
    // fields in one table).
    let mut base = 70 + x.random_range(0..7i64);
    while cw.custom_fields.iter().any(|d| d.id == base || d.id == base + 1) {
        base += 2;
    }
    let def = |id: i64, caption: &str, t: &str| CustomFieldDef {
        id,
        caption: caption.into(),
        field_type: t.into(),
        entry_method: "EntryField".into(),
        number_of_decimals: 0,
    };
    cw.ticket_custom_fields = vec![def(base, "Customer Reference", "Text"), def(base + 1, "Escalated", "Checkbox")];
    cw.members = members;
    cw.teams = teams;
    cw.types = types;
}

/// Give seeded tickets an owner (an active member; jsmith owns the first), a team and a type of
/// their board (each sometimes unset) and values for the ticket custom fields.
fn stamp_tickets(x: &mut ChaCha8Rng, cw: &ConnectWiseData, tickets: &mut [Value]) {
    let owners: Vec<&Member> = cw.members.iter().filter(|m| !m.inactive_flag && m.license_class != "A").collect();
    for (i, t) in tickets.iter_mut().enumerate() {
        let board = t["board"]["id"].as_i64();
        let owner = if i == 0 { cw.members.iter().find(|m| m.identifier == "jsmith") } else { None };
        let owner = owner.or_else(|| if x.random_bool(0.75) { owners.choose(x).copied() } else { None });
        if let Some(m) = owner {
            t["owner"] = json!({"id": m.id, "identifier": m.identifier, "name": m.name()});
        }
        let teams: Vec<&BoardTeam> = cw.teams.iter().filter(|tm| Some(tm.board_id) == board).collect();
        if let Some(tm) = teams.choose(x).filter(|_| x.random_bool(0.6)) {
            t["team"] = json!({"id": tm.id, "name": tm.name});
        }
        let types: Vec<&BoardType> = cw.types.iter().filter(|ty| Some(ty.board_id) == board).collect();
        if let Some(ty) = types.choose(x).filter(|_| x.random_bool(0.7)) {
            t["type"] = json!({"id": ty.id, "name": ty.name});
        }
        let null_unset = x.random_bool(0.5);
        let n = 30_000 + i;
        let cfs: Vec<Value> = cw
            .ticket_custom_fields
            .iter()
            .map(|d| {
                let v = match d.field_type.as_str() {
                    "Checkbox" => x.random_bool(0.3).then(|| json!(x.random_bool(0.5))),
                    _ => x.random_bool(0.3).then(|| json!(format!("PO-{n}"))),
                };
                custom_field_entry(d, v.or(null_unset.then_some(Value::Null)))
            })
            .collect();
        t["customFields"] = Value::Array(cfs);
    }
}

/// The no-flag data set: ~40 accounts, ~400 companies, ~200 tickets.
pub fn small() -> Dataset {
    generate(40, 400, 200, 42)
}

// ---- Halo ----

/// A Halo instance holding the same companies as ConnectWise (same names, deleted = inactive,
/// addresses on each client's main site, the ARMOR link fields pre-stamped where CW's are), with
/// lookups whose ids depend on the seed. Its own RNG, so the other services' data never changes.
pub fn halo_from_connectwise(cw: &ConnectWiseData, seed: u64) -> HaloData {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed ^ 0x4a10_5eed),
        used: HashSet::new(),
        account_words: Vec::new(),
        word_cursor: 0,
        unique_counter: 0,
    };
    let r = |id: i64, name: &str| HaloRef { id, name: name.into() };
    let credentials = HaloCredentials {
        tenant: format!("halosim{}", g.hex(3)),
        client_id: format!("{}-{}-4{}-b{}-{}", g.hex(4), g.hex(2), &g.hex(2)[1..], &g.hex(2)[1..], g.hex(6)),
        client_secret: format!("HaloSecret-{}-{}", g.hex(12), g.hex(12)),
    };
    // Instance-specific ids: a client that hard-codes Halo's usual 1/2/4/5 or 1..4 gets them wrong.
    let s = seed as i64;
    let st = 20 + (s % 11) * 2;
    let statuses: Vec<HaloStatus> = [("New", 0, false), ("In Progress", 1, false), ("Waiting on Customer", 3, false)]
        .into_iter()
        .chain([("Resolved", 6, true), ("Closed", 7, true)])
        .map(|(name, off, closed)| HaloStatus { id: st + off, name: name.into(), closed })
        .collect();
    let p = 2 + s % 5;
    let priorities = vec![r(p, "Critical"), r(p + 1, "High"), r(p + 2, "Medium"), r(p + 3, "Low")];
    let ticket_types = vec![
        r(1, "Incident"),
        r(3, "Service Request"),
        r(4, "Problem"),
        r(21 + s % 17, "Security Incident"),
        r(40 + s % 7, "Change Request"),
    ];
    let teams = vec![r(1, "1st Line Support"), r(2, "Projects"), r(5 + s % 7, "Security Operations")];
    let l = 1 + s % 3;
    let impacts = vec![r(l, "Company Wide"), r(l + 1, "Multiple Users"), r(l + 2, "Single User")];
    let urgencies = vec![r(l, "High"), r(l + 1, "Medium"), r(l + 2, "Low")];
    let a = 3 + s % 5;
    let agents = [("Alex Morgan", "alex.morgan"), ("Priya Shah", "priya.shah"), ("SOC Bot", "soc-bot")]
        .iter()
        .zip(a..)
        .map(|((name, mail), id)| HaloAgent { id, name: (*name).into(), email: format!("{mail}@halo-sim.test") })
        .collect();
    let f = 140 + s % 9;
    let client_fields = vec![
        r(101, "Tier"),
        r(102, "SLA Notes"),
        r(f, "ARMORcompanyId"),
        r(f + 1, "ARMORcompanyName"),
        r(f + 2, "ARMORparentId"),
        r(f + 3, "ARMORdateUpdated"),
        r(160, "Contract Value"),
    ];
    let ticket_fields = vec![r(170, "Source System"), r(171, "Customer Reference")];

    let mut clients = Vec::with_capacity(cw.companies.len());
    let mut sites = Vec::with_capacity(cw.companies.len());
    let mut client_of_company = std::collections::BTreeMap::new();
    let mut next_client = 12 + s % 17;
    let mut next_site = 1;
    for c in &cw.companies {
        let id = next_client;
        next_client += 1 + if g.chance(0.1) { g.rng.random_range(1..4) } else { 0 };
        let unset = if g.chance(0.5) { Value::Null } else { json!("") };
        let cfs: Vec<Value> = client_fields
            .iter()
            .map(|d| {
                let cw_value = c["customFields"]
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["caption"] == d.name.as_str()))
                    .and_then(|x| x.get("value"))
                    .filter(|v| !v.is_null());
                // Halo keeps custom field values as text.
                let value = match cw_value {
                    Some(Value::String(v)) => json!(v),
                    Some(v) => json!(v.to_string()),
                    None => unset.clone(),
                };
                json!({"id": d.id, "name": d.name, "value": value})
            })
            .collect();
        let inactive = c["deletedFlag"].as_bool().unwrap_or(false);
        clients.push(json!({"id": id, "name": c["name"], "inactive": inactive, "customfields": cfs}));
        if let Some(company) = c["id"].as_i64() {
            client_of_company.insert(company, id);
        }
        sites.push(json!({"id": next_site, "name": "Main", "client_id": id,
            "delivery_address": {"line1": c["addressLine1"], "line2": c["addressLine2"], "line3": c["city"],
                                 "line4": c["state"], "postcode": c["zip"]},
            "country": c["country"]["name"]}));
        next_site += 1;
        if g.chance(0.1) {
            sites.push(json!({"id": next_site, "name": "Branch Office", "client_id": id, "delivery_address": {}}));
            next_site += 1;
        }
    }

    // A few unrelated pre-existing tickets with actions.
    let active: Vec<&Value> = clients.iter().filter(|c| c["inactive"] == json!(false)).collect();
    let mut tickets = Vec::new();
    let mut actions = Vec::new();
    let n = if active.is_empty() { 0 } else { (clients.len() / 25).clamp(3, 40) };
    let summaries = ["Printer offline", "Password reset request", "New starter laptop", "Email bounce-backs"];
    let mut action_id = 501;
    for i in 0..n {
        let id = 2001 + i as i64;
        let client = *g.pick(&active);
        let site = sites.iter().find(|x| x["client_id"] == client["id"]).map_or(json!(0), |x| x["id"].clone());
        // Every fourth one is closed.
        let status = if i % 4 == 3 { &statuses[4] } else { &statuses[i % 3] };
        let when = iso(BASE_UNIX - g.rng.random_range(3_600..200 * 86_400));
        tickets.push(json!({
            "id": id, "summary": g.pick(&summaries), "details": "<p>Raised by phone.</p>", "tickettype_id": 1,
            "client_id": client["id"], "client_name": client["name"], "site_id": site, "user_id": 0,
            "status_id": status.id, "priority_id": p + 2, "team": "1st Line Support", "agent_id": 0,
            "category_1": "Hardware", "impact": l + 2, "urgency": l + 1,
            "third_party_id_string": if g.chance(0.3) { json!(format!("EXT-{}", 30_000 + i)) } else { json!("") },
            "hasbeenclosed": status.closed, "closure_note": if status.closed { "Fixed on site." } else { "" },
            "dateoccurred": when, "last_update": when,
            "customfields": [{"id": 170, "name": "Source System", "value": "Phone"},
                             {"id": 171, "name": "Customer Reference", "value": ""}]
        }));
        for k in 0..g.rng.random_range(0..3) {
            actions.push(json!({"id": action_id, "ticket_id": id, "note": "Called the user back.",
                "outcome": if k == 0 { "Private Note" } else { "Public Note" }, "who": "Alex Morgan",
                "datetime": when, "hiddenfromuser": k == 0}));
            action_id += 1;
        }
    }
    HaloData {
        credentials,
        ticket_types,
        statuses,
        priorities,
        teams,
        impacts,
        urgencies,
        agents,
        client_fields,
        ticket_fields,
        clients,
        sites,
        tickets,
        actions,
        client_of_company,
    }
}

// ---- Stellar Cyber ----

pub const STELLAR_STATUSES: [&str; 5] = ["New", "In Progress", "Escalated", "Resolved", "Cancelled"];
pub const STELLAR_SEVERITIES: [&str; 4] = ["Low", "Medium", "High", "Critical"];
pub const STELLAR_TAGS: [&str; 6] = ["phishing", "malware", "vip", "noise", "lateral-movement", "exfiltration"];
/// The Stellar sync user's email (the credentials' user).
pub const STELLAR_SYNC_USER: &str = "psa-bridge@stellar-sim.test";
const STELLAR_CASE_NAMES: [&str; 10] = [
    "Suspicious login from new country",
    "Malware beaconing to known C2",
    "Phishing email clicked",
    "Brute force against VPN",
    "Lateral movement via SMB",
    "Unusual data transfer volume",
    "Impossible travel",
    "Privilege escalation on server",
    "Ransomware precursor activity",
    "DNS tunnelling suspected",
];
const STELLAR_COMMENTS: [&str; 6] = [
    "Looked at the endpoint, user confirms it was them.",
    "Escalating: similar activity on two more hosts.",
    "Blocked the sender domain at the gateway.",
    "False positive pattern from the backup job, tuning.",
    "Isolated the host pending reimage.",
    "Customer contacted by phone, waiting for callback.",
];

/// Half the ARMOR ticket count: the default number of generated Stellar cases.
pub fn stellar_default_cases(d: &Dataset) -> usize {
    d.armor.tickets.len() / 2
}

/// A Stellar Cyber Data Processor serving about two thirds of the ARMOR sub-accounts as tenants (same
/// customer names, so the truth maps each to the account's ConnectWise company), plus two tenants
/// without a counterpart, and `cases` cases over them in the ten days before `anchor_ms`. Its own
/// RNG, so the other services' data never changes for a seed.
pub fn stellar_from(d: &Dataset, seed: u64, cases: usize) -> StellarData {
    let cases = cases.min(MAX_TICKETS);
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed ^ 0x57e1_1a7c_0de5),
        used: HashSet::new(),
        account_words: Vec::new(),
        word_cursor: 0,
        unique_counter: 0,
    };
    let anchor_ms = BASE_UNIX * 1000;
    let credentials_hex = (g.hex(12), g.hex(8), g.hex(10));
    let mut users =
        vec![StellarUser { user_id: g.hex(12), email: STELLAR_SYNC_USER.into(), name: "PSA Bridge Sync".into() }];
    for (name, mail) in
        [("Dana Whitfield", "dana.whitfield"), ("Marco Ruiz", "marco.ruiz"), ("Aiko Tanaka", "aiko.tanaka")]
    {
        users.push(StellarUser { user_id: g.hex(12), email: format!("{mail}@stellar-sim.test"), name: name.into() });
    }
    let credentials = StellarCredentials {
        user: STELLAR_SYNC_USER.into(),
        user_id: users[0].user_id.clone(),
        api_key: format!("StellarKey-{}", credentials_hex.0),
        scoped_key: format!("StellarScoped-{}-{}", credentials_hex.1, credentials_hex.2),
    };

    let mut tenants = Vec::new();
    for a in d.armor.accounts.iter().filter(|a| a.parent != -1) {
        if !g.chance(2.0 / 3.0) {
            continue;
        }
        let company = d
            .truth_for(a.id)
            .filter(|t| t.expect == Expect::Match)
            .and_then(|t| t.company_ids.first())
            .and_then(|c| u64::try_from(*c).ok());
        // Occasionally padded, as typed into the tenant form.
        let cust_name = if g.chance(0.08) { format!("{} ", a.name) } else { a.name.clone() };
        tenants.push(StellarTenant { cust_id: g.hex(16), cust_name, company, armor_id: Some(a.id) });
    }
    for name in ["SOC Sandbox (internal)", "Qwixby Lab Tenant"] {
        tenants.push(StellarTenant { cust_id: g.hex(16), cust_name: name.into(), company: None, armor_id: None });
    }

    let analysts: Vec<&StellarUser> = users[1..].iter().collect();
    let mut next_ticket: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(cases);
    let mut comments = Vec::new();
    const DAY_MS: i64 = 86_400_000;
    for _ in 0..cases {
        let t = &tenants[g.rng.random_range(0..tenants.len())];
        // ticket_id counts per tenant from 1001, so the same number recurs across tenants.
        let slot = next_ticket.entry(t.cust_id.clone()).or_insert(1001);
        let ticket_id = *slot;
        *slot += 1;
        let created = anchor_ms - g.rng.random_range(60_000..10 * DAY_MS);
        let modified = if g.chance(0.2) { created } else { g.rng.random_range(created..anchor_ms) };
        let status = match g.rng.random_range(0..100) {
            0..45 => "New",
            45..75 => "In Progress",
            75..85 => "Escalated",
            85..95 => "Resolved",
            _ => "Cancelled",
        };
        let severity = *g.pick(&STELLAR_SEVERITIES);
        let score = (g.rng.random_range(0..1001) as f64) / 10.0;
        let score = if g.chance(0.05) { json!(format!("{score}")) } else { json!(score) };
        let size = if g.chance(0.05) { Value::Null } else { json!(g.rng.random_range(1..61)) };
        let tags = if g.chance(0.06) {
            Value::Null
        } else {
            let n = g.rng.random_range(0..3);
            let mut tags: Vec<&str> = Vec::new();
            for _ in 0..n {
                let tag = *g.pick(&STELLAR_TAGS);
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            json!(tags)
        };
        let (assignee, assignee_name) = if g.chance(0.5) {
            let a = *g.pick(&analysts);
            (json!(a.user_id), json!(a.name))
        } else {
            (json!(""), json!(""))
        };
        let creator = *g.pick(&analysts);
        let modifier = *g.pick(&analysts);
        let mut name = g.pick(&STELLAR_CASE_NAMES).to_string();
        if g.chance(0.08) {
            name = format!("  {name} ");
        }
        let id = g.hex(12);
        let n_comments = g.rng.random_range(0..4);
        for _ in 0..n_comments {
            let at = g.rng.random_range(created..=modified);
            let by = *g.pick(&analysts);
            comments.push(json!({"_id": g.hex(12), "case_id": id, "comment": g.pick(&STELLAR_COMMENTS),
                                 "user": by.user_id, "created_at": at, "modified_at": at}));
        }
        out.push(json!({
            "_id": id, "ticket_id": ticket_id, "name": name, "status": status, "severity": severity,
            "score": score, "size": size, "tenant_name": t.cust_name, "cust_id": t.cust_id,
            "assignee": assignee, "assignee_name": assignee_name, "tags": tags,
            "acknowledged": status != "New" && g.chance(0.7), "closed": matches!(status, "Resolved" | "Cancelled"),
            "created_by": creator.user_id, "modified_by": modifier.user_id, "modified_by_name": modifier.name,
            "version": 1 + n_comments + g.rng.random_range(0..4), "created_at": created, "modified_at": modified,
        }));
    }
    // At least a tenth of the cases share their exact modified_at millisecond with another one.
    let n = out.len();
    if n >= 2 {
        let pairs = (n * 6 / 100 + 1).min(n / 2);
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut g.rng);
        for pair in order[..2 * pairs].chunks(2) {
            let (a, b) = (pair[0], pair[1]);
            let at = out[a]["modified_at"].clone();
            let at_ms = at.as_i64().unwrap_or(anchor_ms);
            out[b]["modified_at"] = at;
            if out[b]["created_at"].as_i64().unwrap_or(0) > at_ms {
                out[b]["created_at"] = json!(at_ms);
            }
        }
        // Comments stay within their case's lifetime.
        let span: std::collections::HashMap<String, (i64, i64)> = out
            .iter()
            .map(|c| {
                let id = c["_id"].as_str().unwrap_or("").to_string();
                (id, (c["created_at"].as_i64().unwrap_or(0), c["modified_at"].as_i64().unwrap_or(0)))
            })
            .collect();
        for c in &mut comments {
            if let Some((lo, hi)) = span.get(c["case_id"].as_str().unwrap_or("")) {
                let at = c["created_at"].as_i64().unwrap_or(0).clamp(*lo, *hi);
                c["created_at"] = json!(at);
                c["modified_at"] = json!(at);
            }
        }
    }
    StellarData { credentials, anchor_ms: Some(anchor_ms), tenants, users, cases: out, comments }
}

/// Sources beyond ARMOR whose accounts the PSAs link: their label prefix and the first ids of
/// their four fields in ConnectWise and in Halo.
const OTHER_SOURCES: &[(&str, i64, i64)] = &[("StellarCyber", 90, 180)];

/// Every other source's link fields (see [`add_link_fields`]), as the simulators start with them.
pub fn add_other_sources_link_fields(d: &mut Dataset) {
    for (prefix, cw, halo) in OTHER_SOURCES {
        add_link_fields(d, prefix, *cw, *halo);
    }
}

/// The link fields of a source other than ARMOR (e.g. "StellarCyber": `StellarCybercompanyId`,
/// ...), unset on every ConnectWise company and Halo client, so its accounts can be linked too.
/// Added at start, after generation, so the generated data of every seed stays as it was.
pub fn add_link_fields(d: &mut Dataset, prefix: &str, cw_first_id: i64, halo_first_id: i64) {
    let names = ["companyId", "companyName", "parentId", "dateUpdated"].map(|s| format!("{prefix}{s}"));
    // Each side once: a data file may carry them on one side already (Halo derived from it).
    let on_cw = d.connectwise.custom_fields.iter().any(|f| f.caption == names[0]);
    let on_halo = d.halo.client_fields.iter().any(|f| f.name == names[0]);
    for (i, name) in names.iter().enumerate() {
        if !on_cw {
            let def = CustomFieldDef {
                id: cw_first_id + i as i64,
                caption: name.clone(),
                field_type: if i == 3 { "Date" } else { "Text" }.into(),
                entry_method: "EntryField".into(),
                number_of_decimals: 0,
            };
            for company in &mut d.connectwise.companies {
                if let Some(fields) = company["customFields"].as_array_mut() {
                    fields.push(custom_field_entry(&def, None));
                }
            }
            d.connectwise.custom_fields.push(def);
        }
        if !on_halo {
            let id = halo_first_id + i as i64;
            for client in &mut d.halo.clients {
                if let Some(fields) = client["customfields"].as_array_mut() {
                    fields.push(json!({"id": id, "name": name, "value": Value::Null}));
                }
            }
            d.halo.client_fields.push(HaloRef { id, name: name.clone() });
        }
    }
}
