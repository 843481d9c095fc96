//! ARMOR's records -> the plugin's output records (pure).

use super::models;
use crate::lenient::iso_utc;
use crate::types::{Account, Address, Comment, Ticket};
use std::collections::{HashMap, HashSet};

pub fn account(account: &models::Account, detail: Option<&models::AccountDetail>) -> Account {
    Account {
        system: super::SYSTEM.name.to_string(),
        id: account.id.to_string(),
        name: account.name.clone().unwrap_or_default(),
        parent_id: account.parent_id().map(|p| p.to_string()),
        status: account.status.clone().unwrap_or_default(),
        account_type: account.account_type.clone(),
        currency: account.currency.clone(),
        address: detail.map(|d| Address {
            line1: d.address_line1.clone(),
            line2: d.address_line2.clone(),
            city: d.city.clone(),
            state: d.state.clone(),
            postal_code: d.postal_code.clone(),
            country: d.country.clone(),
        }),
    }
}

/// `root` and every account below it, in the order given.
pub fn subtree(accounts: Vec<models::Account>, root: u64) -> Vec<models::Account> {
    let mut children: HashMap<u64, Vec<u64>> = HashMap::new();
    for a in &accounts {
        if let Some(parent) = a.parent_id() {
            children.entry(parent).or_default().push(a.id);
        }
    }
    let mut keep = HashSet::from([root]);
    let mut stack = vec![root];
    // Each id enters `keep` once, so a cycle in bad data cannot loop.
    while let Some(id) = stack.pop() {
        for child in children.get(&id).into_iter().flatten() {
            if keep.insert(*child) {
                stack.push(*child);
            }
        }
    }
    accounts.into_iter().filter(|a| keep.contains(&a.id)).collect()
}

pub fn ticket(
    account_id: u64,
    summary: &models::TicketSummary,
    details: Option<&models::TicketDetails>,
    comments: Option<Vec<models::Comment>>,
) -> Ticket {
    let pick = |from_details: Option<&Option<String>>, from_summary: &Option<String>| {
        from_details.and_then(|d| d.clone()).or_else(|| from_summary.clone())
    };
    let status = details
        .and_then(|d| d.current_status.as_ref().and_then(models::Status::name))
        .or_else(|| summary.current_status.as_ref().and_then(models::Status::name))
        .unwrap_or_default();
    Ticket {
        system: super::SYSTEM.name.to_string(),
        key: summary.issue_key_id.clone(),
        account_id: account_id.to_string(),
        summary: pick(details.map(|d| &d.summary), &summary.summary).unwrap_or_default(),
        description: details.and_then(|d| d.description.clone()),
        status,
        request_type: pick(details.map(|d| &d.request_type), &summary.request_type),
        priority: details.and_then(|d| d.priority.clone()),
        severity: None,
        reporter: pick(details.map(|d| &d.reporter), &summary.reporter),
        assignee: pick(details.map(|d| &d.assignee), &summary.assignee),
        created: pick(details.map(|d| &d.created_date), &summary.created_date).map(|t| iso_utc(&t)),
        updated: pick(details.map(|d| &d.updated_date), &summary.updated_date).map(|t| iso_utc(&t)),
        url: None,
        comments: comments.map(|comments| {
            comments
                .into_iter()
                .map(|c| Comment {
                    id: c.id.to_string(),
                    author: c.author,
                    body: c.body.unwrap_or_default(),
                    created: c.created.map(|t| iso_utc(&t)),
                    public: c.public,
                })
                .collect()
        }),
        tags: None,
        facts: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(id: u64, parent: i64) -> models::Account {
        models::Account {
            id,
            name: Some(format!("A{id}")),
            currency: None,
            status: None,
            parent: Some(parent),
            account_type: None,
        }
    }

    #[test]
    fn subtree_keeps_the_root_and_its_descendants() {
        let accounts = vec![acc(1, -1), acc(2, 1), acc(3, 2), acc(4, 1), acc(5, 3), acc(6, 99)];
        let ids: Vec<u64> = subtree(accounts.clone(), 2).iter().map(|a| a.id).collect();
        assert_eq!(ids, vec![2, 3, 5]);
        assert_eq!(subtree(accounts, 1).len(), 5);
        // A cycle in the data ends.
        assert_eq!(subtree(vec![acc(7, 8), acc(8, 7)], 7).len(), 2);
    }

    #[test]
    fn details_win_over_the_summary_and_dates_become_utc() {
        let summary: models::TicketSummary = serde_json::from_value(serde_json::json!({
            "issueKeyId": "ATS-1", "summary": "short", "currentStatus": "Open", "createdDate": "2024-05-01T14:00:00+02:00"
        }))
        .unwrap();
        let details: models::TicketDetails = serde_json::from_value(serde_json::json!({
            "summary": "full", "description": "text", "currentStatus": {"name": "Closed", "id": 6}, "priority": "P3"
        }))
        .unwrap();
        let t = ticket(7001, &summary, Some(&details), Some(vec![]));
        assert_eq!((t.summary.as_str(), t.status.as_str(), t.priority.as_deref()), ("full", "Closed", Some("P3")));
        assert_eq!(t.created.as_deref(), Some("2024-05-01T12:00:00Z"));
        assert_eq!(t.comments, Some(vec![]));
        let bare = ticket(7001, &summary, None, None);
        assert_eq!((bare.summary.as_str(), bare.status.as_str(), bare.comments), ("short", "Open", None));
    }
}
