//! Authenticator data (WebAuthn §6.1): the rp id hash, the flags, the signature counter and, at
//! registration, the attested credential (AAGUID, credential id, public key).

use super::cbor::{first_item, map};
use super::error::WebauthnError;

/// User present.
pub const UP: u8 = 0x01;
/// User verified.
pub const UV: u8 = 0x04;
/// Backup eligible: a multi-device (synced) credential.
pub const BE: u8 = 0x08;
/// Backed up.
pub const BS: u8 = 0x10;
/// Attested credential data included.
pub const AT: u8 = 0x40;
/// Extension data included.
pub const ED: u8 = 0x80;

/// The longest credential id the specification allows.
pub const MAX_CREDENTIAL_ID: usize = 1023;

/// Parsed authenticator data, borrowing from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorData<'a> {
    pub rp_id_hash: &'a [u8],
    pub flags: u8,
    pub sign_count: u32,
    pub attested: Option<AttestedCredential<'a>>,
}

/// The credential a registration attests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredential<'a> {
    pub aaguid: &'a [u8],
    pub credential_id: &'a [u8],
    /// The COSE key, exactly as the authenticator encoded it.
    pub public_key: &'a [u8],
}

fn split(bytes: &[u8], at: usize) -> Result<(&[u8], &[u8]), WebauthnError> {
    bytes
        .split_at_checked(at)
        .ok_or(WebauthnError::Malformed("authenticator data"))
}

/// The first `N` bytes as an array, and the rest.
fn take<const N: usize>(bytes: &[u8]) -> Result<([u8; N], &[u8]), WebauthnError> {
    let (head, rest) = split(bytes, N)?;
    let head = head
        .try_into()
        .map_err(|_| WebauthnError::Malformed("authenticator data"))?;
    Ok((head, rest))
}

impl<'a> AuthenticatorData<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<AuthenticatorData<'a>, WebauthnError> {
        let (rp_id_hash, rest) = split(bytes, 32)?;
        let ([flags], rest) = take::<1>(rest)?;
        let (count, mut rest) = take::<4>(rest)?;
        let sign_count = u32::from_be_bytes(count);
        let attested = if flags & AT != 0 {
            let (aaguid, after) = split(rest, 16)?;
            let (length, after) = take::<2>(after)?;
            let length = usize::from(u16::from_be_bytes(length));
            if length > MAX_CREDENTIAL_ID {
                return Err(WebauthnError::Malformed("credential id"));
            }
            let (credential_id, after) = split(after, length)?;
            let (_, used) = first_item(after, "credential public key")?;
            let (public_key, after) = split(after, used)?;
            rest = after;
            Some(AttestedCredential {
                aaguid,
                credential_id,
                public_key,
            })
        } else {
            None
        };
        if flags & ED != 0 {
            let (extensions, used) = first_item(rest, "authenticator extensions")?;
            map(&extensions, "authenticator extensions")?;
            rest = split(rest, used)?.1;
        }
        if !rest.is_empty() {
            return Err(WebauthnError::Malformed("authenticator data"));
        }
        Ok(AuthenticatorData {
            rp_id_hash,
            flags,
            sign_count,
            attested,
        })
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(flags: u8, count: u32) -> Vec<u8> {
        let mut out = vec![7u8; 32];
        out.push(flags);
        out.extend_from_slice(&count.to_be_bytes());
        out
    }

    #[test]
    fn an_assertions_data_has_no_credential() {
        let bytes = header(UP | UV, 5);
        let data = AuthenticatorData::parse(&bytes).unwrap();
        assert_eq!(data.sign_count, 5);
        assert!(data.has(UP) && data.has(UV) && !data.has(BE));
        assert_eq!(data.attested, None);
    }

    #[test]
    fn attested_credential_data_is_split_at_the_end_of_its_key() {
        let mut bytes = header(UP | UV | AT, 0);
        bytes.extend_from_slice(&[9u8; 16]);
        bytes.extend_from_slice(&3u16.to_be_bytes());
        bytes.extend_from_slice(&[1, 2, 3]);
        bytes.extend_from_slice(&[0xa1, 0x01, 0x02]); // {1: 2}
        let data = AuthenticatorData::parse(&bytes).unwrap();
        let attested = data.attested.unwrap();
        assert_eq!(attested.credential_id, &[1, 2, 3]);
        assert_eq!(attested.public_key, &[0xa1, 0x01, 0x02]);
    }

    #[test]
    fn extension_data_follows_the_credential() {
        let mut bytes = header(UP | ED, 0);
        bytes.extend_from_slice(&[0xa1, 0x61, b'x', 0xf5]); // {"x": true}
        assert!(AuthenticatorData::parse(&bytes).is_ok());
        bytes.push(0);
        assert!(AuthenticatorData::parse(&bytes).is_err());
    }

    #[test]
    fn trailing_or_missing_bytes_are_malformed() {
        let mut bytes = header(UP, 0);
        bytes.push(0);
        assert!(AuthenticatorData::parse(&bytes).is_err());
        assert!(AuthenticatorData::parse(&bytes[..36]).is_err());
        // Attested data announced and absent.
        assert!(AuthenticatorData::parse(&header(UP | AT, 0)).is_err());
    }

    #[test]
    fn a_credential_id_of_1023_bytes_is_the_longest() {
        let mut bytes = header(UP | AT, 0);
        bytes.extend_from_slice(&[9u8; 16]);
        bytes.extend_from_slice(&1023u16.to_be_bytes());
        bytes.extend_from_slice(&[0u8; 1023]);
        bytes.extend_from_slice(&[0xa0]);
        let data = AuthenticatorData::parse(&bytes).unwrap();
        assert_eq!(data.attested.unwrap().credential_id.len(), 1023);
    }

    #[test]
    fn a_credential_id_over_1023_bytes_is_malformed() {
        let mut bytes = header(UP | AT, 0);
        bytes.extend_from_slice(&[9u8; 16]);
        bytes.extend_from_slice(&1024u16.to_be_bytes());
        bytes.extend_from_slice(&[0u8; 1024]);
        bytes.extend_from_slice(&[0xa0]);
        assert_eq!(
            AuthenticatorData::parse(&bytes),
            Err(WebauthnError::Malformed("credential id"))
        );
    }
}
