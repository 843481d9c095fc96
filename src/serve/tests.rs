//! The server's routes, statuses, token and webhook secret, natively (actions on the fake transport).

use super::*;
use crate::http::fake::{FakeTransport, Reply};
use base64::Engine as _;
use serde_json::json;

const TOKEN: &str = "T0ken-Serve-Tests";
const SECRET: &str = "Halo-Webhook-S3cret";
const CLIENT_SECRET: &str = "Halo-Client-S3cret";

fn request(method: &str, path: &str, authorization: Option<&str>, body: &str) -> Request {
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    if let Some(value) = authorization {
        headers.push(("Authorization".to_string(), value.to_string()));
    }
    Request { method: method.into(), path: path.into(), headers, body: body.as_bytes().to_vec() }
}

fn config(token: Option<&str>, secret: Option<&str>) -> Config {
    Config { token: token.map(String::from), halo_webhook_secret: secret.map(String::from) }
}

/// A Halo that authenticates and lists no ticket types; counts the requests that reach it.
fn halo() -> FakeTransport<impl FnMut(&crate::http::Request) -> Reply> {
    FakeTransport::new(|request: &crate::http::Request| {
        if request.path.ends_with("/token") || request.path.contains("/token?") {
            Reply::json(200, &json!({"access_token": "tok", "token_type": "Bearer", "expires_in": 3600}))
        } else {
            Reply::json(200, &json!([{"id": 1, "name": "Incident"}]))
        }
    })
}

fn message(action: &str, input: Value) -> String {
    json!({"version": "v1", "type": "action_start", "body": {"action": action, "meta": {"run": 7}, "input": input,
        "connection": {"halo": {"base_url": "https://acme.halopsa.com", "client_id": "cid", "client_secret": CLIENT_SECRET}}}})
    .to_string()
}

fn answer(request: &Request, config: &Config) -> (u16, Value, Response, usize) {
    let mut transport = halo();
    let response = handle(request, config, Some(&mut transport));
    let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, body, response, transport.sent.len())
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

#[test]
fn health_is_open_and_everything_else_needs_the_token() {
    let config = config(Some(TOKEN), None);
    let (status, body, _, _) = answer(&request("GET", "/api/v1/health", None, ""), &config);
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    for (method, path) in [("POST", "/actions/test_connection"), ("GET", "/api/v1/info"), ("GET", "/nowhere")] {
        for authorization in [None, Some("Bearer wrong"), Some(TOKEN), Some("Basic VDBrZW4=")] {
            let (status, body, response, sent) =
                answer(&request(method, path, authorization, &message("test_connection", json!({}))), &config);
            assert_eq!(status, 401, "{method} {path} {authorization:?}");
            assert_eq!(header(&response, "www-authenticate"), Some("Bearer"));
            assert_eq!(sent, 0);
            assert!(!body.to_string().contains(TOKEN));
        }
    }
    let bearer = format!("Bearer {TOKEN}");
    let (status, body, _, _) = answer(&request("GET", "/api/v1/info", Some(&bearer), ""), &config);
    assert_eq!(status, 200);
    assert!(body["actions"].as_array().unwrap().iter().any(|a| a == "sync"));
    let (status, _, _, sent) = answer(
        &request("POST", "/actions/test_connection", Some(&bearer), &message("test_connection", json!({}))),
        &config,
    );
    assert_eq!((status, sent > 0), (200, true));
}

#[test]
fn an_action_answers_its_action_event_with_log_and_meta() {
    let (status, event, _, sent) = answer(
        &request("POST", "/actions/test_connection/", None, &message("test_connection", json!({}))),
        &config(None, None),
    );
    assert_eq!(status, 200, "{event:#}");
    assert_eq!(sent, 2, "token, then ticket types");
    assert_eq!(event["version"], "v1");
    assert_eq!(event["type"], "action_event");
    assert_eq!(event["body"]["status"], "ok");
    assert_eq!(event["body"]["meta"], json!({"run": 7}));
    assert_eq!(event["body"]["output"]["success"], true);
    assert_eq!(event["body"]["output"]["services"][0]["service"], "halo");
    assert!(event["body"]["log"].as_str().unwrap().contains("2 requests"), "{event:#}");
    assert!(event["body"].get("error").is_none());
    assert!(!event.to_string().contains(CLIENT_SECRET));

    // `/test` runs test_connection with any action's message.
    let (status, event, _, _) = answer(
        &request("POST", "/actions/get_accounts/test", None, &message("get_accounts", json!({"bogus": 1}))),
        &config(None, None),
    );
    assert_eq!((status, &event["body"]["output"]["success"]), (200, &json!(true)), "{event:#}");
}

#[test]
fn an_action_that_fails_is_500_with_its_error_and_no_secret() {
    let body = message("get_accounts", json!({}));
    let (status, event, _, sent) = answer(&request("POST", "/actions/get_accounts", None, &body), &config(None, None));
    assert_eq!(status, 500, "{event:#}");
    assert_eq!(sent, 0);
    assert_eq!(event["body"]["status"], "error");
    assert!(event["body"]["error"]["cause"].as_str().unwrap().contains("source system"), "{event:#}");
    assert!(event["body"].get("output").is_none());
    assert!(!event.to_string().contains(CLIENT_SECRET));
}

#[test]
fn client_mistakes_are_4xx_and_run_nothing() {
    let config = config(None, None);
    let post = |path: &str, body: &str| answer(&request("POST", path, None, body), &config);
    let cause = |event: &Value| event["body"]["error"]["cause"].as_str().unwrap_or_default().to_string();

    let (status, event, _, sent) = post("/actions/get_accounts", "{\"not\": \"a message\"}");
    assert_eq!((status, sent), (400, 0));
    assert!(cause(&event).contains("not an action_start"), "{event:#}");
    assert_eq!(post("/actions/get_accounts", "not json").0, 400);
    let (status, event, _, _) = post("/actions/get_accounts", &message("nope", json!({})));
    assert_eq!(status, 400);
    assert!(cause(&event).contains("names the action \"nope\""), "{event:#}");
    let (status, event, _, _) = post("/actions/nope", &message("nope", json!({})));
    assert_eq!(status, 404);
    assert!(cause(&event).contains("no action \"nope\""));

    // Wrong types and unknown fields, named; the message's meta kept.
    let (status, event, _, sent) = post("/actions/get_accounts", &message("get_accounts", json!({"statuses": 7})));
    assert_eq!((status, sent), (400, 0), "{event:#}");
    assert!(cause(&event).contains("`input`") && cause(&event).contains("malformed"), "{event:#}");
    assert_eq!(event["body"]["meta"], json!({"run": 7}));
    let (status, event, _, _) = post("/actions/get_accounts", &message("get_accounts", json!({"colour": "red"})));
    assert_eq!(status, 400);
    assert!(cause(&event).contains("unknown field `colour`"), "{event:#}");
    let bad_connection = message("test_connection", json!({})).replace("\"client_id\"", "\"clientid\"");
    let (status, event, _, _) = post("/actions/test_connection", &bad_connection);
    assert_eq!(status, 400);
    assert!(cause(&event).contains("`connection`") && cause(&event).contains("clientid"), "{event:#}");
    let bad_enum = message("post_tickets", json!({"tickets": [], "destination": 3}));
    assert_eq!(post("/actions/post_tickets", &bad_enum).0, 400);

    assert_eq!(answer(&request("GET", "/actions/get_accounts", None, ""), &config).0, 404);
    assert_eq!(post("/elsewhere", "").0, 404);
    let (status, body, _, _) = post("/actions/get_accounts", &" ".repeat(MAX_BODY + 1));
    assert_eq!(status, 413);
    assert!(body["error"].as_str().unwrap().contains("over"));
}

/// Every sample message in tests/*.json (the platform's examples) decodes into its WIT input:
/// the JSON shapes are the harness's. Each then fails on the fake service, never with a 400.
#[test]
fn every_sample_message_fits_the_wit_records() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let message: Value = serde_json::from_str(&text).unwrap();
        // Task and trigger samples are for the host's task and trigger modes, not the action routes.
        let Some(action) = message["body"]["action"].as_str() else { continue };
        let mut connection = message["body"]["connection"].clone();
        if let Some(tuning) = connection.as_object_mut() {
            tuning.insert("tuning".into(), json!({"max_attempts": 1, "time_budget_seconds": 5}));
        }
        let mut message = message.clone();
        message["body"]["connection"] = connection;
        let mut transport = FakeTransport::new(|_: &crate::http::Request| Reply::status(404));
        let response = handle(
            &request("POST", &format!("/actions/{action}"), None, &message.to_string()),
            &config(None, None),
            Some(&mut transport),
        );
        let event: Value = serde_json::from_slice(&response.body).unwrap();
        assert_ne!(response.status, 400, "{}: {event:#}", path.display());
        assert_ne!(response.status, 404, "{}: {event:#}", path.display());
        checked += 1;
    }
    assert!(checked >= 15, "{checked} samples");
}

#[test]
fn wit_values_are_json_as_the_harness_writes_them() {
    use crate::types::{PostOutcome, PostResult};
    let result = PostResult {
        system: "halo".into(),
        key: "armor:1".into(),
        outcome: PostOutcome::Created,
        ticket_id: None,
        company_id: Some("12".into()),
        catch_all: false,
        status: None,
        priority: None,
        notes_added: 0,
        error: None,
    };
    let json = protocol::output_json(&result);
    assert_eq!(json["outcome"], "created");
    assert_eq!(json["company_id"], "12");
    assert!(json.get("ticket_id").is_none() && json.get("error").is_none(), "{json}");
    let back: PostResult = serde_json::from_value(json).unwrap();
    assert_eq!(back, result);
}

fn basic(password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("halo:{password}")))
}

fn delivery() -> String {
    json!([{"event": "New Ticket Logged", "ticket": {"id": 41, "summary": "A", "status_id": 1}},
           {"event": "Ticket Status Changed", "ticket": {"id": "42", "summary": "B", "status_id": 9}}])
    .to_string()
}

#[test]
fn a_webhook_with_the_secret_answers_its_events() {
    // The HTTP token does not apply: Halo's one Authorization header carries the secret.
    let config = config(Some(TOKEN), Some(SECRET));
    for authorization in [basic(SECRET), format!("Bearer {SECRET}")] {
        let (status, body, _, sent) =
            answer(&request("POST", "/webhooks/halo", Some(&authorization), &delivery()), &config);
        assert_eq!((status, sent), (200, 0), "{body:#}");
        let events = body["events"].as_array().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["body"]["trigger"], "ticket_created");
        assert_eq!(events[1]["body"]["trigger"], "ticket_status_changed");
        assert_eq!(events[1]["body"]["output"]["ticket"]["id"], "42");
        assert!(!body.to_string().contains(SECRET));
    }
    let (status, body, _, _) =
        answer(&request("POST", "/webhooks/halo?trigger=ticket_updated", Some(&basic(SECRET)), &delivery()), &config);
    assert_eq!(status, 200);
    assert!(body["events"].as_array().unwrap().iter().all(|e| e["body"]["trigger"] == "ticket_updated"));
}

#[test]
fn a_webhook_without_the_right_secret_is_401_and_emits_nothing() {
    let config = config(None, Some(SECRET));
    for authorization in [None, Some(basic("wrong")), Some("Bearer wrong".to_string()), Some(format!("Bearer {TOKEN}"))]
    {
        let (status, body, response, _) =
            answer(&request("POST", "/webhooks/halo", authorization.as_deref(), &delivery()), &config);
        assert_eq!(status, 401, "{authorization:?}");
        assert!(body.get("events").is_none());
        assert!(header(&response, "www-authenticate").unwrap().starts_with("Basic"));
        assert!(!body.to_string().contains(SECRET));
    }
    // Not configured: refused, whatever is sent.
    let (status, body, _, _) =
        answer(&request("POST", "/webhooks/halo", Some(&basic(SECRET)), &delivery()), &super::Config::default());
    assert_eq!(status, 503);
    assert!(body["error"].as_str().unwrap().contains(HALO_SECRET_VARIABLE));
    assert!(body.get("events").is_none());
    // Another system's webhook does not exist.
    assert_eq!(answer(&request("POST", "/webhooks/connectwise", Some(&basic(SECRET)), "{}"), &config).0, 404);
}

#[test]
fn a_malformed_delivery_is_400_and_emits_nothing() {
    let config = config(None, Some(SECRET));
    for body in [
        "not json",
        "7",
        r#"[{"ticket": {"id": 1}}, {"ticket": {"summary": "no id"}}]"#,
        r#"[{"ticket": {"id": 1}}, "x"]"#,
    ] {
        let (status, answer_body, _, _) =
            answer(&request("POST", "/webhooks/halo", Some(&basic(SECRET)), body), &config);
        assert_eq!(status, 400, "{body}");
        assert!(answer_body.get("events").is_none());
        assert!(answer_body["error"].as_str().unwrap().contains("no event"));
    }
    let (status, _, _, _) =
        answer(&request("POST", "/webhooks/halo?trigger=nope", Some(&basic(SECRET)), &delivery()), &config);
    assert_eq!(status, 400);
}

#[test]
fn the_config_never_shows_its_secrets() {
    let shown = format!("{:?}", config(Some(TOKEN), Some(SECRET)));
    assert!(!shown.contains(TOKEN) && !shown.contains(SECRET), "{shown}");
}
