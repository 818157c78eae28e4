//! The API's own description: `GET /auth/openapi.json` (OpenAPI 3.1, generated from the wire
//! types and the endpoint annotations) and `GET /auth/docs` (Swagger UI rendering it).

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use super::EndpointResult;
use crate::app::AppState;
use crate::error::ApiError;

/// The stage prefix the request came in under (`/prod`), or `""`.
fn stage_prefix<'a>(req: &'a Request, path: &str) -> &'a str {
    req.uri().path().strip_suffix(path).unwrap_or("")
}

/// The OpenAPI description of the whole API.
#[utoipa::path(get, path = "/auth/openapi.json", tag = "docs",
    responses((status = 200, description = "The OpenAPI 3.1 description (JSON)", content_type = "application/json")))]
pub async fn openapi_json(_state: &AppState, req: &Request) -> EndpointResult {
    let doc = crate::api::openapi(stage_prefix(req, "/auth/openapi.json"));
    let body = doc.to_json().map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut resp = Response::new(Body::Text(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>authyy API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true });
</script>
</body>
</html>
"##;

/// Interactive documentation, as FastAPI's /docs: Swagger UI over `openapi.json`.
#[utoipa::path(get, path = "/auth/docs", tag = "docs",
    responses((status = 200, description = "An HTML page rendering the description with Swagger UI", content_type = "text/html")))]
pub async fn docs_page(_state: &AppState, _req: &Request) -> EndpointResult {
    let mut resp = Response::new(Body::Text(PAGE.to_string()));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(resp)
}
