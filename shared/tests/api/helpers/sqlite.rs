//! The SQLite backend of the suite: a fresh file and outbox per test.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{Backend, BoxFut, Inbox, TestApp};
use authyy::clock::ManualClock;
use authyy::config::Config;
use authyy::keys::{KeyStore, PublicKeys};
use authyy::queue::{LocalQueue, MailQueue};
use authyy::store::sqlite::SqliteStore;
use authyy::AppState;

pub struct Sqlite;

/// The outbox directory, and the local queue the state puts its mail jobs on (drained by the
/// test, not by a background task, so that tests decide when mail goes out).
struct Outbox {
    dir: PathBuf,
    queue: LocalQueue,
    /// Jobs the mailer reported as failed, handed over again first next time.
    retry: Mutex<Vec<String>>,
}

impl Inbox for Outbox {
    fn deliver<'a>(&'a self, state: &'a AppState) -> BoxFut<'a, Vec<String>> {
        Box::pin(async move {
            let mut bodies = std::mem::take(&mut *self.retry.lock().unwrap());
            bodies.extend(self.queue.take_all());
            let messages: Vec<(String, String)> = bodies
                .into_iter()
                .enumerate()
                .map(|(i, body)| (format!("local-{i}"), body))
                .collect();
            let failed = super::mailer_batches(state, &messages).await;
            let failed: Vec<String> = messages
                .into_iter()
                .filter(|(id, _)| failed.contains(id))
                .map(|(_, body)| body)
                .collect();
            self.retry.lock().unwrap().extend(failed.iter().cloned());
            failed
        })
    }

    fn mails_to<'a>(&'a self, to: &'a str) -> BoxFut<'a, Vec<String>> {
        Box::pin(async move {
            outbox_mails(&self.dir)
                .into_iter()
                .filter(|m| m.to == to)
                .map(|m| m.html)
                .collect()
        })
    }
}

/// A mail of the outbox as a MIME parser reads it.
#[derive(Debug)]
pub struct ParsedMail {
    pub from: String,
    pub to: String,
    pub subject: String,
    /// The `Content-Type` of the whole message.
    pub content_type: String,
    pub text: String,
    pub html: String,
}

/// Every `.eml` file in `dir`, oldest first, parsed with a MIME library (not by hand).
pub fn outbox_mails(dir: &std::path::Path) -> Vec<ParsedMail> {
    use mailparse::MailHeaderMap;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|raw| {
            let mail = mailparse::parse_mail(&raw).expect("a MIME message");
            let header = |name| mail.headers.get_first_value(name).unwrap_or_default();
            let part = |mime: &str| {
                mail.subparts
                    .iter()
                    .find(|p| p.ctype.mimetype == mime)
                    .map(|p| p.get_body().expect("a decodable part"))
                    .unwrap_or_default()
            };
            ParsedMail {
                from: header("From"),
                to: header("To"),
                subject: header("Subject"),
                content_type: mail.ctype.mimetype.clone(),
                text: part("text/plain"),
                html: part("text/html"),
            }
        })
        .collect()
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
    fn broken_queue() -> BoxFut<'static, Arc<dyn MailQueue>> {
        // A full queue: it refuses every job.
        Box::pin(async { Arc::new(LocalQueue::with_capacity(0)) as Arc<dyn MailQueue> })
    }

    fn app(mut config: Config) -> BoxFut<'static, TestApp> {
        Box::pin(async move {
            let dir = tempfile::tempdir().unwrap();
            config.sqlite_path = dir.path().join("authyy.sqlite3");
            config.outbox_dir = dir.path().join("outbox");
            let outbox = config.outbox_dir.clone();
            let clock = Arc::new(ManualClock::default());
            seed_keys(&config.sqlite_path).await;
            let keys: Arc<dyn KeyStore> = Arc::new(SqliteStore::open(&config.sqlite_path).unwrap());
            let mut state = AppState::local(config, clock.clone()).await.unwrap();
            let queue = LocalQueue::default();
            state.queue = Arc::new(queue.clone());
            TestApp {
                state,
                clock,
                inbox: Arc::new(Outbox {
                    dir: outbox,
                    queue,
                    retry: Mutex::default(),
                }),
                keys: Some(keys),
                _guard: Box::new(dir),
            }
        })
    }
}
