//! The audit trail.

use std::future::Future;

use crate::{AuditEvent, StoreError, StoredEvent, Timestamp};

/// The audit trail of security events, kept for a retention period.
pub trait AuditStore: Send + Sync {
    /// Appends events, all in one step (one revocation of a user's sessions records one event
    /// per session).
    fn append_audit(
        &self,
        events: &[AuditEvent],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A user's events, newest first: those with an id below `before` (all when `None`), at
    /// most `limit`. Cost grows with that user's events only.
    fn audit_for_user(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// Deletes up to `batch` events recorded before `cutoff`, oldest first; returns how many.
    /// Call again while it returns `batch`.
    fn purge_audit(
        &self,
        cutoff: Timestamp,
        batch: usize,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}
