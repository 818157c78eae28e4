//! The `change-email` function: the signed-in user asks to move the account to a new address (POST /auth/email). It builds the shared state once per execution
//! environment and hands every request to the shared endpoint code.

authyy::lambda_main!(ChangeEmail);
