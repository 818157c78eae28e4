//! The attestation object (WebAuthn §6.5) and the two statement formats this service checks:
//! `none` and `packed` (§8.2), both self attestation and full attestation with a certificate.
//! Certificates are not chained to trust anchors: an attestation here proves the statement
//! is consistent, not which maker's device it is.

use ciborium::value::Value;
use der::asn1::{ObjectIdentifier, OctetString};
use der::Decode;
use ring::signature::{self, UnparsedPublicKey};
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

use super::cbor::{map, only_item, text_key};
use super::cose::{CoseKey, ES256, RS256};
use super::error::WebauthnError;

const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// id-fido-gen-ce-aaguid: the AAGUID a packed attestation certificate may carry.
const FIDO_AAGUID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.45724.1.1.4");
const COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const ORGANIZATIONAL_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// An attestation object: its format, statement and authenticator data.
#[derive(Debug, Clone)]
pub struct AttestationObject {
    pub fmt: String,
    pub statement: Vec<(Value, Value)>,
    pub auth_data: Vec<u8>,
}

impl AttestationObject {
    pub fn parse(bytes: &[u8]) -> Result<AttestationObject, WebauthnError> {
        let what = "attestation object";
        let value = only_item(bytes, what)?;
        let entries = map(&value, what)?;
        let fmt = text_key(entries, "fmt", what)?
            .and_then(Value::as_text)
            .ok_or(WebauthnError::Malformed(what))?;
        let statement = text_key(entries, "attStmt", what)?
            .and_then(Value::as_map)
            .ok_or(WebauthnError::Malformed(what))?;
        let auth_data = text_key(entries, "authData", what)?
            .and_then(Value::as_bytes)
            .ok_or(WebauthnError::Malformed(what))?;
        Ok(AttestationObject {
            fmt: fmt.to_string(),
            statement: statement.clone(),
            auth_data: auth_data.clone(),
        })
    }

    /// Checks the statement over the authenticator data and `client_data_hash`, for the
    /// credential `key` with AAGUID `aaguid`.
    pub fn verify(&self, client_data_hash: &[u8], key: &CoseKey, aaguid: &[u8]) -> Result<(), WebauthnError> {
        match self.fmt.as_str() {
            // Nothing is attested; the statement must be empty.
            "none" => match self.statement.is_empty() {
                true => Ok(()),
                false => Err(WebauthnError::BadAttestation(
                    "a none statement that is not empty",
                )),
            },
            "packed" => self.verify_packed(client_data_hash, key, aaguid),
            _ => Err(WebauthnError::UnsupportedFormat),
        }
    }

    fn verify_packed(
        &self,
        client_data_hash: &[u8],
        key: &CoseKey,
        aaguid: &[u8],
    ) -> Result<(), WebauthnError> {
        let what = "packed statement";
        let alg = text_key(&self.statement, "alg", what)?
            .and_then(Value::as_integer)
            .and_then(|i| i64::try_from(i).ok())
            .ok_or(WebauthnError::Malformed(what))?;
        let sig = text_key(&self.statement, "sig", what)?
            .and_then(Value::as_bytes)
            .ok_or(WebauthnError::Malformed(what))?;
        let mut signed = self.auth_data.clone();
        signed.extend_from_slice(client_data_hash);
        match text_key(&self.statement, "x5c", what)? {
            // Self attestation: signed by the credential's own key.
            None => {
                if alg != key.alg() {
                    return Err(WebauthnError::BadAttestation(
                        "self attestation with another algorithm",
                    ));
                }
                key.verify(&signed, sig)
            }
            // Full attestation: signed by the key of the first certificate.
            Some(chain) => {
                let first = chain
                    .as_array()
                    .and_then(|c| c.first())
                    .and_then(Value::as_bytes)
                    .ok_or(WebauthnError::Malformed(what))?;
                let cert = Certificate::from_der(first)
                    .map_err(|_| WebauthnError::BadAttestation("attestation certificate does not parse"))?;
                check_certificate(&cert, aaguid)?;
                verify_with_certificate(&cert, alg, &signed, sig)
            }
        }
    }
}

/// The packed attestation certificate requirements (§8.2.1).
fn check_certificate(cert: &Certificate, aaguid: &[u8]) -> Result<(), WebauthnError> {
    let tbs = &cert.tbs_certificate;
    if tbs.version != Version::V3 {
        return Err(WebauthnError::BadAttestation(
            "attestation certificate is not version 3",
        ));
    }
    let subject = |oid: ObjectIdentifier| {
        tbs.subject
            .0
            .iter()
            .flat_map(|rdn| rdn.0.iter())
            .find(|atv| atv.oid == oid)
            .map(|atv| atv.value.value().to_vec())
    };
    let named = [COUNTRY, ORGANIZATION, COMMON_NAME]
        .into_iter()
        .all(|oid| subject(oid).is_some_and(|v| !v.is_empty()));
    let unit = subject(ORGANIZATIONAL_UNIT);
    if !named || unit.as_deref() != Some(b"Authenticator Attestation".as_slice()) {
        return Err(WebauthnError::BadAttestation("attestation certificate subject"));
    }
    let extensions = tbs.extensions.as_deref().unwrap_or_default();
    let constraints = extensions
        .iter()
        .find(|e| e.extn_id == BASIC_CONSTRAINTS)
        .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok());
    if !matches!(constraints, Some(BasicConstraints { ca: false, .. })) {
        return Err(WebauthnError::BadAttestation(
            "attestation certificate may be a CA",
        ));
    }
    if let Some(ext) = extensions.iter().find(|e| e.extn_id == FIDO_AAGUID) {
        let inner = OctetString::from_der(ext.extn_value.as_bytes())
            .map_err(|_| WebauthnError::BadAttestation("AAGUID extension"))?;
        if ext.critical || inner.as_bytes() != aaguid {
            return Err(WebauthnError::BadAttestation("AAGUID extension"));
        }
    }
    Ok(())
}

/// Checks `sig` over `message` with the certificate's key, for COSE algorithm `alg`.
fn verify_with_certificate(
    cert: &Certificate,
    alg: i64,
    message: &[u8],
    sig: &[u8],
) -> Result<(), WebauthnError> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let key_bytes = spki.subject_public_key.raw_bytes();
    // (A key on another curve is refused by ring: its point is not a P-256 point.)
    let algorithm: &dyn signature::VerificationAlgorithm = match (alg, spki.algorithm.oid) {
        (ES256, ID_EC_PUBLIC_KEY) => &signature::ECDSA_P256_SHA256_ASN1,
        (RS256, RSA_ENCRYPTION) => &signature::RSA_PKCS1_2048_8192_SHA256,
        _ => {
            return Err(WebauthnError::BadAttestation(
                "certificate key does not match the algorithm",
            ))
        }
    };
    UnparsedPublicKey::new(algorithm, key_bytes)
        .verify(message, sig)
        .map_err(|_| WebauthnError::BadSignature)
}
