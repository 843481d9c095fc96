use super::{Context, not_implemented};
use crate::error::Error;
use crate::types::{GetAccountsInput, GetAccountsOutput};

pub fn run(_ctx: &mut Context, _input: GetAccountsInput) -> Result<GetAccountsOutput, Error> {
    Err(not_implemented("get_accounts"))
}
