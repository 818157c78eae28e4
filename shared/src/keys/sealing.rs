//! Sealing a TOTP secret for storage: AES-256-GCM under a data key derived (HKDF-SHA256) from
//! one of the refresh-token HMAC keys of the private set, named by its `kid` in the sealed
//! value, with the account's id as associated data (a sealed secret copied onto another
//! account does not open).
//!
//! Why the private key set and not a KMS key: the functions that check codes (login's second
//! step, enrolment) read that set anyway to sign tokens, so sealing costs no extra call, no
//! IAM grant and no cold-start latency; and whoever can read the set can already mint tokens,
//! so a KMS key would protect nothing they could not reach. Rotation keeps the HMAC keys, so a
//! secret sealed under an older `kid` keeps opening; an operator must not remove an HMAC key
//! from the secret while TOTP secrets sealed under it are in use.
//!
//! The sealed form: `v1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>`.

use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf;

use super::KeySet;
use crate::domain::UserId;

const VERSION: &str = "v1";
const INFO: &[u8] = b"authyy totp secret v1";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Malformed, sealed under a key the set no longer has, or tampered with.
    #[error("sealed value does not open")]
    DoesNotOpen,
    #[error("sealing failed")]
    Failed,
}

fn data_key(hmac_key: &[u8]) -> Result<LessSafeKey, SealError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"").extract(hmac_key);
    let okm = prk.expand(&[INFO], &AES_256_GCM).map_err(|_| SealError::Failed)?;
    let mut bytes = [0u8; 32];
    okm.fill(&mut bytes).map_err(|_| SealError::Failed)?;
    let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| SealError::Failed)?;
    Ok(LessSafeKey::new(key))
}

fn aad(user_id: UserId) -> String {
    format!("totp\0{user_id}")
}

/// `plaintext` sealed for account `user_id` under the set's signing HMAC key.
pub fn seal(keys: &KeySet, user_id: UserId, plaintext: &[u8]) -> Result<String, SealError> {
    let (kid, key) = keys.signing();
    let key = data_key(key)?;
    let nonce_bytes = crate::randomness::random_bytes::<NONCE_LEN>();
    let mut in_out = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce_bytes),
        Aad::from(aad(user_id).as_bytes()),
        &mut in_out,
    )
    .map_err(|_| SealError::Failed)?;
    let mut out = nonce_bytes.to_vec();
    out.extend(in_out);
    Ok(format!(
        "{VERSION}.{kid}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
    ))
}

/// The plaintext of `sealed`, if it was sealed for `user_id` under a key `keys` has.
pub fn open(keys: &KeySet, user_id: UserId, sealed: &str) -> Result<Vec<u8>, SealError> {
    let mut parts = sealed.splitn(3, '.');
    let (Some(VERSION), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SealError::DoesNotOpen);
    };
    let key = data_key(keys.verifying(kid).ok_or(SealError::DoesNotOpen)?)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| SealError::DoesNotOpen)?;
    let (nonce, ciphertext) = bytes.split_at_checked(NONCE_LEN).ok_or(SealError::DoesNotOpen)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::DoesNotOpen)?;
    let mut in_out = ciphertext.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad(user_id).as_bytes()), &mut in_out)
        .map_err(|_| SealError::DoesNotOpen)?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::random_key;

    fn keys() -> KeySet {
        KeySet::single("k1", random_key()).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_for_its_account_and_hides_the_plaintext() {
        let keys = keys();
        let sealed = seal(&keys, 7, b"twenty bytes secret!").unwrap();
        assert!(sealed.starts_with("v1.k1."));
        assert!(!sealed.contains("twenty"));
        assert_eq!(open(&keys, 7, &sealed).unwrap(), b"twenty bytes secret!");
        // A fresh nonce each time.
        assert_ne!(seal(&keys, 7, b"twenty bytes secret!").unwrap(), sealed);
    }

    #[test]
    fn a_sealed_secret_does_not_open_for_another_account_or_under_another_key() {
        let keys = keys();
        let sealed = seal(&keys, 7, b"secret").unwrap();
        assert!(open(&keys, 8, &sealed).is_err());
        let other = KeySet::single("k1", random_key()).unwrap();
        assert!(open(&other, 7, &sealed).is_err());
    }

    #[test]
    fn a_secret_sealed_before_a_rotation_still_opens_after_it() {
        let keys = keys();
        let sealed = seal(&keys, 7, b"secret").unwrap();
        let rotated = keys.rotated("k2", random_key()).unwrap();
        assert_eq!(open(&rotated, 7, &sealed).unwrap(), b"secret");
        assert!(seal(&rotated, 7, b"secret").unwrap().starts_with("v1.k2."));
    }

    #[test]
    fn a_tampered_or_malformed_sealed_value_does_not_open() {
        let keys = keys();
        let sealed = seal(&keys, 7, b"secret").unwrap();
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        for bad in [
            tampered.as_str(),
            "",
            "v1.k1.",
            "v1.k1.AAAA",
            "v2.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            &sealed.replacen("v1.k1.", "v1.k9.", 1),
        ] {
            assert!(open(&keys, 7, bad).is_err(), "{bad:?}");
        }
    }
}
