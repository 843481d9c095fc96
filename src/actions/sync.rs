//! One call syncs a pair: link, read from the state's checkpoint, post, sync back, reconcile.

use super::Context;
use crate::error::Error;
use crate::types::{SyncInput, SyncOutput};

pub fn run(_ctx: &mut Context, _input: SyncInput) -> Result<SyncOutput, Error> {
    Err(Error::invalid("input", "sync is not built yet", "Wait for it."))
}
