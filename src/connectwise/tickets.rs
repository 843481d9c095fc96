//! ARMOR tickets as ConnectWise service tickets (pure): summaries cut to the 100-character
//! limit, descriptions that keep the full text, notes that carry a marker so each ARMOR comment
//! is posted once, and ARMOR statuses resolved to the board's statuses.

use super::models::{BoardStatus, Note};
use crate::types::{Comment, StatusMapping, Ticket};

/// ConnectWise rejects longer summaries.
pub const SUMMARY_MAX: usize = 100;

/// The summary within the limit, cut at a word boundary with an ellipsis; `true` if it was cut.
pub fn shorten_summary(summary: &str) -> (String, bool) {
    let summary = summary.trim();
    let summary = if summary.is_empty() { "(no summary)" } else { summary };
    if summary.chars().count() <= SUMMARY_MAX {
        return (summary.to_string(), false);
    }
    let budget = SUMMARY_MAX - 1; // room for the ellipsis
    let cut: String = summary.chars().take(budget).collect();
    let at_word = match cut.rfind(char::is_whitespace) {
        Some(i) if i >= budget / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    (format!("{}…", at_word.trim_end()), true)
}

/// The initial description: the ARMOR description, preceded by the full summary when the
/// summary had to be cut, followed by where the ticket came from.
pub fn description(ticket: &Ticket, summary_cut: bool) -> String {
    let mut parts = Vec::new();
    if summary_cut {
        parts.push(ticket.summary.trim().to_string());
    }
    if let Some(description) = ticket.description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        parts.push(description.to_string());
    }
    let mut origin = format!("ARMOR ticket {} (account {})", ticket.key, ticket.account_id);
    for (label, value) in [("type", &ticket.request_type), ("priority", &ticket.priority), ("reporter", &ticket.reporter)] {
        if let Some(value) = value {
            origin.push_str(&format!(", {label} {value}"));
        }
    }
    parts.push(origin);
    parts.join("\n\n")
}

/// The marker that identifies an ARMOR comment in a note's text.
pub fn note_marker(comment_id: u64) -> String {
    format!("[ARMOR comment {comment_id}]")
}

pub fn note_text(comment: &Comment) -> String {
    let author = comment.author.as_deref().unwrap_or("ARMOR");
    let when = comment.created.as_deref().map(|c| format!(", {c}")).unwrap_or_default();
    format!("{}\n\n— {author}{when} {}", comment.body.trim(), note_marker(comment.id))
}

/// Whether one of `notes` already carries the comment.
pub fn has_note(notes: &[Note], comment_id: u64) -> bool {
    let marker = note_marker(comment_id);
    notes.iter().any(|n| n.text.as_deref().is_some_and(|t| t.contains(&marker)))
}

/// Turns ARMOR statuses into the board's: the map first, then a board status of the same name,
/// then the given default, then the board's own default. Names match case-insensitively.
pub struct StatusResolver {
    statuses: Vec<BoardStatus>,
    map: Vec<StatusMapping>,
    default: Option<BoardStatus>,
}

impl StatusResolver {
    /// Fails when `default_status` names no active status of the board.
    pub fn new(statuses: Vec<BoardStatus>, map: Vec<StatusMapping>, default_status: Option<&str>) -> Result<Self, String> {
        let statuses: Vec<BoardStatus> = statuses.into_iter().filter(|s| !s.inactive_flag).collect();
        let default = match default_status.map(str::trim).filter(|d| !d.is_empty()) {
            Some(name) => Some(find(&statuses, name).cloned().ok_or_else(|| {
                format!("the default status {name:?} is not a status of the board (it has: {})", names(&statuses))
            })?),
            None => statuses.iter().find(|s| s.default_flag).cloned(),
        };
        Ok(StatusResolver { statuses, map, default })
    }

    /// The board status (id, name) for an ARMOR status, or why there is none.
    pub fn resolve(&self, armor_status: &str) -> Result<(u64, String), String> {
        let armor_status = armor_status.trim();
        if let Some(mapping) = self.map.iter().find(|m| m.armor_status.trim().eq_ignore_ascii_case(armor_status)) {
            return find(&self.statuses, &mapping.board_status).map(|s| (s.id, name(s))).ok_or_else(|| {
                format!(
                    "the status map sends {armor_status:?} to {:?}, which the board does not have (it has: {})",
                    mapping.board_status,
                    names(&self.statuses)
                )
            });
        }
        if let Some(status) = find(&self.statuses, armor_status).or(self.default.as_ref()) {
            return Ok((status.id, name(status)));
        }
        Err(format!("the board has no status {armor_status:?} and no default status (it has: {})", names(&self.statuses)))
    }
}

fn find<'a>(statuses: &'a [BoardStatus], wanted: &str) -> Option<&'a BoardStatus> {
    statuses.iter().find(|s| s.name.as_deref().is_some_and(|n| n.trim().eq_ignore_ascii_case(wanted.trim())))
}

fn name(status: &BoardStatus) -> String {
    status.name.clone().unwrap_or_default()
}

fn names(statuses: &[BoardStatus]) -> String {
    statuses.iter().map(name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_cut_at_a_word_boundary() {
        let (short, cut) = shorten_summary("Short one");
        assert_eq!((short.as_str(), cut), ("Short one", false));
        let long = "Suspicious outbound traffic detected from host web-01 to a known command and control address in the EU region";
        let (s, cut) = shorten_summary(long);
        assert!(cut && s.chars().count() <= SUMMARY_MAX && s.ends_with('…'), "{s}");
        assert!(long.starts_with(s.trim_end_matches('…')));
        assert!(!s.trim_end_matches('…').ends_with(' '));
        // No spaces at all, and multi-byte characters: still within the limit, never split inside a character.
        let (s, _) = shorten_summary(&"é".repeat(300));
        assert_eq!(s.chars().count(), SUMMARY_MAX);
        assert_eq!(shorten_summary("   ").0, "(no summary)");
    }

    #[test]
    fn notes_are_recognised_by_their_marker() {
        let comment = Comment { id: 55, author: Some("ARMOR SOC".into()), body: "Blocked.".into(), created: None, public: true };
        let text = note_text(&comment);
        assert!(text.contains("[ARMOR comment 55]"));
        let notes = vec![Note { id: Some(1), text: Some(text) }];
        assert!(has_note(&notes, 55));
        assert!(!has_note(&notes, 5), "55 is not 5");
        assert!(!has_note(&notes, 550));
    }

    fn board() -> Vec<BoardStatus> {
        let s = |id, name: &str, default_flag| BoardStatus { id, name: Some(name.into()), default_flag, inactive_flag: false };
        vec![s(31, "New", true), s(32, "In Progress", false), s(33, "Closed", false)]
    }

    #[test]
    fn statuses_resolve_by_map_then_name_then_default() {
        let map = vec![StatusMapping { armor_status: "waiting for support".into(), board_status: "in progress".into() }];
        let resolver = StatusResolver::new(board(), map, None).unwrap();
        assert_eq!(resolver.resolve("Waiting for Support").unwrap().0, 32);
        assert_eq!(resolver.resolve("closed").unwrap(), (33, "Closed".to_string()));
        assert_eq!(resolver.resolve("Pending Vendor").unwrap().0, 31, "unknown statuses get the board default");
        let bad = vec![StatusMapping { armor_status: "Open".into(), board_status: "Triage".into() }];
        assert!(StatusResolver::new(board(), bad, None).unwrap().resolve("open").unwrap_err().contains("Triage"));
        assert!(StatusResolver::new(board(), vec![], Some("Nope")).is_err());
        assert_eq!(StatusResolver::new(board(), vec![], Some("closed")).unwrap().resolve("Weird").unwrap().0, 33);
    }
}
