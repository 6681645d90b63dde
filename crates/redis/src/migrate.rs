//! `tessera migrate`: moves a deployment from the layout before shards (every key under the
//! global tag, so one Cluster master held everything) to the sharded one. Each session moves
//! whole (its fields, as a record, and its index entries) into its user's shard; one whose id names
//! another shard leaves a pointer there, so every refresh token, cookie and access token stays
//! valid. Users' audit events move to their shard. Keys, settings, accounts, API keys, the
//! feed and events of no user stay where they are: the global slot keeps their names.
//!
//! Each session and each user's events move in steps that can be repeated, so an interrupted
//! migration is resumed by running it again. Nodes must be stopped meanwhile: an older node
//! would go on writing the old layout, and a newer one refuses to start on it.

use redis::{FromRedisValue, Value};
use tessera::{SessionId, StoreError};

use crate::codec::{corrupt, redis_error};
use crate::layout::MARK;
use crate::scripts;
use crate::store::{RedisStore, newer};

/// What a migration moved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// Sessions moved into their user's shard.
    pub sessions: u64,
    /// Audit events moved into their user's shard.
    pub audit_events: u64,
}

/// Sessions read per step.
const BATCH: usize = 200;

impl RedisStore {
    /// Moves every session and audit event of the layout before shards into the sharded
    /// layout, then marks the deployment as sharded (so [`RedisStore::connect`] accepts it).
    /// Safe to run again after an interruption, and on a deployment already moved (it then
    /// moves nothing).
    ///
    /// # Errors
    /// Store errors; run it again to resume. A deployment marked by a newer version (a layout
    /// this one does not know) is refused before anything moves.
    pub async fn migrate(&self) -> Result<Migrated, StoreError> {
        // A deployment a newer version marked is left as it is, before anything moves.
        self.legacy().await?;
        let mut done = Migrated::default();
        loop {
            let mut inv = self.run(&scripts::MISC);
            inv.arg("legacy_sessions").arg(BATCH);
            let batch: Vec<(String, String, i64, Vec<String>)> = self.call(&inv).await?;
            if batch.is_empty() {
                break;
            }
            for (sid, user, ttl, fields) in batch {
                if !fields.is_empty() {
                    self.adopt(&sid, &user, ttl, &fields).await?;
                    done.sessions += 1;
                }
                let mut inv = self.run(&scripts::MISC);
                inv.arg("forget").arg(&sid).arg(&user);
                self.call::<i64>(&inv).await?;
            }
        }
        let mut cursor = "0".to_owned();
        loop {
            let mut inv = self.run(&scripts::MISC);
            inv.arg("legacy_audit").arg(&cursor);
            let reply: Vec<Value> = self.call(&inv).await?;
            let (next, users) = reply.split_first().ok_or_else(|| corrupt("audit scan"))?;
            for user in users {
                let (user, events): (String, Vec<String>) =
                    FromRedisValue::from_redis_value(user).map_err(redis_error)?;
                done.audit_events += self.adopt_audit(&user, &events).await?;
            }
            cursor = FromRedisValue::from_redis_value(next).map_err(redis_error)?;
            if cursor == "0" {
                break;
            }
        }
        loop {
            let mut inv = self.run(&scripts::MISC);
            inv.arg("legacy_leftovers").arg(&cursor);
            cursor = self.call(&inv).await?;
            if cursor == "0" {
                break;
            }
        }
        let mut inv = self.run(&scripts::MISC);
        inv.arg("mark").arg(MARK);
        let mark: String = self.call(&inv).await?;
        if mark != MARK {
            return Err(newer(&self.layout.global, &mark));
        }
        Ok(done)
    }

    async fn adopt(
        &self,
        sid: &str,
        user: &str,
        ttl: i64,
        fields: &[String],
    ) -> Result<(), StoreError> {
        let shard = SessionId::shard_of(user);
        let id: SessionId = sid.parse().map_err(|_| corrupt("session id"))?;
        if id.shard() != shard {
            let mut inv = self.run_in(id.shard(), &scripts::MISC);
            inv.arg("point")
                .arg(sid)
                .arg(shard)
                .arg(ttl.max(1))
                .arg(id.as_bytes());
            self.call::<i64>(&inv).await?;
        }
        let mut inv = self.run_in(shard, &scripts::ADOPT);
        inv.arg(id.as_bytes()).arg(user).arg(fields);
        self.call::<i64>(&inv).await.map(|_| ())
    }

    /// Appends a user's legacy events (`id, json, at` triples) to the user's shard, then
    /// deletes them from the global slot. Returns how many moved.
    async fn adopt_audit(&self, user: &str, events: &[String]) -> Result<u64, StoreError> {
        let triples = events.chunks_exact(3);
        if !triples.remainder().is_empty() {
            return Err(corrupt("audit scan"));
        }
        let mut ids = Vec::new();
        if !events.is_empty() {
            let mut inv = self.run_in(SessionId::shard_of(user), &scripts::AUDIT);
            for event in triples {
                inv.arg(&event[1]).arg(&event[2]).arg(user);
                ids.push(event[0].as_str());
            }
            self.call::<i64>(&inv).await?;
        }
        let mut inv = self.run(&scripts::MISC);
        inv.arg("forget_audit").arg(user).arg(&ids);
        self.call::<i64>(&inv).await?;
        Ok(ids.len() as u64)
    }
}
