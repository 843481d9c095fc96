//! Authenticates to every configured system and reads one small thing from each.

use super::Context;
use crate::connectors::SYSTEMS;
use crate::error::Error;
use crate::types::{ServiceCheck, TestConnectionOutput};

pub fn run(ctx: &mut Context) -> Result<TestConnectionOutput, Error> {
    let configured: Vec<_> = SYSTEMS.iter().filter(|s| (s.configured)(ctx.connection)).collect();
    if configured.is_empty() {
        let names: Vec<&str> = SYSTEMS.iter().map(|s| s.name).collect();
        return Err(Error::new(
            "The connection configures no service.",
            format!("Add a section for one of: {}.", names.join(", ")),
            "",
        ));
    }
    let mut services = Vec::new();
    for system in configured {
        let detail = (system.check)(ctx)?;
        services.push(ServiceCheck { service: system.name.into(), detail });
    }
    Ok(TestConnectionOutput { success: true, services })
}
