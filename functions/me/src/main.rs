//! The `me` function: the signed-in user's account (GET /auth/me) and security log (GET
//! /auth/me/events). It builds the shared state once per execution environment and hands every
//! request to the shared endpoint code.

authyy::lambda_main!(Me, MyEvents);
