//! The server's tests: every route in-process (`oneshot`), and the real binary end to end
//! (README walkthrough, CLI, logs, shutdown, third-party JOSE interop).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod server {
    pub mod api;
    pub mod binary;
    pub mod edges;
    pub mod forms;
    pub mod import;
    pub mod interop;
    pub mod pages;
    pub mod properties;
    pub mod recovery;
    pub mod remote;
    pub mod spa;
    pub mod support;
}
