//! A Stellar Cyber case as a neutral ticket: its tenant as the account, its severity, score,
//! alert count and tags, a link back to the case, and the comments people wrote (not the ones
//! the sync wrote there from the PSA).

use super::models;
use crate::sync::keys;
use crate::types::{Comment, CustomField, Ticket};
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;

/// Epoch ms as ISO-8601 UTC with milliseconds.
pub fn iso_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Where a case is shown in Stellar Cyber's console.
pub fn case_url(origin: &str, id: &str) -> String {
    format!("{origin}/cases/case-detail/{}", super::encode(id))
}

/// `users`: user id -> e-mail, to name authors.
pub fn ticket(
    origin: &str,
    case: &models::Case,
    summary: Option<String>,
    comments: Option<Vec<models::Comment>>,
    users: &HashMap<String, String>,
) -> Ticket {
    let name_of = |id: &Option<String>| id.as_ref().map(|id| users.get(id).cloned().unwrap_or_else(|| id.clone()));
    let number = case.ticket_id.clone();
    let mut facts = Vec::new();
    let mut fact = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            facts.push(CustomField { name: name.into(), value });
        }
    };
    fact("case_number", number.clone());
    fact("score", case.score.map(|s| s.to_string()));
    fact("alert_count", case.size.map(|s| s.to_string()));
    fact("tenant", case.tenant_name.clone());
    let url = case_url(origin, &case.id);
    let mut description = Vec::new();
    if let Some(summary) = summary.filter(|s| !s.trim().is_empty()) {
        description.push(summary.trim().to_string());
    }
    let line = |label: &str, value: Option<String>| value.map(|v| format!("{label}: {v}"));
    let details: Vec<String> = [
        line("Severity", case.severity.clone()),
        line("Score", case.score.map(|s| s.to_string())),
        line("Alerts", case.size.map(|s| s.to_string())),
        line("Tags", Some(case.tags.join(", ")).filter(|t| !t.is_empty())),
        line("Tenant", case.tenant_name.clone()),
        Some(format!("Case: {url}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    description.push(details.join("\n"));
    let comments = comments.map(|comments| {
        comments
            .into_iter()
            .filter_map(|c| {
                let body = c.comment.filter(|b| !keys::written_by_sync(b))?;
                Some(Comment {
                    id: c.id,
                    author: name_of(&c.user),
                    body,
                    created: c.created_at.map(iso_ms),
                    public: false,
                })
            })
            .collect()
    });
    Ticket {
        system: super::SYSTEM.name.to_string(),
        key: case.id.clone(),
        account_id: case.cust_id.clone().unwrap_or_default(),
        summary: case
            .name
            .clone()
            .unwrap_or_else(|| format!("Stellar Cyber case {}", number.as_deref().unwrap_or(&case.id))),
        description: Some(description.join("\n\n")),
        status: case.status.clone().unwrap_or_else(|| "New".into()),
        request_type: None,
        priority: None,
        severity: case.severity.clone(),
        reporter: name_of(&case.created_by),
        assignee: case.assignee_name.clone().or_else(|| name_of(&case.assignee)),
        created: case.created_at.map(iso_ms),
        updated: case.modified_at.map(iso_ms),
        url: Some(url),
        comments,
        tags: Some(case.tags.clone()),
        facts: Some(facts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_keeps_its_facts_and_only_peoples_comments() {
        let case: models::Case = serde_json::from_value(serde_json::json!({
            "_id": "64ab", "ticket_id": 7, "name": "Beaconing", "status": "In Progress", "severity": "High",
            "score": 81.5, "size": 12, "tenant_name": "Acme", "cust_id": "c1", "tags": ["vip"],
            "created_by": "u1", "modified_at": 1_700_000_000_123_i64
        }))
        .unwrap();
        let comments = vec![
            models::Comment {
                id: "k1".into(),
                comment: Some("Isolated the host.".into()),
                user: Some("u1".into()),
                created_at: Some(1),
            },
            models::Comment {
                id: "k2".into(),
                comment: Some(format!("Noted.\n\n{}", keys::comment_marker("halo", "9"))),
                user: None,
                created_at: None,
            },
        ];
        let users = HashMap::from([("u1".to_string(), "ana@soc.test".to_string())]);
        let ticket = ticket("https://dp.test", &case, Some("Summary text".into()), Some(comments), &users);
        assert_eq!((ticket.key.as_str(), ticket.account_id.as_str()), ("64ab", "c1"));
        assert_eq!(ticket.updated.as_deref(), Some("2023-11-14T22:13:20.123Z"));
        assert_eq!(ticket.url.as_deref(), Some("https://dp.test/cases/case-detail/64ab"));
        let comments = ticket.comments.unwrap();
        assert_eq!(comments.len(), 1, "the sync's own comment is not brought back");
        assert_eq!(comments[0].author.as_deref(), Some("ana@soc.test"));
        let description = ticket.description.unwrap();
        assert!(
            description.starts_with("Summary text")
                && description.contains("Score: 81.5")
                && description.contains("Tags: vip")
        );
        assert!(ticket.facts.unwrap().iter().any(|f| f.name == "alert_count" && f.value == "12"));
    }
}
