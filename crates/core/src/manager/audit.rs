//! The manager's side of the audit trail.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::SessionManager;
use crate::store::Store;
use crate::{AuditEvent, AuditKind, AuditOrigin, Clock, Error, SessionId, StoredEvent};

impl<S: Store, C: Clock> SessionManager<S, C> {
    /// Records an audit event: stored, then handed to the hook (if any).
    ///
    /// # Errors
    /// Store errors.
    pub async fn record(
        &self,
        user_id: Option<&str>,
        sid: Option<SessionId>,
        kind: AuditKind,
    ) -> Result<(), Error> {
        let event = self.event(user_id, sid, kind);
        self.store
            .append_audit(std::slice::from_ref(&event))
            .await?;
        self.hand_to_hook(&event);
        Ok(())
    }

    /// Records the audit event of a step already committed, without failing the caller: the
    /// step's outcome (new tokens handed out, a stolen session revoked) never depends on it. A
    /// failed write is counted ([`SessionManager::audit_failures`]) and the event still goes to
    /// the hook (the server's log).
    pub(super) async fn note(
        &self,
        user_id: Option<&str>,
        sid: Option<SessionId>,
        kind: AuditKind,
    ) {
        self.note_all(vec![self.event(user_id, sid, kind)]).await;
    }

    /// [`SessionManager::note`] for several events, written in one step.
    pub(super) async fn note_all(&self, events: Vec<AuditEvent>) {
        if events.is_empty() {
            return;
        }
        if self.store.append_audit(&events).await.is_err() {
            let failed = u64::try_from(events.len()).unwrap_or(u64::MAX);
            self.audit_failures.fetch_add(failed, Ordering::Relaxed);
        }
        for event in &events {
            self.hand_to_hook(event);
        }
    }

    /// Hands a routine event to the hook (the server's log and metrics) without storing it:
    /// refreshes are recorded on the session itself, so the trail does not grow with traffic.
    pub(super) fn announce(&self, user_id: Option<&str>, sid: Option<SessionId>, kind: AuditKind) {
        // Built only for a hook: without one, a refresh pays nothing for its event.
        if let Some(hook) = &self.settings.audit_hook {
            hook.call(&self.event(user_id, sid, kind));
        }
    }

    /// Hands an event (stored, or deliberately not) to the hook, if any.
    pub(super) fn hand_to_hook(&self, event: &AuditEvent) {
        if let Some(hook) = &self.settings.audit_hook {
            hook.call(event);
        }
    }

    /// The client address of the request being served, when the embedder says how to find it.
    pub(super) fn client_ip(&self) -> Option<String> {
        self.settings
            .audit_origin
            .as_ref()
            .and_then(AuditOrigin::ip)
    }

    pub(super) fn event(
        &self,
        user_id: Option<&str>,
        sid: Option<SessionId>,
        kind: AuditKind,
    ) -> AuditEvent {
        AuditEvent {
            at: self.clock.now(),
            user_id: user_id.map(str::to_owned),
            sid,
            ip: self.client_ip(),
            kind,
        }
    }

    /// Audit events that could not be stored since start (each was still logged).
    pub fn audit_failures(&self) -> u64 {
        self.audit_failures.load(Ordering::Relaxed)
    }

    /// A user's audit events, newest first (ids below `before`, at most `limit`).
    ///
    /// # Errors
    /// Store errors.
    pub async fn events(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, Error> {
        Ok(self.store.audit_for_user(user_id, before, limit).await?)
    }

    /// Deletes up to `batch` audit events older than `retention`. Returns how many.
    ///
    /// # Errors
    /// Store errors.
    pub async fn purge_audit(&self, retention: Duration, batch: usize) -> Result<usize, Error> {
        Ok(self
            .store
            .purge_audit(self.clock.now().minus(retention), batch)
            .await?)
    }
}
