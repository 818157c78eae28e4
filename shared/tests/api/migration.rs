//! Bringing users from another system: imported password hashes (made here by other
//! implementations: Python's bcrypt, hashlib's scrypt and PBKDF2, the argon2 crate) log in with
//! their password and become argon2id; and the user-migration hook moves a user over at login
//! or at forgot-password, fails closed, and creates nothing when it has no such user.

use std::io::Write;
use std::process::{Command, Stdio};

use argon2::password_hash::{PasswordHasher, SaltString};

use crate::helpers::hooks::*;
use crate::helpers::*;
use authyy::domain::Email;
use authyy::store::{LoginAttempt, LoginStart};

/// `{scheme: hash}` of `password`, made by Python's bcrypt and hashlib (make_hashes.py).
pub fn foreign_hashes(password: &str) -> serde_json::Map<String, Value> {
    let python = std::env::var("AUTHYY_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/make_hashes.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python makes the hashes (with the bcrypt package: ./infra/test.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "make_hashes.py failed");
    match serde_json::from_slice(&out.stdout).unwrap() {
        Value::Object(map) => map,
        other => panic!("{other}"),
    }
}

/// argon2 hashes of `password` made by the argon2 crate's own API, of other variants and
/// parameters than authyy's (argon2i; argon2id at 8 MiB and 3 passes).
fn argon2_hashes(password: &str) -> Vec<(String, String)> {
    use argon2::{Algorithm, Argon2, Params, Version};
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    [
        ("argon2i", Algorithm::Argon2i, Params::new(4096, 3, 1, None)),
        ("argon2id", Algorithm::Argon2id, Params::new(8192, 3, 2, None)),
    ]
    .into_iter()
    .map(|(name, algorithm, params)| {
        let hash = Argon2::new(algorithm, Version::V0x13, params.unwrap())
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string();
        (name.to_string(), hash)
    })
    .collect()
}

/// Imports `lines` (JSON Lines) into the app's store, as `authyy-admin import` does.
async fn import(app: &TestApp, lines: &[Value]) -> authyy::import::Summary {
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    let plan = authyy::import::check(&text.join("\n"), app.clock.now()).unwrap();
    authyy::import::write(app.state.users.as_ref(), plan, &mut |_| {})
        .await
        .unwrap()
}

/// The password hash the account of `email` has (read as a login reads it).
async fn stored_hash(app: &TestApp, email: &str) -> String {
    let email = Email::parse(email).unwrap();
    let attempt = LoginAttempt {
        email: &email,
        network: "198.51.100.0/24",
        device: None,
        now: app.clock.now(),
    };
    match app
        .state
        .sessions
        .begin_login(&attempt, &app.state.config.login_rules())
        .await
        .unwrap()
    {
        LoginStart::Reserved {
            credentials: Some(c), ..
        } => c.password_hash,
        _ => panic!("no account for {email}"),
    }
}

fn is_todays_argon2id(hash: &str) -> bool {
    hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
}

async fn each_imported_hash_scheme_logs_in_with_its_password_and_becomes_argon2id<B: Backend>() {
    let app = app::<B>().await;
    let mut hashes: Vec<(String, String)> = foreign_hashes(STRONG)
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap().to_string()))
        .collect();
    hashes.extend(argon2_hashes(STRONG));
    let lines: Vec<Value> = hashes
        .iter()
        .map(|(scheme, hash)| {
            let name = scheme.replace('_', "-");
            json!({"email": format!("{name}@example.com"), "username": name, "password_hash": hash})
        })
        .collect();
    assert_eq!(import(&app, &lines).await.created, hashes.len());
    for (scheme, hash) in &hashes {
        let email = format!("{}@example.com", scheme.replace('_', "-"));
        assert_eq!(
            &stored_hash(&app, &email).await,
            hash,
            "{scheme}: stored as imported"
        );
        let r = app.login(&email, STRONG).await;
        assert_eq!(r.status, 200, "{scheme}: {:?}", r.body);
        let now = stored_hash(&app, &email).await;
        assert!(
            is_todays_argon2id(&now),
            "{scheme}: replaced by argon2id, got {now}"
        );
        assert_eq!(app.login(&email, STRONG).await.status, 200, "{scheme}: again");
    }
}

async fn a_wrong_password_on_an_imported_hash_is_refused_and_nothing_is_rehashed<B: Backend>() {
    let app = app::<B>().await;
    let hashes = foreign_hashes(STRONG);
    let bcrypt = hashes["bcrypt_2b"].as_str().unwrap();
    let django = hashes["django"].as_str().unwrap();
    import(
        &app,
        &[
            json!({"email": "bc@example.com", "username": "bcrypt-user", "password_hash": bcrypt}),
            json!({"email": "dj@example.com", "username": "django-user", "password_hash": django}),
        ],
    )
    .await;
    for (email, hash) in [("bc@example.com", bcrypt), ("dj@example.com", django)] {
        let r = app.login(email, STRONG2).await;
        assert_eq!((r.status, r.detail()), (401, "Invalid email or password"));
        assert_eq!(stored_hash(&app, email).await, hash, "{email}: untouched");
    }
}

async fn an_imported_hash_is_checked_against_the_password_as_typed_then_normalised<B: Backend>() {
    let app = app::<B>().await;
    // U+FB01 (the "fi" ligature) is "fi" once NFKC-normalised: one system hashed the password
    // as typed, the other its normalised form; both log in with what the user types.
    let typed = "the \u{FB01}sh swims far away 42";
    let normalised = "the fish swims far away 42";
    let as_typed = foreign_hashes(typed)["pbkdf2_sha256"].clone();
    let as_normalised = foreign_hashes(normalised)["pbkdf2_sha256"].clone();
    import(
        &app,
        &[
            json!({"email": "typed@example.com", "username": "typed", "password_hash": as_typed}),
            json!({"email": "norm@example.com", "username": "norm", "password_hash": as_normalised}),
        ],
    )
    .await;
    assert_eq!(app.login("typed@example.com", typed).await.status, 200);
    assert_eq!(app.login("norm@example.com", typed).await.status, 200);
    // After the re-hash, the normalised form is what authyy keeps: both forms log in.
    assert_eq!(app.login("typed@example.com", normalised).await.status, 200);
}

async fn a_rerun_of_the_same_import_creates_nothing<B: Backend>() {
    let app = app::<B>().await;
    let lines: Vec<Value> = (0..30)
        .map(|i| json!({"email": format!("rerun{i}@example.com"), "username": format!("rerun{i}")}))
        .collect();
    let first = import(&app, &lines).await;
    assert_eq!((first.created, first.skipped.len()), (30, 0));
    let again = import(&app, &lines).await;
    assert_eq!((again.created, again.skipped.len()), (0, 30));
    assert!(again
        .skipped
        .iter()
        .all(|b| b.reason == "email already registered"));
    assert_eq!(again.skipped[29].line, 30);
}

async fn an_imported_username_already_taken_is_made_unique<B: Backend>() {
    let app = app::<B>().await;
    app.signup("ada", "ada@example.com", STRONG).await;
    let summary = import(
        &app,
        &[
            json!({"email": "ada@old.example.com", "username": "ADA", "email_verified": true, "role": "admin", "app_metadata": {"plan": "pro"}}),
        ],
    )
    .await;
    assert_eq!(summary.created, 1);
    let [(line, asked, given)] = &summary.renamed[..] else {
        panic!("{:?}", summary.renamed)
    };
    assert_eq!((*line, asked.as_str()), (1, "ADA"));
    assert!(given.starts_with("ADA-"), "{given}");
    let user = app
        .state
        .users
        .user_by_email(&Email::parse("ada@old.example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&user.username, given);
    assert!(user.email_verified);
    assert_eq!(user.role, authyy::domain::Role::Admin);
    assert_eq!(user.app_metadata.to_json(), r#"{"plan":"pro"}"#);
}

async fn an_account_imported_without_a_password_sets_one_through_a_reset<B: Backend>() {
    let app = app::<B>().await;
    import(&app, &[json!({"email": "nopw@example.com", "username": "nopw"})]).await;
    assert_eq!(app.login("nopw@example.com", STRONG).await.status, 401);
    let token = app.reset_token("nopw@example.com").await;
    assert_eq!(app.reset(&token, STRONG2).await.status, 200);
    assert_eq!(app.login("nopw@example.com", STRONG2).await.status, 200);
}

// The user-migration hook (the receiver's /migrate: users whose address starts with `legacy`,
// with the password LEGACY_PASSWORD exactly as typed).

pub const LEGACY_PASSWORD: &str = "old system \u{FB01}ne password";

fn migration_config(path: &str) -> Config {
    with(|c| {
        c.hooks = hook_settings(None, None);
        c.hooks.user_migration = Some(http_hook(path));
    })
}

/// `legacy<suffix>@example.com`, unique to this run of a case (the receiver is shared).
fn legacy_email() -> String {
    format!("legacy{:06x}@example.com", rand::random::<u32>() & 0xff_ffff)
}

async fn the_migration_hook_moves_a_user_over_at_their_first_login<B: Backend>() {
    let app = B::app(migration_config("/migrate")).await;
    let email = legacy_email();
    let r = app.login(&email, LEGACY_PASSWORD).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let seen = received(&email).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["verified"], true, "the signature verifies");
    assert_eq!(
        seen[0]["event"],
        json!({"event": "user_migration", "email": email, "password": LEGACY_PASSWORD}),
        "the password exactly as typed"
    );
    let me = app.me(&access(&r)).await.body;
    assert_eq!(me["username"], "legacy.user", "the name the old system gave");
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["app_metadata"], json!({"source": "legacy"}));
    assert!(is_todays_argon2id(&stored_hash(&app, &email).await));
    // The account is authyy's now: the hook is not asked again.
    assert_eq!(app.login(&email, LEGACY_PASSWORD).await.status, 200);
    assert_eq!(received(&email).await.len(), 1);
    // Its log begins with the move, made by authyy (not by the user), then the sign-ins.
    let events = app.my_events(&access(&r)).await;
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e["type"].clone(), e["actor"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (json!("login_succeeded"), json!("self")),
            (json!("login_succeeded"), json!("self")),
            (json!("signup"), json!("system")),
        ]
    );
    assert_eq!(events[2]["details"], json!({"method": "migration"}));
}

async fn a_user_the_old_system_does_not_have_is_401_and_nothing_is_created<B: Backend>() {
    let app = B::app(migration_config("/migrate")).await;
    let stranger = format!("stranger{:06x}@example.com", rand::random::<u32>() & 0xff_ffff);
    let r = app.login(&stranger, LEGACY_PASSWORD).await;
    assert_eq!((r.status, r.detail()), (401, "Invalid email or password"));
    assert!(!app.exists(&stranger).await);
    // A wrong password: the old system says no such user; the attempt counts as any failure.
    let email = legacy_email();
    let r = app.login(&email, "not the old password").await;
    assert_eq!(r.status, 401);
    assert!(!app.exists(&email).await);
}

async fn a_failing_migration_hook_is_503_and_creates_nothing<B: Backend>() {
    for path in ["/fail", "/slow", "/garbage", "/redirect", "/allow"] {
        let app = B::app(migration_config(path)).await;
        let email = legacy_email();
        let r = app.login(&email, LEGACY_PASSWORD).await;
        assert_eq!(r.status, 503, "{path}: {:?}", r.body);
        assert!(!app.exists(&email).await, "{path}");
    }
}

async fn a_migrated_username_already_taken_is_made_unique<B: Backend>() {
    let app = B::app(migration_config("/migrate")).await;
    let (first, second) = (legacy_email(), legacy_email());
    assert_eq!(app.login(&first, LEGACY_PASSWORD).await.status, 200);
    let r = app.login(&second, LEGACY_PASSWORD).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let me = app.me(&access(&r)).await.body;
    assert!(
        me["username"].as_str().unwrap().starts_with("legacy.user-"),
        "{me}"
    );
}

async fn the_before_signup_hook_may_refuse_a_migrating_user<B: Backend>() {
    let app = B::app(with(|c| {
        c.hooks = hook_settings(Some("/deny"), None);
        c.hooks.user_migration = Some(http_hook("/migrate"));
    }))
    .await;
    let email = legacy_email();
    let r = app.login(&email, LEGACY_PASSWORD).await;
    assert_eq!((r.status, r.detail()), (403, "Sign up with your work address"));
    assert!(!app.exists(&email).await);
    let asked = received(&email).await;
    assert_eq!(asked[1]["event"]["method"], "user_migration", "{asked:?}");
}

async fn the_before_signup_hooks_metadata_wins_over_the_migration_hooks<B: Backend>() {
    let app = B::app(with(|c| {
        c.hooks = hook_settings(Some("/metadata"), None);
        c.hooks.user_migration = Some(http_hook("/migrate"));
    }))
    .await;
    let r = app.login(&legacy_email(), LEGACY_PASSWORD).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let me = app.me(&access(&r)).await.body;
    assert_eq!(me["app_metadata"], json!({"plan": "trial", "source": "hook"}));
}

async fn the_mailer_asks_the_migration_hook_at_forgot_password_and_mails_the_reset<B: Backend>() {
    let app = B::app(migration_config("/migrate")).await;
    let email = legacy_email();
    let stranger = format!("stranger{:06x}@example.com", rand::random::<u32>() & 0xff_ffff);
    let known = app.forgot(&email).await;
    let unknown = app.forgot(&stranger).await;
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    // Nothing was asked on the request path: the mailer asks, with the email alone.
    assert!(received(&email).await.is_empty());
    let token = token_in(app.reset_mails_to(&email).await.last().expect("a reset mail")).unwrap();
    assert_eq!(
        received(&email).await[0]["event"],
        json!({"event": "user_migration", "email": email})
    );
    assert!(app.mails_to(&stranger).await.is_empty());
    assert!(!app.exists(&stranger).await);
    // The account has no password until the link sets one.
    assert_eq!(app.login(&email, LEGACY_PASSWORD).await.status, 401);
    assert_eq!(app.reset(&token, STRONG).await.status, 200);
    assert_eq!(app.login(&email, STRONG).await.status, 200);
}

async fn a_failing_migration_hook_at_forgot_password_keeps_the_job_and_creates_nothing<B: Backend>() {
    let app = B::app(migration_config("/fail")).await;
    let email = legacy_email();
    assert_eq!(
        app.forgot(&email).await.status,
        200,
        "the client's answer is the same"
    );
    let failed = app.deliver_queued().await;
    assert_eq!(failed.len(), 1, "the job stays to be tried again");
    assert!(!app.exists(&email).await);
}

both_backends!(
    each_imported_hash_scheme_logs_in_with_its_password_and_becomes_argon2id,
    a_wrong_password_on_an_imported_hash_is_refused_and_nothing_is_rehashed,
    an_imported_hash_is_checked_against_the_password_as_typed_then_normalised,
    a_rerun_of_the_same_import_creates_nothing,
    an_imported_username_already_taken_is_made_unique,
    an_account_imported_without_a_password_sets_one_through_a_reset,
    the_migration_hook_moves_a_user_over_at_their_first_login,
    a_user_the_old_system_does_not_have_is_401_and_nothing_is_created,
    a_failing_migration_hook_is_503_and_creates_nothing,
    a_migrated_username_already_taken_is_made_unique,
    the_before_signup_hook_may_refuse_a_migrating_user,
    the_before_signup_hooks_metadata_wins_over_the_migration_hooks,
    the_mailer_asks_the_migration_hook_at_forgot_password_and_mails_the_reset,
    a_failing_migration_hook_at_forgot_password_keeps_the_job_and_creates_nothing,
);
