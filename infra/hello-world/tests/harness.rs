//! The benchmark harness itself works: infra/lambda_bench.py runs a function binary through its
//! Runtime API (the hello-world floor here) and reads its answers. No timing is asserted.

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
fn the_runtime_api_harness_round_trips_invokes_of_a_function_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var("AUTHYY_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .arg(root.join("infra/lambda_bench.py"))
        .arg(env!("CARGO_BIN_EXE_hello-world"))
        .arg(root.join("events/me.json"))
        .args(["--invokes", "5", "--starts", "3"])
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
    let starts = measures["init_ms_starts"].as_array().expect("three starts");
    assert_eq!(starts.len(), 3);
    assert!(starts.iter().all(|s| s.as_f64().is_some_and(|v| v > 0.0)));
}

/// infra/cost.py on figures given here: its arithmetic, not the bench's measurements.
#[test]
fn the_cost_model_prices_a_request_from_its_duration_memory_and_request_units() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("authyy-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let floor = serde_json::json!({"init_ms": 2.0, "warm_p50_ms": 0.1, "peak_rss_mb": 4.0});
    // 0.9 ms of CPU at 256 MB: 0.9 x 1769/256 = 6.2 ms, plus 2 DynamoDB calls of 5 ms: 17 ms.
    let me = serde_json::json!({"init_ms": 3.0, "warm_p50_ms": 0.9, "peak_rss_mb": 9.0});
    let functions = serde_json::json!({"SQLite": {"hello-world": floor, "me": me}});
    let units = serde_json::json!({"GET /auth/me": {"calls": 2.0, "read_units": 2.0, "write_units": 1.0}});
    std::fs::write(dir.join("f.json"), functions.to_string()).unwrap();
    std::fs::write(dir.join("d.json"), units.to_string()).unwrap();
    let python = std::env::var("AUTHYY_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .arg(root.join("infra/cost.py"))
        .args(["--functions", dir.join("f.json").to_str().unwrap()])
        .args(["--dynamodb", dir.join("d.json").to_str().unwrap()])
        .args(["--primitives", dir.join("none.json").to_str().unwrap()])
        .args(["--chart", dir.join("chart.svg").to_str().unwrap()])
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Per million: Lambda 0.20 + 17 ms x 0.25 GB x 0.0000133334 x 1e6 = 0.20 + 0.0567;
    // HTTP API 1.00; DynamoDB 2 x 0.125 + 1 x 0.625 = 0.875; logs 0.20: 2.33 in all.
    let row = text
        .lines()
        .skip_while(|l| !l.starts_with("2. Cost"))
        .find(|l| l.starts_with("me "))
        .unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[2], "17", "billed ms: {row}");
    assert_eq!(cells.last().copied(), Some("2.33"), "total per million: {row}");
    // Cognito for 100,000 monthly active users: Essentials 90,000 x $0.015, Lite 90,000 x $0.0055.
    assert!(
        text.contains("Cognito Essentials") && text.contains("1350.00"),
        "{text}"
    );
    assert!(text.contains("Cognito Lite") && text.contains("495.00"), "{text}");
    // The chart: authyy's month beside Cognito's two prices, one line each.
    let svg = std::fs::read_to_string(dir.join("chart.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.matches("<polyline").count() == 3,
        "{svg}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
