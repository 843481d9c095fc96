//! A directory (Exchange Online) into the accounts that follow it (Zivver): read both, plan by
//! address, carry the plan out — or, in a dry run, return it.

use super::Context;
use crate::connectors;
use crate::desk::given;
use crate::error::Error;
use crate::log;
use crate::sync::directory::{self, Action, Kind, Planned, Scope};
use crate::types::{
    AccountKind, DirectoryCounts, DirectoryOutcome, DirectoryResult, SyncDirectoryInput, SyncDirectoryOutput,
};

/// The error of a change the time budget left for the next run.
pub fn out_of_time() -> Error {
    Error::new(
        "The action's time budget ran out before this account was done.",
        "Run sync_directory again: it reads both sides afresh and does what is left.",
        "",
    )
}

fn addresses(field: &str, values: &Option<Vec<String>>, domains: bool) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for value in values.iter().flatten().map(|v| v.trim().to_lowercase()).filter(|v| !v.is_empty()) {
        let value = if domains { value.trim_start_matches('@').to_string() } else { value };
        if domains == value.contains('@') {
            return Err(Error::invalid(
                field,
                format!("{value:?} is not {}", if domains { "a domain" } else { "an e-mail address" }),
                if domains {
                    "Give domains such as contoso.com."
                } else {
                    "Give primary addresses such as ann@contoso.com."
                },
            ));
        }
        out.push(value);
    }
    Ok(out)
}

pub fn run(ctx: &mut Context, input: SyncDirectoryInput) -> Result<SyncDirectoryOutput, Error> {
    let scope = Scope {
        domains: addresses("input.domains", &input.domains, true)?,
        only: addresses("input.mailboxes", &input.mailboxes, false)?,
        except: addresses("input.exclude_mailboxes", &input.exclude_mailboxes, false)?,
        shared: input.include_shared.unwrap_or(true),
    };
    let dry_run = input.dry_run.unwrap_or(false);
    let mut source = connectors::directory(ctx.connection, input.source.as_deref(), "sync_directory")?;
    let mut target = connectors::provisioning(ctx.connection, input.target.as_deref(), "sync_directory")?;
    let mailboxes = source.mailboxes(ctx, given(&input.group))?;
    let (users, groups) = target.accounts(ctx)?;
    let planned = directory::plan_with(&mailboxes, &users, &groups, &scope, input.rewrite_all.unwrap_or(false));
    let changing: Vec<Planned> =
        planned.iter().filter(|p| !matches!(p.action, Action::Unchanged(_))).cloned().collect();
    let outcomes = if dry_run { changing.iter().map(|_| Ok(None)).collect() } else { target.apply(ctx, &changing) };

    let mut counts = DirectoryCounts {
        mailboxes: mailboxes.iter().filter(|m| scope.takes(m.kind, &m.address)).count() as u32,
        accounts: users
            .iter()
            .filter(|a| scope.takes(Kind::User, &a.address))
            .chain(groups.iter().filter(|a| scope.takes(Kind::Group, &a.address)))
            .count() as u32,
        created: 0,
        updated: 0,
        deactivated: 0,
        emptied: 0,
        unchanged: (planned.len() - changing.len()) as u32,
        failed: 0,
        unfinished: 0,
    };
    let mut results = Vec::with_capacity(changing.len());
    for (planned, outcome) in changing.into_iter().zip(outcomes) {
        let known_id = match &planned.action {
            Action::Update { account, .. } | Action::Deactivate(account) | Action::Unchanged(account) => {
                Some(account.id.clone())
            }
            Action::Create(_) => None,
        };
        let done = match (&planned.action, planned.kind) {
            (Action::Create(_), _) => DirectoryOutcome::Created,
            (Action::Deactivate(_), Kind::User) => DirectoryOutcome::Deactivated,
            (Action::Deactivate(_), Kind::Group) => DirectoryOutcome::Emptied,
            _ => DirectoryOutcome::Updated,
        };
        let (outcome, account_id, error) = match outcome {
            Ok(id) => (done, id.or(known_id), None),
            Err(error) => {
                if error.cause == out_of_time().cause {
                    counts.unfinished += 1;
                }
                (DirectoryOutcome::Failed, known_id, Some(error))
            }
        };
        match outcome {
            DirectoryOutcome::Created => counts.created += 1,
            DirectoryOutcome::Updated => counts.updated += 1,
            DirectoryOutcome::Deactivated => counts.deactivated += 1,
            DirectoryOutcome::Emptied => counts.emptied += 1,
            DirectoryOutcome::Unchanged => counts.unchanged += 1,
            DirectoryOutcome::Failed => counts.failed += 1,
        }
        results.push(DirectoryResult {
            kind: if planned.kind == Kind::User { AccountKind::User } else { AccountKind::Group },
            address: planned.address,
            account_id,
            outcome,
            changes: planned.changes,
            error,
        });
    }
    log::info(format!(
        "sync_directory{}: {} mailboxes, {} accounts: {} created, {} updated, {} deactivated, {} emptied, {} unchanged, {} failed ({} left for the next run)",
        if dry_run { " (dry run)" } else { "" },
        counts.mailboxes,
        counts.accounts,
        counts.created,
        counts.updated,
        counts.deactivated,
        counts.emptied,
        counts.unchanged,
        counts.failed,
        counts.unfinished
    ));
    Ok(SyncDirectoryOutput {
        source: source.system().name.to_string(),
        target: target.system().name.to_string(),
        results,
        counts,
        dry_run,
    })
}
