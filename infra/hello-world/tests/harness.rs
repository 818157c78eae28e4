//! The benchmark harness itself works: infra/lambda_bench.py runs a function binary through its
//! Runtime API (the hello-world floor here) and reads its answers. No timing is asserted.

use std::path::Path;
use std::process::Command;

#[test]
fn the_runtime_api_harness_round_trips_invokes_of_a_function_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var("AUTHYY_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .arg(root.join("infra/lambda_bench.py"))
        .arg(env!("CARGO_BIN_EXE_hello-world"))
        .arg(root.join("events/me.json"))
        .args(["--invokes", "5"])
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let measures: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(measures["status"], 200);
    assert_eq!(measures["invokes"], 5);
    for key in ["init_ms", "first_ms", "warm_p50_ms", "warm_p99_ms", "peak_rss_mb"] {
        assert!(
            measures[key].as_f64().is_some_and(|v| v > 0.0),
            "{key}: {measures}"
        );
    }
}
