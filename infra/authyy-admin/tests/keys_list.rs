//! `authyy-admin keys list` flags every key the public set (JWKS) publishes outside the
//! lifecycle (next, current, previous), and says how to remove it: `keys retire <kid>` (which
//! also records it as retired, so nothing publishes it again) or `keys republish`. On both
//! backends: the SQLite file, and the secrets on the local AWS server the test command starts.

// A test fails by panicking: the workspace's panic lints do not hold here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use authyy::config::AwsSettings;
use authyy::keys::secrets_manager::SecretsManagerKeys;
use authyy::keys::{Jwks, KeyStore, Lifecycle, PublicKeys};
use authyy::store::sqlite::SqliteStore;

struct Target {
    args: Vec<String>,
    env: Vec<(String, String)>,
    keys: Arc<dyn KeyStore>,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_authyy-admin"))
            .args(&self.args)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run authyy-admin");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args);
        assert!(ok, "{args:?}: {stderr}");
        stdout
    }
}

fn sqlite_target() -> Target {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authyy.sqlite3");
    Target {
        args: vec!["--sqlite".into(), path.display().to_string()],
        env: vec![],
        keys: Arc::new(SqliteStore::open(&path).unwrap()),
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

async fn aws_target() -> Target {
    let id = authyy::randomness::new_id().replace(['-', '_'], "x");
    let (table, secret, public) = (
        format!("authyy-cli-{id}"),
        format!("authyy-cli-keys-{id}"),
        format!("authyy-cli-public-{id}"),
    );
    let setup = Command::new(workspace().join(".venv/bin/python"))
        .arg(workspace().join("infra/local_aws.py"))
        .args(["setup", &moto(), "--table", &table, "--secret", &secret])
        .args(["--public-secret", &public])
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
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "testing", "testing", None, None, "t",
        ))
        .load()
        .await;
    let keys = SecretsManagerKeys::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        secret.clone(),
        public.clone(),
    );
    let env = [
        ("AWS_ENDPOINT_URL", moto()),
        ("AWS_REGION", "eu-west-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
    ];
    Target {
        args: ["--table", &table, "--secret", &secret, "--public-secret", &public]
            .map(String::from)
            .to_vec(),
        env: env.map(|(k, v)| (k.to_string(), v)).to_vec(),
        keys: Arc::new(keys),
        _dir: None,
    }
}

/// Publishes a key of another lifecycle beside the keys (as a race or a hand edit could leave
/// one), and returns its kid.
async fn publish_stray(t: &Target) -> String {
    let stray = Lifecycle::start(0).unwrap().current;
    let one = PublicKeys::new(Jwks {
        keys: vec![stray.jwk().clone()],
    })
    .unwrap();
    let published = t.keys.load_public().await.unwrap();
    t.keys.publish(&published.union(&one)).await.unwrap();
    stray.kid().to_string()
}

async fn keys_list_flags_a_published_key_outside_the_lifecycle(t: Target) {
    // A fresh deploy's secret has no RSA keys until the first rotation.
    if t.keys.load().await.unwrap().rsa.is_none() {
        t.ok(&["keys", "rotate"]);
    }
    let listed = t.ok(&["keys", "list"]);
    assert!(
        !listed.contains("NOT IN THE LIFECYCLE"),
        "nothing to flag: {listed}"
    );
    assert!(!listed.contains("WARNING"), "{listed}");

    let stray = publish_stray(&t).await;
    let listed = t.ok(&["keys", "list"]);
    let flagged: Vec<&str> = listed
        .lines()
        .filter(|l| l.contains("PUBLISHED BUT NOT IN THE LIFECYCLE"))
        .collect();
    assert_eq!(flagged.len(), 1, "{listed}");
    assert!(flagged[0].contains(&stray), "{listed}");
    assert!(
        listed.contains("WARNING: 1 published key(s) are not next, current or previous"),
        "{listed}"
    );
    assert!(listed.contains("authyy-admin keys retire <kid>"), "{listed}");
    assert!(listed.contains("authyy-admin keys republish"), "{listed}");
    let lifecycle = t.keys.load().await.unwrap().rsa.unwrap();
    for (_, key) in lifecycle.keys() {
        let row = listed.lines().find(|l| l.contains(key.kid())).unwrap();
        assert!(!row.contains("NOT IN THE LIFECYCLE"), "{row}");
    }

    // Retired again: unpublished, recorded, and no longer flagged.
    let out = t.ok(&["keys", "retire", &stray]);
    assert!(out.contains("retired"), "{out}");
    let public = t.keys.load_public().await.unwrap();
    assert!(public.decoding(&stray).is_none());
    assert!(public.is_retired(&stray));
    assert!(!t.ok(&["keys", "list"]).contains("NOT IN THE LIFECYCLE"));
    assert_eq!(
        t.keys.load().await.unwrap().rsa.unwrap().current.kid(),
        lifecycle.current.kid(),
        "retiring a stray leaves the lifecycle alone"
    );

    // Or republished: only the lifecycle's keys stay.
    let stray = publish_stray(&t).await;
    assert!(t.ok(&["keys", "list"]).contains(&stray));
    let out = t.ok(&["keys", "republish"]);
    assert!(out.contains("published 2 key(s), the lifecycle's only"), "{out}");
    assert!(t.keys.load_public().await.unwrap().decoding(&stray).is_none());
    assert!(!t.ok(&["keys", "list"]).contains("NOT IN THE LIFECYCLE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_list_flags_a_published_key_outside_the_lifecycle_on_the_sqlite_file() {
    keys_list_flags_a_published_key_outside_the_lifecycle(sqlite_target()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_list_flags_a_published_key_outside_the_lifecycle_on_secrets_manager() {
    keys_list_flags_a_published_key_outside_the_lifecycle(aws_target().await).await;
}
