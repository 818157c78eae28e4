//! The public key set: the JWKS the discovery endpoint serves and the verifying functions read
//! (`me`, `list-users`, `logout`). It is kept apart from the private keys (a second secret on
//! AWS), so a function that only verifies never holds anything that can sign.
//!
//! Beside the keys, the stored set records the kids that were retired (`"retired": [...]`,
//! never served by the JWKS endpoint): a set never holds a key whose kid it records as retired,
//! and every write of the set carries the record of the set it read forward, so a retired key
//! cannot be published again, whatever stale copy of the keys a writer holds.

use std::collections::{BTreeSet, HashMap};

use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};

use super::lifecycle::Lifecycle;
use super::signing::Jwk;
use super::KeyError;

#[derive(Clone)]
pub struct PublicKeys {
    jwks: Jwks,
    decoding: HashMap<String, DecodingKey>,
    /// Kids retired for good: never published again.
    retired: BTreeSet<String>,
}

/// The JWKS document (RFC 7517 §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl std::fmt::Debug for PublicKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKeys")
            .field("kids", &self.kids())
            .field("retired", &self.retired)
            .finish()
    }
}

impl PublicKeys {
    pub fn new(jwks: Jwks) -> Result<PublicKeys, KeyError> {
        let mut decoding = HashMap::new();
        for jwk in &jwks.keys {
            if jwk.kty != "RSA" || jwk.alg != "RS256" {
                return Err(KeyError::Malformed(format!(
                    "public key {:?} is not an RS256 key",
                    jwk.kid
                )));
            }
            let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e)
                .map_err(|e| KeyError::Malformed(format!("public key {:?} is unusable: {e}", jwk.kid)))?;
            if decoding.insert(jwk.kid.clone(), key).is_some() {
                return Err(KeyError::Malformed(format!(
                    "public key {:?} is given twice",
                    jwk.kid
                )));
            }
        }
        Ok(PublicKeys {
            jwks,
            decoding,
            retired: BTreeSet::new(),
        })
    }

    /// The public keys of a lifecycle: current, next, previous.
    pub fn of(lifecycle: &Lifecycle) -> PublicKeys {
        let jwks = Jwks {
            keys: lifecycle
                .keys()
                .into_iter()
                .map(|(_, k)| k.jwk().clone())
                .collect(),
        };
        // Keys of a lifecycle were all parsed by ring, so their components are valid.
        PublicKeys::new(jwks).unwrap_or_else(|_| PublicKeys {
            jwks: Jwks::default(),
            decoding: HashMap::new(),
            retired: BTreeSet::new(),
        })
    }

    /// Every key of `self` and of `other` (while a rotation is under way both are published),
    /// but for the kids either records as retired.
    pub fn union(&self, other: &PublicKeys) -> PublicKeys {
        let mut out = self.clone();
        for jwk in &other.jwks.keys {
            if let (false, Some(key)) = (out.decoding.contains_key(&jwk.kid), other.decoding.get(&jwk.kid)) {
                out.jwks.keys.push(jwk.clone());
                out.decoding.insert(jwk.kid.clone(), key.clone());
            }
        }
        out.with_retired(other.retired.iter().cloned())
    }

    /// A copy without the key `kid`, recording it as retired.
    pub fn retire(&self, kid: &str) -> PublicKeys {
        self.with_retired([kid.to_string()])
    }

    /// A copy that also records the kids `read` records as retired (and so holds none of their
    /// keys): what a write of the set read as `read` must publish.
    pub fn with_retired_of(&self, read: &PublicKeys) -> PublicKeys {
        self.with_retired(read.retired.iter().cloned())
    }

    fn with_retired(&self, kids: impl IntoIterator<Item = String>) -> PublicKeys {
        let mut out = self.clone();
        out.retired.extend(kids);
        let retired = &out.retired;
        out.jwks.keys.retain(|k| !retired.contains(&k.kid));
        out.decoding.retain(|kid, _| !retired.contains(kid));
        out
    }

    /// Whether `kid` was retired (it is then never published again).
    pub fn is_retired(&self, kid: &str) -> bool {
        self.retired.contains(kid)
    }

    /// The retired kids, sorted.
    pub fn retired(&self) -> Vec<&str> {
        self.retired.iter().map(String::as_str).collect()
    }

    /// Whether `other` publishes the same keys and records the same retired kids (a kid names
    /// exactly one key).
    pub fn same_as(&self, other: &PublicKeys) -> bool {
        let kids = |p: &PublicKeys| p.decoding.keys().cloned().collect::<BTreeSet<_>>();
        kids(self) == kids(other) && self.retired == other.retired
    }

    pub fn decoding(&self, kid: &str) -> Option<&DecodingKey> {
        self.decoding.get(kid)
    }

    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    pub fn kids(&self) -> Vec<&str> {
        self.jwks.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    /// The stored form: a JWKS, with the retired kids beside its keys (`"retired"`, absent
    /// when there are none).
    pub fn from_json(text: &str) -> Result<PublicKeys, KeyError> {
        #[derive(Deserialize)]
        struct Stored {
            #[serde(flatten)]
            jwks: Jwks,
            #[serde(default)]
            retired: BTreeSet<String>,
        }
        let stored: Stored = serde_json::from_str(text)
            .map_err(|e| KeyError::Malformed(format!("the public key set is not a JWKS: {e}")))?;
        Ok(PublicKeys::new(stored.jwks)?.with_retired(stored.retired))
    }

    pub fn to_json(&self) -> String {
        let mut doc = serde_json::to_value(&self.jwks).unwrap_or_default();
        if let (Some(doc), false) = (doc.as_object_mut(), self.retired.is_empty()) {
            doc.insert("retired".into(), self.retired.iter().cloned().collect());
        }
        doc.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_set_of_a_lifecycle_has_its_keys_and_no_private_parts() {
        let lifecycle = Lifecycle::start(0).unwrap();
        let public = PublicKeys::of(&lifecycle);
        assert_eq!(public.kids(), vec![lifecycle.current.kid(), lifecycle.next.kid()]);
        let json = public.to_json();
        // Each key has its public members only (not `d` nor any other private part). Searching
        // the text instead would find "der" in a random modulus now and then.
        let members: serde_json::Value = serde_json::from_str(&json).unwrap();
        for key in members["keys"].as_array().unwrap() {
            let mut names: Vec<&str> = key.as_object().unwrap().keys().map(String::as_str).collect();
            names.sort_unstable();
            assert_eq!(names, ["alg", "e", "kid", "kty", "n", "use"]);
        }
        let back = PublicKeys::from_json(&json).unwrap();
        assert!(back.decoding(lifecycle.current.kid()).is_some());
    }

    #[test]
    fn a_union_has_each_key_once() {
        let a = PublicKeys::of(&Lifecycle::start(0).unwrap());
        let both = a.union(&a);
        assert_eq!(both.kids().len(), 2);
    }

    #[test]
    fn a_retired_kid_stays_recorded_and_unpublished_through_every_write() {
        let lifecycle = Lifecycle::start(0).unwrap();
        let kid = lifecycle.current.kid();
        let all = PublicKeys::of(&lifecycle);
        assert!(
            !all.to_json().contains("retired"),
            "a set with none is a plain JWKS"
        );
        let retired = all.retire(kid);
        assert!(retired.decoding(kid).is_none() && retired.is_retired(kid));
        assert_eq!(retired.kids(), vec![lifecycle.next.kid()]);
        // A stale copy written back, or merged in, keeps the record and leaves the key out.
        for write in [
            all.with_retired_of(&retired),
            all.union(&retired),
            retired.union(&all),
        ] {
            assert!(
                write.decoding(kid).is_none() && write.is_retired(kid),
                "{write:?}"
            );
        }
        // Stored and read back; the JWKS served has the keys only.
        let back = PublicKeys::from_json(&retired.to_json()).unwrap();
        assert!(back.same_as(&retired) && back.is_retired(kid));
        let served = serde_json::to_value(back.jwks()).unwrap();
        assert_eq!(served.as_object().unwrap().len(), 1, "{served}");
        // A stored set naming a retired kid among its keys is read without that key.
        let mut doc: serde_json::Value = serde_json::from_str(&all.to_json()).unwrap();
        doc["retired"] = serde_json::json!([kid]);
        assert!(PublicKeys::from_json(&doc.to_string())
            .unwrap()
            .decoding(kid)
            .is_none());
    }

    #[test]
    fn an_empty_set_is_valid_and_a_non_rsa_key_is_not() {
        assert!(PublicKeys::from_json(r#"{"keys": []}"#)
            .unwrap()
            .kids()
            .is_empty());
        let hs = r#"{"keys": [{"kty": "oct", "kid": "x", "use": "sig", "alg": "HS256", "n": "", "e": ""}]}"#;
        assert!(PublicKeys::from_json(hs).is_err());
    }
}
