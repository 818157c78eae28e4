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
    OpenApi,
    Docs,
    OpenIdConfiguration,
    Jwks,
}

impl Endpoint {
    pub const ALL: [Endpoint; 14] = [
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
        Endpoint::OpenApi,
        Endpoint::Docs,
        Endpoint::OpenIdConfiguration,
        Endpoint::Jwks,
    ];

    /// Whether the endpoint verifies a password that may belong to no account (its function
    /// makes the dummy hash at cold start, see [`crate::hashing::Hasher::prepare_dummy`]).
    pub fn verifies_passwords(self) -> bool {
        matches!(self, Endpoint::Login)
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
            | Endpoint::Jwks => Method::GET,
            _ => Method::POST,
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Signup | Endpoint::ListUsers => "/auth/users",
            Endpoint::Login => "/auth/login",
            Endpoint::Me => "/auth/me",
            Endpoint::Refresh => "/auth/tokens",
            Endpoint::ForgotPassword => "/auth/forgot-password",
            Endpoint::ResetPassword => "/auth/reset-password",
            Endpoint::VerifyEmail => "/auth/verify-email",
            Endpoint::ResendVerification => "/auth/verify-email/resend",
            Endpoint::Logout => "/auth/logout",
            Endpoint::OpenApi => "/auth/openapi.json",
            Endpoint::Docs => "/auth/docs",
            Endpoint::OpenIdConfiguration => "/auth/.well-known/openid-configuration",
            Endpoint::Jwks => "/auth/.well-known/jwks.json",
        }
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
