//! The `delete-account` function: the signed-in user erases the account (DELETE /auth/me). It builds the shared state once per execution
//! environment and hands every request to the shared endpoint code.

authyy::lambda_main!(DeleteAccount);
