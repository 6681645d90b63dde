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
    Hs256Secret::new(secret_bytes(&secret)?).map(Some).map_err(|e| {
        format!("hs256_secret: {e}; it must be at least 32 random bytes (256 bits): generate one with `openssl rand -base64 48`")
    })
}

/// The bytes of a shared secret: `base64:…` (standard or URL-safe alphabet, padded or not) and
/// `hex:…` for a binary secret another system generated (what teams moving to Tessera hold),
/// otherwise the text itself, as UTF-8.
fn secret_bytes(secret: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    if let Some(encoded) = secret.strip_prefix("base64:") {
        let encoded = encoded.trim().trim_end_matches('=');
        return STANDARD_NO_PAD
            .decode(encoded)
            .or_else(|_| URL_SAFE_NO_PAD.decode(encoded))
            .map_err(|_| "hs256_secret: what follows base64: is not base64".to_owned());
    }
    if let Some(encoded) = secret.strip_prefix("hex:") {
        let digits = encoded.trim().as_bytes();
        let nibble = |b: u8| char::from(b).to_digit(16);
        return digits
            .chunks(2)
            .map(|pair| match pair {
                [hi, lo] => Some(nibble(*hi)? as u8 * 16 + nibble(*lo)? as u8),
                _ => None,
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| {
                "hs256_secret: what follows hex: is not an even number of hex digits".to_owned()
            });
    }
    Ok(secret.as_bytes().to_vec())
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

#[cfg(test)]
mod tests {
    use super::secret_bytes;

    #[test]
    fn binary_secrets_are_written_as_base64_or_hex() {
        let bytes: Vec<u8> = (0u8..40).map(|i| i.wrapping_mul(97) ^ 0x5a).collect();
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes);
        let url = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        for written in [
            format!("base64:{b64}"),
            format!("base64:{url}"),
            format!("hex:{hex}"),
            format!("hex:{}", hex.to_uppercase()),
        ] {
            assert_eq!(secret_bytes(&written).unwrap(), bytes, "{written}");
        }
        assert_eq!(secret_bytes("plain text").unwrap(), b"plain text");
        for bad in ["base64:not*base64", "hex:abc", "hex:zz", "hex:+1"] {
            assert!(secret_bytes(bad).is_err(), "{bad}");
        }
    }
}
