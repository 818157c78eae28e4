//! The user-migration hook: asked about an email authyy does not know, it says whether the
//! team's old system has that user, so the account moves over on first use instead of in bulk.
//! At login it is sent the password exactly as the client sent it (the hook checks it against
//! the old system); at forgot-password, from the mailer, the email alone.
//!
//! Sent: `{"event": "user_migration", "email", "password"?}`. Answered: `{"user": {"username",
//! "email_verified"?, "app_metadata"?}}` or `{"user": null}`.

use serde_json::{json, Map, Value};

use super::{HookError, Hooks};
use crate::domain::{AppMetadata, Email, Password, Username};

const HOOK: &str = "user_migration";

/// A user the old system has, as the hook describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigratedUser {
    /// What the hook asked for, made valid (see [`Username::derived`]); made unique when the
    /// account is created.
    pub username: Username,
    pub email_verified: bool,
    pub app_metadata: AppMetadata,
}

/// Reads an answer, or says why it is none the contract allows.
pub fn migrated_user(answer: &Map<String, Value>) -> Result<Option<MigratedUser>, String> {
    let user = match answer.get("user") {
        Some(Value::Null) => return Ok(None),
        Some(Value::Object(user)) => user,
        _ => return Err("user must be an object or null".into()),
    };
    let username = match user.get("username") {
        Some(Value::String(name)) if !name.trim().is_empty() && name.chars().count() <= 256 => {
            Username::derived(name, "")
        }
        _ => return Err("user.username must be text of 1 to 256 characters".into()),
    };
    let email_verified = match user.get("email_verified") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(verified)) => *verified,
        Some(_) => return Err("user.email_verified must be true or false".into()),
    };
    let app_metadata = match user.get("app_metadata") {
        None | Some(Value::Null) => AppMetadata::default(),
        Some(value) => AppMetadata::new(value.clone()).map_err(|e| format!("user.{}", e.0))?,
    };
    Ok(Some(MigratedUser {
        username,
        email_verified,
        app_metadata,
    }))
}

impl Hooks {
    /// Whether the user-migration hook is set. (Only spares asking: with no hook,
    /// [`Hooks::migrate_user`] answers "no such user" all the same.)
    pub fn migrates_users(&self) -> bool {
        self.settings.user_migration.is_some()
    }

    /// Asks the user-migration hook about `email`, with the `password` as the client sent it
    /// (login) or without (forgot-password). `None` when the hook is not set or has no such user.
    pub async fn migrate_user(
        &self,
        email: &Email,
        password: Option<&Password>,
    ) -> Result<Option<MigratedUser>, HookError> {
        let Some(target) = &self.settings.user_migration else {
            return Ok(None);
        };
        let mut event = json!({"event": HOOK, "email": email.as_str()});
        if let (Some(password), Value::Object(map)) = (password, &mut event) {
            map.insert("password".into(), Value::from(password.as_received()));
        }
        let answer = self.ask(HOOK, target, &event).await?;
        migrated_user(&answer).map_err(|reason| {
            tracing::warn!(hook = HOOK, %reason, "hook answer refused: the request fails closed");
            HookError::refused(HOOK, reason)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(v: Value) -> Result<Option<MigratedUser>, String> {
        migrated_user(v.as_object().unwrap())
    }

    #[test]
    fn a_null_user_is_no_such_user() {
        assert_eq!(read(json!({"user": null})), Ok(None));
    }

    #[test]
    fn a_user_carries_its_username_verification_and_metadata() {
        let user = read(
            json!({"user": {"username": "ada", "email_verified": true, "app_metadata": {"plan": "pro"}}}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(user.username.as_str(), "ada");
        assert!(user.email_verified);
        assert_eq!(user.app_metadata.to_json(), r#"{"plan":"pro"}"#);
        let plain = read(json!({"user": {"username": "bob"}})).unwrap().unwrap();
        assert!(!plain.email_verified);
        assert!(plain.app_metadata.is_empty());
    }

    #[test]
    fn a_username_outside_the_rules_is_made_valid() {
        let user = read(json!({"user": {"username": "ada@old.example.com"}}))
            .unwrap()
            .unwrap();
        assert_eq!(user.username.as_str(), "adaold.example.com");
        let short = read(json!({"user": {"username": "x"}})).unwrap().unwrap();
        assert_eq!(short.username.as_str(), "user");
    }

    #[test]
    fn an_answer_outside_the_contract_is_refused() {
        for bad in [
            json!({}),
            json!({"user": "ada"}),
            json!({"user": {}}),
            json!({"user": {"username": ""}}),
            json!({"user": {"username": 7}}),
            json!({"user": {"username": "ada", "email_verified": "yes"}}),
            json!({"user": {"username": "ada", "app_metadata": [1]}}),
            json!({"user": {"username": "ada", "app_metadata": {"k": "x".repeat(2048)}}}),
        ] {
            assert!(read(bad.clone()).is_err(), "{bad}");
        }
    }
}
