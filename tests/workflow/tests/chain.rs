//! The whole workflow, as an automation platform chains it, on the default data set. Its real
//! outputs go to `.output/action_<name>.json`, where `make validate` checks them against the spec.

mod common;

use common::*;
use psa_bridge_sim::SimConfig;

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
    assert_eq!((counts["created"].as_u64(), counts["notes_added"].as_u64()), (Some(0), Some(0)), "the second run writes nothing");
}
