//! Helpers for the self-service routes (password, sessions, email, erasure).

use super::*;

impl TestApp {
    /// A request to `endpoint` at `path` (for routes with a parameter), with a bearer token,
    /// from `ip` with `user_agent`.
    pub async fn call_at(
        &self,
        endpoint: Endpoint,
        path: &str,
        body: Option<Value>,
        bearer: &str,
        ip: &str,
        user_agent: &str,
    ) -> Resp {
        let auth = format!("Bearer {bearer}");
        let body = body.map(|b| b.to_string());
        let req = event(
            endpoint.method().as_str(),
            path,
            "",
            &[("authorization", &auth), ("user-agent", user_agent)],
            body.as_deref(),
            ip,
        );
        self.call(endpoint, req).await
    }

    /// `endpoint` with a JSON `body` and an access token.
    pub async fn with_body_of(&self, endpoint: Endpoint, body: Value, access: &str) -> Resp {
        self.with_token(endpoint, body, access).await
    }

    async fn with_token(&self, endpoint: Endpoint, body: Value, access: &str) -> Resp {
        self.call_at(
            endpoint,
            endpoint.path(),
            Some(body),
            access,
            "192.0.2.1",
            "tests",
        )
        .await
    }

    /// `POST /auth/password`.
    pub async fn change_password(&self, access: &str, current: &str, new: &str) -> Resp {
        let body = json!({"current_password": current, "new_password": new});
        self.with_token(Endpoint::ChangePassword, body, access).await
    }

    /// `GET /auth/sessions`.
    pub async fn sessions(&self, access: &str) -> Resp {
        self.get(Endpoint::ListSessions, access).await
    }

    /// `DELETE /auth/sessions/{id}`.
    pub async fn end_session(&self, access: &str, id: &str) -> Resp {
        let path = format!("/auth/sessions/{id}");
        self.call_at(Endpoint::EndSession, &path, None, access, "192.0.2.1", "tests")
            .await
    }

    /// `POST /auth/email`.
    pub async fn change_email(&self, access: &str, new_email: &str, password: &str) -> Resp {
        let body = json!({"new_email": new_email, "password": password});
        self.with_token(Endpoint::ChangeEmail, body, access).await
    }

    /// `DELETE /auth/me`.
    pub async fn delete_me(&self, access: &str, password: &str) -> Resp {
        self.with_token(Endpoint::DeleteAccount, json!({"password": password}), access)
            .await
    }

    /// The token of the newest email-change confirmation mailed to `new_email`.
    pub async fn email_change_token(&self, new_email: &str) -> String {
        let mails = self.mails_to(new_email).await;
        let last = mails
            .iter()
            .rev()
            .find(|m| m.contains("Confirm your new email"))
            .expect("an email change confirmation");
        token_in(last).expect("a token in the mail")
    }

    /// The id of the session of `access`.
    pub fn sid_of(access: &str) -> String {
        claims_of(access).sid
    }
}
