//! The mailer function as Lambda runs it: its binary, started with a Runtime API
//! (infra/lambda_bench.py), takes SQS batches and answers each with no failure. (What it does
//! with a job is tested in the crate: shared/tests/api/mail_queue.rs.)

// A test fails by panicking: the workspace's panic lints do not hold here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::Command;

#[test]
fn the_mailer_binary_answers_each_sqs_batch_through_the_runtime_api() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = std::env::temp_dir().join(format!("authyy-mailer-runtime-{}", std::process::id()));
    let python = std::env::var("AUTHYY_PYTHON").unwrap_or_else(|_| "python3".into());
    let env = [
        format!("AUTH_SQLITE_PATH={}", work.join("authyy.sqlite3").display()),
        format!("AUTH_OUTBOX_DIR={}", work.join("outbox").display()),
        "AUTH_RESET_URL=http://localhost:3000/reset-password".into(),
        "AUTH_VERIFY_URL=http://localhost:3000/verify-email".into(),
    ];
    let out = Command::new(python)
        .arg(root.join("infra/lambda_bench.py"))
        .arg(env!("CARGO_BIN_EXE_mailer"))
        // A reset for an address nobody registered: no mail, and nothing to retry.
        .arg(root.join("events/mailer.password-reset.json"))
        .args(["--invokes", "2"])
        .args(env.iter().flat_map(|kv| ["--env", kv.as_str()]))
        .output()
        .expect("python runs");
    let _ = std::fs::remove_dir_all(&work);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let measures: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(measures["invokes"], 2);
    assert_eq!(
        measures["last_answer"],
        serde_json::json!({"batchItemFailures": []}),
        "{measures}"
    );
}
