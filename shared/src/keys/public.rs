//! The public key set: the JWKS the discovery endpoint serves and the verifying functions read
//! (`me`, `list-users`, `logout`). It is kept apart from the private keys (a second secret on
//! AWS), so a function that only verifies never holds anything that can sign.

use std::collections::HashMap;

use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};

use super::lifecycle::Lifecycle;
use super::signing::Jwk;
use super::KeyError;

#[derive(Clone)]
pub struct PublicKeys {
    jwks: Jwks,
    decoding: HashMap<String, DecodingKey>,
}

/// The JWKS document (RFC 7517 §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl std::fmt::Debug for PublicKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKeys").field("kids", &self.kids()).finish()
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
        Ok(PublicKeys { jwks, decoding })
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
        })
    }

    /// Every key of `self` and of `other` (while a rotation is under way both are published).
    pub fn union(&self, other: &PublicKeys) -> PublicKeys {
        let mut out = self.clone();
        for jwk in &other.jwks.keys {
            if let (false, Some(key)) = (out.decoding.contains_key(&jwk.kid), other.decoding.get(&jwk.kid)) {
                out.jwks.keys.push(jwk.clone());
                out.decoding.insert(jwk.kid.clone(), key.clone());
            }
        }
        out
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

    pub fn from_json(text: &str) -> Result<PublicKeys, KeyError> {
        let jwks: Jwks = serde_json::from_str(text)
            .map_err(|e| KeyError::Malformed(format!("the public key set is not a JWKS: {e}")))?;
        PublicKeys::new(jwks)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.jwks).unwrap_or_default()
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
    fn an_empty_set_is_valid_and_a_non_rsa_key_is_not() {
        assert!(PublicKeys::from_json(r#"{"keys": []}"#)
            .unwrap()
            .kids()
            .is_empty());
        let hs = r#"{"keys": [{"kty": "oct", "kid": "x", "use": "sig", "alg": "HS256", "n": "", "e": ""}]}"#;
        assert!(PublicKeys::from_json(hs).is_err());
    }
}
