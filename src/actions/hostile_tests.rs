//! Hostile input, natively: whole actions run on the fake transport against answers of every
//! wrong shape and inputs crafted to break paths and conditions. Each must end in an output or a
//! plugin-error with a cause — never a panic — and never build a request that changes meaning.

use super::{get_accounts, get_tickets, match_companies, post_tickets, run_with, test_connection};
use crate::http::Request;
use crate::http::fake::{FakeTransport, Reply};
use crate::types::*;
use proptest::prelude::*;
use serde_json::{Value, json};

pub(crate) fn connection() -> Connection {
    Connection {
        armor: Some(ArmorConnection {
            base_url: Some("https://api.armor.example".into()),
            account_id: 1001,
            login: None,
            api_key: Some(ArmorApiKey { key_id: "kid".into(), secret_key: "hostile-secret".into() }),
        }),
        connectwise: Some(ConnectwiseConnection {
            site: "cw.example".into(),
            codebase: None,
            company_id: "msp".into(),
            api_key: ConnectwiseApiKey { public_key: "pub".into(), private_key: "hostile-private".into() },
            client_id: "client".into(),
        }),
        halo: None,
        stellar_cyber: None,
        graph_mail: None,
        archer: None,
        graph_directory: None,
        zivver: None,
        tuning: Some(Tuning {
            max_concurrency: Some(4),
            request_timeout_seconds: None,
            max_attempts: Some(2),
            time_budget_seconds: None,
        }),
    }
}

/// JSON of any shape, nested up to a few levels, with strings that carry quotes, paths and control characters.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        Just(json!("../../x?y#z\"\\\u{0}")),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map("[a-zA-Z]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: valid JSON of a random shape, a plausible record with fields of random types, or broken bytes.
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any_json().prop_map(|v| v.to_string().into_bytes()),
        (any_json(), any_json(), any_json()).prop_map(|(a, b, c)| {
            json!([{"id": a, "name": b, "parent": c, "issueKeyId": b, "items": [{"issueKeyId": a}]}])
                .to_string()
                .into_bytes()
        }),
        (any_json(), any_json()).prop_map(|(a, b)| {
            json!({"items": [{"issueKeyId": a, "currentStatus": b}], "nextPageToken": null}).to_string().into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..200),
        Just(b"{\"truncated\": [1, 2".to_vec()),
    ]
}

fn any_status() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(200),
        Just(201),
        Just(200),
        Just(400),
        Just(401),
        Just(403),
        Just(404),
        Just(429),
        Just(500),
        Just(302)
    ]
}

/// Every request answered from the generated list, in turn.
fn hostile_transport(replies: Vec<(u16, Vec<u8>)>) -> FakeTransport<impl FnMut(&Request) -> Reply> {
    let mut next = 0;
    FakeTransport::new(move |request: &Request| {
        assert_path_is_safe(request);
        let (status, body) = replies[next % replies.len()].clone();
        next += 1;
        Reply { latency_ms: 5, result: Ok(crate::http::Response { status, headers: vec![], body }) }
    })
}

/// A request path never carries raw characters that would change its meaning.
fn assert_path_is_safe(request: &Request) {
    let path = request.full_path();
    let (path, query) = path.split_once('?').unwrap_or((&path, ""));
    assert!(!path.contains("/../") && !path.contains('#') && !path.contains(' '), "unsafe path {path}");
    assert!(!query.contains('#') && !query.contains(' ') && !query.contains('"'), "unsafe query {query}");
}

fn check<T>(result: Result<T, PluginError>) {
    if let Err(error) = result {
        assert!(!error.cause.is_empty() && !error.assistance.is_empty(), "{error:?}");
        let text = format!("{error:?}");
        assert!(!text.contains("hostile-secret") && !text.contains("hostile-private"), "a secret leaked: {text}");
    }
}

/// A post_tickets input with `tickets` and every option left to its default.
/// A connection without any section (tests add the ones they need).
pub(crate) fn no_sections() -> Connection {
    Connection {
        armor: None,
        connectwise: None,
        halo: None,
        stellar_cyber: None,
        graph_mail: None,
        archer: None,
        graph_directory: None,
        zivver: None,
        tuning: None,
    }
}

/// A get_tickets input that asks for nothing in particular.
pub(crate) fn tickets_input() -> GetTicketsInput {
    GetTicketsInput {
        source: None,
        account_ids: None,
        statuses: None,
        request_types: None,
        since: None,
        include_details: None,
        include_comments: None,
        max_tickets: None,
        cursor: None,
        min_score: None,
        min_alert_count: None,
        tags: None,
        exclude_tags: None,
        look_back_days: None,
    }
}

pub(crate) fn post_input(tickets: Vec<Ticket>) -> PostTicketsInput {
    PostTicketsInput {
        destination: None,
        tickets,
        board: None,
        status_map: None,
        default_status: None,
        priority_map: None,
        default_priority: None,
        catch_all_company: None,
        ticket_type: None,
        team: None,
        agent: None,
        category: None,
        impact: None,
        urgency: None,
        note_outcome: None,
        archer: None,
        post_comments: None,
        dry_run: None,
        cursor: None,
    }
}

pub(crate) fn ticket(key: String, summary: String, comments: usize) -> Ticket {
    Ticket {
        system: "armor".into(),
        key,
        account_id: "7001".into(),
        summary,
        description: Some("d".into()),
        status: "Open".into(),
        request_type: None,
        priority: None,
        severity: None,
        reporter: None,
        assignee: None,
        created: None,
        updated: None,
        url: None,
        comments: Some(
            (0..comments as u64)
                .map(|id| Comment { id: id.to_string(), author: None, body: "b".into(), created: None, public: true })
                .collect(),
        ),
        tags: None,
        facts: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn armor_actions_survive_any_answer(replies in prop::collection::vec((any_status(), any_body()), 1..12)) {
        let connection = connection();
        check(run_with(&connection, &mut hostile_transport(replies.clone()), |ctx| {
            get_accounts::run(ctx, GetAccountsInput { source: None, include_addresses: None, statuses: None, parent_id: None, account_id: None })
        }));
        let input = GetTicketsInput { source: None, account_ids: Some(vec!["7001".into(), "7002".into()]), statuses: None, request_types: None, since: None, min_score: None, min_alert_count: None, tags: None, exclude_tags: None, look_back_days: None,
            include_details: None, include_comments: None, max_tickets: Some(30), cursor: None };
        check(run_with(&connection, &mut hostile_transport(replies.clone()), |ctx| get_tickets::run(ctx, input)));
        check(run_with(&connection, &mut hostile_transport(replies), test_connection::run));
    }

    #[test]
    fn connectwise_actions_survive_any_answer_and_hostile_keys(
        replies in prop::collection::vec((any_status(), any_body()), 1..12),
        keys in prop::collection::vec(prop_oneof![".{0,30}".boxed(), Just("../../etc?x=1#frag".to_string()).boxed(), Just("ATS-\"1\\\" or 1=1".to_string()).boxed()], 1..5),
        summary in ".{0,300}",
    ) {
        let connection = connection();
        let tickets: Vec<Ticket> = keys.into_iter().map(|k| ticket(k, summary.clone(), 2)).collect();
        let input = PostTicketsInput {
            board: Some("ARMOR \"tickets\" % _".into()),
            default_priority: Some("P \"1\"".into()),
            catch_all_company: Some("x' or 1=1".into()),
            ..post_input(tickets)
        };
        check(run_with(&connection, &mut hostile_transport(replies.clone()), |ctx| post_tickets::run(ctx, input)));
        let accounts = vec![Account { system: "armor".into(), id: "1".into(), name: summary, parent_id: None, status: "Active".into(), account_type: None, currency: None, address: None }];
        let input = MatchCompaniesInput { destination: None, source: None, accounts: Some(accounts), overrides: None, dry_run: None, min_confidence: None, include_deleted: None };
        check(run_with(&connection, &mut hostile_transport(replies), |ctx| match_companies::run(ctx, input)));
    }

    #[test]
    fn mailbox_and_archer_actions_survive_any_answer(
        replies in prop::collection::vec((any_status(), any_body()), 1..12),
        key in ".{0,40}",
    ) {
        let mut connection = connection();
        connection.graph_mail = Some(GraphMailConnection {
            tenant: "t".into(), client_id: "c".into(), client_secret: "hostile-secret".into(),
            mailbox: "phishing@x.example".into(), folder: Some("Phishing".into()), processed_folder: Some("Done".into()),
            processed_category: Some("In Archer".into()), login_url: Some("https://login.example".into()),
            graph_url: Some("https://graph.example".into()),
        });
        connection.archer = Some(ArcherConnection {
            base_url: "https://archer.example".into(), prefix: None, instance: "i".into(), user: "u".into(),
            domain: None, password: "hostile-private".into(),
        });
        let input = GetTicketsInput { source: Some("graph_mail".into()), max_tickets: Some(30), ..tickets_input() };
        check(run_with(&connection, &mut hostile_transport(replies.clone()), |ctx| get_tickets::run(ctx, input)));
        let mut mail = ticket(key, "s".into(), 1);
        mail.system = "graph_mail".into();
        let input = PostTicketsInput { destination: Some("archer".into()), ..post_input(vec![mail]) };
        check(run_with(&connection, &mut hostile_transport(replies.clone()), |ctx| post_tickets::run(ctx, input)));
        check(run_with(&connection, &mut hostile_transport(replies), test_connection::run));
    }
}
