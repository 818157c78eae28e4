//! The SQLite backend of the suite: a fresh file and outbox per test.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Backend, BoxFut, Inbox, TestApp};
use authyy::clock::ManualClock;
use authyy::config::Config;
use authyy::keys::{KeyStore, PublicKeys};
use authyy::store::sqlite::SqliteStore;
use authyy::AppState;

pub struct Sqlite;

struct Outbox(PathBuf);

impl Inbox for Outbox {
    fn mails_to<'a>(&'a self, to: &'a str) -> BoxFut<'a, Vec<String>> {
        Box::pin(async move {
            let mut files: Vec<_> = std::fs::read_dir(&self.0)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            files.sort();
            files
                .into_iter()
                .filter_map(|p| std::fs::read_to_string(p).ok())
                .filter(|m| m.contains(&format!("\r\nTo: {to}\r\n")))
                .collect()
        })
    }
}

/// Gives the file the suite's keys (instead of generating its own at first start).
pub async fn seed_keys(path: &std::path::Path) {
    let store = SqliteStore::open(path).unwrap();
    let keys = super::test_keys();
    store.save(keys).await.unwrap();
    store
        .publish(&PublicKeys::of(keys.lifecycle().unwrap()))
        .await
        .unwrap();
}

impl Backend for Sqlite {
    fn app(mut config: Config) -> BoxFut<'static, TestApp> {
        Box::pin(async move {
            let dir = tempfile::tempdir().unwrap();
            config.sqlite_path = dir.path().join("authyy.sqlite3");
            config.outbox_dir = dir.path().join("outbox");
            let outbox = config.outbox_dir.clone();
            let clock = Arc::new(ManualClock::default());
            seed_keys(&config.sqlite_path).await;
            let keys: Arc<dyn KeyStore> = Arc::new(SqliteStore::open(&config.sqlite_path).unwrap());
            let state = AppState::local(config, clock.clone()).await.unwrap();
            TestApp {
                state,
                clock,
                inbox: Arc::new(Outbox(outbox)),
                keys: Some(keys),
                _guard: Box::new(dir),
            }
        })
    }
}
