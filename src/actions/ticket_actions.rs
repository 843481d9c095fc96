//! The HaloITSM plugin's ticket actions, on the destination the connection (or the input) names.
//! The rules they share are the desk engine's (`desk.rs`); each destination brings its requests.

use super::Context;
use crate::connectors;
use crate::desk;
use crate::error::Error;
use crate::types::{
    AddCommentInput, AddCommentOutput, AssignTicketInput, CloseTicketInput, CreateTicketInput, CreateTicketOutput,
    GetTicketInput, GetTicketOutput, SearchTicketsInput, SearchTicketsOutput, TicketOutput, UpdateTicketInput,
};

pub fn create_ticket(ctx: &mut Context, input: CreateTicketInput) -> Result<CreateTicketOutput, Error> {
    let mut destination = connectors::destination(ctx.connection, input.destination.as_deref(), "create_ticket")?;
    desk::create(ctx, connectors::desk(&mut *destination, "create_ticket")?, &input)
}

pub fn update_ticket(ctx: &mut Context, input: UpdateTicketInput) -> Result<TicketOutput, Error> {
    let mut destination = connectors::destination(ctx.connection, input.destination.as_deref(), "update_ticket")?;
    desk::update(ctx, connectors::desk(&mut *destination, "update_ticket")?, &input)
}

pub fn get_ticket(ctx: &mut Context, input: GetTicketInput) -> Result<GetTicketOutput, Error> {
    let mut destination = connectors::destination(ctx.connection, input.destination.as_deref(), "get_ticket")?;
    desk::get(ctx, connectors::desk(&mut *destination, "get_ticket")?, &input)
}

pub fn search_tickets(ctx: &mut Context, input: SearchTicketsInput) -> Result<SearchTicketsOutput, Error> {
    let mut destination = connectors::destination(ctx.connection, input.destination.as_deref(), "search_tickets")?;
    let name = destination.system().name;
    desk::search(ctx, connectors::desk(&mut *destination, "search_tickets")?, name, &input)
}

pub fn close_ticket(ctx: &mut Context, input: CloseTicketInput) -> Result<TicketOutput, Error> {
    let mut destination = connectors::destination(ctx.connection, input.destination.as_deref(), "close_ticket")?;
    desk::close(ctx, connectors::desk(&mut *destination, "close_ticket")?, &input)
}

pub fn assign_ticket(ctx: &mut Context, input: AssignTicketInput) -> Result<TicketOutput, Error> {
    let mut destination = connectors::destination(ctx.connection, input.destination.as_deref(), "assign_ticket")?;
    desk::assign(ctx, connectors::desk(&mut *destination, "assign_ticket")?, &input)
}

pub fn add_comment(ctx: &mut Context, input: AddCommentInput) -> Result<AddCommentOutput, Error> {
    let mut destination = connectors::destination(ctx.connection, input.destination.as_deref(), "add_comment")?;
    desk::comment(ctx, connectors::desk(&mut *destination, "add_comment")?, &input)
}
