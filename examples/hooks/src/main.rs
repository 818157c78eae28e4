//! An example of authyy's hooks, as one Lambda function that answers both events (point
//! `AUTH_HOOK_BEFORE_SIGNUP` and `AUTH_HOOK_TOKEN` at it: `lambda:authyy-example-hooks`):
//!
//! - `before_signup`: only addresses at the domains in `ALLOWED_DOMAINS` (space- or
//!   comma-separated; none set allows every domain) may sign up, and each new account starts with
//!   `{"plan": "free"}` as its `app_metadata`.
//! - `token`: the access token gains `tenant`, `plan` and `roles` claims from the user's
//!   `app_metadata`, where it has them.
//!
//! It is plain `lambda_runtime` over JSON: it runs the same on AWS and under
//! `cargo lambda watch`, which serves the Lambda Invoke API authyy calls. An error it returns
//! fails authyy's request closed (503), as a hook should when it cannot decide.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Map, Value};

/// The answer to one hook event.
fn answer(event: &Value, allowed_domains: &[String]) -> Result<Value, String> {
    match event.get("event").and_then(Value::as_str) {
        Some("before_signup") => Ok(before_signup(event, allowed_domains)),
        Some("token") => Ok(token(event)),
        other => Err(format!("not an authyy hook event: {other:?}")),
    }
}

fn before_signup(event: &Value, allowed_domains: &[String]) -> Value {
    let email = event.get("email").and_then(Value::as_str).unwrap_or("");
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    if allowed_domains.is_empty() || allowed_domains.contains(&domain) {
        json!({"allow": true, "app_metadata": {"plan": "free"}})
    } else {
        json!({"allow": false, "detail": format!("Sign up with an address at {}", allowed_domains.join(" or "))})
    }
}

fn token(event: &Value) -> Value {
    let metadata = event
        .pointer("/user/app_metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let claims: Map<String, Value> = ["tenant", "plan", "roles"]
        .into_iter()
        .filter_map(|name| metadata.get(name).map(|v| (name.to_string(), v.clone())))
        .collect();
    json!({"claims": claims})
}

/// `ALLOWED_DOMAINS`, split on spaces and commas, lower-cased.
fn domains(setting: &str) -> Vec<String> {
    setting
        .split([' ', ','])
        .filter(|d| !d.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let allowed = domains(&std::env::var("ALLOWED_DOMAINS").unwrap_or_default());
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let allowed = allowed.clone();
        async move { answer(&event.payload, &allowed).map_err(Error::from) }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allowed_domains_sign_up_and_each_account_starts_on_the_free_plan() {
        let allowed = domains("example.com, Example.org");
        let ask = |email: &str| answer(&json!({"event": "before_signup", "email": email}), &allowed).unwrap();
        assert_eq!(
            ask("jo@example.com"),
            json!({"allow": true, "app_metadata": {"plan": "free"}})
        );
        assert_eq!(ask("jo@EXAMPLE.ORG")["allow"], true);
        assert_eq!(
            ask("jo@elsewhere.net"),
            json!({"allow": false, "detail": "Sign up with an address at example.com or example.org"})
        );
        let anyone = answer(
            &json!({"event": "before_signup", "email": "jo@elsewhere.net"}),
            &[],
        )
        .unwrap();
        assert_eq!(anyone["allow"], true);
    }

    #[test]
    fn the_token_gains_the_claims_app_metadata_has() {
        let event = json!({"event": "token", "user": {"app_metadata": {"tenant": "acme", "plan": "pro", "notes": "x"}}, "claims": {}});
        assert_eq!(
            answer(&event, &[]).unwrap(),
            json!({"claims": {"tenant": "acme", "plan": "pro"}})
        );
        let none = json!({"event": "token", "user": {"app_metadata": {}}, "claims": {}});
        assert_eq!(answer(&none, &[]).unwrap(), json!({"claims": {}}));
    }

    #[test]
    fn anything_but_a_hook_event_is_an_error() {
        assert!(answer(&json!({"event": "other"}), &[]).is_err());
        assert!(answer(&json!({}), &[]).is_err());
        assert!(answer(&json!({"event": "user_migration", "email": "a@b.c"}), &[]).is_err());
    }
}
