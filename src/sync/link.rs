//! Linking a source's accounts to a destination's companies: the matcher decides, overrides win,
//! a company claimed by two accounts is reported instead of guessed, and each matched company's
//! link is written only where a value changes (or reported, in a dry run).

use crate::actions::Context;
use crate::connectors::{Destination, LinkWrite, System};
use crate::error::Error;
use crate::log;
use crate::matching::{self, AccountRecord, CompanyRecord, Decision, MatchOptions};
use crate::types::{
    Account, AccountOverride, AmbiguousMatch, CompanyMatch, FieldUpdate, LinkFields, MatchCandidate,
    MatchCompaniesOutput, MatchCounts, MatchMethod, UnmatchedAccount,
};
use std::collections::HashMap;

/// The names of a source's four link fields on a destination's company: by default the
/// source's label (without spaces) and a suffix each (`ARMORcompanyId`, `ARMORcompanyName`,
/// `ARMORparentId`, `ARMORdateUpdated`), each one renameable in the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captions {
    pub company_id: String,
    pub company_name: String,
    pub parent_id: String,
    pub date_updated: String,
}

impl Captions {
    pub fn of(source: &System) -> Captions {
        let prefix: String = source.label.chars().filter(|c| !c.is_whitespace()).collect();
        Captions {
            company_id: format!("{prefix}companyId"),
            company_name: format!("{prefix}companyName"),
            parent_id: format!("{prefix}parentId"),
            date_updated: format!("{prefix}dateUpdated"),
        }
    }

    /// The default names with the ones `names` gives instead.
    pub fn named(source: &System, names: Option<&LinkFields>) -> Captions {
        let default = Captions::of(source);
        let Some(names) = names else { return default };
        let pick = |given: &Option<String>, default: String| {
            given.as_deref().map(str::trim).filter(|n| !n.is_empty()).map_or(default, str::to_string)
        };
        Captions {
            company_id: pick(&names.account_id, default.company_id),
            company_name: pick(&names.account_name, default.company_name),
            parent_id: pick(&names.parent_id, default.parent_id),
            date_updated: pick(&names.date_updated, default.date_updated),
        }
    }

    pub fn all(&self) -> [&str; 4] {
        [&self.company_id, &self.company_name, &self.parent_id, &self.date_updated]
    }

    /// Every field's value once `link` is written; the date changes only along with the rest.
    pub fn values(&self, link: &LinkWrite) -> [(&str, Option<String>); 4] {
        [
            (&self.company_id, Some(link.account_id.trim().to_string())),
            (&self.company_name, Some(link.account_name.trim().to_string()).filter(|n| !n.is_empty())),
            (&self.parent_id, link.parent_id.as_deref().map(|p| p.trim().to_string())),
            (&self.date_updated, Some(link.now.clone())),
        ]
    }

    /// Whether the fields as they are (`current` reads one by name) differ from what `link` wants.
    pub fn changes(&self, link: &LinkWrite, current: impl Fn(&str) -> Option<String>) -> bool {
        self.values(link).iter().take(3).any(|(name, value)| current(name) != *value)
    }
}

pub struct LinkOptions {
    pub matching: MatchOptions,
    pub overrides: Vec<AccountOverride>,
    pub dry_run: bool,
}

pub fn run(
    ctx: &mut Context,
    destination: &mut dyn Destination,
    source: &'static System,
    accounts: &[Account],
    options: &LinkOptions,
) -> Result<MatchCompaniesOutput, Error> {
    let dest = destination.system();
    let records = destination.companies(ctx, source, options.matching.include_deleted)?;
    log::info(format!(
        "matching {} {} accounts against {} {} companies",
        accounts.len(),
        source.label,
        records.len(),
        dest.label
    ));

    let matching_started = ctx.http.now_ms();
    let overrides = resolve_overrides(&options.overrides, &records, dest)?;
    let matcher = matching::Matcher::new(&records, &options.matching);
    let mut decisions: Vec<Decision> = accounts
        .iter()
        .map(|account| match overrides.get(account.id.trim()) {
            Some(&company) => Decision::Matched { company, method: matching::Method::CustomField, confidence: 1.0 },
            None => matcher.decide(&account_record(account)),
        })
        .collect();
    demote_shared_matches(&mut decisions, accounts, source);
    log::info(format!("matching took {} ms", ctx.http.now_ms() - matching_started));

    let now = chrono::DateTime::from_timestamp(ctx.http.unix_seconds() as i64, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut matched = Vec::new();
    let mut ambiguous = Vec::new();
    let mut unmatched = Vec::new();
    let mut links = Vec::new();
    for (account, decision) in accounts.iter().zip(decisions) {
        match decision {
            Decision::Matched { company, method, confidence } => {
                let record = &records[company];
                links.push(LinkWrite {
                    company,
                    source,
                    account_id: account.id.trim().to_string(),
                    account_name: account.name.clone(),
                    parent_id: account.parent_id.clone(),
                    now: now.clone(),
                });
                let method =
                    if overrides.contains_key(account.id.trim()) { MatchMethod::Override } else { wit_method(method) };
                matched.push(CompanyMatch {
                    account_id: account.id.clone(),
                    account_name: account.name.clone(),
                    company_id: record.id.clone(),
                    company_identifier: record.identifier.clone(),
                    company_name: record.name.clone(),
                    method,
                    confidence,
                    update: FieldUpdate::Unchanged,
                    error: None,
                });
            }
            Decision::Ambiguous { reason, candidates } => ambiguous.push(AmbiguousMatch {
                account_id: account.id.clone(),
                account_name: account.name.clone(),
                reason,
                candidates: candidates.iter().map(|c| candidate(&records, c)).collect(),
            }),
            Decision::Unmatched { best } => unmatched.push(UnmatchedAccount {
                account_id: account.id.clone(),
                account_name: account.name.clone(),
                best_candidate: best.map(|c| candidate(&records, &c)),
            }),
        }
    }

    let written = destination.write_links(ctx, &links, options.dry_run);
    for (entry, outcome) in matched.iter_mut().zip(written) {
        (entry.update, entry.error) = match outcome {
            Ok(false) => (FieldUpdate::Unchanged, None),
            Ok(true) if options.dry_run => (FieldUpdate::WouldUpdate, None),
            Ok(true) => (FieldUpdate::Updated, None),
            Err(error) => (FieldUpdate::Failed, Some(error)),
        };
    }
    let counts = MatchCounts {
        accounts: accounts.len() as u32,
        matched: matched.len() as u32,
        updated: matched.iter().filter(|m| matches!(m.update, FieldUpdate::Updated | FieldUpdate::WouldUpdate)).count()
            as u32,
        unchanged: matched.iter().filter(|m| m.update == FieldUpdate::Unchanged).count() as u32,
        ambiguous: ambiguous.len() as u32,
        unmatched: unmatched.len() as u32,
        failed: matched.iter().filter(|m| m.update == FieldUpdate::Failed).count() as u32,
    };
    log::info(format!(
        "matched {}, ambiguous {}, unmatched {}; {} companies {}updated, {} failed",
        counts.matched,
        counts.ambiguous,
        counts.unmatched,
        counts.updated,
        if options.dry_run { "would be " } else { "" },
        counts.failed
    ));
    Ok(MatchCompaniesOutput {
        destination: dest.name.to_string(),
        matched,
        ambiguous,
        unmatched,
        counts,
        dry_run: options.dry_run,
    })
}

fn account_record(account: &Account) -> AccountRecord {
    AccountRecord {
        id: account.id.trim().to_string(),
        name: account.name.clone(),
        address: account.address.as_ref().map(|a| matching::Address {
            line1: a.line1.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }),
    }
}

/// Account id -> company index, for the overrides; an override naming no company is an input error.
fn resolve_overrides(
    overrides: &[AccountOverride],
    records: &[CompanyRecord],
    destination: &System,
) -> Result<HashMap<String, usize>, Error> {
    let mut resolved = HashMap::new();
    for (i, o) in overrides.iter().enumerate() {
        let found = records.iter().position(|r| {
            o.company_id.as_deref().is_some_and(|id| id.trim() == r.id)
                || o.company_identifier.as_deref().is_some_and(|id| id.trim().eq_ignore_ascii_case(&r.identifier))
        });
        match found {
            Some(index) => {
                resolved.insert(o.account_id.trim().to_string(), index);
            }
            None => {
                return Err(Error::invalid(
                    &format!("input.overrides[{i}]"),
                    format!("it names no {} company (by company_id or company_identifier)", destination.label),
                    "Give the ID or identifier of an existing, not deleted company.",
                ));
            }
        }
    }
    Ok(resolved)
}

/// Two accounts matched to one company would overwrite each other's link on every run: report
/// them as ambiguous instead of picking one.
fn demote_shared_matches(decisions: &mut [Decision], accounts: &[Account], source: &System) {
    let mut claims: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, decision) in decisions.iter().enumerate() {
        if let Decision::Matched { company, .. } = decision {
            claims.entry(*company).or_default().push(i);
        }
    }
    for (company, claimants) in claims.into_iter().filter(|(_, c)| c.len() > 1) {
        let names: Vec<String> =
            claimants.iter().map(|&i| format!("{} ({})", accounts[i].name, accounts[i].id)).collect();
        for i in claimants {
            let confidence = match decisions[i] {
                Decision::Matched { confidence, .. } => confidence,
                _ => 0.0,
            };
            decisions[i] = Decision::Ambiguous {
                reason: format!("the same company matches several {} accounts: {}", source.label, names.join(", ")),
                candidates: vec![matching::Candidate { company, confidence }],
            };
        }
    }
}

fn candidate(records: &[CompanyRecord], c: &matching::Candidate) -> MatchCandidate {
    let r = &records[c.company];
    MatchCandidate {
        company_id: r.id.clone(),
        company_identifier: r.identifier.clone(),
        company_name: r.name.clone(),
        confidence: c.confidence,
    }
}

fn wit_method(method: matching::Method) -> MatchMethod {
    match method {
        matching::Method::CustomField => MatchMethod::CustomField,
        matching::Method::ExactName => MatchMethod::ExactName,
        matching::Method::NormalizedName => MatchMethod::NormalizedName,
        matching::Method::NameAndAddress => MatchMethod::NameAndAddress,
        matching::Method::FuzzyName => MatchMethod::FuzzyName,
    }
}
