//! Keys. Access tokens are RS256: an RSA key [`lifecycle`] (next, current, previous) whose
//! private half only the signing functions read ([`PrivateKeys`]) and whose public half is
//! published apart ([`PublicKeys`], the JWKS). Refresh tokens, verified only by authyy, keep the
//! HS256 form every token had before access tokens became RS256: `kid`ed HMAC keys ([`KeySet`]).
//!
//! Keys are kept in a [`KeyStore`] (the SQLite file locally, two Secrets Manager secrets on
//! AWS); the functions read them through [`CachedKeys`], the rotation function and the admin
//! tool load and save them, each change conditional on the version of the set it was made from
//! (see [`rotation`]), so a writer holding a stale copy can never undo another's change.

pub mod cache;
pub mod lifecycle;
pub mod private;
pub mod public;
pub mod rotation;
pub mod sealing;
pub mod secrets_manager;
pub mod signing;

use std::collections::HashMap;

use async_trait::async_trait;
use base64::Engine as _;

pub use cache::CachedKeys;
pub use lifecycle::{KeyState, Lifecycle, LifecycleError};
pub use private::PrivateKeys;
pub use public::{Jwks, PublicKeys};
pub use signing::{Jwk, SigningKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing keys unavailable: {0}")]
    Unavailable(String),
    #[error("signing keys malformed: {0}")]
    Malformed(String),
    /// A conditional write found the set changed since it was read: read it again and redo the
    /// change.
    #[error("the {0} key set changed since it was read (another rotation or retire wrote it)")]
    Conflict(&'static str),
}

/// Which version of a key set a read returned; a write conditional on it succeeds only while
/// no other write has happened since (the Secrets Manager version id, the SQLite row's text).
/// Debug never prints key material (the text of a private set).
#[derive(Clone, PartialEq, Eq)]
pub struct Version(pub(crate) String);

impl std::fmt::Debug for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.starts_with('{') {
            true => f.write_str("Version(<key set text>)"),
            false => f.debug_tuple("Version").field(&self.0).finish(),
        }
    }
}

/// Keys by `kid`, and which one signs. Debug never prints key material.
#[derive(Clone)]
pub struct KeySet {
    signing_kid: String,
    keys: HashMap<String, Vec<u8>>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("signing_kid", &self.signing_kid)
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// HS256 keys shorter than this are refused.
pub const MIN_KEY_BYTES: usize = 32;

impl KeySet {
    pub fn new(signing_kid: impl Into<String>, keys: HashMap<String, Vec<u8>>) -> Result<KeySet, KeyError> {
        let signing_kid = signing_kid.into();
        if !keys.contains_key(&signing_kid) {
            return Err(KeyError::Malformed(format!(
                "no key with the signing kid {signing_kid:?}"
            )));
        }
        if let Some((kid, _)) = keys.iter().find(|(_, k)| k.len() < MIN_KEY_BYTES) {
            return Err(KeyError::Malformed(format!(
                "key {kid:?} is shorter than {MIN_KEY_BYTES} bytes"
            )));
        }
        Ok(KeySet { signing_kid, keys })
    }

    /// One key that signs and verifies.
    pub fn single(kid: impl Into<String>, key: Vec<u8>) -> Result<KeySet, KeyError> {
        let kid = kid.into();
        KeySet::new(kid.clone(), HashMap::from([(kid, key)]))
    }

    pub fn signing(&self) -> (&str, &[u8]) {
        // KeySet::new refuses a set without its signing key, so the lookup always succeeds.
        let key = self
            .keys
            .get(&self.signing_kid)
            .map(Vec::as_slice)
            .unwrap_or_default();
        (&self.signing_kid, key)
    }

    /// The kids of every key, sorted.
    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        kids.sort();
        kids
    }

    pub fn verifying(&self, kid: &str) -> Option<&[u8]> {
        self.keys.get(kid).map(Vec::as_slice)
    }

    /// The secret's JSON form: `{"signing_kid": "<kid>", "keys": {"<kid>": "<base64 key>", ...}}`.
    /// Keys may also be given as top-level `"key_<kid>": "<base64 key>"` members, the form
    /// CloudFormation's GenerateSecretString can produce (template.yaml); a kid given both ways
    /// is refused.
    pub fn from_json(text: &str) -> Result<KeySet, KeyError> {
        KeySet::from_doc(&parse_object(text)?)
    }

    /// The HMAC keys of a parsed secret (other members are ignored).
    pub fn from_doc(doc: &serde_json::Map<String, serde_json::Value>) -> Result<KeySet, KeyError> {
        use serde_json::Value;
        let signing_kid = doc
            .get("signing_kid")
            .and_then(Value::as_str)
            .ok_or_else(|| KeyError::Malformed("no \"signing_kid\" string".into()))?;
        let mut encoded: Vec<(String, &Value)> = Vec::new();
        match doc.get("keys") {
            None => {}
            Some(Value::Object(keys)) => encoded.extend(keys.iter().map(|(k, v)| (k.clone(), v))),
            Some(_) => return Err(KeyError::Malformed("\"keys\" must be an object".into())),
        }
        encoded.extend(
            doc.iter()
                .filter_map(|(name, v)| name.strip_prefix("key_").map(|kid| (kid.to_string(), v))),
        );
        let mut keys = HashMap::new();
        for (kid, value) in encoded {
            let key = value
                .as_str()
                .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
                .ok_or_else(|| KeyError::Malformed(format!("key {kid:?} is not a base64 string")))?;
            if keys.insert(kid.clone(), key).is_some() {
                return Err(KeyError::Malformed(format!("key {kid:?} is given twice")));
            }
        }
        KeySet::new(signing_kid, keys)
    }

    /// A copy with `key` added under `kid` and made the signing key (rotation: the previous
    /// keys keep verifying).
    pub fn rotated(&self, kid: impl Into<String>, key: Vec<u8>) -> Result<KeySet, KeyError> {
        let kid = kid.into();
        let mut keys = self.keys.clone();
        keys.insert(kid.clone(), key);
        KeySet::new(kid, keys)
    }

    pub fn to_json(&self) -> String {
        serde_json::Value::Object(self.to_doc()).to_string()
    }

    pub fn to_doc(&self) -> serde_json::Map<String, serde_json::Value> {
        let keys: serde_json::Map<String, serde_json::Value> = self
            .keys
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    base64::engine::general_purpose::STANDARD.encode(v).into(),
                )
            })
            .collect();
        serde_json::Map::from_iter([
            ("signing_kid".to_string(), self.signing_kid.clone().into()),
            ("keys".to_string(), keys.into()),
        ])
    }
}

/// A secret's text as a JSON object.
pub(crate) fn parse_object(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, KeyError> {
    serde_json::from_str(text).map_err(|e| KeyError::Malformed(format!("expected a JSON object: {e}")))
}

/// Where keys are kept: the private set (read by the signing functions, written by rotation)
/// and the public set (read by the verifying functions and the JWKS endpoint).
///
/// Whatever changes keys (rotation, retire) reads a set with its [`Version`] and writes it back
/// only if it is still that version (`save_if`, `publish_if`, which answer
/// [`KeyError::Conflict`] otherwise). Both backends do so atomically: the SQLite store
/// (`store::sqlite`) and [`secrets_manager::SecretsManagerKeys`]. The provided methods, for a
/// store that cannot (a test's), compare and write in two steps: a writer that comes between
/// them is not seen.
#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn load(&self) -> Result<PrivateKeys, KeyError>;
    /// Writes the private set, whatever it holds now.
    async fn save(&self, keys: &PrivateKeys) -> Result<(), KeyError>;
    async fn load_public(&self) -> Result<PublicKeys, KeyError>;
    /// Writes the public set, whatever it holds now.
    async fn publish(&self, keys: &PublicKeys) -> Result<(), KeyError>;

    /// The private set and its version.
    async fn load_versioned(&self) -> Result<(PrivateKeys, Version), KeyError> {
        let keys = self.load().await?;
        let version = Version(keys.to_json());
        Ok((keys, version))
    }

    /// Writes the private set if it is still the version `read`.
    async fn save_if(&self, keys: &PrivateKeys, read: &Version) -> Result<(), KeyError> {
        if !same_json(&self.load().await?.to_json(), &read.0) {
            return Err(KeyError::Conflict("private"));
        }
        self.save(keys).await
    }

    /// The public set and its version.
    async fn load_public_versioned(&self) -> Result<(PublicKeys, Version), KeyError> {
        let keys = self.load_public().await?;
        let version = Version(keys.to_json());
        Ok((keys, version))
    }

    /// Writes the public set if it is still the version `read`.
    async fn publish_if(&self, keys: &PublicKeys, read: &Version) -> Result<(), KeyError> {
        if !same_json(&self.load_public().await?.to_json(), &read.0) {
            return Err(KeyError::Conflict("public"));
        }
        self.publish(keys).await
    }
}

/// Writes `keys` as the public set whatever it holds now, keeping its record of retired kids
/// (whose keys it never publishes): a conditional write, again from a fresh read if another
/// writer came between.
pub(crate) async fn publish_keeping_retired<S: KeyStore + ?Sized>(
    store: &S,
    keys: &PublicKeys,
) -> Result<(), KeyError> {
    loop {
        let (read, version) = store.load_public_versioned().await?;
        match store.publish_if(&keys.with_retired_of(&read), &version).await {
            Err(KeyError::Conflict(_)) => continue,
            done => return done,
        }
    }
}

/// Whether two JSON texts hold the same document (members in any order).
fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A new HS256 key: 32 random bytes.
pub fn random_key() -> Vec<u8> {
    crate::randomness::random_bytes::<32>().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_set_round_trips_through_its_json_form() {
        let set = KeySet::new(
            "k2",
            HashMap::from([("k1".to_string(), random_key()), ("k2".to_string(), random_key())]),
        )
        .unwrap();
        let back = KeySet::from_json(&set.to_json()).unwrap();
        assert_eq!(back.signing().0, "k2");
        assert_eq!(back.verifying("k1"), set.verifying("k1"));
    }

    #[test]
    fn key_set_reads_the_generated_secret_form() {
        let secret = format!(r#"{{"signing_kid": "k1", "key_k1": "{}"}}"#, "aB3d".repeat(16));
        let set = KeySet::from_json(&secret).unwrap();
        assert_eq!(set.signing().0, "k1");
        assert_eq!(set.signing().1.len(), 48);
    }

    #[test]
    fn a_kid_given_twice_is_refused() {
        let k = "aB3d".repeat(16);
        let secret = format!(r#"{{"signing_kid": "k1", "key_k1": "{k}", "keys": {{"k1": "{k}"}}}}"#);
        assert!(KeySet::from_json(&secret).is_err());
    }

    #[test]
    fn rotation_keeps_old_keys_for_verification() {
        let old = KeySet::single("k1", random_key()).unwrap();
        let new = old.rotated("k2", random_key()).unwrap();
        assert_eq!(new.signing().0, "k2");
        assert_eq!(new.verifying("k1"), old.verifying("k1"));
    }

    #[test]
    fn short_keys_and_unknown_signing_kid_are_refused() {
        assert!(KeySet::single("k", vec![1; 8]).is_err());
        assert!(KeySet::new("x", HashMap::from([("k".to_string(), random_key())])).is_err());
    }

    #[test]
    fn debug_never_prints_key_material() {
        let set = KeySet::single("k1", vec![7u8; 32]).unwrap();
        assert!(!format!("{set:?}").contains("7, 7"));
    }
}
