//! ConnectWise list semantics shared by every collection: conditions, customFieldConditions,
//! orderBy, fields=, page/pageSize with Link headers, and forward-only paging (pageId).

use crate::conditions::{self, Expr, FType, Schema};
use crate::server::{Reply, Req, decode};
use serde_json::{Map, Value};
use std::cmp::Ordering;

pub const DEFAULT_PAGE_SIZE: usize = 25;
pub const MAX_PAGE_SIZE: usize = 1000;
const MAX_FIELDS: usize = 200;

/// customFieldConditions see each custom field as a record of these pseudo-fields.
pub const CUSTOM_FIELD_SCHEMA: Schema = Schema {
    fields: &[("caption", FType::Text), ("value", FType::Any), ("id", FType::Number), ("type", FType::Text)],
    aliases: &[],
};

/// Which records match.
pub(crate) struct Filter {
    conditions: Option<Expr>,
    custom_field_conditions: Option<Expr>,
}

impl Filter {
    pub fn parse(req: &Req, schema: &Schema) -> Result<Filter, String> {
        let parse = |name: &str, s: &Schema| -> Result<Option<Expr>, String> {
            match req.param(name).map(str::trim).filter(|c| !c.is_empty()) {
                None => Ok(None),
                Some(c) => conditions::parse(c, s).map(Some).map_err(|e| format!("{name}: {e}")),
            }
        };
        Ok(Filter {
            conditions: parse("conditions", schema)?,
            custom_field_conditions: parse("customFieldConditions", &CUSTOM_FIELD_SCHEMA)?,
        })
    }

    pub fn matches(&self, rec: &Value) -> bool {
        if let Some(c) = &self.conditions
            && !conditions::eval(c, rec)
        {
            return false;
        }
        if let Some(c) = &self.custom_field_conditions {
            // A record matches if ANY of its custom fields satisfies the expression.
            let any = rec
                .get("customFields")
                .and_then(Value::as_array)
                .is_some_and(|cfs| cfs.iter().any(|cf| conditions::eval(c, cf)));
            if !any {
                return false;
            }
        }
        true
    }
}

/// A parsed list request.
pub(crate) struct ListQuery {
    pub filter: Filter,
    fields: Option<Vec<Vec<String>>>,
    order: Vec<(Vec<String>, bool)>,
    page: usize,
    page_size: usize,
    forward_only: bool,
    page_id: Option<i64>,
}

fn parse_positive(req: &Req, name: &str) -> Result<Option<i64>, String> {
    match req.param(name).map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse::<i64>().map(Some).map_err(|_| format!("{name} must be an integer")),
    }
}

impl ListQuery {
    pub fn parse(req: &Req, schema: &Schema) -> Result<ListQuery, String> {
        let filter = Filter::parse(req, schema)?;
        let fields = req.param("fields").map(str::trim).filter(|s| !s.is_empty()).map(|f| {
            f.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .take(MAX_FIELDS)
                .map(|p| p.split('/').take(8).map(str::to_string).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        });
        let mut order = Vec::new();
        if let Some(o) = req.param("orderBy").map(str::trim).filter(|s| !s.is_empty()) {
            for part in o.split(',').take(MAX_FIELDS) {
                let words: Vec<&str> = part.split_whitespace().collect();
                let (field, desc) = match words[..] {
                    [f] => (f, false),
                    [f, d] if d.eq_ignore_ascii_case("asc") => (f, false),
                    [f, d] if d.eq_ignore_ascii_case("desc") => (f, true),
                    _ => return Err(format!("orderBy: cannot parse '{}'", part.trim())),
                };
                let (canon, _) = schema.canonical(field).ok_or_else(|| format!("orderBy: unknown field '{field}'"))?;
                order.push((canon.split('/').map(str::to_string).collect(), desc));
            }
        }
        let page = parse_positive(req, "page")?.unwrap_or(1).max(1) as usize;
        let page_size = match parse_positive(req, "pageSize")? {
            Some(n) if n >= 1 => (n as usize).min(MAX_PAGE_SIZE),
            _ => DEFAULT_PAGE_SIZE,
        };
        let forward_only = req.header("pagination-type").is_some_and(|v| v.trim().eq_ignore_ascii_case("forward-only"));
        let page_id = parse_positive(req, "pageId")?;
        if forward_only && !order.is_empty() && !(order.len() == 1 && order[0].0 == ["id"] && !order[0].1) {
            return Err("forward-only pagination only supports orderBy=id asc".into());
        }
        Ok(ListQuery { filter, fields, order, page, page_size, forward_only, page_id })
    }
}

fn lookup<'a>(rec: &'a Value, path: &[String]) -> &'a Value {
    let mut cur = rec;
    for seg in path {
        match cur.get(seg.as_str()) {
            Some(v) => cur = v,
            None => return &Value::Null,
        }
    }
    cur
}

/// SQL Server order: NULLs first, text case-insensitive.
fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

fn id_of(v: &Value) -> i64 {
    v.get("id").and_then(Value::as_i64).unwrap_or(0)
}

/// Copy only the requested fields (top-level names or a/b nested, any case).
fn project(rec: &Value, fields: &[Vec<String>]) -> Value {
    fn copy(src: &Value, dst: &mut Map<String, Value>, path: &[String]) {
        let Some((first, rest)) = path.split_first() else { return };
        let Some((key, val)) = src.as_object().and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(first)))
        else {
            return;
        };
        if rest.is_empty() {
            dst.insert(key.clone(), val.clone());
        } else if val.is_object() {
            let entry = dst.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
            if let Some(m) = entry.as_object_mut() {
                copy(val, m, rest);
            }
        }
    }
    let mut out = Map::new();
    for p in fields {
        copy(rec, &mut out, p);
    }
    Value::Object(out)
}

/// The URL of another page: the request's own query (as sent) with the paging parameters replaced.
fn page_url(self_url: &str, raw_query: Option<&str>, paging: &[(&str, String)]) -> String {
    let mut parts: Vec<String> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let k = decode(p.split('=').next().unwrap_or(""));
            !["page", "pagesize", "pageid"].contains(&k.to_ascii_lowercase().as_str())
        })
        .map(str::to_string)
        .collect();
    parts.extend(paging.iter().map(|(k, v)| format!("{k}={v}")));
    format!("{self_url}?{}", parts.join("&"))
}

/// Filter, sort, page and project `records` (given in id order). `self_url` is the full URL of the
/// collection without query, for the Link header.
pub(crate) fn list(records: Vec<&Value>, q: &ListQuery, self_url: &str, raw_query: Option<&str>) -> Reply {
    let mut hits: Vec<&Value> = records.into_iter().filter(|r| q.filter.matches(r)).collect();
    let size = q.page_size;
    let mut links: Vec<(String, &str)> = Vec::new();
    let page: Vec<&Value> = if q.forward_only {
        hits.sort_by_key(|r| id_of(r));
        let after = q.page_id.unwrap_or(i64::MIN);
        let start = hits.partition_point(|r| id_of(r) <= after);
        let end = (start + size).min(hits.len());
        if end < hits.len() && end > start {
            let next_id = id_of(hits[end - 1]);
            links.push((
                page_url(self_url, raw_query, &[("pageSize", size.to_string()), ("pageId", next_id.to_string())]),
                "next",
            ));
        }
        hits[start..end].to_vec()
    } else {
        if !q.order.is_empty() {
            hits.sort_by(|a, b| {
                for (path, desc) in &q.order {
                    let o = cmp_values(lookup(a, path), lookup(b, path));
                    let o = if *desc { o.reverse() } else { o };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                id_of(a).cmp(&id_of(b))
            });
        }
        let last = hits.len().div_ceil(size).max(1);
        let p = q.page;
        let url = |n: usize| page_url(self_url, raw_query, &[("page", n.to_string()), ("pageSize", size.to_string())]);
        if last > 1 {
            if p > 1 {
                links.push((url(1), "first"));
                links.push((url((p - 1).min(last)), "prev"));
            }
            if p < last {
                links.push((url(p + 1), "next"));
                links.push((url(last), "last"));
            }
        }
        let start = (p - 1).saturating_mul(size).min(hits.len());
        let end = (start + size).min(hits.len());
        hits[start..end].to_vec()
    };
    let body: Vec<Value> = page
        .into_iter()
        .map(|r| match &q.fields {
            Some(f) => project(r, f),
            None => r.clone(),
        })
        .collect();
    let mut reply = Reply::json(200, &Value::Array(body));
    if !links.is_empty() {
        let link = links.iter().map(|(u, rel)| format!("<{u}>; rel=\"{rel}\"")).collect::<Vec<_>>().join(", ");
        reply = reply.with_header("Link", link);
    }
    reply
}
