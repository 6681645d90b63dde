//! JSON Web Tokens as Tessera issues and accepts them: signing keys pinned to one algorithm,
//! a rotating keyset published as JWKS, and a verifier that checks everything explicitly.
//!
//! Parsing and checks are our own on purpose (see `docs/decisions/0001-jose.md`): general JOSE
//! libraries are lenient by default (long leeways, optional `iss`/`aud`, silent duplicate
//! members), and we want one strict path with a test for every rejection. The cryptography is
//! `ring`'s.

mod algorithm;
mod cache;
mod claims;
mod import;
mod json;
mod jwk;
mod jws;
mod key;
mod keyset;
mod stored;
mod verifier;

pub use algorithm::Algorithm;
pub use claims::{AccessClaims, VerifiedClaims};
pub use import::ImportedKey;
pub use jwk::{Jwk, JwkSet};
pub use key::{SigningKey, VerifyingKey};
pub use keyset::{KeyEntry, KeyState, Keyset, RotationPolicy, TrustedKey};
pub use verifier::{Validation, Verifier};

pub(crate) use cache::VerifiedCache;
pub(crate) use claims::REGISTERED as REGISTERED_CLAIMS;
pub(crate) use jws::sign_compact;
pub(crate) use key::MIN_HMAC_SECRET;
