//! psa-bridge: security providers' accounts and tickets into MSPs' PSAs, as a WebAssembly component.
//!
//! `lib.rs` is only the component glue. Each action lives in `actions/` and only orchestrates;
//! the generic engines (linking, exactly-once posting, value maps, checkpoints) in `sync/`; each
//! system in its own folder under `connectors/`, whose `mod.rs` is the one list of systems; HTTP
//! (the only I/O) in `http/`; the pure logic (matching, keys, mapping) compiles and is tested natively.

/// The bindings, with serde on every WIT type so that JSON in and out of the component (the
/// `wasi:http/incoming-handler` server, `serve/`) has exactly the harness's shapes: snake_case
/// field names (the Rust names), enums as snake_case strings, unknown fields refused by name, an
/// `option` absent or null. Every record and enum of `wit/` is listed once below (a test checks
/// the lists against the WIT files).
macro_rules! bindings {
    (records: [$($record:literal),* $(,)?], enums: [$($enum:literal),* $(,)?] $(,)?) => {
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
                additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
                additional_type_attributes: {
                    $($record: [#[serde(deny_unknown_fields)]],)*
                    $($enum: [#[serde(rename_all = "snake_case")]],)*
                },
            });
        }

        /// The WIT records that refuse unknown fields, and the enums written in snake_case.
        #[cfg(test)]
        const SERDE_TYPES: (&[&str], &[&str]) = (&[$($record),*], &[$($enum),*]);
    };
}

bindings! {
    records: [
        "psa-bridge:plugin/actions@0.2.0/service-check",
        "psa-bridge:plugin/actions@0.2.0/test-connection-output",
        "psa-bridge:plugin/actions@0.2.0/get-accounts-input",
        "psa-bridge:plugin/actions@0.2.0/get-accounts-output",
        "psa-bridge:plugin/actions@0.2.0/account-override",
        "psa-bridge:plugin/actions@0.2.0/match-companies-input",
        "psa-bridge:plugin/actions@0.2.0/company-match",
        "psa-bridge:plugin/actions@0.2.0/match-candidate",
        "psa-bridge:plugin/actions@0.2.0/ambiguous-match",
        "psa-bridge:plugin/actions@0.2.0/unmatched-account",
        "psa-bridge:plugin/actions@0.2.0/match-counts",
        "psa-bridge:plugin/actions@0.2.0/match-companies-output",
        "psa-bridge:plugin/actions@0.2.0/get-tickets-input",
        "psa-bridge:plugin/actions@0.2.0/get-tickets-output",
        "psa-bridge:plugin/actions@0.2.0/archer-incident",
        "psa-bridge:plugin/actions@0.2.0/post-tickets-input",
        "psa-bridge:plugin/actions@0.2.0/post-result",
        "psa-bridge:plugin/actions@0.2.0/post-counts",
        "psa-bridge:plugin/actions@0.2.0/post-tickets-output",
        "psa-bridge:plugin/actions@0.2.0/ticket-fields",
        "psa-bridge:plugin/actions@0.2.0/create-ticket-input",
        "psa-bridge:plugin/actions@0.2.0/create-ticket-output",
        "psa-bridge:plugin/actions@0.2.0/update-ticket-input",
        "psa-bridge:plugin/actions@0.2.0/ticket-output",
        "psa-bridge:plugin/actions@0.2.0/get-ticket-input",
        "psa-bridge:plugin/actions@0.2.0/get-ticket-output",
        "psa-bridge:plugin/actions@0.2.0/search-tickets-input",
        "psa-bridge:plugin/actions@0.2.0/search-tickets-output",
        "psa-bridge:plugin/actions@0.2.0/close-ticket-input",
        "psa-bridge:plugin/actions@0.2.0/assign-ticket-input",
        "psa-bridge:plugin/actions@0.2.0/add-comment-input",
        "psa-bridge:plugin/actions@0.2.0/add-comment-output",
        "psa-bridge:plugin/actions@0.2.0/sync-back-input",
        "psa-bridge:plugin/actions@0.2.0/sync-back-result",
        "psa-bridge:plugin/actions@0.2.0/sync-back-counts",
        "psa-bridge:plugin/actions@0.2.0/sync-back-output",
        "psa-bridge:plugin/actions@0.2.0/sync-directory-input",
        "psa-bridge:plugin/actions@0.2.0/directory-result",
        "psa-bridge:plugin/actions@0.2.0/directory-counts",
        "psa-bridge:plugin/actions@0.2.0/sync-directory-output",
        "psa-bridge:plugin/actions@0.2.0/sync-read",
        "psa-bridge:plugin/actions@0.2.0/sync-post",
        "psa-bridge:plugin/actions@0.2.0/sync-back-options",
        "psa-bridge:plugin/actions@0.2.0/sync-state",
        "psa-bridge:plugin/actions@0.2.0/sync-input",
        "psa-bridge:plugin/actions@0.2.0/sync-item",
        "psa-bridge:plugin/actions@0.2.0/sync-counts",
        "psa-bridge:plugin/actions@0.2.0/drift",
        "psa-bridge:plugin/actions@0.2.0/sync-output",
        "psa-bridge:plugin/connection@0.2.0/login",
        "psa-bridge:plugin/connection@0.2.0/armor-api-key",
        "psa-bridge:plugin/connection@0.2.0/armor-connection",
        "psa-bridge:plugin/connection@0.2.0/connectwise-api-key",
        "psa-bridge:plugin/connection@0.2.0/connectwise-connection",
        "psa-bridge:plugin/connection@0.2.0/link-fields",
        "psa-bridge:plugin/connection@0.2.0/rate-limit",
        "psa-bridge:plugin/connection@0.2.0/halo-connection",
        "psa-bridge:plugin/connection@0.2.0/stellar-cyber-connection",
        "psa-bridge:plugin/connection@0.2.0/graph-mail-connection",
        "psa-bridge:plugin/connection@0.2.0/archer-connection",
        "psa-bridge:plugin/connection@0.2.0/graph-directory-connection",
        "psa-bridge:plugin/connection@0.2.0/zivver-connection",
        "psa-bridge:plugin/connection@0.2.0/tuning",
        "psa-bridge:plugin/connection@0.2.0/connection",
        "psa-bridge:plugin/model@0.2.0/plugin-error",
        "psa-bridge:plugin/model@0.2.0/address",
        "psa-bridge:plugin/model@0.2.0/account",
        "psa-bridge:plugin/model@0.2.0/comment",
        "psa-bridge:plugin/model@0.2.0/ticket",
        "psa-bridge:plugin/model@0.2.0/value-mapping",
        "psa-bridge:plugin/model@0.2.0/custom-field",
        "psa-bridge:plugin/model@0.2.0/psa-ticket",
        "psa-bridge:plugin/model@0.2.0/psa-note",
        "psa-bridge:plugin/triggers@0.2.0/new-or-changed-tickets-input",
        "psa-bridge:plugin/triggers@0.2.0/ticket-event",
        "psa-bridge:plugin/triggers@0.2.0/trigger-state",
        "psa-bridge:plugin/triggers@0.2.0/ticket-poll",
    ],
    enums: [
        "psa-bridge:plugin/actions@0.2.0/match-method",
        "psa-bridge:plugin/actions@0.2.0/field-update",
        "psa-bridge:plugin/actions@0.2.0/post-outcome",
        "psa-bridge:plugin/actions@0.2.0/sync-back-outcome",
        "psa-bridge:plugin/actions@0.2.0/account-kind",
        "psa-bridge:plugin/actions@0.2.0/directory-outcome",
        "psa-bridge:plugin/actions@0.2.0/sync-step",
        "psa-bridge:plugin/actions@0.2.0/sync-action",
        "psa-bridge:plugin/actions@0.2.0/drift-kind",
        "psa-bridge:plugin/triggers@0.2.0/ticket-change",
    ],
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
pub mod serve;
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

    /// The component as an HTTP service: the same actions, the Halo webhooks (`serve/`).
    impl crate::bindings::exports::wasi::http::incoming_handler::Guest for Component {
        fn handle(request: wasi::http::types::IncomingRequest, response_out: wasi::http::types::ResponseOutparam) {
            crate::http::incoming::handle(request, response_out)
        }
    }

    crate::bindings::export!(Component with_types_in crate::bindings);
}

#[cfg(test)]
mod tests {
    /// Every record and enum of `wit/` has its serde attributes (the lists in `bindings!`).
    #[test]
    fn every_wit_record_and_enum_is_listed_for_serde() {
        let (records, enums) = super::SERDE_TYPES;
        let (mut want_records, mut want_enums) = (Vec::new(), Vec::new());
        for file in ["model", "connection", "actions", "schedule", "world"] {
            let text = std::fs::read_to_string(format!("{}/wit/{file}.wit", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let mut interface = "";
            for line in text.lines().map(str::trim) {
                let mut words = line.split_whitespace();
                match (words.next(), words.next()) {
                    (Some("interface"), Some(name)) => interface = name,
                    (Some("record"), Some(name)) => {
                        want_records.push(format!("psa-bridge:plugin/{interface}@0.2.0/{name}"))
                    }
                    (Some("enum"), Some(name)) => {
                        want_enums.push(format!("psa-bridge:plugin/{interface}@0.2.0/{name}"))
                    }
                    (Some("variant" | "flags"), Some(name)) => {
                        panic!("{name}: add variants and flags to the serde lists")
                    }
                    _ => {}
                }
            }
        }
        let sorted = |list: &[&str]| {
            let mut list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            list.sort();
            list
        };
        want_records.sort();
        want_enums.sort();
        assert_eq!(sorted(records), want_records);
        assert_eq!(sorted(enums), want_enums);
    }
}
