//! Chains the actions like a workflow does: each output becomes the next input.
