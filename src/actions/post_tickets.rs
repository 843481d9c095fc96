use super::{Context, not_implemented};
use crate::error::Error;
use crate::types::{PostTicketsInput, PostTicketsOutput};

pub fn run(_ctx: &mut Context, _input: PostTicketsInput) -> Result<PostTicketsOutput, Error> {
    Err(not_implemented("post_tickets"))
}
