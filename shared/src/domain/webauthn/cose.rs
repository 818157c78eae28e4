//! Credential public keys as COSE keys (RFC 9052/9053), the two algorithms registration asks
//! for, and their signatures (through ring, the crate's one crypto provider).

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

use super::cbor::{bytes_at, int_at, map, only_item};
use super::error::WebauthnError;

/// ECDSA over P-256 with SHA-256 (COSE algorithm -7).
pub const ES256: i64 = -7;
/// RSASSA-PKCS1-v1_5 with SHA-256 (COSE algorithm -257).
pub const RS256: i64 = -257;

const KTY: i64 = 1;
const ALG: i64 = 3;
const KTY_EC2: i64 = 2;
const KTY_RSA: i64 = 3;
const EC2_CRV: i64 = -1;
const EC2_X: i64 = -2;
const EC2_Y: i64 = -3;
const CRV_P256: i64 = 1;
const RSA_N: i64 = -1;
const RSA_E: i64 = -2;

/// A credential public key this service accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoseKey {
    /// A P-256 point, uncompressed (`04 || x || y`).
    Es256 { point: Vec<u8> },
    /// An RSA key of at least 2048 bits: modulus and exponent, big-endian.
    Rs256 { n: Vec<u8>, e: Vec<u8> },
}

impl CoseKey {
    /// Parses a COSE key (its whole encoding, as stored).
    pub fn parse(bytes: &[u8]) -> Result<CoseKey, WebauthnError> {
        let value = only_item(bytes, "credential public key")?;
        let entries = map(&value, "credential public key")?;
        let what = "credential public key";
        match (int_at(entries, KTY, what)?, int_at(entries, ALG, what)?) {
            (KTY_EC2, ES256) => {
                if int_at(entries, EC2_CRV, what)? != CRV_P256 {
                    return Err(WebauthnError::UnsupportedAlgorithm);
                }
                let (x, y) = (bytes_at(entries, EC2_X, what)?, bytes_at(entries, EC2_Y, what)?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(WebauthnError::Malformed(what));
                }
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                Ok(CoseKey::Es256 { point })
            }
            (KTY_RSA, RS256) => {
                let (n, e) = (bytes_at(entries, RSA_N, what)?, bytes_at(entries, RSA_E, what)?);
                Ok(CoseKey::Rs256 {
                    n: n.to_vec(),
                    e: e.to_vec(),
                })
            }
            _ => Err(WebauthnError::UnsupportedAlgorithm),
        }
    }

    /// The COSE algorithm the key signs with.
    pub fn alg(&self) -> i64 {
        match self {
            CoseKey::Es256 { .. } => ES256,
            CoseKey::Rs256 { .. } => RS256,
        }
    }

    /// Checks `signature` over `message` (an ES256 signature is DER-encoded, as WebAuthn sends it).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), WebauthnError> {
        let checked = match self {
            CoseKey::Es256 { point } => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, point).verify(message, signature)
            }
            CoseKey::Rs256 { n, e } => RsaPublicKeyComponents { n, e }.verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                message,
                signature,
            ),
        };
        checked.map_err(|_| WebauthnError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ciborium::value::{Integer, Value};
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

    fn encode(entries: Vec<(i64, Value)>) -> Vec<u8> {
        let map = Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::Integer(Integer::from(k)), v))
                .collect(),
        );
        let mut out = vec![];
        ciborium::ser::into_writer(&map, &mut out).unwrap();
        out
    }

    fn ec2(point: &[u8]) -> Vec<u8> {
        encode(vec![
            (KTY, Value::from(KTY_EC2)),
            (ALG, Value::from(ES256)),
            (EC2_CRV, Value::from(CRV_P256)),
            (EC2_X, Value::Bytes(point[1..33].to_vec())),
            (EC2_Y, Value::Bytes(point[33..].to_vec())),
        ])
    }

    fn p256() -> EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap()
    }

    #[test]
    fn an_es256_key_checks_its_own_signature_and_no_other() {
        let pair = p256();
        let key = CoseKey::parse(&ec2(pair.public_key().as_ref())).unwrap();
        assert_eq!(key.alg(), ES256);
        let sig = pair.sign(&SystemRandom::new(), b"message").unwrap();
        assert_eq!(key.verify(b"message", sig.as_ref()), Ok(()));
        assert_eq!(
            key.verify(b"massage", sig.as_ref()),
            Err(WebauthnError::BadSignature)
        );
    }

    #[test]
    fn an_ec2_key_on_another_curve_is_refused() {
        let pair = p256();
        let point = pair.public_key().as_ref();
        let p384 = encode(vec![
            (KTY, Value::from(KTY_EC2)),
            (ALG, Value::from(ES256)),
            (EC2_CRV, Value::from(2)),
            (EC2_X, Value::Bytes(point[1..33].to_vec())),
            (EC2_Y, Value::Bytes(point[33..].to_vec())),
        ]);
        assert_eq!(CoseKey::parse(&p384), Err(WebauthnError::UnsupportedAlgorithm));
    }

    #[test]
    fn an_algorithm_registration_did_not_offer_is_refused() {
        // EdDSA (-8) over an OKP key (kty 1).
        let okp = encode(vec![(KTY, Value::from(1)), (ALG, Value::from(-8))]);
        assert_eq!(CoseKey::parse(&okp), Err(WebauthnError::UnsupportedAlgorithm));
        // ES256 claimed for an RSA key.
        let mixed = encode(vec![(KTY, Value::from(KTY_RSA)), (ALG, Value::from(ES256))]);
        assert_eq!(CoseKey::parse(&mixed), Err(WebauthnError::UnsupportedAlgorithm));
    }

    #[test]
    fn a_short_coordinate_is_malformed() {
        let mut point = vec![4u8; 65];
        point.truncate(64);
        let short = encode(vec![
            (KTY, Value::from(KTY_EC2)),
            (ALG, Value::from(ES256)),
            (EC2_CRV, Value::from(CRV_P256)),
            (EC2_X, Value::Bytes(point[1..33].to_vec())),
            (EC2_Y, Value::Bytes(point[33..].to_vec())),
        ]);
        assert!(matches!(CoseKey::parse(&short), Err(WebauthnError::Malformed(_))));
    }

    #[test]
    fn an_rsa_key_checks_its_signature() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let bytes = encode(vec![
            (KTY, Value::from(KTY_RSA)),
            (ALG, Value::from(RS256)),
            (RSA_N, Value::Bytes(private.n().to_bytes_be())),
            (RSA_E, Value::Bytes(private.e().to_bytes_be())),
        ]);
        let key = CoseKey::parse(&bytes).unwrap();
        assert_eq!(key.alg(), RS256);
        let pair = ring::signature::RsaKeyPair::from_der(private.to_pkcs1_der().unwrap().as_bytes()).unwrap();
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            b"message",
            &mut sig,
        )
        .unwrap();
        assert_eq!(key.verify(b"message", &sig), Ok(()));
        assert_eq!(key.verify(b"other", &sig), Err(WebauthnError::BadSignature));
    }
}
