//! Helpers for the admin API for one user (`/auth/admin/users/{id}`).

use super::*;

impl TestApp {
    /// A signed-up, logged-in user given the admin role: (access token, id).
    pub async fn admin(&self, username: &str) -> (String, u64) {
        let (access, _, id) = self.user(username).await;
        self.make_admin(id).await;
        (access, id)
    }

    /// `GET /auth/admin/users/{id}`.
    pub async fn admin_get(&self, access: &str, id: impl std::fmt::Display) -> Resp {
        self.admin_call(
            Endpoint::AdminGetUser,
            &format!("/auth/admin/users/{id}"),
            None,
            access,
        )
        .await
    }

    /// `PATCH /auth/admin/users/{id}` with `body`.
    pub async fn admin_patch(&self, access: &str, id: impl std::fmt::Display, body: Value) -> Resp {
        self.admin_call(
            Endpoint::AdminUpdateUser,
            &format!("/auth/admin/users/{id}"),
            Some(body),
            access,
        )
        .await
    }

    /// `DELETE /auth/admin/users/{id}`.
    pub async fn admin_delete(&self, access: &str, id: impl std::fmt::Display) -> Resp {
        self.admin_call(
            Endpoint::AdminDeleteUser,
            &format!("/auth/admin/users/{id}"),
            None,
            access,
        )
        .await
    }

    /// `DELETE /auth/admin/users/{id}/sessions`.
    pub async fn admin_end_sessions(&self, access: &str, id: impl std::fmt::Display) -> Resp {
        let path = format!("/auth/admin/users/{id}/sessions");
        self.admin_call(Endpoint::AdminEndSessions, &path, None, access)
            .await
    }

    /// One admin route, from the tests' usual client address.
    async fn admin_call(&self, endpoint: Endpoint, path: &str, body: Option<Value>, access: &str) -> Resp {
        self.call_at(endpoint, path, body, access, "192.0.2.1", "tests")
            .await
    }

    /// Each admin route on user `id` with `access` (PATCH with an empty change).
    pub async fn every_admin_route(&self, access: &str, id: impl std::fmt::Display) -> Vec<(Endpoint, Resp)> {
        let id = id.to_string();
        vec![
            (Endpoint::AdminGetUser, self.admin_get(access, &id).await),
            (
                Endpoint::AdminUpdateUser,
                self.admin_patch(access, &id, json!({})).await,
            ),
            (
                Endpoint::AdminEndSessions,
                self.admin_end_sessions(access, &id).await,
            ),
            (
                Endpoint::AdminUserEvents,
                self.admin_events_page(access, &id, "").await,
            ),
            (Endpoint::AdminDeleteUser, self.admin_delete(access, &id).await),
        ]
    }
}
