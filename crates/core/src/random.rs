//! The one source of randomness: the operating system CSPRNG.

use ring::rand::{SecureRandom, SystemRandom};

use crate::Error;

/// Fills `buf` from the OS CSPRNG.
///
/// # Errors
/// [`Error::Random`] if the operating system refuses to provide randomness.
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), Error> {
    SystemRandom::new().fill(buf).map_err(|_| Error::Random)
}

/// `N` random bytes.
pub(crate) fn bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}

/// A random 128-bit identifier, base64url (22 characters): for request ids and the like.
///
/// # Errors
/// [`Error::Random`] if the CSPRNG fails.
pub fn random_id() -> Result<String, Error> {
    Ok(crate::encoding::b64_encode(&bytes::<16>()?))
}

/// A uniform random number in `0..=max`.
pub(crate) fn up_to(max: u64) -> Result<u64, Error> {
    if max == u64::MAX {
        return Ok(u64::from_le_bytes(bytes()?));
    }
    let span = max + 1;
    // Rejection sampling: drop draws from the incomplete last block to stay uniform.
    let limit = u64::MAX - (u64::MAX % span);
    loop {
        let draw = u64::from_le_bytes(bytes()?);
        if draw < limit {
            return Ok(draw % span);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_differ_and_stay_in_range() {
        let a: [u8; 32] = bytes().unwrap();
        let b: [u8; 32] = bytes().unwrap();
        assert_ne!(a, b);
        for _ in 0..200 {
            assert!(up_to(6).unwrap() <= 6);
        }
        assert_eq!(up_to(0).unwrap(), 0);
    }
}
