//! ARMOR simulator: every point of contracts/armor.md, through plain HTTP.

mod common;

use common::*;
use psa_bridge_sim::{SimConfig, Simulators, armor_psk_header, armor_psk_signature};
use serde_json::{Value, json};
use std::collections::HashSet;

fn start() -> Simulators {
    Simulators::start(SimConfig::small()).expect("simulators start")
}

fn post_json(url: &str, body: &Value) -> Resp {
    request("POST", url, &[("Content-Type", "application/json")], body.to_string().as_bytes()).expect("answered")
}

#[test]
fn psk_signature_matches_an_independent_implementation() {
    // Expected values computed with Python's hmac/hashlib/base64.
    assert_eq!(
        armor_psk_signature("key1", "secret", "GET", "/tickets/list?maxResults=5", "abc", "1700000000", b""),
        "VBsIkqszWrV+R5OlHyF/awnlGsBWND6Wi3aSU6ks53iIUS3zVr4yUSELiS1MoWVdYPI0SaEAt3555v0TUOVJRg=="
    );
    assert_eq!(
        armor_psk_signature("key1", "secret", "post", "/x?a=1", "n2", "1700000001", br#"{"a":1}"#),
        "CT7cImq0BW2tiN9Ga8/BiC1sVak7jBad0Q41urmOsFsDmzl/GYTNAp0w58ig0hUlqb4nSxHfDJsvy4m6tBakXw=="
    );
}

#[test]
fn password_login_code_is_single_use_and_token_works() {
    let sims = start();
    let c = sims.dataset().credentials.armor.clone();
    let base = sims.armor_url();
    let r = post_json(&format!("{base}/auth/authorize"), &json!({"username": c.username, "password": c.password}));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert!(v["redirect_uri"].is_null());
    let code = v["code"].as_str().unwrap().to_string();
    let r = post_json(&format!("{base}/auth/token"), &json!({"code": code, "grant_type": "authorization_code"}));
    assert_eq!(r.status, 200);
    let t = r.json();
    assert_eq!(t["expires_in"], 900);
    assert!(t["id_token"].is_string());
    let token = t["access_token"].as_str().unwrap();
    // The code is single-use.
    let r = post_json(&format!("{base}/auth/token"), &json!({"code": code, "grant_type": "authorization_code"}));
    assert_eq!(r.status, 401);
    // Wrong grant type.
    assert_eq!(post_json(&format!("{base}/auth/token"), &json!({"code": "x", "grant_type": "password"})).status, 400);
    let r = armor_get(&sims, token, 1001, "/accounts");
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().unwrap().len(), sims.dataset().armor.accounts.len());
    // A bogus token and a missing header are 401 with the ErrorCode shape.
    let r = armor_get(&sims, "fhtok_bogus", 1001, "/accounts");
    assert_eq!(r.status, 401);
    assert!(r.json()["ReferenceId"].is_string());
    assert_eq!(get(&format!("{base}/accounts"), &[("X-Account-Context", "1001")]).status, 401);
}

#[test]
fn wrong_password_is_401_and_mfa_user_is_403() {
    let sims = start();
    let c = sims.dataset().credentials.armor.clone();
    let base = sims.armor_url();
    let r = post_json(&format!("{base}/auth/authorize"), &json!({"username": c.username, "password": "nope"}));
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["ErrorCode"], "Unauthorized");
    let r =
        post_json(&format!("{base}/auth/authorize"), &json!({"username": c.mfa_username, "password": c.mfa_password}));
    assert_eq!(r.status, 403);
    assert!(!r.text().contains(&c.mfa_password));
    let r = post_json(&format!("{base}/auth/authorize"), &json!({"username": c.mfa_username, "password": "wrong"}));
    assert_eq!(r.status, 401);
    let r = request("POST", &format!("{base}/auth/authorize"), &[], b"not json").unwrap();
    assert_eq!(r.status, 400);
}

#[test]
fn expired_token_is_401_and_reissue_gives_a_fresh_one() {
    let sims = start();
    let base = sims.armor_url();
    sims.set_token_ttl(0);
    let expired = armor_login(&sims);
    let r = armor_get(&sims, &expired, 1001, "/accounts");
    assert_eq!(r.status, 401);
    assert!(r.text().contains("expired"));
    assert_eq!(post_json(&format!("{base}/auth/token/reissue"), &json!({"token": expired})).status, 401);
    sims.set_token_ttl(900);
    let token = armor_login(&sims);
    let r = post_json(&format!("{base}/auth/token/reissue"), &json!({"token": token}));
    assert_eq!(r.status, 200);
    let fresh = r.json()["access_token"].as_str().unwrap().to_string();
    assert_ne!(fresh, token);
    assert_eq!(r.json()["expires_in"], 900);
    assert_eq!(armor_get(&sims, &fresh, 1001, "/accounts").status, 200);
}

#[test]
fn armor_psk_rejects_bad_signature_unknown_key_old_time_and_reused_nonce() {
    let sims = start();
    let c = sims.dataset().credentials.armor.clone();
    let base = sims.armor_url();
    let path = "/tickets/list?maxResults=5&orderBy=created&orderByDirection=desc";
    let send = |auth: &str, path: &str| {
        get(&format!("{base}{path}"), &[("Authorization", auth), ("X-Account-Context", "7001")])
    };
    let now = now_unix();

    let ok = armor_psk_header(&c.key_id, &c.secret_key, "GET", path, "nonce-1", now, b"");
    assert_eq!(send(&ok, path).status, 200);
    // Same nonce again within 5 minutes.
    let again = armor_psk_header(&c.key_id, &c.secret_key, "GET", path, "nonce-1", now, b"");
    let r = send(&again, path);
    assert_eq!(r.status, 401);
    assert!(r.text().contains("Nonce"));
    // Signed for another query string than the one sent.
    let other = armor_psk_header(&c.key_id, &c.secret_key, "GET", "/tickets/list?maxResults=6", "nonce-2", now, b"");
    assert_eq!(send(&other, path).status, 401);
    // Wrong secret.
    let bad = armor_psk_header(&c.key_id, "not-the-secret", "GET", path, "nonce-3", now, b"");
    assert_eq!(send(&bad, path).status, 401);
    // Unknown key.
    let unknown = armor_psk_header("someone-else", &c.secret_key, "GET", path, "nonce-4", now, b"");
    assert_eq!(send(&unknown, path).status, 401);
    // More than 300 s off, either way.
    for ts in [now - 301, now + 301] {
        let h = armor_psk_header(&c.key_id, &c.secret_key, "GET", path, &nonce(), ts, b"");
        let r = send(&h, path);
        assert_eq!(r.status, 401);
        assert!(r.text().contains("timestamp"));
    }
    // Within the window is fine.
    let h = armor_psk_header(&c.key_id, &c.secret_key, "GET", path, &nonce(), now - 250, b"");
    assert_eq!(send(&h, path).status, 200);
    // Garbage.
    assert_eq!(send("ARMOR-PSK a:b:c", path).status, 401);
    assert_eq!(send("ARMOR-PSK a:b:c:d:e", path).status, 401);
    // The body is part of the signature (a POST with a signed body passes the auth check).
    let body = br#"{"x":1}"#;
    let h = armor_psk_header(&c.key_id, &c.secret_key, "POST", "/accounts", "nonce-body", now, body);
    let r = request("POST", &format!("{base}/accounts"), &[("Authorization", &h), ("X-Account-Context", "1001")], body)
        .unwrap();
    assert_eq!(r.status, 405, "authenticated, then method not allowed: {}", r.text());
    let h = armor_psk_header(&c.key_id, &c.secret_key, "POST", "/accounts", "nonce-body2", now, b"{}");
    let r = request("POST", &format!("{base}/accounts"), &[("Authorization", &h), ("X-Account-Context", "1001")], body)
        .unwrap();
    assert_eq!(r.status, 401);
}

#[test]
fn account_context_is_required_and_scoped() {
    let sims = start();
    let token = armor_login(&sims);
    let base = sims.armor_url();
    let auth = format!("FH-AUTH {token}");
    let r = get(&format!("{base}/accounts"), &[("Authorization", &auth)]);
    assert_eq!(r.status, 403);
    assert!(r.json()["message"].is_string());
    assert_eq!(armor_get(&sims, &token, 999, "/accounts").status, 403);
    assert_eq!(get(&format!("{base}/accounts"), &[("Authorization", &auth), ("X-Account-Context", "abc")]).status, 403);

    let d = sims.dataset();
    // A child with grandchildren: its context sees itself and its descendants only.
    let child = d
        .armor
        .accounts
        .iter()
        .find(|a| a.parent == 1001 && d.armor.accounts.iter().any(|g| g.parent == a.id))
        .unwrap();
    let r = armor_get(&sims, &token, child.id, "/accounts");
    assert_eq!(r.status, 200);
    let seen: HashSet<i64> = ids(&r.json()).into_iter().collect();
    let expected: HashSet<i64> =
        d.armor.accounts.iter().filter(|a| a.id == child.id || a.parent == child.id).map(|a| a.id).collect();
    assert_eq!(seen, expected);
    // Outside that subtree: 404 from /accounts/{id}; inside: the detail.
    let outsider = d.armor.accounts.iter().find(|a| a.parent == 1001 && a.id != child.id).unwrap();
    assert_eq!(armor_get(&sims, &token, child.id, &format!("/accounts/{}", outsider.id)).status, 404);
    assert_eq!(armor_get(&sims, &token, child.id, &format!("/accounts/{}", child.id)).status, 200);
}

#[test]
fn accounts_have_the_contract_fields() {
    let sims = start();
    let token = armor_login(&sims);
    let list = armor_get(&sims, &token, 1001, "/accounts").json();
    let list = list.as_array().unwrap();
    assert_eq!(list[0]["id"], 1001);
    assert_eq!(list[0]["parent"], -1);
    let keys: HashSet<&str> = list[1].as_object().unwrap().keys().map(String::as_str).collect();
    let want: HashSet<&str> =
        ["id", "name", "currency", "status", "parent", "products", "accountType", "isSynced", "isFreeTrial"].into();
    assert_eq!(keys, want);
    assert!(list.iter().any(|a| a["currency"] == "USD "), "a space-padded currency");
    let statuses: HashSet<&str> = list.iter().map(|a| a["status"].as_str().unwrap()).collect();
    assert!(statuses.contains("Active"));
    // Grandchildren exist: a parent that is not the root.
    assert!(list.iter().any(|a| a["parent"] != 1001 && a["parent"] != -1));

    let d = armor_get(&sims, &token, 1001, "/accounts/7001").json();
    assert_eq!(d["accountId"], "7001");
    for k in ["name", "addressLine1", "addressLine2", "city", "state", "postalCode", "country"] {
        assert!(d.as_object().unwrap().contains_key(k), "{k}");
    }
    let all: Vec<Value> = (0..sims.dataset().armor.accounts.len())
        .map(|i| armor_get(&sims, &token, 1001, &format!("/accounts/{}", sims.dataset().armor.accounts[i].id)).json())
        .collect();
    assert!(all.iter().any(|d| d["addressLine2"].is_null()));
    assert!(all.iter().any(|d| d.as_object().unwrap().values().any(|v| v == "")), "some empty-string address field");
    assert_eq!(armor_get(&sims, &token, 1001, "/accounts/424242").status, 404);
    assert_eq!(armor_get(&sims, &token, 1001, "/accounts/abc").status, 404);
}

/// Page through one account's tickets; returns the keys in order.
fn all_pages(sims: &Simulators, token: &str, ctx: i64, extra: &str) -> (Vec<String>, usize) {
    let mut keys = Vec::new();
    let mut next: Option<String> = None;
    let mut total;
    for _ in 0..1000 {
        let mut path = format!("/tickets/list?maxResults=50&orderBy=created&orderByDirection=desc{extra}");
        if let Some(t) = &next {
            path.push_str(&format!("&nextPageToken={}", enc(t)));
        }
        let r = armor_get(sims, token, ctx, &path);
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        total = v["total"].as_u64().unwrap() as usize;
        assert!(v["items"].as_array().unwrap().len() <= 50);
        keys.extend(v["items"].as_array().unwrap().iter().map(|t| t["issueKeyId"].as_str().unwrap().to_string()));
        match v.get("nextPageToken").and_then(Value::as_str) {
            Some(t) => next = Some(t.to_string()),
            None => return (keys, total),
        }
    }
    panic!("paging did not end");
}

#[test]
fn ticket_paging_with_opaque_tokens() {
    let sims = start();
    let token = armor_login(&sims);
    let d = sims.dataset();
    let heavy = 7001;
    let expected: Vec<&str> =
        d.armor.tickets.iter().filter(|t| t.account_id == heavy).map(|t| t.issue_key_id.as_str()).collect();
    assert!(expected.len() > 100, "a heavy account");
    let (keys, total) = all_pages(&sims, &token, heavy, "");
    assert_eq!(total, expected.len());
    assert_eq!(keys.len(), expected.len());
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), keys.len(), "no duplicates across pages");
    // created desc
    let created: Vec<&str> = keys
        .iter()
        .map(|k| d.armor.tickets.iter().find(|t| &t.issue_key_id == k).unwrap().created_date.as_str())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]));

    // maxResults is clamped to 50.
    let v = armor_get(&sims, &token, heavy, "/tickets/list?maxResults=500").json();
    assert_eq!(v["maxResults"], 50);
    assert_eq!(v["items"].as_array().unwrap().len(), 50);
    let first_token = v["nextPageToken"].as_str().unwrap().to_string();
    assert_eq!(v["items"][0].as_object().unwrap().len(), 8, "TicketSummary fields");

    // Forged, tampered, cross-account and pre-reset tokens are 400.
    for bad in ["garbage", "MTAwLjEuMDAwMDAwMDAwMDAwMDAwMA", &first_token[..first_token.len() - 2]] {
        let r = armor_get(&sims, &token, heavy, &format!("/tickets/list?nextPageToken={}", enc(bad)));
        assert_eq!(r.status, 400, "{bad}");
    }
    let other = d.armor.tickets.iter().find(|t| t.account_id != heavy).unwrap().account_id;
    assert_eq!(
        armor_get(&sims, &token, other, &format!("/tickets/list?nextPageToken={}", enc(&first_token))).status,
        400
    );
    assert_eq!(
        armor_get(
            &sims,
            &token,
            heavy,
            &format!("/tickets/list?requestType=Change&nextPageToken={}", enc(&first_token))
        )
        .status,
        400
    );
    assert_eq!(
        armor_get(&sims, &token, heavy, &format!("/tickets/list?nextPageToken={}", enc(&first_token))).status,
        200
    );
    sims.reset();
    let token = armor_login(&sims);
    assert_eq!(
        armor_get(&sims, &token, heavy, &format!("/tickets/list?nextPageToken={}", enc(&first_token))).status,
        400,
        "old token"
    );

    // requestType filter.
    let (incidents, total) = all_pages(&sims, &token, heavy, "&requestType=Incident");
    let want = d.armor.tickets.iter().filter(|t| t.account_id == heavy && t.request_type == "Incident").count();
    assert_eq!((incidents.len(), total), (want, want));

    // The MSP root has no tickets of its own; an account without tickets answers an empty list.
    let v = armor_get(&sims, &token, 1001, "/tickets/list").json();
    assert_eq!(v["total"], 0);
    assert!(v.get("nextPageToken").is_none_or(Value::is_null));
}

#[test]
fn details_comments_and_the_404_quirk() {
    let sims = start();
    let token = armor_login(&sims);
    let d = sims.dataset();
    let with_comments = d.armor.tickets.iter().find(|t| !t.comments.is_empty()).unwrap();
    let ctx = with_comments.account_id;
    let r = armor_get(&sims, &token, ctx, &format!("/tickets/{}/details", with_comments.issue_key_id));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["currentStatus"]["name"], with_comments.current_status.as_str());
    assert!(v["currentStatus"]["id"].is_i64());
    for k in [
        "issueKeyId",
        "summary",
        "description",
        "createdDate",
        "updatedDate",
        "requestType",
        "reporter",
        "assignee",
        "priority",
    ] {
        assert!(v.as_object().unwrap().contains_key(k), "{k}");
    }
    let r = armor_get(&sims, &token, ctx, &format!("/tickets/{}/comments", with_comments.issue_key_id));
    assert_eq!(r.status, 200);
    let c = r.json();
    assert_eq!(c.as_array().unwrap().len(), with_comments.comments.len());
    assert_eq!(c[0]["id"], with_comments.comments[0].id);
    for k in ["id", "author", "body", "created", "public"] {
        assert!(c[0].as_object().unwrap().contains_key(k));
    }
    let quirk = d.armor.tickets.iter().find(|t| t.comments404).unwrap();
    let r = armor_get(&sims, &token, quirk.account_id, &format!("/tickets/{}/comments", quirk.issue_key_id));
    assert_eq!(r.status, 404);
    if let Some(empty) = d.armor.tickets.iter().find(|t| t.comments.is_empty() && !t.comments404) {
        let r = armor_get(&sims, &token, empty.account_id, &format!("/tickets/{}/comments", empty.issue_key_id));
        assert_eq!((r.status, r.json()), (200, json!([])));
    }
    assert_eq!(armor_get(&sims, &token, ctx, "/tickets/ATS-1/details").status, 404);
    // A ticket of another account is not visible in this context.
    let other_ctx = d.armor.accounts.iter().find(|a| a.id != ctx && a.parent != -1).unwrap().id;
    assert_eq!(
        armor_get(&sims, &token, other_ctx, &format!("/tickets/{}/details", with_comments.issue_key_id)).status,
        404
    );
    // Long summaries and statuses that are not on the ConnectWise board exist.
    assert!(d.armor.tickets.iter().any(|t| t.summary.chars().count() > 100));
    assert!(d.armor.tickets.iter().any(|t| t.current_status == "Waiting for Support"));
    assert!(d.armor.tickets.iter().any(|t| t.current_status == "Pending Vendor"));
    assert_eq!(get(&format!("{}/nope", sims.armor_url()), &[]).status, 404);
}
