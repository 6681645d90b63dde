//! The conformance cases, grouped by subject. Each takes a fresh, empty store and panics on
//! the first violated property.

pub mod audit;
pub mod browser;
pub mod keys;
pub mod limits;
pub mod refresh;
pub mod revocation;
pub mod sessions;
