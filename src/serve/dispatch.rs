//! The one table of the actions the server runs, by their platform names: each entry decodes the
//! JSON input into the action's WIT input record (serde, as the harness's `convert.rs` would),
//! runs the very function the component's `Guest` export calls, through `actions::run`, and
//! encodes its output. Every function of `wit/actions.wit` is here (a test checks).

use super::protocol::output_json;
use crate::actions::{self, Context};
use crate::error::Error;
use crate::http::Transport;
use crate::types::Connection;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The transport an action runs on: `None` is WASI (the component), `Some` another one (native
/// tests: the fake).
pub type Via<'a> = Option<&'a mut dyn Transport>;

/// `Ok(result)` when the action ran (its output or its own error), `Err(problem)` when the input
/// did not fit the action's input record (the client's mistake: 400).
pub type Outcome = Result<Result<Value, Error>, String>;

pub struct Action {
    /// The platform's name (`get_accounts`).
    pub name: &'static str,
    run: fn(Via<'_>, &Connection, Value) -> Outcome,
}

impl Action {
    pub fn run(&self, via: Via<'_>, connection: &Connection, input: Value) -> Outcome {
        (self.run)(via, connection, input)
    }
}

macro_rules! action {
    ($name:literal, $function:path) => {
        Action { name: $name, run: |via, connection, input| typed(via, connection, input, $function) }
    };
}

pub const ACTIONS: &[Action] = &[
    Action {
        name: "test_connection",
        run: |via, connection, _input| untyped(via, connection, actions::test_connection::run),
    },
    action!("get_accounts", actions::get_accounts::run),
    action!("match_companies", actions::match_companies::run),
    action!("get_tickets", actions::get_tickets::run),
    action!("post_tickets", actions::post_tickets::run),
    action!("create_ticket", actions::ticket_actions::create_ticket),
    action!("update_ticket", actions::ticket_actions::update_ticket),
    action!("get_ticket", actions::ticket_actions::get_ticket),
    action!("search_tickets", actions::ticket_actions::search_tickets),
    action!("close_ticket", actions::ticket_actions::close_ticket),
    action!("assign_ticket", actions::ticket_actions::assign_ticket),
    action!("add_comment", actions::ticket_actions::add_comment),
    action!("sync_back", actions::sync_back::run),
    action!("sync_directory", actions::sync_directory::run),
    action!("sync", actions::sync::run),
];

pub fn find(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

pub fn names() -> Vec<&'static str> {
    let mut names: Vec<_> = ACTIONS.iter().map(|a| a.name).collect();
    names.sort_unstable();
    names
}

/// The connection record from the message's JSON; the problem names the field.
pub fn connection(value: Value) -> Result<Connection, String> {
    serde_json::from_value(value).map_err(|e| format!("`connection`: {e}"))
}

fn typed<I: DeserializeOwned, O: Serialize>(
    via: Via<'_>,
    connection: &Connection,
    input: Value,
    action: fn(&mut Context, I) -> Result<O, Error>,
) -> Outcome {
    let input: I = serde_json::from_value(input).map_err(|e| format!("`input`: {e}"))?;
    Ok(execute(via, connection, |ctx| action(ctx, input)).map(|output| output_json(&output)))
}

fn untyped<O: Serialize>(
    via: Via<'_>,
    connection: &Connection,
    action: fn(&mut Context) -> Result<O, Error>,
) -> Outcome {
    Ok(execute(via, connection, action).map(|output| output_json(&output)))
}

fn execute<T>(
    via: Via<'_>,
    connection: &Connection,
    action: impl FnOnce(&mut Context) -> Result<T, Error>,
) -> Result<T, Error> {
    match via {
        Some(transport) => actions::run_with(connection, transport, action),
        None => on_wasi(connection, action),
    }
}

#[cfg(target_arch = "wasm32")]
fn on_wasi<T>(connection: &Connection, action: impl FnOnce(&mut Context) -> Result<T, Error>) -> Result<T, Error> {
    actions::run(connection, action)
}

#[cfg(not(target_arch = "wasm32"))]
fn on_wasi<T>(_: &Connection, _: impl FnOnce(&mut Context) -> Result<T, Error>) -> Result<T, Error> {
    Err(Error::new("There is no WASI transport outside the component.", "Pass a transport (tests: the fake).", ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table and `wit/actions.wit` name the same actions.
    #[test]
    fn every_wit_action_is_in_the_table_once() {
        let wit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/wit/actions.wit")).unwrap();
        let mut declared: Vec<String> = wit
            .lines()
            .filter_map(|line| line.trim().split_once(": func(").map(|(name, _)| name.replace('-', "_")))
            .collect();
        declared.sort();
        let table: Vec<String> = names().into_iter().map(String::from).collect();
        assert_eq!(table, declared);
    }
}
