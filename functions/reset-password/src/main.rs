//! The `reset-password` function: serves one route of the authyy API.
//! It builds the shared state once per execution environment and hands every request to the
//! shared endpoint code.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    authyy::app::run(&[authyy::Endpoint::ResetPassword]).await
}
