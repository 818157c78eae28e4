//! The wire types of sign-in with other providers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::request::{request_type, CurrentPassword, FieldError, FromField, FromJson};
use serde_json::{Map, Value};

request_type! {
    /// `POST /auth/oauth/token`: the one-time code the callback put in the frontend's fragment,
    /// and the PKCE verifier whose S256 challenge the frontend gave to the authorize route.
    #[schema(example = json!({"code": "Y29kZS1mcm9tLXRoZS1mcmFnbWVudC1leGFtcGxlLWNvZGU", "code_verifier": "dmVyaWZpZXItb2YtdGhlLWZyb250ZW5kLWV4YW1wbGUtdmVyaWZpZXI"}))]
    pub struct OAuthTokenRequest {
        /// The `code` of the callback's `#code=` (60 seconds, once).
        #[schema(min_length = 1, max_length = 128)]
        pub code: String,
        /// The verifier of the `code_challenge` given to the authorize route (RFC 7636).
        #[schema(min_length = 43, max_length = 128)]
        pub code_verifier: String,
        /// This device's `device_token`, if it has one (from a login): a device the account
        /// knows is not told of as a new sign-in.
        #[schema(value_type = String, required = false)]
        pub device_token: Option<String>,
    }
}

/// An identity at another provider, linked to the account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IdentityOut {
    /// Its id (for `DELETE /auth/identities/{id}`).
    pub id: String,
    /// The configured provider's name (`google`, `github`, ...).
    pub provider: String,
    /// The address the provider gave when it was linked, if any.
    pub email: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
}

request_type! {
    /// `POST /auth/oauth/{provider}/link`: where the flow comes back to, the frontend's PKCE
    /// challenge, and the password that confirms the change.
    #[schema(example = json!({"redirect_to": "http://localhost:3000/callback", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "password": "correct horse battery staple 42"}))]
    pub struct LinkRequest {
        /// The frontend page to come back to: one of AUTH_OAUTH_REDIRECT_URLS, exactly.
        #[schema(min_length = 1, max_length = 2048)]
        pub redirect_to: String,
        /// The frontend's PKCE challenge (S256); `link/complete` needs its verifier.
        #[schema(min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$")]
        pub code_challenge: String,
        /// The account's current password (a wrong one counts on this session's counter); an
        /// account with no password sends none, from a session signed in under 5 minutes ago.
        #[schema(value_type = String, required = false, min_length = 1, max_length = 128, example = "correct horse battery staple 42")]
        pub password: Option<CurrentPassword>,
    }
}

/// Where to send the browser to link an identity.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LinkOut {
    /// The provider's sign-in page (its `state` works once, for 10 minutes).
    pub authorize_url: String,
}
