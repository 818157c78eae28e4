//! Randomness and single-use secrets: the one place identifiers, mailed tokens and keys are
//! drawn from the operating system's generator, and where a mailed token is hashed before it
//! is stored.

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// `N` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// `N` random bytes, URL-safe base64 without padding.
pub fn random_token<const N: usize>() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// A fresh random identifier (128 bits, URL-safe): session ids, token ids, file names.
pub fn new_id() -> String {
    random_token::<16>()
}

/// A token to mail (reset links): 256 bits, URL-safe. Only its [`token_hash`] is stored.
pub fn new_mail_token() -> String {
    random_token::<32>()
}

/// SHA-256 of a mailed token, hex: the only form the store ever sees.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_128_bits_and_mail_tokens_256_bits_url_safe() {
        assert_eq!(new_id().len(), 22);
        assert_eq!(new_mail_token().len(), 43);
        assert!(new_mail_token()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(new_id(), new_id());
    }

    #[test]
    fn token_hash_is_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
