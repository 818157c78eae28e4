//! The `mailer` function: SQS hands it batches of queued mail jobs (reset, verification and
//! email-change links, and notices); it delivers each one (looks the account and the stored
//! request up, mints the link's token, sends the mail through SES) and reports the ones that
//! failed, so that only those are retried.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    authyy::runtime::mailer::run().await
}
