//! The Microsoft Graph mail simulator against contracts/mailbox-archer.md.

mod common;

use common::*;
use psa_bridge_sim::generate::{generate, mail_from};
use psa_bridge_sim::{Faults, GraphConfig, MailData, SimConfig, Simulators};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::BufRead;
use std::time::Duration;

fn start() -> Simulators {
    Simulators::start(SimConfig::generated(5, 30, 10, 11)).expect("simulators start")
}

fn token_with(sims: &Simulators, secret: &str, scope: &str) -> Resp {
    let c = sims.mail_connection();
    let body = format!(
        "client_id={}&client_secret={}&scope={}&grant_type=client_credentials",
        enc(c["client_id"].as_str().unwrap()),
        enc(secret),
        enc(scope)
    );
    let url = format!("{}/{}/oauth2/v2.0/token", c["login_url"].as_str().unwrap(), c["tenant"].as_str().unwrap());
    request("POST", &url, &[("Content-Type", "application/x-www-form-urlencoded")], body.as_bytes()).expect("answered")
}

fn token(sims: &Simulators) -> String {
    let c = sims.mail_connection();
    let r = token_with(sims, c["client_secret"].as_str().unwrap(), "https://graph.microsoft.com/.default");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], sims.graph_config().token_ttl_s);
    v["access_token"].as_str().unwrap().to_string()
}

/// A Graph request below `/v1.0/users/{mailbox}` (or a full URL when `path` starts with http).
fn graph(sims: &Simulators, tok: &str, method: &str, path: &str, extra: &[(&str, &str)], body: Option<&Value>) -> Resp {
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        let mb = sims.mail_connection()["mailbox"].as_str().unwrap().to_string();
        format!("{}/v1.0/users/{mb}{path}", sims.graph_url())
    };
    let auth = format!("Bearer {tok}");
    let mut h = vec![("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    h.extend_from_slice(extra);
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    request(method, &url, &h, body.as_bytes()).expect("answered")
}

fn phishing_id(sims: &Simulators, tok: &str) -> String {
    let r = graph(sims, tok, "GET", &format!("/mailFolders?$filter={}", enc("displayName eq 'Phishing'")), &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    assert_eq!(v["value"][0]["displayName"], "Phishing");
    v["value"][0]["id"].as_str().unwrap().to_string()
}

const TEXT: (&str, &str) = ("Prefer", "outlook.body-content-type=\"text\"");

#[test]
fn token_wrong_secret_scope_and_expiry() {
    let sims = start();
    let tok = token(&sims);
    assert_eq!(sims.graph_config().token_ttl_s, 3599);
    let r = token_with(&sims, "wrong", "https://graph.microsoft.com/.default");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");
    assert!(r.json()["error_description"].as_str().unwrap().starts_with("AADSTS7000215"));
    let c = sims.mail_connection();
    let r = token_with(&sims, c["client_secret"].as_str().unwrap(), "Mail.Read");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_request");
    // A good token works; a bad one or none is InvalidAuthenticationToken.
    assert_eq!(graph(&sims, &tok, "GET", "/mailFolders", &[], None).status, 200);
    let r = graph(&sims, "nope", "GET", "/mailFolders", &[], None);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "InvalidAuthenticationToken");
    sims.set_graph_config(GraphConfig { token_ttl_s: 0, ..sims.graph_config() });
    let short = token(&sims);
    let r = graph(&sims, &short, "GET", "/mailFolders", &[], None);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["message"], "Access token has expired or is not yet valid.");
}

#[test]
fn folders_by_name_well_known_and_unknown_mailbox() {
    let sims = start();
    let tok = token(&sims);
    let id = phishing_id(&sims, &tok);
    assert!(id.len() > 60, "long opaque id: {id}");
    let all = graph(&sims, &tok, "GET", "/mailFolders", &[], None).json();
    let names: Vec<&str> =
        all["value"].as_array().unwrap().iter().map(|f| f["displayName"].as_str().unwrap()).collect();
    assert!(names.contains(&"Inbox") && names.contains(&"Phishing") && names.contains(&"Archive"), "{names:?}");
    let phish = all["value"].as_array().unwrap().iter().find(|f| f["id"] == id.as_str()).unwrap();
    assert_eq!(phish["totalItemCount"], 40);
    // Mailbox case-insensitive; unknown mailbox 404.
    let mb = sims.mail_connection()["mailbox"].as_str().unwrap().to_uppercase();
    let url = format!("{}/v1.0/users/{mb}/mailFolders/inbox/messages?$top=50", sims.graph_url());
    let r = graph(&sims, &tok, "GET", &url, &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["value"].as_array().unwrap().len(), 4, "the inbox has four mails");
    let url = format!("{}/v1.0/users/nobody@contoso.example/mailFolders", sims.graph_url());
    let r = graph(&sims, &tok, "GET", &url, &[], None);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "ErrorInvalidUser");
}

#[test]
fn paging_by_next_link_covers_every_message_once_in_order() {
    let sims = start();
    let tok = token(&sims);
    let id = phishing_id(&sims, &tok);
    let filter = enc("receivedDateTime ge 2020-01-01T00:00:00Z");
    let mut url = format!(
        "/mailFolders/{id}/messages?$top=7&$select=id,internetMessageId,subject,from,receivedDateTime,body&$filter={filter}&$orderby={}",
        enc("receivedDateTime asc")
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut last = String::new();
    loop {
        let r = graph(&sims, &tok, "GET", &url, &[TEXT], None);
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        pages += 1;
        for m in v["value"].as_array().unwrap() {
            let keys: HashSet<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
            assert!(keys.contains("@odata.etag") && keys.contains("id") && !keys.contains("toRecipients"), "{keys:?}");
            let at = m["receivedDateTime"].as_str().unwrap().to_string();
            assert_eq!(at.len(), 20, "second precision: {at}");
            assert!(at >= last, "ascending");
            last = at;
            seen.push(m["internetMessageId"].as_str().unwrap().to_string());
        }
        match v["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with("http://") && next.contains("skiptoken") && !next.contains("$skip="),
                    "{next}"
                );
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 6);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "each once");
    let truth: HashSet<&String> = sims.dataset().mail.truth.iter().collect();
    assert_eq!(unique, truth, "exactly the Phishing folder's messages");
    assert_eq!(sims.graph_state()["skip_requests"], 0);
}

#[test]
fn filter_and_orderby_rules() {
    let sims = start();
    let tok = token(&sims);
    let id = phishing_id(&sims, &tok);
    let get = |q: &str| graph(&sims, &tok, "GET", &format!("/mailFolders/{id}/messages?{q}"), &[], None);
    let r = get(&format!(
        "$filter={}&$orderby={}",
        enc("isRead eq false and receivedDateTime ge 2020-01-01T00:00:00Z"),
        enc("receivedDateTime asc")
    ));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "InefficientFilter");
    assert_eq!(r.json()["error"]["message"], "The restriction or sort order is too complex for this operation.");
    let r = get(&format!("$filter={}", enc("subject eq 'x'")));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "BadRequest");
    for top in ["0", "1001", "x"] {
        assert_eq!(get(&format!("$top={top}")).status, 400, "$top={top}");
    }
    assert_eq!(get("$select=nosuchthing").status, 400);
    // Default: 10, newest first; a gt/lt window narrows.
    let v = get("").json();
    let times: Vec<&str> =
        v["value"].as_array().unwrap().iter().map(|m| m["receivedDateTime"].as_str().unwrap()).collect();
    assert_eq!(times.len(), 10);
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let newest = times[0];
    let v = get(&format!("$filter={}&$top=100", enc(&format!("receivedDateTime ge {newest}")))).json();
    assert!(!v["value"].as_array().unwrap().is_empty());
    let v = get(&format!("$filter={}&$top=100", enc(&format!("receivedDateTime gt {newest}")))).json();
    assert!(v["value"].as_array().unwrap().is_empty());
}

#[test]
fn text_and_html_bodies_and_messy_fields() {
    let sims = start();
    let tok = token(&sims);
    let id = phishing_id(&sims, &tok);
    let list = |h: &[(&str, &str)]| graph(&sims, &tok, "GET", &format!("/mailFolders/{id}/messages?$top=100"), h, None);
    let r = list(&[TEXT]);
    assert_eq!(r.header("Preference-Applied"), Some("outlook.body-content-type=\"text\""));
    let text = r.json();
    let html = list(&[]).json();
    let t0 = &text["value"][0]["body"];
    let h0 = &html["value"][0]["body"];
    assert_eq!(t0["contentType"], "text");
    assert!(!t0["content"].as_str().unwrap().contains("<div>"));
    assert_eq!(h0["contentType"], "html");
    assert!(h0["content"].as_str().unwrap().starts_with("<html>"));
    let msgs = text["value"].as_array().unwrap();
    assert!(msgs.iter().any(|m| m["subject"].is_null()), "a null subject");
    assert!(
        msgs.iter().any(|m| m["subject"].as_str().is_some_and(|s| s.starts_with(' ') && s.ends_with(' '))),
        "padded"
    );
    assert!(msgs.iter().any(|m| m.get("from").is_none()), "no from");
    assert!(msgs.iter().any(|m| m["ccRecipients"].as_array().unwrap().is_empty()));
    assert!(msgs.iter().any(|m| m["subject"].as_str().is_some_and(|s| s.starts_with("FW:") || s.starts_with("Fwd:"))));
    assert!(msgs.iter().any(|m| m["subject"].as_str().is_some_and(|s| !s.is_ascii())), "unicode");
    assert!(msgs.iter().all(|m| {
        let i = m["internetMessageId"].as_str().unwrap();
        i.starts_with('<') && i.ends_with('>') && i.contains('@')
    }));
    let mut per_second = std::collections::HashMap::new();
    for m in msgs {
        *per_second.entry(m["receivedDateTime"].as_str().unwrap()).or_insert(0) += 1;
    }
    assert!(per_second.values().any(|n| *n >= 3), "a burst in one second");
}

#[test]
fn ids_change_on_move_unless_immutable() {
    let sims = start();
    let tok = token(&sims);
    let id = phishing_id(&sims, &tok);
    let imm = ("Prefer", "outlook.body-content-type=\"text\", IdType=\"ImmutableId\"");
    let first = |h: &[(&str, &str)]| {
        graph(&sims, &tok, "GET", &format!("/mailFolders/{id}/messages?$top=1&$orderby=receivedDateTime"), h, None)
            .json()["value"][0]
            .clone()
    };
    let (rest_a, imm_a) = (first(&[]), first(&[imm]));
    assert_ne!(rest_a["id"], imm_a["id"]);
    assert_eq!(imm_a["body"]["contentType"], "text", "several preferences in one header");
    let moved = graph(
        &sims,
        &tok,
        "POST",
        &format!("/messages/{}/move", rest_a["id"].as_str().unwrap()),
        &[],
        Some(&json!({"destinationId": "archive"})),
    );
    assert_eq!(moved.status, 201, "{}", moved.text());
    let moved = moved.json();
    assert_ne!(moved["id"], rest_a["id"], "the REST id changed");
    assert_eq!(moved["internetMessageId"], rest_a["internetMessageId"]);
    let old = graph(&sims, &tok, "GET", &format!("/messages/{}", rest_a["id"].as_str().unwrap()), &[], None);
    assert_eq!(old.status, 404);
    assert_eq!(old.json()["error"]["code"], "ErrorItemNotFound");
    let by_imm = graph(&sims, &tok, "GET", &format!("/messages/{}", imm_a["id"].as_str().unwrap()), &[imm], None);
    assert_eq!(by_imm.status, 200);
    assert_eq!(by_imm.json()["id"], imm_a["id"], "the immutable id is stable");
    // Moving with ImmutableId keeps the id; PATCH categories.
    let back = graph(
        &sims,
        &tok,
        "POST",
        &format!("/mailFolders/archive/messages/{}/move", imm_a["id"].as_str().unwrap()),
        &[imm],
        Some(&json!({"destinationId": id})),
    )
    .json();
    assert_eq!(back["id"], imm_a["id"]);
    let p = graph(
        &sims,
        &tok,
        "PATCH",
        &format!("/messages/{}", imm_a["id"].as_str().unwrap()),
        &[],
        Some(&json!({"categories": ["Archer:123"]})),
    );
    assert_eq!(p.status, 200);
    assert_eq!(p.json()["categories"], json!(["Archer:123"]));
    let s = sims.graph_state();
    assert_eq!(s["moves"], 2);
    assert_eq!(s["category_patches"], 1);
    let phish = s["folders"].as_array().unwrap().iter().find(|f| f["displayName"] == "Phishing").unwrap();
    assert!(phish["messages"].as_array().unwrap().iter().any(|m| m["categories"] == json!(["Archer:123"])));
}

#[test]
fn concurrency_limit_counts_the_whole_answer_time() {
    let sims = start();
    let tok = token(&sims);
    sims.set_graph_faults(Faults { latency_ms: 600, ..Faults::default() });
    let url =
        format!("{}/v1.0/users/{}/mailFolders", sims.graph_url(), sims.mail_connection()["mailbox"].as_str().unwrap());
    let auth = format!("Bearer {tok}");
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (url, auth) = (url.clone(), auth.clone());
            std::thread::spawn(move || request("GET", &url, &[("Authorization", &auth)], b"").unwrap())
        })
        .collect();
    let answers: Vec<Resp> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let throttled: Vec<&Resp> = answers.iter().filter(|r| r.status == 429).collect();
    // Six at once against a limit of four: two are refused (one, if a thread came late).
    assert!((1..=2).contains(&throttled.len()), "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(throttled[0].header("Retry-After"), Some("1"));
    assert_eq!(throttled[0].json()["error"]["code"], "ApplicationThrottled");
    let s = sims.graph_state();
    let mb = sims.mail_connection()["mailbox"].as_str().unwrap().to_string();
    assert_eq!(s["max_in_flight"][&mb], 4);
    assert_eq!(s["concurrency_rejections"], throttled.len());
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(sims.graph_state()["in_flight"][&mb], 0);
}

#[test]
fn budget_per_ten_minutes_and_faults_in_graph_shape() {
    let sims = start();
    let tok = token(&sims);
    sims.set_graph_config(GraphConfig { per_10min: 3, ..sims.graph_config() });
    for _ in 0..3 {
        assert_eq!(graph(&sims, &tok, "GET", "/mailFolders", &[], None).status, 200);
    }
    let r = graph(&sims, &tok, "GET", "/mailFolders", &[], None);
    assert_eq!(r.status, 429);
    assert!(r.header("Retry-After").unwrap().parse::<u64>().unwrap() > 500);
    sims.set_graph_config(GraphConfig::default());
    sims.set_graph_faults(Faults { p5xx: 1.0, seed: 3, ..Faults::default() });
    for _ in 0..6 {
        let r = graph(&sims, &tok, "GET", "/mailFolders", &[], None);
        assert!(r.status >= 500);
        if r.status != 502 {
            let code = r.json()["error"]["code"].as_str().unwrap().to_string();
            assert!(code == "ServiceUnavailable" || code == "InternalServerError", "{code}");
        }
    }
    sims.set_graph_faults(Faults { p429: 1.0, ..Faults::default() });
    let r = graph(&sims, &tok, "GET", "/mailFolders", &[], None);
    assert_eq!(r.status, 429);
    assert!(r.header("Retry-After").is_some());
    sims.set_graph_faults(Faults { plost: 1.0, ..Faults::default() });
    assert!(graph(&sims, &tok, "GET", "/mailFolders", &[], None).status == 200, "reads are never lost");
}

#[test]
fn delivered_bursts_share_a_second_and_join_the_truth() {
    let sims = start();
    let tok = token(&sims);
    let id = phishing_id(&sims, &tok);
    let out = sims.graph_deliver(json!({"count": 5, "same_second": true, "subject": "FW: burst"})).unwrap();
    let msgs = out["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 5);
    let second = msgs[0]["receivedDateTime"].as_str().unwrap().to_string();
    assert!(msgs.iter().all(|m| m["receivedDateTime"] == second.as_str()));
    let q = format!("$filter={}&$top=100", enc(&format!("receivedDateTime ge {second}")));
    let v = graph(&sims, &tok, "GET", &format!("/mailFolders/{id}/messages?{q}"), &[], None).json();
    let got: HashSet<&str> =
        v["value"].as_array().unwrap().iter().map(|m| m["internetMessageId"].as_str().unwrap()).collect();
    for m in msgs {
        assert!(got.contains(m["internetMessageId"].as_str().unwrap()));
    }
    // Over HTTP too, with distinct seconds; Inbox deliveries are not in the truth.
    let r = request(
        "POST",
        &format!("{}/_sim/graph/messages", sims.graph_url()),
        &[],
        json!({"count": 3, "same_second": false}).to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let seconds: HashSet<String> =
        r.json()["messages"].as_array().unwrap().iter().map(|m| m["receivedDateTime"].to_string()).collect();
    assert_eq!(seconds.len(), 3);
    sims.graph_deliver(json!({"folder": "inbox"})).unwrap();
    let s = sims.graph_state();
    assert_eq!(s["truth"].as_array().unwrap().len(), 48);
    assert_eq!(s["delivered"], 9);
    sims.reset();
    assert_eq!(sims.graph_state()["truth"].as_array().unwrap().len(), 40);
}

#[test]
fn mail_data_is_deterministic_and_separate() {
    assert_eq!(mail_from(5, 40), mail_from(5, 40));
    assert_ne!(mail_from(5, 40).credentials, mail_from(6, 40).credentials);
    let d = generate(5, 30, 10, 11);
    assert_eq!(d.mail, mail_from(11, 40));
    assert_eq!(d.mail.truth.len(), 40);
    assert_eq!(d.mail.messages.len(), 44);
    // A count from the config regenerates generated data; a data file without mail gets the seed's.
    let sims = Simulators::start(SimConfig {
        graph: GraphConfig { messages: Some(12), ..GraphConfig::default() },
        ..SimConfig::generated(5, 30, 10, 11)
    })
    .unwrap();
    assert_eq!(sims.dataset().mail.truth.len(), 12);
    let mut d2 = d.clone();
    d2.mail = MailData::default();
    let sims = Simulators::start(SimConfig::with_dataset(d2)).unwrap();
    assert_eq!(sims.dataset().mail, d.mail);
}

#[test]
fn the_binary_serves_graph_and_archer() {
    let exe = env!("CARGO_BIN_EXE_psa-bridge-sim");
    let mut child = std::process::Command::new(exe)
        .args([
            "--accounts",
            "4",
            "--companies",
            "20",
            "--tickets",
            "6",
            "--mail-messages",
            "9",
            "--archer-prefix",
            "api",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    let g = ready["graph"].as_str().unwrap();
    assert_eq!(ready["mail_connection"]["graph_url"], g);
    assert_eq!(ready["mail_connection"]["folder"], "Phishing");
    assert_eq!(ready["archer_connection"]["prefix"], "api");
    let state = get(&format!("{g}/_sim/state"), &[]).json();
    assert_eq!(state["truth"].as_array().unwrap().len(), 9);
    let a = ready["archer"].as_str().unwrap();
    assert_eq!(get(&format!("{a}/_sim/state"), &[]).json()["config"]["prefix"], "api");
    child.kill().unwrap();
    child.wait().unwrap();
}
