//! AUTH_CORS_ORIGINS set to `*` (or to anything that is not an origin) stops a process that
//! reads the configuration, with the configuration error: here `authyy-admin keys rotate`,
//! which reads it (Config::from_env) as every function does at startup.

// A test fails by panicking: the workspace's panic lints do not hold here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

#[test]
fn a_wildcard_or_a_non_origin_in_auth_cors_origins_is_a_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authyy.sqlite3");
    authyy::store::sqlite::SqliteStore::open(&path).unwrap();
    for (value, says) in [
        ("*", "\"*\" (any origin) is refused"),
        ("https://app.example.com,*", "\"*\" (any origin) is refused"),
        (
            "https://app.example.com/login",
            "is not an origin (it has a path)",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_authyy-admin"))
            .args(["--sqlite", &path.display().to_string(), "keys", "rotate"])
            .env("AUTH_CORS_ORIGINS", value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{value}: {stderr}");
        assert!(
            stderr.contains("environment variable AUTH_CORS_ORIGINS is invalid: ") && stderr.contains(says),
            "{value}: {stderr}"
        );
        assert!(stderr.contains("scheme://host[:port]"), "{value}: {stderr}");
    }
    // Origins as the template's default and local.env give them pass: the command goes on (and
    // stops at the lifecycle's own rule, a fresh next key being too young to sign).
    let out = Command::new(env!("CARGO_BIN_EXE_authyy-admin"))
        .args(["--sqlite", &path.display().to_string(), "keys", "rotate"])
        .env(
            "AUTH_CORS_ORIGINS",
            "http://localhost:3000, https://app.example.com/",
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("may sign only after"), "{stderr}");
    assert!(!stderr.contains("AUTH_CORS_ORIGINS"), "{stderr}");
}
