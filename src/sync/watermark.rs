//! An incremental read's checkpoint for sources listed by a time (Stellar Cyber's `modified_at`, a
//! mailbox's `receivedDateTime`): the largest time fully read, and the items read in the
//! `OVERLAP_MS` before it. The next read starts that much early — an item indexed late is still
//! found — and leaves out what it already read, so items of the same instant are neither lost nor
//! repeated.
//!
//! Written as `<ISO-8601 instant with ms>#<item id>@<time ms>,...`; a bare ISO-8601 instant (a
//! `since` a person gives) is a checkpoint that has read nothing yet.

use chrono::{DateTime, SecondsFormat, Utc};

/// `OVERLAP_MS`: how far before the checkpoint the next read starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Watermark<const OVERLAP_MS: i64> {
    /// Epoch ms: the largest time read.
    pub at_ms: i64,
    /// `(item id, time)` read within `OVERLAP_MS` of `at_ms`.
    pub seen: Vec<(String, i64)>,
}

impl<const OVERLAP_MS: i64> Watermark<OVERLAP_MS> {
    pub const OVERLAP_MS: i64 = OVERLAP_MS;

    pub fn at(at_ms: i64) -> Self {
        Watermark { at_ms, seen: Vec::new() }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let (instant, seen) = text.trim().split_once('#').unwrap_or((text.trim(), ""));
        let at = DateTime::parse_from_rfc3339(instant.trim())
            .or_else(|_| DateTime::parse_from_rfc3339(&crate::lenient::iso_utc(instant)))
            .map_err(|_| format!("{instant:?} is not an ISO-8601 instant"))?
            .timestamp_millis();
        let seen = seen.split(',').filter(|e| !e.trim().is_empty()).map(parse_entry).collect::<Result<_, String>>()?;
        Ok(Watermark { at_ms: at, seen })
    }

    /// Where the next read starts (epoch ms).
    pub fn from_ms(&self) -> i64 {
        self.at_ms - OVERLAP_MS
    }

    /// Whether an item read in the window is new: not read before at that time.
    pub fn is_new(&self, id: &str, modified_at: i64) -> bool {
        modified_at >= self.from_ms() && !self.seen.iter().any(|(i, ms)| i == id && *ms == modified_at)
    }

    /// The checkpoint once these items are read too.
    pub fn advanced<'a>(&self, read: impl IntoIterator<Item = (&'a str, i64)>) -> Self {
        let mut seen = self.seen.clone();
        let mut at_ms = self.at_ms;
        for (id, ms) in read {
            at_ms = at_ms.max(ms);
            if !seen.iter().any(|(i, m)| i == id && *m == ms) {
                seen.push((id.to_string(), ms));
            }
        }
        seen.retain(|(_, ms)| *ms >= at_ms - OVERLAP_MS);
        seen.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        Watermark { at_ms, seen }
    }

    /// The checkpoint moved on to `at_ms` (when later): nothing before it is left to read.
    pub fn with_at(&self, at_ms: i64) -> Self {
        let mut moved = self.clone();
        moved.at_ms = moved.at_ms.max(at_ms);
        let from = moved.from_ms();
        moved.seen.retain(|(_, ms)| *ms >= from);
        moved
    }

    /// What a read from this checkpoint returns, `(next_cursor, next_since)`: a read cut short
    /// resumes here; a complete one moves on to `quiet_from_ms` (when the run started, by the
    /// service's clock where it tells it) less the overlap, for clocks and late indexing.
    pub fn read_outcome(self, complete: bool, quiet_from_ms: i64) -> (Option<String>, Option<String>) {
        if complete {
            (None, Some(self.with_at(quiet_from_ms - OVERLAP_MS).encode()))
        } else {
            (Some(self.encode()), None)
        }
    }

    pub fn encode(&self) -> String {
        let instant = DateTime::<Utc>::from_timestamp_millis(self.at_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        if self.seen.is_empty() {
            return instant;
        }
        let seen: Vec<String> = self.seen.iter().map(|(id, ms)| entry(id, *ms)).collect();
        format!("{instant}#{}", seen.join(","))
    }
}

/// One `id@ms` entry of a seen list (a checkpoint's, a trigger's).
pub fn parse_entry(entry: &str) -> Result<(String, i64), String> {
    let (id, ms) = entry.trim().rsplit_once('@').ok_or_else(|| format!("{entry:?} is not `id@ms`"))?;
    let ms = ms.parse::<i64>().map_err(|_| format!("{entry:?} has no millisecond time"))?;
    Ok((id.to_string(), ms))
}

/// The text of one seen entry, `id@ms`.
pub fn entry(id: &str, ms: i64) -> String {
    format!("{id}@{ms}")
}

#[cfg(test)]
mod tests {
    use super::*;

    type Checkpoint = Watermark<5_000>;
    const OVERLAP_MS: i64 = Checkpoint::OVERLAP_MS;

    const T: i64 = 1_700_000_000_123;

    #[test]
    fn round_trips_and_takes_a_bare_instant() {
        let checkpoint = Checkpoint::at(T).advanced([("a", T), ("b", T - 1_000), ("old", T - 9_000)]);
        assert_eq!(
            checkpoint.seen,
            vec![("b".to_string(), T - 1_000), ("a".into(), T)],
            "older than the overlap: forgotten"
        );
        let text = checkpoint.encode();
        assert_eq!(text, "2023-11-14T22:13:20.123Z#b@1699999999123,a@1700000000123");
        assert_eq!(Checkpoint::parse(&text).unwrap(), checkpoint);
        assert_eq!(Checkpoint::parse("2023-11-14T22:13:20Z").unwrap(), Checkpoint::at(T - 123));
        assert!(Checkpoint::parse("yesterday").is_err());
        assert!(Checkpoint::parse("2023-11-14T22:13:20Z#a@x").is_err());
    }

    #[test]
    fn the_same_millisecond_is_neither_lost_nor_repeated() {
        // Run 1 read case a at T; case b was modified in the same millisecond but indexed after the read.
        let after_first = Checkpoint::at(T - 60_000).advanced([("a", T)]);
        assert!(!after_first.is_new("a", T), "a is not read again");
        assert!(after_first.is_new("b", T), "b, same millisecond, is still new");
        assert!(after_first.is_new("late", T - 2_000), "a case indexed late inside the overlap is found");
        assert!(after_first.is_new("a", T + 1), "a's next change is new");
        assert!(!after_first.is_new("ancient", T - OVERLAP_MS - 1));
        let after_second = after_first.advanced([("b", T)]);
        assert_eq!(after_second.at_ms, T);
        assert!(!after_second.is_new("a", T) && !after_second.is_new("b", T));
    }
}
