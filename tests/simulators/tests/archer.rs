//! The RSA Archer simulator against contracts/mailbox-archer.md.

mod common;

use common::*;
use psa_bridge_sim::generate::archer_from;
use psa_bridge_sim::{ArcherConfig, Faults, SimConfig, Simulators};
use serde_json::{Value, json};
use std::time::Duration;

const ACCEPT: &str = "application/json,text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn start() -> Simulators {
    Simulators::start(SimConfig::generated(5, 30, 10, 21)).expect("simulators start")
}

fn rest(sims: &Simulators, session: Option<&str>, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let prefix = sims.archer_config().prefix;
    let url = format!("{}/{prefix}{path}", sims.archer_url());
    let auth = session.map(|s| format!("Archer session-id=\"{s}\""));
    let mut h = vec![("Accept", ACCEPT), ("Content-Type", "application/json")];
    if let Some(a) = &auth {
        h.push(("Authorization", a));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    request(method, &url, &h, body.as_bytes()).expect("answered")
}

fn login(sims: &Simulators) -> String {
    let c = sims.archer_connection();
    let body = json!({"InstanceName": c["instance"], "Username": c["user"], "UserDomain": c["domain"], "Password": c["password"]});
    let r = rest(sims, None, "POST", "/core/security/login", Some(&body));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["IsSuccessful"], true, "{v}");
    v["RequestedObject"]["SessionToken"].as_str().unwrap().to_string()
}

fn get_ok(sims: &Simulators, s: &str, path: &str) -> Value {
    let r = rest(sims, Some(s), "GET", path, None);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

/// (level id, field name -> (id, type, values list id)).
struct Incidents {
    module: i64,
    level: i64,
    fields: Vec<Value>,
}

impl Incidents {
    fn field(&self, name: &str) -> &Value {
        self.fields.iter().find(|f| f["Name"] == name).unwrap_or_else(|| panic!("field {name}"))
    }
    fn fid(&self, name: &str) -> i64 {
        self.field(name)["Id"].as_i64().unwrap()
    }
    fn entry(&self, name: &str, value: Value) -> (String, Value) {
        let f = self.field(name);
        (f["Id"].to_string(), json!({"Type": f["Type"], "Value": value, "FieldId": f["Id"]}))
    }
}

fn discover(sims: &Simulators, s: &str) -> Incidents {
    let apps = get_ok(sims, s, "/core/system/application");
    let app = apps.as_array().unwrap().iter().find(|a| a["RequestedObject"]["Name"] == "Security Incidents").unwrap();
    let module = app["RequestedObject"]["Id"].as_i64().unwrap();
    let levels = get_ok(sims, s, &format!("/core/system/level/module/{module}"));
    let level = levels[0]["RequestedObject"]["Id"].as_i64().unwrap();
    let fields = get_ok(sims, s, &format!("/core/system/fielddefinition/level/{level}"));
    let fields = fields.as_array().unwrap().iter().map(|f| f["RequestedObject"].clone()).collect();
    Incidents { module, level, fields }
}

fn value_id(sims: &Simulators, s: &str, inc: &Incidents, field: &str, name: &str) -> i64 {
    let list = inc.field(field)["RelatedValuesListId"].as_i64().unwrap();
    let vals = get_ok(sims, s, &format!("/core/system/valueslistvalue/valueslist/{list}"));
    vals.as_array().unwrap().iter().find(|v| v["RequestedObject"]["Name"] == name).unwrap()["RequestedObject"]["Id"]
        .as_i64()
        .unwrap()
}

fn content(level: i64, entries: Vec<(String, Value)>) -> Value {
    let fc: serde_json::Map<String, Value> = entries.into_iter().collect();
    json!({"Content": {"LevelId": level, "FieldContents": fc}})
}

fn create(sims: &Simulators, s: &str, body: &Value) -> Value {
    let r = rest(sims, Some(s), "POST", "/core/content", Some(body));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn incident(sims: &Simulators, s: &str, inc: &Incidents, title: &str, message_id: &str) -> i64 {
    let v = create(
        sims,
        s,
        &content(
            inc.level,
            vec![inc.entry("Incident Title", json!(title)), inc.entry("Message ID", json!(message_id))],
        ),
    );
    assert_eq!(v["IsSuccessful"], true, "{v}");
    v["RequestedObject"]["Id"].as_i64().unwrap()
}

#[test]
fn login_logout_sessions_and_expiry() {
    let sims = start();
    let c = sims.archer_connection();
    assert_eq!(c["prefix"], "platformapi");
    let bad = json!({"InstanceName": c["instance"], "Username": c["user"], "UserDomain": "", "Password": "nope"});
    let r = rest(&sims, None, "POST", "/core/security/login", Some(&bad));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["IsSuccessful"], false);
    assert!(v["RequestedObject"].is_null());
    assert_eq!(v["ValidationMessages"][0]["MessageKey"], "ValidationMessageTemplates:LoginNotValid");
    assert_eq!(v["ValidationMessages"][0]["ResourcedMessage"], "Invalid login credentials.");
    let s = login(&sims);
    assert!(s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit()), "{s}");
    // Unquoted session id works too.
    let url = format!("{}/platformapi/core/system/application", sims.archer_url());
    let unquoted = format!("Archer session-id={s}");
    assert_eq!(get(&url, &[("Authorization", &unquoted)]).status, 200);
    let r = rest(&sims, Some("DEADBEEF"), "GET", "/core/system/application", None);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["Message"], "Authorization has been denied for this request.");
    sims.archer_expire_sessions();
    assert_eq!(rest(&sims, Some(&s), "GET", "/core/system/application", None).status, 401);
    // Idle expiry: a used session lives on, an idle one goes.
    sims.set_archer_config(ArcherConfig { session_ttl_s: 1, ..sims.archer_config() });
    let s = login(&sims);
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(rest(&sims, Some(&s), "GET", "/core/system/user", None).status, 200, "renewed by use");
    }
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(rest(&sims, Some(&s), "GET", "/core/system/user", None).status, 401);
    let s = login(&sims);
    let r = rest(&sims, Some(&s), "POST", "/core/security/logout", Some(&json!({"Value": s})));
    assert_eq!(r.json()["IsSuccessful"], true);
    assert_eq!(rest(&sims, Some(&s), "GET", "/core/system/user", None).status, 401);
    assert_eq!(sims.archer_state()["counts"]["logins"], 3);
}

#[test]
fn prefix_discovery_and_method_override() {
    let sims = start();
    let s = login(&sims);
    let r = request("GET", &format!("{}/api/core/system/application", sims.archer_url()), &[], b"").unwrap();
    assert_eq!(r.status, 404);
    assert!(r.text().contains("404 - File or directory not found."));
    let inc = discover(&sims, &s);
    let expected = archer_from(21);
    assert_eq!(inc.module, expected.application("Security Incidents").unwrap().id);
    assert!((10_000..100_000).contains(&inc.module));
    let apps = get_ok(&sims, &s, "/core/system/application");
    assert_eq!(apps.as_array().unwrap().len(), 3);
    assert_eq!(apps[0]["IsSuccessful"], true);
    assert_eq!(apps[0]["Links"], json!([]));
    for (name, t) in [("Incident Title", 1), ("Date Reported", 3), ("Incident Status", 4), ("Incident Owner", 8)] {
        assert_eq!(inc.field(name)["Type"], t, "{name}");
    }
    assert_eq!(inc.field("Incident Title")["IsRequired"], true);
    assert_eq!(inc.field("Tracking ID")["Type"], 6);
    assert_eq!(inc.field("Source IP")["Type"], 19);
    assert_eq!(inc.field("Related Incidents")["Type"], 9);
    let list = inc.field("Priority")["RelatedValuesListId"].as_i64().unwrap();
    let vals = get_ok(&sims, &s, &format!("/core/system/valueslistvalue/valueslist/{list}"));
    let names: Vec<&str> =
        vals.as_array().unwrap().iter().map(|v| v["RequestedObject"]["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Low", "Medium", "High", "Critical"]);
    let users = get_ok(&sims, &s, "/core/system/user");
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["RequestedObject"]["UserName"] == "jdoe" && u["RequestedObject"]["DisplayName"] == "John Doe")
    );
    // POST + X-Http-Method-Override: GET answers as GET.
    let url = format!("{}/platformapi/core/system/level/module/{}", sims.archer_url(), inc.module);
    let auth = format!("Archer session-id=\"{s}\"");
    let r = request(
        "POST",
        &url,
        &[
            ("Authorization", &auth),
            ("X-Http-Method-Override", "GET"),
            ("Accept", ACCEPT),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), get_ok(&sims, &s, &format!("/core/system/level/module/{}", inc.module)));
    // Unknown ids: HTTP 200, IsSuccessful false.
    let v = get_ok(&sims, &s, "/core/system/level/module/1");
    assert_eq!(v["IsSuccessful"], false);
    assert!(!v["ValidationMessages"].as_array().unwrap().is_empty());
    assert_eq!(get_ok(&sims, &s, "/core/content/1")["IsSuccessful"], false);
    // The old prefix when configured.
    sims.set_archer_config(ArcherConfig { prefix: "api".into(), ..ArcherConfig::default() });
    assert_eq!(rest(&sims, Some(&s), "GET", "/core/system/application", None).status, 200);
    let r = request("GET", &format!("{}/platformapi/core/system/application", sims.archer_url()), &[], b"").unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(sims.archer_connection()["prefix"], "api");
}

#[test]
fn create_read_update_and_decoded_state() {
    let sims = start();
    let s = login(&sims);
    let inc = discover(&sims, &s);
    let users = get_ok(&sims, &s, "/core/system/user");
    let jdoe = users.as_array().unwrap().iter().find(|u| u["RequestedObject"]["UserName"] == "jdoe").unwrap()
        ["RequestedObject"]["Id"]
        .clone();
    let old = sims.archer_state()["contents"][0]["id"].as_i64().unwrap();
    let new = value_id(&sims, &s, &inc, "Incident Status", "New");
    let phishing = value_id(&sims, &s, &inc, "Category", "Phishing");
    let body = content(
        inc.level,
        vec![
            inc.entry("Incident Title", json!("ABUSE - FW: Your mailbox is almost full")),
            inc.entry("Description", json!("From: a@b.example\nSent: ...\nSubject: x")),
            inc.entry("Message ID", json!("<ABC.1@mail.gmail.com>")),
            inc.entry("Reporter Email", json!("megan.bowen@contoso.example")),
            inc.entry("Date Reported", json!("2026-11-30T08:15:02Z")),
            inc.entry("Incident Status", json!({"ValuesListIds": [new], "OtherText": null})),
            inc.entry("Category", json!({"ValuesListIds": [phishing], "OtherText": null})),
            inc.entry("Incident Owner", json!({"UserList": [{"ID": jdoe}], "GroupList": []})),
            inc.entry("Related Incidents", json!([{"ContentID": old}])),
            inc.entry("Source IP", json!("203.0.113.7")),
            inc.entry("Number of Recipients", json!(3)),
            inc.entry("External References", json!([{"Name": "VT", "URL": "https://vt.example/x"}])),
        ],
    );
    let v = create(&sims, &s, &body);
    assert_eq!(v["IsSuccessful"], true, "{v}");
    assert_eq!(v["ValidationMessages"], json!([]));
    let id = v["RequestedObject"]["Id"].as_i64().unwrap();
    let got = get_ok(&sims, &s, &format!("/core/content/{id}"));
    assert_eq!(got["IsSuccessful"], true);
    assert_eq!(got["RequestedObject"]["LevelId"], inc.level);
    let fc = &got["RequestedObject"]["FieldContents"];
    assert_eq!(fc[inc.fid("Message ID").to_string()]["Value"], "<ABC.1@mail.gmail.com>");
    assert_eq!(fc[inc.fid("Tracking ID").to_string()]["Value"], id);
    // Update one field.
    let closed = value_id(&sims, &s, &inc, "Incident Status", "Closed");
    let mut upd =
        content(inc.level, vec![inc.entry("Incident Status", json!({"ValuesListIds": [closed], "OtherText": null}))]);
    upd["Content"]["Id"] = json!(id);
    let r = rest(&sims, Some(&s), "PUT", "/core/content", Some(&upd));
    assert_eq!(r.json()["IsSuccessful"], true, "{}", r.text());
    let st = sims.archer_state();
    let c = st["contents"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap();
    let f = &c["fields"];
    assert_eq!(f["Incident Status"], json!(["Closed"]));
    assert_eq!(f["Category"], json!(["Phishing"]));
    assert_eq!(f["Incident Owner"], json!(["jdoe"]));
    assert_eq!(f["Date Reported"], "2026-11-30T08:15:02");
    assert_eq!(f["Related Incidents"], json!([old]));
    assert_eq!(f["Tracking ID"], id);
    assert_eq!(c["level"], "Security Incidents");
    assert_eq!(st["counts"]["creates"], 1);
    assert_eq!(st["counts"]["updates"], 1);
    assert_eq!(st["counts"]["duplicates"], 0);
    // A second record with the same Message ID (spaces, case) is a duplicate pair.
    incident(&sims, &s, &inc, "ABUSE - again", "  <abc.1@MAIL.gmail.com> ");
    assert_eq!(sims.archer_state()["counts"]["duplicates"], 2);
}

#[test]
fn every_validation_case_is_http_200_not_successful() {
    let sims = start();
    let s = login(&sims);
    let inc = discover(&sims, &s);
    let title = || inc.entry("Incident Title", json!("ABUSE - x"));
    let findings_level = {
        let apps = get_ok(&sims, &s, "/core/system/application");
        let f = apps.as_array().unwrap().iter().find(|a| a["RequestedObject"]["Name"] == "Findings").unwrap();
        let m = f["RequestedObject"]["Id"].as_i64().unwrap();
        get_ok(&sims, &s, &format!("/core/system/level/module/{m}"))[0]["RequestedObject"]["Id"].as_i64().unwrap()
    };
    let finding_field =
        get_ok(&sims, &s, &format!("/core/system/fielddefinition/level/{findings_level}"))[0]["RequestedObject"]["Id"]
            .as_i64()
            .unwrap();
    let wrong_type = {
        let (k, mut e) = inc.entry("Message ID", json!("x"));
        e["Type"] = json!(4);
        (k, e)
    };
    let cases: Vec<(&str, Value)> = vec![
        ("unknown level", content(1, vec![title()])),
        (
            "field not on level",
            content(
                inc.level,
                vec![title(), (finding_field.to_string(), json!({"Type": 1, "Value": "x", "FieldId": finding_field}))],
            ),
        ),
        ("wrong type", content(inc.level, vec![title(), wrong_type])),
        ("text as number", content(inc.level, vec![title(), inc.entry("Description", json!(5))])),
        ("bad date", content(inc.level, vec![title(), inc.entry("Date Reported", json!("yesterday"))])),
        ("list shape", content(inc.level, vec![title(), inc.entry("Priority", json!("High"))])),
        (
            "list foreign id",
            content(inc.level, vec![title(), inc.entry("Priority", json!({"ValuesListIds": [1], "OtherText": null}))]),
        ),
        ("links shape", content(inc.level, vec![title(), inc.entry("External References", json!("https://x"))])),
        ("number shape", content(inc.level, vec![title(), inc.entry("Number of Recipients", json!("3"))])),
        (
            "unknown user",
            content(
                inc.level,
                vec![title(), inc.entry("Incident Owner", json!({"UserList": [{"ID": 1}], "GroupList": []}))],
            ),
        ),
        (
            "missing record",
            content(inc.level, vec![title(), inc.entry("Related Incidents", json!([{"ContentID": 1}]))]),
        ),
        ("bad ip", content(inc.level, vec![title(), inc.entry("Source IP", json!("not-an-ip"))])),
        ("required missing", content(inc.level, vec![inc.entry("Description", json!("no title"))])),
        ("required empty", content(inc.level, vec![inc.entry("Incident Title", json!("   "))])),
        ("too long", content(inc.level, vec![inc.entry("Incident Title", json!("x".repeat(256)))])),
        ("tracking id", content(inc.level, vec![title(), inc.entry("Tracking ID", json!(5))])),
    ];
    // What each case's first message says.
    let says = [
        "level id 1 is not valid",
        "is not valid for level",
        "is not its type 1",
        "a text value is expected",
        "an ISO date is expected",
        "ValuesListIds",
        "is not a value of its values list",
        "\"URL\"",
        "a number is expected",
        "is not a known user",
        "is not an existing record",
        "IPv4 or IPv6",
        "'Incident Title' is required",
        "'Incident Title' is required",
        "maximum length of 255",
        "'Tracking ID' is calculated",
    ];
    assert_eq!(says.len(), cases.len());
    for ((what, body), says) in cases.iter().zip(says) {
        let v = create(&sims, &s, body);
        assert_eq!(v["IsSuccessful"], false, "{what}: {v}");
        let m = &v["ValidationMessages"][0];
        assert!(m["ResourcedMessage"].as_str().unwrap().contains(says), "{what}: {m}");
        assert_eq!(m["Reason"], "Validation", "{what}");
        assert_eq!(m["Severity"], 3, "{what}");
        assert!(!m["ResourcedMessage"].as_str().unwrap().is_empty(), "{what}");
    }
    let st = sims.archer_state();
    assert_eq!(st["counts"]["validation_failures"], cases.len());
    assert_eq!(st["counts"]["creates"], 0);
    // 255 characters are fine; the planted rejection refuses one value.
    assert_eq!(
        create(&sims, &s, &content(inc.level, vec![inc.entry("Incident Title", json!("é".repeat(255)))]))["IsSuccessful"],
        true
    );
    sims.set_archer_config(ArcherConfig { reject_text: Some("EVIL-MARKER".into()), ..ArcherConfig::default() });
    let v = create(
        &sims,
        &s,
        &content(inc.level, vec![title(), inc.entry("Description", json!("body with EVIL-MARKER inside"))]),
    );
    assert_eq!(v["IsSuccessful"], false);
    assert_eq!(
        v["ValidationMessages"][0]["ResourcedMessage"],
        "The value of field 'Description' contains disallowed content."
    );
    // Malformed JSON is a 400.
    let url = format!("{}/platformapi/core/content", sims.archer_url());
    let auth = format!("Archer session-id=\"{s}\"");
    let r = request("POST", &url, &[("Authorization", &auth), ("Content-Type", "application/json")], b"{\"Content\": ")
        .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["Message"], "The request is invalid.");
    // Update of a missing record.
    let r = rest(
        &sims,
        Some(&s),
        "PUT",
        "/core/content",
        Some(&json!({"Content": {"Id": 1, "LevelId": inc.level, "FieldContents": {}}})),
    );
    assert_eq!(r.json()["IsSuccessful"], false);
}

fn soap(sims: &Simulators, session: &str, report: &str, page: usize) -> Resp {
    let esc = report.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><ExecuteSearch xmlns=\"http://archer-tech.com/webservices/\"><sessionToken>{session}</sessionToken><searchOptions>{esc}</searchOptions><pageNumber>{page}</pageNumber></ExecuteSearch></soap:Body></soap:Envelope>"
    );
    request(
        "POST",
        &format!("{}/ws/search.asmx", sims.archer_url()),
        &[
            ("Content-Type", "text/xml; charset=utf-8"),
            ("SOAPAction", "\"http://archer-tech.com/webservices/ExecuteSearch\""),
        ],
        body.as_bytes(),
    )
    .unwrap()
}

fn report(inc: &Incidents, page_size: usize, logic: Option<&str>, values: &[&str]) -> String {
    let mid = inc.fid("Message ID");
    let conds: String = values
        .iter()
        .map(|v| format!("<TextFilterCondition><Operator>Equals</Operator><Field>{mid}</Field><Value>{}</Value></TextFilterCondition>",
                         v.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")))
        .collect();
    let logic = logic.map_or(String::new(), |l| format!("<OperatorLogic>{l}</OperatorLogic>"));
    format!(
        "<SearchReport><PageSize>{page_size}</PageSize><DisplayFields><DisplayField>{mid}</DisplayField><DisplayField>{}</DisplayField></DisplayFields><Criteria><ModuleCriteria><Module>{}</Module></ModuleCriteria><Filter>{logic}<Conditions>{conds}</Conditions></Filter></Criteria></SearchReport>",
        inc.fid("Incident Title"),
        inc.module
    )
}

/// (count, contentIds, Message ID texts) of a search answer.
fn records(r: &Resp) -> (usize, Vec<i64>, Vec<String>) {
    assert_eq!(r.status, 200, "{}", r.text());
    let outer = roxmltree::Document::parse(&r.text())
        .unwrap()
        .descendants()
        .find(|n| n.has_tag_name("ExecuteSearchResult"))
        .unwrap()
        .text()
        .unwrap()
        .to_string();
    assert!(outer.starts_with("<?xml version=\"1.0\" encoding=\"utf-16\"?><Records count="));
    let xml = outer.replacen("encoding=\"utf-16\"", "", 1);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    let count = root.attribute("count").unwrap().parse().unwrap();
    let mut ids = Vec::new();
    let mut texts = Vec::new();
    for rec in root.children().filter(|n| n.has_tag_name("Record")) {
        ids.push(rec.attribute("contentId").unwrap().parse().unwrap());
        texts.push(rec.children().find(|n| n.has_tag_name("Field")).and_then(|n| n.text()).unwrap_or("").to_string());
    }
    (count, ids, texts)
}

#[test]
fn soap_search_equals_or_paging_and_faults() {
    let sims = start();
    let s = login(&sims);
    let inc = discover(&sims, &s);
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(incident(&sims, &s, &inc, &format!("ABUSE - {i}"), &format!("<m{i}.x&y@mail.example>")));
    }
    // Equals, OR of three values: exactly those (case and spaces do not matter).
    let r = soap(
        &sims,
        &s,
        &report(
            &inc,
            50,
            Some("1 OR 2 OR 3"),
            &["<m1.x&y@mail.example>", " <M4.X&Y@mail.example>", "<m6.x&y@mail.example>"],
        ),
        1,
    );
    let (count, got, texts) = records(&r);
    assert_eq!(count, 3);
    assert_eq!(got, vec![ids[1], ids[4], ids[6]]);
    assert_eq!(texts[0], "<m1.x&y@mail.example>");
    // No logic: AND (nothing has two Message IDs); "1 AND 2" likewise; one condition finds one.
    let (count, _, _) =
        records(&soap(&sims, &s, &report(&inc, 50, None, &["<m1.x&y@mail.example>", "<m2.x&y@mail.example>"]), 1));
    assert_eq!(count, 0);
    let (count, _, _) = records(&soap(
        &sims,
        &s,
        &report(&inc, 50, Some("1 AND 2"), &["<m1.x&y@mail.example>", "<m1.x&y@mail.example>"]),
        1,
    ));
    assert_eq!(count, 1);
    assert_eq!(records(&soap(&sims, &s, &report(&inc, 50, None, &["<m1.x"]), 1)).0, 0, "Equals is whole-text");
    // Paging: all incidents (no conditions), 3 per page.
    let mut all = Vec::new();
    for page in 1..=4 {
        let (count, got, _) = records(&soap(&sims, &s, &report(&inc, 3, None, &[]), page));
        assert_eq!(count, 10, "two old incidents + eight");
        assert!(got.len() <= 3);
        all.extend(got);
    }
    assert_eq!(all.len(), 10);
    assert!(all.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(sims.archer_state()["counts"]["searches"], 8);
    // Faults: bad session, malformed XML, bad SOAPAction, unsupported logic.
    let r = soap(&sims, "BAD", &report(&inc, 3, None, &[]), 1);
    assert_eq!(r.status, 500);
    assert!(r.text().contains("<faultcode>soap:Server</faultcode>"));
    assert!(r.text().contains("Server was unable to process request. ---&gt; Invalid session token"));
    let r = soap(&sims, &s, "<SearchReport><PageSize>", 1);
    assert_eq!(r.status, 500);
    assert!(r.text().contains("soap:Fault"));
    let r = soap(&sims, &s, &report(&inc, 3, Some("(1 OR 2) AND 3"), &["a", "b", "c"]), 1);
    assert_eq!(r.status, 500);
    let r =
        request("POST", &format!("{}/ws/search.asmx", sims.archer_url()), &[("SOAPAction", "\"x\"")], b"<a/>").unwrap();
    assert_eq!(r.status, 500);
    assert!(r.text().contains("SOAPAction"));
    sims.archer_expire_sessions();
    assert_eq!(soap(&sims, &s, &report(&inc, 3, None, &[]), 1).status, 500);
}

#[test]
fn lost_answers_on_creates_and_faults_in_archer_shape() {
    let sims = start();
    let s = login(&sims);
    let inc = discover(&sims, &s);
    sims.set_archer_faults(Faults { plost: 1.0, ..Faults::default() });
    let body = content(
        inc.level,
        vec![inc.entry("Incident Title", json!("ABUSE - lost")), inc.entry("Message ID", json!("<lost@x>"))],
    );
    let url = format!("{}/platformapi/core/content", sims.archer_url());
    let auth = format!("Archer session-id=\"{s}\"");
    let r = request(
        "POST",
        &url,
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert!(r.is_err(), "the answer is lost");
    // Reads (also SOAP searches) are not lost, and the create landed.
    let (count, _, _) = records(&soap(&sims, &s, &report(&inc, 5, None, &["<lost@x>"]), 1));
    assert_eq!(count, 1);
    assert_eq!(sims.archer_state()["counts"]["creates"], 1);
    sims.set_archer_faults(Faults { p5xx: 1.0, seed: 5, ..Faults::default() });
    for _ in 0..6 {
        let r = rest(&sims, Some(&s), "GET", "/core/system/application", None);
        assert!(r.status >= 500);
        let t = r.text();
        assert!(t.contains("An error has occurred.") || t.contains("<html") || t.contains("<HTML"), "{t}");
    }
    sims.set_archer_faults(Faults::default());
    sims.reset();
    let st = sims.archer_state();
    assert_eq!(st["contents"].as_array().unwrap().len(), 2);
    assert_eq!(st["counts"]["creates"], 0);
}
