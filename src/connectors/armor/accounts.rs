//! Every ARMOR account visible to the connection, with its address (one request each, in parallel).

use super::{Armor, ArmorApi, mapping, models};
use crate::actions::Context;
use crate::error::Error;
use crate::log;
use crate::types::{Account, GetAccountsInput};

pub fn read(ctx: &mut Context, armor: &mut Armor, input: &GetAccountsInput) -> Result<Vec<Account>, Error> {
    let context = match input.account_id.as_deref() {
        Some(id) => super::account_id(id, "input.account_id")?,
        None => armor.api.account_id,
    };
    let mut accounts = armor.accounts(&mut ctx.http, context)?;
    log::info(format!("ARMOR: {} accounts visible to account {context}", accounts.len()));
    if let Some(root) = input.parent_id.as_deref() {
        let root = super::account_id(root, "input.parent_id")?;
        if !accounts.iter().any(|a| a.id == root) {
            return Err(Error::invalid(
                "input.parent_id",
                format!("account {root} is not among the accounts visible to account {context}"),
                "Give the ID of an account that get_accounts lists, or leave parent_id out.",
            ));
        }
        accounts = mapping::subtree(accounts, root);
    }
    if let Some(statuses) = &input.statuses {
        accounts.retain(|a| {
            let status = a.status.as_deref().unwrap_or_default();
            statuses.iter().any(|s| s.trim().eq_ignore_ascii_case(status))
        });
    }
    if !input.include_addresses.unwrap_or(true) {
        return Ok(accounts.iter().map(|a| mapping::account(a, None)).collect());
    }

    let total = accounts.len();
    let mut details: Vec<Option<models::AccountDetail>> = vec![None; total];
    let mut done = 0;
    let jobs: Vec<_> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (i, armor.api.get(ArmorApi::path(&["accounts", &a.id.to_string()]), context)))
        .collect();
    let api = &armor.api;
    ctx.http.try_run(&mut armor.auth, jobs, |i, outcome, _| {
        done += 1;
        log::progress("addresses", done, total);
        // An account without a detail record simply has no address.
        if matches!(&outcome, Ok(r) if r.status == 404) {
            return Ok(());
        }
        details[i] =
            Some(api.decode::<models::AccountDetail>(
                &format!("reading the address of account {}", accounts[i].id),
                outcome,
            )?);
        Ok(())
    })?;
    Ok(accounts.iter().zip(&details).map(|(a, d)| mapping::account(a, d.as_ref())).collect())
}
