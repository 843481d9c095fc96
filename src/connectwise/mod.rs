//! ConnectWise Manage REST v3 client.

pub mod conditions;
