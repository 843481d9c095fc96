//! post_tickets' cursor: which tickets of an input list a call finished before its time budget ran
//! out, so the next call with the same list goes on from there without looking them up again.
//! It names the list by a digest of its keys (a cursor of another list is refused) and the
//! finished tickets by ranges of their positions, so it stays short for any list.

use crate::error::Error;
use crate::sync::checkpoint;
use crate::types::Ticket;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

const KIND: &str = "post_tickets";

#[derive(Serialize, Deserialize)]
struct Cursor {
    /// The digest of the list's keys.
    of: String,
    /// Inclusive ranges of finished positions.
    done: Vec<(usize, usize)>,
}

fn digest(tickets: &[Ticket]) -> String {
    let mut hash = Sha256::new();
    for ticket in tickets {
        hash.update(ticket.system.trim().as_bytes());
        hash.update(b":");
        hash.update(ticket.key.trim().as_bytes());
        hash.update(b"\n");
    }
    hash.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// The cursor for `tickets` with the positions `done` finished.
pub fn write(tickets: &[Ticket], done: &BTreeSet<usize>) -> String {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for &i in done {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == i => *end = i,
            _ => ranges.push((i, i)),
        }
    }
    checkpoint::encode(KIND, &Cursor { of: digest(tickets), done: ranges })
}

/// The positions a cursor says are finished, or a clear error when it is not a cursor of `tickets`.
pub fn read(cursor: &str, tickets: &[Ticket]) -> Result<BTreeSet<usize>, Error> {
    let unusable = |problem: String| {
        Error::invalid(
            "input.cursor",
            problem,
            "Pass the next_cursor of the post_tickets call before, with the same tickets; or leave cursor out to post \
             them all (nothing is posted twice either way).",
        )
    };
    let cursor: Cursor = checkpoint::decode(KIND, cursor).map_err(unusable)?;
    if cursor.of != digest(tickets) {
        return Err(unusable("it belongs to another list of tickets".into()));
    }
    let mut done = BTreeSet::new();
    for (start, end) in cursor.done {
        if start > end || end >= tickets.len() {
            return Err(unusable("it names tickets the list does not have".into()));
        }
        done.extend(start..=end);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::hostile_tests::ticket;

    fn tickets(n: usize) -> Vec<Ticket> {
        (0..n).map(|i| ticket(format!("ATS-{i}"), "s".into(), 0)).collect()
    }

    #[test]
    fn a_cursor_gives_back_what_was_finished() {
        let list = tickets(10);
        let done: BTreeSet<usize> = [0, 1, 2, 5, 7, 8, 9].into_iter().collect();
        let cursor = write(&list, &done);
        assert!(cursor.len() < 160, "{cursor}");
        assert_eq!(read(&cursor, &list).unwrap(), done);
        assert_eq!(read(&write(&list, &BTreeSet::new()), &list).unwrap(), BTreeSet::new());
    }

    #[test]
    fn a_cursor_of_another_list_or_no_cursor_is_refused() {
        let list = tickets(10);
        let cursor = write(&list, &[1usize, 2].into_iter().collect());
        let error = read(&cursor, &tickets(9)).unwrap_err();
        assert!(error.cause.contains("another list of tickets"), "{error:?}");
        assert!(read("not a cursor!", &list).unwrap_err().cause.contains("not a post_tickets cursor"));
        let forged = checkpoint::encode(KIND, &Cursor { of: digest(&list), done: vec![(3, 99)] });
        assert!(read(&forged, &list).unwrap_err().cause.contains("does not have"));
        let other_kind = checkpoint::encode("armor/tickets", &Cursor { of: digest(&list), done: vec![] });
        assert!(read(&other_kind, &list).unwrap_err().cause.contains("armor/tickets cursor"));
    }
}
