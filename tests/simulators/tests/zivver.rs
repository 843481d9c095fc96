//! The Zivver SCIM simulator against contracts/zivver-scim.md, "Destination", and the ground truth
//! of a full sync.

mod common;

use common::*;
use psa_bridge_sim::{Faults, SimConfig, Simulators, ZivverConfig};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ZU: &str = "urn:ietf:params:scim:schemas:zivver:0.1:User";
const ZG: &str = "urn:ietf:params:scim:schemas:zivver:0.1:Group";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The rate limit off, for tests that are not about it.
fn start() -> Simulators {
    let mut c = SimConfig::generated(5, 30, 10, 11);
    c.zivver = ZivverConfig { budget: 0, ..ZivverConfig::default() };
    Simulators::start(c).expect("simulators start")
}

fn zv_with(sims: &Simulators, key: Option<&str>, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let url = format!("{}{path}", sims.zivver_url());
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut h = vec![("Content-Type", "application/scim+json")];
    if let Some(a) = &auth {
        h.push(("Authorization", a));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    request(method, &url, &h, body.as_bytes()).expect("answered")
}

fn zv(sims: &Simulators, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let key = sims.zivver_connection()["api_key"].as_str().unwrap().to_string();
    zv_with(sims, Some(&key), method, path, body)
}

fn user_body(user_name: &str, extra: Value) -> Value {
    let mut b = json!({"schemas": [CORE_USER, ZU, ENT], "userName": user_name, "name": {"formatted": "Test Persoon"},
                       "active": true, ZU: {"aliases": [], "delegates": []}});
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

fn is_scim_error(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{v}");
    assert_eq!(v["status"], status.to_string(), "status as a string");
    assert!(v["detail"].is_string());
}

fn zstate_user(sims: &Simulators, id: &str) -> Value {
    sims.zivver_state()["users"].as_array().unwrap().iter().find(|u| u["id"] == id).unwrap().clone()
}

#[test]
fn auth_content_types_and_connection() {
    let sims = start();
    let c = sims.zivver_connection();
    assert!(c["base_url"].as_str().unwrap().ends_with("/api/scim/v2"));
    assert_eq!(c["base_url"], sims.zivver_url());
    is_scim_error(&zv_with(&sims, None, "GET", "/Users", None), 401);
    is_scim_error(&zv_with(&sims, Some("Z1.wrong"), "GET", "/Users", None), 401);
    let r = zv(&sims, "GET", "/Users", None);
    assert_eq!(r.status, 200);
    assert!(r.header("Content-Type").unwrap().starts_with("application/scim+json"));
    // application/json bodies are accepted too; text/plain is not.
    let key = c["api_key"].as_str().unwrap();
    let auth = format!("Bearer {key}");
    let url = format!("{}/Users", sims.zivver_url());
    let body = user_body("json.body@contoso.example", json!({})).to_string();
    let r = request("POST", &url, &[("Authorization", &auth), ("Content-Type", "application/json")], body.as_bytes())
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let r =
        request("POST", &url, &[("Authorization", &auth), ("Content-Type", "text/plain")], body.as_bytes()).unwrap();
    is_scim_error(&r, 415);
    let d = sims.directory_connection();
    assert_eq!(d["client_id"], sims.mail_connection()["client_id"], "one app registration");
    assert_eq!(d["graph_url"], sims.graph_url());
}

#[test]
fn filter_and_paging() {
    let sims = start();
    let users = sims.zivver_state()["users"].as_array().unwrap().clone();
    let total = users.len();
    assert!(total >= 10);
    let one =
        users.iter().find(|u| u["userName"].as_str().unwrap().chars().any(|c| c.is_uppercase())).unwrap_or(&users[0]);
    let name = one["userName"].as_str().unwrap();
    for variant in [name.to_uppercase(), name.to_lowercase()] {
        let f = enc(&format!("userName eq \"{variant}\""));
        let v = zv(&sims, "GET", &format!("/Users?filter={f}&startIndex=1&count=100"), None).json();
        assert_eq!(v["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
        assert_eq!(v["totalResults"], 1, "{variant}");
        assert_eq!(v["Resources"][0]["id"], one["id"]);
    }
    let f = enc("userName eq \"nobody@contoso.example\"");
    let v = zv(&sims, "GET", &format!("/Users?filter={f}"), None).json();
    assert_eq!((v["totalResults"].as_u64(), v["Resources"].as_array().map(Vec::len)), (Some(0), Some(0)));
    // Pages of 7 by startIndex.
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let v = zv(&sims, "GET", &format!("/Users?startIndex={start}&count=7"), None).json();
        assert_eq!(v["totalResults"], total);
        assert_eq!(v["startIndex"], start);
        let page = v["Resources"].as_array().unwrap();
        assert_eq!(v["itemsPerPage"], page.len());
        if page.is_empty() {
            break;
        }
        seen.extend(page.iter().map(|u| u["id"].as_str().unwrap().to_string()));
        start += page.len();
    }
    assert_eq!(seen.len(), total);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), total);
    let v = zv(&sims, "GET", "/Users?count=500", None).json();
    assert!(v["itemsPerPage"].as_u64().unwrap() <= 100);
    is_scim_error(&zv(&sims, "GET", &format!("/Users?filter={}", enc("displayName co \"x\"")), None), 400);
    is_scim_error(&zv(&sims, "GET", "/Users?startIndex=abc", None), 400);
    // Groups by externalId, case-insensitive.
    let groups = sims.zivver_state()["groups"].as_array().unwrap().clone();
    assert_eq!(groups.len(), 2);
    let x = groups[0]["externalId"].as_str().unwrap().to_uppercase();
    let v = zv(&sims, "GET", &format!("/Groups?filter={}", enc(&format!("externalId eq \"{x}\""))), None).json();
    assert_eq!(v["totalResults"], 1);
    assert_eq!(v["Resources"][0]["id"], groups[0]["id"]);
    assert!(v["Resources"][0]["members"][0]["value"].is_string());
}

#[test]
fn sso_account_key_is_write_only_and_cleared_by_a_put_without_it() {
    let sims = start();
    let body = user_body(
        "sso.test@contoso.example",
        json!({ZU: {"aliases": ["sso.alias@fabrikam.example"], "delegates": [], "SsoAccountKey": "key-1"}}),
    );
    let r = zv(&sims, "POST", "/Users", Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.header("Location").is_some());
    let v = r.json();
    assert!(!v.to_string().contains("SsoAccountKey") && !v.to_string().contains("key-1"), "never returned: {v}");
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(v[ENT]["division"], "/", "empty reads back as /");
    assert_eq!(zstate_user(&sims, &id)["sso_account_key"], "key-1");
    let got = zv(&sims, "GET", &format!("/Users/{id}"), None).json();
    assert!(!got.to_string().contains("key-1"));
    // A read-modify-write PUT of what was read: the key is gone (and counted).
    let mut put = got.clone();
    put["name"]["formatted"] = json!("Nieuwe Naam");
    let r = zv(&sims, "PUT", &format!("/Users/{id}"), Some(&put));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["name"]["formatted"], "Nieuwe Naam");
    assert!(zstate_user(&sims, &id)["sso_account_key"].is_null());
    assert_eq!(sims.zivver_state()["sso_keys_cleared"], 1);
    // With it: set again, not counted.
    put[ZU]["SsoAccountKey"] = json!("key-2");
    assert_eq!(zv(&sims, "PUT", &format!("/Users/{id}"), Some(&put)).status, 200);
    assert_eq!(zstate_user(&sims, &id)["sso_account_key"], "key-2");
    assert_eq!(sims.zivver_state()["sso_keys_cleared"], 1);
    assert_eq!(sims.zivver_state()["counts"]["puts"], 2);
    // ExternalAccountId: a PUT that omits it clears it (counted); division likewise.
    let pre = sims.zivver_state()["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| !u["external_account_id"].is_null() && u["division"] != "/")
        .cloned();
    if let Some(pre) = pre {
        let pid = pre["id"].as_str().unwrap();
        let body = user_body(pre["userName"].as_str().unwrap(), json!({}));
        assert_eq!(zv(&sims, "PUT", &format!("/Users/{pid}"), Some(&body)).status, 200);
        let after = zstate_user(&sims, pid);
        assert!(after["external_account_id"].is_null());
        assert_eq!(after["division"], "/");
        assert_eq!(sims.zivver_state()["external_ids_cleared"], 1);
        assert_eq!(sims.zivver_state()["divisions_cleared"], 1);
    }
}

#[test]
fn validation_unknown_ids_divisions_duplicates_delegates() {
    let sims = start();
    for (m, p) in [
        ("GET", "/Users/nope"),
        ("PUT", "/Users/nope"),
        ("GET", "/Groups/nope"),
        ("PUT", "/Groups/nope"),
        ("PATCH", "/Groups/nope"),
    ] {
        let body = if m == "GET" {
            None
        } else {
            Some(
                json!({"schemas": [CORE_USER, CORE_GROUP, PATCH], "userName": "a@contoso.example", "Operations": [{"op": "remove", "path": "members"}]}),
            )
        };
        is_scim_error(&zv(&sims, m, p, body.as_ref()), 400);
    }
    let r = zv(&sims, "POST", "/Users", Some(&user_body("div@contoso.example", json!({ENT: {"division": "/Nope"}}))));
    is_scim_error(&r, 400);
    assert_eq!(r.json()["detail"], "Invalid division: /Nope");
    let r = zv(
        &sims,
        "POST",
        "/Users",
        Some(&user_body("div@contoso.example", json!({ENT: {"division": "/Legal/Contracts"}}))),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()[ENT]["division"], "/Legal/Contracts");
    let r = zv(&sims, "POST", "/Users", Some(&user_body("Div@Contoso.example", json!({}))));
    is_scim_error(&r, 409);
    assert_eq!(r.json()["scimType"], "uniqueness");
    is_scim_error(&zv(&sims, "POST", "/Users", Some(&user_body("x@contoso.onmicrosoft.com", json!({})))), 400);
    is_scim_error(&zv(&sims, "POST", "/Users", Some(&json!({"userName": "noschema@contoso.example"}))), 400);
    let r = zv(
        &sims,
        "POST",
        "/Users",
        Some(&user_body("del@contoso.example", json!({ZU: {"delegates": ["ghost@contoso.example"]}}))),
    );
    is_scim_error(&r, 400);
    assert_eq!(r.json()["detail"], "Invalid delegate: ghost@contoso.example");
    let r = zv(
        &sims,
        "POST",
        "/Users",
        Some(&user_body("del@contoso.example", json!({ZU: {"delegates": ["DIV@contoso.example"]}}))),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()[ZU]["delegates"], json!(["div@contoso.example"]), "the delegate's userName");
    is_scim_error(&zv(&sims, "PATCH", "/Users/whatever", Some(&json!({}))), 405);
}

#[test]
fn groups_create_put_patch_members() {
    let sims = start();
    let ids: Vec<String> = sims.zivver_state()["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    let body = json!({"schemas": [CORE_GROUP, ZG], "externalId": "nieuw.gedeeld@contoso.example", "displayName": "Nieuw",
                      "members": [{"value": ids[0]}], ZG: {"aliases": ["ng@fabrikam.example"]}});
    let r = zv(&sims, "POST", "/Groups", Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    let gid = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(r.json()["members"][0]["value"], ids[0].as_str());
    is_scim_error(&zv(&sims, "POST", "/Groups", Some(&body)), 409);
    let bad_member = json!({"schemas": [CORE_GROUP], "externalId": "b@contoso.example", "displayName": "B", "members": [{"value": "not-a-user"}]});
    is_scim_error(&zv(&sims, "POST", "/Groups", Some(&bad_member)), 400);
    let members = |sims: &Simulators| -> Vec<String> {
        let v = zv(sims, "GET", &format!("/Groups/{gid}"), None).json();
        v["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_string()).collect()
    };
    let patch = |ops: Value| json!({"schemas": [PATCH], "Operations": ops});
    let path = format!("/Groups/{gid}");
    let r = zv(
        &sims,
        "PATCH",
        &path,
        Some(&patch(json!([{"op": "replace", "path": "members", "value": [{"value": ids[1]}, {"value": ids[2]}]}]))),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(members(&sims), vec![ids[1].clone(), ids[2].clone()]);
    zv(
        &sims,
        "PATCH",
        &path,
        Some(&patch(json!([{"op": "Add", "path": "members", "value": [{"value": ids[3]}, {"value": ids[1]}]}]))),
    );
    assert_eq!(members(&sims), vec![ids[1].clone(), ids[2].clone(), ids[3].clone()]);
    let f = format!("members[value eq \"{}\"]", ids[2]);
    zv(&sims, "PATCH", &path, Some(&patch(json!([{"op": "remove", "path": f}]))));
    assert_eq!(members(&sims), vec![ids[1].clone(), ids[3].clone()]);
    // A bad operation changes nothing (all or none).
    let r = zv(
        &sims,
        "PATCH",
        &path,
        Some(&patch(
            json!([{"op": "remove", "path": "members"}, {"op": "add", "path": "members", "value": [{"value": "ghost"}]}]),
        )),
    );
    is_scim_error(&r, 400);
    assert_eq!(members(&sims).len(), 2);
    is_scim_error(&zv(&sims, "PATCH", &path, Some(&json!({"Operations": [{"op": "remove", "path": "members"}]}))), 400);
    zv(&sims, "PATCH", &path, Some(&patch(json!([{"op": "remove", "path": "members"}]))));
    assert!(members(&sims).is_empty());
    // PUT: full replace.
    let put = json!({"schemas": [CORE_GROUP, ZG], "externalId": "nieuw.gedeeld@contoso.example", "displayName": "Hernoemd", "members": [{"value": ids[4]}]});
    let r = zv(&sims, "PUT", &path, Some(&put));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["displayName"], "Hernoemd");
    assert_eq!(r.json()[ZG]["aliases"], json!([]));
    let s = sims.zivver_state();
    assert_eq!(s["counts"]["patches"], 4, "the refused one not counted");
    assert_eq!(s["counts"]["group_creates"], 1);
    let g = s["groups"].as_array().unwrap().iter().find(|g| g["id"] == gid.as_str()).unwrap().clone();
    assert_eq!(g["member_addresses"].as_array().unwrap().len(), 1);
    assert_eq!(s["concurrent_group_edits"], 0);
}

#[test]
fn delete_is_405_and_counted() {
    let sims = start();
    let id = sims.zivver_state()["users"][0]["id"].as_str().unwrap().to_string();
    let r = zv(&sims, "DELETE", &format!("/Users/{id}"), None);
    is_scim_error(&r, 405);
    let gid = sims.zivver_state()["groups"][0]["id"].as_str().unwrap().to_string();
    is_scim_error(&zv(&sims, "DELETE", &format!("/Groups/{gid}"), None), 405);
    let s = sims.zivver_state();
    assert_eq!(s["counts"]["deletes_attempted"], 2);
    assert_eq!(s["requests"]["DELETE /Users/{id}"], 1);
    assert!(s["users"].as_array().unwrap().iter().any(|u| u["id"] == id.as_str()), "nothing deleted");
    sims.reset();
    assert_eq!(sims.zivver_state()["counts"]["deletes_attempted"], 0);
}

#[test]
fn rate_limit_51st_request_in_10_seconds() {
    let sims = Simulators::start(SimConfig::generated(5, 30, 10, 11)).unwrap();
    assert_eq!(sims.zivver_config(), ZivverConfig { budget: 50, window_s: 10 });
    for i in 0..50 {
        assert_eq!(zv(&sims, "GET", "/Users?count=1", None).status, 200, "request {i}");
    }
    let r = zv(&sims, "GET", "/Users?count=1", None);
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json(),
        json!({"code": 429, "message": "Too many requests", "emptiedBucketDetails": {"budget": 50, "windowSeconds": 10}})
    );
    assert!(r.header("Retry-After").is_none());
    // A wrong key is 401, not limited.
    assert_eq!(zv_with(&sims, Some("wrong"), "GET", "/Users", None).status, 401);
    let s = sims.zivver_state();
    assert_eq!(s["max_in_window"], 50);
    assert_eq!(s["rate_limited"], 1);
    assert_eq!(s["counts"]["rate_limited"], 1);
    // A shorter window refills sooner.
    sims.set_zivver_config(ZivverConfig { budget: 3, window_s: 1 });
    for _ in 0..3 {
        assert_eq!(zv(&sims, "GET", "/Users?count=1", None).status, 200);
    }
    let r = zv(&sims, "GET", "/Users?count=1", None);
    assert_eq!(r.json()["emptiedBucketDetails"], json!({"budget": 3, "windowSeconds": 1}));
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(zv(&sims, "GET", "/Users?count=1", None).status, 200);
    assert_eq!(sims.zivver_state()["max_in_window"], 50, "the most ever accepted in one window");
}

#[test]
fn faults_5xx_and_lost_writes() {
    let sims = start();
    sims.set_zivver_faults(Faults { p5xx: 1.0, seed: 3, ..Faults::default() });
    let r = zv(&sims, "GET", "/Users", None);
    assert!(r.status >= 500);
    sims.set_zivver_faults(Faults { plost: 1.0, seed: 3, ..Faults::default() });
    let url = format!("{}/Users", sims.zivver_url());
    let key = sims.zivver_connection()["api_key"].as_str().unwrap().to_string();
    let auth = format!("Bearer {key}");
    let body = user_body("lost@contoso.example", json!({})).to_string();
    let r =
        request("POST", &url, &[("Authorization", &auth), ("Content-Type", "application/scim+json")], body.as_bytes());
    assert!(r.is_err(), "the answer is lost");
    assert_eq!(
        zv(&sims, "GET", &format!("/Users?filter={}", enc("userName eq \"lost@contoso.example\"")), None).json()["totalResults"],
        1,
        "...but the create landed"
    );
    sims.set_zivver_faults(Faults { p429: 1.0, seed: 3, ..Faults::default() });
    let r = zv(&sims, "GET", "/Users", None);
    assert_eq!(r.status, 429);
    assert!(r.header("Retry-After").is_none());
    assert_eq!(r.json()["code"], 429);
}

#[test]
fn expected_on_generated_data_is_consistent() {
    let sims = start();
    let e = sims.zivver_expected();
    let dir = sims.directory();
    let users = e["users"].as_array().unwrap();
    let mailboxes: Vec<_> = dir.users.iter().filter(|u| u.purpose.as_deref() == Some("user")).collect();
    assert_eq!(users.len(), mailboxes.len(), "every user mailbox a user");
    let shared: Vec<_> = dir.users.iter().filter(|u| u.purpose.as_deref() == Some("shared")).collect();
    assert_eq!(e["groups"].as_array().unwrap().len(), shared.len(), "every shared mailbox a group");
    let names: HashSet<&str> = users.iter().map(|u| u["userName"].as_str().unwrap()).collect();
    for u in users {
        let n = u["userName"].as_str().unwrap();
        assert_eq!(n, n.to_lowercase());
        assert_eq!(u["name"].as_str().unwrap(), u["name"].as_str().unwrap().trim());
        let d = dir.users.iter().find(|d| d.id == u["sso_account_key"].as_str().unwrap()).unwrap();
        assert_eq!(u["active"], d.account_enabled);
        for a in u["aliases"].as_array().unwrap() {
            let a = a.as_str().unwrap();
            assert!(a.ends_with("@contoso.example") || a.ends_with("@fabrikam.example"), "{a}");
            assert_ne!(a, n);
        }
        for x in u["delegates"].as_array().unwrap() {
            assert!(names.contains(x.as_str().unwrap()), "delegates are users: {x}");
        }
    }
    for g in e["groups"].as_array().unwrap() {
        for m in g["members"].as_array().unwrap() {
            assert!(names.contains(m.as_str().unwrap()), "members are users: {m}");
        }
    }
    assert!(e["groups"].as_array().unwrap().iter().any(|g| g["members"] == json!([])), "a disabled functional account");
    assert_eq!(e["deactivated_users"], json!(["oud.medewerker@contoso.example"]));
    assert_eq!(e["emptied_groups"], json!(["oude-afdeling@contoso.example"]));
    assert!(users.iter().any(|u| !u["external_account_id"].is_null()), "ExternalAccountIds to preserve");
    assert!(users.iter().any(|u| u["division"] != "/"), "divisions to preserve");
    // Rooms and users without a mailbox take no part.
    for d in dir.users.iter().filter(|u| u.purpose.as_deref() != Some("user") && u.purpose.as_deref() != Some("shared"))
    {
        assert!(!e.to_string().contains(&d.id));
    }
    // Zivver starts about half-synced.
    let zs = sims.zivver_state();
    let present = zs["users"].as_array().unwrap().len() - 1;
    assert!(present * 4 >= mailboxes.len() && present * 4 <= mailboxes.len() * 3, "{present} of {}", mailboxes.len());
    assert!(zs["users"].as_array().unwrap().iter().any(|u| !u["sso_account_key"].is_null()));
    // It follows the directory.
    let victim = users[0]["sso_account_key"].as_str().unwrap().to_string();
    sims.directory_change(json!({"op": "delete", "id": victim})).unwrap();
    let e2 = sims.zivver_expected();
    assert_eq!(e2["users"].as_array().unwrap().len(), users.len() - 1);
}

/// A straightforward full sync by the contract (rate limit off); it must reach `zivver_expected`.
#[test]
fn a_full_sync_reaches_expected() {
    let sims = start();
    // The shared mailbox of the stale group is gone, and one user mailbox that is in Zivver.
    let dir = sims.directory();
    let zs = sims.zivver_state();
    let primary_of = |x: &str| {
        dir.users.iter().find(|u| u.primary_smtp().is_some_and(|p| p.eq_ignore_ascii_case(x))).map(|u| u.id.clone())
    };
    let shared =
        zs["groups"].as_array().unwrap().iter().find_map(|g| primary_of(g["externalId"].as_str().unwrap())).unwrap();
    sims.directory_change(json!({"op": "delete", "id": shared})).unwrap();
    let user =
        zs["users"].as_array().unwrap().iter().find_map(|u| primary_of(u["userName"].as_str().unwrap())).unwrap();
    sims.directory_change(json!({"op": "delete", "id": user})).unwrap();
    let e = sims.zivver_expected();
    assert_eq!(e["emptied_groups"].as_array().unwrap().len(), 2);
    assert_eq!(e["deactivated_users"].as_array().unwrap().len(), 2);
    let list = |sims: &Simulators, what: &str| -> Vec<Value> {
        zv(sims, "GET", &format!("/{what}?count=100"), None).json()["Resources"].as_array().unwrap().clone()
    };
    let find = |all: &[Value], key: &str, v: &str| {
        all.iter().find(|u| u[key].as_str().unwrap().eq_ignore_ascii_case(v)).cloned()
    };
    // Pass 1: users without delegates (create or read-modify-write), preserving what Zivver owns.
    for pass in 0..2 {
        let now = list(&sims, "Users");
        for u in e["users"].as_array().unwrap() {
            let n = u["userName"].as_str().unwrap();
            let delegates = if pass == 0 { json!([]) } else { u["delegates"].clone() };
            let mut body = json!({"schemas": [CORE_USER, ZU, ENT], "userName": n, "name": {"formatted": u["name"]},
                                  "active": u["active"], ZU: {"aliases": u["aliases"], "delegates": delegates, "SsoAccountKey": u["sso_account_key"]}});
            match find(&now, "userName", n) {
                Some(z) => {
                    if let Some(x) = z[ZU].get("ExternalAccountId") {
                        body[ZU]["ExternalAccountId"] = x.clone();
                    }
                    body[ENT] = z[ENT].clone();
                    let r = zv(&sims, "PUT", &format!("/Users/{}", z["id"].as_str().unwrap()), Some(&body));
                    assert_eq!(r.status, 200, "{}", r.text());
                }
                None => assert_eq!(zv(&sims, "POST", "/Users", Some(&body)).status, 201),
            }
        }
    }
    let now = list(&sims, "Users");
    for n in e["deactivated_users"].as_array().unwrap() {
        let mut z = find(&now, "userName", n.as_str().unwrap()).unwrap();
        z["active"] = json!(false);
        // (its SsoAccountKey is cleared: the sync does not know it; the simulator counts that)
        assert_eq!(zv(&sims, "PUT", &format!("/Users/{}", z["id"].as_str().unwrap()), Some(&z)).status, 200);
    }
    let id_of = |n: &str| find(&now, "userName", n).unwrap()["id"].clone();
    let groups = list(&sims, "Groups");
    for g in e["groups"].as_array().unwrap() {
        let x = g["externalId"].as_str().unwrap();
        let members: Vec<Value> =
            g["members"].as_array().unwrap().iter().map(|m| json!({"value": id_of(m.as_str().unwrap())})).collect();
        let mut body = json!({"schemas": [CORE_GROUP, ZG], "externalId": x, "displayName": g["displayName"], ZG: {"aliases": g["aliases"]}});
        match find(&groups, "externalId", x) {
            Some(z) => {
                if let Some(xa) = z[ZG].get("ExternalAccountId") {
                    body[ZG]["ExternalAccountId"] = xa.clone();
                }
                body["members"] = z["members"].clone();
                let path = format!("/Groups/{}", z["id"].as_str().unwrap());
                assert_eq!(zv(&sims, "PUT", &path, Some(&body)).status, 200);
                let p =
                    json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "members", "value": members}]});
                assert_eq!(zv(&sims, "PATCH", &path, Some(&p)).status, 200);
            }
            None => {
                body["members"] = json!(members);
                assert_eq!(zv(&sims, "POST", "/Groups", Some(&body)).status, 201);
            }
        }
    }
    for x in e["emptied_groups"].as_array().unwrap() {
        let z = find(&groups, "externalId", x.as_str().unwrap()).unwrap();
        let p = json!({"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members"}]});
        assert_eq!(zv(&sims, "PATCH", &format!("/Groups/{}", z["id"].as_str().unwrap()), Some(&p)).status, 200);
    }
    // Compare.
    let s = sims.zivver_state();
    let sorted = |v: &Value| {
        let mut a: Vec<String> = v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_lowercase()).collect();
        a.sort();
        a
    };
    for u in e["users"].as_array().unwrap() {
        let z = s["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|z| z["userName"].as_str().unwrap().eq_ignore_ascii_case(u["userName"].as_str().unwrap()))
            .unwrap();
        assert_eq!(z["name"], u["name"]);
        assert_eq!(z["active"], u["active"]);
        assert_eq!(sorted(&z["aliases"]), sorted(&u["aliases"]));
        assert_eq!(sorted(&z["delegates"]), sorted(&u["delegates"]));
        assert_eq!(z["sso_account_key"], u["sso_account_key"]);
        assert_eq!(z["external_account_id"], u["external_account_id"]);
        assert_eq!(z["division"], u["division"]);
    }
    for g in e["groups"].as_array().unwrap() {
        let z = s["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|z| z["externalId"].as_str().unwrap().eq_ignore_ascii_case(g["externalId"].as_str().unwrap()))
            .unwrap();
        assert_eq!(z["displayName"], g["displayName"]);
        assert_eq!(z["member_addresses"], g["members"]);
        assert_eq!(z["external_account_id"], g["external_account_id"]);
    }
    for n in e["deactivated_users"].as_array().unwrap() {
        assert!(
            s["users"].as_array().unwrap().iter().any(|z| z["userName"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(n.as_str().unwrap())
                && z["active"] == false)
        );
    }
    for x in e["emptied_groups"].as_array().unwrap() {
        assert!(s["groups"].as_array().unwrap().iter().any(|z| z["externalId"] == *x && z["members"] == json!([])));
    }
    assert_eq!(s["counts"]["deletes_attempted"], 0);
    assert!(s["sso_keys_cleared"].as_u64().unwrap() <= 2, "only the deactivated ones'");
    assert_eq!(s["external_ids_cleared"], 0);
    assert_eq!(sims.zivver_expected()["deactivated_users"], e["deactivated_users"]);
}
