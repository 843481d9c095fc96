//! ConnectWise simulator: every point of contracts/connectwise.md, through plain HTTP.

mod common;

use common::*;
use psa_bridge_sim::{SimConfig, Simulators};
use serde_json::{Value, json};
use std::collections::HashSet;

fn start() -> Simulators {
    Simulators::start(SimConfig::small()).expect("simulators start")
}

fn companies_where(sims: &Simulators, cond: &str) -> Resp {
    cw(sims, "GET", &format!("/company/companies?pageSize=1000&conditions={}", enc(cond)), None)
}

fn names_of(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn basic_auth_and_client_id() {
    let sims = start();
    let url = format!("{}/company/companies", sims.connectwise_url());
    let client = sims.dataset().credentials.connectwise.client_id.clone();
    let r = get(&url, &[("clientId", &client)]);
    assert_eq!(r.status, 401);
    let v = r.json();
    assert!(v["code"].is_string() && v["message"].is_string() && v["errors"].is_array());
    let c = &sims.dataset().credentials.connectwise;
    use base64::Engine;
    let b64 = |s: String| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s));
    for wrong in [
        format!("{}+{}:{}x", c.company_id, c.public_key, c.private_key),
        format!("other+{}:{}", c.public_key, c.private_key),
        format!("{}:{}", c.public_key, c.private_key),
    ] {
        assert_eq!(get(&url, &[("Authorization", &b64(wrong)), ("clientId", &client)]).status, 401);
    }
    let good = cw_auth(&sims);
    let r = get(&url, &[("Authorization", &good)]);
    assert_eq!(r.status, 400, "missing clientId");
    assert!(r.json()["code"].is_string());
    assert_eq!(get(&url, &[("Authorization", &good), ("clientId", &client)]).status, 200);
    // companyId is case-insensitive.
    let upper = b64(format!("{}+{}:{}", c.company_id.to_uppercase(), c.public_key, c.private_key));
    assert_eq!(get(&url, &[("Authorization", &upper), ("clientId", &client)]).status, 200);
    // Codebase lookup (no auth).
    let r = get(&format!("{}/login/companyinfo/{}", sims.connectwise_site(), c.company_id), &[]);
    assert_eq!(r.json()["Codebase"], "v4_6_release/");
}

#[test]
fn conditions_with_escapes_like_in_and_unicode() {
    let sims = start();
    let cases: &[(&str, &str)] = &[
        (r#"name = "Joe's \"Best\" Burgers LLC""#, "Joe's \"Best\" Burgers LLC"),
        (r#"name = "joe's \"BEST\" burgers llc""#, "Joe's \"Best\" Burgers LLC"),
        (r#"name = "AC\\DC Electric Ltd""#, "AC\\DC Electric Ltd"),
        (r#"name like "100[%] Organic%""#, "100% Organic Farms"),
        (r#"name like "Data[_]Stream%""#, "Data_Stream Analytics"),
        (r#"name = "東京システム株式会社""#, "東京システム株式会社"),
        (r#"name = "Москва Логистика" AND deletedFlag = false"#, "Москва Логистика"),
        (r#"name contains "MALLEY &""#, "O'Malley & Sons"),
        (r#"name = "Margie's Travel   ""#, "Margie's Travel"),
    ];
    for (cond, want) in cases {
        let r = companies_where(&sims, cond);
        assert_eq!(r.status, 200, "{cond}: {}", r.text());
        assert_eq!(names_of(&r.json()), vec![want.to_string()], "{cond}");
    }
    // A backslash that is not escaped is malformed (catches clients that forget to escape).
    assert_eq!(companies_where(&sims, r#"name = "AC\DC Electric Ltd""#).status, 400);
    // "_" unbracketed is a wildcard: it matches more than the literal.
    let r = companies_where(&sims, r#"name like "Data_Stream%""#);
    assert!(names_of(&r.json()).contains(&"Data_Stream Analytics".to_string()));

    let d = sims.dataset();
    let some: Vec<i64> = d.connectwise.companies.iter().take(3).map(|c| c["id"].as_i64().unwrap()).collect();
    let r = companies_where(&sims, &format!("id in ({}, {}, {})", some[0], some[1], some[2]));
    assert_eq!(ids(&r.json()).into_iter().collect::<HashSet<_>>(), some.iter().copied().collect());
    let r = companies_where(&sims, &format!("id not in ({}, {}) and deletedFlag = false", some[0], some[1]));
    let expect = d
        .connectwise
        .companies
        .iter()
        .filter(|c| c["deletedFlag"] == false && !some[..2].contains(&c["id"].as_i64().unwrap()))
        .count();
    assert_eq!(ids(&r.json()).len(), expect);

    // Nested fields, booleans, dates, or/parentheses.
    let legacy = d.connectwise.companies.iter().filter(|c| c["territory"]["id"] == 9).count();
    assert!(legacy >= 2);
    assert_eq!(ids(&companies_where(&sims, "territory/id = 9").json()).len(), legacy);
    assert_eq!(ids(&companies_where(&sims, "TERRITORY/NAME = \"legacy north\"").json()).len(), legacy);
    let active =
        d.connectwise.companies.iter().filter(|c| c["status"]["name"] == "Active" && c["deletedFlag"] == false).count();
    assert_eq!(ids(&companies_where(&sims, r#"status/name = "Active" and deletedFlag = false"#).json()).len(), active);
    let us_or_ca =
        d.connectwise.companies.iter().filter(|c| c["country"]["id"] == 1 || c["country"]["id"] == 2).count();
    assert_eq!(ids(&companies_where(&sims, "(country/id = 1 OR country/id = 2) and id > 0").json()).len(), us_or_ca);
    let recent = d
        .connectwise
        .companies
        .iter()
        .filter(|c| c["_info"]["lastUpdated"].as_str().unwrap() > "2025-01-01T00:00:00Z")
        .count();
    assert_eq!(ids(&companies_where(&sims, "lastUpdated > [2025-01-01T00:00:00Z]").json()).len(), recent);
    let no_city = d.connectwise.companies.iter().filter(|c| c["city"].is_null()).count();
    assert_eq!(ids(&companies_where(&sims, "city = null").json()).len(), no_city);
    // '+' in a query string is a space.
    let r = cw(&sims, "GET", "/company/companies?conditions=name+%3D+%22Margie's+Travel%22", None);
    assert_eq!(names_of(&r.json()), vec!["Margie's Travel".to_string()]);
}

#[test]
fn malformed_conditions_are_400_never_a_crash() {
    let sims = start();
    for bad in [
        "name =",
        "name = \"unterminated",
        "nosuchfield = 1",
        "id = \"abc\"",
        "(id = 1",
        "id = 1)",
        "id in ()",
        "name like 5",
        "deletedFlag = \"yes\"",
        "lastUpdated > [not a date]",
        "name = 'single quotes'",
        "id = 1 and or id = 2",
        "customFields = 1",
        "))))((((",
        "\u{0}\u{1}",
    ] {
        let r = companies_where(&sims, bad);
        assert_eq!(r.status, 400, "{bad:?}: {}", r.text());
        let v = r.json();
        assert_eq!(v["code"], "InvalidObject");
        assert!(v["message"].as_str().unwrap().contains("conditions"));
    }
    let deep = format!("{}id = 1{}", "(".repeat(500), ")".repeat(500));
    assert_eq!(companies_where(&sims, &deep).status, 400);
    // Long `in` lists work up to the URL limit; beyond it (64 KB, like a real front end) the answer is 414.
    let long = format!("id in ({})", (1..3000).map(|i| i.to_string()).collect::<Vec<_>>().join(","));
    assert_eq!(companies_where(&sims, &long).status, 200);
    let too_long = format!("name in ({})", vec!["\"x\""; 20_000].join(","));
    assert_eq!(companies_where(&sims, &too_long).status, 414);
    // Random strings: always an answer (200 or 400), never a dropped connection.
    let mut x: u64 = 12345;
    for _ in 0..200 {
        let s: String = (0..x % 40)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let alphabet = b"ab=<>!()\"\\[], 0123 and or in not like id name";
                alphabet[(x >> 33) as usize % alphabet.len()] as char
            })
            .collect();
        let r = cw(&sims, "GET", &format!("/company/companies/count?conditions={}", enc(&s)), None);
        assert!(r.status == 200 || r.status == 400, "{s:?}");
    }
    assert_eq!(cw(&sims, "GET", "/company/companies?orderBy=nosuch%20asc", None).status, 400);
    assert_eq!(cw(&sims, "GET", "/company/companies?page=abc", None).status, 400);
}

#[test]
fn custom_field_conditions() {
    let sims = start();
    let d = sims.dataset();
    let carriers: Vec<&Value> = d
        .connectwise
        .companies
        .iter()
        .filter(|c| {
            c["customFields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["caption"] == "ARMORcompanyId" && f["value"].is_string())
        })
        .collect();
    assert!(carriers.len() >= 2);
    let r = cw(
        &sims,
        "GET",
        &format!(
            "/company/companies?pageSize=1000&customFieldConditions={}",
            enc(r#"caption="ARMORcompanyId" AND value != null"#)
        ),
        None,
    );
    assert_eq!(ids(&r.json()).len(), carriers.len());
    let value_of = |c: &Value| -> String {
        c["customFields"].as_array().unwrap().iter().find(|f| f["caption"] == "ARMORcompanyId").unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, b) = (value_of(carriers[0]), value_of(carriers[1]));
    let cond = format!(r#"caption="ARMORcompanyId" AND value in ("{a}","{b}")"#);
    let r = cw(&sims, "GET", &format!("/company/companies?customFieldConditions={}", enc(&cond)), None);
    assert_eq!(
        ids(&r.json()).into_iter().collect::<HashSet<_>>(),
        [carriers[0]["id"].as_i64().unwrap(), carriers[1]["id"].as_i64().unwrap()].into()
    );
    // Numeric literal against a Text value; combined with conditions; the truth's custom_field kind.
    let cf = d.truth.accounts.iter().find(|t| t.kind == "custom_field").unwrap();
    let r = cw(
        &sims,
        "GET",
        &format!(
            "/company/companies?conditions={}&customFieldConditions={}",
            enc("deletedFlag = false"),
            enc(&format!("caption=\"ARMORcompanyId\" and value={}", cf.armor_id))
        ),
        None,
    );
    assert_eq!(ids(&r.json()), cf.company_ids);
    // Other pseudo-fields are unknown.
    let r = cw(&sims, "GET", &format!("/company/companies?customFieldConditions={}", enc("name = \"x\"")), None);
    assert_eq!(r.status, 400);
    // Count honours it too.
    let r = cw(
        &sims,
        "GET",
        &format!(
            "/company/companies/count?customFieldConditions={}",
            enc(r#"caption="ARMORcompanyId" AND value != null"#)
        ),
        None,
    );
    assert_eq!(r.json()["count"], carriers.len());
}

#[test]
fn fields_selection_and_order() {
    let sims = start();
    let r = cw(&sims, "GET", "/company/companies?fields=id,NAME,status/name,customFields&pageSize=5", None);
    for c in r.json().as_array().unwrap() {
        let keys: HashSet<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["id", "name", "status", "customFields"].into());
        assert_eq!(c["status"].as_object().unwrap().len(), 1);
        assert!(c["status"]["name"].is_string());
    }
    let r =
        cw(&sims, "GET", "/company/companies?orderBy=name%20desc&pageSize=1000&conditions=deletedFlag%3Dfalse", None);
    let names: Vec<String> = names_of(&r.json()).into_iter().map(|n| n.to_lowercase()).collect();
    assert!(names.windows(2).all(|w| w[0] >= w[1]), "name desc, case-insensitive");
    let r = cw(&sims, "GET", "/company/companies?pageSize=1000", None);
    let all = ids(&r.json());
    assert!(all.windows(2).all(|w| w[0] < w[1]), "id asc by default");
    assert_eq!(all.len(), sims.dataset().connectwise.companies.len());
}

#[test]
fn page_size_default_clamp_links_and_past_the_end() {
    let sims = Simulators::start(SimConfig::generated(10, 1234, 10, 7)).unwrap();
    let total = sims.dataset().connectwise.companies.len();
    assert_eq!(total, 1234);
    let r = cw(&sims, "GET", "/company/companies", None);
    assert_eq!(ids(&r.json()).len(), 25);
    assert!(link(&r, "next").unwrap().contains("page=2"));
    assert!(link(&r, "last").unwrap().contains(&format!("page={}", total.div_ceil(25))));
    assert!(link(&r, "prev").is_none());
    let r = cw(&sims, "GET", "/company/companies?pageSize=5000", None);
    assert_eq!(ids(&r.json()).len(), 1000, "clamped to 1000");
    assert!(
        link(&r, "next").unwrap().starts_with(&format!("{}/company/companies?", sims.connectwise_url())),
        "full URL"
    );
    let r = cw(&sims, "GET", "/company/companies?pageSize=1000&page=2", None);
    assert_eq!(ids(&r.json()).len(), 234);
    assert!(link(&r, "next").is_none());
    assert!(link(&r, "prev").is_some() && link(&r, "first").is_some());
    let r = cw(&sims, "GET", "/company/companies?pageSize=1000&page=3", None);
    assert_eq!((r.status, r.json()), (200, json!([])));

    // Following rel="next" with a filter visits every match exactly once.
    let cond = enc("deletedFlag = false and status/id = 1");
    let want = sims
        .dataset()
        .connectwise
        .companies
        .iter()
        .filter(|c| c["deletedFlag"] == false && c["status"]["id"] == 1)
        .count();
    let mut url = format!("{}/company/companies?conditions={cond}&pageSize=100", sims.connectwise_url());
    let mut seen = Vec::new();
    for _ in 0..100 {
        let client = sims.dataset().credentials.connectwise.client_id.clone();
        let r = get(&url, &[("Authorization", &cw_auth(&sims)), ("clientId", &client)]);
        seen.extend(ids(&r.json()));
        match link(&r, "next") {
            Some(n) => url = n,
            None => break,
        }
    }
    assert_eq!(seen.len(), want);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), want);
}

#[test]
fn forward_only_paging_and_count() {
    let sims = Simulators::start(SimConfig::generated(10, 1500, 10, 8)).unwrap();
    let d = sims.dataset();
    let mut path = "/company/companies?pageSize=200".to_string();
    let mut seen = Vec::new();
    for _ in 0..100 {
        let r = cw_with(&sims, "GET", &path, None, &[("pagination-type", "forward-only")]);
        assert_eq!(r.status, 200);
        seen.extend(ids(&r.json()));
        match link(&r, "next") {
            Some(n) => {
                assert!(n.contains("pageId="));
                assert!(link(&r, "last").is_none());
                path = n.trim_start_matches(&sims.connectwise_url()).to_string();
            }
            None => break,
        }
    }
    let mut want: Vec<i64> = d.connectwise.companies.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    want.sort();
    assert_eq!(seen, want);
    let r = cw_with(&sims, "GET", "/company/companies?orderBy=name", None, &[("pagination-type", "forward-only")]);
    assert_eq!(r.status, 400);

    let r = cw(&sims, "GET", "/company/companies/count", None);
    assert_eq!(r.json(), json!({"count": 1500}));
    let deleted = d.connectwise.companies.iter().filter(|c| c["deletedFlag"] == true).count();
    let r = cw(&sims, "GET", &format!("/company/companies/count?conditions={}", enc("deletedFlag = true")), None);
    assert_eq!(r.json()["count"], deleted);
}

fn cf<'a>(company: &'a Value, caption: &str) -> &'a Value {
    company["customFields"].as_array().unwrap().iter().find(|f| f["caption"] == caption).unwrap()
}

#[test]
fn company_custom_fields_are_replaced_whole() {
    let sims = start();
    let d = sims.dataset();
    let company = d
        .connectwise
        .companies
        .iter()
        .find(|c| {
            c["territory"]["id"] != 9
                && cf(c, "Tier")["value"].is_string()
                && cf(c, "ARMORcompanyId").get("value").is_none_or(Value::is_null)
        })
        .unwrap()
        .clone();
    let id = company["id"].as_i64().unwrap();
    let armor_id = d.custom_field_id("ARMORcompanyId").unwrap();
    assert!(armor_id > 4, "instance-specific ids");
    let tier = cf(&company, "Tier")["value"].clone();

    // Only the changed field sent: the others become unset.
    let patch = json!([{"op": "replace", "path": "customFields", "value": [{"id": armor_id, "value": "7001"}]}]);
    let r = cw(&sims, "PATCH", &format!("/company/companies/{id}"), Some(&patch));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        v["customFields"].as_array().unwrap().len(),
        d.connectwise.custom_fields.len(),
        "every defined field listed"
    );
    assert_eq!(cf(&v, "ARMORcompanyId")["value"], "7001");
    assert!(cf(&v, "Tier").get("value").is_none_or(Value::is_null), "Tier wiped");

    // The whole array: everything kept.
    let mut fields = company["customFields"].clone();
    for f in fields.as_array_mut().unwrap() {
        if f["caption"] == "ARMORcompanyId" {
            f["value"] = json!("7002");
        }
        if f["caption"] == "ARMORdateUpdated" {
            f["value"] = json!("2025-05-01T12:00:00.123Z");
        }
    }
    let patch = json!([{"op": "replace", "path": "/customFields", "value": fields}]);
    let r = cw(&sims, "PATCH", &format!("/company/companies/{id}"), Some(&patch));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(cf(&v, "Tier")["value"], tier);
    assert_eq!(cf(&v, "ARMORcompanyId")["value"], "7002");
    assert_eq!(cf(&v, "ARMORdateUpdated")["value"], "2025-05-01T12:00:00Z", "dates stored in CW's format");
    let stored = cw(&sims, "GET", &format!("/company/companies/{id}"), None).json();
    assert_eq!(stored, v);
    assert_eq!(v["name"], company["name"]);

    // Unknown custom field id, wrong value types, bad paths and bodies are 400.
    let num_id = d.connectwise.custom_fields.iter().find(|f| f.field_type == "Number").unwrap().id;
    let date_id = d.custom_field_id("ARMORdateUpdated").unwrap();
    for bad in [
        json!([{"op": "replace", "path": "customFields", "value": [{"id": 999, "value": "x"}]}]),
        json!([{"op": "replace", "path": "customFields", "value": [{"id": num_id, "value": "abc"}]}]),
        json!([{"op": "replace", "path": "customFields", "value": [{"id": date_id, "value": "yesterday"}]}]),
        json!([{"op": "replace", "path": "customFields", "value": [{"id": armor_id, "value": 7001}]}]),
        json!([{"op": "replace", "path": "customFields", "value": {"id": armor_id}}]),
        json!([{"op": "replace", "path": "nosuchfield", "value": 1}]),
        json!([{"op": "move", "path": "name", "value": "x"}]),
        json!({"op": "replace", "path": "name", "value": "x"}),
        json!([{"op": "replace", "path": "name", "value": ""}]),
    ] {
        let r = cw(&sims, "PATCH", &format!("/company/companies/{id}"), Some(&bad));
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.json()["code"].is_string());
    }
    assert_eq!(cw(&sims, "GET", &format!("/company/companies/{id}"), None).json(), v, "failed PATCHes change nothing");
    assert_eq!(cw(&sims, "GET", "/company/companies/99999999", None).status, 404);
    assert_eq!(cw(&sims, "PATCH", "/company/companies/99999999", Some(&json!([]))).status, 404);
}

#[test]
fn patch_revalidates_the_record_but_put_works() {
    let sims = start();
    let d = sims.dataset();
    let company =
        d.connectwise.companies.iter().find(|c| c["territory"]["id"] == 9 && c["deletedFlag"] == false).unwrap();
    let id = company["id"].as_i64().unwrap();
    let armor_id = d.custom_field_id("ARMORcompanyId").unwrap();
    let mut fields = company["customFields"].clone();
    for f in fields.as_array_mut().unwrap() {
        if f["id"] == armor_id {
            f["value"] = json!("7001");
        }
    }
    let patch = json!([{"op": "replace", "path": "customFields", "value": fields}]);
    let r = cw(&sims, "PATCH", &format!("/company/companies/{id}"), Some(&patch));
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["code"], "InvalidObject");
    assert_eq!(v["errors"][0]["code"], "OutOfRange");
    assert_eq!(v["errors"][0]["field"], "territory");

    // The workaround: GET the company, PUT the full object with the changed custom fields.
    let mut full = cw(&sims, "GET", &format!("/company/companies/{id}"), None).json();
    full["customFields"] = fields.clone();
    let r = cw(&sims, "PUT", &format!("/company/companies/{id}"), Some(&full));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(cf(&v, "ARMORcompanyId")["value"], "7001");
    assert_eq!(v["territory"]["id"], 9, "the legacy value is kept");
    for f in ["name", "identifier", "addressLine1", "city", "zip"] {
        assert_eq!(v[f], company[f], "{f}");
    }
    let state = sims.connectwise_state();
    let stored = state["companies"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap();
    assert_eq!(cf(stored, "ARMORcompanyId")["value"], "7001");

    // PUT still validates: a missing name, a duplicate identifier, or moving another company to the retired territory.
    let mut no_name = full.clone();
    no_name.as_object_mut().unwrap().remove("name");
    assert_eq!(cw(&sims, "PUT", &format!("/company/companies/{id}"), Some(&no_name)).status, 400);
    let other = d.connectwise.companies.iter().find(|c| c["territory"]["id"] == 1).unwrap();
    let mut moved = other.clone();
    moved["territory"] = json!({"id": 9});
    let r = cw(&sims, "PUT", &format!("/company/companies/{}", other["id"]), Some(&moved));
    assert_eq!(r.status, 400);
    let mut dup = other.clone();
    dup["identifier"] = company["identifier"].clone();
    assert_eq!(cw(&sims, "PUT", &format!("/company/companies/{}", other["id"]), Some(&dup)).status, 400);
    // A PATCH of an ordinary company succeeds on the same change.
    let r = cw(
        &sims,
        "PATCH",
        &format!("/company/companies/{}", other["id"]),
        Some(&json!([{"op": "replace", "path": "territory", "value": {"id": 2}}])),
    );
    assert_eq!((r.status, r.json()["territory"]["name"].clone()), (200, json!("West")));
}

#[test]
fn boards_statuses_tickets_and_notes() {
    let sims = start();
    let d = sims.dataset();
    let r = cw(&sims, "GET", &format!("/service/boards?conditions={}", enc("name=\"ARMORtickets\"")), None);
    let boards = r.json();
    assert_eq!(boards.as_array().unwrap().len(), 1);
    let board = boards[0]["id"].as_i64().unwrap();
    let statuses = cw(&sims, "GET", &format!("/service/boards/{board}/statuses"), None).json();
    let names: Vec<&str> = statuses.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    for n in ["New", "Open", "In Progress", "Waiting", "Completed", "Closed"] {
        assert!(names.contains(&n), "{n}");
    }
    let closed = statuses.as_array().unwrap().iter().find(|s| s["name"] == "Completed").unwrap();
    assert_eq!(closed["closedStatus"], true);
    assert!(statuses[0]["sortOrder"].is_i64() && statuses[0]["defaultFlag"].is_boolean());
    assert_eq!(cw(&sims, "GET", "/service/boards/424242/statuses", None).status, 404);
    let all_boards = cw(&sims, "GET", "/service/boards", None).json();
    assert!(all_boards.as_array().unwrap().len() >= 2);
    let help_desk_status =
        d.connectwise.statuses.iter().find(|s| s.board_id != board && s.name == "Waiting for Support").unwrap().id;

    let company = d.truth.accounts.iter().find(|t| t.kind == "exact").unwrap().company_ids[0];
    let ticket = |summary: String, extra: Value| {
        let mut t = json!({"summary": summary, "board": {"id": board}, "company": {"id": company}, "externalXRef": "ATS-99001",
                           "initialDescription": "from ARMOR"});
        for (k, v) in extra.as_object().unwrap() {
            t[k] = v.clone();
        }
        t
    };
    let r = cw(&sims, "POST", "/service/tickets", Some(&ticket("x".repeat(100), json!({}))));
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let tid = created["id"].as_i64().unwrap();
    assert_eq!(created["status"]["name"], "New", "the board's default status");
    assert_eq!(created["company"]["id"], company);
    assert_eq!(created["externalXRef"], "ATS-99001");

    for (bad, field) in [
        (ticket("x".repeat(101), json!({})), "summary"),
        (ticket("ok".into(), json!({"summary": null})), "summary"),
        (ticket("ok".into(), json!({"board": null})), "board"),
        (ticket("ok".into(), json!({"company": {"id": 99999999}})), "company"),
        (ticket("ok".into(), json!({"status": {"id": help_desk_status}})), "status"),
        (ticket("ok".into(), json!({"status": {"name": "Waiting for Support"}})), "status"),
        (ticket("ok".into(), json!({"externalXRef": "A".repeat(101)})), "externalXRef"),
    ] {
        let r = cw(&sims, "POST", "/service/tickets", Some(&bad));
        assert_eq!(r.status, 400, "{bad}");
        let v = r.json();
        assert!(v["errors"].as_array().unwrap().iter().any(|e| e["field"] == field), "{v}");
    }
    // Status by name, case-insensitively; duplicates of externalXRef are not prevented.
    let r = cw(
        &sims,
        "POST",
        "/service/tickets",
        Some(&ticket("second".into(), json!({"status": {"name": "in progress"}}))),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["status"]["name"], "In Progress");
    let r = cw(&sims, "GET", &format!("/service/tickets?conditions={}", enc("externalXRef=\"ATS-99001\"")), None);
    assert_eq!(ids(&r.json()).len(), 2);
    let r = cw(
        &sims,
        "GET",
        &format!(
            "/service/tickets?conditions={}&fields=id,externalXRef,status",
            enc(&format!("externalXRef in (\"ATS-99001\",\"nope\") and board/id = {board} and company/id = {company}"))
        ),
        None,
    );
    let v = r.json();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0].as_object().unwrap().len(), 3);

    // PATCH the status: validated against the board.
    let completed = closed["id"].as_i64().unwrap();
    let r = cw(
        &sims,
        "PATCH",
        &format!("/service/tickets/{tid}"),
        Some(&json!([{"op": "replace", "path": "status", "value": {"id": completed}}])),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!((r.json()["status"]["name"].clone(), r.json()["closedFlag"].clone()), (json!("Completed"), json!(true)));
    let r = cw(
        &sims,
        "PATCH",
        &format!("/service/tickets/{tid}"),
        Some(&json!([{"op": "replace", "path": "status", "value": {"id": help_desk_status}}])),
    );
    assert_eq!(r.status, 400);
    assert_eq!(cw(&sims, "GET", &format!("/service/tickets/{tid}"), None).json()["status"]["id"], completed);
    assert_eq!(cw(&sims, "GET", "/service/tickets/99999999", None).status, 404);

    // Notes: the initial description is the first note; text is required.
    let r = cw(
        &sims,
        "POST",
        &format!("/service/tickets/{tid}/notes"),
        Some(&json!({"text": "ARMOR comment [ARMOR comment 55]", "detailDescriptionFlag": true})),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["text"], "ARMOR comment [ARMOR comment 55]");
    assert_eq!(
        cw(&sims, "POST", &format!("/service/tickets/{tid}/notes"), Some(&json!({"detailDescriptionFlag": true})))
            .status,
        400
    );
    assert_eq!(cw(&sims, "POST", &format!("/service/tickets/{tid}/notes"), Some(&json!({"text": "  "}))).status, 400);
    let notes = cw(&sims, "GET", &format!("/service/tickets/{tid}/notes"), None).json();
    let texts: Vec<&str> = notes.as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["from ARMOR", "ARMOR comment [ARMOR comment 55]"]);
    assert_eq!(cw(&sims, "GET", "/service/tickets/99999999/notes", None).status, 404);
    let state = sims.connectwise_state();
    assert_eq!(state["notes"][tid.to_string()].as_array().unwrap().len(), 2);
}

// ---- members, board teams and types, ticket owner/team/type/customFields ----

#[test]
fn generated_members_teams_types_and_ticket_fields() {
    let mut team_ids = HashSet::new();
    for seed in 0..25u64 {
        let d = psa_bridge_sim::generate::generate(5, 60, 5, seed);
        let cw = &d.connectwise;
        let people: Vec<_> = cw.members.iter().filter(|m| m.license_class == "F").collect();
        assert_eq!(people.len(), 6, "seed {seed}");
        assert_eq!(people.iter().filter(|m| m.inactive_flag).count(), 1, "seed {seed}: one inactive member");
        let jsmith = d.member("jsmith").expect("jsmith");
        assert!(!jsmith.inactive_flag);
        assert_eq!(jsmith.office_email.as_deref(), Some("jsmith@msp.example"));
        let api = d.member("APIMember").expect("the API member");
        assert_eq!(api.license_class, "A");
        let member_ids: HashSet<i64> = cw.members.iter().map(|m| m.id).collect();
        assert_eq!(member_ids.len(), cw.members.len());
        for b in &cw.boards {
            let teams: Vec<_> = cw.teams.iter().filter(|t| t.board_id == b.id).collect();
            let types: Vec<_> = cw.types.iter().filter(|t| t.board_id == b.id).collect();
            assert!((2..=3).contains(&teams.len()), "seed {seed} {}: {} teams", b.name, teams.len());
            assert!((2..=4).contains(&types.len()), "seed {seed} {}: {} types", b.name, types.len());
            assert_eq!(teams.iter().map(|t| &t.name).collect::<HashSet<_>>().len(), teams.len());
            assert_eq!(types.iter().map(|t| &t.name).collect::<HashSet<_>>().len(), types.len());
            for t in &teams {
                assert!(t.members.iter().all(|m| member_ids.contains(m)));
            }
        }
        let armor = d.armor_board_id().unwrap();
        assert!(cw.teams.iter().any(|t| t.board_id == armor && t.name == "SOC"));
        assert!(cw.types.iter().any(|t| t.board_id == armor && t.name == "Security Incident"));
        team_ids.insert(cw.teams.iter().find(|t| t.name == "SOC").unwrap().id);
        let captions: Vec<&str> = cw.ticket_custom_fields.iter().map(|f| f.caption.as_str()).collect();
        assert_eq!(captions, ["Customer Reference", "Escalated"]);
        assert_eq!(cw.ticket_custom_fields[1].field_type, "Checkbox");
        assert!(cw.ticket_custom_fields.iter().all(|t| cw.custom_fields.iter().all(|c| c.id != t.id)));
        // Seeded tickets: every ticket field listed; owner/team/type, when set, valid for the board.
        for t in &cw.tickets {
            let cfs = t["customFields"].as_array().unwrap();
            assert_eq!(cfs.len(), 2);
            let board = t["board"]["id"].as_i64().unwrap();
            if let Some(o) = t.get("owner") {
                let m = cw.members.iter().find(|m| o["id"] == m.id).unwrap();
                assert!(!m.inactive_flag && m.identifier == o["identifier"]);
            }
            if let Some(tm) = t.get("team") {
                assert!(cw.teams.iter().any(|x| x.id == tm["id"] && x.board_id == board && x.name == tm["name"]));
            }
            if let Some(ty) = t.get("type") {
                assert!(cw.types.iter().any(|x| x.id == ty["id"] && x.board_id == board));
            }
        }
        assert_eq!(d, psa_bridge_sim::generate::generate(5, 60, 5, seed), "deterministic");
    }
    assert!(team_ids.len() > 3, "team ids are instance-specific: {team_ids:?}");
}

#[test]
fn members_list_get_count_and_conditions() {
    let sims = start();
    let d = sims.dataset();
    let r = cw(&sims, "GET", "/system/members?pageSize=1000", None);
    assert_eq!(r.status, 200);
    let all = r.json();
    assert_eq!(ids(&all).len(), d.connectwise.members.len());
    assert!(ids(&all).windows(2).all(|w| w[0] < w[1]));
    let jsmith = all.as_array().unwrap().iter().find(|m| m["identifier"] == "jsmith").unwrap().clone();
    for (k, v) in [("firstName", "John"), ("lastName", "Smith"), ("officeEmail", "jsmith@msp.example")] {
        assert_eq!(jsmith[k], v, "{k}");
    }
    assert_eq!(jsmith["inactiveFlag"], false);
    let one = cw(&sims, "GET", &format!("/system/members/{}", jsmith["id"]), None);
    assert_eq!((one.status, one.json()), (200, jsmith.clone()));
    assert_eq!(cw(&sims, "GET", "/system/members/99999999", None).status, 404);
    assert_eq!(cw(&sims, "GET", "/system/members/jsmith", None).status, 404);
    assert_eq!(cw(&sims, "POST", "/system/members", Some(&json!({}))).status, 405);

    let q = |cond: &str| cw(&sims, "GET", &format!("/system/members?conditions={}", enc(cond)), None);
    let active = d.connectwise.members.iter().filter(|m| !m.inactive_flag).count();
    assert_eq!(ids(&q("inactiveFlag = false").json()).len(), active);
    let inactive = q("inactiveFlag = true").json();
    assert_eq!(ids(&inactive).len(), 1);
    assert_eq!(ids(&q("identifier = \"JSMITH\"").json()), vec![jsmith["id"].as_i64().unwrap()]);
    assert_eq!(ids(&q("officeEmail like \"%@msp.example\" and licenseClass = \"F\"").json()).len(), 6);
    assert_eq!(ids(&q("identifier = \"APIMember\" and licenseClass = \"A\"").json()).len(), 1);
    assert_eq!(q("nosuch = 1").status, 400);
    let r = cw(&sims, "GET", &format!("/system/members/count?conditions={}", enc("inactiveFlag = false")), None);
    assert_eq!(r.json(), json!({"count": active}));
    let r = cw(&sims, "GET", "/system/members?fields=id,identifier&pageSize=2", None);
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    assert_eq!(r.json()[0].as_object().unwrap().len(), 2);
    assert!(link(&r, "next").unwrap().contains("page=2"));
}

#[test]
fn board_teams_and_types() {
    let sims = start();
    let d = sims.dataset();
    let armor = d.armor_board_id().unwrap();
    let mut seen_teams = HashSet::new();
    for b in &d.connectwise.boards {
        let teams = cw(&sims, "GET", &format!("/service/boards/{}/teams", b.id), None).json();
        let teams = teams.as_array().unwrap();
        assert!((2..=3).contains(&teams.len()), "{}", b.name);
        for t in teams {
            assert_eq!(t["boardId"], b.id);
            assert!(t["name"].is_string() && t["members"].is_array());
            assert!(seen_teams.insert(t["id"].as_i64().unwrap()), "team ids are unique");
            let one = cw(&sims, "GET", &format!("/service/boards/{}/teams/{}", b.id, t["id"]), None);
            assert_eq!(one.json(), *t);
        }
        let types = cw(&sims, "GET", &format!("/service/boards/{}/types", b.id), None).json();
        let types = types.as_array().unwrap();
        assert!((2..=4).contains(&types.len()), "{}", b.name);
        for t in types {
            assert_eq!(t["board"]["id"], b.id);
            assert_eq!(t["board"]["name"], b.name.as_str());
            assert!(t["category"].is_string() && t["inactiveFlag"] == false);
        }
    }
    let soc =
        cw(&sims, "GET", &format!("/service/boards/{armor}/teams?conditions={}", enc("name = \"soc\"")), None).json();
    assert_eq!(soc.as_array().unwrap().len(), 1);
    let types = cw(
        &sims,
        "GET",
        &format!("/service/boards/{armor}/types?conditions={}", enc("name=\"Security Incident\"")),
        None,
    )
    .json();
    assert_eq!(types.as_array().unwrap().len(), 1);
    // Another board's team is not this board's.
    let help_team = d.connectwise.teams.iter().find(|t| t.board_id != armor).unwrap();
    assert_eq!(cw(&sims, "GET", &format!("/service/boards/{armor}/teams/{}", help_team.id), None).status, 404);
    assert_eq!(cw(&sims, "GET", "/service/boards/424242/teams", None).status, 404);
    assert_eq!(cw(&sims, "GET", "/service/boards/424242/types", None).status, 404);
    // The state shows them, like statuses; the truth is untouched.
    let state = sims.connectwise_state();
    assert_eq!(state["members"].as_array().unwrap().len(), d.connectwise.members.len());
    assert_eq!(state["teams"].as_array().unwrap().len(), d.connectwise.teams.len());
    assert_eq!(state["types"].as_array().unwrap().len(), d.connectwise.types.len());
    assert_eq!(state["ticket_custom_fields"].as_array().unwrap().len(), 2);
    assert_eq!(
        state["teams"][0],
        cw(&sims, "GET", &format!("/service/boards/{}/teams", d.connectwise.teams[0].board_id), None).json()[0]
    );
}

fn tcf<'a>(ticket: &'a Value, caption: &str) -> &'a Value {
    ticket["customFields"].as_array().unwrap().iter().find(|f| f["caption"] == caption).unwrap()
}

fn unset(v: &Value) -> bool {
    v.get("value").is_none_or(Value::is_null)
}

#[test]
fn ticket_owner_team_type_and_custom_fields() {
    let sims = start();
    let d = sims.dataset();
    let cwd = &d.connectwise;
    let armor = d.armor_board_id().unwrap();
    let company = d.truth.accounts.iter().find(|t| t.kind == "exact").unwrap().company_ids[0];
    let jsmith = d.member("jsmith").unwrap().clone();
    let other = cwd.members.iter().find(|m| !m.inactive_flag && m.license_class == "F" && m.id != jsmith.id).unwrap();
    let leaver = cwd.members.iter().find(|m| m.inactive_flag).unwrap();
    let soc = cwd.teams.iter().find(|t| t.board_id == armor && t.name == "SOC").unwrap();
    let soc2 = cwd.teams.iter().find(|t| t.board_id == armor && t.name != "SOC").unwrap();
    let incident = cwd.types.iter().find(|t| t.board_id == armor && t.name == "Security Incident").unwrap();
    let help_team = cwd.teams.iter().find(|t| t.board_id != armor).unwrap();
    let help_type = cwd.types.iter().find(|t| t.board_id != armor).unwrap();
    let (cref, esc) =
        (d.ticket_custom_field_id("Customer Reference").unwrap(), d.ticket_custom_field_id("Escalated").unwrap());

    let ticket = |extra: Value| {
        let mut t = json!({"summary": "Suspicious login", "board": {"id": armor}, "company": {"id": company}});
        for (k, v) in extra.as_object().unwrap() {
            t[k] = v.clone();
        }
        t
    };
    // Unset owner/team/type are absent; every ticket field is listed.
    let r = cw(&sims, "POST", "/service/tickets", Some(&ticket(json!({}))));
    assert_eq!(r.status, 201, "{}", r.text());
    let plain = r.json();
    assert!(plain.get("owner").is_none() && plain.get("team").is_none() && plain.get("type").is_none());
    assert_eq!(plain["customFields"].as_array().unwrap().len(), 2);
    assert!(unset(tcf(&plain, "Customer Reference")) && unset(tcf(&plain, "Escalated")));

    // Owner by identifier (any case), team by name, type by id, one custom field.
    let r = cw(
        &sims,
        "POST",
        "/service/tickets",
        Some(&ticket(json!({"owner": {"identifier": "JSmith"}, "team": {"name": "soc"}, "type": {"id": incident.id},
                            "customFields": [{"id": cref, "value": "PO-1"}], "externalXRef": "x"}))),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let t = r.json();
    let tid = t["id"].as_i64().unwrap();
    assert_eq!(t["owner"], json!({"id": jsmith.id, "identifier": "jsmith", "name": "John Smith"}));
    assert_eq!(t["team"], json!({"id": soc.id, "name": "SOC"}));
    assert_eq!(t["type"], json!({"id": incident.id, "name": "Security Incident"}));
    assert_eq!(tcf(&t, "Customer Reference")["value"], "PO-1");
    assert!(unset(tcf(&t, "Escalated")));
    assert_eq!(cw(&sims, "GET", &format!("/service/tickets/{tid}"), None).json(), t);

    // Bad refs are 400 InvalidField naming the field.
    let bad_posts = [
        (json!({"owner": {"id": 99999}}), "owner", "does not exist"),
        (json!({"owner": {"identifier": "nobody"}}), "owner", "does not exist"),
        (json!({"owner": {"identifier": leaver.identifier}}), "owner", "inactive"),
        (json!({"owner": {"id": leaver.id}}), "owner", "inactive"),
        (json!({"team": {"id": help_team.id}}), "team", "team is not valid for board ARMORtickets"),
        (json!({"team": {"name": help_team.name}}), "team", "team is not valid for board ARMORtickets"),
        (json!({"team": {"id": 99999}}), "team", "not valid"),
        (json!({"type": {"id": help_type.id}}), "type", "type is not valid for board ARMORtickets"),
        (json!({"type": {"name": "Nope"}}), "type", "not valid"),
        (json!({"customFields": [{"id": 999, "value": "x"}]}), "customFields", "not defined"),
        (json!({"customFields": [{"id": esc, "value": "yes"}]}), "customFields", "Checkbox"),
        (json!({"customFields": {"id": esc}}), "customFields", "array"),
    ];
    let before = sims.connectwise_state()["tickets"].as_array().unwrap().len();
    for (extra, field, msg) in &bad_posts {
        let r = cw(&sims, "POST", "/service/tickets", Some(&ticket(extra.clone())));
        assert_eq!(r.status, 400, "{extra}: {}", r.text());
        let v = r.json();
        assert_eq!(v["code"], "InvalidObject");
        let e = v["errors"].as_array().unwrap().iter().find(|e| e["field"] == *field).unwrap_or_else(|| panic!("{v}"));
        assert_eq!(e["code"], "InvalidField");
        assert!(e["message"].as_str().unwrap().contains(msg), "{e}");
    }
    assert_eq!(sims.connectwise_state()["tickets"].as_array().unwrap().len(), before, "nothing created");

    // PATCH: owner, team, type, summary, priority, status; lastUpdated moves, dateEntered stays.
    let patch = |ops: Value| cw(&sims, "PATCH", &format!("/service/tickets/{tid}"), Some(&ops));
    let closed = cwd.statuses.iter().find(|s| s.board_id == armor && s.name == "Closed").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = patch(json!([
        {"op": "replace", "path": "owner", "value": {"identifier": other.identifier}},
        {"op": "replace", "path": "/team", "value": {"id": soc2.id}},
        {"op": "replace", "path": "type/name", "value": "security incident"},
        {"op": "replace", "path": "summary", "value": "Suspicious login (confirmed)"},
        {"op": "replace", "path": "priority", "value": {"name": "Priority 1 - Emergency Response"}},
        {"op": "replace", "path": "status", "value": {"id": closed.id}}
    ]));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["owner"]["id"], other.id);
    assert_eq!(v["owner"]["name"], format!("{} {}", other.first_name, other.last_name));
    assert_eq!(v["team"], json!({"id": soc2.id, "name": soc2.name}));
    assert_eq!(v["type"]["id"], incident.id);
    assert_eq!(v["summary"], "Suspicious login (confirmed)");
    assert_eq!(v["priority"]["id"], 1);
    assert_eq!((v["status"]["name"].clone(), v["closedFlag"].clone()), (json!("Closed"), json!(true)));
    assert_eq!(v["_info"]["dateEntered"], t["_info"]["dateEntered"]);
    assert!(v["_info"]["lastUpdated"].as_str().unwrap() > t["_info"]["lastUpdated"].as_str().unwrap());
    assert_eq!(tcf(&v, "Customer Reference")["value"], "PO-1", "customFields untouched are kept");
    let new = cwd.statuses.iter().find(|s| s.board_id == armor && s.name == "New").unwrap();
    let r = patch(json!([{"op": "replace", "path": "status", "value": {"id": new.id}}]));
    assert_eq!(r.json()["closedFlag"], false, "closedFlag follows the status");

    // customFields: only one sent wipes the other; the whole array keeps both.
    let r = patch(json!([{"op": "replace", "path": "customFields", "value": [{"id": esc, "value": true}]}]));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["customFields"].as_array().unwrap().len(), 2);
    assert_eq!(tcf(&v, "Escalated")["value"], true);
    assert!(unset(tcf(&v, "Customer Reference")), "Customer Reference wiped");
    let mut whole = v["customFields"].clone();
    for f in whole.as_array_mut().unwrap() {
        if f["id"] == cref {
            f["value"] = json!("PO-2");
        }
    }
    let r = patch(json!([{"op": "replace", "path": "customFields", "value": whole}]));
    let v = r.json();
    assert_eq!(
        (tcf(&v, "Customer Reference")["value"].clone(), tcf(&v, "Escalated")["value"].clone()),
        (json!("PO-2"), json!(true))
    );

    // Bad PATCHes change nothing.
    for (ops, field) in [
        (json!([{"op": "replace", "path": "owner", "value": {"id": leaver.id}}]), "owner"),
        (json!([{"op": "replace", "path": "owner/identifier", "value": "nobody"}]), "owner"),
        (json!([{"op": "replace", "path": "team", "value": {"id": help_team.id}}]), "team"),
        (json!([{"op": "replace", "path": "type", "value": {"name": help_type.name}}]), "type"),
        (json!([{"op": "replace", "path": "customFields", "value": [{"id": esc, "value": 1}]}]), "customFields"),
        // Moving to another board leaves the team and type behind.
        (
            json!([{"op": "replace", "path": "board", "value": {"id": help_team.board_id}},
                {"op": "replace", "path": "status", "value": {"name": "New"}}]),
            "team",
        ),
    ] {
        let r = patch(ops.clone());
        assert_eq!(r.status, 400, "{ops}: {}", r.text());
        assert!(r.json()["errors"].as_array().unwrap().iter().any(|e| e["field"] == field), "{}", r.text());
    }
    assert_eq!(cw(&sims, "GET", &format!("/service/tickets/{tid}"), None).json(), v, "failed PATCHes change nothing");
    // Unassigning: null or remove.
    let r = patch(json!([{"op": "replace", "path": "owner", "value": null}, {"op": "remove", "path": "team"}]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json().get("owner").is_none() && r.json().get("team").is_none());
    assert_eq!(r.json()["type"]["id"], incident.id);
}

/// What a condition should select, evaluated on the state's tickets.
type Pred = Box<dyn Fn(&Value) -> bool>;

#[test]
fn ticket_conditions_for_generic_search() {
    let sims = start();
    let d = sims.dataset();
    let armor = d.armor_board_id().unwrap();
    let company = d.truth.accounts.iter().find(|t| t.kind == "exact").unwrap().company_ids[0];
    for (summary, owner, team, xref) in [
        ("VPN tunnel down at branch", Some("jsmith"), Some("SOC"), Some("x")),
        ("Suspicious vpn login", Some("jsmith"), Some("SOC"), None),
        ("Malware on host", None, Some("SOC"), Some("x")),
        ("Firewall change", Some("jsmith"), None, Some("y")),
    ] {
        let mut t = json!({"summary": summary, "board": {"name": "armortickets"}, "company": {"id": company}});
        if let Some(o) = owner {
            t["owner"] = json!({"identifier": o});
        }
        if let Some(tm) = team {
            t["team"] = json!({"name": tm});
        }
        if let Some(x) = xref {
            t["externalXRef"] = json!(x);
        }
        assert_eq!(cw(&sims, "POST", "/service/tickets", Some(&t)).status, 201);
    }
    let all: Vec<Value> = sims.connectwise_state()["tickets"].as_array().unwrap().clone();
    let seeded_vpn = all.iter().filter(|t| t["summary"].as_str().unwrap().to_lowercase().contains("vpn")).count();
    assert!(seeded_vpn > 2, "seeded Help Desk tickets mention VPN too");
    let help_owner = all.iter().find_map(|t| t["owner"]["identifier"].as_str().filter(|_| t["board"]["id"] == 1));
    assert!(help_owner.is_some(), "seeded tickets have owners");
    let count = |cond: &str| -> Vec<i64> {
        let r = cw(&sims, "GET", &format!("/service/tickets?pageSize=1000&conditions={}", enc(cond)), None);
        assert_eq!(r.status, 200, "{cond}: {}", r.text());
        let mut v = ids(&r.json());
        v.sort();
        let c = cw(&sims, "GET", &format!("/service/tickets/count?conditions={}", enc(cond)), None);
        assert_eq!(c.json()["count"], v.len(), "{cond}");
        v
    };
    let want = |f: &dyn Fn(&Value) -> bool| -> Vec<i64> {
        let mut v: Vec<i64> = all.iter().filter(|t| f(t)).map(|t| t["id"].as_i64().unwrap()).collect();
        v.sort();
        v
    };
    let lower = |v: &Value| v.as_str().map(str::to_lowercase);
    let cases: Vec<(String, Pred)> = vec![
        (format!("company/id = {company}"), Box::new(move |t: &Value| t["company"]["id"] == company)),
        ("status/name = \"New\"".into(), Box::new(|t: &Value| t["status"]["name"] == "New")),
        ("closedFlag = false".into(), Box::new(|t: &Value| t["closedFlag"] == false)),
        ("owner/identifier = \"jsmith\"".into(), Box::new(|t: &Value| t["owner"]["identifier"] == "jsmith")),
        ("owner/identifier = null".into(), Box::new(|t: &Value| t.get("owner").is_none())),
        ("team/name = \"SOC\"".into(), Box::new(|t: &Value| t["team"]["name"] == "SOC")),
        ("board/name = \"ARMORtickets\"".into(), Box::new(|t: &Value| t["board"]["name"] == "ARMORtickets")),
        ("summary contains \"vpn\"".into(), Box::new(move |t: &Value| lower(&t["summary"]).unwrap().contains("vpn"))),
        ("summary contains \"VPN\"".into(), Box::new(move |t: &Value| lower(&t["summary"]).unwrap().contains("vpn"))),
        (
            "lastUpdated >= [2024-01-01T00:00:00Z]".into(),
            Box::new(|t: &Value| t["_info"]["lastUpdated"].as_str().unwrap() >= "2024-01-01T00:00:00Z"),
        ),
        (
            "lastUpdated >= [2025-05-01T00:00:00Z]".into(),
            Box::new(|t: &Value| t["_info"]["lastUpdated"].as_str().unwrap() >= "2025-05-01T00:00:00Z"),
        ),
        ("externalXRef = \"x\"".into(), Box::new(|t: &Value| t["externalXRef"] == "x")),
        (
            format!(
                "company/id = {company} and status/name = \"New\" and closedFlag = false and owner/identifier = \"jsmith\" \
                 and team/name = \"SOC\" and board/name = \"ARMORtickets\" and summary contains \"vpn\" \
                 and lastUpdated >= [2024-01-01T00:00:00Z] and externalXRef = \"x\""
            ),
            Box::new(move |t: &Value| {
                t["company"]["id"] == company
                    && t["owner"]["identifier"] == "jsmith"
                    && t["team"]["name"] == "SOC"
                    && lower(&t["summary"]).unwrap().contains("vpn")
                    && t["externalXRef"] == "x"
                    && t["status"]["name"] == "New"
            }),
        ),
    ];
    for (cond, f) in &cases {
        assert_eq!(count(cond), want(f.as_ref()), "{cond}");
    }
    // The combination picks exactly the first created ticket.
    assert_eq!(count(&cases.last().unwrap().0).len(), 1);
    assert_eq!(count("summary contains \"vpn\" and board/id = 1").len(), seeded_vpn - 2);
    // lastUpdated is _info/lastUpdated; team/id, type/name and owner/name work too.
    assert_eq!(count("_info/lastUpdated >= [2025-05-01T00:00:00Z]"), count("lastUpdated >= [2025-05-01T00:00:00Z]"));
    let soc = d.connectwise.teams.iter().find(|t| t.board_id == armor && t.name == "SOC").unwrap().id;
    assert_eq!(count(&format!("team/id = {soc}")), count("team/name = \"soc\""));
    assert_eq!(count("owner/name = \"john smith\""), count("owner/identifier = \"jsmith\""));
    assert_eq!(count("type/name != null"), want(&|t: &Value| t.get("type").is_some()));
    // customFieldConditions see ticket custom fields.
    let with_ref = want(&|t: &Value| !unset(tcf(t, "Customer Reference")));
    assert!(!with_ref.is_empty());
    let r = cw(
        &sims,
        "GET",
        &format!(
            "/service/tickets?pageSize=1000&customFieldConditions={}",
            enc("caption = \"Customer Reference\" and value != null")
        ),
        None,
    );
    let mut got = ids(&r.json());
    got.sort();
    assert_eq!(got, with_ref);
}

#[test]
fn data_files_without_ticket_reference_data_get_it_at_start() {
    let mut d = psa_bridge_sim::generate::generate(5, 60, 5, 3);
    let expected = d.connectwise.clone();
    d.connectwise.members.clear();
    d.connectwise.teams.clear();
    d.connectwise.types.clear();
    d.connectwise.ticket_custom_fields.clear();
    for t in &mut d.connectwise.tickets {
        let o = t.as_object_mut().unwrap();
        for k in ["owner", "team", "type", "customFields"] {
            o.remove(k);
        }
    }
    let sims = Simulators::start(SimConfig::with_dataset(d)).unwrap();
    assert_eq!(sims.dataset().connectwise.members, expected.members);
    assert_eq!(sims.dataset().connectwise.teams, expected.teams);
    assert_eq!(sims.dataset().connectwise.ticket_custom_fields, expected.ticket_custom_fields);
    let tickets = cw(&sims, "GET", "/service/tickets?pageSize=1000", None).json();
    for t in tickets.as_array().unwrap() {
        assert_eq!(t["customFields"].as_array().unwrap().len(), 2, "every ticket field listed");
        assert!(t.get("owner").is_none());
    }
    assert_eq!(ids(&cw(&sims, "GET", "/system/members", None).json()).len(), 7);
}
