//! The hasher's rules: argon2id round trips, the work an unknown account or a wrong password
//! costs, the kept working memory, and re-hashing.

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

#[tokio::test]
async fn an_unknown_account_fails_after_a_full_argon2_run_at_the_configured_cost() {
    let h = Hasher::new(HashCost::default()).unwrap();
    let before = h.memory.made.load(Ordering::Relaxed);
    let kib = work_done(&h);
    assert!(!h.verify(&strong(), None).await);
    assert!(!h.verify(&strong(), Some("not a phc string")).await);
    // Each ran argon2 over the configured memory, as verifying a real hash does...
    assert_eq!(
        h.memory.made.load(Ordering::Relaxed),
        before + 1,
        "one working memory"
    );
    assert_eq!(
        work_done(&h) - kib,
        2 * 19_456 * 2,
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

/// The argon2 work `h` has done, in KiB-passes.
fn work_done(h: &Hasher) -> u64 {
    h.memory.work.load(Ordering::Relaxed)
}

/// A hash of [`strong`] at a cost below today's (8 MiB, one pass).
async fn weaker_hash() -> String {
    let old = Hasher::new(HashCost {
        memory_kib: 8192,
        iterations: 1,
        parallelism: 1,
    })
    .unwrap();
    old.hash(&strong()).await.unwrap()
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

#[tokio::test]
async fn verifying_a_weaker_stored_hash_runs_the_missing_work() {
    let phc = weaker_hash().await;
    let current = Hasher::new(HashCost::default()).unwrap();
    let wrong = Password::new("wrong password here").unwrap();
    assert!(!current.verify(&wrong, Some(&phc)).await);
    // 19456 KiB x 2 passes configured: 8192 x 1 by the stored hash's own verify, the rest
    // padded (less what rounds away).
    let done = work_done(&current);
    assert!((19_456 * 2 - 2..=19_456 * 2).contains(&done), "{done} KiB-passes");
}

#[tokio::test]
async fn a_weaker_stored_hash_still_verifies_and_fails_a_wrong_password() {
    let phc = weaker_hash().await;
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
    assert!(!current.verify(&wrong, Some(&bcrypt)).await);
    assert_eq!(work_done(&current), 19_456 * 2);
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
        let kib = work_done(&current);
        assert!(!current.verify(&strong(), Some(costly)).await, "{costly}");
        assert_eq!(work_done(&current) - kib, 19_456 * 2, "{costly}");
    }
}

#[tokio::test]
async fn hashes_of_other_parameters_need_rehash() {
    let phc = weaker_hash().await;
    assert!(Hasher::new(HashCost::default()).unwrap().needs_rehash(&phc));
}
