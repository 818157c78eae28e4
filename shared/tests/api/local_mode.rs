//! Local mode stays honest: every file in events/ goes through its function's handler, and the
//! `cargo lambda watch` router names exactly the routes the functions serve.

use std::collections::BTreeSet;
use std::path::Path;

use crate::helpers::sqlite::Sqlite;
use crate::helpers::{test_config, Backend};
use authyy::Endpoint;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The workspace's Cargo.toml.
fn workspace_manifest() -> toml::Value {
    std::fs::read_to_string(workspace().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap()
}

/// (file name, parsed request) for every event, sorted so that signup runs before login.
fn events() -> Vec<(String, lambda_http::Request, Endpoint)> {
    let mut files: Vec<_> = std::fs::read_dir(workspace().join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        // The rotation function's events are Secrets Manager's, not HTTP (key_lifecycle.rs);
        // the mailer's are SQS batches (mail_queue.rs).
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            !name.starts_with("rotate-keys.") && !name.starts_with("mailer.")
        })
        .collect();
    files.sort_by_key(|p| {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        (!name.starts_with("signup"), name)
    });
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let function = name.split('.').next().unwrap();
            let text = std::fs::read_to_string(&p).unwrap();
            let req = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("events/{name}: {e}"));
            let endpoint = Endpoint::of_function(function)
                .into_iter()
                .find(|e| e.serves(req.uri().path()) && e.method() == req.method())
                .unwrap_or_else(|| panic!("events/{name}: no route of {function} has its path"));
            (name, req, endpoint)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_file_is_served_by_its_function() {
    let app = Sqlite::app(test_config()).await;
    let mut covered = BTreeSet::new();
    for (name, req, endpoint) in events() {
        let r = app.call(endpoint, req).await;
        assert!(r.status < 500, "events/{name} gave {}: {:?}", r.status, r.body);
        assert!(
            r.status != 404 && r.status != 405,
            "events/{name} is not routed to its function"
        );
        let expected = match name.as_str() {
            "signup.json" => Some(201),
            "signup.weak-password.json" => Some(422),
            "login.json" | "forgot-password.json" => Some(200),
            _ => None,
        };
        if let Some(expected) = expected {
            assert_eq!(r.status, expected, "events/{name}: {:?}", r.body);
        }
        covered.insert(endpoint);
    }
    let all: BTreeSet<_> = Endpoint::ALL.into_iter().collect();
    assert_eq!(covered, all, "every route has at least one event");
}

#[test]
fn watch_router_names_exactly_the_served_routes() {
    let manifest = workspace_manifest();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();
    let mut routed = BTreeSet::new();
    for (path, target) in router {
        if path.contains('*') {
            continue; // the catch-all that answers 404 JSON
        }
        for entry in target.as_array().unwrap() {
            let method = entry["method"].as_str().unwrap();
            let function = entry["function"].as_str().unwrap().to_string();
            if method == "OPTIONS" {
                assert!(Endpoint::of_function(&function).iter().any(|e| e.path() == path));
                continue;
            }
            routed.insert((method.to_string(), path.clone(), function));
        }
    }
    let served: BTreeSet<_> = Endpoint::ALL
        .iter()
        .map(|e| {
            (
                e.method().to_string(),
                e.path().to_string(),
                e.function().to_string(),
            )
        })
        .collect();
    assert_eq!(routed, served);
}

/// The endpoints a function's `main.rs` names in `authyy::lambda_main!(...)`.
fn served_by_main(function: &str) -> Vec<String> {
    let main = workspace().join("functions").join(function).join("src/main.rs");
    let text = std::fs::read_to_string(&main).unwrap_or_else(|_| panic!("{} is missing", main.display()));
    let start = text
        .find("lambda_main!(")
        .unwrap_or_else(|| panic!("{} has no lambda_main!", main.display()));
    let list = &text[start + "lambda_main!(".len()..];
    let list = &list[..list.find(')').unwrap()];
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn every_function_main_serves_exactly_its_endpoints_of_the_route_table() {
    let functions: BTreeSet<&str> = Endpoint::ALL.iter().map(|e| e.function()).collect();
    for function in functions {
        let named: BTreeSet<String> = served_by_main(function).into_iter().collect();
        let expected: BTreeSet<String> = Endpoint::of_function(function)
            .iter()
            .map(|e| format!("{e:?}"))
            .collect();
        assert_eq!(named, expected, "functions/{function}/src/main.rs");
    }
}

/// The functions no route reaches: key rotation (Secrets Manager) and the mail queue's consumer.
const UNROUTED_FUNCTIONS: [&str; 2] = ["rotate-keys", "mailer"];

#[test]
fn the_workspace_members_are_the_route_table_functions_and_the_unrouted_ones() {
    let cargo = workspace_manifest();
    let members: BTreeSet<String> = cargo["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.as_str()?.strip_prefix("functions/").map(String::from))
        .collect();
    let expected: BTreeSet<String> = Endpoint::ALL
        .iter()
        .map(|e| e.function())
        .chain(UNROUTED_FUNCTIONS)
        .map(String::from)
        .collect();
    assert_eq!(members, expected);
    let folders: BTreeSet<String> = std::fs::read_dir(workspace().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(folders, expected, "every folder under functions/ is a member");
}

#[test]
fn every_workspace_member_holds_the_workspace_lints() {
    let cargo = workspace_manifest();
    let lints = &cargo["workspace"]["lints"]["clippy"];
    for lint in ["unwrap_used", "expect_used", "panic", "indexing_slicing"] {
        assert_eq!(lints[lint].as_str(), Some("deny"), "workspace lint {lint}");
    }
    for member in cargo["workspace"]["members"].as_array().unwrap() {
        let member = member.as_str().unwrap();
        let manifest: toml::Value = std::fs::read_to_string(workspace().join(member).join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            manifest
                .get("lints")
                .and_then(|l| l.get("workspace"))
                .and_then(|w| w.as_bool()),
            Some(true),
            "{member}/Cargo.toml: [lints] workspace = true"
        );
    }
}
