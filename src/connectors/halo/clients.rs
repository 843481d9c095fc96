//! Halo as a destination of links: every client read page by page with its custom fields, and a
//! source's link fields (found by name) written only where a value changes. Halo changes only the
//! custom fields a POST names, so a write carries just the link fields, many clients per request.

use super::models::{Client, ClientPage, CustomField, Site};
use super::{Halo, PAGE_SIZE, SERVICE, query};
use crate::actions::Context;
use crate::connectors::{LinkWrite, System};
use crate::error::Error;
use crate::log;
use crate::matching::{Address, CompanyRecord};
use crate::sync::link::Captions;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Clients per link-writing POST: few requests under the 300-per-5-minutes limit, small enough
/// that a refused batch is cheap to retry one by one.
const WRITE_BATCH: usize = 25;

/// The clients of the last read: ids and link fields (name -> field id and value).
#[derive(Default)]
pub struct Clients {
    ids: Vec<u64>,
    fields: Vec<HashMap<String, (u64, Option<String>)>>,
}

enum Job {
    Batch(Vec<usize>),
    One(usize),
}

impl Clients {
    pub fn read(
        &mut self,
        ctx: &mut Context,
        halo: &mut Halo,
        source: &System,
        include_deleted: bool,
    ) -> Result<Vec<CompanyRecord>, Error> {
        let captions = Captions::named(source, halo.api.link_fields.as_ref());
        let mut clients = fetch(ctx, halo)?;
        if !include_deleted {
            clients.retain(|c| !c.inactive);
        }
        if let Some(defined) = clients.iter().find_map(|c| c.customfields.as_ref()) {
            let missing: Vec<&str> = captions.all().into_iter().filter(|name| !has_field(defined, name)).collect();
            if !missing.is_empty() {
                return Err(Error::new(
                    format!("{SERVICE} has no client custom field(s) {}.", missing.join(", ")),
                    "Create them in Halo under Configuration > Custom Objects > Custom Fields (area: Clients, type Text), \
                     or name the fields to use in connection.halo.link_fields, then run match_companies again.",
                    format!(
                        "client custom fields: {}",
                        defined.iter().filter_map(|f| f.name.clone()).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        self.ids = clients.iter().map(|c| c.id).collect();
        self.fields = clients
            .iter()
            .map(|c| {
                let fields = c.customfields.as_deref().unwrap_or_default();
                captions
                    .all()
                    .into_iter()
                    .filter_map(|name| field(fields, name).map(|f| (name.to_string(), (f.id, f.value.clone()))))
                    .collect()
            })
            .collect();
        let addresses = addresses(ctx, halo)?;
        let records = clients
            .iter()
            .zip(&self.fields)
            .map(|(c, fields)| CompanyRecord {
                id: c.id.to_string(),
                identifier: c.id.to_string(),
                name: c.name.clone().unwrap_or_default(),
                address: addresses.get(&(c.id as i64)).cloned().unwrap_or_default(),
                deleted: c.inactive,
                linked_account: fields.get(&captions.company_id).and_then(|(_, v)| v.clone()),
            })
            .collect();
        Ok(records)
    }

    /// Writes every changed link, `WRITE_BATCH` clients per POST; a refused batch is tried again
    /// one client at a time, so one bad client fails only itself.
    pub fn write(
        &mut self,
        ctx: &mut Context,
        halo: &mut Halo,
        links: &[LinkWrite],
        dry_run: bool,
    ) -> Vec<Result<bool, Error>> {
        let mut results: Vec<Result<bool, Error>> = Vec::with_capacity(links.len());
        let mut changed: Vec<usize> = Vec::new();
        for (i, link) in links.iter().enumerate() {
            let fields = &self.fields[link.company];
            let current = |name: &str| fields.get(name).and_then(|(_, v)| v.clone());
            let change = Captions::named(link.source, halo.api.link_fields.as_ref()).changes(link, current);
            results.push(Ok(change));
            if change && !dry_run {
                changed.push(i);
            }
        }
        if changed.is_empty() {
            return results;
        }
        halo.api.pace(ctx);
        let names = |link: &LinkWrite| Captions::named(link.source, halo.api.link_fields.as_ref());
        let record = |i: usize| self.record(&names(&links[i]), &links[i]);
        let post =
            |items: &[usize]| halo.api.post("/Client", &Value::Array(items.iter().map(|&i| record(i)).collect()));
        let jobs: Vec<(Job, _)> =
            changed.chunks(WRITE_BATCH).map(|batch| (Job::Batch(batch.to_vec()), post(batch))).collect();
        let total = changed.len();
        let mut done = 0;
        let api = &halo.api;
        let ran = ctx.http.run(&mut halo.auth, jobs, |job, outcome, next| {
            match job {
                Job::Batch(batch) => match api.decode::<Value>("updating the link fields of clients", outcome) {
                    Ok(_) => done += batch.len(),
                    // One client's bad data refuses the whole batch: find which, one by one.
                    Err(_) if batch.len() > 1 => {
                        for i in batch {
                            next.push(Job::One(i), post(&[i]));
                        }
                    }
                    Err(error) => {
                        results[batch[0]] = Err(error);
                        done += 1;
                    }
                },
                Job::One(i) => {
                    let what = format!("updating the link fields of client {}", self.ids[links[i].company]);
                    if let Err(error) = api.decode::<Value>(&what, outcome) {
                        results[i] = Err(error);
                    }
                    done += 1;
                }
            }
            log::progress("client link fields", done, total);
            crate::http::Flow::Continue
        });
        if let Err(error) = ran {
            for &i in &changed {
                if matches!(results[i], Ok(true)) {
                    results[i] = Err(error.clone());
                }
            }
        }
        results
    }

    /// `{"id": client, "customfields": [{"id": field, "value": ...}]}` with the link's values.
    fn record(&self, captions: &Captions, link: &LinkWrite) -> Value {
        let fields = &self.fields[link.company];
        let values = captions.values(link);
        let customfields: Vec<Value> = values
            .iter()
            .filter_map(|(name, value)| fields.get(*name).map(|(id, _)| json!({"id": id, "value": value})))
            .collect();
        json!({"id": self.ids[link.company], "customfields": customfields})
    }
}

/// Every client with its custom fields, page by page (the first page says how many there are).
pub fn fetch(ctx: &mut Context, halo: &mut Halo) -> Result<Vec<Client>, Error> {
    halo.api.pace(ctx);
    let mut clients: Vec<Client> = Vec::new();
    let page = |n: usize| {
        let (size, number) = (PAGE_SIZE.to_string(), n.to_string());
        let params = [
            ("pageinate", "true"),
            ("page_size", size.as_str()),
            ("page_no", number.as_str()),
            ("include_custom_fields", "true"),
        ];
        halo.api.get(format!("/Client?{}", query(&params)))
    };
    let first = ctx.http.send_with(&mut halo.auth, page(1))?;
    let first: ClientPage = halo.api.decode("listing clients", first)?;
    let count = first.record_count.unwrap_or(0).max(0) as usize;
    let pages = count.div_ceil(PAGE_SIZE).max(1);
    if pages > crate::sync::paging::MAX_PAGES {
        return Err(Error::malformed(SERVICE, "listing clients", format!("it announced {count} clients")));
    }
    clients.extend(first.clients);
    let (api, auth) = (&halo.api, &mut halo.auth);
    let mut done = 1;
    ctx.http.try_run(auth, (2..=pages).map(|n| (n, page(n))), |_, outcome, _| {
        let page: ClientPage = api.decode("listing clients", outcome)?;
        clients.extend(page.clients);
        done += 1;
        log::progress("clients", done, pages);
        Ok(())
    })?;
    clients.sort_by_key(|c| c.id);
    clients.dedup_by_key(|c| c.id);
    Ok(clients)
}

/// Each client's address, from its "Main" site (else its first): matching tells same-named
/// clients apart by it.
fn addresses(ctx: &mut Context, halo: &mut Halo) -> Result<HashMap<i64, Address>, Error> {
    let outcome = ctx.http.send_with(&mut halo.auth, halo.api.get("/Site"))?;
    let sites: Vec<Site> = halo.api.decode("listing sites", outcome)?;
    let mut addresses: HashMap<i64, (bool, Address)> = HashMap::new();
    for site in sites {
        let (Some(client), Some(at)) = (site.client_id, site.delivery_address) else { continue };
        let main = site.name.as_deref().is_some_and(|n| n.trim().eq_ignore_ascii_case("main"));
        let address = Address {
            line1: at.line1,
            city: at.line3,
            state: at.line4,
            postal_code: at.postcode,
            country: site.country,
        };
        match addresses.get(&client) {
            Some((true, _)) => {}
            Some((false, _)) if !main => {}
            _ => {
                addresses.insert(client, (main, address));
            }
        }
    }
    Ok(addresses.into_iter().map(|(client, (_, address))| (client, address)).collect())
}

/// The value of the client's custom field `name`.
pub fn value_of(client: &Client, name: &str) -> Option<String> {
    field(client.customfields.as_deref().unwrap_or_default(), name).and_then(|f| f.value.clone())
}

fn field<'a>(fields: &'a [CustomField], name: &str) -> Option<&'a CustomField> {
    fields.iter().find(|f| f.name.as_deref().is_some_and(|n| n.trim().eq_ignore_ascii_case(name)))
}

fn has_field(fields: &[CustomField], name: &str) -> bool {
    field(fields, name).is_some()
}
