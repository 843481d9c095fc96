//! What technicians changed in the destination, carried back to the source the tickets came from.

use super::Context;
use crate::connectors;
use crate::error::Error;
use crate::sync::back;
use crate::types::{SyncBackInput, SyncBackOutput};

pub fn run(ctx: &mut Context, input: SyncBackInput) -> Result<SyncBackOutput, Error> {
    let mut source = connectors::source(ctx.connection, input.source.as_deref(), "sync_back")?;
    let system = source.system();
    let mut destination = connectors::destination(ctx.connection, input.destination.as_deref(), "sync_back")?;
    let Some(feedback) = source.feedback() else {
        return Err(Error::invalid(
            "input.source",
            format!("{} takes no changes back", system.label),
            "Name a source with a way back (stellar_cyber).",
        ));
    };
    back::run(ctx, system, feedback, destination.as_mut(), &input)
}
