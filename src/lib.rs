//! psa-bridge: ARMOR accounts and tickets into ConnectWise Manage, as a WebAssembly component.
//!
//! `lib.rs` is only the component glue; each action lives in `actions/`, each service's client in
//! its own folder, HTTP (the only I/O) in `http/`, and the pure logic (matching, conditions,
//! mapping) in modules that compile and are tested natively.

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
    pub use crate::bindings::exports::psa_bridge::plugin::types::*;
}

pub mod actions;
pub mod armor;
pub mod connection;
pub mod connectwise;
pub mod error;
pub mod http;
pub mod lenient;
pub mod log;
pub mod matching;

#[cfg(target_arch = "wasm32")]
mod component {
    use crate::actions;
    use crate::bindings::exports::psa_bridge::plugin::actions::Guest;
    use crate::types::*;

    struct Component;

    impl Guest for Component {
        fn test_connection(connection: Connection) -> Result<TestConnectionOutput, PluginError> {
            actions::run(&connection, |ctx| actions::test_connection::run(ctx))
        }

        fn get_accounts(connection: Connection, input: GetAccountsInput) -> Result<GetAccountsOutput, PluginError> {
            actions::run(&connection, |ctx| actions::get_accounts::run(ctx, input))
        }

        fn match_companies(connection: Connection, input: MatchCompaniesInput) -> Result<MatchCompaniesOutput, PluginError> {
            actions::run(&connection, |ctx| actions::match_companies::run(ctx, input))
        }

        fn get_tickets(connection: Connection, input: GetTicketsInput) -> Result<GetTicketsOutput, PluginError> {
            actions::run(&connection, |ctx| actions::get_tickets::run(ctx, input))
        }

        fn post_tickets(connection: Connection, input: PostTicketsInput) -> Result<PostTicketsOutput, PluginError> {
            actions::run(&connection, |ctx| actions::post_tickets::run(ctx, input))
        }
    }

    crate::bindings::export!(Component with_types_in crate::bindings);
}
