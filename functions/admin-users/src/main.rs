//! The `admin-users` function: an administrator reads one user (GET /auth/admin/users/{id}),
//! changes it (PATCH /auth/admin/users/{id}) or ends its sessions (DELETE
//! /auth/admin/users/{id}/sessions). One function for the three: they read the same items and
//! need the same rights.

authyy::lambda_main!(AdminGetUser, AdminUpdateUser, AdminEndSessions);
