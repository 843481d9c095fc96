//! The systems psa-bridge talks to. Each has a folder with its client and its roles; [`SYSTEMS`]
//! is the only list of them: a new system adds its folder and one line there.

pub mod archer;
pub mod armor;
pub mod connectwise;
pub mod graph_directory;
pub mod graph_mail;
pub mod halo;
pub mod stellar_cyber;
pub mod zivver;

use crate::actions::Context;
use crate::error::Error;
use crate::http::Origin;
use crate::matching::CompanyRecord;
use crate::types::{Account, Connection, GetAccountsInput, GetTicketsInput, GetTicketsOutput, Ticket};

/// Every system, in the order test_connection reports them.
pub const SYSTEMS: &[&System] = &[
    &armor::SYSTEM,
    &connectwise::SYSTEM,
    &halo::SYSTEM,
    &stellar_cyber::SYSTEM,
    &graph_mail::SYSTEM,
    &archer::SYSTEM,
    &graph_directory::SYSTEM,
    &zivver::SYSTEM,
];

/// What the registry knows of a system: its connection section, credentials, hosts and roles.
pub struct System {
    /// The connection section's name, and the `system` of the records it produces.
    pub name: &'static str,
    /// How people call it, in messages.
    pub label: &'static str,
    /// Whether the connection has its section.
    pub configured: fn(&Connection) -> bool,
    /// Every credential in its section, to be masked wherever text leaves the component.
    pub secrets: fn(&Connection) -> Vec<String>,
    /// The origins its section names (the only hosts it may call).
    pub origins: fn(&Connection) -> Result<Vec<Origin>, Error>,
    /// Authenticates and reads one small thing; says what was checked.
    pub check: fn(&mut Context) -> Result<String, Error>,
    pub source: Option<OpenSource>,
    pub destination: Option<OpenDestination>,
    pub directory: Option<OpenDirectory>,
    pub provisioning: Option<OpenProvisioning>,
    /// How records of this system were keyed before 0.2, so nothing is posted twice after an upgrade.
    pub legacy: Option<LegacyKeys>,
}

/// Opens a system's source role with the connection's section.
pub type OpenSource = fn(&Connection) -> Result<Box<dyn Source>, Error>;
/// Opens a system's destination role with the connection's section.
pub type OpenDestination = fn(&Connection) -> Result<Box<dyn Destination>, Error>;

/// Opens a system's directory role (the source of truth of a directory sync).
pub type OpenDirectory = fn(&Connection) -> Result<Box<dyn Directory>, Error>;
/// Opens a system's provisioning role (the accounts that follow a directory).
pub type OpenProvisioning = fn(&Connection) -> Result<Box<dyn Provisioning>, Error>;

/// What 0.1 wrote for a source's tickets: its keys bare, and notes marked `[{label} comment {id}]`.
#[derive(Clone, Copy, Debug)]
pub struct LegacyKeys {
    pub note_label: &'static str,
}

/// A system that has accounts and tickets to bring over.
pub trait Source {
    fn system(&self) -> &'static System;
    /// Every account the connection sees, filtered as `input` says.
    fn accounts(&mut self, ctx: &mut Context, input: &GetAccountsInput) -> Result<Vec<Account>, Error>;
    /// Tickets with details and comments, resumable by cursor, incremental by `since`.
    fn tickets(&mut self, ctx: &mut Context, input: &GetTicketsInput) -> Result<GetTicketsOutput, Error>;
    /// Told which of its tickets a destination now holds (Stellar Cyber tags the cases).
    fn posted(&mut self, ctx: &mut Context, tickets: &[&Ticket]) {
        let _ = (ctx, tickets);
    }
    /// The way back, for sources that take changes from the destination.
    fn feedback(&mut self) -> Option<&mut dyn Feedback> {
        None
    }
}

/// A system that receives companies' links and tickets (a PSA).
pub trait Destination {
    fn system(&self) -> &'static System;
    /// Every company, reduced to what matching needs, linked by `source`'s link fields.
    fn companies(
        &mut self,
        ctx: &mut Context,
        source: &'static System,
        include_deleted: bool,
    ) -> Result<Vec<CompanyRecord>, Error>;
    /// Writes each link where a value changes (index into the last `companies`); `None` when nothing
    /// changes. Dry runs call it with `dry_run` and write nothing.
    fn write_links(&mut self, ctx: &mut Context, links: &[LinkWrite], dry_run: bool) -> Vec<Result<bool, Error>>;
    /// The ticket writer the exactly-once engine drives.
    fn tickets(&mut self) -> &mut dyn TicketWriter;
    /// Single tickets: the ticket actions (a PSA's; `None` where there are none).
    fn desk(&mut self) -> Option<&mut dyn Desk>;
    /// Whether it has companies to link accounts to.
    fn has_companies(&self) -> bool {
        true
    }
}

/// A directory of mailboxes: the source of truth of `sync_directory` (Exchange Online).
pub trait Directory {
    fn system(&self) -> &'static System;
    /// Every mailbox (users' and shared ones, with aliases and delegates); only the members of
    /// `group` when it is given.
    fn mailboxes(&mut self, ctx: &mut Context, group: Option<&str>) -> Result<Vec<Mailbox>, Error>;
}

/// Accounts that follow a directory (Zivver): read, then changed as the plan says.
pub trait Provisioning {
    fn system(&self) -> &'static System;
    /// The users and the groups (functional accounts) it holds now.
    fn accounts(&mut self, ctx: &mut Context) -> Result<(Vec<DirectoryAccount>, Vec<DirectoryAccount>), Error>;
    /// Carries out each planned change in order (users before groups); one result each, with the
    /// account's id. Never deletes.
    fn apply(&mut self, ctx: &mut Context, planned: &[Planned]) -> Vec<Result<Option<String>, Error>>;
}

pub use crate::sync::directory::{Account as DirectoryAccount, Mailbox, Planned};

/// One account linked to one company (by index into the last `companies` call).
#[derive(Clone)]
pub struct LinkWrite {
    pub company: usize,
    pub source: &'static System,
    pub account_id: String,
    pub account_name: String,
    pub parent_id: Option<String>,
    /// ISO-8601, written with a real change only.
    pub now: String,
}

pub use crate::desk::Desk;
pub use crate::sync::back::Feedback;
pub use crate::sync::post::TicketWriter;

/// Refuses the get_tickets filters a source has none of (`supported` names the ones it has), so a
/// filter never silently does nothing.
pub fn refuse_other_filters(input: &GetTicketsInput, source: &System, supported: &[&str]) -> Result<(), Error> {
    let set = [
        ("request_types", input.request_types.as_ref().is_some_and(|t| !t.is_empty())),
        ("min_score", input.min_score.is_some()),
        ("min_alert_count", input.min_alert_count.is_some()),
        ("tags", input.tags.as_ref().is_some_and(|t| !t.is_empty())),
        ("exclude_tags", input.exclude_tags.as_ref().is_some_and(|t| !t.is_empty())),
        ("look_back_days", input.look_back_days.is_some()),
    ];
    match set.iter().find(|(name, given)| *given && !supported.contains(name)) {
        Some((name, _)) => Err(Error::invalid(
            &format!("input.{name}"),
            format!("{} tickets have no such filter", source.label),
            format!(
                "Leave it out; {} tickets are filtered with {}.",
                source.label,
                ["statuses", "since"].iter().chain(supported).copied().collect::<Vec<_>>().join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// The destination's ticket desk, or why `action` has none to work on.
pub fn desk<'a>(destination: &'a mut dyn Destination, action: &str) -> Result<&'a mut dyn Desk, Error> {
    let label = destination.system().label;
    destination.desk().ok_or_else(|| {
        Error::new(
            format!("{label} has no ticket desk for {action}."),
            "Name a PSA (ConnectWise or Halo) as the destination; post_tickets writes to the others.",
            "",
        )
    })
}

/// The system named `name`, if there is one.
pub fn by_name(name: &str) -> Option<&'static System> {
    SYSTEMS.iter().copied().find(|s| s.name.eq_ignore_ascii_case(name.trim()))
}

/// Every credential of every configured section.
pub fn secrets(connection: &Connection) -> Vec<String> {
    let mut secrets: Vec<String> =
        SYSTEMS.iter().filter(|s| (s.configured)(connection)).flat_map(|s| (s.secrets)(connection)).collect();
    // Very short values would mask ordinary words; the services don't issue such credentials.
    secrets.retain(|s| s.len() >= 3);
    secrets
}

/// Every origin the configured sections may call, as `scheme://host:port`.
pub fn allowed_origins(connection: &Connection) -> Result<Vec<String>, Error> {
    let mut origins = Vec::new();
    for system in SYSTEMS.iter().filter(|s| (s.configured)(connection)) {
        for origin in (system.origins)(connection)? {
            let port = if origin.authority.contains(':') && !origin.authority.ends_with(']') {
                String::new()
            } else if origin.https {
                ":443".into()
            } else {
                ":80".into()
            };
            let url = format!("{}://{}{port}", if origin.https { "https" } else { "http" }, origin.authority);
            if !origins.contains(&url) {
                origins.push(url);
            }
        }
    }
    Ok(origins)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Source,
    Destination,
    Directory,
    Provisioning,
}

impl Role {
    /// The input field that names the system.
    fn noun(self) -> &'static str {
        match self {
            Role::Source | Role::Directory => "source",
            Role::Destination => "destination",
            Role::Provisioning => "target",
        }
    }

    fn has(self, system: &System) -> bool {
        match self {
            Role::Source => system.source.is_some(),
            Role::Destination => system.destination.is_some(),
            Role::Directory => system.directory.is_some(),
            Role::Provisioning => system.provisioning.is_some(),
        }
    }
}

/// The system an action's `source` / `destination` input names, or the only configured one.
fn pick(connection: &Connection, named: Option<&str>, role: Role, action: &str) -> Result<&'static System, Error> {
    let noun = role.noun();
    let candidates: Vec<&'static System> = SYSTEMS.iter().copied().filter(|s| role.has(s)).collect();
    let all = || candidates.iter().map(|s| s.name).collect::<Vec<_>>().join(", ");
    match named.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => {
            let system = candidates.iter().copied().find(|s| s.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
                Error::invalid(
                    &format!("input.{noun}"),
                    format!("{name:?} is not a {noun} system"),
                    format!("Name one of: {}.", all()),
                )
            })?;
            if !(system.configured)(connection) {
                return Err(Error::missing_section(system.name, action));
            }
            Ok(system)
        }
        None => {
            let configured: Vec<&'static System> =
                candidates.iter().copied().filter(|s| (s.configured)(connection)).collect();
            match configured.as_slice() {
                [one] => Ok(one),
                [] => Err(Error::new(
                    format!("The connection configures no {noun} system, which {action} needs."),
                    format!("Add a section for one of: {} (see help.md, Setup).", all()),
                    "",
                )),
                several => Err(Error::invalid(
                    &format!("input.{noun}"),
                    format!(
                        "the connection configures several {noun}s ({})",
                        several.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                    ),
                    format!("Name the {noun} to use in the input's `{noun}`."),
                )),
            }
        }
    }
}

/// The source an action reads from.
pub fn source(connection: &Connection, named: Option<&str>, action: &str) -> Result<Box<dyn Source>, Error> {
    let system = pick(connection, named, Role::Source, action)?;
    system.source.map_or_else(|| Err(Error::missing_section(system.name, action)), |open| open(connection))
}

/// The directory a directory sync reads.
pub fn directory(connection: &Connection, named: Option<&str>, action: &str) -> Result<Box<dyn Directory>, Error> {
    let system = pick(connection, named, Role::Directory, action)?;
    system.directory.map_or_else(|| Err(Error::missing_section(system.name, action)), |open| open(connection))
}

/// The accounts a directory sync keeps in step.
pub fn provisioning(
    connection: &Connection,
    named: Option<&str>,
    action: &str,
) -> Result<Box<dyn Provisioning>, Error> {
    let system = pick(connection, named, Role::Provisioning, action)?;
    system.provisioning.map_or_else(|| Err(Error::missing_section(system.name, action)), |open| open(connection))
}

/// The destination an action writes to.
pub fn destination(connection: &Connection, named: Option<&str>, action: &str) -> Result<Box<dyn Destination>, Error> {
    let system = pick(connection, named, Role::Destination, action)?;
    system.destination.map_or_else(|| Err(Error::missing_section(system.name, action)), |open| open(connection))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_system_is_named_once_and_has_a_role() {
        for (i, system) in SYSTEMS.iter().enumerate() {
            assert!(SYSTEMS[..i].iter().all(|s| s.name != system.name), "{} twice", system.name);
            let roles = [
                system.source.is_some(),
                system.destination.is_some(),
                system.directory.is_some(),
                system.provisioning.is_some(),
            ];
            assert!(roles.contains(&true), "{} has no role", system.name);
            assert_eq!(system.name, system.name.to_ascii_lowercase());
        }
    }
}
