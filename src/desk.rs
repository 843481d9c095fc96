//! The ticket desk: the HaloITSM plugin's single-ticket actions (create, update, get, search, close,
//! assign, comment) on any destination. A destination implements [`Desk`] with its own requests;
//! the rules every destination shares live here: what an input must give, an external key making
//! a create idempotent, a create or comment whose answer was lost looked for before it is tried
//! again (bounded as the sync engine bounds it), and `max_results` cutting a search short.

use crate::actions::Context;
use crate::error::Error;
use crate::http::HttpError;
use crate::sync::post::{MAX_CREATES, MAX_NOTE_POSTS};
use crate::types::{
    AddCommentInput, AddCommentOutput, AssignTicketInput, CloseTicketInput, CreateTicketInput, CreateTicketOutput,
    GetTicketInput, GetTicketOutput, PsaNote, PsaTicket, SearchTicketsInput, SearchTicketsOutput, TicketFields,
    TicketOutput, UpdateTicketInput,
};

/// A note to add: its text, who may see it, and (Halo) the Action outcome by name.
pub struct NewComment<'a> {
    pub text: &'a str,
    pub public: bool,
    pub outcome: Option<&'a str>,
    /// ConnectWise: a resolution note (closing a ticket).
    pub resolution: bool,
}

/// One destination's ticket requests. Ids are the destination's own (numbers, as text); names
/// are resolved to ids by the destination, with a clear error naming what there is.
pub trait Desk {
    /// Creates a ticket with `fields` (custom fields aside) under `key`; `None` when the answer
    /// was lost and the ticket may or may not exist.
    fn create(
        &mut self,
        ctx: &mut Context,
        fields: &TicketFields,
        key: Option<&str>,
    ) -> Result<Option<PsaTicket>, Error>;
    /// The ticket stored under `key`, lowest id first.
    fn find_by_key(&mut self, ctx: &mut Context, key: &str) -> Result<Option<PsaTicket>, Error>;
    fn get(&mut self, ctx: &mut Context, id: u64) -> Result<PsaTicket, Error>;
    /// Sets the fields given (custom fields by name) and returns the ticket as it is then.
    fn update(&mut self, ctx: &mut Context, id: u64, fields: &TicketFields) -> Result<PsaTicket, Error>;
    /// Moves the ticket to `status` (default: the first closed status) with the resolution.
    fn close(
        &mut self,
        ctx: &mut Context,
        id: u64,
        status: Option<&str>,
        resolution: Option<&str>,
    ) -> Result<PsaTicket, Error>;
    /// Tickets matching `filter`, in id order; with a `limit`, at most one more than it.
    fn search(
        &mut self,
        ctx: &mut Context,
        filter: &SearchTicketsInput,
        limit: Option<usize>,
    ) -> Result<Vec<PsaTicket>, Error>;
    /// Every note of the ticket, oldest first.
    fn notes(&mut self, ctx: &mut Context, id: u64) -> Result<Vec<PsaNote>, Error>;
    /// Adds a note; `None` when the answer was lost and the note may or may not exist.
    fn comment(&mut self, ctx: &mut Context, id: u64, comment: &NewComment) -> Result<Option<PsaNote>, Error>;
}

/// A text input that says something: trimmed, `None` when absent or blank.
pub fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Whether a write's outcome is unknown (sent, no answer): the caller must look before retrying.
pub fn lost<T>(outcome: &Result<T, HttpError>) -> bool {
    matches!(outcome, Err(HttpError::OutcomeUnknown { .. }))
}

/// A ticket id as the destinations number them.
pub fn ticket_id(value: &str) -> Result<u64, Error> {
    value.trim().parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        Error::invalid(
            "input.ticket_id",
            format!("{value:?} is not a ticket id"),
            "Give the ticket's number as the destination shows it, e.g. \"1234\" (search_tickets finds it).",
        )
    })
}

/// The error for a ticket id the destination does not have.
pub fn no_ticket(service: &str, id: u64) -> Error {
    Error::new(
        format!("{service} has no ticket {id}."),
        "Check the ticket id (search_tickets finds tickets by company, status, summary or external key).",
        "",
    )
}

/// An ISO-8601 instant input, or a clear error about `field`.
pub fn instant(field: &str, text: &str) -> Result<chrono::DateTime<chrono::Utc>, Error> {
    let normalised = crate::lenient::iso_utc(text);
    chrono::DateTime::parse_from_rfc3339(&normalised).map(|t| t.to_utc()).map_err(|_| {
        Error::invalid(field, format!("{text:?} is not an ISO-8601 instant"), "Give it as e.g. 2024-05-01T12:00:00Z.")
    })
}

/// The fields of `fields` that are set, by input name (custom fields count when there are any).
fn set_fields(fields: &TicketFields) -> Vec<&'static str> {
    let texts = [
        ("summary", &fields.summary),
        ("details", &fields.details),
        ("company", &fields.company),
        ("board", &fields.board),
        ("ticket_type", &fields.ticket_type),
        ("status", &fields.status),
        ("priority", &fields.priority),
        ("team", &fields.team),
        ("agent", &fields.agent),
        ("category", &fields.category),
        ("impact", &fields.impact),
        ("urgency", &fields.urgency),
    ];
    let mut set: Vec<&'static str> = texts.iter().filter(|(_, v)| given(v).is_some()).map(|(n, _)| *n).collect();
    if fields.custom_fields.as_ref().is_some_and(|f| !f.is_empty()) {
        set.push("custom_fields");
    }
    set
}

/// Fields with nothing set, to fill in from.
pub fn no_fields() -> TicketFields {
    TicketFields {
        summary: None,
        details: None,
        company: None,
        board: None,
        ticket_type: None,
        status: None,
        priority: None,
        team: None,
        agent: None,
        category: None,
        impact: None,
        urgency: None,
        custom_fields: None,
    }
}

pub fn create(ctx: &mut Context, desk: &mut dyn Desk, input: &CreateTicketInput) -> Result<CreateTicketOutput, Error> {
    let fields = &input.ticket;
    for (name, value) in [("summary", &fields.summary), ("company", &fields.company)] {
        if given(value).is_none() {
            return Err(Error::invalid(
                &format!("input.ticket.{name}"),
                "it is missing",
                "A new ticket needs a summary and a company (its id, identifier or name).",
            ));
        }
    }
    let key = given(&input.external_key);
    if let Some(key) = key
        && let Some(ticket) = desk.find_by_key(ctx, key)?
    {
        return Ok(CreateTicketOutput { ticket, created: false });
    }
    let without_custom = TicketFields { custom_fields: None, ..fields.clone() };
    let mut created = None;
    for _ in 0..MAX_CREATES {
        if let Some(ticket) = desk.create(ctx, &without_custom, key)? {
            created = Some(ticket);
            break;
        }
        let Some(key) = key else {
            return Err(Error::new(
                "The destination did not answer the create, so the ticket may or may not have been created.",
                "Look for it with search_tickets before creating it again; give an external_key to make create_ticket \
                 safe to retry.",
                "",
            ));
        };
        if let Some(ticket) = desk.find_by_key(ctx, key)? {
            created = Some(ticket);
            break;
        }
    }
    let ticket = created.ok_or_else(|| {
        Error::new(
            format!("The destination lost the answer to every one of {MAX_CREATES} creates, and none landed."),
            "Run create_ticket again with the same external_key later: it will not create a second ticket.",
            "",
        )
    })?;
    let ticket = match fields.custom_fields.as_ref().filter(|f| !f.is_empty()) {
        None => ticket,
        Some(custom) => {
            let only_custom = TicketFields { custom_fields: Some(custom.clone()), ..no_fields() };
            let id = ticket_id(&ticket.id)?;
            desk.update(ctx, id, &only_custom).map_err(|e| {
                Error::new(
                    format!("Ticket {} was created, but its custom fields could not be set: {}", ticket.id, e.cause),
                    format!("Set them with update_ticket on ticket {}. {}", ticket.id, e.assistance),
                    e.data,
                )
            })?
        }
    };
    Ok(CreateTicketOutput { ticket, created: true })
}

pub fn update(ctx: &mut Context, desk: &mut dyn Desk, input: &UpdateTicketInput) -> Result<TicketOutput, Error> {
    let id = ticket_id(&input.ticket_id)?;
    if set_fields(&input.ticket).is_empty() {
        return Err(Error::invalid(
            "input.ticket",
            "it sets no field",
            "Give at least one field to change (summary, status, priority, agent, custom_fields, ...).",
        ));
    }
    Ok(TicketOutput { ticket: desk.update(ctx, id, &input.ticket)? })
}

pub fn assign(ctx: &mut Context, desk: &mut dyn Desk, input: &AssignTicketInput) -> Result<TicketOutput, Error> {
    let id = ticket_id(&input.ticket_id)?;
    if given(&input.agent).is_none() && given(&input.team).is_none() {
        return Err(Error::invalid(
            "input",
            "neither agent nor team is given",
            "Name the agent (ConnectWise: member), the team, or both.",
        ));
    }
    let fields = TicketFields { agent: input.agent.clone(), team: input.team.clone(), ..no_fields() };
    Ok(TicketOutput { ticket: desk.update(ctx, id, &fields)? })
}

pub fn get(ctx: &mut Context, desk: &mut dyn Desk, input: &GetTicketInput) -> Result<GetTicketOutput, Error> {
    let id = ticket_id(&input.ticket_id)?;
    let ticket = desk.get(ctx, id)?;
    let notes = if input.include_notes.unwrap_or(false) { Some(desk.notes(ctx, id)?) } else { None };
    Ok(GetTicketOutput { ticket, notes })
}

pub fn close(ctx: &mut Context, desk: &mut dyn Desk, input: &CloseTicketInput) -> Result<TicketOutput, Error> {
    let id = ticket_id(&input.ticket_id)?;
    Ok(TicketOutput { ticket: desk.close(ctx, id, given(&input.status), given(&input.resolution))? })
}

pub fn search(
    ctx: &mut Context,
    desk: &mut dyn Desk,
    destination: &str,
    input: &SearchTicketsInput,
) -> Result<SearchTicketsOutput, Error> {
    let limit = input.max_results.map(|m| m as usize);
    if limit == Some(0) {
        return Err(Error::invalid(
            "input.max_results",
            "it is 0",
            "Give at least 1, or leave it out for every match.",
        ));
    }
    let mut tickets = desk.search(ctx, input, limit)?;
    let more = limit.is_some_and(|l| tickets.len() > l);
    if let Some(limit) = limit {
        tickets.truncate(limit);
    }
    crate::log::info(format!("search_tickets: {} tickets{}", tickets.len(), if more { " (more match)" } else { "" }));
    Ok(SearchTicketsOutput { destination: destination.to_string(), count: tickets.len() as u32, tickets, more })
}

pub fn comment(ctx: &mut Context, desk: &mut dyn Desk, input: &AddCommentInput) -> Result<AddCommentOutput, Error> {
    let id = ticket_id(&input.ticket_id)?;
    let text = input.comment.trim();
    if text.is_empty() {
        return Err(Error::invalid("input.comment", "it is empty", "Give the text of the note."));
    }
    let comment =
        NewComment { text, public: input.public.unwrap_or(false), outcome: given(&input.outcome), resolution: false };
    Ok(AddCommentOutput { note: add_once(ctx, desk, id, &comment)? })
}

/// Adds the note once: a post whose answer was lost is looked for among the notes that were not
/// there before it, and tried again only when it is not there.
pub fn add_once(ctx: &mut Context, desk: &mut dyn Desk, id: u64, comment: &NewComment) -> Result<PsaNote, Error> {
    let text = comment.text.trim();
    let mut known: Vec<String> = desk.notes(ctx, id)?.into_iter().map(|n| n.id).collect();
    for _ in 0..MAX_NOTE_POSTS {
        if let Some(note) = desk.comment(ctx, id, comment)? {
            return Ok(note);
        }
        let notes = desk.notes(ctx, id)?;
        if let Some(note) = notes.iter().find(|n| n.text.trim() == text && !known.contains(&n.id)) {
            return Ok(note.clone());
        }
        known = notes.into_iter().map(|n| n.id).collect();
    }
    Err(Error::new(
        format!("The destination lost the answer to every one of {MAX_NOTE_POSTS} posts of the note, and none landed."),
        "Run the action again later.",
        "",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::hostile_tests::connection;
    use crate::actions::run_with;
    use crate::http::fake::{FakeTransport, Reply};
    use crate::types::CustomField;

    /// A desk in memory whose writes lose their answer (after applying) as often as `lose` says.
    #[derive(Default)]
    struct Memory {
        tickets: Vec<PsaTicket>,
        notes: Vec<PsaNote>,
        /// Answers to lose, in order: true loses the next write's answer.
        lose: Vec<bool>,
        writes: usize,
        updates: Vec<TicketFields>,
    }

    impl Memory {
        fn lost(&mut self) -> bool {
            self.writes += 1;
            if self.lose.is_empty() { false } else { self.lose.remove(0) }
        }
    }

    fn ticket(id: usize, key: Option<&str>) -> PsaTicket {
        PsaTicket {
            system: "memory".into(),
            id: id.to_string(),
            summary: "s".into(),
            details: None,
            company_id: "1".into(),
            company_name: None,
            board: None,
            ticket_type: None,
            status: "New".into(),
            closed: false,
            priority: None,
            team: None,
            agent: None,
            category: None,
            external_key: key.map(str::to_string),
            created: None,
            updated: None,
            closure_note: None,
            custom_fields: Vec::new(),
        }
    }

    impl Desk for Memory {
        fn create(&mut self, _: &mut Context, _: &TicketFields, key: Option<&str>) -> Result<Option<PsaTicket>, Error> {
            let made = ticket(self.tickets.len() + 1, key);
            self.tickets.push(made.clone());
            Ok(if self.lost() { None } else { Some(made) })
        }
        fn find_by_key(&mut self, _: &mut Context, key: &str) -> Result<Option<PsaTicket>, Error> {
            Ok(self.tickets.iter().find(|t| t.external_key.as_deref() == Some(key)).cloned())
        }
        fn get(&mut self, _: &mut Context, id: u64) -> Result<PsaTicket, Error> {
            self.tickets.get(id as usize - 1).cloned().ok_or_else(|| no_ticket("Memory", id))
        }
        fn update(&mut self, ctx: &mut Context, id: u64, fields: &TicketFields) -> Result<PsaTicket, Error> {
            self.updates.push(fields.clone());
            self.get(ctx, id)
        }
        fn close(&mut self, ctx: &mut Context, id: u64, _: Option<&str>, _: Option<&str>) -> Result<PsaTicket, Error> {
            self.get(ctx, id)
        }
        fn search(
            &mut self,
            _: &mut Context,
            _: &SearchTicketsInput,
            limit: Option<usize>,
        ) -> Result<Vec<PsaTicket>, Error> {
            Ok(self.tickets.iter().take(limit.map_or(usize::MAX, |l| l + 1)).cloned().collect())
        }
        fn notes(&mut self, _: &mut Context, id: u64) -> Result<Vec<PsaNote>, Error> {
            Ok(self.notes.iter().filter(|n| n.ticket_id == id.to_string()).cloned().collect())
        }
        fn comment(&mut self, _: &mut Context, id: u64, comment: &NewComment) -> Result<Option<PsaNote>, Error> {
            let note = PsaNote {
                id: (self.notes.len() + 1).to_string(),
                ticket_id: id.to_string(),
                text: comment.text.to_string(),
                public: comment.public,
                author: None,
                created: None,
                outcome: None,
            };
            self.notes.push(note.clone());
            Ok(if self.lost() { None } else { Some(note) })
        }
    }

    fn with<T>(
        desk: &mut Memory,
        action: impl FnOnce(&mut Context, &mut Memory) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut transport = FakeTransport::new(|_| Reply::status(500));
        run_with(&connection(), &mut transport, |ctx| action(ctx, desk))
    }

    fn create_input(key: Option<&str>) -> CreateTicketInput {
        let ticket = TicketFields { summary: Some("s".into()), company: Some("1".into()), ..no_fields() };
        CreateTicketInput { destination: None, ticket, external_key: key.map(str::to_string) }
    }

    #[test]
    fn a_key_makes_create_idempotent_and_a_lost_answer_is_found_not_repeated() {
        let mut desk = Memory { lose: vec![true], ..Memory::default() };
        let first = with(&mut desk, |ctx, d| create(ctx, d, &create_input(Some("k1")))).unwrap();
        assert!(first.created);
        assert_eq!((desk.tickets.len(), desk.writes), (1, 1), "the lost create was found by its key");
        let again = with(&mut desk, |ctx, d| create(ctx, d, &create_input(Some("k1")))).unwrap();
        assert_eq!((again.created, again.ticket.id, desk.tickets.len()), (false, first.ticket.id, 1));
    }

    #[test]
    fn a_lost_create_without_a_key_is_an_error_not_a_second_ticket() {
        let mut desk = Memory { lose: vec![true], ..Memory::default() };
        let error = with(&mut desk, |ctx, d| create(ctx, d, &create_input(None))).unwrap_err();
        assert!(error.cause.contains("may or may not"), "{error:?}");
        assert_eq!(desk.tickets.len(), 1);
    }

    #[test]
    fn custom_fields_are_set_after_the_create_and_inputs_are_checked() {
        let mut desk = Memory::default();
        let mut input = create_input(None);
        input.ticket.custom_fields = Some(vec![CustomField { name: "Ref".into(), value: "1".into() }]);
        with(&mut desk, |ctx, d| create(ctx, d, &input)).unwrap();
        assert_eq!(desk.updates.len(), 1);
        assert_eq!(set_fields(&desk.updates[0]), ["custom_fields"]);
        let mut no_summary = create_input(None);
        no_summary.ticket.summary = Some("  ".into());
        assert!(with(&mut desk, |ctx, d| create(ctx, d, &no_summary)).unwrap_err().cause.contains("summary"));
        let nothing = UpdateTicketInput { destination: None, ticket_id: "1".into(), ticket: no_fields() };
        assert!(with(&mut desk, |ctx, d| update(ctx, d, &nothing)).unwrap_err().cause.contains("sets no field"));
        let nobody =
            AssignTicketInput { destination: None, ticket_id: "1".into(), agent: None, team: Some(" ".into()) };
        assert!(with(&mut desk, |ctx, d| assign(ctx, d, &nobody)).is_err());
        assert!(ticket_id("T-1").is_err() && ticket_id("0").is_err() && ticket_id(" 42 ").unwrap() == 42);
    }

    #[test]
    fn a_lost_comment_is_found_among_the_new_notes_and_an_old_twin_does_not_count() {
        let mut desk = Memory { tickets: vec![ticket(1, None)], ..Memory::default() };
        let input = AddCommentInput {
            destination: None,
            ticket_id: "1".into(),
            comment: "Called back.".into(),
            public: None,
            outcome: None,
        };
        with(&mut desk, |ctx, d| comment(ctx, d, &input)).unwrap();
        desk.lose = vec![true];
        let note = with(&mut desk, |ctx, d| comment(ctx, d, &input)).unwrap().note;
        assert_eq!((desk.notes.len(), note.id.as_str()), (2, "2"), "the new note, not the old one with the same text");
    }

    #[test]
    fn max_results_cuts_the_search_and_says_there_is_more() {
        let mut desk = Memory { tickets: (1..=5).map(|i| ticket(i, None)).collect(), ..Memory::default() };
        let search_input = |max: Option<u32>| SearchTicketsInput {
            destination: None,
            company: None,
            status: None,
            open: None,
            agent: None,
            team: None,
            summary: None,
            updated_since: None,
            external_key: None,
            board: None,
            max_results: max,
        };
        let cut = with(&mut desk, |ctx, d| search(ctx, d, "memory", &search_input(Some(2)))).unwrap();
        assert_eq!((cut.count, cut.more), (2, true));
        let exact = with(&mut desk, |ctx, d| search(ctx, d, "memory", &search_input(Some(5)))).unwrap();
        assert_eq!((exact.count, exact.more), (5, false));
        let all = with(&mut desk, |ctx, d| search(ctx, d, "memory", &search_input(None))).unwrap();
        assert_eq!((all.count, all.more), (5, false));
        assert!(with(&mut desk, |ctx, d| search(ctx, d, "memory", &search_input(Some(0)))).is_err());
    }
}
