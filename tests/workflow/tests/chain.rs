//! The whole workflow, as an automation platform chains it, on the default data set. Its real
//! outputs go to `.output/action_<name>.json`, where `make validate` checks them against the spec.

mod common;

use common::*;
use psa_bridge_sim::SimConfig;
use psa_bridge_workflow::next_since;

#[test]
fn the_chained_workflow_runs_and_its_outputs_are_kept_for_the_validator() {
    let sims = start(SimConfig::small());
    let workflow = workflow(sims.connection());
    let steps = workflow.chain();
    let actions: Vec<&str> = steps.iter().map(|s| s.action.as_str()).collect();
    assert_eq!(actions, ["test_connection", "get_accounts", "match_companies", "get_tickets", "post_tickets"]);
    for step in &steps {
        expect_ok(step);
        if step.action != "test_connection" {
            save_output(step);
        }
    }
    let post = steps.last().unwrap().output();
    assert!(post["counts"]["created"].as_u64().unwrap() > 0);
    assert_eq!(post["counts"]["failed"], 0);
    assert_no_secrets(&sims, &steps.iter().collect::<Vec<_>>());

    let again = workflow.chain();
    let counts = &again.last().unwrap().output()["counts"];
    assert_eq!(
        (counts["created"].as_u64(), counts["notes_added"].as_u64()),
        (Some(0), Some(0)),
        "the second run writes nothing"
    );

    // A scheduled sync passes the last run's next_since: nothing changed, so no ticket is read in
    // detail and nothing is posted.
    let since = next_since(&again).expect("a complete get_tickets gives next_since");
    let before = requests(&sims.armor_state(), "GET /tickets/{key}/details");
    let incremental = workflow.chain_since(Some(&since));
    assert!(incremental.iter().all(|s| s.ok));
    let read = incremental.iter().find(|s| s.action == "get_tickets").unwrap().output();
    assert_eq!(read["count"], 0, "no ticket changed since {since}");
    assert_eq!(requests(&sims.armor_state(), "GET /tickets/{key}/details"), before);
    assert_eq!(incremental.last().unwrap().output()["counts"]["tickets"], 0);
}
