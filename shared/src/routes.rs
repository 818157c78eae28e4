//! The route table: one row per endpoint, and everything about routes derived from it. A row
//! names the endpoint, its method and path, the function (binary and package) that serves it,
//! whether it needs a JSON body, the per-client rate limit it is under, whether it asks for the
//! password again, and its handler (an `async fn` in [`crate::endpoints`] whose
//! `#[utoipa::path]` annotation is its OpenAPI operation).
//!
//! `route_table!` hands the rows to a macro of the caller's: this module builds [`Endpoint`]
//! from them, `endpoints` the dispatch and the per-endpoint handlers a function's `main` names,
//! `endpoints::docs` the OpenAPI path list. What lies outside the crate (the Cargo members and
//! the `cargo lambda watch` router, template.yaml, events/, the IAM permissions, the JS client)
//! is held to [`Endpoint::ALL`] by tests.

use lambda_http::http::Method;

/// Every route, one per row:
/// `(Endpoint, METHOD, path, function, body, client limit, re-authenticates, handler)`.
///
/// - body: `Json` (a JSON body is required) or `Optional` (none needed; one sent must be JSON).
/// - client limit: the [`ClientLimit`] counted per client address before the endpoint runs.
/// - handler: `module::function` under `crate::endpoints`.
macro_rules! route_table {
    ($then:ident) => {
        $then! {
            (Signup, POST, "/auth/users", "signup", Json, Some(ClientLimit::Signup), false, signup::signup),
            (Login, POST, "/auth/login", "login", Json, Some(ClientLimit::Login), false, login::login),
            (Me, GET, "/auth/me", "me", Optional, None, false, account::me),
            (MyEvents, GET, "/auth/me/events", "me", Optional, None, false, events::my_events),
            (ListUsers, GET, "/auth/users", "list-users", Optional, None, false, users::list_users),
            (Refresh, POST, "/auth/tokens", "refresh", Optional, None, false, refresh::refresh),
            (ForgotPassword, POST, "/auth/forgot-password", "forgot-password", Json, Some(ClientLimit::Forgot), false,
                password_reset::forgot_password),
            (ResetPassword, POST, "/auth/reset-password", "reset-password", Json, None, false,
                password_reset::reset_password),
            (VerifyEmail, POST, "/auth/verify-email", "verify-email", Json, None, false,
                verify_email::verify_email),
            (ResendVerification, POST, "/auth/verify-email/resend", "resend-verification", Json, Some(ClientLimit::Resend),
                false, verify_email::resend_verification),
            (Logout, POST, "/auth/logout", "logout", Optional, None, false, account::logout),
            (ChangePassword, POST, "/auth/password", "change-password", Json, Some(ClientLimit::Reauth), true,
                password_change::change_password),
            // One function for a user's sessions: both routes need the same reads and rights.
            (ListSessions, GET, "/auth/sessions", "sessions", Optional, None, false, sessions::list_sessions),
            (EndSession, DELETE, "/auth/sessions/{id}", "sessions", Optional, None, false, sessions::end_session),
            (ChangeEmail, POST, "/auth/email", "change-email", Json, Some(ClientLimit::Reauth), true,
                email_change::change_email),
            // Not `me`'s function: erasing needs delete rights that reading must not have.
            (DeleteAccount, DELETE, "/auth/me", "delete-account", Json, Some(ClientLimit::Reauth), true,
                account_deletion::delete_account),
            (OpenApi, GET, "/auth/openapi.json", "docs", Optional, None, false, docs::openapi_json),
            (Docs, GET, "/auth/docs", "docs", Optional, None, false, docs::docs_page),
            (OpenIdConfiguration, GET, "/auth/.well-known/openid-configuration", "discovery", Optional, None,
                false, discovery::openid_configuration),
            (Jwks, GET, "/auth/.well-known/jwks.json", "discovery", Optional, None, false, discovery::jwks),
            // One function for the signed-in user's second factors: the same reads and rights.
            (StartTotp, POST, "/auth/mfa/totp", "mfa", Optional, None, false, mfa::start_totp),
            (ConfirmTotp, POST, "/auth/mfa/totp/confirm", "mfa", Json, Some(ClientLimit::Reauth), true,
                mfa::confirm_totp),
            (DisableTotp, DELETE, "/auth/mfa/totp", "mfa", Json, Some(ClientLimit::Reauth), true, mfa::disable_totp),
            (RecoveryCodes, POST, "/auth/mfa/recovery-codes", "mfa", Json, Some(ClientLimit::Reauth), true,
                mfa::recovery_codes),
            (LoginMfa, POST, "/auth/login/mfa", "login-mfa", Json, Some(ClientLimit::Login), false,
                login_mfa::login_mfa),
            // One function for the signed-in user's passkeys: the same reads and rights.
            (PasskeyRegisterOptions, POST, "/auth/passkeys/register/options", "passkeys", Optional,
                Some(ClientLimit::PasskeyOptions), false, passkeys::registration_options),
            (RegisterPasskey, POST, "/auth/passkeys/register", "passkeys", Json, Some(ClientLimit::Reauth), true,
                passkeys::register),
            (ListPasskeys, GET, "/auth/passkeys", "passkeys", Optional, None, false, passkeys::list_passkeys),
            (DeletePasskey, DELETE, "/auth/passkeys/{id}", "passkeys", Json, Some(ClientLimit::Reauth), true,
                passkeys::delete_passkey),
            (PasskeyLoginOptions, POST, "/auth/passkeys/login/options", "passkey-login", Optional,
                Some(ClientLimit::PasskeyOptions), false, passkey_login::login_options),
            (PasskeyLogin, POST, "/auth/passkeys/login", "passkey-login", Json, Some(ClientLimit::Login), false,
                passkey_login::login),
            // One function for a provider sign-in's three steps: the same provider calls and rights.
            (OAuthAuthorize, GET, "/auth/oauth/{provider}/authorize", "oauth", Optional, None, false,
                oauth::authorize),
            (OAuthCallback, GET, "/auth/oauth/{provider}/callback", "oauth", Optional, None, false,
                oauth::callback),
            (OAuthToken, POST, "/auth/oauth/token", "oauth", Json, Some(ClientLimit::Login), false, oauth::token),
            // One function for the signed-in user's identities: the same reads and rights.
            (ListIdentities, GET, "/auth/identities", "identities", Optional, None, false,
                identities::list_identities),
            (LinkIdentity, POST, "/auth/oauth/{provider}/link", "identities", Json, Some(ClientLimit::Reauth), true,
                identities::link),
            (CompleteLink, POST, "/auth/oauth/{provider}/link/complete", "identities", Json, None, false,
                identities::complete_link),
            (DeleteIdentity, DELETE, "/auth/identities/{id}", "identities", Json, Some(ClientLimit::Reauth), true,
                identities::delete_identity),
            // One function for an administrator reading and changing one user: the same reads
            // and rights. Erasing is a function of its own: it needs delete rights.
            (AdminGetUser, GET, "/auth/admin/users/{id}", "admin-users", Optional, None, false, admin_users::get_user),
            (AdminUpdateUser, PATCH, "/auth/admin/users/{id}", "admin-users", Json, None, false,
                admin_users::update_user),
            (AdminEndSessions, DELETE, "/auth/admin/users/{id}/sessions", "admin-users", Optional, None, false,
                admin_users::end_user_sessions),
            (AdminUserEvents, GET, "/auth/admin/users/{id}/events", "admin-users", Optional, None, false,
                events::user_events),
            (AdminDeleteUser, DELETE, "/auth/admin/users/{id}", "admin-delete-user", Optional, None, false,
                admin_users::delete_user),
        }
    };
}
pub(crate) use route_table;

/// Whether an endpoint needs a body (see `route_table!`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRule {
    /// A JSON body is required.
    Json,
    /// None is needed; one that is sent must still be JSON.
    Optional,
}

/// The per-client (per address) rate limits, counted before the endpoint runs; over the limit
/// is 429. The configured numbers are in [`crate::config::Config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientLimit {
    Signup,
    Login,
    Forgot,
    Resend,
    /// The endpoints that check the password again: an argon2 run as login's, under login's
    /// numbers but counted apart.
    Reauth,
    /// The passkey options routes: each stores a challenge.
    PasskeyOptions,
}

impl ClientLimit {
    /// The name its counters are kept by.
    pub fn name(self) -> &'static str {
        match self {
            ClientLimit::Signup => "signup",
            ClientLimit::Login => "login",
            ClientLimit::Forgot => "forgot",
            ClientLimit::Resend => "resend",
            ClientLimit::Reauth => "reauth",
            ClientLimit::PasskeyOptions => "passkey-options",
        }
    }
}

macro_rules! define_endpoints {
    ($(($endpoint:ident, $method:ident, $path:literal, $function:literal, $body:ident, $limit:expr,
        $reauth:literal, $module:ident :: $handler:ident)),+ $(,)?) => {
        /// An endpoint of the API: one row of `route_table!`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Endpoint {
            $($endpoint,)+
        }

        impl Endpoint {
            /// Every endpoint, in the table's order.
            pub const ALL: [Endpoint; [$(Endpoint::$endpoint),+].len()] = [$(Endpoint::$endpoint,)+];

            /// The function (binary and package) that serves the route.
            pub fn function(self) -> &'static str {
                match self {
                    $(Endpoint::$endpoint => $function,)+
                }
            }

            pub fn method(self) -> Method {
                match self {
                    $(Endpoint::$endpoint => Method::$method,)+
                }
            }

            /// The path as API Gateway writes it (`{name}` for a segment it captures).
            pub fn path(self) -> &'static str {
                match self {
                    $(Endpoint::$endpoint => $path,)+
                }
            }

            /// Whether the endpoint needs a JSON body.
            pub fn body(self) -> BodyRule {
                match self {
                    $(Endpoint::$endpoint => BodyRule::$body,)+
                }
            }

            /// The per-client limit the endpoint is under, if any.
            pub fn client_limit(self) -> Option<ClientLimit> {
                match self {
                    $(Endpoint::$endpoint => $limit,)+
                }
            }

            /// Whether the endpoint asks the signed-in user for their current password (and
            /// counts a wrong one as a failed login).
            pub fn reauthenticates(self) -> bool {
                match self {
                    $(Endpoint::$endpoint => $reauth,)+
                }
            }
        }
    };
}
route_table!(define_endpoints);

impl Endpoint {
    /// Whether `path` is this endpoint's (a `{name}` segment of [`Endpoint::path`] stands for
    /// any one non-empty segment), after at most one leading segment (a stage, `/prod`).
    pub fn serves(self, path: &str) -> bool {
        // A trailing slash is the same path (`/` alone becomes empty: no endpoint's).
        let path = path.trim_end_matches('/');
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
    fn no_two_endpoints_share_a_method_and_path() {
        let keys: std::collections::BTreeSet<String> = Endpoint::ALL.iter().map(|e| e.route_key()).collect();
        assert_eq!(keys.len(), Endpoint::ALL.len());
    }

    #[test]
    fn an_endpoint_reauthenticates_exactly_when_under_the_reauth_limit() {
        for e in Endpoint::ALL {
            assert_eq!(
                e.reauthenticates(),
                e.client_limit() == Some(ClientLimit::Reauth),
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_route_without_a_body_method_takes_no_required_body() {
        for e in Endpoint::ALL {
            if e.method() == Method::GET {
                assert_eq!(e.body(), BodyRule::Optional, "{e:?}");
            }
        }
    }

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
