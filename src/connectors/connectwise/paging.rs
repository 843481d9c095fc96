//! Reading whole ConnectWise lists: page 1 tells (through its Link header) how many pages there
//! are, then the rest are fetched in parallel. Without a `last` link, `next` links are followed.

use super::{ConnectWise, SERVICE};
use crate::error::Error;
use crate::http::{NoAuth, Scheduler};
use crate::log;
use crate::sync::paging::{MAX_PAGES, PageGuard};
use serde::de::DeserializeOwned;

/// ConnectWise's largest page.
pub const PAGE_SIZE: usize = 1000;
/// The `rel="next"` and `rel="last"` URLs of a Link header.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Links {
    pub next: Option<String>,
    pub last: Option<String>,
}

pub fn parse_links(header: &str) -> Links {
    let mut links = Links::default();
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let url = pieces.next().unwrap_or_default().trim();
        let Some(url) = url.strip_prefix('<').and_then(|u| u.strip_suffix('>')) else { continue };
        for param in pieces {
            let param = param.trim().to_ascii_lowercase().replace(' ', "");
            match param.as_str() {
                "rel=\"next\"" | "rel=next" => links.next = Some(url.to_string()),
                "rel=\"last\"" | "rel=last" => links.last = Some(url.to_string()),
                _ => {}
            }
        }
    }
    links
}

/// The `page` parameter of a URL, if any.
fn page_number(url: &str) -> Option<usize> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| kv.strip_prefix("page=")).and_then(|n| n.parse().ok())
}

/// Calls `on_page` with every page of `path_and_query` (which must not carry page/pageSize),
/// in any order, as pages arrive. `what` names the list in errors and progress.
pub fn for_each_page<T: DeserializeOwned>(
    cw: &ConnectWise,
    http: &mut Scheduler,
    path_and_query: &str,
    what: &str,
    mut on_page: impl FnMut(Vec<T>),
) -> Result<usize, Error> {
    let separator = if path_and_query.contains('?') { '&' } else { '?' };
    let page_path = |page: usize| format!("{path_and_query}{separator}pageSize={PAGE_SIZE}&page={page}");
    let first = http.send(cw.get(page_path(1)));
    let (links, items) = read::<T>(cw, what, first)?;
    on_page(items);
    let mut pages = 1;
    match links.last.as_deref().and_then(page_number) {
        Some(last) if last > 1 => {
            if last > MAX_PAGES {
                return Err(endless(what, format!("it announced {last} pages")));
            }
            let jobs = (2..=last).map(|page| (page, cw.get(page_path(page))));
            http.try_run(&mut NoAuth, jobs, |_, outcome, _| {
                let (_, items) = read::<T>(cw, what, outcome)?;
                pages += 1;
                log::progress(what, pages, last);
                on_page(items);
                Ok(())
            })?;
        }
        _ => {
            let mut guard = PageGuard::default();
            let mut next = links.next;
            while let Some(url) = next {
                pages += 1;
                guard.next(&url).map_err(|problem| endless(what, problem))?;
                let path = cw.path_of(&url).ok_or_else(|| foreign_link(what, &url))?;
                let (links, items) = read::<T>(cw, what, http.send(cw.get(path)))?;
                on_page(items);
                next = links.next;
            }
        }
    }
    Ok(pages)
}

fn read<T: DeserializeOwned>(
    cw: &ConnectWise,
    what: &str,
    outcome: Result<crate::http::Response, crate::http::HttpError>,
) -> Result<(Links, Vec<T>), Error> {
    let links = outcome.as_ref().ok().and_then(|r| r.header("link")).map(parse_links).unwrap_or_default();
    let items = cw.decode(&format!("listing {what}"), outcome)?;
    Ok((links, items))
}

fn endless(what: &str, problem: String) -> Error {
    Error::new(
        format!("{SERVICE} kept returning more pages of {what}."),
        "Report this to ConnectWise support: the list did not end.",
        problem,
    )
}

fn foreign_link(what: &str, url: &str) -> Error {
    Error::new(
        format!("{SERVICE} pointed the next page of {what} at another address."),
        "Check connection.connectwise.site and codebase: they must be the address ConnectWise itself uses.",
        format!("next page link: {}", url.split('?').next().unwrap_or_default()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_next_and_last_links() {
        let header = r#"<https://h/v4_6_release/apis/3.0/company/companies?pageSize=1000&page=2>; rel="next", <https://h/v4_6_release/apis/3.0/company/companies?pageSize=1000&page=7>; rel="last""#;
        let links = parse_links(header);
        assert_eq!(page_number(links.next.as_deref().unwrap()), Some(2));
        assert_eq!(page_number(links.last.as_deref().unwrap()), Some(7));
        assert_eq!(parse_links(""), Links::default());
        assert_eq!(parse_links("garbage; rel=next"), Links::default());
    }
}
