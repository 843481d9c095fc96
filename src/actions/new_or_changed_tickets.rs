//! The polling trigger: each poll reports the source's tickets created or changed since the last.

use super::Context;
use crate::error::Error;
use crate::types::{NewOrChangedTicketsInput, TicketPoll, TriggerState};

pub fn run(
    _ctx: &mut Context,
    _input: NewOrChangedTicketsInput,
    _state: Option<TriggerState>,
) -> Result<TicketPoll, Error> {
    Err(Error::invalid("input", "the trigger is not built yet", "Wait for it."))
}
