//! Opening a node: the store, the shared secret, the manager and the admin API key. Shared by
//! `serve` and every CLI command, so they all see the same data.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use tessera::store::KeyStore;
use tessera::{
    ApiKey, AuditEvent, AuditHook, AuditKind, AuditOrigin, KeyEncryptionKey, Sealer, ServerSecret,
    SessionManager, Settings, TokenHash,
};
use tessera_sqlite::SqliteStore;

use std::sync::Arc;

use tessera_postgres::PostgresStore;
use tessera_redis::RedisStore;

use crate::config::StoreUrl;
use crate::config::{ADMIN_KEY_FILE, Config, KEK_FILE, LimitBy, LimitClass};
use crate::metrics::Metrics;
use crate::store::AnyStore;

/// The clock the server runs on: chosen here, read everywhere else through
/// `manager.clock()`.
#[allow(
    clippy::disallowed_types,
    reason = "the one place the server chooses its clock"
)]
pub type ServerClock = tessera::SystemClock;

/// The manager type the server runs.
pub type Manager = SessionManager<AnyStore, ServerClock>;

/// The setting holding the deployment's issuer (small: also what readiness probes read).
pub const ISSUER_SETTING: &str = "issuer";
/// The hash of the bootstrap admin key in force.
pub const ADMIN_KEY_SETTING: &str = "admin-api-key-sha256";

/// A Redis store just connected, made to wait for `replicas` replicas on every write (see
/// [`RedisStore::wait_for_replicas`]).
async fn waiting(
    store: Result<RedisStore, tessera::StoreError>,
    replicas: u32,
) -> Result<AnyStore, tessera::StoreError> {
    Ok(AnyStore::Redis(store?.wait_for_replicas(replicas).await?))
}

/// Opens the store named by the configuration, creating the data directory (mode 0700).
///
/// # Errors
/// When the directory or database cannot be created or opened.
pub async fn open_store(config: &Config) -> anyhow::Result<AnyStore> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    match &config.store {
        StoreUrl::Redis(url) => {
            let store = RedisStore::connect(url, &config.redis_key_tag).await;
            return waiting(store, config.redis_wait_replicas)
                .await
                .with_context(|| format!("cannot use Redis at {}", crate::config::redact(url)));
        }
        StoreUrl::RedisCluster(nodes) => {
            let store = RedisStore::connect_cluster(nodes, &config.redis_key_tag).await;
            return waiting(store, config.redis_wait_replicas)
                .await
                .with_context(|| {
                    format!(
                        "cannot use the Redis Cluster at {}",
                        nodes
                            .iter()
                            .map(|n| crate::config::redact(n))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
        }
        StoreUrl::Postgres(url) => {
            let store = PostgresStore::connect(url).await.with_context(|| {
                format!("cannot use PostgreSQL at {}", crate::config::redact(url))
            })?;
            return Ok(AnyStore::Postgres(store));
        }
        StoreUrl::Sqlite(_) => {}
    }
    // Create the database file owner-only before SQLite does (its -wal and -shm files follow it).
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(config.database_path())?;
    let store = SqliteStore::open(config.database_path())
        .with_context(|| format!("cannot open database {}", config.database_path().display()))?;
    Ok(AnyStore::Sqlite(store))
}

/// Builds the manager: the root secret comes from the store (created once, shared by every
/// node and command), keys are loaded or generated, and the revocation feed is caught up.
///
/// # Errors
/// Store, key or configuration errors.
pub async fn manager(
    config: &Config,
    store: AnyStore,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Manager> {
    let (sealer, created) = open_sealer(config)?;
    let secret = match (server_secret(&store, &sealer, false).await, created) {
        (Ok(secret), _) => secret,
        (Err(e), Some(path)) => {
            // A key made just now cannot open what an older one sealed: the file was lost.
            let _ = std::fs::remove_file(&path);
            return Err(e.context(format!(
                "{} was missing, but the store holds values sealed under a key-encryption key: \
                 restore that file (or set key_encryption_key)",
                path.display()
            )));
        }
        (Err(e), None) => return Err(e),
    };
    let issuer = shared_issuer(config, &store).await?;
    let validation = config.validation.clone().with_issuer(issuer);
    let mut settings = Settings::new(validation, secret);
    settings.sealer = Some(sealer);
    settings.policy = config.policy.clone();
    settings.policy.refresh_rate = config
        .rate_limits
        .get(LimitClass::Refresh, LimitBy::Session)
        .copied();
    settings.rotation = config.rotation.clone();
    settings.hs256_secret = config.hs256_secret.clone();
    if !matches!(config.store, StoreUrl::Sqlite(_)) {
        // Other nodes revoke too: this node's view is only as good as its last catch-up.
        settings.max_feed_staleness = Some(config.feed_staleness);
    }
    settings.audit_origin = Some(AuditOrigin::new(crate::http::current_client_ip));
    settings.audit_hook = Some(AuditHook::new(move |event| {
        log_audit_event(event);
        metrics.audit_event(event);
    }));
    Ok(SessionManager::start(store, ServerClock::default(), settings).await?)
}

/// The issuer every node of the deployment puts in `iss`. The first node to start on a store
/// records its issuer there; a node whose issuer is only derived from its own listen address
/// follows the recorded one, so nodes on different ports accept each other's tokens. A node
/// configured with another issuer (`issuer` or `public_origin`) refuses to start on a shared
/// store; on the embedded default it is the one node, and its configuration wins.
async fn shared_issuer(config: &Config, store: &AnyStore) -> anyhow::Result<String> {
    let wanted = config.validation.issuer();
    let stored = store
        .init_setting(ISSUER_SETTING, wanted.as_bytes())
        .await?;
    let stored = String::from_utf8(stored).context("the stored issuer is corrupt")?;
    if stored == wanted || !config.issuer_configured {
        return Ok(stored);
    }
    anyhow::ensure!(
        matches!(config.store, StoreUrl::Sqlite(_)),
        "issuer {wanted:?} differs from {stored:?}, which the nodes sharing this store put in \
         their tokens: set issuer = {stored:?} on this node (or remove its issuer and \
         public_origin settings)"
    );
    store.put_setting(ISSUER_SETTING, wanted.as_bytes()).await?;
    tracing::info!(issuer = wanted, previous = %stored, "the issuer changed");
    Ok(wanted.to_owned())
}

/// The server secret, sealed in the store (see [`ServerSecret::load_or_create`]).
async fn server_secret(
    store: &AnyStore,
    sealer: &Sealer,
    reseal: bool,
) -> anyhow::Result<ServerSecret> {
    let secret = ServerSecret::load_or_create(store, sealer, reseal)
        .await
        .context("cannot open the stored server secret")?;
    tracing::debug!(kek = %sealer.current().fingerprint(), "server secret ready");
    Ok(secret)
}

/// Seals the server secret and every signing key anew under the configured (current)
/// key-encryption key. Returns its fingerprint.
///
/// # Errors
/// Store errors, or a value no configured key opens.
pub async fn reseal(config: &Config) -> anyhow::Result<String> {
    let store = open_store(config).await?;
    server_secret(&store, &sealer(config)?, true).await?;
    let manager = manager(config, store, Arc::default()).await?;
    manager.reseal_keys().await?;
    Ok(sealer(config)?.current().fingerprint())
}

/// The sealer: the configured key-encryption key, or on the embedded default the one in
/// `<data_dir>/key-encryption-key`, made (mode 0600) on first start. A half-finished
/// `tessera keys rewrap` leaves `key-encryption-key.next`, which is accepted for opening.
///
/// # Errors
/// Unreadable or malformed key files.
pub fn sealer(config: &Config) -> anyhow::Result<Sealer> {
    open_sealer(config).map(|(sealer, _)| sealer)
}

/// [`sealer`], and the key file's path when this call made it.
fn open_sealer(config: &Config) -> anyhow::Result<(Sealer, Option<PathBuf>)> {
    if let Some(kek) = &config.key_encryption_key {
        let previous = config.previous_key_encryption_keys.clone();
        return Ok((Sealer::new(kek.clone(), previous), None));
    }
    let path = config.data_dir.join(KEK_FILE);
    let (current, created) = match read_kek(&path)? {
        Some(kek) => (kek, None),
        None => {
            let kek = KeyEncryptionKey::generate()?;
            if create_private(&path, &kek.expose())? {
                tracing::info!(path = %path.display(), kek = %kek.fingerprint(), "created the key-encryption key");
                (kek, Some(path.clone()))
            } else {
                // Another process (a second first start) made it a moment ago: use theirs.
                let theirs = read_kek(&path)?.context("the key-encryption key file vanished")?;
                (theirs, None)
            }
        }
    };
    let mut previous = config.previous_key_encryption_keys.clone();
    previous.extend(read_kek(&next_kek_path(config))?);
    Ok((Sealer::new(current, previous), created))
}

/// Where `tessera keys rewrap` puts the new key until everything is sealed under it.
pub fn next_kek_path(config: &Config) -> std::path::PathBuf {
    config.data_dir.join(format!("{KEK_FILE}.next"))
}

/// A key-encryption key from a file, if the file exists.
///
/// # Errors
/// An unreadable file or one that holds no key.
pub fn read_kek(path: &Path) -> anyhow::Result<Option<KeyEncryptionKey>> {
    match std::fs::read_to_string(path) {
        Ok(text) => KeyEncryptionKey::parse(&text)
            .map(Some)
            .with_context(|| format!("{} holds no key-encryption key", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Every audit event also goes to the log, on the `tessera::audit` target: ids and reasons,
/// never a secret. A detected token theft is a warning.
fn log_audit_event(event: &AuditEvent) {
    let json = serde_json::to_string(event).unwrap_or_default();
    if matches!(event.kind, AuditKind::RefreshReuseDetected { .. }) {
        tracing::warn!(target: "tessera::audit", event = %json, "security event");
    } else {
        tracing::info!(target: "tessera::audit", event = %json, "security event");
    }
}

/// The admin API key's hash. `admin_api_key` in the configuration replaces the stored one;
/// otherwise the first start generates a key and writes it to `<data-dir>/admin-api-key`
/// (mode 0600). The key itself is never logged.
///
/// # Errors
/// Store or file errors.
pub async fn admin_key(config: &Config, store: &AnyStore) -> anyhow::Result<TokenHash> {
    let path = config.data_dir.join(ADMIN_KEY_FILE);
    let revoked = crate::api_keys::revoked_bootstrap_keys(store).await?;
    let is_revoked = |hash: &TokenHash| crate::api_keys::is_revoked_bootstrap(&revoked, hash);
    if let Some(key) = &config.admin_api_key {
        anyhow::ensure!(
            !is_revoked(&key.hash()),
            "admin_api_key is a key that was revoked (tessera api-key revoke admin): set a new \
             one (tessera api-key new prints one)"
        );
        store
            .put_setting(ADMIN_KEY_SETTING, key.hash().as_bytes())
            .await?;
        // A key file left by an earlier start names a key that no longer works: remove it
        // rather than let someone copy it from there and wonder why it is refused.
        let stale = read_key_file(&path).is_some_and(|k| !k.hash().ct_eq(&key.hash()));
        if stale {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove the stale {}", path.display()))?;
            tracing::warn!(path = %path.display(), "removed the admin key file: admin_api_key replaces that key");
        }
        in_force(&key.hash(), "admin_api_key");
        return Ok(key.hash());
    }
    if let Some(hash) = crate::api_keys::stored_bootstrap_key(store).await? {
        if is_revoked(&hash) {
            // Revoked, and no admin_api_key to replace it: a new one, as at the first start.
            // The old key file names the revoked key.
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove the revoked {}", path.display()))?;
            }
            tracing::warn!("the admin API key in force was revoked: making a new one");
            return new_admin_key(store, &path).await;
        }
        match read_key_file(&path) {
            Some(k) if k.hash().ct_eq(&hash) => in_force(&hash, &path.display().to_string()),
            _ => {
                tracing::warn!(path = %path.display(), "the admin key file is missing or holds another key than the one in force");
                in_force(&hash, "the store (set by an earlier start)");
            }
        }
        return Ok(hash);
    }
    new_admin_key(store, &path).await
}

/// Makes an admin key, writes it to `path` (0600) and its hash to the store.
async fn new_admin_key(store: &AnyStore, path: &Path) -> anyhow::Result<TokenHash> {
    let key = ApiKey::generate()?;
    write_private(path, &key.expose())?;
    store
        .put_setting(ADMIN_KEY_SETTING, key.hash().as_bytes())
        .await?;
    tracing::info!(path = %path.display(), "created the admin API key");
    in_force(&key.hash(), &path.display().to_string());
    Ok(key.hash())
}

/// The admin key in the key file, if there is one that parses.
fn read_key_file(path: &Path) -> Option<ApiKey> {
    ApiKey::parse(std::fs::read_to_string(path).ok()?.trim()).ok()
}

/// Says which admin key is in force, by fingerprint (never the key).
fn in_force(hash: &TokenHash, from: &str) {
    let fingerprint: String = hash.as_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    tracing::info!(fingerprint = %fingerprint, from, "admin API key in force");
}

/// Creates `path` with `text`, readable only by its owner (0600), only if it does not exist;
/// returns whether it did. The file and its directory are synced before returning.
fn create_private(path: &Path, text: &str) -> anyhow::Result<bool> {
    let mut file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    writeln!(file, "{text}")?;
    file.sync_all()?;
    sync_dir(path)?;
    Ok(true)
}

/// Makes a file's creation or renaming durable: syncs the directory that holds it.
///
/// # Errors
/// When the directory cannot be opened or synced.
pub fn sync_dir(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Writes `text` to `path` readable only by its owner (0600), replacing any old file.
pub(crate) fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    writeln!(file, "{text}")?;
    file.sync_all()?;
    Ok(())
}
