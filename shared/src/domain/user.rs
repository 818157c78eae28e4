//! Users and their roles.

use serde::Serialize;

use super::AppMetadata;

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

    /// The role a store holds as `s`: admin only when it says exactly `admin`; anything else
    /// (`user`, or a value no version of authyy wrote) is the least privilege, a user.
    pub fn from_stored(s: &str) -> Role {
        if s == Role::Admin.as_str() {
            Role::Admin
        } else {
            Role::User
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
    /// Set by administrators and hooks only; carried by access tokens while not empty.
    pub app_metadata: AppMetadata,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_stored_admin_is_an_admin_and_anything_else_is_a_user() {
        assert_eq!(Role::from_stored("admin"), Role::Admin);
        assert_eq!(Role::from_stored("user"), Role::User);
        for other in ["", "Admin", "ADMIN", "admin ", "root", "superuser"] {
            assert_eq!(Role::from_stored(other), Role::User, "{other:?}");
        }
    }

    #[test]
    fn a_role_is_stored_as_its_lowercase_name_and_read_back() {
        for role in [Role::User, Role::Admin] {
            assert_eq!(Role::from_stored(role.as_str()), role);
        }
        assert_eq!(Role::User.as_str(), "user");
        assert_eq!(Role::Admin.as_str(), "admin");
    }
}
