//! The token hook: asked at every issuance of an access token (login, refresh, the second
//! factor, a passkey, a provider sign-in), before the request writes anything, it adds claims of
//! the team's own. It cannot change a reserved claim (echoing one unchanged is allowed) and may add
//! at most [`MAX_ADDED_CLAIMS_BYTES`], so the token still fits a request header.
//!
//! Sent: `{"event": "token", "user": {id, username, email, email_verified, role, created_at,
//! app_metadata, mfa, identities}, "claims": {...}}`, the user never holding a hash, secret, code
//! or token. Answered: `{"claims": {...}}`.

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{HookError, Hooks};
use crate::tokens::Claims;

const HOOK: &str = "token";

/// Claims only authyy sets: a hook may echo them unchanged, never change or add them.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "sid",
    "token_use",
    "scope",
    "amr",
    "aal",
    "auth_time",
    "acr",
    "azp",
    "client_id",
    "cnf",
    "email",
    "email_verified",
    "app_metadata",
];

/// The most a hook may add to a token, as compact JSON.
pub const MAX_ADDED_CLAIMS_BYTES: usize = 2048;

/// The user as the token hook sees it.
#[derive(Debug, Clone, Serialize)]
pub struct HookUser {
    pub id: u64,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub role: &'static str,
    /// RFC 3339.
    pub created_at: String,
    pub app_metadata: Map<String, Value>,
    pub mfa: HookMfa,
    pub identities: Vec<HookIdentity>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HookMfa {
    pub totp: bool,
    pub passkeys: u32,
    pub recovery_codes: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct HookIdentity {
    pub provider: String,
    pub email: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// The claims an answer adds to `claims`, or why the answer breaks the contract.
pub fn added_claims(claims: &Claims, answer: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let Some(Value::Object(proposed)) = answer.get("claims") else {
        return Err("claims must be a JSON object".into());
    };
    let current = match serde_json::to_value(claims) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let mut added = Map::new();
    for (name, value) in proposed {
        if RESERVED_CLAIMS.contains(&name.as_str()) {
            if current.get(name) != Some(value) {
                return Err(format!("the reserved claim {name} cannot be set or changed"));
            }
            continue;
        }
        added.insert(name.clone(), value.clone());
    }
    let size = serde_json::to_string(&added)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if size > MAX_ADDED_CLAIMS_BYTES {
        return Err(format!(
            "{size} bytes of claims: at most {MAX_ADDED_CLAIMS_BYTES} may be added"
        ));
    }
    Ok(added)
}

impl Hooks {
    /// Whether a token hook is set (its user view costs reads: build it only then). Were it
    /// always true, nothing but the cost would change: with no hook, `token_claims` adds nothing.
    pub fn has_token_hook(&self) -> bool {
        self.settings.token.is_some()
    }

    /// Asks the token hook what to add to `claims` for `user` (nothing when none is set).
    pub async fn token_claims(
        &self,
        user: &HookUser,
        claims: &Claims,
    ) -> Result<Map<String, Value>, HookError> {
        let Some(target) = &self.settings.token else {
            return Ok(Map::new());
        };
        let event = json!({"event": HOOK, "user": user, "claims": claims});
        let answer = self.ask(HOOK, target, &event).await?;
        added_claims(claims, &answer).map_err(|reason| {
            tracing::warn!(hook = HOOK, %reason, "hook answer refused: the request fails closed");
            HookError::refused(HOOK, reason)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::TokenUse;

    fn claims() -> Claims {
        Claims {
            iss: "http://localhost:9000/auth".into(),
            aud: "authyy-clients".into(),
            sub: "7".into(),
            exp: 2000,
            iat: 1000,
            jti: "j".into(),
            sid: "s".into(),
            token_use: TokenUse::Access,
            scope: Some("user".into()),
            email_verified: Some(true),
            amr: Some(vec!["pwd".into()]),
            aal: Some("aal1".into()),
            auth_time: Some(1000),
            app_metadata: None,
            extra: Map::new(),
        }
    }

    fn added(answer: Value) -> Result<Map<String, Value>, String> {
        added_claims(&claims(), answer.as_object().unwrap())
    }

    #[test]
    fn claims_of_the_teams_own_are_added() {
        let got = added(json!({"claims": {"tenant": "acme", "roles": ["billing"]}})).unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"tenant": "acme", "roles": ["billing"]})
        );
        assert!(added(json!({"claims": {}})).unwrap().is_empty());
    }

    #[test]
    fn a_reserved_claim_may_be_echoed_unchanged_and_never_changed_or_added() {
        let echoed = added(json!({"claims": {"sub": "7", "scope": "user", "tenant": "acme"}})).unwrap();
        assert_eq!(Value::Object(echoed), json!({"tenant": "acme"}));
        for changed in [
            json!({"sub": "8"}),
            json!({"scope": "user admin"}),
            json!({"aal": "aal2"}),
            json!({"exp": 99999}),
            json!({"email": "x@example.com"}),
            json!({"app_metadata": {"plan": "pro"}}),
            json!({"nbf": 0}),
        ] {
            assert!(added(json!({"claims": changed})).is_err(), "{changed}");
        }
        for name in RESERVED_CLAIMS {
            let mut claims = Map::new();
            claims.insert((*name).to_string(), json!("not what authyy set"));
            assert!(added(json!({"claims": claims})).is_err(), "{name}");
        }
    }

    #[test]
    fn at_most_2_kib_of_claims_are_added() {
        // {"k":"..."} is 8 bytes around the value.
        assert!(added(json!({"claims": {"k": "x".repeat(MAX_ADDED_CLAIMS_BYTES - 8)}})).is_ok());
        assert!(added(json!({"claims": {"k": "x".repeat(MAX_ADDED_CLAIMS_BYTES - 7)}})).is_err());
    }

    #[test]
    fn an_answer_without_a_claims_object_is_refused() {
        for bad in [
            json!({}),
            json!({"claims": null}),
            json!({"claims": ["tenant"]}),
            json!({"tenant": "acme"}),
        ] {
            assert!(added(bad.clone()).is_err(), "{bad}");
        }
    }
}
