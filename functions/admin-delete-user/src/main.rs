//! The `admin-delete-user` function: an administrator erases a user (DELETE
//! /auth/admin/users/{id}). Apart from `admin-users`: erasing needs delete rights that reading
//! and changing a user must not have.

authyy::lambda_main!(AdminDeleteUser);
