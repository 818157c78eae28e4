//! Reading the audit trail in tests: the caller's own log and a user's log as an admin reads
//! it, page by page through the `Link` header.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{event, Resp, TestApp};
use authyy::Endpoint;

impl TestApp {
    /// `GET /auth/me/events?{query}`.
    pub async fn my_events_page(&self, access: &str, query: &str) -> Resp {
        self.events_call(Endpoint::MyEvents, "/auth/me/events", query, access)
            .await
    }

    /// `GET /auth/admin/users/{id}/events?{query}`.
    pub async fn admin_events_page(&self, access: &str, id: impl std::fmt::Display, query: &str) -> Resp {
        let path = format!("/auth/admin/users/{id}/events");
        self.events_call(Endpoint::AdminUserEvents, &path, query, access)
            .await
    }

    /// Every event of the caller's log, newest first, following the pages.
    pub async fn my_events(&self, access: &str) -> Vec<Value> {
        self.all_pages(Endpoint::MyEvents, "/auth/me/events", access)
            .await
    }

    /// Every event of user `id`'s log as an admin reads it, newest first.
    pub async fn admin_events(&self, access: &str, id: impl std::fmt::Display) -> Vec<Value> {
        let path = format!("/auth/admin/users/{id}/events");
        self.all_pages(Endpoint::AdminUserEvents, &path, access).await
    }

    async fn all_pages(&self, endpoint: Endpoint, path: &str, access: &str) -> Vec<Value> {
        let mut events = vec![];
        let mut query = "limit=200".to_string();
        loop {
            let r = self.events_call(endpoint, path, &query, access).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            events.extend(r.body.as_array().expect("a list").iter().cloned());
            let Some(link) = r.header("link") else {
                return events;
            };
            let url = &link[link.find('<').expect("<") + 1..link.find('>').expect(">")];
            query = url.split_once('?').expect("a query").1.to_string();
        }
    }

    async fn events_call(&self, endpoint: Endpoint, path: &str, query: &str, access: &str) -> Resp {
        let auth = format!("Bearer {access}");
        let req = event(
            "GET",
            path,
            query,
            &[("authorization", &auth), ("user-agent", "tests")],
            None,
            "192.0.2.1",
        );
        self.call(endpoint, req).await
    }
}

/// The `type` of each event, newest first.
pub fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap_or("?")).collect()
}

/// A writer that keeps what is logged, for a log layer under test.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
