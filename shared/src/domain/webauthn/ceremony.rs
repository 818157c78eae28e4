//! The two ceremonies as the relying party checks them: a registration (§7.1) and an
//! assertion (§7.2), each against the challenge it issued and stored.

use sha2::{Digest, Sha256};

use super::attestation::AttestationObject;
use super::authenticator_data::{AuthenticatorData, BE, UP, UV};
use super::client_data::{self, CREATE, GET};
use super::cose::CoseKey;
use super::error::WebauthnError;

/// Who the credentials are for: the rp id (a domain) and the web origins allowed to use it.
#[derive(Debug, Clone, Copy)]
pub struct RelyingParty<'a> {
    pub id: &'a str,
    pub origins: &'a [String],
}

impl RelyingParty<'_> {
    fn check_rp_id_hash(&self, data: &AuthenticatorData<'_>) -> Result<(), WebauthnError> {
        if data.rp_id_hash != Sha256::digest(self.id.as_bytes()).as_slice() {
            return Err(WebauthnError::WrongRpId);
        }
        Ok(())
    }
}

/// A registered credential, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential {
    pub credential_id: Vec<u8>,
    /// The COSE key as the authenticator encoded it.
    pub public_key: Vec<u8>,
    pub sign_count: u32,
    /// A multi-device (synced) credential.
    pub backup_eligible: bool,
}

/// Checks a registration: `credential_id` as the client named it (`rawId`), its client data
/// and attestation object, against the challenge issued.
pub fn verify_registration(
    rp: RelyingParty<'_>,
    challenge: &[u8],
    credential_id: &[u8],
    client_data_json: &[u8],
    attestation_object: &[u8],
) -> Result<NewCredential, WebauthnError> {
    let client_data_hash = client_data::check(client_data_json, CREATE, challenge, rp.origins)?;
    let attestation = AttestationObject::parse(attestation_object)?;
    let data = AuthenticatorData::parse(&attestation.auth_data)?;
    rp.check_rp_id_hash(&data)?;
    check_flags(&data)?;
    // (Parsed exactly when the AT flag is set.)
    let attested = data
        .attested
        .as_ref()
        .ok_or(WebauthnError::Malformed("attested credential data"))?;
    if attested.credential_id != credential_id {
        return Err(WebauthnError::WrongCredentialId);
    }
    let key = CoseKey::parse(attested.public_key)?;
    attestation.verify(&client_data_hash, &key, attested.aaguid)?;
    Ok(NewCredential {
        credential_id: attested.credential_id.to_vec(),
        public_key: attested.public_key.to_vec(),
        sign_count: data.sign_count,
        backup_eligible: data.has(BE),
    })
}

/// A stored credential, as an assertion is checked against it.
#[derive(Debug, Clone, Copy)]
pub struct StoredCredential<'a> {
    pub public_key: &'a [u8],
    pub sign_count: u32,
    /// The owner's user handle (`user.id` of the creation options).
    pub user_handle: &'a [u8],
}

/// What a verified assertion tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub sign_count: u32,
    pub backup_eligible: bool,
}

/// The parts of an assertion, decoded.
#[derive(Debug, Clone, Copy)]
pub struct Assertion<'a> {
    pub client_data_json: &'a [u8],
    pub authenticator_data: &'a [u8],
    pub signature: &'a [u8],
    pub user_handle: Option<&'a [u8]>,
}

/// Checks an assertion against the challenge issued and the credential stored. A signature
/// counter must increase unless both the stored and the new count are 0 (synced passkeys
/// report 0): otherwise the authenticator may have been cloned.
pub fn verify_assertion(
    rp: RelyingParty<'_>,
    challenge: &[u8],
    assertion: Assertion<'_>,
    stored: StoredCredential<'_>,
) -> Result<VerifiedAssertion, WebauthnError> {
    // Usernameless: the handle names the account, and must be the credential owner's.
    if assertion.user_handle != Some(stored.user_handle) {
        return Err(WebauthnError::WrongUserHandle);
    }
    let client_data_hash = client_data::check(assertion.client_data_json, GET, challenge, rp.origins)?;
    let data = AuthenticatorData::parse(assertion.authenticator_data)?;
    rp.check_rp_id_hash(&data)?;
    check_flags(&data)?;
    let key = CoseKey::parse(stored.public_key)?;
    let mut signed = assertion.authenticator_data.to_vec();
    signed.extend_from_slice(&client_data_hash);
    key.verify(&signed, assertion.signature)?;
    if (stored.sign_count != 0 || data.sign_count != 0) && data.sign_count <= stored.sign_count {
        return Err(WebauthnError::CounterRegressed);
    }
    Ok(VerifiedAssertion {
        sign_count: data.sign_count,
        backup_eligible: data.has(BE),
    })
}

/// User presence and user verification, both required.
fn check_flags(data: &AuthenticatorData<'_>) -> Result<(), WebauthnError> {
    if !data.has(UP) {
        return Err(WebauthnError::NoUserPresence);
    }
    if !data.has(UV) {
        return Err(WebauthnError::NoUserVerification);
    }
    Ok(())
}
