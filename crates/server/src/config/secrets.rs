//! The secret-bearing settings: the HS256 secret, the admin API key and the key-encryption
//! keys, each refused with advice when it cannot be safe.

use tessera::{Algorithm, ApiKey, Hs256Secret, KeyEncryptionKey};

use super::StoreUrl;
use super::raw::{self, RawConfig};

pub(super) fn hs256_secret(
    secret: Option<String>,
    algorithm: Algorithm,
) -> Result<Option<Hs256Secret>, String> {
    let Some(secret) = secret else {
        return Ok(None);
    };
    if algorithm != Algorithm::HS256 {
        return Err("hs256_secret is set but algorithm is not HS256; set algorithm = \"HS256\" or remove it".into());
    }
    Hs256Secret::new(secret.into_bytes()).map(Some).map_err(|e| {
        format!("hs256_secret: {e}; it must be at least 32 random bytes (256 bits): generate one with `openssl rand -base64 48`")
    })
}

pub(super) fn admin_key(key: Option<String>) -> Result<Option<ApiKey>, String> {
    key.map(|k| {
        ApiKey::parse(k.trim()).map_err(|_| {
            "admin_api_key must be a tsk_ key; create one with `tessera api-key new`".to_owned()
        })
    })
    .transpose()
}

/// The key-encryption keys: required on a shared store (every node must have the same one,
/// and a file beside one node is no place for it); on SQLite a file is made when unset.
pub(super) fn keks(
    raw: &RawConfig,
    store: &StoreUrl,
) -> Result<(Option<KeyEncryptionKey>, Vec<KeyEncryptionKey>), String> {
    let how =
        "generate one with `tessera keys new-kek` (or `openssl rand -base64 32 | tr '+/' '-_'`)";
    let current = raw
        .key_encryption_key
        .as_deref()
        .map(|k| KeyEncryptionKey::parse(k).map_err(|e| format!("key_encryption_key: {e}; {how}")))
        .transpose()?;
    if current.is_none() && !matches!(store, StoreUrl::Sqlite(_)) {
        return Err(format!(
            "key_encryption_key is required with a shared store: every node needs the same one \
             to open the sealed signing keys and server secret; {how}"
        ));
    }
    let previous = raw
        .previous_key_encryption_keys
        .as_ref()
        .map_or_else(Vec::new, raw::StringList::items)
        .iter()
        .map(|k| {
            KeyEncryptionKey::parse(k).map_err(|e| format!("previous_key_encryption_keys: {e}"))
        })
        .collect::<Result<_, _>>()?;
    Ok((current, previous))
}
