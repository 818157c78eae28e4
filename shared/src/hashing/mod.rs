//! Argon2id password hashing, off the async executor, with a discarded argon2 run for unknown
//! accounts and padding for hashes of an older, cheaper cost, so that timing does not reveal
//! which emails are registered. Hashes imported from other systems ([`imported`]) are verified
//! with their own scheme until the first login replaces them.

mod foreign;
pub mod imported;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    /// How many argon2 runs were made, and their work (KiB-passes, see [`work`]), for the
    /// tests.
    runs: AtomicUsize,
    work: AtomicU64,
}

const KEPT_BUFFERS: usize = 1;

impl WorkingMemory {
    /// One argon2 run of `argon` into `out`, in a kept buffer.
    fn run(&self, argon: &Argon2<'_>, pwd: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), argon2::Error> {
        let needed = argon.params().block_count();
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.work.fetch_add(work(argon.params()), Ordering::Relaxed);
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
mod tests;
