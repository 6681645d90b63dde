//! The server secret, kept in the store: made once by whichever node or process starts first
//! (nodes racing to make it agree on one), sealed under the key-encryption key, shared by every
//! node and command that opens the same store.

use crate::store::KeyStore;
use crate::{Error, Sealer, ServerSecret, StoreError, StoreErrorKind};

use super::SEALED_SETTING;

/// The setting that holds the sealed secret.
const SETTING: &str = "server-secret";
/// What the seal binds the secret to.
const PURPOSE: &str = "server-secret";

impl ServerSecret {
    /// The secret stored in `store`, made and stored (sealed by `sealer`) if there is none.
    /// One found in clear (stored before sealing existed) is sealed now; with `reseal`, one
    /// sealed under an older key-encryption key is sealed anew under the current one.
    ///
    /// # Errors
    /// Store errors; [`Error::InvalidKey`] for a secret in clear in a store whose secrets are
    /// sealed (someone with write access to the store put it there) or one `sealer` cannot
    /// open; a corrupt stored value.
    pub async fn load_or_create<S: KeyStore>(
        store: &S,
        sealer: &Sealer,
        reseal: bool,
    ) -> Result<Self, Error> {
        let fresh = Self::generate()?;
        let sealed = sealer.seal(PURPOSE, SETTING, fresh.expose_bytes())?;
        let stored = store.init_setting(SETTING, &sealed).await?;
        let marked = store.get_setting(SEALED_SETTING).await?.is_some();
        let in_clear = !Sealer::is_sealed(&stored);
        if in_clear && marked {
            return Err(Error::InvalidKey(
                "the server secret is in clear in a store whose secrets are sealed: someone \
                 with write access to the store put it there; restore it from a backup",
            ));
        }
        let bytes = if in_clear {
            stored.clone()
        } else {
            sealer.open(PURPOSE, SETTING, &stored)?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
            Error::Store(StoreError::new(
                StoreErrorKind::Corrupt,
                "the stored server secret is not 32 bytes",
            ))
        })?;
        if in_clear || (reseal && !sealer.is_current(&stored)) {
            let resealed = sealer.seal(PURPOSE, SETTING, &bytes)?;
            store.put_setting(SETTING, &resealed).await?;
        }
        if !marked {
            store.init_setting(SEALED_SETTING, b"1").await?;
        }
        Ok(Self::from_bytes(bytes))
    }
}
