//! The before-signup hook: asked before every account is created (a signup, a provider's first
//! sign-in, a user moving over through the user-migration hook; not an import), it allows the account, optionally with its first `app_metadata`,
//! or refuses it with a detail the client is shown. It cannot grant a role.
//!
//! Sent: `{"event": "before_signup", "email", "username", "ip", "user_agent", "method",
//! "email_verified"}`. Answered: `{"allow": true, "app_metadata"?: {...}}` or `{"allow": false,
//! "detail"?: "..."}`.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{HookError, Hooks};
use crate::domain::AppMetadata;

const HOOK: &str = "before_signup";

/// What the client is told when a hook refuses without saying why.
pub const DEFAULT_REFUSAL: &str = "Signup not allowed";

/// The longest detail a hook may give (it is shown to the client as is).
pub const MAX_DETAIL_CHARS: usize = 200;

/// How an account is being made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignupMethod {
    /// `POST /auth/users`.
    Password,
    /// A provider's first sign-in.
    Oauth,
    /// The user-migration hook found the user in the team's old system.
    UserMigration,
}

/// An account about to be created, as the hook is told of it.
#[derive(Debug, Clone, Serialize)]
pub struct SignupAttempt<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub method: SignupMethod,
    pub email_verified: bool,
}

/// The hook's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow { app_metadata: AppMetadata },
    Deny { detail: String },
}

/// Reads an answer, or says why it is none the contract allows.
pub fn verdict(answer: &Map<String, Value>) -> Result<Verdict, String> {
    match answer.get("allow") {
        Some(Value::Bool(true)) => {
            let app_metadata = match answer.get("app_metadata") {
                None | Some(Value::Null) => AppMetadata::default(),
                Some(value) => AppMetadata::new(value.clone()).map_err(|e| e.0)?,
            };
            Ok(Verdict::Allow { app_metadata })
        }
        Some(Value::Bool(false)) => {
            let detail = match answer.get("detail") {
                None | Some(Value::Null) => DEFAULT_REFUSAL.to_string(),
                Some(Value::String(s))
                    if !s.trim().is_empty()
                        && s.chars().count() <= MAX_DETAIL_CHARS
                        && !s.chars().any(char::is_control) =>
                {
                    s.clone()
                }
                Some(_) => {
                    return Err(format!(
                    "detail must be text of 1 to {MAX_DETAIL_CHARS} characters, without control characters"
                ))
                }
            };
            Ok(Verdict::Deny { detail })
        }
        _ => Err("allow must be true or false".into()),
    }
}

impl Hooks {
    /// Asks the before-signup hook about `attempt` (allowed with no metadata when none is set).
    pub async fn before_signup(&self, attempt: &SignupAttempt<'_>) -> Result<Verdict, HookError> {
        let Some(target) = &self.settings.before_signup else {
            return Ok(Verdict::Allow {
                app_metadata: AppMetadata::default(),
            });
        };
        let mut event = serde_json::to_value(attempt).map_err(|e| HookError::refused(HOOK, e.to_string()))?;
        if let Value::Object(map) = &mut event {
            map.insert("event".into(), Value::from(HOOK));
        }
        let answer = self.ask(HOOK, target, &event).await?;
        verdict(&answer).map_err(|reason| {
            tracing::warn!(hook = HOOK, %reason, "hook answer refused: the request fails closed");
            HookError::refused(HOOK, reason)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Result<Verdict, String> {
        verdict(v.as_object().unwrap())
    }

    #[test]
    fn an_allow_may_carry_the_accounts_first_metadata() {
        assert_eq!(
            read(json!({"allow": true})),
            Ok(Verdict::Allow {
                app_metadata: AppMetadata::default()
            })
        );
        let Ok(Verdict::Allow { app_metadata }) =
            read(json!({"allow": true, "app_metadata": {"plan": "free"}}))
        else {
            panic!("an allow");
        };
        assert_eq!(app_metadata.to_json(), r#"{"plan":"free"}"#);
        // A role is not the hook's to give: anything but app_metadata is not read.
        assert!(matches!(
            read(json!({"allow": true, "role": "admin"})),
            Ok(Verdict::Allow { .. })
        ));
    }

    #[test]
    fn a_deny_carries_its_detail_or_a_default() {
        assert_eq!(
            read(json!({"allow": false, "detail": "Use your work address"})),
            Ok(Verdict::Deny {
                detail: "Use your work address".into()
            })
        );
        assert_eq!(
            read(json!({"allow": false})),
            Ok(Verdict::Deny {
                detail: DEFAULT_REFUSAL.into()
            })
        );
    }

    #[test]
    fn an_answer_outside_the_contract_is_refused() {
        for bad in [
            json!({}),
            json!({"allow": "yes"}),
            json!({"allow": 1}),
            json!({"allow": true, "app_metadata": [1]}),
            json!({"allow": true, "app_metadata": {"k": "x".repeat(2048)}}),
            json!({"allow": false, "detail": 7}),
            json!({"allow": false, "detail": ""}),
            json!({"allow": false, "detail": "x".repeat(201)}),
            json!({"allow": false, "detail": "line\nbreak"}),
        ] {
            assert!(read(bad.clone()).is_err(), "{bad}");
        }
    }
}
