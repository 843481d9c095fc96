//! The generic engines, written once for every pair of systems. None of them names a system:
//! what differs between systems comes through the role traits of `connectors`.

pub mod back;
pub mod checkpoint;
pub mod directory;
pub mod keys;
pub mod link;
pub mod paging;
pub mod pair;
pub mod post;
pub mod resume;
pub mod value_map;
pub mod watermark;
