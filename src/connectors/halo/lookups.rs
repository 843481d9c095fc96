//! Halo's named lists (ticket types, statuses, priorities, teams, agents, impact, urgency), read
//! once per run when first needed: their ids differ per instance, so inputs name them.

use super::Halo;
use super::models::{Named, Priority};
use crate::actions::Context;
use crate::error::Error;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum List {
    TicketType,
    Status,
    Priority,
    Team,
    Agent,
    Impact,
    Urgency,
}

const LISTS: usize = 7;

impl List {
    fn path(self) -> &'static str {
        match self {
            List::TicketType => "/TicketType",
            List::Status => "/Status?type=ticket",
            List::Priority => "/Priority",
            List::Team => "/Team",
            List::Agent => "/Agent",
            // Halo's lookup ids of the impact and urgency lists.
            List::Impact => "/Lookup?lookupid=12",
            List::Urgency => "/Lookup?lookupid=27",
        }
    }

    /// What one entry is called, in messages.
    pub fn noun(self) -> &'static str {
        match self {
            List::TicketType => "ticket type",
            List::Status => "status",
            List::Priority => "priority",
            List::Team => "team",
            List::Agent => "agent",
            List::Impact => "impact",
            List::Urgency => "urgency",
        }
    }
}

#[derive(Default)]
pub struct Lookups {
    lists: [Option<Vec<Named>>; LISTS],
}

impl Lookups {
    /// Every entry of `list`, read on first use.
    pub fn list(&mut self, ctx: &mut Context, halo: &mut Halo, list: List) -> Result<&[Named], Error> {
        let slot = &mut self.lists[list as usize];
        if slot.is_none() {
            let what = format!("reading the {}s", list.noun());
            let outcome = ctx.http.send_with(&mut halo.auth, halo.api.get(list.path()))?;
            let entries = if list == List::Priority {
                let found: Vec<Priority> = halo.api.decode(&what, outcome)?;
                found.into_iter().map(|p| Named { id: p.priorityid, name: p.name, kind: None, email: None }).collect()
            } else {
                halo.api.decode(&what, outcome)?
            };
            *slot = Some(entries);
        }
        Ok(slot.as_deref().unwrap_or_default())
    }

    /// The id of the entry named `name` (agents: by e-mail too), or a clear error about input
    /// `field` naming what there is.
    pub fn id_of(
        &mut self,
        ctx: &mut Context,
        halo: &mut Halo,
        list: List,
        name: &str,
        field: &str,
    ) -> Result<u64, Error> {
        let name = name.trim();
        let entries = self.list(ctx, halo, list)?;
        let by_email =
            || entries.iter().find(|a| a.email.as_deref().is_some_and(|e| e.trim().eq_ignore_ascii_case(name)));
        entries
            .iter()
            .find(|n| n.name.as_deref().is_some_and(|n| n.trim().eq_ignore_ascii_case(name)))
            .or_else(by_email)
            .map(|n| n.id)
            .ok_or_else(|| {
                let noun = list.noun();
                Error::invalid(
                    &format!("input.{field}"),
                    format!(
                        "Halo has no {noun} named {name:?} (it has: {})",
                        entries.iter().filter_map(|n| n.name.as_deref().map(str::trim)).collect::<Vec<_>>().join(", ")
                    ),
                    format!("Name one of Halo's {noun}s, or leave {field} out."),
                )
            })
    }

    /// The entry with `id`, when there is one.
    pub fn by_id(&mut self, ctx: &mut Context, halo: &mut Halo, list: List, id: u64) -> Result<Option<Named>, Error> {
        Ok(self.list(ctx, halo, list)?.iter().find(|n| n.id == id).cloned())
    }

    /// The ids of the statuses that close a ticket, in Halo's order.
    pub fn closed_statuses(&mut self, ctx: &mut Context, halo: &mut Halo) -> Result<Vec<u64>, Error> {
        Ok(self.list(ctx, halo, List::Status)?.iter().filter(|s| is_closed(s)).map(|s| s.id).collect())
    }
}

pub fn is_closed(status: &Named) -> bool {
    status.kind.as_deref().is_some_and(|k| k.trim().eq_ignore_ascii_case("closed"))
}
