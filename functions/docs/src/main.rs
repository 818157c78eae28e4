//! The `docs` function: the API's OpenAPI description (GET /auth/openapi.json) and the
//! interactive documentation page rendering it (GET /auth/docs).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    authyy::app::run(&[authyy::Endpoint::OpenApi, authyy::Endpoint::Docs]).await
}
