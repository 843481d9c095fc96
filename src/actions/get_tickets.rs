//! Every ticket of the source the connection (or the input) names: all pages, details and
//! comments, resumable by cursor, incremental by `since`.

use super::Context;
use crate::connectors;
use crate::error::Error;
use crate::types::{GetTicketsInput, GetTicketsOutput};

pub fn run(ctx: &mut Context, input: GetTicketsInput) -> Result<GetTicketsOutput, Error> {
    let mut source = connectors::source(ctx.connection, input.source.as_deref(), "get_tickets")?;
    source.tickets(ctx, &input)
}
