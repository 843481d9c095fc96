//! Every account of the source the connection (or the input) names.

use super::Context;
use crate::connectors;
use crate::error::Error;
use crate::types::{GetAccountsInput, GetAccountsOutput};

pub fn run(ctx: &mut Context, input: GetAccountsInput) -> Result<GetAccountsOutput, Error> {
    let mut source = connectors::source(ctx.connection, input.source.as_deref(), "get_accounts")?;
    let accounts = source.accounts(ctx, &input)?;
    Ok(GetAccountsOutput { source: source.system().name.to_string(), count: accounts.len() as u32, accounts })
}
