//! ARMOR API client.
