//! One RSA signing key (RS256, 2048-bit), its public JWK, and its `kid`: the RFC 7638 thumbprint
//! of that JWK, so a `kid` names exactly one public key and cannot be reused for another.
//!
//! ring parses and signs (it is already linked for TLS and by jsonwebtoken); ring cannot
//! generate RSA keys, so [`SigningKey::generate`] uses the `rsa` crate, and only the key store's
//! first start, the rotation function and the admin tool call it.

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rsa::PublicKeyComponents;
use ring::signature::RsaKeyPair;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::KeyError;

/// Modulus size of generated keys, in bits.
pub const RSA_BITS: usize = 2048;

/// A public key as the JWKS publishes it (RFC 7517, RFC 7518 §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwk {
    /// Always `RSA`.
    #[schema(example = "RSA")]
    pub kty: String,
    /// The RFC 7638 thumbprint of the key.
    pub kid: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    #[schema(rename = "use", example = "sig")]
    pub use_: String,
    /// Always `RS256`.
    #[schema(example = "RS256")]
    pub alg: String,
    /// The modulus, base64url without padding.
    pub n: String,
    /// The public exponent, base64url without padding.
    #[schema(example = "AQAB")]
    pub e: String,
}

impl Jwk {
    /// The JWK of the RSA public key `(n, e)` (big-endian bytes), its `kid` the thumbprint.
    pub fn rsa(n: &[u8], e: &[u8]) -> Jwk {
        let n = URL_SAFE_NO_PAD.encode(strip_zeros(n));
        let e = URL_SAFE_NO_PAD.encode(strip_zeros(e));
        Jwk {
            kty: "RSA".into(),
            kid: thumbprint(&n, &e),
            use_: "sig".into(),
            alg: "RS256".into(),
            n,
            e,
        }
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
pub fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// A private RSA key, when it was first published, and its public JWK. Debug never prints key
/// material.
#[derive(Clone)]
pub struct SigningKey {
    der: Arc<Vec<u8>>,
    encoding: jsonwebtoken::EncodingKey,
    jwk: Jwk,
    /// Epoch seconds at which the key first appeared in the public key set.
    pub published_at: i64,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.jwk.kid)
            .field("published_at", &self.published_at)
            .finish()
    }
}

/// How a signing key is written in the private secret.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredKey {
    pub kid: String,
    /// PKCS#1 RSAPrivateKey DER, base64.
    pub der: String,
    pub published_at: i64,
}

impl SigningKey {
    /// A key from its PKCS#1 DER form; refused unless ring accepts it and it is 2048 bits or more.
    pub fn from_der(der: Vec<u8>, published_at: i64) -> Result<SigningKey, KeyError> {
        let pair = RsaKeyPair::from_der(&der)
            .map_err(|e| KeyError::Malformed(format!("an RSA key is unusable: {e}")))?;
        if pair.public().modulus_len() * 8 < RSA_BITS {
            return Err(KeyError::Malformed(format!(
                "an RSA key is shorter than {RSA_BITS} bits"
            )));
        }
        let public: PublicKeyComponents<Vec<u8>> = pair.public().into();
        let jwk = Jwk::rsa(&public.n, &public.e);
        Ok(SigningKey {
            encoding: jsonwebtoken::EncodingKey::from_rsa_der(&der),
            der: Arc::new(der),
            jwk,
            published_at,
        })
    }

    /// A new random 2048-bit key, published from `now`.
    pub fn generate(now: i64) -> Result<SigningKey, KeyError> {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let mut rng = rand::rngs::OsRng;
        let key = rsa::RsaPrivateKey::new(&mut rng, RSA_BITS)
            .map_err(|e| KeyError::Unavailable(format!("RSA key generation failed: {e}")))?;
        let der = key
            .to_pkcs1_der()
            .map_err(|e| KeyError::Unavailable(format!("RSA key encoding failed: {e}")))?;
        SigningKey::from_der(der.as_bytes().to_vec(), now)
    }

    pub fn kid(&self) -> &str {
        &self.jwk.kid
    }

    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The key as jsonwebtoken's RS256 encoder takes it.
    pub fn encoding_key(&self) -> &jsonwebtoken::EncodingKey {
        &self.encoding
    }

    pub(super) fn to_stored(&self) -> StoredKey {
        StoredKey {
            kid: self.jwk.kid.clone(),
            der: STANDARD.encode(self.der.as_slice()),
            published_at: self.published_at,
        }
    }

    pub(super) fn from_stored(stored: StoredKey) -> Result<SigningKey, KeyError> {
        let der = STANDARD
            .decode(stored.der.trim())
            .map_err(|_| KeyError::Malformed(format!("RSA key {:?} is not base64", stored.kid)))?;
        let key = SigningKey::from_der(der, stored.published_at)?;
        if key.kid() != stored.kid {
            return Err(KeyError::Malformed(format!(
                "RSA key {:?} does not match its kid (the thumbprint is {:?})",
                stored.kid,
                key.kid()
            )));
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_the_example_of_rfc_7638() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn a_generated_key_round_trips_through_its_stored_form() {
        let key = SigningKey::generate(7).unwrap();
        assert_eq!(key.jwk().e, "AQAB");
        let back = SigningKey::from_stored(key.to_stored()).unwrap();
        assert_eq!(back.kid(), key.kid());
        assert_eq!(back.published_at, 7);
    }

    #[test]
    fn a_stored_key_under_another_kid_is_refused() {
        let mut stored = SigningKey::generate(0).unwrap().to_stored();
        stored.kid = "made-up".into();
        assert!(SigningKey::from_stored(stored).is_err());
    }

    #[test]
    fn debug_never_prints_key_material() {
        let key = SigningKey::generate(0).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains(key.kid()) && !shown.contains("der"));
    }
}
