//! The `sessions` function: the signed-in user's sessions, listed (GET /auth/sessions) and
//! ended one at a time (DELETE /auth/sessions/{id}). One function for both: they read the same
//! items and need the same rights.

authyy::lambda_main!(ListSessions, EndSession);
