//! Argon2id password hashing, off the async executor, with a discarded argon2 run for unknown
//! accounts and padding for hashes of an older, cheaper cost, so that timing does not reveal
//! which emails are registered. Hashes imported from other systems ([`imported`]) are verified
//! with their own scheme until the first login replaces them.

mod foreign;
pub mod imported;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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
    memory: Arc<WorkingMemory>,
}

impl Hasher {
    pub fn new(cost: HashCost) -> Result<Hasher, HashError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| HashError::Hash(e.to_string()))?;
        Ok(Hasher {
            params,
            memory: Arc::new(WorkingMemory::default()),
        })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// A PHC string for `password`.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let params = self.params.clone();
        let secret = password.expose().to_string();
        let memory = self.memory.clone();
        tokio::task::spawn_blocking(move || hash_phc(&params, secret.as_bytes(), &memory))
            .await
            .map_err(|e| HashError::Hash(e.to_string()))?
    }

    /// Whether `password` matches `phc`, at no less than the configured cost whatever the
    /// account: with no hash (unknown account), or one that cannot be read, the password is
    /// run through argon2 at the configured cost all the same (`discarded_run`); a hash of weaker
    /// (older) parameters is followed by [`padding`], so a wrong password costs about what an
    /// unknown email does. An imported hash of another scheme is checked against the password
    /// as received, then its normalised form (the other system may have hashed either), and a
    /// miss is followed by a full discarded run: at least the unknown email's work.
    pub async fn verify(&self, password: &Password, phc: Option<&str>) -> bool {
        let secret = password.expose().to_string();
        let received = password.as_received().to_string();
        let current = self.params.clone();
        let stored = phc.map(str::to_string);
        let memory = self.memory.clone();
        tokio::task::spawn_blocking(move || {
            let foreign = stored.as_deref().map(foreign::Foreign::parse);
            if let Some(Ok(Some(foreign))) = foreign {
                let matched = foreign.matches(received.as_bytes())
                    || (received != secret && foreign.matches(secret.as_bytes()));
                if !matched {
                    #[cfg(test)]
                    tests::PADDED_KIB.fetch_add(work(&current), Ordering::SeqCst);
                    discarded_run(&current, secret.as_bytes(), &memory);
                }
                return matched;
            }
            // Another scheme's hash out of its bounds, or no argon2 hash: as no account.
            let stored = stored
                .as_deref()
                .filter(|_| !matches!(foreign, Some(Err(_))))
                .and_then(|p| PasswordHash::new(p).ok())
                .filter(|h| Algorithm::try_from(h.algorithm).is_ok());
            let Some(stored) = stored else {
                // What verifying a hash of the configured cost is, less the comparison: an
                // unknown email costs what a wrong password does, with no dummy hash to make.
                // (Twice when the password as received differs from its normalised form, as
                // a real hash is then checked against both.)
                for _ in 0..if received == secret { 1 } else { 2 } {
                    #[cfg(test)]
                    tests::STAND_IN_KIB.fetch_add(work(&current), Ordering::SeqCst);
                    discarded_run(&current, secret.as_bytes(), &memory);
                }
                return false;
            };
            // The stored hash's own parameters are what verifying it costs; an argon2 hash made
            // elsewhere may be of the password as received.
            let matched = matches(&stored, secret.as_bytes(), &memory)
                || (received != secret && matches(&stored, received.as_bytes(), &memory));
            if let Some(pad) = Params::try_from(&stored)
                .ok()
                .and_then(|old| padding(&current, &old))
            {
                #[cfg(test)]
                tests::PADDED_KIB.fetch_add(work(&pad), std::sync::atomic::Ordering::SeqCst);
                discarded_run(&pad, secret.as_bytes(), &memory);
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

/// One argon2id run of `pwd` at `params` (version 0x13, a 16-byte salt, a 32-byte output, as
/// every hash this hasher makes), its result discarded: the work verifying a hash of `params`
/// does, spent where there is no hash of that cost to verify (an unknown account, or the
/// [`padding`] of an older hash).
fn discarded_run(params: &Params, pwd: &[u8], memory: &WorkingMemory) {
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let _ = memory.run(&Hasher::argon2(params.clone()), pwd, &[0u8; 16], &mut out);
}

/// A PHC string of `pwd` at `params` (argon2id, version 0x13) with a fresh random salt: what
/// the crate's `hash_password` makes, made in the kept working memory.
fn hash_phc(params: &Params, pwd: &[u8], memory: &WorkingMemory) -> Result<String, HashError> {
    let fail = |e: &dyn std::fmt::Display| HashError::Hash(e.to_string());
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf).map_err(|e| fail(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    memory
        .run(&Hasher::argon2(params.clone()), pwd, salt_bytes, &mut out)
        .map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| fail(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

/// Whether `pwd` matches the PHC hash `stored`, computed with the hash's own algorithm, version
/// and parameters (as the crate's `verify_password`), in the kept working memory; the outputs
/// are compared in constant time (`Output`'s equality).
fn matches(stored: &PasswordHash<'_>, pwd: &[u8], memory: &WorkingMemory) -> bool {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(stored.algorithm), Params::try_from(stored))
    else {
        return false;
    };
    let Ok(version) = stored.version.map_or(Ok(Version::V0x13), Version::try_from) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = [0u8; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    memory
        .run(&Argon2::new(algorithm, version, params), pwd, salt, out)
        .is_ok()
        && Output::new(out).is_ok_and(|computed| computed == *expected)
}

/// argon2's working memory (`m_cost` KiB: 19 MiB at the default cost), kept for the next run
/// instead of freed. Freed, each run's buffer was reallocated on whichever blocking thread ran
/// the next, and the allocator kept a copy per thread: `login`'s peak RSS grew to about six of
/// them. One is kept, as an execution environment runs one request at a time; a run that
/// overlaps another gets a buffer of its own, dropped afterwards.
#[derive(Default)]
struct WorkingMemory {
    kept: Mutex<Vec<Vec<Block>>>,
    /// How many buffers were allocated (or grown), for the tests.
    made: AtomicUsize,
    /// How many argon2 runs were made, for the tests.
    runs: AtomicUsize,
}

const KEPT_BUFFERS: usize = 1;

impl WorkingMemory {
    /// One argon2 run of `argon` into `out`, in a kept buffer.
    fn run(&self, argon: &Argon2<'_>, pwd: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), argon2::Error> {
        let needed = argon.params().block_count();
        self.runs.fetch_add(1, Ordering::Relaxed);
        let mut blocks = self
            .kept
            .lock()
            .ok()
            .and_then(|mut kept| kept.pop())
            .unwrap_or_default();
        if blocks.len() < needed {
            self.made.fetch_add(1, Ordering::Relaxed);
            blocks.resize(needed, Block::new());
        }
        let result = argon.hash_password_into_with_memory(pwd, salt, out, &mut blocks);
        if let Ok(mut kept) = self.kept.lock() {
            if kept.len() < KEPT_BUFFERS {
                kept.push(blocks);
            }
        }
        result
    }
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
    async fn hashes_are_those_of_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let h = Hasher::new(HashCost::default()).unwrap();
        let ours = h.hash(&strong()).await.unwrap();
        let crate_argon2 = Argon2::default();
        assert!(crate_argon2
            .verify_password(strong().expose().as_bytes(), &PasswordHash::new(&ours).unwrap())
            .is_ok());
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let theirs = crate_argon2
            .hash_password(strong().expose().as_bytes(), &salt)
            .unwrap()
            .to_string();
        assert!(h.verify(&strong(), Some(&theirs)).await);
        // Another version, other parameters, a longer output: the hash's own are used.
        let v10 = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x10,
            Params::new(8_192, 1, 2, Some(48)).unwrap(),
        )
        .hash_password(strong().expose().as_bytes(), &salt)
        .unwrap()
        .to_string();
        assert!(h.verify(&strong(), Some(&v10)).await);
        assert!(
            !h.verify(&Password::new("wrong password here").unwrap(), Some(&v10))
                .await
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sequential_runs_reuse_one_working_memory() {
        let h = Hasher::new(HashCost::default()).unwrap();
        let phc = h.hash(&strong()).await.unwrap();
        for _ in 0..5 {
            assert!(h.verify(&strong(), Some(&phc)).await);
            assert!(!h.verify(&strong(), None).await);
        }
        assert_eq!(
            h.memory.made.load(Ordering::Relaxed),
            1,
            "one buffer for every run"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overlapping_runs_get_a_buffer_each_and_one_is_kept() {
        let h = Hasher::new(HashCost::default()).unwrap();
        let phc = h.hash(&strong()).await.unwrap();
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let (h, phc) = (h.clone(), phc.clone());
                tokio::spawn(async move { h.verify(&strong(), Some(&phc)).await })
            })
            .collect();
        for run in runs {
            assert!(run.await.unwrap());
        }
        assert!(h.memory.made.load(Ordering::Relaxed) <= 4);
        assert_eq!(h.memory.kept.lock().unwrap().len(), KEPT_BUFFERS);
    }

    /// KiB-passes of the runs `verify` has made for unknown accounts (this test binary only).
    pub static STAND_IN_KIB: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    #[tokio::test]
    async fn an_unknown_account_fails_after_a_full_argon2_run_at_the_configured_cost() {
        let h = Hasher::new(HashCost::default()).unwrap();
        let before = h.memory.made.load(Ordering::Relaxed);
        let kib = STAND_IN_KIB.load(Ordering::SeqCst);
        assert!(!h.verify(&strong(), None).await);
        assert!(!h.verify(&strong(), Some("not a phc string")).await);
        // Each ran argon2 over the configured memory, as verifying a real hash does...
        assert_eq!(
            h.memory.made.load(Ordering::Relaxed),
            before + 1,
            "one working memory"
        );
        assert!(
            STAND_IN_KIB.load(Ordering::SeqCst) - kib >= 2 * 19_456 * 2,
            "two runs of 19456 KiB x 2 passes"
        );
    }

    /// A password NFKC changes ("ﬁ" becomes "fi"), and one it leaves as typed.
    fn ligature(text: &str) -> Password {
        let p = Password::new(text).unwrap();
        assert_ne!(p.as_received(), p.expose());
        p
    }

    fn runs(h: &Hasher) -> usize {
        h.memory.runs.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn an_unknown_account_costs_one_run_per_form_of_the_password() {
        let h = Hasher::new(HashCost::default()).unwrap();
        assert!(!h.verify(&strong(), None).await);
        assert_eq!(runs(&h), 1, "typed as normalised: one run");
        assert!(!h.verify(&ligature("a \u{fb01}ne old password"), None).await);
        assert_eq!(
            runs(&h),
            3,
            "typed otherwise: a run per form, as a real hash checks both"
        );
    }

    #[tokio::test]
    async fn a_wrong_password_costs_one_run_when_typed_as_normalised() {
        let h = Hasher::new(HashCost::default()).unwrap();
        let phc = h.hash(&strong()).await.unwrap();
        let before = runs(&h);
        assert!(
            !h.verify(&Password::new("wrong password here").unwrap(), Some(&phc))
                .await
        );
        assert_eq!(runs(&h) - before, 1);
    }

    #[tokio::test]
    async fn an_argon2_hash_of_the_password_as_typed_verifies() {
        use argon2::password_hash::PasswordHasher as _;
        let h = Hasher::new(HashCost::default()).unwrap();
        let typed = ligature("a \u{fb01}ne old password");
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let elsewhere = Argon2::default()
            .hash_password(typed.as_received().as_bytes(), &salt)
            .unwrap()
            .to_string();
        assert!(h.verify(&typed, Some(&elsewhere)).await);
        assert!(
            !h.verify(&ligature("a \u{fb01}ne new password"), Some(&elsewhere))
                .await
        );
    }

    #[tokio::test]
    async fn a_wrong_password_on_another_schemes_hash_is_refused_in_either_form() {
        let h = Hasher::new(HashCost::default()).unwrap();
        let typed = ligature("a \u{fb01}ne old password");
        let theirs = bcrypt::hash(typed.as_received(), 4).unwrap();
        assert!(h.verify(&typed, Some(&theirs)).await);
        let normalised = bcrypt::hash(typed.expose(), 4).unwrap();
        assert!(h.verify(&typed, Some(&normalised)).await);
        for wrong in [
            ligature("a \u{fb01}ne new password"),
            Password::new("a fine new password").unwrap(),
        ] {
            assert!(!h.verify(&wrong, Some(&theirs)).await);
            assert!(!h.verify(&wrong, Some(&normalised)).await);
        }
    }

    #[tokio::test]
    async fn a_hash_of_other_parameters_or_variant_needs_a_rehash() {
        use argon2::password_hash::PasswordHasher as _;
        let h = Hasher::new(HashCost::default()).unwrap();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let of = |algorithm, m, t, p| {
            Argon2::new(algorithm, Version::V0x13, Params::new(m, t, p, None).unwrap())
                .hash_password(b"x", &salt)
                .unwrap()
                .to_string()
        };
        assert!(!h.needs_rehash(&of(Algorithm::Argon2id, 19_456, 2, 1)));
        assert!(h.needs_rehash(&of(Algorithm::Argon2i, 19_456, 2, 1)), "argon2i");
        assert!(h.needs_rehash(&of(Algorithm::Argon2id, 8_192, 2, 1)), "memory");
        assert!(h.needs_rehash(&of(Algorithm::Argon2id, 19_456, 3, 1)), "passes");
        assert!(h.needs_rehash(&of(Algorithm::Argon2id, 19_456, 2, 2)), "lanes");
        assert!(h.needs_rehash(&bcrypt::hash("x", 4).unwrap()), "another scheme");
    }

    #[test]
    fn a_new_hasher_runs_no_argon2_until_asked() {
        let h = Hasher::new(HashCost::default()).unwrap();
        assert_eq!(h.memory.made.load(Ordering::Relaxed), 0, "nothing at cold start");
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
    async fn a_wrong_password_on_an_imported_hash_costs_a_full_run_more() {
        // bcrypt at cost 4 is about a millisecond: the miss is followed by an argon2 run at the
        // configured cost, so it costs at least what an unknown email does.
        let current = Hasher::new(HashCost::default()).unwrap();
        let bcrypt = bcrypt::hash(strong().expose(), 4).unwrap();
        let wrong = Password::new("wrong password here").unwrap();
        let before = PADDED_KIB.load(Ordering::SeqCst);
        assert!(!current.verify(&wrong, Some(&bcrypt)).await);
        assert!(PADDED_KIB.load(Ordering::SeqCst) - before >= 19_456 * 2);
        // A match is not padded (the login goes on to re-hash it).
        assert!(current.verify(&strong(), Some(&bcrypt)).await);
        assert!(current.needs_rehash(&bcrypt));
    }

    #[tokio::test]
    async fn an_unreadable_imported_hash_is_an_unknown_account() {
        let current = Hasher::new(HashCost::default()).unwrap();
        // Costs no import lets in, and a scheme argon2 does not know: not run, and the stand-in
        // run is spent instead.
        for costly in [
            "$2b$20$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
            "$scrypt$ln=20,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$zvBXJzyiZ1cDEPVUXbhPbgqUFBsd0yuj5EbQTzqBOWU",
            "$sha256$c2FsdHNhbHRzYWx0c2FsdA$zvBXJzyiZ1cDEPVUXbhPbgqUFBsd0yuj5EbQTzqBOWU",
        ] {
            let kib = STAND_IN_KIB.load(Ordering::SeqCst);
            assert!(!current.verify(&strong(), Some(costly)).await, "{costly}");
            assert!(
                STAND_IN_KIB.load(Ordering::SeqCst) - kib >= 19_456 * 2,
                "{costly}"
            );
        }
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
