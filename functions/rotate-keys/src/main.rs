//! The `rotate-keys` function: Secrets Manager's rotation function for the private key secret.
//! It moves the RSA key lifecycle one step (next -> current -> previous) on schedule and keeps
//! the public key set in step, so a new key is published a whole period before it signs.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    authyy::runtime::rotation::run().await
}
