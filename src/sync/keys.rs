//! Idempotency keys and note markers. Both carry the source system, so two sources never collide;
//! what 0.1 wrote (bare ARMOR keys, `[ARMOR comment N]` markers) is still recognized.

use crate::connectors::System;
use sha2::{Digest, Sha512};

/// Hex digits of the hash that ends a shortened key: 64 bits, no collision in any real data set.
/// SHA-512 (truncated) because ARMOR's signatures bring it into the component already.
const HASH_HEX: usize = 16;

/// The key a ticket is written under in a destination field of `max_len` characters:
/// `system:key`, or when that is too long, its beginning and a hash of the whole, so it stays
/// unique and the same on every run.
pub fn ticket_key(system: &str, key: &str, max_len: usize) -> String {
    let full = format!("{system}:{}", key.trim());
    if full.chars().count() <= max_len {
        return full;
    }
    let keep = max_len.saturating_sub(HASH_HEX + 1);
    let head: String = full.chars().take(keep).collect();
    format!("{head}~{}", digest(&full))
}

/// A short, stable stand-in for a long text (`HASH_HEX` hex digits).
pub fn digest(text: &str) -> String {
    let hash = Sha512::digest(text.as_bytes());
    hash.iter().take(HASH_HEX / 2).map(|b| format!("{b:02x}")).collect()
}

/// Every key the ticket may already be stored under: the current one first, then what an
/// earlier version wrote.
pub fn ticket_keys(system: &System, key: &str, max_len: usize) -> Vec<String> {
    let mut keys = vec![ticket_key(system.name, key, max_len)];
    let bare = key.trim();
    if system.legacy.is_some() && !bare.is_empty() && bare.chars().count() <= max_len && !keys.iter().any(|k| k == bare)
    {
        keys.push(bare.to_string());
    }
    keys
}

/// The marker that ends a note made from a comment.
pub fn note_marker(system: &str, comment_id: &str) -> String {
    format!("[psa-bridge {system} comment {}]", comment_id.trim())
}

/// The marker that ends a source comment made from a destination's note (the way back).
pub fn comment_marker(destination: &str, note_id: &str) -> String {
    format!("[psa-bridge {destination} note {}]", note_id.trim())
}

/// The marker that ends a source comment reporting who a destination ticket is assigned to.
pub fn assignee_marker(destination: &str, ticket_id: &str) -> String {
    format!("[psa-bridge {destination} assignee {}]", ticket_id.trim())
}

/// The marker that ends a source comment made from a destination ticket's closure note.
pub fn closure_marker(destination: &str, ticket_id: &str) -> String {
    format!("[psa-bridge {destination} closure {}]", ticket_id.trim())
}

/// The marker that ends a note the sync wrote about a status (a closure note).
pub fn status_marker(system: &str, key: &str) -> String {
    format!("[psa-bridge {system} status {}]", key.trim())
}

/// Whether a note or comment is one the sync wrote (and so is never carried to the other side).
pub fn written_by_sync(text: &str) -> bool {
    text.contains("[psa-bridge ")
}

/// Whether any of `texts` carries the marker of that comment, current or legacy.
pub fn has_note<'a>(system: &System, comment_id: &str, texts: impl IntoIterator<Item = &'a str>) -> bool {
    let current = note_marker(system.name, comment_id);
    let legacy = system.legacy.map(|l| format!("[{} comment {}]", l.note_label, comment_id.trim()));
    texts.into_iter().any(|t| t.contains(&current) || legacy.as_deref().is_some_and(|l| t.contains(l)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::{armor, connectwise};
    use proptest::prelude::*;

    #[test]
    fn keys_carry_their_system_and_armor_keeps_its_bare_keys() {
        assert_eq!(ticket_keys(&armor::SYSTEM, " ATS-1 ", 100), vec!["armor:ATS-1".to_string(), "ATS-1".into()]);
        assert_eq!(ticket_keys(&connectwise::SYSTEM, "ATS-1", 100), vec!["connectwise:ATS-1".to_string()]);
    }

    #[test]
    fn long_keys_are_shortened_the_same_way_every_time() {
        let long = format!("<{}@mail.example.com>", "x".repeat(200));
        let key = ticket_key("graph_mail", &long, 100);
        assert_eq!(key.chars().count(), 100);
        assert_eq!(key, ticket_key("graph_mail", &long, 100));
        assert!(key.starts_with("graph_mail:<xxx"));
        assert_ne!(key, ticket_key("graph_mail", &format!("{long}y"), 100), "a different key, a different hash");
    }

    #[test]
    fn notes_are_found_by_current_and_legacy_markers_only() {
        let texts = ["Blocked.\n\n— SOC [ARMOR comment 55]", "x [psa-bridge armor comment 56]"];
        assert!(has_note(&armor::SYSTEM, "55", texts));
        assert!(has_note(&armor::SYSTEM, "56", texts));
        assert!(!has_note(&armor::SYSTEM, "5", texts), "5 is not 55");
        assert!(!has_note(&armor::SYSTEM, "550", texts));
        assert!(!has_note(&connectwise::SYSTEM, "55", texts), "another system's markers are not ours");
    }

    proptest! {
        #[test]
        fn keys_never_exceed_the_field_and_never_collide(a in "\\PC{0,300}", b in "\\PC{0,300}", max in 40usize..200) {
            let (ka, kb) = (ticket_key("s", &a, max), ticket_key("s", &b, max));
            prop_assert!(ka.chars().count() <= max);
            if a.trim() != b.trim() {
                prop_assert_ne!(ka, kb);
            }
        }
    }
}
