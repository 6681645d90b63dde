//! [`PostgresStore`]: the connection pool every concern's implementation hangs off, TLS,
//! error mapping, and shared rate limits.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
    TimeoutType,
};
use rustls::pki_types::pem::PemObject;
use tessera::store::{Breaker, RateLimitStore};
use tessera::{Quota, RateDecision, StoreError, StoreErrorKind, Timestamp};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

type Result<T> = std::result::Result<T, StoreError>;

/// Connections in the pool, at most.
const POOL_SIZE: usize = 16;
/// Longest a step waits for a connection (or to make one) before the request gets 503.
const POOL_WAIT: Duration = Duration::from_secs(2);

/// A Tessera store in a PostgreSQL database. Clones share the pool.
#[derive(Clone)]
pub struct PostgresStore {
    pub(crate) pool: Pool,
    /// Fails steps at once while the database is known to be unreachable.
    breaker: Arc<Breaker>,
    pub(crate) config: Arc<tokio_postgres::Config>,
    pub(crate) tls: MakeRustlsConnect,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host[:port]/database`), applying
    /// migrations. TLS: `sslmode=require` with `sslrootcert=PATH`, the CA certificate(s) the
    /// database's certificate must chain to (its host name is checked too); given a
    /// `sslrootcert`, TLS is required. Without one, the connection is plain: for a database
    /// on the same host or a private network only.
    ///
    /// # Errors
    /// A malformed URL, an unreadable CA file, a database that cannot be reached or migrated.
    pub async fn connect(url: &str) -> Result<Self> {
        let (config, tls) = parse(url)?;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .recycle_timeout(Some(POOL_WAIT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::new(StoreErrorKind::Other, e))?;
        let store = Self {
            pool,
            breaker: Arc::default(),
            config: Arc::new(config),
            tls,
        };
        let mut conn = store.conn().await?;
        crate::schema::migrate(&mut conn).await?;
        Ok(store)
    }

    /// A pooled connection; none within [`POOL_WAIT`] is `Unavailable`. While the database
    /// is known to be unreachable (the last connection attempt failed), `Unavailable` at once,
    /// except for one probe every [`Breaker::PROBE_EVERY`]: a host that drops packets would
    /// otherwise cost every request the whole wait.
    pub(crate) async fn conn(&self) -> Result<Object> {
        if !self.breaker.admit() {
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "PostgreSQL is unreachable (failing fast until a probe gets through)",
            ));
        }
        match self.pool.get().await {
            Ok(conn) => {
                self.breaker.reached();
                Ok(conn)
            }
            Err(e) => {
                // Waiting for a busy pool is load, not an unreachable database.
                if !matches!(e, PoolError::Timeout(TimeoutType::Wait)) {
                    self.breaker.unreachable();
                }
                Err(StoreError::new(StoreErrorKind::Unavailable, e))
            }
        }
    }
}

/// The client configuration and TLS connector of `url`.
fn parse(url: &str) -> Result<(tokio_postgres::Config, MakeRustlsConnect)> {
    let invalid = |e: String| StoreError::new(StoreErrorKind::Other, e);
    // tokio-postgres does not know libpq's sslrootcert: take it out, and use it here.
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut root_file = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslrootcert", path)) => root_file = Some(path.to_owned()),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| invalid(format!("store URL: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    match (&root_file, config.get_ssl_mode()) {
        (Some(file), _) => {
            let certs = rustls::pki_types::CertificateDer::pem_file_iter(Path::new(file))
                .map_err(|e| invalid(format!("sslrootcert {file}: {e}")))?;
            for cert in certs {
                let cert = cert.map_err(|e| invalid(format!("sslrootcert {file}: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| invalid(format!("sslrootcert {file}: {e}")))?;
            }
            if roots.is_empty() {
                return Err(invalid(format!("sslrootcert {file}: no certificate in it")));
            }
            config.ssl_mode(SslMode::Require);
        }
        (None, SslMode::Require) => {
            return Err(invalid(
                "store URL: sslmode=require needs sslrootcert=PATH, the CA certificate the \
                 database's certificate chains to"
                    .into(),
            ));
        }
        (None, _) => {
            config.ssl_mode(SslMode::Disable);
        }
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(POOL_WAIT);
    }
    // A database that vanishes without closing its connections (a failover, a dead host) is
    // noticed by the LISTEN connection too, not only by the next query.
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(10));
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| invalid(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok((config, MakeRustlsConnect::new(tls)))
}

/// A database error as a store error: a lost, refused or overloaded connection, a server
/// shutting down, or a transaction to retry is `Unavailable` (503 and `Retry-After`).
pub(crate) fn db_error(e: tokio_postgres::Error) -> StoreError {
    let transient = match e.code() {
        None => true, // the connection: closed, reset, timed out
        Some(code) => {
            let class = code.code().get(..2).unwrap_or("");
            matches!(class, "08" | "53" | "57" | "58")
                || *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::READ_ONLY_SQL_TRANSACTION
        }
    };
    let kind = if transient {
        StoreErrorKind::Unavailable
    } else {
        StoreErrorKind::Other
    };
    StoreError::new(kind, e)
}

/// A statement, prepared once per connection: the pool's clients cache them, so a step costs
/// one round trip per statement, not a parse and plan each time.
async fn prepared(c: &impl GenericClient, sql: &str) -> Result<Statement> {
    c.prepare_cached(sql).await.map_err(db_error)
}

/// Runs a statement; the rows it changed.
pub(crate) async fn run(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64> {
    let st = prepared(c, sql).await?;
    c.execute(&st, params).await.map_err(db_error)
}

/// The rows of a query.
pub(crate) async fn rows(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    let st = prepared(c, sql).await?;
    c.query(&st, params).await.map_err(db_error)
}

/// The one row of a query.
pub(crate) async fn row(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row> {
    let st = prepared(c, sql).await?;
    c.query_one(&st, params).await.map_err(db_error)
}

/// The row of a query, if any.
pub(crate) async fn maybe_row(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let st = prepared(c, sql).await?;
    c.query_opt(&st, params).await.map_err(db_error)
}

pub(crate) fn corrupt(what: &'static str) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, what)
}

/// Milliseconds for a BIGINT column.
pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millis()
}

/// A `u64` for a BIGINT column.
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A `u64` back from a BIGINT column.
pub(crate) fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Nanoseconds as a BIGINT (GCRA instants and intervals; ample until the year 2262).
fn nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Charges `quota` for `key` (GCRA, the same as every store) in one statement, committed on
/// its own: the upsert moves the key's theoretical arrival time only when the charge fits, and
/// its row lock makes concurrent charges of one key take turns on every node.
async fn charge(
    c: &impl GenericClient,
    key: &str,
    quota: &Quota,
    now: Timestamp,
) -> Result<RateDecision> {
    let interval = quota.period() / quota.rate();
    let tolerance = nanos(interval).saturating_mul(i64::from(quota.burst() - 1));
    let (now_ns, interval_ns) = (now.as_millis().saturating_mul(1_000_000), nanos(interval));
    for _ in 0..3 {
        let charged = maybe_row(
            c,
            "INSERT INTO rate_limits (key, tat) VALUES ($1, $2::BIGINT + $3::BIGINT)
             ON CONFLICT (key) DO UPDATE SET tat = GREATEST(rate_limits.tat, $2) + $3
                 WHERE GREATEST(rate_limits.tat, $2) - $2 <= $4::BIGINT
             RETURNING tat",
            &[&key, &now_ns, &interval_ns, &tolerance],
        )
        .await?;
        if let Some(row) = charged {
            // The decision the charge made, as the core states it.
            let start = i128::from(row.get::<_, i64>(0)) - i128::from(interval_ns);
            return Ok(tessera::gcra(Some(start), quota, now).0);
        }
        let Some(row) = maybe_row(c, "SELECT tat FROM rate_limits WHERE key = $1", &[&key]).await?
        else {
            continue; // reset meanwhile: charge again
        };
        let (decision, _) = tessera::gcra(Some(i128::from(row.get::<_, i64>(0))), quota, now);
        if !decision.allowed() {
            return Ok(decision);
        }
        // Room was made meanwhile: charge again.
    }
    Err(StoreError::new(
        StoreErrorKind::Unavailable,
        "a rate limit kept changing under its charge",
    ))
}

impl RateLimitStore for PostgresStore {
    async fn rate_limit(&self, key: &str, quota: &Quota, now: Timestamp) -> Result<RateDecision> {
        charge(&self.conn().await?, key, quota, now).await
    }

    async fn reset_rate_limit(&self, key: &str) -> Result<()> {
        let conn = self.conn().await?;
        run(&conn, "DELETE FROM rate_limits WHERE key = $1", &[&key]).await?;
        Ok(())
    }
}
