//! Strict base64url and the framed, checksummed secret format shared by every opaque token.
//!
//! Decoding rejects padding and non-canonical trailing bits, so every value has exactly one
//! textual form: a token cannot be varied to slip past a cache or a comparison.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;

/// Length of the checksum appended to framed secrets.
const CHECKSUM_LEN: usize = 4;

/// Encodes `bytes` as unpadded base64url.
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded, canonical base64url; `None` on anything else.
pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

fn checksum(prefix: &str, payload: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(prefix.as_bytes());
    ctx.update(payload);
    let d = ctx.finish();
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(d.as_ref().get(..CHECKSUM_LEN).unwrap_or(&[0; CHECKSUM_LEN]));
    out
}

/// `prefix` + base64url(payload ‖ checksum): recognisable by secret scanners, and garbage is
/// rejected by [`unframe`] before anything is looked up.
pub(crate) fn frame(prefix: &str, payload: &[u8]) -> String {
    let mut body = payload.to_vec();
    body.extend_from_slice(&checksum(prefix, payload));
    let mut out = String::with_capacity(prefix.len() + body.len() * 4 / 3 + 4);
    out.push_str(prefix);
    out.push_str(&b64_encode(&body));
    out
}

/// The payload of a framed secret of exactly `len` bytes, or `None` when the prefix, the
/// encoding, the length or the checksum is wrong.
pub(crate) fn unframe(prefix: &str, text: &str, len: usize) -> Option<Vec<u8>> {
    let encoded = text.strip_prefix(prefix)?;
    if encoded.len() > (len + CHECKSUM_LEN) * 2 {
        return None; // far too long: do not even decode it
    }
    let mut body = b64_decode(encoded)?;
    if body.len() != len + CHECKSUM_LEN {
        return None;
    }
    let sum = body.split_off(len);
    // The checksum is not a secret: it only filters typos and garbage.
    (sum == checksum(prefix, &body)).then_some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trips() {
        for len in [0usize, 1, 2, 3, 32, 56] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let text = frame("tsx_", &payload);
            assert_eq!(unframe("tsx_", &text, len).unwrap(), payload);
        }
    }

    #[test]
    fn unframe_rejects_wrong_prefix_length_and_checksum() {
        let text = frame("tsx_", &[7u8; 32]);
        assert!(unframe("tsy_", &text, 32).is_none());
        assert!(unframe("tsx_", &text, 31).is_none());
        let mut chars: Vec<char> = text.chars().collect();
        let i = chars.len() - 10;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let flipped: String = chars.into_iter().collect();
        assert!(unframe("tsx_", &flipped, 32).is_none());
        assert!(unframe("tsx_", &format!("{text}A"), 32).is_none());
    }

    #[test]
    fn decode_rejects_padding_and_non_canonical_bits() {
        assert_eq!(b64_decode("QQ").unwrap(), b"A");
        assert!(b64_decode("QQ==").is_none());
        assert!(b64_decode("QR").is_none(), "trailing bits must be zero");
        assert!(
            b64_decode("Q+").is_none(),
            "standard alphabet is not base64url"
        );
        assert!(b64_decode("Q Q").is_none());
    }
}
