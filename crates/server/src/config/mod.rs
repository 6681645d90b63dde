//! Configuration in two phases: raw input from the TOML file, `TESSERA_*` variables and flags
//! (`RawConfig`, later sources winning) becomes one validated, typed [`Config`], passed by
//! value. Unsafe or inconsistent settings stop start-up with a message saying what to change.

mod branding;
mod duration;
mod limits;
mod origins;
mod raw;
mod secrets;
mod sign_in;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::tls::TlsFiles;
use tessera::{
    Algorithm, ApiKey, Hs256Secret, KeyEncryptionKey, OnLimit, RotationPolicy, SessionLimit,
    SessionPolicy, Validation,
};
use tessera_axum::{ForwardedHeader, SameSite, TrustedProxies};

pub use branding::{Accent, Branding};
pub use limits::{LimitBy, LimitClass, RateLimits};
pub(crate) use raw::RawConfig;
pub use sign_in::SignIn;
pub use tessera_axum::Cidr;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    Human,
    /// One JSON object per line.
    Json,
}

/// The validated configuration of a `tessera` process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the SQLite database and the admin key file live.
    pub data_dir: PathBuf,
    /// Issuer and audience of access tokens, with leeway and size cap. The issuer is the
    /// `issuer` setting, else `public_origin`, else `http://<listen>`; nodes sharing a store
    /// agree on one at start-up (see `boot::manager`).
    pub validation: Validation,
    /// Whether the issuer was chosen (`issuer` or `public_origin` set), not derived from
    /// `listen`.
    pub issuer_configured: bool,
    /// Session lifetimes and limits.
    pub policy: SessionPolicy,
    /// Key rotation.
    pub rotation: RotationPolicy,
    /// An operator-supplied HS256 secret, when `algorithm = "HS256"` should use one.
    pub hs256_secret: Option<Hs256Secret>,
    /// An admin API key to install (replacing the stored one).
    pub admin_api_key: Option<ApiKey>,
    /// How often expired sessions are purged.
    pub purge_interval: Duration,
    /// How long audit events are kept.
    pub audit_retention: Duration,
    /// Longest time a request may take.
    pub request_timeout: Duration,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Whether cookies are `Secure` (browser features).
    pub cookie_secure: bool,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `info,tessera=debug`.
    pub log_level: String,
    /// Rate limits per route class.
    pub rate_limits: RateLimits,
    /// Peers whose word about the client is believed, and the one header they write it in.
    pub trusted_proxies: TrustedProxies,
    /// Certificate and key, when Tessera terminates TLS itself.
    pub tls: Option<TlsFiles>,
    /// Whether a TLS-terminating proxy sits in front (allows plain HTTP on a public address).
    pub behind_tls_proxy: bool,
    /// `SameSite` of the session cookie.
    pub cookie_same_site: SameSite,
    /// The origin browsers see (`https://auth.example`): unsafe requests from other origins
    /// are refused.
    pub public_origin: String,
    /// Single-page apps on other origins that may call `/auth` with the session cookie
    /// (credentialed CORS): exact origins, canonical lowercase.
    pub cors_origins: Vec<String>,
    /// Where sessions live.
    pub store: StoreUrl,
    /// The hash tag of a Redis deployment (its global slot; its 64 shard tags derive from it).
    pub redis_key_tag: String,
    /// Replicas that must hold a Redis write before it is acknowledged (`WAIT`); 0: none.
    pub redis_wait_replicas: u32,
    /// With a shared store: how stale the revocation view may get before verification fails
    /// closed.
    pub feed_staleness: Duration,
    /// The built-in sign-in: sign-up, guessing budgets, hashing queue.
    pub sign_in: SignIn,
    /// How the built-in pages look.
    pub branding: Branding,
    /// The least zxcvbn strength (0-4) of a new password; 0 checks only its length.
    pub password_min_strength: u8,
    /// The key-encryption key sealing signing keys and the server secret. `None` on the
    /// embedded default: it lives in `<data_dir>/key-encryption-key` (mode 0600).
    pub key_encryption_key: Option<KeyEncryptionKey>,
    /// Older key-encryption keys, still accepted for opening while values move to the new one.
    pub previous_key_encryption_keys: Vec<KeyEncryptionKey>,
    /// When set, `/metrics` is served there only, without an API key, and not on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// Things to log once logging is set up (unknown `TESSERA_*` variables).
    pub warnings: Vec<String>,
}

/// The store named by `store` / `--store` / `TESSERA_STORE`. Its `Debug` leaves credentials out.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite://PATH` (the default: `<data_dir>/tessera.db`).
    Sqlite(PathBuf),
    /// `redis://host:port[/db]`, or over TLS `rediss://host:port[/db][?tls_ca=PATH]`.
    Redis(String),
    /// `redis+cluster://host:port,host:port,…` (over TLS `rediss+cluster://…[?tls_ca=PATH]`):
    /// the Cluster's nodes as `redis://host:port` (`rediss://host:port[?tls_ca=PATH]`).
    RedisCluster(Vec<String>),
    /// `postgres://user:password@host[:port]/database[?sslmode=require&sslrootcert=PATH]`.
    Postgres(String),
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Redis(url) => f.debug_tuple("Redis").field(&redact(url)).finish(),
            Self::RedisCluster(nodes) => {
                let nodes: Vec<String> = nodes.iter().map(|n| redact(n)).collect();
                f.debug_tuple("RedisCluster").field(&nodes).finish()
            }
            Self::Postgres(url) => f.debug_tuple("Postgres").field(&redact(url)).finish(),
        }
    }
}

/// A store URL without its credentials (the user info, a `password=` parameter), for
/// messages and `Debug`.
pub(crate) fn redact(url: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &base[..scheme + 3], &base[at..])
        }
        // Not a URL (a mistyped one): whatever comes before an `@` may be a password.
        (None, Some(at)) => format!("***{}", &base[at..]),
        _ => base.to_owned(),
    };
    let Some(query) = query else {
        return base;
    };
    let query: Vec<&str> = query
        .split('&')
        .map(|pair| {
            if pair.starts_with("password=") {
                "password=***"
            } else {
                pair
            }
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn store_url(raw: Option<&str>, data_dir: &std::path::Path) -> Result<StoreUrl, String> {
    let Some(url) = raw else {
        return Ok(StoreUrl::Sqlite(data_dir.join(DATABASE_FILE)));
    };
    if let Some(path) = url.strip_prefix("sqlite://") {
        return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(StoreUrl::Postgres(url.to_owned()));
    }
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        return Ok(StoreUrl::Redis(url.to_owned()));
    }
    for (prefix, scheme) in [
        ("redis+cluster://", "redis"),
        ("rediss+cluster://", "rediss"),
    ] {
        let Some(rest) = url.strip_prefix(prefix) else {
            continue;
        };
        // The query (`tls_ca=PATH`) is the Cluster's, and so are the credentials of the first
        // node (`user:password@host:port`) for the nodes that name none: each node's URL
        // carries them.
        let (nodes, query) = rest.split_once('?').map_or((rest, ""), |(n, q)| (n, q));
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        let nodes: Vec<&str> = nodes
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        let credentials = nodes
            .first()
            .and_then(|n| n.rsplit_once('@'))
            .map_or("", |(c, _)| c);
        let nodes: Vec<String> = nodes
            .iter()
            .map(|n| match (n.contains('@'), credentials) {
                (false, c) if !c.is_empty() => format!("{scheme}://{c}@{n}{query}"),
                _ => format!("{scheme}://{n}{query}"),
            })
            .collect();
        if nodes.is_empty() {
            return Err(format!("store = {prefix}… needs at least one host:port"));
        }
        return Ok(StoreUrl::RedisCluster(nodes));
    }
    Err(format!(
        "store = {:?}; use sqlite://PATH, postgres://user:password@host/database, \
         redis://host:port[/db], rediss://host:port[/db][?tls_ca=PATH], \
         redis+cluster://host:port,host:port or rediss+cluster://host:port,host:port[?tls_ca=PATH]",
        redact(url)
    ))
}

/// The file name of the database inside the data directory.
pub const DATABASE_FILE: &str = "tessera.db";
/// The file the first start writes the admin API key to (mode 0600).
pub const ADMIN_KEY_FILE: &str = "admin-api-key";
/// The file holding the key-encryption key on the embedded default (mode 0600).
pub const KEK_FILE: &str = "key-encryption-key";

impl Config {
    /// Loads the configuration: defaults < file < environment < flags.
    ///
    /// # Errors
    /// A message naming the offending setting and what to do about it.
    pub(crate) fn load(
        file: Option<PathBuf>,
        env: Vec<(String, String)>,
        flags: RawConfig,
    ) -> Result<Self, String> {
        let from_file = match file {
            Some(path) => RawConfig::from_file(&path)?,
            None => RawConfig::default(),
        };
        let (from_env, warnings) = RawConfig::from_env(env)?;
        let raw = from_file.overridden_by(from_env).overridden_by(flags);
        Ok(Self {
            warnings,
            ..Self::from_raw(raw)?
        })
    }

    /// A configuration from TOML text alone (no environment, no flags): for tests and embedding.
    ///
    /// # Errors
    /// A message naming the offending setting and what to do about it.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        Self::from_raw(toml::from_str(text).map_err(|e| format!("config: {e}"))?)
    }

    /// Validates raw settings into a configuration.
    ///
    /// # Errors
    /// A message naming the offending setting and what to do about it.
    pub(crate) fn from_raw(raw: RawConfig) -> Result<Self, String> {
        let listen_text = raw
            .listen
            .clone()
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            format!("listen = {listen_text:?} is not an address like 127.0.0.1:8080")
        })?;
        let policy = policy(&raw)?;
        let issuer_configured = raw.issuer.is_some() || raw.public_origin.is_some();
        let validation = Validation::new(
            raw.issuer
                .clone()
                .or_else(|| raw.public_origin.clone())
                .unwrap_or_else(|| format!("http://{listen}")),
            raw.audience.clone().unwrap_or_else(|| "tessera".into()),
        );
        let algorithm: Algorithm = raw
            .algorithm
            .as_deref()
            .unwrap_or("EdDSA")
            .parse()
            .map_err(|_| "algorithm must be one of EdDSA, ES256, RS256, HS256".to_owned())?;
        let rotation = rotation(&raw, algorithm, &policy, &validation)?;
        let hs256_secret = secrets::hs256_secret(raw.hs256_secret.clone(), algorithm)?;
        let tls = match (raw.tls_cert.clone(), raw.tls_key.clone()) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err("set both tls_cert and tls_key, or neither".into()),
        };
        let behind_tls_proxy = raw.behind_tls_proxy.unwrap_or(false);
        if tls.is_none() && !behind_tls_proxy && !listen.ip().is_loopback() {
            return Err(format!(
                "refusing to serve plain HTTP on {listen}: set tls_cert and tls_key, or \
                 behind_tls_proxy = true when a TLS-terminating proxy is in front"
            ));
        }
        let store = store_url(
            raw.store.as_deref(),
            &raw.data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("tessera-data")),
        )?;
        let (key_encryption_key, previous_key_encryption_keys) = secrets::keks(&raw, &store)?;
        let metrics_listen = raw
            .metrics_listen
            .as_deref()
            .map(|text| {
                text.parse::<SocketAddr>().map_err(|_| {
                    format!("metrics_listen = {text:?} is not an address like 127.0.0.1:9090")
                })
            })
            .transpose()?;
        let cookie_secure = raw.cookie_secure.unwrap_or(true);
        if !cookie_secure && !listen.ip().is_loopback() {
            return Err(format!(
                "cookie_secure = false is only allowed on a loopback address, not {listen}: \
                 serve over TLS (or behind a TLS proxy) and keep cookie_secure = true"
            ));
        }
        Ok(Self {
            listen,
            data_dir: raw
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("tessera-data")),
            validation,
            issuer_configured,
            policy,
            rotation,
            hs256_secret,
            admin_api_key: secrets::admin_key(raw.admin_api_key.clone())?,
            purge_interval: bounded(
                &raw.purge_interval,
                "purge_interval",
                300,
                7 * 86_400,
                "how often expired sessions are deleted",
            )?,
            audit_retention: duration(&raw.audit_retention, "audit_retention", 90 * 86_400)?,
            request_timeout: bounded(
                &raw.request_timeout,
                "request_timeout",
                10,
                3600,
                "the longest a request may take",
            )?,
            max_body_bytes: body_limit(raw.max_body_bytes)?,
            cookie_secure,
            log_format: log_format(raw.log_format.as_deref())?,
            log_level: raw.log_level.clone().unwrap_or_else(|| "info".into()),
            rate_limits: RateLimits::from_raw(raw.rate_limits.as_ref())?,
            store,
            sign_in: SignIn::from_raw(&raw)?,
            branding: Branding::from_raw(&raw)?,
            password_min_strength: branding::min_strength(&raw)?,
            key_encryption_key,
            previous_key_encryption_keys,
            metrics_listen,
            warnings: Vec::new(),
            redis_key_tag: redis_key_tag(raw.redis_key_tag.as_deref())?,
            redis_wait_replicas: raw.redis_wait_replicas.unwrap_or(0),
            feed_staleness: feed_staleness(&raw.feed_staleness)?,
            trusted_proxies: trusted_proxies(
                raw.trusted_proxies.as_ref(),
                raw.forwarded_header.as_deref(),
            )?,
            public_origin: raw.public_origin.clone().unwrap_or_else(|| {
                format!(
                    "{}://{listen}",
                    if tls.is_some() { "https" } else { "http" }
                )
            }),
            cors_origins: origins::cors_origins(raw.cors_origins.as_ref())?,
            tls,
            behind_tls_proxy,
            cookie_same_site: match raw.cookie_same_site.as_deref().unwrap_or("lax") {
                "lax" => SameSite::Lax,
                "strict" => SameSite::Strict,
                other => {
                    return Err(format!(
                        "cookie_same_site = {other:?}; use \"lax\" or \"strict\""
                    ));
                }
            },
        })
    }

    /// The configuration once listening on `addr`. With an ephemeral `listen` port (`:0`),
    /// the defaults derived from it (the issuer, `public_origin`) name the port actually bound:
    /// tokens must not say `iss: http://127.0.0.1:0`, which no verifier could match.
    pub fn bound_to(mut self, addr: SocketAddr) -> Self {
        if self.listen.port() != 0 {
            return self;
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        if self.public_origin == format!("{scheme}://{}", self.listen) {
            self.public_origin = format!("{scheme}://{addr}");
        }
        if !self.issuer_configured {
            self.validation = self.validation.with_issuer(format!("http://{addr}"));
        }
        self.listen = addr;
        self
    }

    /// The database path.
    pub fn database_path(&self) -> PathBuf {
        match &self.store {
            StoreUrl::Sqlite(path) => path.clone(),
            StoreUrl::Redis(_) | StoreUrl::RedisCluster(_) | StoreUrl::Postgres(_) => {
                self.data_dir.join(DATABASE_FILE)
            }
        }
    }
}

/// A duration typed on the command line (`90`, `15m`, `1h`), or a message naming `name`.
///
/// # Errors
/// The message, for text that is not a duration.
pub fn parse_duration(text: &str, name: &str) -> Result<Duration, String> {
    duration::DurationValue::Text(text.to_owned()).parse(name)
}

fn duration(
    value: &Option<duration::DurationValue>,
    name: &str,
    default_secs: u64,
) -> Result<Duration, String> {
    value
        .as_ref()
        .map_or(Ok(Duration::from_secs(default_secs)), |v| v.parse(name))
}

fn policy(raw: &RawConfig) -> Result<SessionPolicy, String> {
    let d = SessionPolicy::default();
    let limit = match (
        raw.max_sessions_per_user.unwrap_or(0),
        raw.on_session_limit.as_deref(),
    ) {
        (0, _) => None,
        (max, mode) => Some(SessionLimit {
            max: max as usize,
            on_limit: match mode.unwrap_or("evict_oldest") {
                "deny" => OnLimit::Deny,
                "evict_oldest" => OnLimit::EvictOldest,
                other => {
                    return Err(format!(
                        "on_session_limit = {other:?}; use \"deny\" or \"evict_oldest\""
                    ));
                }
            },
        }),
    };
    let policy = SessionPolicy {
        access_ttl: duration(&raw.access_ttl, "access_ttl", d.access_ttl.as_secs())?,
        idle_timeout: duration(&raw.idle_timeout, "idle_timeout", d.idle_timeout.as_secs())?,
        absolute_timeout: duration(
            &raw.absolute_timeout,
            "absolute_timeout",
            d.absolute_timeout.as_secs(),
        )?,
        refresh_grace: duration(
            &raw.refresh_grace,
            "refresh_grace",
            d.refresh_grace.as_secs(),
        )?,
        limit,
        ..d
    };
    // Jitter follows the access TTL (a tenth of it) so a short TTL stays valid.
    let policy = SessionPolicy {
        access_ttl_jitter: policy.access_ttl / 10,
        ..policy
    };
    policy.validate().map_err(|e| {
        format!("{e} (check access_ttl, idle_timeout, absolute_timeout, refresh_grace)")
    })?;
    Ok(policy)
}

fn rotation(
    raw: &RawConfig,
    algorithm: Algorithm,
    policy: &SessionPolicy,
    validation: &Validation,
) -> Result<RotationPolicy, String> {
    let d = RotationPolicy::default();
    let rotation = RotationPolicy {
        algorithm,
        rotate_every: duration(
            &raw.key_rotation_interval,
            "key_rotation_interval",
            d.rotate_every.as_secs(),
        )?,
        retire_after: policy.access_ttl + validation.leeway() + Duration::from_secs(60),
        ..d
    };
    rotation.validate().map_err(|_| {
        format!(
            "key_rotation_interval must be longer than {} s",
            rotation.publish_ahead.as_secs()
        )
    })?;
    Ok(rotation)
}

/// A duration setting that must lie in `1s..=max_secs`: zero would break what it paces (a
/// zero purge interval cannot tick, a zero timeout fails every request, a zero staleness bound
/// every verification), and `why` says what it is for.
fn bounded(
    value: &Option<duration::DurationValue>,
    name: &str,
    default_secs: u64,
    max_secs: u64,
    why: &str,
) -> Result<Duration, String> {
    let d = duration(value, name, default_secs)?;
    if d < Duration::from_secs(1) || d > Duration::from_secs(max_secs) {
        return Err(format!(
            "{name} = {}s; use 1s to {}: {why}",
            d.as_secs(),
            duration::describe(max_secs)
        ));
    }
    Ok(d)
}

/// At most an hour: beyond that a revoked session would stay usable on a node cut off from
/// the store that long.
fn feed_staleness(value: &Option<duration::DurationValue>) -> Result<Duration, String> {
    let why = "how long a node may go without catching up the revocation feed before it \
               refuses to verify";
    bounded(value, "feed_staleness", 5, 3600, why)
}

fn body_limit(bytes: Option<usize>) -> Result<usize, String> {
    let bytes = bytes.unwrap_or(256 * 1024);
    if !(1024..=16 * 1024 * 1024).contains(&bytes) {
        return Err(format!(
            "max_body_bytes = {bytes}; use between 1024 and 16777216"
        ));
    }
    Ok(bytes)
}

/// The proxies believed, and the header they write. A proxy passes on the header it does not
/// write as the client sent it, so which one it writes must be said: believing either would
/// let a client name its own address.
fn trusted_proxies(
    list: Option<&raw::StringList>,
    header: Option<&str>,
) -> Result<TrustedProxies, String> {
    let ranges: Vec<Cidr> = list.map_or(Ok(Vec::new()), |l| {
        l.items()
            .iter()
            .map(|s| s.parse().map_err(|e| format!("trusted_proxies: {e}")))
            .collect()
    })?;
    let header = header
        .map(str::parse::<ForwardedHeader>)
        .transpose()
        .map_err(|e| format!("forwarded_header = {e}"))?;
    match (ranges.is_empty(), header) {
        (true, None) => Ok(TrustedProxies::default()),
        (true, Some(_)) => Err(
            "forwarded_header is set but trusted_proxies is not: list the \
             proxies whose header is to be believed"
                .into(),
        ),
        (false, None) => Err(
            "trusted_proxies needs forwarded_header = \"x-forwarded-for\" \
             (nginx, HAProxy, Envoy, most load balancers) or \"forwarded\" (RFC 7239): the \
             header your proxies write; the other is never read"
                .into(),
        ),
        (false, Some(header)) => Ok(TrustedProxies::new(ranges, header)),
    }
}

fn redis_key_tag(tag: Option<&str>) -> Result<String, String> {
    let tag = tag.unwrap_or("{tessera}");
    let inner = tag.strip_prefix('{').and_then(|t| t.strip_suffix('}'));
    match inner {
        Some(t) if !t.is_empty() && !t.contains(['{', '}']) => Ok(tag.to_owned()),
        _ => Err(format!(
            "redis_key_tag = {tag:?}; write a hash tag like \"{{tessera}}\""
        )),
    }
}

fn log_format(format: Option<&str>) -> Result<LogFormat, String> {
    match format.unwrap_or("human") {
        "human" => Ok(LogFormat::Human),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("log_format = {other:?}; use \"human\" or \"json\"")),
    }
}

#[cfg(test)]
mod tests;
