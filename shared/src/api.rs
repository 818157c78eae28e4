//! The wire types of the API: every response body is built from these, and the OpenAPI
//! description (`GET /auth/openapi.json`) is generated from them and from the `#[utoipa::path]`
//! annotations on the endpoints, so the description cannot drift from the code.

use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::clock::rfc3339;
use crate::domain::User;

/// `POST /auth/users`
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"username": "john_doe", "email": "john@example.com", "password": "correct horse battery staple 42"}))]
pub struct SignupRequest {
    /// 3 to 32 letters, digits, `_`, `.` or `-`, starting with a letter or digit; unique
    /// case-insensitively.
    pub username: String,
    /// An ASCII email address of at most 254 characters; unique after normalisation.
    pub email: String,
    /// 8 to 128 characters; not common, not containing the username or the email's local
    /// part, and strong enough by the zxcvbn estimator.
    pub password: String,
}

/// `POST /auth/login`
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"email": "john@example.com", "password": "correct horse battery staple 42"}))]
pub struct LoginRequest {
    pub email: String,
    /// At most 128 characters.
    pub password: String,
}

/// `POST /auth/forgot-password`
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ForgotPasswordRequest {
    pub email: String,
}

/// `POST /auth/reset-password`
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    /// The token from the reset link.
    pub token: String,
    /// The new password, under the same policy as at signup.
    pub password: String,
}

/// `POST /auth/logout` (the body is optional)
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// End every session of the user, not only this one.
    #[serde(default)]
    pub all: bool,
}

/// A user.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserOut {
    pub id: u64,
    pub username: String,
    pub email: String,
    /// RFC 3339, UTC, e.g. `2025-08-08T10:30:00Z`.
    pub created_at: String,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        UserOut {
            id: u.id,
            username: u.username.clone(),
            email: u.email.clone(),
            created_at: rfc3339(u.created_at),
        }
    }
}

/// A user as administrators see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminUserOut {
    #[serde(flatten)]
    pub user: UserOut,
    /// `user` or `admin`.
    pub role: String,
    pub disabled: bool,
}

impl From<&User> for AdminUserOut {
    fn from(u: &User) -> Self {
        AdminUserOut {
            user: UserOut::from(u),
            role: u.role.as_str().to_string(),
            disabled: u.disabled,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessTokenOut {
    /// A JWT valid for 15 minutes (by default); send it as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RefreshTokenOut {
    /// A JWT to exchange at `POST /auth/tokens`; each one works once.
    pub refresh_token: String,
    pub jti: String,
    /// When the refresh token expires, RFC 3339 UTC.
    pub expiry: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokensOut {
    pub access: AccessTokenOut,
    pub refresh: RefreshTokenOut,
}

/// The user of a token envelope.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnvelopeUser {
    pub id: u64,
    pub username: String,
    pub email: String,
}

/// The answer of login and refresh.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenEnvelope {
    pub tokens: TokensOut,
    pub user: EnvelopeUser,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageOut {
    pub message: String,
}

/// Every error but validation: `{"detail": "<message>"}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorOut {
    pub detail: String,
}

/// One validation error, in FastAPI's shape.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidationItem {
    /// Where: `["body", "<field>"]`, `["query", "<parameter>"]` or `["body"]`.
    #[schema(value_type = Vec<String>)]
    pub loc: Vec<serde_json::Value>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A 422: every problem with the request at once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidationErrorOut {
    pub detail: Vec<ValidationItem>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "authyy",
        description = "Email + password authentication for frontend apps: signup, login, sessions with rotating refresh tokens, password reset, logout, and user administration. Errors are `{\"detail\": \"...\"}`; validation errors are 422 in FastAPI's shape. Every 401 carries `WWW-Authenticate: Bearer`; every response `Cache-Control: no-store`.",
        license(name = "MIT")
    ),
    paths(
        crate::endpoints::signup::signup,
        crate::endpoints::login::login,
        crate::endpoints::account::me,
        crate::endpoints::account::list_users,
        crate::endpoints::refresh::refresh,
        crate::endpoints::password_reset::forgot_password,
        crate::endpoints::password_reset::reset_password,
        crate::endpoints::account::logout,
        crate::endpoints::docs::openapi_json,
        crate::endpoints::docs::docs_page,
    ),
    components(schemas(ErrorOut, ValidationErrorOut)),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Accounts, sessions and tokens"), (name = "docs", description = "This description"))
)]
pub struct ApiDoc;

/// The OpenAPI 3.1 description, with `server` as its base (`""` or a stage prefix like `/prod`).
pub fn openapi(server: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.servers = Some(vec![utoipa::openapi::Server::new(if server.is_empty() {
        "/"
    } else {
        server
    })]);
    doc
}
