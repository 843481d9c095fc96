//! ConnectWise's JSON as it arrives (contracts/connectwise.md), tolerant of nulls and extras.

use crate::lenient;
use serde::Deserialize;

/// `{"code", "message", "errors": [{"code", "message", "field"}]}`.
#[derive(Deserialize, Debug, Default)]
pub struct ErrorBody {
    #[serde(default, deserialize_with = "lenient::text")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub message: Option<String>,
    #[serde(default)]
    pub errors: Option<Vec<FieldError>>,
}

#[derive(Deserialize, Debug, Default)]
pub struct FieldError {
    #[serde(default, deserialize_with = "lenient::text")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub field: Option<String>,
}
