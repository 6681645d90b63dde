//! Raw configuration, as written: the TOML file, `TESSERA_*` variables and flags, each a
//! [`RawConfig`] of optional values, merged with the later source winning.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::duration::DurationValue;
use super::limits::RawRateLimits;

/// Every setting, each optional. Field names are the TOML keys and, upper-cased after
/// `TESSERA_`, the environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub algorithm: Option<String>,
    pub hs256_secret: Option<String>,
    pub admin_api_key: Option<String>,
    pub access_ttl: Option<DurationValue>,
    pub idle_timeout: Option<DurationValue>,
    pub absolute_timeout: Option<DurationValue>,
    pub refresh_grace: Option<DurationValue>,
    pub key_rotation_interval: Option<DurationValue>,
    pub purge_interval: Option<DurationValue>,
    pub audit_retention: Option<DurationValue>,
    pub request_timeout: Option<DurationValue>,
    pub max_sessions_per_user: Option<u32>,
    pub on_session_limit: Option<String>,
    pub cookie_secure: Option<bool>,
    pub max_body_bytes: Option<usize>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub rate_limits: Option<RawRateLimits>,
    pub trusted_proxies: Option<StringList>,
    pub forwarded_header: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub behind_tls_proxy: Option<bool>,
    pub cookie_same_site: Option<String>,
    pub public_origin: Option<String>,
    pub cors_origins: Option<StringList>,
    pub store: Option<String>,
    pub redis_key_tag: Option<String>,
    pub redis_wait_replicas: Option<u32>,
    pub feed_staleness: Option<DurationValue>,
    pub signup: Option<String>,
    pub signup_client_limit: Option<String>,
    pub signin_account_limit: Option<String>,
    pub signin_device_limit: Option<String>,
    pub signin_client_limit: Option<String>,
    pub password_hash_queue: Option<usize>,
    pub password_hash_wait: Option<DurationValue>,
    pub key_encryption_key: Option<String>,
    pub previous_key_encryption_keys: Option<StringList>,
    pub metrics_listen: Option<String>,
    pub pages_dir: Option<PathBuf>,
    pub product_name: Option<String>,
    pub logo: Option<PathBuf>,
    pub accent_color: Option<String>,
    pub password_min_strength: Option<u8>,
}

/// A list, written as a TOML array or as one comma-separated string (the environment's form).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum StringList {
    /// `["a", "b"]`
    List(Vec<String>),
    /// `"a, b"`
    Text(String),
}

impl StringList {
    /// The items, trimmed, empty ones dropped.
    pub fn items(&self) -> Vec<String> {
        let items: Vec<&str> = match self {
            Self::List(l) => l.iter().map(String::as_str).collect(),
            Self::Text(t) => t.split(',').collect(),
        };
        items
            .into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// The names of every setting, for messages and the environment.
pub const KEYS: [&str; 48] = [
    "pages_dir",
    "product_name",
    "logo",
    "accent_color",
    "password_min_strength",
    "cors_origins",
    "signup",
    "signup_client_limit",
    "signin_account_limit",
    "signin_device_limit",
    "signin_client_limit",
    "password_hash_queue",
    "password_hash_wait",
    "key_encryption_key",
    "previous_key_encryption_keys",
    "metrics_listen",
    "store",
    "redis_key_tag",
    "redis_wait_replicas",
    "feed_staleness",
    "cookie_same_site",
    "public_origin",
    "tls_cert",
    "tls_key",
    "behind_tls_proxy",
    "audit_retention",
    "trusted_proxies",
    "forwarded_header",
    "listen",
    "data_dir",
    "issuer",
    "audience",
    "algorithm",
    "hs256_secret",
    "admin_api_key",
    "access_ttl",
    "idle_timeout",
    "absolute_timeout",
    "refresh_grace",
    "key_rotation_interval",
    "purge_interval",
    "request_timeout",
    "max_sessions_per_user",
    "on_session_limit",
    "cookie_secure",
    "max_body_bytes",
    "log_format",
    "log_level",
];

/// Variables that are not settings but are ours: the config file path.
const ENV_EXTRA: [&str; 1] = ["TESSERA_CONFIG"];

impl RawConfig {
    /// Reads a TOML file. Unknown keys are an error.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }

    /// Reads `TESSERA_*` variables from `vars`. An unknown `TESSERA_` name is not an error
    /// (other tools use the prefix too: `TESSERA_URL` in the README, a harness's
    /// `TESSERA_BIN`), but it may be a typo of a setting: each comes back as a warning to log,
    /// with the nearest known name when one is close.
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Self, Vec<String>), String> {
        let mut table = toml::Table::new();
        let mut warnings = Vec::new();
        for (name, value) in vars {
            let Some(key) = name.strip_prefix("TESSERA_") else {
                continue;
            };
            if ENV_EXTRA.contains(&name.as_str()) {
                continue;
            }
            let key = key.to_ascii_lowercase();
            if let Some(limit) = key.strip_prefix("rate_limits_") {
                insert_limit(&mut table, limit, &value).map_err(|e| format!("{name}: {e}"))?;
                continue;
            }
            if !KEYS.contains(&key.as_str()) {
                warnings.push(unknown_variable(&name));
                continue;
            }
            table.insert(
                key.clone(),
                typed(&key, &value).map_err(|e| format!("{name}: {e}"))?,
            );
        }
        let raw = Self::deserialize(toml::Value::Table(table))
            .map_err(|e| format!("environment: {e}"))?;
        Ok((raw, warnings))
    }

    /// `self` with every value set in `over` replaced by it.
    pub fn overridden_by(self, over: Self) -> Self {
        let rate_limits = match (self.rate_limits, over.rate_limits) {
            (Some(a), Some(b)) => Some(a.overridden_by(b)),
            (a, b) => b.or(a),
        };
        macro_rules! pick {
            ($($f:ident),*) => { Self { rate_limits, $($f: over.$f.or(self.$f)),* } };
        }
        pick!(
            listen,
            data_dir,
            issuer,
            audience,
            algorithm,
            hs256_secret,
            admin_api_key,
            access_ttl,
            idle_timeout,
            absolute_timeout,
            refresh_grace,
            key_rotation_interval,
            purge_interval,
            audit_retention,
            trusted_proxies,
            forwarded_header,
            tls_cert,
            tls_key,
            behind_tls_proxy,
            cookie_same_site,
            public_origin,
            cors_origins,
            store,
            redis_key_tag,
            redis_wait_replicas,
            feed_staleness,
            request_timeout,
            max_sessions_per_user,
            on_session_limit,
            cookie_secure,
            max_body_bytes,
            log_format,
            log_level,
            signup,
            signup_client_limit,
            signin_account_limit,
            signin_device_limit,
            signin_client_limit,
            password_hash_queue,
            password_hash_wait,
            key_encryption_key,
            previous_key_encryption_keys,
            metrics_listen,
            pages_dir,
            product_name,
            logo,
            accent_color,
            password_min_strength
        )
    }
}

/// `TESSERA_RATE_LIMITS_<CLASS>_<BY>` into `rate_limits.<class>.<by>`.
fn insert_limit(table: &mut toml::Table, name: &str, value: &str) -> Result<(), String> {
    let (class, by) = name
        .split_once('_')
        .ok_or("name it TESSERA_RATE_LIMITS_<VERIFY|REFRESH|LOGIN|ADMIN>_<SESSION|USER|CLIENT>")?;
    let limits = table
        .entry("rate_limits")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let class_table = limits
        .as_table_mut()
        .ok_or("rate_limits must be a table")?
        .entry(class)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    class_table
        .as_table_mut()
        .ok_or("rate_limits entries must be tables")?
        .insert(by.to_owned(), toml::Value::String(value.to_owned()));
    Ok(())
}

/// The warning for a `TESSERA_` variable that names no setting (its value is never shown).
fn unknown_variable(name: &str) -> String {
    let nearest = KEYS
        .iter()
        .map(|k| format!("TESSERA_{}", k.to_ascii_uppercase()))
        .map(|known| (edit_distance(name, &known), known))
        .filter(|(d, _)| *d <= 2)
        .min();
    match nearest {
        Some((_, known)) => {
            format!("{name} is not a setting and is ignored; did you mean {known}?")
        }
        None => format!("{name} is not a setting and is ignored"),
    }
}

/// Levenshtein distance, for suggesting the setting a typo meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// An environment string as the TOML value its setting expects.
fn typed(key: &str, value: &str) -> Result<toml::Value, String> {
    match key {
        "max_sessions_per_user"
        | "max_body_bytes"
        | "password_hash_queue"
        | "redis_wait_replicas"
        | "password_min_strength" => value
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("{value:?} is not a whole number")),
        "cookie_secure" | "behind_tls_proxy" => value
            .parse::<bool>()
            .map(toml::Value::Boolean)
            .map_err(|_| format!("{value:?} is not true or false")),
        _ => Ok(toml::Value::String(value.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<RawConfig, String> {
        env_and_warnings(pairs).map(|(raw, _)| raw)
    }

    fn env_and_warnings(pairs: &[(&str, &str)]) -> Result<(RawConfig, Vec<String>), String> {
        RawConfig::from_env(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    #[test]
    fn env_reads_every_kind_of_value() {
        let raw = env(&[
            ("TESSERA_LISTEN", "0.0.0.0:9000"),
            ("TESSERA_ACCESS_TTL", "5m"),
            ("TESSERA_COOKIE_SECURE", "false"),
            ("TESSERA_MAX_SESSIONS_PER_USER", "3"),
            ("TESSERA_CONFIG", "/etc/tessera.toml"),
            ("PATH", "/bin"),
        ])
        .unwrap();
        assert_eq!(raw.listen.as_deref(), Some("0.0.0.0:9000"));
        assert_eq!(raw.access_ttl, Some(DurationValue::Text("5m".into())));
        assert_eq!(raw.cookie_secure, Some(false));
        assert_eq!(raw.max_sessions_per_user, Some(3));
    }

    #[test]
    fn unknown_env_is_a_warning_with_a_suggestion_and_ill_typed_env_an_error() {
        let (raw, warnings) = env_and_warnings(&[
            ("TESSERA_LISTN", "x"),
            ("TESSERA_URL", "http://127.0.0.1:8080"),
            ("TESSERA_BIN", "/secret/path"),
            ("TESSERA_LISTEN", "127.0.0.1:9"),
        ])
        .unwrap();
        assert_eq!(raw.listen.as_deref(), Some("127.0.0.1:9"));
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].contains("did you mean TESSERA_LISTEN?"),
            "{warnings:?}"
        );
        assert!(
            !warnings[1].contains("did you mean"),
            "no close name: {warnings:?}"
        );
        assert!(
            !warnings.concat().contains("/secret/path"),
            "values are never shown"
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert!(
            env(&[("TESSERA_COOKIE_SECURE", "yes")])
                .unwrap_err()
                .contains("true or false")
        );
        assert!(env(&[("TESSERA_MAX_BODY_BYTES", "lots")]).is_err());
    }

    #[test]
    fn file_rejects_unknown_keys_and_accepts_both_duration_forms() {
        let dir = std::env::temp_dir().join(format!("tessera-raw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(&good, "access_ttl = 300\nidle_timeout = \"2d\"\n").unwrap();
        let raw = RawConfig::from_file(&good).unwrap();
        assert_eq!(raw.access_ttl, Some(DurationValue::Secs(300)));
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "acess_ttl = 300\n").unwrap();
        let err = RawConfig::from_file(&bad).unwrap_err();
        assert!(err.contains("acess_ttl"), "{err}");
        assert!(
            RawConfig::from_file(&dir.join("missing.toml"))
                .unwrap_err()
                .contains("cannot read")
        );
    }

    #[test]
    fn rate_limits_come_from_nested_tables_and_env() {
        let raw = env(&[
            ("TESSERA_RATE_LIMITS_REFRESH_SESSION", "5/s"),
            ("TESSERA_RATE_LIMITS_ADMIN_CLIENT", "off"),
        ])
        .unwrap();
        let limits = raw.rate_limits.unwrap();
        assert_eq!(limits.refresh.unwrap().session.as_deref(), Some("5/s"));
        assert_eq!(limits.admin.unwrap().client.as_deref(), Some("off"));
        assert!(
            env(&[("TESSERA_RATE_LIMITS_PANIC_CLIENT", "1/s")]).is_err(),
            "unknown class"
        );
        assert!(env(&[("TESSERA_RATE_LIMITS_VERIFY", "1/s")]).is_err());
        let file: RawConfig =
            toml::from_str("[rate_limits]\nverify = { session = \"1/s\" }\n").unwrap();
        let env = env(&[("TESSERA_RATE_LIMITS_VERIFY_CLIENT", "2/s")]).unwrap();
        let merged = file.overridden_by(env).rate_limits.unwrap().verify.unwrap();
        assert_eq!(
            (merged.session.as_deref(), merged.client.as_deref()),
            (Some("1/s"), Some("2/s"))
        );
    }

    #[test]
    fn later_sources_win() {
        let file = RawConfig {
            listen: Some("a".into()),
            audience: Some("file".into()),
            ..RawConfig::default()
        };
        let env = RawConfig {
            listen: Some("b".into()),
            ..RawConfig::default()
        };
        let merged = file.overridden_by(env);
        assert_eq!(merged.listen.as_deref(), Some("b"));
        assert_eq!(merged.audience.as_deref(), Some("file"));
    }
}
