//! A source's accounts linked to the destination's companies: matched, and the link written only
//! where a value changes.

use super::Context;
use crate::connectors;
use crate::error::Error;
use crate::matching::{self, MatchOptions};
use crate::sync::link::{self, LinkOptions};
use crate::types::{GetAccountsInput, MatchCompaniesInput, MatchCompaniesOutput};

pub fn run(ctx: &mut Context, input: MatchCompaniesInput) -> Result<MatchCompaniesOutput, Error> {
    let min_confidence = input.min_confidence.unwrap_or(matching::DEFAULT_MIN_CONFIDENCE);
    if !(0.0..=1.0).contains(&min_confidence) {
        return Err(Error::invalid(
            "input.min_confidence",
            format!("{min_confidence} is not between 0 and 1"),
            "Give e.g. 0.9.",
        ));
    }
    let options = LinkOptions {
        matching: MatchOptions { min_confidence, include_deleted: input.include_deleted.unwrap_or(false) },
        overrides: input.overrides.unwrap_or_default(),
        dry_run: input.dry_run.unwrap_or(false),
    };
    let mut destination = connectors::destination(ctx.connection, input.destination.as_deref(), "match_companies")?;
    let (source, accounts) = match input.accounts {
        Some(accounts) => {
            let named = input.source.as_deref().or(accounts.first().map(|a| a.system.as_str()));
            let source = match named {
                Some(name) => connectors::by_name(name).filter(|s| s.source.is_some()),
                // No accounts and no name: nothing will be matched, any source will do.
                None => connectors::SYSTEMS.iter().copied().find(|s| s.source.is_some()),
            };
            let source = source.ok_or_else(|| {
                Error::invalid(
                    "input.source",
                    format!("{:?} is not a source system", named.unwrap_or_default()),
                    "Pass accounts as get_accounts returns them, or name their source.",
                )
            })?;
            if let Some((i, other)) =
                accounts.iter().enumerate().find(|(_, a)| !a.system.trim().eq_ignore_ascii_case(source.name))
            {
                return Err(Error::invalid(
                    &format!("input.accounts[{i}].system"),
                    format!("{:?} is another system than {}", other.system, source.name),
                    "Match the accounts of one source per call.",
                ));
            }
            (source, accounts)
        }
        None => {
            let mut source =
                connectors::source(ctx.connection, input.source.as_deref(), "match_companies (given no accounts)")?;
            let everything = GetAccountsInput {
                source: None,
                include_addresses: Some(true),
                statuses: None,
                parent_id: None,
                account_id: None,
            };
            let accounts = source.accounts(ctx, &everything)?;
            (source.system(), accounts)
        }
    };
    link::run(ctx, destination.as_mut(), source, &accounts, &options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::hostile_tests::connection;
    use crate::actions::run_with;
    use crate::http::fake::{FakeTransport, Reply};
    use crate::http::{Method, Request};
    use crate::types::{Account, FieldUpdate};
    use serde_json::json;

    /// Contoso's custom fields come back in a shape that can't be read; another company's are fine.
    fn connectwise(request: &Request) -> Reply {
        let captions = ["ARMORcompanyId", "ARMORcompanyName", "ARMORparentId", "ARMORdateUpdated"];
        let fields = |id: u64| {
            json!(
                captions
                    .iter()
                    .enumerate()
                    .map(|(i, c)| json!({"id": id + i as u64, "caption": c}))
                    .collect::<Vec<_>>()
            )
        };
        match request.method {
            Method::Get => Reply::json(
                200,
                &json!([
                    {"id": 250, "identifier": "Contoso", "name": "Contoso Ltd", "customFields": [{"id": 37, "caption": 9}]},
                    {"id": 251, "identifier": "Fabrikam", "name": "Fabrikam Inc", "customFields": fields(37)}
                ]),
            ),
            _ => Reply::json(200, &json!({})),
        }
    }

    #[test]
    fn unreadable_custom_fields_fail_that_match_and_are_never_written() {
        let account = Account {
            system: "armor".into(),
            id: "7001".into(),
            name: "Contoso Ltd".into(),
            parent_id: None,
            status: "Active".into(),
            account_type: None,
            currency: None,
            address: None,
        };
        let input = MatchCompaniesInput {
            destination: None,
            source: None,
            accounts: Some(vec![account]),
            overrides: None,
            dry_run: None,
            min_confidence: None,
            include_deleted: None,
        };
        let mut transport = FakeTransport::new(connectwise);
        let output = run_with(&connection(), &mut transport, |ctx| run(ctx, input)).unwrap();
        let matched = &output.matched[0];
        assert_eq!((matched.company_id.as_str(), matched.update), ("250", FieldUpdate::Failed));
        assert!(matched.error.as_ref().unwrap().cause.contains("could not be read"), "{:?}", matched.error);
        assert!(transport.sent.iter().all(|r| r.method == Method::Get), "nothing is written");
    }
}
