//! The wire types of sign-in with other providers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::request::{request_type, FieldError, FromField, FromJson};
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
