//! The route table: which function serves which method and path. The `cargo lambda watch`
//! router, events/ and the SAM template must name the same set; tests hold them to it.

use lambda_http::http::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Signup,
    Login,
    Me,
    ListUsers,
    Refresh,
    ForgotPassword,
    ResetPassword,
    VerifyEmail,
    ResendVerification,
    Logout,
    ChangePassword,
    ListSessions,
    EndSession,
    ChangeEmail,
    DeleteAccount,
    OpenApi,
    Docs,
    OpenIdConfiguration,
    Jwks,
}

impl Endpoint {
    pub const ALL: [Endpoint; 19] = [
        Endpoint::Signup,
        Endpoint::Login,
        Endpoint::Me,
        Endpoint::ListUsers,
        Endpoint::Refresh,
        Endpoint::ForgotPassword,
        Endpoint::ResetPassword,
        Endpoint::VerifyEmail,
        Endpoint::ResendVerification,
        Endpoint::Logout,
        Endpoint::ChangePassword,
        Endpoint::ListSessions,
        Endpoint::EndSession,
        Endpoint::ChangeEmail,
        Endpoint::DeleteAccount,
        Endpoint::OpenApi,
        Endpoint::Docs,
        Endpoint::OpenIdConfiguration,
        Endpoint::Jwks,
    ];

    /// Whether the endpoint asks the signed-in user for their current password (and counts a
    /// wrong one as a failed login).
    pub fn reauthenticates(self) -> bool {
        matches!(
            self,
            Endpoint::ChangePassword | Endpoint::ChangeEmail | Endpoint::DeleteAccount
        )
    }

    /// The function (binary and package) that serves the route.
    pub fn function(self) -> &'static str {
        match self {
            Endpoint::Signup => "signup",
            Endpoint::Login => "login",
            Endpoint::Me => "me",
            Endpoint::ListUsers => "list-users",
            Endpoint::Refresh => "refresh",
            Endpoint::ForgotPassword => "forgot-password",
            Endpoint::ResetPassword => "reset-password",
            Endpoint::VerifyEmail => "verify-email",
            Endpoint::ResendVerification => "resend-verification",
            Endpoint::Logout => "logout",
            Endpoint::ChangePassword => "change-password",
            // One function for a user's sessions: both routes need the same reads and rights.
            Endpoint::ListSessions | Endpoint::EndSession => "sessions",
            Endpoint::ChangeEmail => "change-email",
            // Not `me`'s function: erasing needs delete rights that reading must not have.
            Endpoint::DeleteAccount => "delete-account",
            Endpoint::OpenApi | Endpoint::Docs => "docs",
            Endpoint::OpenIdConfiguration | Endpoint::Jwks => "discovery",
        }
    }

    pub fn method(self) -> Method {
        match self {
            Endpoint::Me
            | Endpoint::ListUsers
            | Endpoint::OpenApi
            | Endpoint::Docs
            | Endpoint::OpenIdConfiguration
            | Endpoint::Jwks
            | Endpoint::ListSessions => Method::GET,
            Endpoint::EndSession | Endpoint::DeleteAccount => Method::DELETE,
            _ => Method::POST,
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Signup | Endpoint::ListUsers => "/auth/users",
            Endpoint::Login => "/auth/login",
            Endpoint::Me | Endpoint::DeleteAccount => "/auth/me",
            Endpoint::Refresh => "/auth/tokens",
            Endpoint::ForgotPassword => "/auth/forgot-password",
            Endpoint::ResetPassword => "/auth/reset-password",
            Endpoint::VerifyEmail => "/auth/verify-email",
            Endpoint::ResendVerification => "/auth/verify-email/resend",
            Endpoint::Logout => "/auth/logout",
            Endpoint::ChangePassword => "/auth/password",
            Endpoint::ListSessions => "/auth/sessions",
            Endpoint::EndSession => "/auth/sessions/{id}",
            Endpoint::ChangeEmail => "/auth/email",
            Endpoint::OpenApi => "/auth/openapi.json",
            Endpoint::Docs => "/auth/docs",
            Endpoint::OpenIdConfiguration => "/auth/.well-known/openid-configuration",
            Endpoint::Jwks => "/auth/.well-known/jwks.json",
        }
    }

    /// Whether `path` is this endpoint's (a `{name}` segment of [`Endpoint::path`] stands for
    /// any one non-empty segment), after at most one leading segment (a stage, `/prod`).
    pub fn serves(self, path: &str) -> bool {
        let path = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        let pattern: Vec<&str> = self.path().split('/').skip(1).collect();
        let given: Vec<&str> = path.split('/').skip(1).collect();
        let stage = match given.len().checked_sub(pattern.len()) {
            Some(n @ (0 | 1)) => n,
            _ => return false,
        };
        pattern.iter().zip(given.iter().skip(stage)).all(|(p, g)| {
            // A `{name}` segment; no literal one starts with a brace (a test checks every path).
            if p.starts_with('{') {
                !g.is_empty()
            } else {
                p == g
            }
        })
    }

    /// `"POST /auth/users"`, as API Gateway writes a route key.
    pub fn route_key(self) -> String {
        format!("{} {}", self.method(), self.path())
    }

    /// The first endpoint `name` serves.
    pub fn by_function(name: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.function() == name)
    }

    /// Every endpoint `name` serves (the docs and discovery functions serve two each).
    pub fn of_function(name: &str) -> Vec<Endpoint> {
        Endpoint::ALL
            .into_iter()
            .filter(|e| e.function() == name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_served_as_written_or_after_one_stage() {
        assert!(Endpoint::Me.serves("/auth/me"));
        assert!(Endpoint::Me.serves("/auth/me/"));
        assert!(Endpoint::Me.serves("/prod/auth/me"));
        assert!(!Endpoint::Me.serves("/a/b/auth/me"));
        assert!(!Endpoint::Me.serves("/auth/me/x"));
        assert!(!Endpoint::Login.serves("/auth/me"));
    }

    #[test]
    fn every_path_segment_is_a_literal_or_a_whole_name() {
        for endpoint in Endpoint::ALL {
            for segment in endpoint.path().split('/').skip(1) {
                let named = segment.len() > 2 && segment.starts_with('{') && segment.ends_with('}');
                let literal = !segment.is_empty() && !segment.contains(['{', '}']);
                assert!(named || literal, "{segment:?} in {}", endpoint.path());
            }
        }
    }

    #[test]
    fn a_named_segment_stands_for_one_non_empty_segment() {
        assert!(Endpoint::EndSession.serves("/auth/sessions/abc"));
        assert!(Endpoint::EndSession.serves("/prod/auth/sessions/abc"));
        assert!(!Endpoint::EndSession.serves("/auth/sessions"));
        assert!(!Endpoint::EndSession.serves("/auth/sessions/a/b"));
        assert!(!Endpoint::ListSessions.serves("/auth/sessions/abc"));
    }
}
