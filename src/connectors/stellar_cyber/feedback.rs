//! The way back into Stellar Cyber: a case's status (with a resolution), severity and comments,
//! and the tag a case gets once it has a PSA ticket. Every write is checked against the case as
//! it is now: a case changed by someone else since the sync read it is not written, so
//! `NOT~modified_by` can never hide a change nobody read.

use super::{Checkpoint, StellarApi, StellarCyber, mapping, models};
use crate::actions::Context;
use crate::desk::lost;
use crate::error::Error;
use crate::http::Method;
use crate::log;
use crate::sync::back::{Feedback, SourceChange, SourceItem};
use crate::types::Ticket;
use serde_json::json;

const STATUSES: &[&str] = &["New", "In Progress", "Escalated", "Resolved", "Cancelled"];
const SEVERITIES: &[&str] = &["Low", "Medium", "High", "Critical"];
const RESOLUTIONS: &[&str] = &["False Positive", "Benign", "True Positive"];

impl StellarCyber {
    fn case(&mut self, ctx: &mut Context, id: &str) -> Result<Option<models::Case>, Error> {
        let outcome = ctx.http.send_with(&mut self.auth, self.api.get(StellarApi::path(&["cases", id])))?;
        if matches!(&outcome, Ok(r) if r.status == 404) {
            return Ok(None);
        }
        let case: models::Data<models::Case> = self.api.decode(&format!("reading case {id}"), outcome)?;
        Ok(case.data)
    }

    fn put(&mut self, ctx: &mut Context, id: &str, body: serde_json::Value) -> Result<(), Error> {
        // A PUT sets values: repeating it after a lost answer is harmless.
        let request = self.api.send(Method::Put, StellarApi::path(&["cases", id]), &body).retry_safe();
        let outcome = ctx.http.send_with(&mut self.auth, request)?;
        self.api.decode::<serde_json::Value>(&format!("updating case {id}"), outcome).map(|_| ())
    }
}

/// Tags each posted case that lacks the tag, unless it changed since it was read (it is read,
/// and tagged, next time). A failure is logged: the tag is a marker for people, not the sync's memory.
pub fn tag_posted(ctx: &mut Context, stellar: &mut StellarCyber, tickets: &[&Ticket]) {
    let Some(tag) = stellar.case_tag.clone() else { return };
    let (mut tagged, mut failed) = (0, 0);
    for ticket in tickets.iter().filter(|t| !t.tags.iter().flatten().any(|t| t.eq_ignore_ascii_case(&tag))) {
        let outcome = stellar.case(ctx, &ticket.key).and_then(|case| match case {
            Some(case) if case.modified_at.map(mapping::iso_ms) == ticket.updated => {
                stellar.put(ctx, &ticket.key, json!({"tags": {"add": [tag], "delete": []}})).map(|_| true)
            }
            _ => Ok(false),
        });
        match outcome {
            Ok(true) => tagged += 1,
            Ok(false) => {}
            Err(error) => {
                failed += 1;
                log::info(format!("could not tag case {} with {tag:?}: {}", ticket.key, error.cause));
            }
        }
    }
    if tagged + failed > 0 {
        log::info(format!(
            "tagged {tagged} cases {tag:?}{}",
            if failed > 0 { format!(", {failed} failed") } else { String::new() }
        ));
    }
}

impl Feedback for StellarCyber {
    fn item(&mut self, ctx: &mut Context, key: &str) -> Result<Option<SourceItem>, Error> {
        let Some(case) = self.case(ctx, key)? else { return Ok(None) };
        let sync_user = self.sync_user(ctx)?;
        let path = StellarApi::path(&["cases", key, "comments"]);
        let comments: models::Data<Vec<models::Comment>> =
            self.get(ctx, path, &format!("reading the comments of case {key}"))?;
        Ok(Some(SourceItem {
            status: case.status.unwrap_or_else(|| "New".into()),
            severity: case.severity,
            changed_by_sync: sync_user.is_some() && case.modified_by == sync_user,
            modified_ms: case.modified_at,
            comments: comments.data.unwrap_or_default().into_iter().filter_map(|c| c.comment).collect(),
        }))
    }

    fn change(&mut self, ctx: &mut Context, key: &str, change: &SourceChange) -> Result<(), Error> {
        let mut body = serde_json::Map::new();
        for (name, value) in
            [("status", &change.status), ("resolution", &change.resolution), ("severity", &change.severity)]
        {
            if let Some(value) = value {
                body.insert(name.into(), json!(value));
            }
        }
        self.put(ctx, key, serde_json::Value::Object(body))
    }

    fn comment(&mut self, ctx: &mut Context, key: &str, text: &str) -> Result<bool, Error> {
        let request =
            self.api.send(Method::Post, StellarApi::path(&["cases", key, "comments"]), &json!({"comment": text}));
        let outcome = ctx.http.send_with(&mut self.auth, request)?;
        if lost(&outcome) {
            return Ok(false);
        }
        self.api.decode::<serde_json::Value>(&format!("commenting on case {key}"), outcome).map(|_| true)
    }

    fn statuses(&self) -> &'static [&'static str] {
        STATUSES
    }

    fn resolved_status(&self) -> &'static str {
        "Resolved"
    }

    fn is_closed(&self, status: &str) -> bool {
        ["Resolved", "Cancelled"].iter().any(|s| s.eq_ignore_ascii_case(status.trim()))
    }

    fn severities(&self) -> &'static [&'static str] {
        SEVERITIES
    }

    fn resolutions(&self) -> &'static [&'static str] {
        RESOLUTIONS
    }

    fn default_resolution(&self) -> &'static str {
        "True Positive"
    }

    fn checkpoint_ms(&self, text: &str) -> Result<i64, Error> {
        Checkpoint::parse(text).map(|c| c.at_ms).map_err(|problem| {
            Error::invalid(
                "input.source_checkpoint",
                problem,
                "Pass the next_since of this cycle's get_tickets unchanged.",
            )
        })
    }
}
