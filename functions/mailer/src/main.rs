//! The `mailer` function: SQS hands it batches of queued mail jobs (forgot-password's reset
//! mail); it delivers each one (looks the account up, writes the reset token, sends the mail
//! through SES) and reports the ones that failed, so that only those are retried.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    authyy::runtime::mailer::run().await
}
