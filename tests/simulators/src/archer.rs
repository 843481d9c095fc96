//! The RSA Archer simulator (contracts/mailbox-archer.md): REST below a configurable prefix
//! (`platformapi`, or `api` for older instances), session login and idle-expiring sessions,
//! discovery of applications, levels, fields, values lists and users (instance-specific ids),
//! content create/update/read with Archer's strict validation answered as HTTP 200
//! `IsSuccessful: false`, and the SOAP search (`/ws/search.asmx`, see archer_search.rs).
//!
//! Choices where the contract is silent:
//! - Unknown ids on discovery (`level/module/{id}`, `fielddefinition/level/{id}`,
//!   `valueslistvalue/valueslist/{id}`) and on `GET content/{id}` answer HTTP 200 with one object
//!   `{"RequestedObject": null, "IsSuccessful": false, "ValidationMessages": [...]}` (not a list), as
//!   Archer does for a failed request: a client must check the flag.
//! - A path under the other prefix, or any unknown path, is a 404 with IIS's HTML page; an unknown
//!   route under the right prefix is a 404 `{"Message": "No HTTP resource was found ..."}`.
//! - Instance name and user name are compared case-insensitively, domain and password exactly.
//! - Sessions expire `session_ttl_s` after their last use (idle); every accepted call renews them.
//! - Values list fields take at most one value (`max_selections`); `null` or an empty value clears a
//!   field; an IP address field takes IPv4/IPv6 text; a date field takes `YYYY-MM-DD`,
//!   `YYYY-MM-DDTHH:MM:SS[.fff]` or RFC 3339.
//! - All validation messages of a request are returned together.
//! - `duplicates` in the state counts the contents whose Message ID (trimmed, case-insensitive) is
//!   shared with at least one other content.
//! - The Security Incidents level has two fields beyond the contract's list ("Number of Recipients",
//!   numeric; "External References", external links) so every value shape can be exercised.

use crate::archer_search;
use crate::data::{ArcherContent, ArcherData, ArcherField, Dataset};
use crate::faults::Control;
use crate::server::{App, Reply, Req, configure_control};
use http::Method;
use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Archer settings (`/_sim/config` takes `session_ttl_s`, `prefix`, `reject_text`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ArcherConfig {
    /// Idle time after which a session is gone (Archer's default is 20 minutes).
    pub session_ttl_s: u64,
    /// The REST prefix: "platformapi" (6.5+) or "api" (older instances).
    pub prefix: String,
    /// A planted rejection: any text value containing this is refused (tests make Archer refuse one
    /// message with it).
    pub reject_text: Option<String>,
}

impl Default for ArcherConfig {
    fn default() -> Self {
        ArcherConfig { session_ttl_s: 1200, prefix: "platformapi".into(), reject_text: None }
    }
}

pub(crate) const IIS_404: &str = "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"/>\r\n<title>404 - File or directory not found.</title>\r\n</head>\r\n<body>\r\n<div id=\"header\"><h1>Server Error</h1></div>\r\n<div id=\"content\">\r\n <div class=\"content-container\"><fieldset>\r\n  <h2>404 - File or directory not found.</h2>\r\n  <h3>The resource you are looking for might have been removed, had its name changed, or is temporarily unavailable.</h3>\r\n </fieldset></div>\r\n</div>\r\n</body>\r\n</html>\r\n";

const IIS_500: &str = "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n<title>500 - Internal server error.</title>\r\n</head>\r\n<body>\r\n<div id=\"header\"><h1>Server Error</h1></div>\r\n<div id=\"content\"><fieldset><h2>500 - Internal server error.</h2><h3>There is a problem with the resource you are looking for, and it cannot be displayed.</h3></fieldset></div>\r\n</body>\r\n</html>\r\n";

fn message(status: u16, m: &str) -> Reply {
    Reply::json(status, &json!({"Message": m}))
}

fn invalid_request() -> Reply {
    message(400, "The request is invalid.")
}

/// Archer's wrapper around a successful answer.
fn ok(obj: Value) -> Value {
    json!({"Links": [], "RequestedObject": obj, "IsSuccessful": true, "ValidationMessages": []})
}

/// One validation message, Archer's shape.
pub(crate) fn vm(key: &str, resourced: &str, description: &str) -> Value {
    json!({"Reason": "Validation", "Severity": 3, "MessageKey": format!("ValidationMessageTemplates:{key}"),
           "Description": description, "Location": -1, "ErroredValue": null, "Validated": true,
           "Resolved": false, "ResourcedMessage": resourced})
}

fn failed(messages: Vec<Value>) -> Reply {
    Reply::json(
        200,
        &json!({"Links": [], "RequestedObject": null, "IsSuccessful": false, "ValidationMessages": messages}),
    )
}

fn not_found_item(what: &str, id: &str) -> Reply {
    failed(vec![vm("ItemNotFound", &format!("The {what} with id {id} was not found."), "")])
}

/// A value that clears the field (or fails a required field).
fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => {
            let empty = |k: &str| o.get(k).is_none_or(|x| x.as_array().is_none_or(|a| a.is_empty()));
            if o.contains_key("ValuesListIds") {
                empty("ValuesListIds")
            } else {
                empty("UserList") && empty("GroupList")
            }
        }
        _ => false,
    }
}

pub(crate) fn parse_date(s: &str) -> Option<chrono::NaiveDateTime> {
    let s = s.trim();
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.naive_utc())
        .ok()
        .or_else(|| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok())
        .or_else(|| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
}

pub(crate) struct AState {
    pub contents: BTreeMap<i64, ArcherContent>,
    next_id: i64,
    logins: u64,
    login_failures: u64,
    logouts: u64,
    creates: u64,
    updates: u64,
    pub searches: u64,
    validation_failures: u64,
}

struct Sessions {
    /// Token -> last use.
    last_used: HashMap<String, Instant>,
    rng: ChaCha8Rng,
}

pub(crate) struct ArcherSim {
    pub data: ArcherData,
    control: Control,
    config: Mutex<ArcherConfig>,
    state: Mutex<AState>,
    sessions: Mutex<Sessions>,
}

impl ArcherSim {
    pub fn new(data: Arc<Dataset>, control: Control, config: ArcherConfig) -> ArcherSim {
        let d = data.archer.clone();
        ArcherSim {
            state: Mutex::new(Self::load(&d)),
            sessions: Mutex::new(Sessions {
                last_used: HashMap::new(),
                rng: ChaCha8Rng::seed_from_u64(data.seed.unwrap_or(0) ^ 0xa5c4_5e55),
            }),
            data: d,
            control,
            config: Mutex::new(config),
        }
    }

    fn load(d: &ArcherData) -> AState {
        AState {
            contents: d.contents.iter().map(|c| (c.id, c.clone())).collect(),
            next_id: d.next_content_id.max(d.contents.iter().map(|c| c.id + 1).max().unwrap_or(1)),
            logins: 0,
            login_failures: 0,
            logouts: 0,
            creates: 0,
            updates: 0,
            searches: 0,
            validation_failures: 0,
        }
    }

    pub(crate) fn st(&self) -> std::sync::MutexGuard<'_, AState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> ArcherConfig {
        self.config.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_config(&self, c: ArcherConfig) {
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = c;
    }

    pub fn expire_sessions(&self) {
        self.sessions().last_used.clear();
    }

    /// Is `token` a live session? Renews it when it is.
    pub(crate) fn session_ok(&self, token: &str) -> bool {
        let ttl = Duration::from_secs(self.config().session_ttl_s);
        let mut s = self.sessions();
        let now = Instant::now();
        s.last_used.retain(|_, t| now.duration_since(*t) < ttl);
        match s.last_used.get_mut(token.trim()) {
            Some(t) => {
                *t = now;
                true
            }
            None => false,
        }
    }

    /// `Authorization: Archer session-id="<token>"` (quotes optional).
    fn authorized(&self, req: &Req) -> bool {
        let token = req.header("authorization").and_then(|h| {
            let (scheme, rest) = h.trim().split_once(' ')?;
            let (k, v) = rest.trim().split_once('=')?;
            (scheme.eq_ignore_ascii_case("archer") && k.trim().eq_ignore_ascii_case("session-id"))
                .then(|| v.trim().trim_matches('"').to_string())
        });
        token.is_some_and(|t| self.session_ok(&t))
    }

    /// The method a request means: POST with `X-Http-Method-Override: GET` is a GET.
    fn method(req: &Req) -> String {
        match req.header("x-http-method-override").map(str::trim).filter(|m| !m.is_empty()) {
            Some(m) if req.method == Method::POST => m.to_ascii_uppercase(),
            _ => req.method.to_string(),
        }
    }

    fn json_body(req: &Req) -> Result<Map<String, Value>, Reply> {
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(invalid_request()),
        }
    }

    // ---- security ----

    fn login(&self, req: &Req) -> Reply {
        let b = match Self::json_body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let c = &self.data.credentials;
        let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("");
        let good = s("InstanceName").eq_ignore_ascii_case(&c.instance)
            && s("Username").eq_ignore_ascii_case(&c.user)
            && s("UserDomain") == c.domain
            && s("Password") == c.password
            && !c.password.is_empty();
        if !good {
            self.st().login_failures += 1;
            return failed(vec![
                json!({"Reason": "Validation", "Severity": 3, "MessageKey": "ValidationMessageTemplates:LoginNotValid",
                                      "Description": "", "Location": -1, "ErroredValue": null, "Validated": true,
                                      "Resolved": false, "ResourcedMessage": "Invalid login credentials."}),
            ]);
        }
        let mut sess = self.sessions();
        let mut b = [0u8; 16];
        sess.rng.fill_bytes(&mut b);
        let token: String = b.iter().map(|x| format!("{x:02X}")).collect();
        sess.last_used.insert(token.clone(), Instant::now());
        drop(sess);
        self.st().logins += 1;
        let user_id = self.data.users.iter().find(|u| u.user_name.eq_ignore_ascii_case(&c.user)).map(|u| u.id);
        Reply::json(
            200,
            &ok(json!({"SessionToken": token, "InstanceName": c.instance, "UserId": user_id, "ContextType": 0,
                       "UserConfig": {"TimeZoneId": "Eastern Standard Time", "TimeZoneIdSource": 1, "LocaleId": "en-US",
                                      "LocaleIdSource": 2, "LanguageId": 1, "DefaultHomeDashboardId": -1,
                                      "DefaultHomeWorkspaceId": -1, "LanguageIdSource": 1, "PlatformLanguageId": 1,
                                      "PlatformLanguagePath": "en-US", "PlatformLanguageIdSource": 1},
                       "Translate": false, "IsAuthenticatedViaRestApi": true})),
        )
    }

    fn logout(&self, req: &Req) -> Reply {
        let b: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        if let Some(t) = b["Value"].as_str() {
            self.sessions().last_used.remove(t.trim());
        }
        self.st().logouts += 1;
        Reply::json(200, &ok(json!({})))
    }

    // ---- discovery ----

    fn list(items: impl Iterator<Item = Value>) -> Reply {
        Reply::json(200, &Value::Array(items.map(ok).collect()))
    }

    fn field_json(f: &ArcherField) -> Value {
        json!({"Id": f.id, "Name": f.name, "Alias": f.alias, "Type": f.field_type, "IsRequired": f.is_required,
               "RelatedValuesListId": f.values_list_id, "LevelId": f.level_id, "IsCalculated": f.field_type == 6,
               "IsKey": f.field_type == 6, "MaxLength": f.max_length, "Status": 1,
               "Guid": format!("{:08x}-0000-4000-8000-{:012x}", f.id, f.level_id)})
    }

    fn discovery(&self, s: &[&str]) -> Reply {
        let d = &self.data;
        let id = |x: &str| x.parse::<i64>().ok();
        match s {
            ["application"] => Self::list(d.applications.iter().map(|a| {
                json!({"Id": a.id, "Name": a.name, "Alias": a.alias, "Type": 2, "Status": 1, "LanguageId": 1,
                       "Description": null, "Guid": format!("{:08x}-0000-4000-8000-000000000000", a.id)})
            })),
            ["application", x] => match d.applications.iter().find(|a| Some(a.id) == id(x)) {
                Some(a) => {
                    Reply::json(200, &ok(json!({"Id": a.id, "Name": a.name, "Alias": a.alias, "Type": 2, "Status": 1})))
                }
                None => not_found_item("application", x),
            },
            ["level", "module", x] => {
                let Some(app) = d.applications.iter().find(|a| Some(a.id) == id(x)) else {
                    return not_found_item("module", x);
                };
                Self::list(d.levels.iter().filter(|l| l.module_id == app.id).map(|l| {
                    json!({"Id": l.id, "Name": l.name, "Alias": l.alias, "ModuleId": l.module_id, "ModuleName": app.name,
                           "IsDeleted": false, "HasChildLevels": false})
                }))
            }
            ["fielddefinition", "level", x] => {
                if !d.levels.iter().any(|l| Some(l.id) == id(x)) {
                    return not_found_item("level", x);
                }
                Self::list(d.fields.iter().filter(|f| Some(f.level_id) == id(x)).map(Self::field_json))
            }
            ["fielddefinition", x] => match d.fields.iter().find(|f| Some(f.id) == id(x)) {
                Some(f) => Reply::json(200, &ok(Self::field_json(f))),
                None => not_found_item("field", x),
            },
            ["valueslistvalue", "valueslist", x] => {
                if !d.fields.iter().any(|f| f.values_list_id.is_some() && f.values_list_id == id(x)) {
                    return not_found_item("values list", x);
                }
                Self::list(d.values.iter().filter(|v| Some(v.values_list_id) == id(x)).enumerate().map(|(i, v)| {
                    json!({"Id": v.id, "Name": v.name, "ValuesListId": v.values_list_id, "IsSelectable": true,
                           "SortOrder": i + 1, "IsDefault": false, "ParentId": null, "Description": null})
                }))
            }
            ["user"] => Self::list(d.users.iter().map(|u| {
                json!({"Id": u.id, "UserName": u.user_name, "DisplayName": u.display_name, "FirstName": u.first_name,
                       "LastName": u.last_name, "Email": u.email, "AccountStatus": 1, "Type": 1})
            })),
            _ => message(404, "No HTTP resource was found that matches the request URI."),
        }
    }

    // ---- content ----

    /// Validate one field value; messages are pushed to `errs`.
    fn check_value(&self, st: &AState, f: &ArcherField, v: &Value, reject: Option<&str>, errs: &mut Vec<Value>) {
        let shape = |errs: &mut Vec<Value>, what: &str| {
            errs.push(vm(
                "InvalidFieldValue",
                &format!("The value of field '{}' is not valid: {what}.", f.name),
                &format!("FieldId {} type {}", f.id, f.field_type),
            ))
        };
        if v.is_null() {
            return;
        }
        match f.field_type {
            1 | 19 => {
                let Some(s) = v.as_str() else { return shape(errs, "a text value is expected") };
                if f.field_type == 19 && !s.trim().is_empty() && s.trim().parse::<std::net::IpAddr>().is_err() {
                    return shape(errs, "an IPv4 or IPv6 address is expected");
                }
                if let Some(max) = f.max_length.filter(|m| s.chars().count() > *m) {
                    errs.push(vm(
                        "MaxLengthExceeded",
                        &format!("The value of field '{}' exceeds the maximum length of {max}.", f.name),
                        &format!("{} characters", s.chars().count()),
                    ));
                }
                if reject.is_some_and(|r| !r.is_empty() && s.contains(r)) {
                    errs.push(vm(
                        "DisallowedContent",
                        &format!("The value of field '{}' contains disallowed content.", f.name),
                        "",
                    ));
                }
            }
            2 if !v.is_number() => shape(errs, "a number is expected"),
            3 if v.as_str().and_then(parse_date).is_none() => shape(errs, "an ISO date is expected"),
            4 => {
                let ids = v.as_object().and_then(|o| {
                    let other_ok = o.get("OtherText").is_none_or(|t| t.is_null() || t.is_string());
                    o.get("ValuesListIds")?.as_array().filter(|_| other_ok)
                });
                let Some(ids) = ids else {
                    return shape(errs, "{\"ValuesListIds\": [ids], \"OtherText\": null} is expected");
                };
                for x in ids {
                    let known = x.as_i64().is_some_and(|x| {
                        self.data.values.iter().any(|val| val.id == x && Some(val.values_list_id) == f.values_list_id)
                    });
                    if !known {
                        shape(errs, &format!("{x} is not a value of its values list"));
                    }
                }
                if let Some(max) = f.max_selections.filter(|m| ids.len() > *m) {
                    shape(errs, &format!("at most {max} value(s) may be selected"));
                }
            }
            7 => {
                let good = v.as_array().is_some_and(|a| {
                    a.iter().all(|l| {
                        l.get("Name").is_some_and(Value::is_string) && l.get("URL").is_some_and(Value::is_string)
                    })
                });
                if !good {
                    shape(errs, "[{\"Name\", \"URL\"}] is expected");
                }
            }
            8 => {
                let lists = v.as_object().and_then(|o| {
                    Some((
                        o.get("UserList").map_or(Some(&vec![]), Value::as_array)?.clone(),
                        o.get("GroupList").map_or(Some(&vec![]), Value::as_array)?.clone(),
                    ))
                });
                let Some((users, groups)) = lists else {
                    return shape(errs, "{\"UserList\": [{\"ID\"}], \"GroupList\": []} is expected");
                };
                for u in &users {
                    let known = u["ID"].as_i64().is_some_and(|id| self.data.users.iter().any(|x| x.id == id));
                    if !known {
                        shape(errs, &format!("{u} is not a known user"));
                    }
                }
                if !groups.is_empty() {
                    shape(errs, "the instance has no groups");
                }
            }
            9 => {
                let Some(refs) = v.as_array() else { return shape(errs, "[{\"ContentID\": id}] is expected") };
                for r in refs {
                    if !r["ContentID"].as_i64().is_some_and(|id| st.contents.contains_key(&id)) {
                        shape(errs, &format!("{r} is not an existing record"));
                    }
                }
            }
            _ => {}
        }
    }

    /// Validate `FieldContents` for `level`: the new values by field id (None = clear), or messages.
    fn check_fields(
        &self,
        st: &AState,
        level: i64,
        fc: Option<&Value>,
        creating: bool,
    ) -> Result<BTreeMap<i64, Option<Value>>, Vec<Value>> {
        let reject = self.config().reject_text;
        let mut errs = Vec::new();
        let mut out = BTreeMap::new();
        let empty = Map::new();
        let fc = match fc {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(vec![vm("InvalidFieldContents", "FieldContents must be an object keyed by field id.", "")]);
            }
        };
        for (key, entry) in fc {
            let Some(fid) = key.trim().parse::<i64>().ok() else {
                errs.push(vm("InvalidFieldId", &format!("'{key}' is not a field id."), ""));
                continue;
            };
            let Some(f) = self.data.fields.iter().find(|f| f.id == fid && f.level_id == level) else {
                errs.push(vm("FieldNotInLevel", &format!("The field id {fid} is not valid for level {level}."), ""));
                continue;
            };
            if entry.get("FieldId").is_some_and(|x| x.as_i64() != Some(fid)) {
                errs.push(vm("FieldIdMismatch", &format!("The FieldId of '{key}' does not match its key."), ""));
                continue;
            }
            match entry.get("Type").and_then(Value::as_i64) {
                Some(t) if t == f.field_type => {}
                t => {
                    errs.push(vm(
                        "FieldTypeMismatch",
                        &format!(
                            "The type {} given for field '{}' is not its type {}.",
                            t.map_or("(none)".into(), |t| t.to_string()),
                            f.name,
                            f.field_type
                        ),
                        "",
                    ));
                    continue;
                }
            }
            if f.field_type == 6 {
                errs.push(vm(
                    "FieldNotWritable",
                    &format!("The field '{}' is calculated by the system and cannot be set.", f.name),
                    "",
                ));
                continue;
            }
            let v = entry.get("Value").cloned().unwrap_or(Value::Null);
            let before = errs.len();
            self.check_value(st, f, &v, reject.as_deref(), &mut errs);
            if errs.len() > before {
                continue;
            }
            if is_empty_value(&v) {
                if f.is_required {
                    errs.push(vm("RequiredFieldMissing", &format!("The field '{}' is required.", f.name), ""));
                }
                out.insert(fid, None);
            } else {
                out.insert(fid, Some(v));
            }
        }
        if creating {
            for f in self.data.fields.iter().filter(|f| f.level_id == level && f.is_required) {
                let given = fc.keys().any(|k| k.trim().parse::<i64>().ok() == Some(f.id));
                if !given {
                    errs.push(vm("RequiredFieldMissing", &format!("The field '{}' is required.", f.name), ""));
                }
            }
        }
        if errs.is_empty() { Ok(out) } else { Err(errs) }
    }

    fn write_content(&self, req: &Req, creating: bool) -> Reply {
        let b = match Self::json_body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut st = self.st();
        let fail = |st: &mut AState, msgs: Vec<Value>| {
            st.validation_failures += 1;
            failed(msgs)
        };
        let Some(content) = b.get("Content").and_then(Value::as_object) else {
            return fail(&mut st, vec![vm("ContentRequired", "The Content is required.", "")]);
        };
        let level_given = content.get("LevelId").and_then(Value::as_i64);
        let existing = if creating {
            None
        } else {
            let id = content.get("Id").and_then(Value::as_i64);
            match id.and_then(|id| st.contents.get(&id)) {
                Some(c) => Some((c.id, c.level_id)),
                None => {
                    let shown = content.get("Id").map_or("(none)".to_string(), Value::to_string);
                    return fail(
                        &mut st,
                        vec![vm("ContentNotFound", &format!("The content id {shown} does not exist."), "")],
                    );
                }
            }
        };
        let level = match (level_given, existing) {
            (Some(l), Some((_, el))) if l != el => {
                return fail(
                    &mut st,
                    vec![vm("InvalidLevel", &format!("The level id {l} is not the record's level {el}."), "")],
                );
            }
            (Some(l), _) => l,
            (None, Some((_, el))) => el,
            (None, None) => return fail(&mut st, vec![vm("InvalidLevel", "The LevelId is required.", "")]),
        };
        if !self.data.levels.iter().any(|l| l.id == level) {
            return fail(&mut st, vec![vm("InvalidLevel", &format!("The level id {level} is not valid."), "")]);
        }
        let fields = match self.check_fields(&st, level, content.get("FieldContents"), creating) {
            Ok(f) => f,
            Err(msgs) => return fail(&mut st, msgs),
        };
        let id = match existing {
            Some((id, _)) => {
                st.updates += 1;
                id
            }
            None => {
                let id = st.next_id;
                st.next_id += 1;
                st.creates += 1;
                st.contents.insert(id, ArcherContent { id, level_id: level, fields: BTreeMap::new() });
                id
            }
        };
        if let Some(c) = st.contents.get_mut(&id) {
            for (fid, v) in fields {
                match v {
                    Some(v) => c.fields.insert(fid, v),
                    None => c.fields.remove(&fid),
                };
            }
        }
        Reply::json(200, &ok(json!({"Id": id})))
    }

    fn tracking_field(&self, level: i64) -> Option<&ArcherField> {
        self.data.fields.iter().find(|f| f.level_id == level && f.field_type == 6)
    }

    fn get_content(&self, id: &str) -> Reply {
        let st = self.st();
        let Some(c) = id.parse::<i64>().ok().and_then(|id| st.contents.get(&id)) else {
            return not_found_item("content", id);
        };
        let mut fc = Map::new();
        for (fid, v) in &c.fields {
            let t = self.data.fields.iter().find(|f| f.id == *fid).map_or(1, |f| f.field_type);
            fc.insert(fid.to_string(), json!({"Type": t, "Value": v, "FieldId": fid}));
        }
        if let Some(t) = self.tracking_field(c.level_id) {
            fc.insert(t.id.to_string(), json!({"Type": 6, "Value": c.id, "FieldId": t.id}));
        }
        Reply::json(200, &ok(json!({"Id": c.id, "LevelId": c.level_id, "FieldContents": fc})))
    }

    fn rest(&self, req: &Req, s: &[&str]) -> Reply {
        let method = Self::method(req);
        match (method.as_str(), s) {
            ("POST", ["core", "security", "login"]) => return self.login(req),
            ("POST", ["core", "security", "logout"]) => return self.logout(req),
            _ => {}
        }
        if !self.authorized(req) {
            return message(401, "Authorization has been denied for this request.");
        }
        match (method.as_str(), s) {
            ("GET", ["core", "system", rest @ ..]) => self.discovery(rest),
            ("POST", ["core", "content"]) => self.write_content(req, true),
            ("PUT", ["core", "content"]) => self.write_content(req, false),
            ("GET", ["core", "content", id]) => self.get_content(id),
            _ => message(404, "No HTTP resource was found that matches the request URI."),
        }
    }

    /// A stored value as the state shows it: names for values lists and users, ids for references.
    pub(crate) fn decode(&self, f: &ArcherField, v: &Value) -> Value {
        match f.field_type {
            4 => {
                let ids = v["ValuesListIds"].as_array().cloned().unwrap_or_default();
                json!(
                    ids.iter()
                        .filter_map(|x| self
                            .data
                            .values
                            .iter()
                            .find(|val| Some(val.id) == x.as_i64())
                            .map(|val| val.name.clone()))
                        .collect::<Vec<_>>()
                )
            }
            8 => {
                let ids = v["UserList"].as_array().cloned().unwrap_or_default();
                json!(
                    ids.iter()
                        .filter_map(|u| self
                            .data
                            .users
                            .iter()
                            .find(|x| Some(x.id) == u["ID"].as_i64())
                            .map(|x| x.user_name.clone()))
                        .collect::<Vec<_>>()
                )
            }
            9 => json!(v.as_array().map(|a| a.iter().map(|r| r["ContentID"].clone()).collect::<Vec<_>>())),
            3 => json!(v.as_str().and_then(parse_date).map(|d| d.format("%Y-%m-%dT%H:%M:%S").to_string())),
            _ => v.clone(),
        }
    }

    fn message_id_key(&self, c: &ArcherContent) -> Option<String> {
        let f = self.data.fields.iter().find(|f| f.level_id == c.level_id && f.name == "Message ID")?;
        let v = c.fields.get(&f.id)?.as_str()?.trim().to_lowercase();
        (!v.is_empty()).then_some(v)
    }
}

impl App for ArcherSim {
    fn control(&self) -> &Control {
        &self.control
    }

    fn route(&self, req: &Req) -> String {
        let parts: Vec<String> =
            req.segments().into_iter().map(|s| if s.parse::<i64>().is_ok() { "{id}".to_string() } else { s }).collect();
        format!("{} /{}", Self::method(req), parts.join("/"))
    }

    fn handle(&self, req: &Req) -> Reply {
        let segs = req.segments();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let prefix = self.config().prefix;
        match s[..] {
            ["ws", "search.asmx"] if req.method == Method::POST => archer_search::execute(self, req),
            [p, ref rest @ ..] if p.eq_ignore_ascii_case(prefix.trim_matches('/')) => self.rest(req, rest),
            _ => Reply::text(404, "text/html", IIS_404),
        }
    }

    fn server_error(&self, status: u16, variant: u32) -> Reply {
        match status {
            503 => Reply::text(
                503,
                "text/html; charset=us-ascii",
                "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\r\n<HTML><HEAD><TITLE>Service Unavailable</TITLE></HEAD><BODY><h2>Service Unavailable</h2><hr><p>HTTP Error 503. The service is unavailable.</p></BODY></HTML>\r\n",
            ),
            s if variant.is_multiple_of(2) => message(s, "An error has occurred."),
            s => Reply::text(s, "text/html", IIS_500),
        }
    }

    fn too_many_requests(&self, retry_after: u64) -> Reply {
        message(429, "Too many requests.").with_header("Retry-After", retry_after.to_string())
    }

    fn bad_request(&self, _message: &str) -> Reply {
        invalid_request()
    }

    fn is_write(&self, req: &Req) -> bool {
        req.is_write() && Self::method(req) != "GET" && !req.path.to_ascii_lowercase().ends_with("/search.asmx")
    }

    fn state(&self) -> Value {
        let (requests, faults, mut config) = self.control.state_parts();
        if let (Some(c), Ok(Value::Object(s))) = (config.as_object_mut(), serde_json::to_value(self.config())) {
            c.extend(s);
        }
        let st = self.st();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        for c in st.contents.values() {
            if let Some(k) = self.message_id_key(c) {
                *by_key.entry(k).or_insert(0) += 1;
            }
        }
        let duplicates =
            st.contents.values().filter(|c| self.message_id_key(c).is_some_and(|k| by_key[&k] > 1)).count();
        let mut dup_ids: Vec<&String> = by_key.iter().filter(|(_, n)| **n > 1).map(|(k, _)| k).collect();
        dup_ids.sort();
        let contents: Vec<Value> = st
            .contents
            .values()
            .map(|c| {
                let level = self.data.levels.iter().find(|l| l.id == c.level_id);
                let mut fields = Map::new();
                for (fid, v) in &c.fields {
                    if let Some(f) = self.data.fields.iter().find(|f| f.id == *fid) {
                        fields.insert(f.name.clone(), self.decode(f, v));
                    }
                }
                if let Some(t) = self.tracking_field(c.level_id) {
                    fields.insert(t.name.clone(), json!(c.id));
                }
                json!({"id": c.id, "level_id": c.level_id, "level": level.map(|l| l.name.clone()), "fields": fields})
            })
            .collect();
        json!({
            "service": "archer",
            "contents": contents,
            "counts": {"logins": st.logins, "login_failures": st.login_failures, "logouts": st.logouts,
                       "creates": st.creates, "updates": st.updates, "searches": st.searches,
                       "validation_failures": st.validation_failures, "duplicates": duplicates},
            "duplicate_message_ids": dup_ids,
            "sessions": {"active": self.sessions().last_used.len()},
            "requests_total": requests.as_object().map_or(0, |m| m.values().filter_map(Value::as_u64).sum::<u64>()),
            "requests": requests,
            "faults": faults,
            "config": config,
            "events": self.control.events(),
        })
    }

    fn reset(&self) {
        self.control.reset();
        *self.st() = Self::load(&self.data);
        self.sessions().last_used.clear();
    }

    fn configure(&self, body: &Value) -> Result<Value, String> {
        configure_control(&self.control, body)?;
        let mut c = self.config();
        if let Some(v) = body.get("session_ttl_s") {
            c.session_ttl_s = v.as_u64().ok_or("session_ttl_s must be a non-negative integer")?;
        }
        if let Some(v) = body.get("prefix") {
            c.prefix = v
                .as_str()
                .filter(|p| !p.trim_matches('/').is_empty())
                .ok_or("prefix must be a non-empty string")?
                .into();
        }
        if let Some(v) = body.get("reject_text") {
            c.reject_text = match v {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                _ => return Err("reject_text must be a string or null".into()),
            };
        }
        self.set_config(c);
        let (_, _, mut config) = self.control.state_parts();
        if let (Some(o), Ok(Value::Object(s))) = (config.as_object_mut(), serde_json::to_value(self.config())) {
            o.extend(s);
        }
        Ok(config)
    }
}
