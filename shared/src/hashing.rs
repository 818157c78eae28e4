//! Argon2id password hashing, off the async executor, with a dummy verification for unknown
//! accounts and padding for hashes of an older, cheaper cost, so that timing does not reveal
//! which emails are registered.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

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
    /// A hash of a random password nobody knows, at the configured cost: what an unknown
    /// account verifies against. Functions that verify passwords make it at cold start
    /// ([`Hasher::prepare_dummy`]), so the first unknown email of a fresh container costs no
    /// more than any other; the others never pay for it.
    dummy: Arc<OnceLock<String>>,
}

impl Hasher {
    pub fn new(cost: HashCost) -> Result<Hasher, HashError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| HashError::Hash(e.to_string()))?;
        Ok(Hasher {
            params,
            dummy: Arc::new(OnceLock::new()),
        })
    }

    /// Makes the dummy hash now (one argon2 run, blocking) rather than on the first unknown
    /// email; called at cold start by the functions that verify passwords.
    pub fn prepare_dummy(&self) {
        dummy_hash(&self.dummy, &self.params);
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

    /// Whether `password` matches `phc`, at no less than the configured cost whatever the
    /// account: with no hash (unknown account), or one that cannot be read, the dummy hash is
    /// verified instead; a hash of weaker (older) parameters is followed by [`padding`], so a
    /// wrong password costs about what an unknown email does.
    pub async fn verify(&self, password: &Password, phc: Option<&str>) -> bool {
        let secret = password.expose().to_string();
        let current = self.params.clone();
        let dummy = self.dummy.clone();
        let stored = phc.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            let stored = stored.as_deref().and_then(|p| PasswordHash::new(p).ok());
            let Some(stored) = stored else {
                if let Ok(dummy) = PasswordHash::new(dummy_hash(&dummy, &current)) {
                    let _ = Self::argon2(current).verify_password(secret.as_bytes(), &dummy);
                }
                return false;
            };
            // The stored hash's own parameters are what verifying it costs.
            let matched = Self::argon2(current.clone())
                .verify_password(secret.as_bytes(), &stored)
                .is_ok();
            if let Some(pad) = Params::try_from(&stored)
                .ok()
                .and_then(|old| padding(&current, &old))
            {
                #[cfg(test)]
                tests::PADDED_KIB.fetch_add(work(&pad), std::sync::atomic::Ordering::SeqCst);
                let mut out = [0u8; 32];
                let _ = Self::argon2(pad).hash_password_into(secret.as_bytes(), &[0u8; 16], &mut out);
            }
            matched
        })
        .await
        .unwrap_or(false)
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
}

/// The dummy hash in `cell`, made at `params` the first time. A failure to hash leaves the
/// empty string, which verifies nothing (the caller answers "no match" either way).
fn dummy_hash<'a>(cell: &'a OnceLock<String>, params: &Params) -> &'a str {
    cell.get_or_init(|| {
        // 22 random URL-safe characters: a valid password nobody knows.
        let random = crate::secrets::new_id();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Hasher::argon2(params.clone())
            .hash_password(random.as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// The argon2 work of parameters: KiB of memory times passes (the lanes run one after the
/// other here, so parallelism does not shorten it). Time is proportional to it.
fn work(params: &Params) -> u64 {
    u64::from(params.m_cost()) * u64::from(params.t_cost())
}

/// The extra argon2 run (result discarded) that makes verifying a hash of `old` parameters
/// cost what `current` costs: the difference in work, as one pass over that much memory, or as
/// several passes when that would take more memory than `current` uses. `None` when `old`
/// costs at least as much, or the difference is below argon2's minimum of 8 KiB.
pub fn padding(current: &Params, old: &Params) -> Option<Params> {
    let missing = work(current).checked_sub(work(old))?;
    let max_memory = u64::from(current.m_cost().max(Params::MIN_M_COST));
    let passes = missing.div_ceil(max_memory).max(1);
    let memory = missing / passes;
    if memory < u64::from(Params::MIN_M_COST) {
        return None;
    }
    Params::new(u32::try_from(memory).ok()?, u32::try_from(passes).ok()?, 1, None).ok()
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

    #[test]
    fn the_dummy_hash_is_made_when_prepared_at_the_configured_cost() {
        let h = Hasher::new(HashCost::default()).unwrap();
        assert!(h.dummy.get().is_none(), "no argon2 run until it is asked for");
        h.prepare_dummy();
        let dummy = h.dummy.get().unwrap();
        assert!(dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{dummy}");
        assert!(!h.needs_rehash(dummy));
    }

    fn params(m: u32, t: u32, p: u32) -> Params {
        Params::new(m, t, p, None).unwrap()
    }

    fn mtp(p: Option<Params>) -> Option<(u32, u32, u32)> {
        p.map(|p| (p.m_cost(), p.t_cost(), p.p_cost()))
    }

    #[test]
    fn a_weaker_stored_hash_is_padded_with_the_missing_work() {
        let current = params(19_456, 2, 1);
        // One pass over the missing memory when that fits in the configured memory...
        assert_eq!(
            mtp(padding(&current, &params(19_456, 1, 1))),
            Some((19_456, 1, 1))
        );
        assert_eq!(mtp(padding(&current, &params(32_768, 1, 1))), Some((6_144, 1, 1)));
        // ...else as many passes as keep it within the configured memory.
        assert_eq!(mtp(padding(&current, &params(8_192, 1, 1))), Some((15_360, 2, 1)));
        assert_eq!(mtp(padding(&current, &params(8, 1, 1))), Some((19_452, 2, 1)));
        // Parallelism does not count: the lanes are computed one after the other.
        assert_eq!(
            mtp(padding(&current, &params(19_456, 1, 4))),
            Some((19_456, 1, 1))
        );
        // The m*t product of the padding makes up the difference (to within the passes).
        let p = padding(&params(65_536, 3, 1), &params(19_456, 2, 1)).unwrap();
        let missing = 65_536 * 3 - 19_456 * 2;
        assert!(p.m_cost() * p.t_cost() <= missing && missing - p.m_cost() * p.t_cost() < p.t_cost());
        assert!(p.m_cost() <= 65_536);
    }

    #[test]
    fn an_equal_or_stronger_stored_hash_needs_no_padding() {
        let current = params(19_456, 2, 1);
        assert!(padding(&current, &params(19_456, 2, 1)).is_none());
        assert!(padding(&current, &params(38_912, 2, 1)).is_none());
        assert!(padding(&current, &params(19_456, 3, 1)).is_none());
        // A difference below argon2's 8 KiB minimum is not worth a run.
        assert!(padding(&current, &params(19_453, 2, 1)).is_none());
        assert_eq!(mtp(padding(&current, &params(19_452, 2, 1))), Some((8, 1, 1)));
    }

    /// KiB-passes of padding `verify` has run (this test binary only).
    pub static PADDED_KIB: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    #[tokio::test]
    async fn verifying_a_weaker_stored_hash_runs_the_missing_work() {
        let old = Hasher::new(HashCost {
            memory_kib: 8192,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let phc = old.hash(&strong()).await.unwrap();
        let current = Hasher::new(HashCost::default()).unwrap();
        let wrong = Password::new("wrong password here").unwrap();
        let before = PADDED_KIB.load(std::sync::atomic::Ordering::SeqCst);
        assert!(!current.verify(&wrong, Some(&phc)).await);
        let padded = PADDED_KIB.load(std::sync::atomic::Ordering::SeqCst) - before;
        // 19456 KiB x 2 passes configured, 8192 x 1 done by the stored hash's own verify.
        assert!(padded >= 19_456 * 2 - 8_192 - 2, "padded {padded} KiB-passes");
    }

    #[tokio::test]
    async fn a_weaker_stored_hash_still_verifies_and_fails_a_wrong_password() {
        let old = Hasher::new(HashCost {
            memory_kib: 8192,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let phc = old.hash(&strong()).await.unwrap();
        let current = Hasher::new(HashCost::default()).unwrap();
        assert!(current.verify(&strong(), Some(&phc)).await);
        let wrong = Password::new("wrong password here").unwrap();
        assert!(!current.verify(&wrong, Some(&phc)).await);
        assert!(!current.verify(&strong(), Some("not a phc string")).await);
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
