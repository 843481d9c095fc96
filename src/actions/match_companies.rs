use super::{Context, not_implemented};
use crate::error::Error;
use crate::types::{MatchCompaniesInput, MatchCompaniesOutput};

pub fn run(_ctx: &mut Context, _input: MatchCompaniesInput) -> Result<MatchCompaniesOutput, Error> {
    Err(not_implemented("match_companies"))
}
