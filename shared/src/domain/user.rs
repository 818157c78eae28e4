//! Users and their roles.

use serde::Serialize;

/// A user's integer id, as the API contract writes it.
pub type UserId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A user as the stores return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    /// Whether the owner proved the address is theirs (a verification or reset link).
    pub email_verified: bool,
    /// Epoch seconds.
    pub created_at: i64,
    /// Sessions created at or before this instant (epoch ms) are ended.
    pub sessions_valid_after_ms: i64,
}
