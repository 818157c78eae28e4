//! The private key set: what only the signing functions (login, refresh), the rotation function
//! and the admin tool may read. It holds
//!   * the HMAC keys that sign refresh tokens (unchanged since every token was HS256, so refresh
//!     tokens issued before access tokens became RS256 keep working), and
//!   * the RSA lifecycle that signs access tokens (absent until the first rotation).
//!
//! Its JSON form (the Secrets Manager secret, and a row of the SQLite file):
//! `{"signing_kid": "k1", "keys": {"k1": "<base64>"},
//!   "rsa": {"current": {"kid", "der", "published_at"}, "next": {...}, "previous": {...} | null}}`

use serde::{Deserialize, Serialize};

use super::lifecycle::Lifecycle;
use super::signing::{SigningKey, StoredKey};
use super::{parse_object, KeyError, KeySet};

#[derive(Debug, Clone)]
pub struct PrivateKeys {
    /// Refresh-token keys.
    pub hmac: KeySet,
    /// Access-token keys; None until the first rotation (a fresh deploy, or an older HS256-only secret).
    pub rsa: Option<Lifecycle>,
}

#[derive(Serialize, Deserialize)]
struct StoredLifecycle {
    current: StoredKey,
    next: StoredKey,
    #[serde(default)]
    previous: Option<StoredKey>,
}

impl PrivateKeys {
    /// The RSA lifecycle, or an error saying that the first rotation has not run yet.
    pub fn lifecycle(&self) -> Result<&Lifecycle, KeyError> {
        self.rsa.as_ref().ok_or_else(|| {
            KeyError::Unavailable(
                "no RSA signing key yet: the key rotation has not run (it runs once at deploy)".into(),
            )
        })
    }

    /// The key that signs access tokens now.
    pub fn signing_key(&self) -> Result<&SigningKey, KeyError> {
        Ok(&self.lifecycle()?.current)
    }

    pub fn from_json(text: &str) -> Result<PrivateKeys, KeyError> {
        let doc = parse_object(text)?;
        let hmac = KeySet::from_doc(&doc)?;
        let rsa = match doc.get("rsa") {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => {
                let stored: StoredLifecycle = serde_json::from_value(value.clone())
                    .map_err(|e| KeyError::Malformed(format!("\"rsa\" is malformed: {e}")))?;
                Some(Lifecycle {
                    current: SigningKey::from_stored(stored.current)?,
                    next: SigningKey::from_stored(stored.next)?,
                    previous: stored.previous.map(SigningKey::from_stored).transpose()?,
                })
            }
        };
        Ok(PrivateKeys { hmac, rsa })
    }

    pub fn to_json(&self) -> String {
        let mut doc = self.hmac.to_doc();
        if let Some(l) = &self.rsa {
            let stored = StoredLifecycle {
                current: l.current.to_stored(),
                next: l.next.to_stored(),
                previous: l.previous.as_ref().map(SigningKey::to_stored),
            };
            doc.insert(
                "rsa".into(),
                serde_json::to_value(stored).unwrap_or(serde_json::Value::Null),
            );
        }
        serde_json::Value::Object(doc).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::random_key;

    #[test]
    fn a_first_round_secret_has_hmac_keys_and_no_rsa_lifecycle() {
        let secret = format!(r#"{{"signing_kid": "k1", "key_k1": "{}"}}"#, "aB3d".repeat(16));
        let keys = PrivateKeys::from_json(&secret).unwrap();
        assert_eq!(keys.hmac.signing().0, "k1");
        assert!(keys.signing_key().is_err());
    }

    #[test]
    fn private_keys_round_trip_through_their_json_form() {
        let keys = PrivateKeys {
            hmac: KeySet::single("k1", random_key()).unwrap(),
            rsa: Some(Lifecycle::start(42).unwrap()),
        };
        let back = PrivateKeys::from_json(&keys.to_json()).unwrap();
        let (a, b) = (keys.lifecycle().unwrap(), back.lifecycle().unwrap());
        assert_eq!(a.current.kid(), b.current.kid());
        assert_eq!(a.next.kid(), b.next.kid());
        assert_eq!(b.current.published_at, 42);
        assert!(b.previous.is_none());
    }
}
