//! The `change-password` function: the signed-in user changes the password (POST /auth/password). It builds the shared state once per execution
//! environment and hands every request to the shared endpoint code.

authyy::lambda_main!(ChangePassword);
