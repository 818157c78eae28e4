//! The API's own description: `GET /auth/openapi.json` (OpenAPI 3.1, assembled here from the
//! wire types and every endpoint's `#[utoipa::path]` annotation) and `GET /auth/docs` (Swagger
//! UI rendering it, from a pinned release with SRI hashes, under a strict CSP).

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::common::EndpointResult;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::request::LocItem;
use crate::wire::{ErrorOut, ValidationErrorOut};

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

/// OpenAPI links: how the answer of one operation feeds the next (signup -> login -> me,
/// refresh, logout), so clients and stateful testers (Schemathesis) reach the authenticated
/// routes with real tokens. Written as JSON: utoipa 5.5's `Link` serialises its fields in
/// snake_case (`operation_id`), which is not OpenAPI.
fn add_links(doc: &mut serde_json::Value) {
    use serde_json::json;
    let bearer = |operation_id: &str, token: &str| {
        json!({
            "operationId": operation_id,
            "parameters": {"header.Authorization": format!("Bearer {{$response.body#/tokens/{token}}}")},
        })
    };
    let mut add = |path: &str, status: &str, links: serde_json::Value| {
        if let Some(response) = doc
            .pointer_mut(&format!(
                "/paths/{}/post/responses/{status}",
                path.replace('/', "~1")
            ))
            .and_then(|r| r.as_object_mut())
        {
            response.insert("links".into(), links);
        }
    };
    add(
        "/auth/users",
        "201",
        json!({"LogIn": {
            "operationId": "login",
            "requestBody": {"email": "$request.body#/email", "password": "$request.body#/password"},
            "description": "Log in as the user just created",
        }}),
    );
    for path in ["/auth/login", "/auth/tokens"] {
        add(
            path,
            "200",
            json!({
                "Me": bearer("me", "access/access_token"),
                "Refresh": bearer("refresh", "refresh/refresh_token"),
                "LogOut": bearer("logout", "access/access_token"),
            }),
        );
    }
}

macro_rules! define_api_doc {
    ($(($endpoint:ident, $method:ident, $path:literal, $function:literal, $body:ident, $limit:expr,
        $reauth:literal, $module:ident :: $handler:ident)),+ $(,)?) => {
        #[derive(OpenApi)]
        #[openapi(
            info(
                title = "authyy",
                description = "Email + password authentication for frontend apps: signup with email verification, login, sessions with rotating refresh tokens, password reset, logout, and user administration. Errors are `{\"detail\": \"...\"}`; validation errors are 422 in FastAPI's shape. Every 401 carries `WWW-Authenticate: Bearer`; every response but the two public discovery documents `Cache-Control: no-store`. Bodies are JSON (`Content-Type: application/json`, else 415) of at most 64 KiB (else 413). The response links lead from signup to login and from a token envelope to /me, refresh and logout.",
                license(name = "MIT")
            ),
            paths($(crate::endpoints::$module::$handler),+),
            components(schemas(ErrorOut, ValidationErrorOut, LocItem)),
            modifiers(&BearerAuth),
            tags((name = "auth", description = "Accounts, sessions and tokens"), (name = "account", description = "Self-service for the signed-in user: password, sessions, email, the security log, erasure"), (name = "mfa", description = "Second factors of the signed-in user: TOTP and recovery codes"), (name = "passkeys", description = "Passkeys (WebAuthn): register, list and remove them, and sign in with one and no password"), (name = "federation", description = "Sign-in with another provider (OpenID Connect, GitHub) and the identities linked to the account"), (name = "admin", description = "Administrators: read, change and erase one user, end its sessions, read its security log (the listing is `GET /auth/users`)"), (name = "docs", description = "This description"), (name = "discovery", description = "For other services: the OpenID discovery document and the public keys that verify access tokens"))
        )]
        pub struct ApiDoc;
    };
}
crate::routes::route_table!(define_api_doc);

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

/// The description exactly as `GET /auth/openapi.json` serves it (with the response links), with
/// `server` as its base. The JS client's types are generated from it (`examples/openapi.rs`).
pub fn openapi_document(server: &str) -> Result<serde_json::Value, serde_json::Error> {
    let mut doc = serde_json::to_value(openapi(server))?;
    add_links(&mut doc);
    Ok(doc)
}

/// [`openapi_document`] as text, built once per stage prefix (a deployment has one): building
/// and serialising it took about a millisecond per request.
fn openapi_text(server: &str) -> Result<String, ApiError> {
    static BUILT: std::sync::Mutex<Option<(String, String)>> = std::sync::Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, text)) = built.as_ref().filter(|(prefix, _)| prefix == server) {
        return Ok(text.clone());
    }
    let text = openapi_document(server)
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .to_string();
    *built = Some((server.to_string(), text.clone()));
    Ok(text)
}

/// The stage prefix the request came in under (`/prod`), or `""`.
fn stage_prefix<'a>(req: &'a Request, path: &str) -> &'a str {
    req.uri().path().strip_suffix(path).unwrap_or("")
}

/// The OpenAPI description of the whole API.
#[utoipa::path(get, path = "/auth/openapi.json", tag = "docs",
    responses((status = 200, description = "The OpenAPI 3.1 description (JSON)", content_type = "application/json")))]
pub async fn openapi_json(_state: &AppState, req: &Request) -> EndpointResult {
    let body = openapi_text(stage_prefix(req, "/auth/openapi.json"))?;
    let mut resp = Response::new(Body::Text(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// Swagger UI, pinned: the exact files of this `swagger-ui-dist` release on npm, as jsDelivr
/// serves them, each checked by the browser against its SRI hash before it runs. To move to
/// another release: `npm pack swagger-ui-dist@<version>`, then for each file
/// `openssl dgst -sha384 -binary package/<file> | base64` gives its hash.
pub const SWAGGER_UI_VERSION: &str = "5.35.0";
/// Where the pinned files come from; the page's policy allows scripts and styles from here only.
pub const SWAGGER_UI_BASE: &str = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0/";
/// `sha384` of `swagger-ui.css` in swagger-ui-dist 5.35.0.
pub const SWAGGER_UI_CSS_SRI: &str =
    "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I";
/// `sha384` of `swagger-ui-bundle.js` in swagger-ui-dist 5.35.0.
pub const SWAGGER_UI_JS_SRI: &str = "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9";

/// The page's one inline script (allowed by its hash in the policy). No validator badge: that
/// would send the description to a third party.
const INIT: &str = r##"window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null });"##;

/// The docs page and its Content-Security-Policy, built once.
fn page() -> &'static (String, String) {
    static PAGE: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    PAGE.get_or_init(|| {
        use base64::Engine as _;
        use sha2::Digest as _;
        let init_hash =
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(INIT.as_bytes()));
        let base = SWAGGER_UI_BASE;
        let html = format!(
            r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>authyy API</title>
<link rel="stylesheet" href="{base}swagger-ui.css" integrity="{SWAGGER_UI_CSS_SRI}" crossorigin="anonymous">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{base}swagger-ui-bundle.js" integrity="{SWAGGER_UI_JS_SRI}" crossorigin="anonymous"></script>
<script>{INIT}</script>
</body>
</html>
"#
        );
        // Scripts and styles only from the pinned release (and the inline start-up by its
        // hash); the description and "Try it out" calls to this API only; never framed.
        let csp = format!(
            "default-src 'none'; script-src {base} 'sha256-{init_hash}'; style-src {base}; \
             img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'"
        );
        (html, csp)
    })
}

/// Interactive documentation, as FastAPI's /docs: Swagger UI over `openapi.json`.
#[utoipa::path(get, path = "/auth/docs", tag = "docs",
    responses((status = 200, description = "An HTML page rendering the description with Swagger UI", content_type = "text/html")))]
pub async fn docs_page(_state: &AppState, _req: &Request) -> EndpointResult {
    let (html, csp) = page();
    let mut resp = Response::new(Body::Text(html.clone()));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let csp = HeaderValue::from_str(csp).map_err(|e| ApiError::Internal(e.to_string()))?;
    resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
    Ok(resp)
}
