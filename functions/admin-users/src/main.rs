//! The `admin-users` function: an administrator reads one user (GET /auth/admin/users/{id}),
//! changes it (PATCH /auth/admin/users/{id}), ends its sessions (DELETE
//! /auth/admin/users/{id}/sessions) or reads its security log (GET
//! /auth/admin/users/{id}/events). One function for the four: they read the same items and need
//! the same rights.

authyy::lambda_main!(AdminGetUser, AdminUpdateUser, AdminEndSessions, AdminUserEvents);
