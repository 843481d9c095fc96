//! psa-bridge: security providers' accounts and tickets into MSPs' PSAs, as a WebAssembly component.
//!
//! `lib.rs` is only the component glue. Each action lives in `actions/` and only orchestrates;
//! the generic engines (linking, exactly-once posting, value maps, checkpoints) in `sync/`; each
//! system in its own folder under `connectors/`, whose `mod.rs` is the one list of systems; HTTP
//! (the only I/O) in `http/`; the pure logic (matching, keys, mapping) compiles and is tested natively.

mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        with: {
            "wasi:http/outgoing-handler@0.2.12": wasi::http::outgoing_handler,
            "wasi:http/types@0.2.12": wasi::http::types,
            "wasi:io/poll@0.2.12": wasi::io::poll,
            "wasi:io/error@0.2.12": wasi::io::error,
            "wasi:io/streams@0.2.12": wasi::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": wasi::clocks::monotonic_clock,
        },
        additional_derives: [PartialEq],
    });
}

/// The WIT records every action takes and returns; the actions work on them directly.
pub mod types {
    pub use crate::bindings::exports::psa_bridge::plugin::actions::{
        AccountKind, AccountOverride, AddCommentInput, AddCommentOutput, AmbiguousMatch, ArcherIncident,
        AssignTicketInput, CloseTicketInput, CompanyMatch, CreateTicketInput, CreateTicketOutput, DirectoryCounts,
        DirectoryOutcome, DirectoryResult, FieldUpdate, GetAccountsInput, GetAccountsOutput, GetTicketInput,
        GetTicketOutput, GetTicketsInput, GetTicketsOutput, MatchCandidate, MatchCompaniesInput, MatchCompaniesOutput,
        MatchCounts, MatchMethod, PostCounts, PostOutcome, PostResult, PostTicketsInput, PostTicketsOutput,
        SearchTicketsInput, SearchTicketsOutput, ServiceCheck, SyncBackCounts, SyncBackInput, SyncBackOutcome,
        SyncBackOutput, SyncBackResult, SyncDirectoryInput, SyncDirectoryOutput, TestConnectionOutput, TicketFields,
        TicketOutput, UnmatchedAccount, UpdateTicketInput,
    };
    pub use crate::bindings::exports::psa_bridge::plugin::actions::{
        Drift, DriftKind, SyncAction, SyncBackOptions, SyncCounts, SyncInput, SyncItem, SyncOutput, SyncPost, SyncRead,
        SyncState, SyncStep,
    };
    pub use crate::bindings::exports::psa_bridge::plugin::connection::*;
    pub use crate::bindings::exports::psa_bridge::plugin::model::*;
    pub use crate::bindings::exports::psa_bridge::plugin::triggers::{
        NewOrChangedTicketsInput, TicketChange, TicketEvent, TicketPoll, TriggerState,
    };
}

pub mod actions;
pub mod connection;
pub mod connectors;
pub mod desk;
pub mod error;
pub mod html;
pub mod http;
pub mod lenient;
pub mod log;
pub mod matching;
pub mod sync;

#[cfg(target_arch = "wasm32")]
mod component {
    use crate::actions;
    use crate::bindings::exports::psa_bridge::plugin::actions::Guest;
    use crate::types::*;

    struct Component;

    impl Guest for Component {
        fn test_connection(connection: Connection) -> Result<TestConnectionOutput, PluginError> {
            actions::run(&connection, actions::test_connection::run)
        }

        fn get_accounts(connection: Connection, input: GetAccountsInput) -> Result<GetAccountsOutput, PluginError> {
            actions::run(&connection, |ctx| actions::get_accounts::run(ctx, input))
        }

        fn match_companies(
            connection: Connection,
            input: MatchCompaniesInput,
        ) -> Result<MatchCompaniesOutput, PluginError> {
            actions::run(&connection, |ctx| actions::match_companies::run(ctx, input))
        }

        fn get_tickets(connection: Connection, input: GetTicketsInput) -> Result<GetTicketsOutput, PluginError> {
            actions::run(&connection, |ctx| actions::get_tickets::run(ctx, input))
        }

        fn post_tickets(connection: Connection, input: PostTicketsInput) -> Result<PostTicketsOutput, PluginError> {
            actions::run(&connection, |ctx| actions::post_tickets::run(ctx, input))
        }

        fn create_ticket(connection: Connection, input: CreateTicketInput) -> Result<CreateTicketOutput, PluginError> {
            actions::run(&connection, |ctx| actions::ticket_actions::create_ticket(ctx, input))
        }

        fn update_ticket(connection: Connection, input: UpdateTicketInput) -> Result<TicketOutput, PluginError> {
            actions::run(&connection, |ctx| actions::ticket_actions::update_ticket(ctx, input))
        }

        fn get_ticket(connection: Connection, input: GetTicketInput) -> Result<GetTicketOutput, PluginError> {
            actions::run(&connection, |ctx| actions::ticket_actions::get_ticket(ctx, input))
        }

        fn search_tickets(
            connection: Connection,
            input: SearchTicketsInput,
        ) -> Result<SearchTicketsOutput, PluginError> {
            actions::run(&connection, |ctx| actions::ticket_actions::search_tickets(ctx, input))
        }

        fn close_ticket(connection: Connection, input: CloseTicketInput) -> Result<TicketOutput, PluginError> {
            actions::run(&connection, |ctx| actions::ticket_actions::close_ticket(ctx, input))
        }

        fn assign_ticket(connection: Connection, input: AssignTicketInput) -> Result<TicketOutput, PluginError> {
            actions::run(&connection, |ctx| actions::ticket_actions::assign_ticket(ctx, input))
        }

        fn add_comment(connection: Connection, input: AddCommentInput) -> Result<AddCommentOutput, PluginError> {
            actions::run(&connection, |ctx| actions::ticket_actions::add_comment(ctx, input))
        }

        fn sync_back(connection: Connection, input: SyncBackInput) -> Result<SyncBackOutput, PluginError> {
            actions::run(&connection, |ctx| actions::sync_back::run(ctx, input))
        }

        fn sync_directory(
            connection: Connection,
            input: SyncDirectoryInput,
        ) -> Result<SyncDirectoryOutput, PluginError> {
            actions::run(&connection, |ctx| actions::sync_directory::run(ctx, input))
        }

        fn sync(connection: Connection, input: SyncInput) -> Result<SyncOutput, PluginError> {
            actions::run(&connection, |ctx| actions::sync::run(ctx, input))
        }
    }

    impl crate::bindings::exports::psa_bridge::plugin::tasks::Guest for Component {
        fn sync_pair(
            connection: Connection,
            mut input: SyncInput,
            state: Option<SyncState>,
        ) -> Result<SyncOutput, PluginError> {
            input.state = state;
            actions::run(&connection, |ctx| actions::sync::run(ctx, input))
        }
    }

    impl crate::bindings::exports::psa_bridge::plugin::triggers::Guest for Component {
        fn new_or_changed_tickets(
            connection: Connection,
            input: NewOrChangedTicketsInput,
            state: Option<TriggerState>,
        ) -> Result<TicketPoll, PluginError> {
            actions::run(&connection, |ctx| actions::new_or_changed_tickets::run(ctx, input, state))
        }
    }

    impl crate::bindings::exports::psa_bridge::plugin::registry::Guest for Component {
        fn allowed_origins(connection: Connection) -> Result<Vec<String>, PluginError> {
            let secrets = crate::connectors::secrets(&connection);
            crate::connectors::allowed_origins(&connection).map_err(|e| e.redacted(&secrets))
        }
    }

    crate::bindings::export!(Component with_types_in crate::bindings);
}
