//! # tessera-testkit
//!
//! The store conformance suite: one behavioural suite that every [`tessera::Store`] must pass,
//! so the SQLite, Redis, PostgreSQL and in-memory stores cannot drift apart. A store crate
//! stamps the whole suite into its tests with one line:
//!
//! ```ignore
//! async fn store() -> MyStore { MyStore::open_for_tests().await }
//! tessera_testkit::conformance_tests!(store);
//! ```
//!
//! Every case is also a plain public `async fn` in [`suite`], taking a fresh store.

#![deny(missing_docs)]

mod counting;
pub mod durability;
mod fixture;
pub mod processes;
pub mod suite;

pub use counting::CountingStore;
pub use fixture::{Fixture, START};

/// Runs `future` to completion on a multi-threaded runtime (real parallelism for the
/// concurrency cases).
///
/// # Panics
/// If the runtime cannot be built; this is test support.
#[allow(clippy::expect_used, reason = "test support: no runtime, no test")]
pub fn run<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

/// Stamps every conformance case as a `#[test]`, given the path of an `async fn() -> S`
/// producing a fresh, empty store `S: Store + Clone + 'static`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@cases $make;
            sessions::create_then_get,
            sessions::create_never_overwrites,
            sessions::list_returns_only_that_users_live_sessions,
            sessions::idle_timeout_slides_and_absolute_never_moves,
            sessions::idle_expiry_ends_an_unused_session,
            sessions::touch_is_throttled,
            sessions::update_is_compare_and_set,
            sessions::claims_survive_every_refresh,
            sessions::limit_denies_new_sessions,
            sessions::limit_evicts_the_oldest,
            sessions::purge_is_bounded_and_spares_live_sessions,
            sessions::purge_spares_sessions_kept_alive,
            refresh::rotation_issues_a_new_generation,
            refresh::concurrent_refreshes_do_not_fork,
            refresh::rotation_is_compare_and_set,
            refresh::a_refresh_keeps_its_client_as_given,
            refresh::rotation_charges_its_rate_only_when_applied,
            refresh::sign_in_and_refresh_are_one_store_step_each,
            refresh::reuse_after_grace_revokes_the_session,
            refresh::older_generation_reuse_revokes_the_session,
            refresh::forged_secrets_revoke_nothing,
            refresh::refresh_racing_revoke_mints_nothing_usable,
            refresh::garbage_never_reaches_the_store,
            refresh::nothing_usable_at_rest,
            refresh::inspection_has_no_side_effects,
            refresh::revoking_by_refresh_token_judges_it_as_a_refresh_would,
            revocation::logout_is_immediate,
            revocation::revoke_all_and_all_but_one,
            revocation::feed_is_ordered_by_cursor,
            revocation::other_nodes_see_revocations_after_sync,
            revocation::single_access_tokens_can_be_revoked,
            revocation::token_ids_come_back_whole_from_the_feed,
            keys::nodes_share_one_keyset,
            keys::rotation_follows_the_clock,
            keys::settings_initialise_once_and_overwrite,
            audit::security_events_are_recorded_per_user,
            audit::audit_retention_purges_in_batches,
            audit::audit_failures_never_change_security_outcomes,
            browser::browser_cookies_authenticate_and_rotate,
            browser::csrf_tokens_bind_to_the_cookie,
            browser::accounts_are_created_once,
            browser::accounts_are_listed_in_pages_and_deleted,
            browser::account_ids_are_reserved,
            keys::private_keys_are_sealed_at_rest,
            keys::api_keys_are_named_and_revoked_everywhere,
            browser::expired_cookies_are_refused,
            limits::bursts_then_paces,
            limits::a_reset_limit_starts_full,
            limits::concurrent_callers_never_exceed_the_limit,
            limits::refresh_rate_counts_genuine_tokens_only,
            limits::concurrent_presentations_of_one_token_count_once,
        );
    };
    (@cases $make:path; $($group:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::run(async { $crate::suite::$group::$case($make().await).await })
            }
        )*
    };
}
