use super::{Context, not_implemented};
use crate::error::Error;
use crate::types::{GetTicketsInput, GetTicketsOutput};

pub fn run(_ctx: &mut Context, _input: GetTicketsInput) -> Result<GetTicketsOutput, Error> {
    Err(not_implemented("get_tickets"))
}
