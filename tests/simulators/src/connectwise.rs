//! The ConnectWise Manage REST simulator (contracts/connectwise.md): Basic auth + clientId,
//! companies with custom fields (JSON-Patch replaces the whole array, PATCH re-validates the whole
//! record, PUT works), boards and statuses, service tickets, notes, and CW list semantics.

use crate::conditions::{FType, Schema};
use crate::data::{BoardStatus, BoardTeam, BoardType, CustomFieldDef, Dataset, Member};
use crate::faults::Control;
use crate::generate::{COMPANY_STATUSES, COUNTRIES};
use crate::paging::{Filter, ListQuery, list};
use crate::server::{App, Reply, Req, configure_control};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::Method;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const SUMMARY_MAX: usize = 100;
const XREF_MAX: usize = 100;
const IDENTIFIER_MAX: usize = 25;

const COMPANY_SCHEMA: Schema = Schema {
    fields: &[
        ("id", FType::Number),
        ("identifier", FType::Text),
        ("name", FType::Text),
        ("status/id", FType::Number),
        ("status/name", FType::Text),
        ("addressLine1", FType::Text),
        ("addressLine2", FType::Text),
        ("city", FType::Text),
        ("state", FType::Text),
        ("zip", FType::Text),
        ("country/id", FType::Number),
        ("country/name", FType::Text),
        ("phoneNumber", FType::Text),
        ("website", FType::Text),
        ("territory/id", FType::Number),
        ("territory/name", FType::Text),
        ("deletedFlag", FType::Bool),
        ("_info/lastUpdated", FType::Date),
        ("_info/updatedBy", FType::Text),
    ],
    aliases: &[("lastUpdated", "_info/lastUpdated")],
};

const TICKET_SCHEMA: Schema = Schema {
    fields: &[
        ("id", FType::Number),
        ("summary", FType::Text),
        ("recordType", FType::Text),
        ("externalXRef", FType::Text),
        ("board/id", FType::Number),
        ("board/name", FType::Text),
        ("status/id", FType::Number),
        ("status/name", FType::Text),
        ("company/id", FType::Number),
        ("company/identifier", FType::Text),
        ("company/name", FType::Text),
        ("priority/id", FType::Number),
        ("priority/name", FType::Text),
        ("contactEmailAddress", FType::Text),
        ("owner/id", FType::Number),
        ("owner/identifier", FType::Text),
        ("owner/name", FType::Text),
        ("team/id", FType::Number),
        ("team/name", FType::Text),
        ("type/id", FType::Number),
        ("type/name", FType::Text),
        ("closedFlag", FType::Bool),
        ("_info/dateEntered", FType::Date),
        ("_info/lastUpdated", FType::Date),
    ],
    aliases: &[("lastUpdated", "_info/lastUpdated"), ("dateEntered", "_info/dateEntered")],
};

const BOARD_SCHEMA: Schema = Schema {
    fields: &[
        ("id", FType::Number),
        ("name", FType::Text),
        ("inactiveFlag", FType::Bool),
        ("projectFlag", FType::Bool),
    ],
    aliases: &[],
};

const STATUS_SCHEMA: Schema = Schema {
    fields: &[
        ("id", FType::Number),
        ("name", FType::Text),
        ("board/id", FType::Number),
        ("board/name", FType::Text),
        ("sortOrder", FType::Number),
        ("displayOnBoard", FType::Bool),
        ("inactive", FType::Bool),
        ("closedStatus", FType::Bool),
        ("defaultFlag", FType::Bool),
    ],
    aliases: &[],
};

const MEMBER_SCHEMA: Schema = Schema {
    fields: &[
        ("id", FType::Number),
        ("identifier", FType::Text),
        ("firstName", FType::Text),
        ("lastName", FType::Text),
        ("officeEmail", FType::Text),
        ("defaultEmail", FType::Text),
        ("inactiveFlag", FType::Bool),
        ("licenseClass", FType::Text),
    ],
    aliases: &[],
};

const TEAM_SCHEMA: Schema = Schema {
    fields: &[
        ("id", FType::Number),
        ("name", FType::Text),
        ("boardId", FType::Number),
        ("defaultFlag", FType::Bool),
        ("teamLeader/id", FType::Number),
        ("teamLeader/identifier", FType::Text),
    ],
    aliases: &[],
};

const TYPE_SCHEMA: Schema = Schema {
    fields: &[
        ("id", FType::Number),
        ("name", FType::Text),
        ("category", FType::Text),
        ("board/id", FType::Number),
        ("board/name", FType::Text),
        ("defaultFlag", FType::Bool),
        ("inactiveFlag", FType::Bool),
        ("requestForChangeFlag", FType::Bool),
    ],
    aliases: &[],
};

const NOTE_SCHEMA: Schema = Schema {
    fields: &[
        ("id", FType::Number),
        ("ticketId", FType::Number),
        ("text", FType::Text),
        ("detailDescriptionFlag", FType::Bool),
        ("internalAnalysisFlag", FType::Bool),
        ("resolutionFlag", FType::Bool),
        ("dateCreated", FType::Date),
        ("createdBy", FType::Text),
    ],
    aliases: &[],
};

const PRIORITY_SCHEMA: Schema = Schema {
    fields: &[("id", FType::Number), ("name", FType::Text), ("sortOrder", FType::Number), ("defaultFlag", FType::Bool)],
    aliases: &[],
};

const COMPANY_WRITABLE: [&str; 13] = [
    "identifier",
    "name",
    "status",
    "addressLine1",
    "addressLine2",
    "city",
    "state",
    "zip",
    "country",
    "phoneNumber",
    "website",
    "territory",
    "customFields",
];

const TICKET_WRITABLE: [&str; 11] = [
    "summary",
    "status",
    "board",
    "company",
    "priority",
    "externalXRef",
    "contactEmailAddress",
    "owner",
    "team",
    "type",
    "customFields",
];

fn now_iso() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `{"code","message","errors":[...]}`, the CW error shape.
fn cw_error(status: u16, code: &str, message: &str, errors: Vec<Value>) -> Reply {
    Reply::json(status, &json!({"code": code, "message": message, "errors": errors}))
}

fn field_error(code: &str, message: &str, resource: &str, field: &str) -> Value {
    json!({"code": code, "message": message, "resource": resource, "field": field})
}

fn invalid(resource: &str, errors: Vec<Value>) -> Reply {
    cw_error(400, "InvalidObject", &format!("{resource} object is invalid"), errors)
}

fn not_found(what: &str) -> Reply {
    cw_error(404, "NotFound", &format!("{what} not found"), vec![])
}

fn bad_conditions(message: &str) -> Reply {
    cw_error(400, "InvalidObject", message, vec![json!({"code": "InvalidConditions", "message": message})])
}

/// One custom field entry as a company lists it.
pub(crate) fn custom_field_entry(def: &CustomFieldDef, value: Option<Value>) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(def.id));
    m.insert("caption".into(), json!(def.caption));
    m.insert("type".into(), json!(def.field_type));
    m.insert("entryMethod".into(), json!(def.entry_method));
    m.insert("numberOfDecimals".into(), json!(def.number_of_decimals));
    if let Some(v) = value {
        m.insert("value".into(), v);
    }
    Value::Object(m)
}

/// Check and canonicalise a value for a custom field type; None = unset.
fn custom_value(def: &CustomFieldDef, v: &Value) -> Result<Option<Value>, String> {
    if v.is_null() {
        return Ok(None);
    }
    let wrong = || Err(format!("Value for custom field '{}' must be of type {}", def.caption, def.field_type));
    match def.field_type.as_str() {
        "Number" => match v.as_f64() {
            Some(n) if n.fract() == 0.0 && n.abs() < 9e15 => Ok(Some(json!(n as i64))),
            Some(_) => Ok(Some(v.clone())),
            None => wrong(),
        },
        "Date" => match v.as_str().and_then(|s| crate::conditions::parse_date(s.trim())) {
            Some(d) => Ok(Some(json!(d.format("%Y-%m-%dT%H:%M:%SZ").to_string()))),
            None => wrong(),
        },
        "Checkbox" => match v {
            Value::Bool(_) => Ok(Some(v.clone())),
            _ => wrong(),
        },
        _ => match v {
            Value::String(_) => Ok(Some(v.clone())),
            _ => wrong(),
        },
    }
}

/// A whole-array replacement: every defined field is listed, those not sent become unset.
fn replace_custom_fields(defs: &[CustomFieldDef], sent: &Value, r: &str) -> Result<Value, Vec<Value>> {
    let Some(items) = sent.as_array() else {
        return Err(vec![field_error("InvalidField", "customFields must be an array", r, "customFields")]);
    };
    let mut values: BTreeMap<i64, Option<Value>> = BTreeMap::new();
    let mut errors = Vec::new();
    for item in items {
        let Some(id) = item.get("id").and_then(Value::as_i64) else {
            errors.push(field_error("InvalidField", "Each custom field needs a numeric id", r, "customFields"));
            continue;
        };
        let Some(def) = defs.iter().find(|d| d.id == id) else {
            errors.push(field_error("InvalidField", &format!("Custom field {id} is not defined"), r, "customFields"));
            continue;
        };
        match custom_value(def, item.get("value").unwrap_or(&Value::Null)) {
            Ok(v) => {
                values.insert(id, v);
            }
            Err(m) => errors.push(field_error("InvalidField", &m, r, "customFields")),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Value::Array(defs.iter().map(|d| custom_field_entry(d, values.remove(&d.id).flatten())).collect()))
}

/// At load: list every defined field, keeping the stored values (and "absent" vs null) as given.
fn fill_custom_fields(defs: &[CustomFieldDef], existing: Option<&Value>) -> Value {
    let existing = existing.and_then(Value::as_array).cloned().unwrap_or_default();
    Value::Array(
        defs.iter()
            .map(|d| {
                let found = existing.iter().find(|e| e.get("id").and_then(Value::as_i64) == Some(d.id));
                custom_field_entry(d, found.and_then(|e| e.get("value").cloned()))
            })
            .collect(),
    )
}

/// Apply JSON-Patch ops (replace/add/remove) to top-level or a/b paths among `writable`.
fn apply_patch(rec: &mut Value, body: &[u8], writable: &[&str], resource: &str) -> Result<Vec<String>, Reply> {
    let ops: Value = serde_json::from_slice(body)
        .map_err(|e| cw_error(400, "InvalidObject", &format!("Invalid JSON: {e}"), vec![]))?;
    let Some(ops) = ops.as_array() else {
        return Err(cw_error(400, "InvalidObject", "A PATCH body is a JSON-Patch array of operations", vec![]));
    };
    let mut touched = Vec::new();
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
        let Some(path) = op.get("path").and_then(Value::as_str) else {
            return Err(cw_error(400, "InvalidObject", "Each operation needs a path", vec![]));
        };
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let canon = segs.first().and_then(|f| writable.iter().find(|w| w.eq_ignore_ascii_case(f)));
        let (Some(canon), true) = (canon, (1..=2).contains(&segs.len())) else {
            return Err(invalid(
                resource,
                vec![field_error("InvalidField", &format!("Cannot patch '{path}'"), resource, path)],
            ));
        };
        let Some(obj) = rec.as_object_mut() else {
            return Err(cw_error(500, "UnexpectedError", "corrupt record", vec![]));
        };
        match kind.as_str() {
            "replace" | "add" => {
                let value = op.get("value").cloned().unwrap_or(Value::Null);
                if segs.len() == 1 {
                    obj.insert(canon.to_string(), value);
                } else {
                    // "status/id": the reference becomes {"id": value}; its other keys are recomputed.
                    let mut sub = Map::new();
                    sub.insert(segs[1].to_string(), value);
                    obj.insert(canon.to_string(), Value::Object(sub));
                }
            }
            "remove" if segs.len() == 1 => {
                obj.remove(*canon);
            }
            other => {
                return Err(cw_error(400, "InvalidObject", &format!("Unsupported patch operation '{other}'"), vec![]));
            }
        }
        touched.push(canon.to_string());
    }
    Ok(touched)
}

/// A reference sent as `{"id": n}`, or without an id as `{key: "text"}` (case-insensitive).
fn ref_matches(sent: &Value, id: i64, key: &str, text: &str) -> bool {
    match sent.get("id") {
        Some(v) => v.as_i64() == Some(id),
        None => sent.get(key).and_then(Value::as_str).is_some_and(|n| n.trim().eq_ignore_ascii_case(text.trim())),
    }
}

fn text_len_ok(v: &Value, max: usize) -> bool {
    v.as_str().is_some_and(|s| s.chars().count() <= max)
}

struct CwState {
    companies: BTreeMap<i64, Value>,
    tickets: BTreeMap<i64, Value>,
    notes: BTreeMap<i64, Value>,
    next_ticket_id: i64,
    next_note_id: i64,
}

impl CwState {
    fn load(d: &Dataset) -> CwState {
        let defs = &d.connectwise.custom_fields;
        let by_id = |list: &[Value]| -> BTreeMap<i64, Value> {
            list.iter()
                .filter_map(|v| Some((v.get("id")?.as_i64()?, v.clone())))
                .filter(|(_, v)| v.is_object())
                .collect()
        };
        let mut companies = by_id(&d.connectwise.companies);
        for c in companies.values_mut() {
            // Generated companies already list every field in order; only hand-written ones need filling.
            let complete = c.get("customFields").and_then(Value::as_array).is_some_and(|a| {
                a.len() == defs.len()
                    && a.iter().zip(defs).all(|(f, d)| f.get("id").and_then(Value::as_i64) == Some(d.id))
            });
            if !complete {
                let cfs = fill_custom_fields(defs, c.get("customFields"));
                c["customFields"] = cfs;
            }
        }
        let mut tickets = by_id(&d.connectwise.tickets);
        let tdefs = &d.connectwise.ticket_custom_fields;
        for t in tickets.values_mut() {
            let cfs = fill_custom_fields(tdefs, t.get("customFields"));
            t["customFields"] = cfs;
        }
        let notes = by_id(&d.connectwise.notes);
        CwState {
            next_ticket_id: tickets.keys().next_back().map_or(1, |k| k + 1).max(5001),
            next_note_id: notes.keys().next_back().map_or(1, |k| k + 1).max(9001),
            companies,
            tickets,
            notes,
        }
    }
}

pub(crate) struct CwSim {
    data: Arc<Dataset>,
    control: Control,
    /// "http://127.0.0.1:Q", for Link URLs.
    site: String,
    /// "/v4_6_release/apis/3.0".
    base_path: String,
    state: Mutex<CwState>,
}

impl CwSim {
    pub fn new(data: Arc<Dataset>, control: Control, site: String) -> CwSim {
        let base_path = base_path(&data.connectwise.codebase);
        CwSim { state: Mutex::new(CwState::load(&data)), data, control, site, base_path }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, CwState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn authenticate(&self, req: &Req) -> Result<(), Reply> {
        if req.header("clientid").is_none_or(|v| v.trim().is_empty()) {
            return Err(cw_error(400, "InvalidClientId", "clientId header is required", vec![]));
        }
        let c = &self.data.credentials.connectwise;
        let ok = req
            .header("authorization")
            .and_then(|h| {
                let (scheme, rest) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
            })
            .and_then(|b64| STANDARD.decode(b64).ok())
            .and_then(|raw| String::from_utf8(raw).ok())
            .is_some_and(|s| {
                let Some((user, private)) = s.split_once(':') else { return false };
                let Some((company, public)) = user.split_once('+') else { return false };
                company.eq_ignore_ascii_case(&c.company_id) && public == c.public_key && private == c.private_key
            });
        if ok {
            Ok(())
        } else {
            Err(cw_error(
                401,
                "Unauthorized",
                "Authentication failed. Check the company id, public and private key.",
                vec![],
            ))
        }
    }

    /// The API path below the base path, as lower-case segments plus the original ones.
    fn api_segments(&self, req: &Req) -> Option<(Vec<String>, Vec<String>)> {
        let p = req.path.as_str();
        let base = self.base_path.as_str();
        if p.len() < base.len() || !p.is_char_boundary(base.len()) || !p[..base.len()].eq_ignore_ascii_case(base) {
            return None;
        }
        let rest = &p[base.len()..];
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let segs: Vec<String> = rest.split('/').filter(|s| !s.is_empty()).map(crate::server::decode).collect();
        Some((segs.iter().map(|s| s.to_ascii_lowercase()).collect(), segs))
    }

    fn self_url(&self, req: &Req) -> String {
        format!("{}{}", self.site, req.path)
    }

    fn list_reply(&self, req: &Req, schema: &Schema, records: Vec<&Value>) -> Reply {
        match ListQuery::parse(req, schema) {
            Ok(q) => list(records, &q, &self.self_url(req), req.query.as_deref()),
            Err(e) => bad_conditions(&e),
        }
    }

    fn count_reply(&self, req: &Req, schema: &Schema, records: Vec<&Value>) -> Reply {
        match Filter::parse(req, schema) {
            Ok(f) => Reply::json(200, &json!({"count": records.into_iter().filter(|r| f.matches(r)).count()})),
            Err(e) => bad_conditions(&e),
        }
    }

    // ---- reference data in CW shape ----

    fn board_json(&self, id: i64) -> Option<Value> {
        let b = self.data.connectwise.boards.iter().find(|b| b.id == id)?;
        Some(json!({"id": b.id, "name": b.name, "inactiveFlag": b.inactive_flag, "projectFlag": b.project_flag,
                    "_info": {"statuses_href": format!("{}{}/service/boards/{}/statuses", self.site, self.base_path, b.id),
                              "teams_href": format!("{}{}/service/boards/{}/teams", self.site, self.base_path, b.id),
                              "types_href": format!("{}{}/service/boards/{}/types", self.site, self.base_path, b.id)}}))
    }

    fn board_ref(&self, id: i64) -> Value {
        let name = self.data.connectwise.boards.iter().find(|b| b.id == id).map(|b| b.name.clone());
        json!({"id": id, "name": name})
    }

    fn status_json(&self, s: &BoardStatus) -> Value {
        json!({"id": s.id, "name": s.name, "board": self.board_ref(s.board_id), "sortOrder": s.sort_order,
               "displayOnBoard": true, "inactive": s.inactive, "closedStatus": s.closed_status, "defaultFlag": s.default_flag})
    }

    fn member_ref(&self, id: i64) -> Value {
        match self.data.connectwise.members.iter().find(|m| m.id == id) {
            Some(m) => json!({"id": m.id, "identifier": m.identifier, "name": m.name()}),
            None => json!({"id": id}),
        }
    }

    fn member_json(&self, m: &Member) -> Value {
        json!({"id": m.id, "identifier": m.identifier, "firstName": m.first_name, "lastName": m.last_name,
               "officeEmail": m.office_email, "defaultEmail": "Office", "inactiveFlag": m.inactive_flag,
               "licenseClass": m.license_class,
               "_info": {"member_href": format!("{}{}/system/members/{}", self.site, self.base_path, m.id)}})
    }

    fn members_json(&self) -> Vec<Value> {
        self.data.connectwise.members.iter().map(|m| self.member_json(m)).collect()
    }

    fn team_json(&self, t: &BoardTeam) -> Value {
        let mut v = json!({"id": t.id, "name": t.name, "boardId": t.board_id, "members": t.members,
                           "defaultFlag": t.default_flag, "notifyOnTicketDelete": false});
        if let Some(l) = t.team_leader_id {
            v["teamLeader"] = self.member_ref(l);
        }
        v
    }

    fn type_json(&self, t: &BoardType) -> Value {
        json!({"id": t.id, "name": t.name, "category": t.category, "defaultFlag": t.default_flag,
               "inactiveFlag": t.inactive_flag, "requestForChangeFlag": t.request_for_change_flag,
               "board": self.board_ref(t.board_id)})
    }

    fn priority_json(&self) -> Vec<Value> {
        self.data
            .connectwise
            .priorities
            .iter()
            .map(|p| json!({"id": p.id, "name": p.name, "sortOrder": p.sort_order, "defaultFlag": p.default_flag}))
            .collect()
    }

    // ---- companies ----

    /// Whole-record validation (PATCH is strict about legacy values; PUT keeps an unchanged one).
    fn validate_company(
        &self,
        st: &CwState,
        id: i64,
        rec: &mut Value,
        original: &Value,
        strict_legacy: bool,
    ) -> Vec<Value> {
        let mut errors = Vec::new();
        let r = "Company";
        if rec.get("name").and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
            errors.push(field_error("MissingRequiredField", "name is required", r, "name"));
        }
        match rec.get("identifier").and_then(Value::as_str).map(str::trim) {
            None | Some("") => {
                errors.push(field_error("MissingRequiredField", "identifier is required", r, "identifier"))
            }
            Some(s) if s.chars().count() > IDENTIFIER_MAX => {
                errors.push(field_error("InvalidField", "identifier must be at most 25 characters", r, "identifier"))
            }
            Some(s) => {
                let taken = st.companies.iter().any(|(other, c)| {
                    *other != id
                        && c.get("identifier").and_then(Value::as_str).is_some_and(|o| o.eq_ignore_ascii_case(s))
                });
                if taken {
                    errors.push(field_error("InvalidField", "identifier is already in use", r, "identifier"));
                }
            }
        }
        // Status: by id or name.
        let status = rec.get("status").cloned().unwrap_or(Value::Null);
        let found = COMPANY_STATUSES.iter().find(|(sid, name)| {
            status.get("id").and_then(Value::as_i64) == Some(*sid)
                || (status.get("id").is_none()
                    && status.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name)))
        });
        match found {
            Some((sid, name)) => rec["status"] = json!({"id": sid, "name": name}),
            None if status.is_null() => {
                errors.push(field_error("MissingRequiredField", "status is required", r, "status"))
            }
            None => errors.push(field_error("InvalidField", "status is not valid", r, "status")),
        }
        let country = rec.get("country").cloned().unwrap_or(Value::Null);
        if !country.is_null() {
            match COUNTRIES.iter().find(|(cid, _, _)| country.get("id").and_then(Value::as_i64) == Some(*cid)) {
                Some((cid, name, _)) => rec["country"] = json!({"id": cid, "name": name}),
                None => errors.push(field_error("InvalidField", "country is not valid", r, "country")),
            }
        }
        let territory = rec.get("territory").cloned().unwrap_or(Value::Null);
        if !territory.is_null() {
            let tid = territory.get("id").and_then(Value::as_i64);
            match self.data.connectwise.territories.iter().find(|t| Some(t.id) == tid) {
                None => errors.push(field_error("InvalidField", "territory is not valid", r, "territory")),
                Some(t) => {
                    let unchanged = original.pointer("/territory/id").and_then(Value::as_i64) == tid;
                    if t.inactive && (strict_legacy || !unchanged) {
                        errors.push(field_error(
                            "OutOfRange",
                            &format!("The territory '{}' is no longer valid.", t.name),
                            r,
                            "territory",
                        ));
                    } else {
                        rec["territory"] = json!({"id": t.id, "name": t.name});
                    }
                }
            }
        }
        errors
    }

    fn store_company(st: &mut CwState, id: i64, mut rec: Value) -> Reply {
        let info = rec.get("_info").cloned().unwrap_or_else(|| json!({}));
        let mut info = if info.is_object() { info } else { json!({}) };
        info["lastUpdated"] = json!(now_iso());
        info["updatedBy"] = json!("APIMember");
        rec["_info"] = info;
        st.companies.insert(id, rec.clone());
        Reply::json(200, &rec)
    }

    fn patch_company(&self, id: i64, body: &[u8]) -> Reply {
        let mut st = self.st();
        let Some(original) = st.companies.get(&id).cloned() else { return not_found("Company") };
        let mut rec = original.clone();
        let touched = match apply_patch(&mut rec, body, &COMPANY_WRITABLE, "Company") {
            Ok(t) => t,
            Err(r) => return r,
        };
        if touched.iter().any(|t| t == "customFields") {
            match replace_custom_fields(
                &self.data.connectwise.custom_fields,
                rec.get("customFields").unwrap_or(&Value::Null),
                "Company",
            ) {
                Ok(cfs) => rec["customFields"] = cfs,
                Err(errors) => return invalid("Company", errors),
            }
        }
        let errors = self.validate_company(&st, id, &mut rec, &original, true);
        if !errors.is_empty() {
            return invalid("Company", errors);
        }
        Self::store_company(&mut st, id, rec)
    }

    fn put_company(&self, id: i64, body: &[u8]) -> Reply {
        let mut st = self.st();
        let Some(original) = st.companies.get(&id).cloned() else { return not_found("Company") };
        let Some(sent) = serde_json::from_slice::<Value>(body).ok().filter(Value::is_object) else {
            return cw_error(400, "InvalidObject", "A PUT body is the full company object", vec![]);
        };
        let sent = sent.as_object().cloned().unwrap_or_default();
        // A full replacement: writable fields come from the body, read-only ones stay.
        let mut rec = json!({"id": id});
        for key in COMPANY_WRITABLE {
            if let Some((_, v)) = sent.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
                rec[key] = v.clone();
            }
        }
        rec["deletedFlag"] = original.get("deletedFlag").cloned().unwrap_or(json!(false));
        for keep in ["types", "_info"] {
            if let Some(v) = original.get(keep) {
                rec[keep] = v.clone();
            }
        }
        match replace_custom_fields(
            &self.data.connectwise.custom_fields,
            rec.get("customFields").unwrap_or(&json!([])),
            "Company",
        ) {
            Ok(cfs) => rec["customFields"] = cfs,
            Err(errors) => return invalid("Company", errors),
        }
        let errors = self.validate_company(&st, id, &mut rec, &original, false);
        if !errors.is_empty() {
            return invalid("Company", errors);
        }
        Self::store_company(&mut st, id, rec)
    }

    // ---- tickets ----

    /// Resolve and check a ticket's fields (create, or a patched record against its `original`);
    /// `customFields` is replaced whole when `cf_sent`, otherwise kept. Returns the canonical record.
    fn build_ticket(
        &self,
        st: &CwState,
        input: &Value,
        original: Option<&Value>,
        cf_sent: bool,
    ) -> Result<Value, Vec<Value>> {
        let creating = original.is_none();
        let r = "Ticket";
        let cw = &self.data.connectwise;
        let mut errors = Vec::new();
        let mut out = Map::new();
        match input.get("summary").and_then(Value::as_str) {
            Some(s) if !s.trim().is_empty() => {
                if s.chars().count() > SUMMARY_MAX {
                    errors.push(field_error("InvalidField", "summary must be at most 100 characters", r, "summary"));
                }
                out.insert("summary".into(), json!(s));
            }
            _ => errors.push(field_error("MissingRequiredField", "summary is required", r, "summary")),
        }
        out.insert("recordType".into(), json!("ServiceTicket"));
        let board_in = input.get("board").cloned().unwrap_or(Value::Null);
        let board = cw.boards.iter().find(|b| {
            board_in.get("id").and_then(Value::as_i64) == Some(b.id)
                || (board_in.get("id").is_none()
                    && board_in.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(&b.name)))
        });
        match board {
            Some(b) => {
                out.insert("board".into(), json!({"id": b.id, "name": b.name}));
            }
            None if board_in.is_null() => {
                errors.push(field_error("MissingRequiredField", "board is required", r, "board"))
            }
            None => errors.push(field_error("InvalidField", "board does not exist", r, "board")),
        }
        let company_in = input.get("company").cloned().unwrap_or(Value::Null);
        let company = st.companies.values().find(|c| {
            company_in.get("id").and_then(Value::as_i64).is_some_and(|id| c["id"].as_i64() == Some(id))
                || (company_in.get("id").is_none()
                    && company_in
                        .get("identifier")
                        .and_then(Value::as_str)
                        .is_some_and(|i| c["identifier"].as_str().is_some_and(|ci| ci.eq_ignore_ascii_case(i))))
        });
        match company {
            Some(c) if creating && c["deletedFlag"].as_bool() == Some(true) => {
                errors.push(field_error("InvalidField", "company is deleted", r, "company"))
            }
            Some(c) => {
                out.insert("company".into(), json!({"id": c["id"], "identifier": c["identifier"], "name": c["name"]}));
            }
            None if company_in.is_null() => {
                errors.push(field_error("MissingRequiredField", "company is required", r, "company"))
            }
            None => errors.push(field_error("InvalidField", "company does not exist", r, "company")),
        }
        if let Some(b) = board {
            let on_board: Vec<&BoardStatus> = cw.statuses.iter().filter(|s| s.board_id == b.id).collect();
            let status_in = input.get("status").cloned().unwrap_or(Value::Null);
            let status = if status_in.is_null() {
                on_board
                    .iter()
                    .find(|s| s.default_flag)
                    .or_else(|| on_board.iter().min_by_key(|s| s.sort_order))
                    .copied()
            } else {
                on_board.iter().copied().find(|s| {
                    status_in.get("id").and_then(Value::as_i64) == Some(s.id)
                        || (status_in.get("id").is_none()
                            && status_in
                                .get("name")
                                .and_then(Value::as_str)
                                .is_some_and(|n| n.eq_ignore_ascii_case(&s.name)))
                })
            };
            match status {
                Some(s) => {
                    out.insert("status".into(), json!({"id": s.id, "name": s.name}));
                    out.insert("closedFlag".into(), json!(s.closed_status));
                }
                None => errors.push(field_error(
                    "InvalidField",
                    &format!("status is not valid for board {}", b.name),
                    r,
                    "status",
                )),
            }
        }
        // The owner: a member by id or identifier; an inactive one cannot be made the owner.
        let owner_in = input.get("owner").cloned().unwrap_or(Value::Null);
        if !owner_in.is_null() {
            match cw.members.iter().find(|m| ref_matches(&owner_in, m.id, "identifier", &m.identifier)) {
                None => errors.push(field_error("InvalidField", "owner does not exist", r, "owner")),
                Some(m) => {
                    let unchanged = original.and_then(|o| o.pointer("/owner/id")).and_then(Value::as_i64) == Some(m.id);
                    if m.inactive_flag && !unchanged {
                        errors.push(field_error(
                            "InvalidField",
                            &format!("owner {} is inactive", m.identifier),
                            r,
                            "owner",
                        ));
                    } else {
                        out.insert("owner".into(), json!({"id": m.id, "identifier": m.identifier, "name": m.name()}));
                    }
                }
            }
        }
        // Team and type: by id or name, among the ticket's board's own.
        if let Some(b) = board {
            let teams: Vec<(i64, &str)> =
                cw.teams.iter().filter(|t| t.board_id == b.id).map(|t| (t.id, t.name.as_str())).collect();
            let types: Vec<(i64, &str)> =
                cw.types.iter().filter(|t| t.board_id == b.id).map(|t| (t.id, t.name.as_str())).collect();
            for (key, on_board) in [("team", teams), ("type", types)] {
                let sent = input.get(key).cloned().unwrap_or(Value::Null);
                if sent.is_null() {
                    continue;
                }
                match on_board.iter().find(|(id, name)| ref_matches(&sent, *id, "name", name)) {
                    Some((id, name)) => {
                        out.insert(key.into(), json!({"id": id, "name": name}));
                    }
                    None => errors.push(field_error(
                        "InvalidField",
                        &format!("{key} is not valid for board {}", b.name),
                        r,
                        key,
                    )),
                }
            }
        }
        let tdefs = &cw.ticket_custom_fields;
        if cf_sent {
            match replace_custom_fields(tdefs, input.get("customFields").unwrap_or(&Value::Null), r) {
                Ok(cfs) => {
                    out.insert("customFields".into(), cfs);
                }
                Err(e) => errors.extend(e),
            }
        } else {
            out.insert("customFields".into(), fill_custom_fields(tdefs, input.get("customFields")));
        }
        let prio_in = input.get("priority").cloned().unwrap_or(Value::Null);
        let prio = if prio_in.is_null() {
            cw.priorities.iter().find(|p| p.default_flag).or(cw.priorities.first())
        } else {
            cw.priorities.iter().find(|p| {
                prio_in.get("id").and_then(Value::as_i64) == Some(p.id)
                    || (prio_in.get("id").is_none()
                        && prio_in.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(&p.name)))
            })
        };
        match prio {
            Some(p) => {
                out.insert("priority".into(), json!({"id": p.id, "name": p.name}));
            }
            None => errors.push(field_error("InvalidField", "priority does not exist", r, "priority")),
        }
        for (key, max) in [("externalXRef", XREF_MAX), ("contactEmailAddress", 250)] {
            match input.get(key) {
                None | Some(Value::Null) => {}
                Some(v) if text_len_ok(v, max) => {
                    out.insert(key.into(), v.clone());
                }
                Some(_) => errors.push(field_error(
                    "InvalidField",
                    &format!("{key} must be a string of at most {max} characters"),
                    r,
                    key,
                )),
            }
        }
        if errors.is_empty() { Ok(Value::Object(out)) } else { Err(errors) }
    }

    fn note_json(id: i64, ticket_id: i64, text: &str, detail: bool, internal: bool, resolution: bool) -> Value {
        let now = now_iso();
        json!({"id": id, "ticketId": ticket_id, "text": text, "detailDescriptionFlag": detail, "internalAnalysisFlag": internal,
               "resolutionFlag": resolution, "dateCreated": now, "createdBy": "APIMember",
               "_info": {"lastUpdated": now, "updatedBy": "APIMember"}})
    }

    fn create_ticket(&self, body: &[u8]) -> Reply {
        let Some(input) = serde_json::from_slice::<Value>(body).ok().filter(Value::is_object) else {
            return cw_error(400, "InvalidObject", "The body must be a ticket object", vec![]);
        };
        if input.get("initialDescription").is_some_and(|v| !v.is_null() && !v.is_string()) {
            return invalid(
                "Ticket",
                vec![field_error(
                    "InvalidField",
                    "initialDescription must be a string",
                    "Ticket",
                    "initialDescription",
                )],
            );
        }
        let mut st = self.st();
        let cf_sent = input.get("customFields").is_some_and(|v| !v.is_null());
        let mut rec = match self.build_ticket(&st, &input, None, cf_sent) {
            Ok(r) => r,
            Err(errors) => return invalid("Ticket", errors),
        };
        let id = st.next_ticket_id;
        st.next_ticket_id += 1;
        let now = now_iso();
        rec["id"] = json!(id);
        rec["_info"] =
            json!({"dateEntered": now, "lastUpdated": now, "enteredBy": "APIMember", "updatedBy": "APIMember"});
        let mut obj = rec.as_object().cloned().unwrap_or_default();
        // Keep "id" first, like the real service.
        let mut ordered = Map::new();
        ordered.insert("id".into(), json!(id));
        obj.remove("id");
        ordered.extend(obj);
        let rec = Value::Object(ordered);
        st.tickets.insert(id, rec.clone());
        // As in ConnectWise, the initial description becomes the ticket's first (description) note.
        if let Some(text) = input.get("initialDescription").and_then(Value::as_str).filter(|t| !t.trim().is_empty()) {
            let nid = st.next_note_id;
            st.next_note_id += 1;
            st.notes.insert(nid, Self::note_json(nid, id, text, true, false, false));
        }
        Reply::json(201, &rec)
    }

    fn patch_ticket(&self, id: i64, body: &[u8]) -> Reply {
        let mut st = self.st();
        let Some(original) = st.tickets.get(&id).cloned() else { return not_found("Ticket") };
        let mut rec = original.clone();
        let touched = match apply_patch(&mut rec, body, &TICKET_WRITABLE, "Ticket") {
            Ok(t) => t,
            Err(r) => return r,
        };
        let cf_sent = touched.iter().any(|t| t == "customFields");
        let built = match self.build_ticket(&st, &rec, Some(&original), cf_sent) {
            Ok(b) => b,
            Err(errors) => return invalid("Ticket", errors),
        };
        let mut out = Map::new();
        out.insert("id".into(), json!(id));
        if let Some(b) = built.as_object() {
            out.extend(b.clone());
        }
        let mut info = original.get("_info").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
        info["lastUpdated"] = json!(now_iso());
        info["updatedBy"] = json!("APIMember");
        out.insert("_info".into(), info);
        let rec = Value::Object(out);
        st.tickets.insert(id, rec.clone());
        Reply::json(200, &rec)
    }

    fn create_note(&self, ticket_id: i64, body: &[u8]) -> Reply {
        let mut st = self.st();
        if !st.tickets.contains_key(&ticket_id) {
            return not_found("Ticket");
        }
        let Some(input) = serde_json::from_slice::<Value>(body).ok().filter(Value::is_object) else {
            return cw_error(400, "InvalidObject", "The body must be a note object", vec![]);
        };
        let r = "ServiceNote";
        let mut errors = Vec::new();
        let text = input.get("text").and_then(Value::as_str).filter(|t| !t.trim().is_empty());
        if text.is_none() {
            errors.push(field_error("MissingRequiredField", "text is required", r, "text"));
        }
        let mut flags = [false; 3];
        for (i, key) in ["detailDescriptionFlag", "internalAnalysisFlag", "resolutionFlag"].iter().enumerate() {
            match input.get(*key) {
                None | Some(Value::Null) => {}
                Some(Value::Bool(b)) => flags[i] = *b,
                Some(_) => errors.push(field_error("InvalidField", &format!("{key} must be a boolean"), r, key)),
            }
        }
        if !errors.is_empty() {
            return invalid(r, errors);
        }
        let id = st.next_note_id;
        st.next_note_id += 1;
        let note = Self::note_json(id, ticket_id, text.unwrap_or_default(), flags[0], flags[1], flags[2]);
        st.notes.insert(id, note.clone());
        Reply::json(201, &note)
    }

    fn company_info(&self, company: &str) -> Reply {
        if !company.eq_ignore_ascii_case(&self.data.credentials.connectwise.company_id) {
            return not_found("Company");
        }
        Reply::json(
            200,
            &json!({"CompanyName": "PSA Bridge Simulated MSP", "Codebase": self.data.connectwise.codebase,
            "VersionCode": "v2025.1", "VersionNumber": "v4.6.109999", "CompanyID": self.data.credentials.connectwise.company_id,
            "IsCloud": false, "SiteUrl": self.site.trim_start_matches("http://")}),
        )
    }

    fn route_api(&self, req: &Req, s: &[&str], orig: &[String]) -> Reply {
        let id = |i: usize| orig.get(i).and_then(|v| v.parse::<i64>().ok());
        let m = &req.method;
        let get = *m == Method::GET;
        let cw = &self.data.connectwise;
        match s {
            ["company", "companies"] if get => {
                let st = self.st();
                self.list_reply(req, &COMPANY_SCHEMA, st.companies.values().collect())
            }
            ["company", "companies", "count"] if get => {
                let st = self.st();
                self.count_reply(req, &COMPANY_SCHEMA, st.companies.values().collect())
            }
            ["company", "companies", _] => match (id(2), m) {
                (None, _) => not_found("Company"),
                (Some(i), &Method::GET) => {
                    self.st().companies.get(&i).map_or_else(|| not_found("Company"), |c| Reply::json(200, c))
                }
                (Some(i), &Method::PATCH) => self.patch_company(i, &req.body),
                (Some(i), &Method::PUT) => self.put_company(i, &req.body),
                _ => method_not_allowed(),
            },
            ["service", "boards"] if get => {
                let boards: Vec<Value> = cw.boards.iter().filter_map(|b| self.board_json(b.id)).collect();
                self.list_reply(req, &BOARD_SCHEMA, boards.iter().collect())
            }
            ["service", "boards", _] if get => {
                id(2).and_then(|i| self.board_json(i)).map_or_else(|| not_found("Board"), |b| Reply::json(200, &b))
            }
            ["service", "boards", _, "statuses"] if get => match id(2).filter(|i| cw.boards.iter().any(|b| b.id == *i))
            {
                None => not_found("Board"),
                Some(b) => {
                    let statuses: Vec<Value> =
                        cw.statuses.iter().filter(|s| s.board_id == b).map(|s| self.status_json(s)).collect();
                    self.list_reply(req, &STATUS_SCHEMA, statuses.iter().collect())
                }
            },
            ["service", "boards", _, "statuses", _] if get => {
                match cw.statuses.iter().find(|s| Some(s.board_id) == id(2) && Some(s.id) == id(4)) {
                    Some(s) => Reply::json(200, &self.status_json(s)),
                    None => not_found("Status"),
                }
            }
            ["service", "boards", _, "teams"] if get => match id(2).filter(|i| cw.boards.iter().any(|b| b.id == *i)) {
                None => not_found("Board"),
                Some(b) => {
                    let teams: Vec<Value> =
                        cw.teams.iter().filter(|t| t.board_id == b).map(|t| self.team_json(t)).collect();
                    self.list_reply(req, &TEAM_SCHEMA, teams.iter().collect())
                }
            },
            ["service", "boards", _, "teams", _] if get => {
                match cw.teams.iter().find(|t| Some(t.board_id) == id(2) && Some(t.id) == id(4)) {
                    Some(t) => Reply::json(200, &self.team_json(t)),
                    None => not_found("Team"),
                }
            }
            ["service", "boards", _, "types"] if get => match id(2).filter(|i| cw.boards.iter().any(|b| b.id == *i)) {
                None => not_found("Board"),
                Some(b) => {
                    let types: Vec<Value> =
                        cw.types.iter().filter(|t| t.board_id == b).map(|t| self.type_json(t)).collect();
                    self.list_reply(req, &TYPE_SCHEMA, types.iter().collect())
                }
            },
            ["service", "boards", _, "types", _] if get => {
                match cw.types.iter().find(|t| Some(t.board_id) == id(2) && Some(t.id) == id(4)) {
                    Some(t) => Reply::json(200, &self.type_json(t)),
                    None => not_found("Type"),
                }
            }
            ["system", "members"] if get => {
                let members = self.members_json();
                self.list_reply(req, &MEMBER_SCHEMA, members.iter().collect())
            }
            ["system", "members", "count"] if get => {
                let members = self.members_json();
                self.count_reply(req, &MEMBER_SCHEMA, members.iter().collect())
            }
            ["system", "members", _] if get => match cw.members.iter().find(|m| Some(m.id) == id(2)) {
                Some(m) => Reply::json(200, &self.member_json(m)),
                None => not_found("Member"),
            },
            ["service", "priorities"] if get => {
                let prios = self.priority_json();
                self.list_reply(req, &PRIORITY_SCHEMA, prios.iter().collect())
            }
            ["service", "tickets"] if get => {
                let st = self.st();
                self.list_reply(req, &TICKET_SCHEMA, st.tickets.values().collect())
            }
            ["service", "tickets"] if *m == Method::POST => self.create_ticket(&req.body),
            ["service", "tickets", "count"] if get => {
                let st = self.st();
                self.count_reply(req, &TICKET_SCHEMA, st.tickets.values().collect())
            }
            ["service", "tickets", _] => match (id(2), m) {
                (None, _) => not_found("Ticket"),
                (Some(i), &Method::GET) => {
                    self.st().tickets.get(&i).map_or_else(|| not_found("Ticket"), |t| Reply::json(200, t))
                }
                (Some(i), &Method::PATCH) => self.patch_ticket(i, &req.body),
                _ => method_not_allowed(),
            },
            ["service", "tickets", _, "notes"] => match (id(2), m) {
                (None, _) => not_found("Ticket"),
                (Some(t), &Method::GET) => {
                    let st = self.st();
                    if !st.tickets.contains_key(&t) {
                        return not_found("Ticket");
                    }
                    let notes: Vec<&Value> = st.notes.values().filter(|n| n["ticketId"].as_i64() == Some(t)).collect();
                    self.list_reply(req, &NOTE_SCHEMA, notes)
                }
                (Some(t), &Method::POST) => self.create_note(t, &req.body),
                _ => method_not_allowed(),
            },
            ["service", "tickets", _, "notes", _] if get => {
                let st = self.st();
                match st.notes.get(&id(4).unwrap_or(-1)).filter(|n| n["ticketId"].as_i64() == id(2)) {
                    Some(n) => Reply::json(200, n),
                    None => not_found("Note"),
                }
            }
            ["company", ..] | ["service", ..] | ["system", ..] => method_not_allowed_or_404(req),
            _ => not_found("Resource"),
        }
    }
}

fn method_not_allowed() -> Reply {
    cw_error(405, "MethodNotAllowed", "The requested resource does not support this method", vec![])
}

fn method_not_allowed_or_404(req: &Req) -> Reply {
    if req.method == Method::GET { not_found("Resource") } else { method_not_allowed() }
}

/// "/v4_6_release/apis/3.0" for codebase "v4_6_release/".
pub(crate) fn base_path(codebase: &str) -> String {
    let cb = codebase.trim_matches('/');
    if cb.is_empty() { "/apis/3.0".into() } else { format!("/{cb}/apis/3.0") }
}

impl App for CwSim {
    fn control(&self) -> &Control {
        &self.control
    }

    fn route(&self, req: &Req) -> String {
        let t = match self.api_segments(req) {
            Some((lower, _)) if !lower.is_empty() => lower
                .iter()
                .map(|s| if s.parse::<i64>().is_ok() { "/{id}".to_string() } else { format!("/{s}") })
                .collect::<String>(),
            _ if req.path.to_ascii_lowercase().starts_with("/login/companyinfo/") => {
                "/login/companyinfo/{companyId}".into()
            }
            _ => "/other".into(),
        };
        format!("{} {t}", req.method)
    }

    fn handle(&self, req: &Req) -> Reply {
        let Some((lower, orig)) = self.api_segments(req) else {
            let segs = req.segments();
            if req.method == Method::GET
                && segs.len() == 3
                && segs[0].eq_ignore_ascii_case("login")
                && segs[1].eq_ignore_ascii_case("companyinfo")
            {
                return self.company_info(&segs[2]);
            }
            return not_found("Resource");
        };
        if let Err(r) = self.authenticate(req) {
            return r;
        }
        let s: Vec<&str> = lower.iter().map(String::as_str).collect();
        self.route_api(req, &s, &orig)
    }

    fn server_error(&self, status: u16, _variant: u32) -> Reply {
        match status {
            502 => {
                cw_error(502, "BadGateway", "The server received an invalid response from an upstream server.", vec![])
            }
            503 => cw_error(503, "ServiceUnavailable", "The service is temporarily unavailable.", vec![]),
            s => cw_error(s, "UnexpectedError", "An unexpected error has occurred.", vec![]),
        }
    }

    fn too_many_requests(&self, retry_after: u64) -> Reply {
        cw_error(429, "TooManyRequests", &format!("Request limit exceeded. Retry after {retry_after} seconds."), vec![])
            .with_header("Retry-After", retry_after.to_string())
    }

    fn bad_request(&self, message: &str) -> Reply {
        cw_error(400, "InvalidObject", message, vec![])
    }

    fn state(&self) -> Value {
        let (requests, faults, config) = self.control.state_parts();
        let cw = &self.data.connectwise;
        let st = self.st();
        let mut notes: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for n in st.notes.values() {
            notes.entry(n["ticketId"].as_i64().unwrap_or(0).to_string()).or_default().push(n);
        }
        json!({
            "service": "connectwise",
            "custom_fields": cw.custom_fields,
            "territories": cw.territories,
            "companies": st.companies.values().collect::<Vec<_>>(),
            "boards": cw.boards.iter().filter_map(|b| self.board_json(b.id)).collect::<Vec<_>>(),
            "statuses": cw.statuses.iter().map(|s| self.status_json(s)).collect::<Vec<_>>(),
            "priorities": self.priority_json(),
            "members": self.members_json(),
            "teams": cw.teams.iter().map(|t| self.team_json(t)).collect::<Vec<_>>(),
            "types": cw.types.iter().map(|t| self.type_json(t)).collect::<Vec<_>>(),
            "ticket_custom_fields": cw.ticket_custom_fields,
            "tickets": st.tickets.values().collect::<Vec<_>>(),
            "notes": notes,
            "requests_total": requests.as_object().map_or(0, |m| m.values().filter_map(Value::as_u64).sum::<u64>()),
            "requests": requests,
            "faults": faults,
            "config": config,
            "events": self.control.events(),
        })
    }

    fn reset(&self) {
        self.control.reset();
        *self.st() = CwState::load(&self.data);
    }

    fn configure(&self, body: &Value) -> Result<Value, String> {
        configure_control(&self.control, body)?;
        Ok(self.control.state_parts().2)
    }
}
