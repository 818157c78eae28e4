//! Argon2id password hashing, off the async executor, with a dummy verification for unknown
//! accounts so that timing does not reveal which emails are registered.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::OnceCell;

use crate::config::HashCost;
use crate::domain::Password;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Argon2id hashing, off the async executor.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    dummy: Arc<OnceCell<String>>,
}

impl Hasher {
    pub fn new(cost: HashCost) -> Result<Hasher, HashError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| HashError::Hash(e.to_string()))?;
        Ok(Hasher {
            params,
            dummy: Arc::new(OnceCell::new()),
        })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// A PHC string for `password`.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let params = self.params.clone();
        let secret = password.expose().to_string();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            Self::argon2(params)
                .hash_password(secret.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| HashError::Hash(e.to_string()))
        })
        .await
        .map_err(|e| HashError::Hash(e.to_string()))?
    }

    /// Whether `password` matches `phc`. With no hash (unknown account) a dummy hash of the
    /// same cost is verified instead, so the answer takes as long either way.
    pub async fn verify(&self, password: &Password, phc: Option<&str>) -> bool {
        let (phc, real) = match phc {
            Some(p) => (p.to_string(), true),
            None => match self.dummy_hash().await {
                Some(d) => (d.to_string(), false),
                None => return false,
            },
        };
        let secret = password.expose().to_string();
        let params = self.params.clone();
        let matched = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&phc)
                .map(|parsed| {
                    Self::argon2(params)
                        .verify_password(secret.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        matched && real
    }

    /// Whether `phc` was made with other parameters than the configured ones (re-hash on login).
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        match Params::try_from(&parsed) {
            Ok(p) => {
                parsed.algorithm.as_str() != "argon2id"
                    || p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            }
            Err(_) => true,
        }
    }

    async fn dummy_hash(&self) -> Option<&str> {
        self.dummy
            .get_or_try_init(|| async {
                // 22 random URL-safe characters: a valid password nobody knows.
                let random =
                    Password::new(&crate::secrets::new_id()).map_err(|e| HashError::Hash(e.to_string()))?;
                self.hash(&random).await
            })
            .await
            .ok()
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strong() -> Password {
        Password::new("correct horse battery staple 42").unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify_round_trips_and_is_argon2id() {
        let h = Hasher::new(HashCost::default()).unwrap();
        let phc = h.hash(&strong()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h.verify(&strong(), Some(&phc)).await);
        assert!(
            !h.verify(&Password::new("wrong password here").unwrap(), Some(&phc))
                .await
        );
        assert!(!h.needs_rehash(&phc));
    }

    #[tokio::test]
    async fn unknown_account_verifies_against_a_dummy_and_fails() {
        let h = Hasher::new(HashCost::default()).unwrap();
        assert!(!h.verify(&strong(), None).await);
    }

    #[tokio::test]
    async fn hashes_of_other_parameters_need_rehash() {
        let old = Hasher::new(HashCost {
            memory_kib: 8192,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let phc = old.hash(&strong()).await.unwrap();
        assert!(Hasher::new(HashCost::default()).unwrap().needs_rehash(&phc));
    }
}
