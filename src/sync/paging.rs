//! What every paged read needs whatever the service's paging looks like: a bound on the number
//! of pages and a check that a page token or link is never handed out twice (a loop).

use std::collections::HashSet;

/// No real list of this project's services pages on past this.
pub const MAX_PAGES: usize = 20_000;

#[derive(Default)]
pub struct PageGuard {
    pages: usize,
    seen: HashSet<String>,
}

impl PageGuard {
    /// Accepts the next page's token or link; `Err` when the list is endless or loops.
    pub fn next(&mut self, token: &str) -> Result<(), String> {
        self.pages += 1;
        if self.pages >= MAX_PAGES {
            return Err(format!("it kept paging past {MAX_PAGES} pages"));
        }
        if !self.seen.insert(token.to_string()) {
            return Err(format!("it handed out the same page token twice ({} pages in)", self.pages));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_and_endless_lists_are_refused() {
        let mut guard = PageGuard::default();
        assert!(guard.next("a").is_ok() && guard.next("b").is_ok());
        assert!(guard.next("a").unwrap_err().contains("twice"));
        let mut guard = PageGuard::default();
        assert!((0..MAX_PAGES).map(|i| guard.next(&i.to_string())).any(|r| r.is_err()));
    }
}
