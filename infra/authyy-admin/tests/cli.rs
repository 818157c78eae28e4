//! The real `authyy-admin` binary, on both backends: the SQLite file of local mode, and a
//! DynamoDB table and Secrets Manager secret on the local AWS server the test command starts.

// A test fails by panicking: the workspace's panic lints do not hold here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use authyy::config::AwsSettings;
use authyy::domain::{Email, Role, User, Username};
use authyy::keys::secrets_manager::SecretsManagerKeys;
use authyy::keys::KeyStore;
use authyy::store::dynamo::DynamoStore;
use authyy::store::sqlite::SqliteStore;
use authyy::store::{NewUser, Store};

const PASSWORD: &str = "correct horse battery staple 42";

/// Where the admin tool should act, as arguments and environment.
struct Target {
    args: Vec<String>,
    env: Vec<(String, String)>,
    store: Arc<dyn Store>,
    keys: Arc<dyn KeyStore>,
    /// What the tool says it acts on before a command.
    acts_on: String,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_authyy-admin"));
        cmd.args(&self.args)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.env_remove("AUTH_TABLE_NAME")
            .env_remove("AUTH_SIGNING_SECRET_ID")
            .env_remove("AUTH_PUBLIC_KEYS_SECRET_ID");
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run authyy-admin");
        if let Some(text) = stdin {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    }

    async fn user(&self, email: &str) -> User {
        self.store
            .user_by_email(&Email::parse(email).unwrap())
            .await
            .unwrap()
            .unwrap()
    }

    async fn add_user(&self, username: &str, email: &str) -> User {
        self.store
            .create_user(NewUser {
                username: Username::parse(username).unwrap(),
                email: Email::parse(email).unwrap(),
                password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
                created_at: 1_754_735_400,
                app_metadata: Default::default(),
                role: Role::User,
                email_verified: false,
            })
            .await
            .unwrap()
    }
}

fn sqlite_target() -> Target {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authyy.sqlite3");
    let store = SqliteStore::open(&path).unwrap();
    Target {
        args: vec!["--sqlite".into(), path.display().to_string()],
        acts_on: format!("on the SQLite file {}", path.display()),
        env: vec![],
        store: Arc::new(store.clone()),
        keys: Arc::new(store),
        _dir: Some(dir),
    }
}

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn moto() -> String {
    std::env::var("AUTHYY_MOTO_URL").expect(
        "AUTHYY_MOTO_URL is not set: these tests need the local AWS server that ./infra/test.sh starts",
    )
}

fn aws_env() -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", moto()),
        ("AWS_REGION", "eu-west-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

async fn dynamo_target() -> Target {
    let id = authyy::randomness::new_id().replace(['-', '_'], "x");
    let (table, secret, public) = (
        format!("authyy-cli-{id}"),
        format!("authyy-cli-keys-{id}"),
        format!("authyy-cli-public-{id}"),
    );
    // The table comes from template.yaml, as in every test and local run.
    let setup = Command::new(workspace().join(".venv/bin/python"))
        .arg(workspace().join("infra/local_aws.py"))
        .args([
            "setup",
            &moto(),
            "--table",
            &table,
            "--secret",
            &secret,
            "--public-secret",
            &public,
        ])
        .output()
        .expect("run infra/local_aws.py");
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let settings = AwsSettings::new(table.clone(), secret.clone(), public.clone());
    let sdk = authyy::aws::config_loader(&settings)
        .endpoint_url(moto())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "t",
        ))
        .load()
        .await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone());
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let keys = Arc::new(SecretsManagerKeys::new(secrets, secret, public));
    Target {
        acts_on: format!("on the DynamoDB table {table} in eu-west-1"),
        args: vec![
            "--table".into(),
            table,
            "--secret".into(),
            settings.signing_secret_id.clone(),
            "--public-secret".into(),
            settings.public_keys_secret_id.clone(),
        ],
        env: aws_env(),
        store: Arc::new(store),
        keys,
        _dir: None,
    }
}

async fn every_command_works(t: Target) {
    // create-admin: password from standard input, policy applied.
    let out = t.run(
        &[
            "create-admin",
            "--username",
            "root",
            "--email",
            "Root@Example.com",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let root = t.user("root@example.com").await;
    assert_eq!(root.role, Role::Admin);
    let weak = t.run(
        &[
            "create-admin",
            "--username",
            "root2",
            "--email",
            "root2@example.com",
            "--password-stdin",
        ],
        Some("password\n"),
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));
    let no_password = t.fails(&["create-admin", "--username", "r3", "--email", "r3@example.com"]);
    assert!(no_password.contains("--password-stdin"), "{no_password}");

    // promote / demote; a change first says what it acts on.
    t.add_user("john_doe", "john@example.com").await;
    let promote = t.run(&["promote", "john@example.com"], None);
    assert!(String::from_utf8_lossy(&promote.stdout).contains("now admin"));
    let acts_on = String::from_utf8_lossy(&promote.stderr);
    assert!(acts_on.contains(&t.acts_on), "{acts_on}");
    assert_eq!(t.user("john@example.com").await.role, Role::Admin);
    let before_demote = t.user("john@example.com").await.sessions_valid_after_ms;
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert!(t
        .ok(&["demote", "JOHN@example.com"])
        .contains("every session of it has ended"));
    let demoted = t.user("john@example.com").await;
    assert_eq!(demoted.role, Role::User);
    assert!(
        demoted.sessions_valid_after_ms > before_demote,
        "a demotion ends the sessions"
    );

    // metadata prints app_metadata, or replaces it with a JSON object of at most 2 KiB.
    assert_eq!(t.ok(&["metadata", "john@example.com"]).trim(), "{}");
    assert!(t
        .ok(&["metadata", "john@example.com", r#"{"plan": "pro"}"#])
        .contains(r#"{"plan":"pro"}"#));
    assert_eq!(
        t.ok(&["metadata", "john@example.com"]).trim(),
        r#"{"plan":"pro"}"#
    );
    assert!(t
        .fails(&["metadata", "john@example.com", "[1]"])
        .contains("app_metadata"));
    assert!(t
        .fails(&["metadata", "john@example.com", "{"])
        .contains("app_metadata"));
    assert_eq!(
        t.user("john@example.com").await.app_metadata.to_json(),
        r#"{"plan":"pro"}"#
    );

    // disable ends every session; enable lets the user back in.
    let before = t.user("john@example.com").await.sessions_valid_after_ms;
    assert!(t.ok(&["disable", "john@example.com"]).contains("disabled"));
    let disabled = t.user("john@example.com").await;
    assert!(disabled.disabled);
    assert!(disabled.sessions_valid_after_ms > before);
    t.ok(&["enable", "john@example.com"]);
    assert!(!t.user("john@example.com").await.disabled);

    // end-sessions
    std::thread::sleep(std::time::Duration::from_millis(5));
    t.ok(&["end-sessions", "john@example.com"]);
    assert!(t.user("john@example.com").await.sessions_valid_after_ms > disabled.sessions_valid_after_ms);

    // verify marks the address verified by hand; list shows it.
    assert!(!t.user("john@example.com").await.email_verified);
    assert!(t.ok(&["verify", "john@example.com"]).contains("is verified"));
    assert!(t.user("john@example.com").await.email_verified);
    assert!(t
        .fails(&["verify", "nobody@example.com"])
        .contains("no user with the email"));

    // delete erases the account; its email and username are free again.
    t.add_user("doomed", "doomed@example.com").await;
    assert!(t.ok(&["delete", "doomed@example.com"]).contains("is deleted"));
    assert!(t
        .store
        .user_by_email(&Email::parse("doomed@example.com").unwrap())
        .await
        .unwrap()
        .is_none());
    t.add_user("doomed", "doomed@example.com").await;
    t.ok(&["delete", "doomed@example.com"]);
    assert!(t
        .fails(&["delete", "nobody@example.com"])
        .contains("no user with the email"));

    // list
    let listed = t.ok(&["list"]);
    assert!(listed.contains("verified"), "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.contains("john@example.com") && l.contains(" yes ")),
        "{listed}"
    );
    assert!(
        listed.contains("root@example.com") && listed.contains("john@example.com"),
        "{listed}"
    );
    assert!(listed.contains("2 user(s)"));

    // keys: a fresh deploy's secret has no RSA keys until the first rotation (local mode makes
    // its first keys on first use).
    if t.keys.load().await.unwrap().rsa.is_none() {
        t.ok(&["keys", "rotate"]);
    }
    let listed = t.ok(&["keys", "list"]);
    let first = t.keys.load().await.unwrap().rsa.unwrap();
    for kid in [first.current.kid(), first.next.kid()] {
        assert!(listed.contains(kid), "{listed}");
    }
    assert!(!listed.contains(" NO"), "every key is published: {listed}");
    // The next key has not been published long enough to sign.
    assert!(t.fails(&["keys", "rotate"]).contains("may sign only after"));
    // Once it has, a rotation moves every key one step and publishes the new next key.
    let mut aged = t.keys.load().await.unwrap();
    if let Some(l) = aged.rsa.as_mut() {
        l.next.published_at -= 4 * 3600;
    }
    t.keys.save(&aged).await.unwrap();
    t.ok(&["keys", "rotate"]);
    let rotated = t.keys.load().await.unwrap().rsa.unwrap();
    assert_eq!(rotated.current.kid(), first.next.kid());
    assert_eq!(rotated.previous.as_ref().unwrap().kid(), first.current.kid());
    let public = t.keys.load_public().await.unwrap();
    assert_eq!(public.kids().len(), 3);
    assert!(public.decoding(rotated.next.kid()).is_some());
    // retire: the key leaves both sets at once; the next key takes over from a retired current.
    let out = t.ok(&["keys", "retire", rotated.current.kid()]);
    assert!(out.contains("retired"), "{out}");
    let after = t.keys.load().await.unwrap().rsa.unwrap();
    assert_eq!(after.current.kid(), rotated.next.kid());
    assert!(t
        .keys
        .load_public()
        .await
        .unwrap()
        .decoding(rotated.current.kid())
        .is_none());
    assert!(t
        .fails(&["keys", "retire", "no-such-kid"])
        .contains("no key with the kid"));
    // A kid is base64url: one in 64 begins with '-', and is still a kid, not an option.
    assert!(t
        .fails(&["keys", "retire", "-0Q9DVXqMuVXGvbdTmgzuZqwD3gI6zDF25AtF_-tS2o"])
        .contains("no key with the kid"));
    // rotate-refresh-key: a new HMAC key signs refresh tokens, the old one keeps verifying.
    let old = t.keys.load().await.unwrap().hmac;
    let out = t.ok(&["keys", "rotate-refresh-key"]);
    let new = t.keys.load().await.unwrap().hmac;
    assert_ne!(new.signing().0, old.signing().0, "{out}");
    assert!(
        new.verifying(old.signing().0).is_some(),
        "the old key still verifies"
    );

    // Clear errors.
    assert!(t
        .fails(&["promote", "nobody@example.com"])
        .contains("no user with the email nobody@example.com"));
    assert!(t
        .fails(&["disable", "not-an-email"])
        .contains("email \"not-an-email\" is not valid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_works_on_the_sqlite_file() {
    every_command_works(sqlite_target()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_works_on_dynamodb_and_secrets_manager() {
    every_command_works(dynamo_target().await).await;
}

/// A bcrypt hash (cost 4) of PASSWORD, as another system would export it.
const BCRYPT: &str = "$2b$04$iyUVccztb7fCPAx3tbAiN.ZbQiI5TlXwOkW5eapVWzR8WdRh2yBsG";

/// Writes `lines` as a JSON Lines file in `dir`.
fn import_file(dir: &Path, name: &str, lines: &[String]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.display().to_string()
}

async fn import_checks_every_line_first_then_writes_and_skips_what_exists(t: Target) {
    let dir = tempfile::tempdir().unwrap();
    t.add_user("taken", "taken@example.com").await;
    // One bad line among good ones: each bad line named, nothing written.
    let bad = import_file(
        dir.path(),
        "bad.jsonl",
        &[
            r#"{"email": "ada@example.com", "username": "ada"}"#.into(),
            r#"{"email": "not-an-email", "username": "bob"}"#.into(),
            format!(
                r#"{{"email": "cy@example.com", "username": "cyd", "password_hash": "{}"}}"#,
                BCRYPT.replace("$04$", "$14$")
            ),
        ],
    );
    let err = t.fails(&["import", &bad]);
    assert!(err.contains("line 2: email"), "{err}");
    assert!(err.contains("line 3: password_hash: bcrypt: cost 14"), "{err}");
    assert!(err.contains("2 bad line(s); nothing was imported"), "{err}");
    assert!(!err.contains("iyUVcczt"), "a hash is never quoted: {err}");
    let ada = Email::parse("ada@example.com").unwrap();
    assert!(t.store.user_by_email(&ada).await.unwrap().is_none());

    let good = import_file(
        dir.path(),
        "good.jsonl",
        &[
            format!(
                r#"{{"email": "ada@example.com", "username": "ada", "password_hash": "{BCRYPT}", "email_verified": true}}"#
            ),
            r#"{"email": "bob@example.com", "username": "Taken", "role": "admin"}"#.into(),
            r#"{"email": "TAKEN@example.com", "username": "other"}"#.into(),
        ],
    );
    // A dry run says what would happen and writes nothing.
    let out = t.ok(&["import", "--dry-run", &good]);
    assert!(out.contains("line 3: email already registered"), "{out}");
    assert!(out.contains("would create 2, skip 1"), "{out}");
    assert!(t.store.user_by_email(&ada).await.unwrap().is_none());
    // The import: created, renamed, skipped, each said.
    let out = t.ok(&["import", &good]);
    assert!(
        out.contains("line 2: username Taken is taken; imported as Taken-"),
        "{out}"
    );
    assert!(out.contains("line 3: email already registered"), "{out}");
    assert!(out.contains("created 2, skipped 1"), "{out}");
    let imported = t.user("ada@example.com").await;
    assert!(imported.email_verified);
    let bob = t.user("bob@example.com").await;
    assert!(bob.username.starts_with("Taken-"));
    assert_eq!(bob.role, Role::Admin);
    // The same file again, from standard input: nothing changes.
    let text = std::fs::read_to_string(&good).unwrap();
    let out = t.run(&["import", "-"], Some(&text));
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("created 0, skipped 3"), "{said}");
    assert_eq!(t.user("bob@example.com").await, bob);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_checks_every_line_first_then_writes_and_skips_what_exists_on_the_sqlite_file() {
    import_checks_every_line_first_then_writes_and_skips_what_exists(sqlite_target()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_checks_every_line_first_then_writes_and_skips_what_exists_on_dynamodb() {
    import_checks_every_line_first_then_writes_and_skips_what_exists(dynamo_target().await).await;
}

/// 10,000 accounts with hashes, imported by the binary; the time is printed (a figure for the
/// docs, not an assertion).
async fn ten_thousand_lines_import(t: Target, backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                r#"{{"email": "user{i}@example.com", "username": "user{i}", "password_hash": "{BCRYPT}"}}"#
            )
        })
        .collect();
    let file = import_file(dir.path(), "many.jsonl", &lines);
    let started = std::time::Instant::now();
    let out = t.ok(&["import", &file]);
    eprintln!(
        "import of 10,000 lines on {backend}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(out.contains("created 10000, skipped 0"), "{out}");
    assert_eq!(t.user("user9999@example.com").await.username, "user9999");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_lines_import_on_the_sqlite_file() {
    ten_thousand_lines_import(sqlite_target(), "SQLite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_lines_import_on_dynamodb() {
    ten_thousand_lines_import(dynamo_target().await, "DynamoDB (the local AWS server)").await;
}

#[test]
fn every_command_has_help() {
    let t = sqlite_target();
    let top = t.ok(&["--help"]);
    let commands = [
        "create-admin",
        "promote",
        "demote",
        "disable",
        "enable",
        "verify",
        "delete",
        "end-sessions",
        "metadata",
        "list",
        "keys",
    ];
    for command in commands {
        assert!(top.contains(command), "--help lists {command}");
        let help = t.ok(&[command, "--help"]);
        assert!(help.contains("Usage: authyy-admin"), "{command} --help");
    }
    let keys = t.ok(&["keys", "--help"]);
    for command in ["list", "rotate", "retire", "rotate-refresh-key"] {
        assert!(keys.contains(command), "keys --help lists {command}");
        let help = t.ok(&["keys", command, "--help"]);
        assert!(help.contains("Usage: authyy-admin keys"), "keys {command} --help");
    }
}

#[test]
fn a_missing_database_is_a_clear_error() {
    let t = Target {
        args: vec!["--sqlite".into(), "/nonexistent/authyy.sqlite3".into()],
        ..sqlite_target()
    };
    assert!(t
        .fails(&["list"])
        .contains("no database at /nonexistent/authyy.sqlite3"));
}

#[test]
fn a_missing_table_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_authyy-admin"))
        .args(["--table", "no-such-table", "list"])
        .envs(aws_env())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no DynamoDB table named no-such-table in eu-west-1"),
        "{stderr}"
    );
}

#[test]
fn the_table_is_never_taken_from_the_environment() {
    // A shell set up for a stack (AUTH_TABLE_NAME exported) does not redirect a command
    // meant for the local file: the table comes from --table only, and the tool says where it
    // acts.
    let t = sqlite_target();
    let out = Command::new(env!("CARGO_BIN_EXE_authyy-admin"))
        .args(&t.args)
        .args(["list"])
        .envs(aws_env())
        .env("AUTH_TABLE_NAME", "production-table")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&t.acts_on), "{stderr}");
    assert!(!stderr.contains("production-table"), "{stderr}");
}

#[test]
fn the_admin_password_is_never_taken_from_the_environment() {
    let t = sqlite_target();
    let out = Command::new(env!("CARGO_BIN_EXE_authyy-admin"))
        .args(&t.args)
        .args([
            "create-admin",
            "--username",
            "root",
            "--email",
            "root@example.com",
        ])
        .env("AUTHYY_ADMIN_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--password-stdin"), "{stderr}");
}
