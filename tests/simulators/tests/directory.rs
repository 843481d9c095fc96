//! The Microsoft Graph directory (users, mailboxSettings, mailboxPermissions, groups) against
//! contracts/zivver-scim.md, "Source".

mod common;

use common::*;
use psa_bridge_sim::{Faults, GraphConfig, SimConfig, Simulators};
use serde_json::{Value, json};
use std::collections::HashSet;

fn start() -> Simulators {
    Simulators::start(SimConfig::generated(5, 30, 10, 11)).expect("simulators start")
}

fn token(sims: &Simulators) -> String {
    let c = sims.directory_connection();
    let body = format!(
        "client_id={}&client_secret={}&scope={}&grant_type=client_credentials",
        enc(c["client_id"].as_str().unwrap()),
        enc(c["client_secret"].as_str().unwrap()),
        enc("https://graph.microsoft.com/.default")
    );
    let url = format!("{}/{}/oauth2/v2.0/token", c["login_url"].as_str().unwrap(), c["tenant"].as_str().unwrap());
    let r = request("POST", &url, &[("Content-Type", "application/x-www-form-urlencoded")], body.as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_string()
}

/// GET below `/v1.0` (or a full URL).
fn g(sims: &Simulators, tok: &str, path: &str) -> Resp {
    let url = if path.starts_with("http") { path.to_string() } else { format!("{}/v1.0{path}", sims.graph_url()) };
    let auth = format!("Bearer {tok}");
    request("GET", &url, &[("Authorization", &auth)], b"").expect("answered")
}

fn dir_users(sims: &Simulators) -> Vec<Value> {
    sims.graph_state()["directory"]["users"].as_array().unwrap().clone()
}

const SELECT: &str = "id,displayName,mail,userPrincipalName,proxyAddresses,accountEnabled";

/// Every page of a listing by nextLink: (items, pages).
fn all_pages(sims: &Simulators, tok: &str, first: &str) -> (Vec<Value>, usize) {
    let (mut items, mut pages, mut next) = (Vec::new(), 0, Some(first.to_string()));
    while let Some(url) = next {
        let r = g(sims, tok, &url);
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        let v = r.json();
        items.extend(v["value"].as_array().unwrap().iter().cloned());
        pages += 1;
        next = v["@odata.nextLink"].as_str().map(str::to_string);
        if let Some(n) = &next {
            assert!(n.starts_with(&sims.graph_url()), "absolute nextLink: {n}");
        }
        assert!(pages < 100);
    }
    (items, pages)
}

#[test]
fn listing_pages_once_each_with_select() {
    let sims = start();
    let tok = token(&sims);
    let users = dir_users(&sims);
    assert_eq!(users.len(), 60, "default 60 directory users");
    let (items, pages) = all_pages(&sims, &tok, &format!("/users?$select={SELECT}&$top=7"));
    assert_eq!(pages, 60usize.div_ceil(7));
    let ids: Vec<&str> = items.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 60, "each user once");
    let want: HashSet<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.iter().copied().collect::<HashSet<_>>(), want, "every directory user, mailbox or not");
    for u in &items {
        let keys: HashSet<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, SELECT.split(',').collect::<HashSet<_>>(), "{u}");
    }
    // $top=999 lists all at once; $select honoured (id always).
    let r = g(&sims, &tok, "/users?$select=mail&$top=999");
    let v = r.json();
    assert_eq!(v["value"].as_array().unwrap().len(), 60);
    assert!(v.get("@odata.nextLink").is_none());
    assert_eq!(v["value"][0].as_object().unwrap().len(), 2, "id + mail: {}", v["value"][0]);
    // Without $select: Graph's default set, no proxyAddresses nor accountEnabled; default page 100.
    let v = g(&sims, &tok, "/users").json();
    assert!(v["value"][0].get("proxyAddresses").is_none() && v["value"][0].get("accountEnabled").is_none());
    assert!(v["value"][0]["userPrincipalName"].is_string());
    for bad in ["/users?$top=1000", "/users?$top=0", "/users?$select=foo", "/users?$skiptoken=nope"] {
        let r = g(&sims, &tok, bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.json()["error"]["code"].is_string());
    }
    assert_eq!(g(&sims, "nope", "/users").status, 401);
    // The listing is not per-mailbox throttled; the global in-flight counter is kept.
    assert!(sims.graph_state()["max_in_flight_total"].as_u64().unwrap() >= 1);
}

#[test]
fn generated_directory_is_messy_enough() {
    let sims = start();
    let users = dir_users(&sims);
    let purpose = |p: Option<&str>| users.iter().filter(|u| u["purpose"].as_str() == p).count();
    let shared = purpose(Some("shared"));
    assert!((5..=9).contains(&shared), "about 12% shared: {shared}");
    assert_eq!(purpose(Some("room")), 1);
    assert!(purpose(None) >= 2, "users without a mailbox");
    let shared_users: Vec<&Value> = users.iter().filter(|u| u["purpose"] == "shared").collect();
    assert!(shared_users.iter().all(|u| u["accountEnabled"] == false));
    assert!(
        shared_users.iter().any(|u| u["full_access"].as_array().unwrap().is_empty()),
        "a shared one without delegates"
    );
    assert!(shared_users.iter().all(|u| u["full_access"].as_array().unwrap().len() <= 4));
    assert!(users.iter().any(|u| u["purpose"] == "user" && u["accountEnabled"] == false), "a disabled user mailbox");
    assert!(users.iter().any(|u| u["purpose"] == "user" && !u["full_access"].as_array().unwrap().is_empty()));
    assert!(users.iter().filter(|u| u["purpose"].is_null()).all(|u| u["mail"].is_null()));
    let proxies = |u: &Value| {
        u["proxyAddresses"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let mut case_differs = false;
    for u in users.iter().filter(|u| !u["purpose"].is_null()) {
        let p = proxies(u);
        let primaries: Vec<&String> = p.iter().filter(|x| x.starts_with("SMTP:")).collect();
        assert_eq!(primaries.len(), 1, "exactly one primary: {u}");
        let primary = &primaries[0][5..];
        assert!(primary.eq_ignore_ascii_case(u["mail"].as_str().unwrap()));
        case_differs |= primary != u["mail"].as_str().unwrap();
        assert!(p.iter().any(|x| x.starts_with("smtp:") && x.ends_with("@contoso.onmicrosoft.com")));
    }
    assert!(case_differs, "some primary differs in case from mail");
    let all: Vec<String> = users.iter().flat_map(proxies).collect();
    for prefix in ["X500:", "SIP:", "spo:"] {
        assert!(all.iter().any(|p| p.starts_with(prefix)), "{prefix}");
    }
    assert!(all.iter().any(|p| p.starts_with("smtp:") && p.ends_with("@fabrikam.example")));
    let names: Vec<&str> = users.iter().map(|u| u["displayName"].as_str().unwrap()).collect();
    assert!(names.iter().any(|n| n.trim() != *n), "padded names");
    assert!(names.iter().any(|n| !n.is_ascii()), "accented names");
    assert!(
        users
            .iter()
            .any(|u| u["userPrincipalName"].as_str().unwrap().ends_with(".onmicrosoft.com") && !u["mail"].is_null()),
        "a UPN that is not the mail address"
    );
    // Same seed, same directory; another seed, another.
    let again = start();
    assert_eq!(dir_users(&again), users);
    let other = Simulators::start(SimConfig::generated(5, 30, 10, 12)).unwrap();
    assert_ne!(dir_users(&other), users);
}

#[test]
fn mailbox_settings_purposes_and_404s() {
    let sims = start();
    let tok = token(&sims);
    for u in dir_users(&sims) {
        for key in [u["id"].as_str().unwrap(), &u["userPrincipalName"].as_str().unwrap().to_uppercase()] {
            let r = g(&sims, &tok, &format!("/users/{}/mailboxSettings", enc(key)));
            match u["purpose"].as_str() {
                Some(p) => {
                    assert_eq!(r.status, 200, "{}", r.text());
                    assert_eq!(r.json()["userPurpose"], p);
                    assert!(r.json()["timeZone"].is_string());
                }
                None => {
                    assert_eq!(r.status, 404);
                    assert_eq!(r.json()["error"]["code"], "MailboxNotEnabledForRESTAPI");
                    assert_eq!(
                        r.json()["error"]["message"],
                        "The mailbox is either inactive, soft-deleted, or is hosted on-premise."
                    );
                }
            }
        }
    }
    let r = g(&sims, &tok, "/users/nobody@contoso.example/mailboxSettings");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "Request_ResourceNotFound");
    let r = g(&sims, &tok, "/users/nobody@contoso.example/mailboxPermissions");
    assert_eq!(r.json()["error"]["code"], "Request_ResourceNotFound");
    assert!(sims.graph_state()["requests"]["GET /v1.0/users/{mailbox}/mailboxSettings"].as_u64().unwrap() >= 120);
}

#[test]
fn mailbox_permissions_full_access_and_noise() {
    let sims = start();
    let tok = token(&sims);
    let mut others = 0;
    for u in dir_users(&sims).iter().filter(|u| !u["purpose"].is_null()) {
        let r = g(&sims, &tok, &format!("/users/{}/mailboxPermissions", u["id"].as_str().unwrap()));
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json()["value"].as_array().unwrap().clone();
        assert_eq!(v[0]["user"], "NT AUTHORITY\\SELF");
        let full: Vec<&str> = v[1..]
            .iter()
            .filter(|p| p["accessRights"].as_array().unwrap().iter().any(|r| r == "FullAccess"))
            .map(|p| p["user"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = u["full_access"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
        assert_eq!(full, want);
        others += v.len() - 1 - full.len();
    }
    assert!(others > 0, "permissions other than FullAccess are listed too");
    let none = dir_users(&sims).into_iter().find(|u| u["purpose"].is_null()).unwrap();
    let r = g(&sims, &tok, &format!("/users/{}/mailboxPermissions", none["id"].as_str().unwrap()));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "MailboxNotEnabledForRESTAPI");
}

#[test]
fn group_and_transitive_members() {
    let sims = start();
    let tok = token(&sims);
    let r = g(&sims, &tok, &format!("/groups?$filter={}", enc("displayName eq 'Zivver Users'")));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json()["value"].as_array().unwrap().clone();
    assert_eq!(v.len(), 1);
    let gid = v[0]["id"].as_str().unwrap().to_string();
    let (items, pages) =
        all_pages(&sims, &tok, &format!("/groups/{gid}/transitiveMembers?$select=id,userPrincipalName&$top=5"));
    assert!(pages > 1);
    let ids: Vec<&str> = items.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), ids.iter().collect::<HashSet<_>>().len(), "each member once");
    let groups: Vec<&Value> = items.iter().filter(|m| m["@odata.type"] == "#microsoft.graph.group").collect();
    assert_eq!(groups.len(), 1, "the nested group");
    let users: Vec<&Value> = items.iter().filter(|m| m["@odata.type"] == "#microsoft.graph.user").collect();
    assert!(users.iter().all(|u| u["userPrincipalName"].is_string() && u.get("displayName").is_none()));
    // The nested group's members are in the transitive list.
    let state = sims.graph_state();
    let nested =
        state["directory"]["groups"].as_array().unwrap().iter().find(|x| x["id"] == groups[0]["id"]).unwrap().clone();
    for m in nested["members"].as_array().unwrap() {
        assert!(ids.contains(&m.as_str().unwrap()));
    }
    // Most, not all, user mailboxes.
    let mailboxes: Vec<String> = dir_users(&sims)
        .iter()
        .filter(|u| u["purpose"] == "user")
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    let inside = mailboxes.iter().filter(|m| ids.contains(&m.as_str())).count();
    assert!(inside < mailboxes.len() && inside * 10 >= mailboxes.len() * 7, "{inside} of {}", mailboxes.len());
    assert_eq!(g(&sims, &tok, "/groups/00000000-0000-0000-0000-000000000000/transitiveMembers").status, 404);
    let r = g(&sims, &tok, &format!("/groups?$filter={}", enc("displayName eq 'Nope'")));
    assert_eq!(r.json()["value"], json!([]));
}

fn find(sims: &Simulators, id: &str) -> Option<Value> {
    dir_users(sims).into_iter().find(|u| u["id"] == id)
}

#[test]
fn admin_changes() {
    let sims = start();
    let tok = token(&sims);
    let users = dir_users(&sims);
    let u = users.iter().find(|u| u["purpose"] == "user" && u["accountEnabled"] == true).unwrap().clone();
    let id = u["id"].as_str().unwrap().to_string();
    let other = users.iter().find(|x| x["purpose"] == "user" && x["id"] != u["id"]).unwrap().clone();
    let other_upn = other["userPrincipalName"].as_str().unwrap().to_string();

    let v = sims.directory_change(json!({"op": "rename", "id": id, "display_name": "Nieuwe Naam"})).unwrap();
    assert_eq!(v["displayName"], "Nieuwe Naam");
    let v = sims.directory_change(json!({"op": "add_alias", "id": id, "address": "extra@fabrikam.example"})).unwrap();
    assert!(v["proxyAddresses"].as_array().unwrap().contains(&json!("smtp:extra@fabrikam.example")));
    assert!(sims.directory_change(json!({"op": "add_alias", "id": id, "address": "EXTRA@fabrikam.example"})).is_err());
    let v =
        sims.directory_change(json!({"op": "remove_alias", "id": id, "address": "Extra@Fabrikam.example"})).unwrap();
    assert!(!v["proxyAddresses"].as_array().unwrap().contains(&json!("smtp:extra@fabrikam.example")));
    let primary = u["mail"].as_str().unwrap();
    assert!(sims.directory_change(json!({"op": "remove_alias", "id": id, "address": primary})).is_err());
    let v = sims.directory_change(json!({"op": "add_delegate", "id": id, "upn": other_upn})).unwrap();
    assert!(v["full_access"].as_array().unwrap().contains(&json!(other_upn)));
    let r = g(&sims, &tok, &format!("/users/{id}/mailboxPermissions"));
    assert!(r.json()["value"].as_array().unwrap().iter().any(|p| p["user"] == other_upn.as_str()));
    let v = sims.directory_change(json!({"op": "remove_delegate", "id": id, "upn": other_upn})).unwrap();
    assert!(!v["full_access"].as_array().unwrap().contains(&json!(other_upn)));
    let v = sims.directory_change(json!({"op": "disable", "id": id})).unwrap();
    assert_eq!(v["accountEnabled"], false);
    let v = sims.directory_change(json!({"op": "enable", "id": u["userPrincipalName"]})).unwrap();
    assert_eq!(v["accountEnabled"], true);
    // Listed as changed.
    let r = g(&sims, &tok, &format!("/users?$select={SELECT}&$top=999"));
    let listed = r.json()["value"].as_array().unwrap().iter().find(|x| x["id"] == id.as_str()).unwrap().clone();
    assert_eq!(listed["displayName"], "Nieuwe Naam");

    // add_user (shared and not), then delete: gone everywhere.
    let v = sims
        .directory_change(json!({"op": "add_user", "display_name": "Nieuw Gedeeld", "address": "nieuw@contoso.example", "shared": true}))
        .unwrap();
    assert_eq!(v["purpose"], "shared");
    assert_eq!(v["accountEnabled"], false);
    assert_eq!(v["proxyAddresses"], json!(["SMTP:nieuw@contoso.example"]));
    let new_id = v["id"].as_str().unwrap().to_string();
    let r = g(&sims, &tok, &format!("/users/{new_id}/mailboxSettings"));
    assert_eq!(r.json()["userPurpose"], "shared");
    let v = sims
        .directory_change(
            json!({"op": "add_user", "display_name": "Nieuwe Collega", "address": "Nieuwe.Collega@contoso.example"}),
        )
        .unwrap();
    assert_eq!(v["purpose"], "user");
    assert_eq!(v["accountEnabled"], true);
    assert!(
        sims.directory_change(json!({"op": "add_user", "display_name": "x", "address": "nieuw@contoso.example"}))
            .is_err()
    );
    assert_eq!(dir_users(&sims).len(), 62);

    let delegate_of = users.iter().find(|x| !x["full_access"].as_array().unwrap().is_empty()).unwrap();
    let gone_upn = delegate_of["full_access"][0].as_str().unwrap().to_string();
    let gone = dir_users(&sims).into_iter().find(|x| x["userPrincipalName"] == gone_upn.as_str()).unwrap();
    sims.directory_change(json!({"op": "delete", "id": gone["id"]})).unwrap();
    assert!(find(&sims, gone["id"].as_str().unwrap()).is_none());
    assert!(dir_users(&sims).iter().all(|x| !x["full_access"].as_array().unwrap().contains(&json!(gone_upn))));
    let r = g(&sims, &tok, &format!("/users/{}/mailboxSettings", gone["id"].as_str().unwrap()));
    assert_eq!(r.json()["error"]["code"], "Request_ResourceNotFound");
    assert!(
        sims.graph_state()["directory"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| !g["members"].as_array().unwrap().contains(&gone["id"]))
    );

    assert!(sims.directory_change(json!({"op": "frobnicate", "id": id})).is_err());
    assert!(
        sims.directory_change(json!({"op": "rename", "id": "nobody", "display_name": "x"}))
            .unwrap_err()
            .to_string()
            .starts_with("404")
    );
    // The same over HTTP; never counted.
    let r = request(
        "POST",
        &format!("{}/_sim/graph/directory", sims.graph_url()),
        &[("Content-Type", "application/json")],
        json!({"op": "rename", "id": id, "display_name": "Via HTTP"}).to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["displayName"], "Via HTTP");
    assert!(sims.graph_state()["requests"].get("POST /_sim/graph/directory").is_none());
    assert_eq!(sims.graph_state()["directory"]["changes"], 11);
    // reset: back to the generated directory.
    sims.reset();
    assert_eq!(dir_users(&sims), users);
}

#[test]
fn faults_and_directory_size() {
    let mut cfg = SimConfig::generated(5, 30, 10, 11);
    cfg.graph = GraphConfig { directory_users: Some(250), ..GraphConfig::default() };
    let sims = Simulators::start(cfg).unwrap();
    let tok = token(&sims);
    assert_eq!(dir_users(&sims).len(), 250);
    let (items, pages) = all_pages(&sims, &tok, &format!("/users?$select={SELECT}&$top=100"));
    assert_eq!((items.len(), pages), (250, 3));
    sims.set_graph_faults(Faults { p5xx: 1.0, seed: 1, ..Faults::default() });
    let r = g(&sims, &tok, "/users");
    assert!(r.status >= 500, "{}", r.status);
    sims.set_graph_faults(Faults { p429: 1.0, seed: 1, ..Faults::default() });
    let r = g(&sims, &tok, "/users");
    assert_eq!(r.status, 429);
    assert!(r.header("Retry-After").is_some());
}
