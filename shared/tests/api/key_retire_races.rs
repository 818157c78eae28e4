//! `keys retire` racing a rotation (`keys rotate`, or the scheduled rotation's four steps on
//! AWS), on both backends: the racing operation runs, whole, between two store calls of the
//! other, at every such point in turn, and whatever the interleaving a retired key is never
//! published again nor back in the lifecycle. Also true concurrency (several writers at once,
//! each with its own connection or client), and a stale copy of the public set written back.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use authyy::clock::{Clock, SystemClock};
use authyy::config::AwsSettings;
use authyy::keys::secrets_manager::{rotation_step, RotationEvent, SecretsManagerKeys};
use authyy::keys::{rotation, KeyError, KeyStore, LifecycleError, PrivateKeys, PublicKeys, Version};
use authyy::store::sqlite::SqliteStore;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_types::config_bag::ConfigBag;

use crate::helpers::dynamo::{create_key_secrets, moto_url, sdk_config, unique};
use crate::helpers::sqlite::seed_keys;
use crate::helpers::test_keys;

type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One backend's key store, opened anew for each writer (its own connection or client).
#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    SecretsManager,
}

/// The suite's keys in a fresh file or pair of secrets, and a way to open them again.
struct Keys {
    backend: Backend,
    path: std::path::PathBuf,
    settings: AwsSettings,
    _dir: Option<tempfile::TempDir>,
}

impl Keys {
    async fn new(backend: Backend) -> Keys {
        let mut settings =
            AwsSettings::new("", unique("authyy-race-keys"), unique("authyy-race-public-keys"));
        // The interleaved writer runs inside another writer's SDK call: its clock keeps going.
        settings.attempt_timeout = Duration::from_secs(60);
        settings.operation_timeout = Duration::from_secs(120);
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("authyy.sqlite3");
                seed_keys(&path).await;
                Keys {
                    backend,
                    path,
                    settings,
                    _dir: Some(dir),
                }
            }
            Backend::SecretsManager => {
                let sdk = sdk_config(&moto_url(), &settings).await;
                create_key_secrets(&sdk, &settings, test_keys()).await;
                Keys {
                    backend,
                    path: Default::default(),
                    settings,
                    _dir: None,
                }
            }
        }
    }

    /// A store of its own (a new SQLite connection, a new Secrets Manager client).
    async fn open(&self) -> Arc<dyn KeyStore> {
        match self.backend {
            Backend::Sqlite => Arc::new(SqliteStore::open(&self.path).unwrap()),
            Backend::SecretsManager => Arc::new(self.secrets_manager(None).await),
        }
    }

    /// The Secrets Manager store, its client with `interceptor` if given.
    async fn secrets_manager(&self, interceptor: Option<Between>) -> SecretsManagerKeys {
        let sdk = sdk_config(&moto_url(), &self.settings).await;
        let mut conf = aws_sdk_secretsmanager::config::Builder::from(&sdk);
        if let Some(i) = interceptor {
            conf = conf.interceptor(i);
        }
        SecretsManagerKeys::new(
            aws_sdk_secretsmanager::Client::from_conf(conf.build()),
            self.settings.signing_secret_id.clone(),
            self.settings.public_keys_secret_id.clone(),
        )
    }
}

/// What the racing operation does, run whole at one point of the other.
type Racer = Box<dyn FnOnce() -> BoxFut<()> + Send>;

/// A key store that runs a racer just before its `at`th call (counting from 1).
struct Interleaved {
    inner: Arc<dyn KeyStore>,
    calls: AtomicUsize,
    at: usize,
    racer: Mutex<Option<Racer>>,
    raced: AtomicBool,
}

impl Interleaved {
    fn new(inner: Arc<dyn KeyStore>, at: usize, racer: Racer) -> Interleaved {
        Interleaved {
            inner,
            calls: AtomicUsize::new(0),
            at,
            racer: Mutex::new(Some(racer)),
            raced: AtomicBool::new(false),
        }
    }

    async fn call(&self) {
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.at {
            let racer = self.racer.lock().unwrap().take();
            if let Some(racer) = racer {
                racer().await;
                self.raced.store(true, Ordering::SeqCst);
            }
        }
    }
}

#[async_trait]
impl KeyStore for Interleaved {
    async fn load(&self) -> Result<PrivateKeys, KeyError> {
        self.call().await;
        self.inner.load().await
    }
    async fn save(&self, keys: &PrivateKeys) -> Result<(), KeyError> {
        self.call().await;
        self.inner.save(keys).await
    }
    async fn load_public(&self) -> Result<PublicKeys, KeyError> {
        self.call().await;
        self.inner.load_public().await
    }
    async fn publish(&self, keys: &PublicKeys) -> Result<(), KeyError> {
        self.call().await;
        self.inner.publish(keys).await
    }
    async fn load_versioned(&self) -> Result<(PrivateKeys, Version), KeyError> {
        self.call().await;
        self.inner.load_versioned().await
    }
    async fn save_if(&self, keys: &PrivateKeys, read: &Version) -> Result<(), KeyError> {
        self.call().await;
        self.inner.save_if(keys, read).await
    }
    async fn load_public_versioned(&self) -> Result<(PublicKeys, Version), KeyError> {
        self.call().await;
        self.inner.load_public_versioned().await
    }
    async fn publish_if(&self, keys: &PublicKeys, read: &Version) -> Result<(), KeyError> {
        self.call().await;
        self.inner.publish_if(keys, read).await
    }
}

/// An SDK interceptor that runs a racer, on a thread and runtime of its own, just before the
/// `at`th call of its client (the call waits for it).
#[derive(Clone)]
struct Between(Arc<BetweenState>);

struct BetweenState {
    calls: AtomicUsize,
    at: usize,
    racer: Mutex<Option<Racer>>,
    raced: AtomicBool,
}

impl std::fmt::Debug for Between {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Between")
    }
}

impl Intercept for Between {
    fn name(&self) -> &'static str {
        "Between"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.0.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.0.at {
            let racer = self.0.racer.lock().unwrap().take();
            if let Some(racer) = racer {
                std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(racer())
                })
                .join()
                .unwrap();
                self.0.raced.store(true, Ordering::SeqCst);
            }
        }
        Ok(())
    }
}

/// Which key the racing retire takes.
#[derive(Clone, Copy, Debug)]
enum Pick {
    /// The current key of the keys the case starts with.
    Current,
    /// The next key of the keys the case starts with.
    Next,
    /// A key published at the racer's moment but not in the lifecycle then (a rotation's new
    /// key, published before it is saved); nothing is retired if there is none.
    Published,
}

fn start_kid(pick: Pick) -> Option<String> {
    let l = test_keys().lifecycle().unwrap();
    match pick {
        Pick::Current => Some(l.current.kid().to_string()),
        Pick::Next => Some(l.next.kid().to_string()),
        Pick::Published => None,
    }
}

/// The kid `pick` names now.
async fn pick_kid(store: &dyn KeyStore, pick: Pick) -> Option<String> {
    match start_kid(pick) {
        Some(kid) => Some(kid),
        None => {
            let private = store.load().await.unwrap();
            let public = store.load_public().await.unwrap();
            rotation::published_outside_lifecycle(&private, &public).pop()
        }
    }
}

/// One instant for every operation of the run: a key a racer makes is never "published in the
/// future" for the operation it interrupts.
fn now() -> i64 {
    static NOW: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *NOW.get_or_init(|| SystemClock.now())
}

/// A racer that retires the key `pick` names (at the racer's moment), through a store of its
/// own; the kid it retired goes to `retired`.
fn retire_racer(keys: Arc<Keys>, pick: Pick, retired: Arc<Mutex<Option<String>>>) -> Racer {
    Box::new(move || {
        Box::pin(async move {
            let store = keys.open().await;
            if let Some(kid) = pick_kid(store.as_ref(), pick).await {
                rotation::retire(store.as_ref(), &kid, now())
                    .await
                    .unwrap_or_else(|e| panic!("the racing retire of {kid}: {e}"));
                *retired.lock().unwrap() = Some(kid);
            }
        })
    })
}

/// Runs `case` for each of `picks` at once (each on fresh keys of its own).
async fn for_each<F, Fut>(picks: &[Pick], case: F)
where
    F: Fn(Pick) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = picks.iter().map(|&pick| tokio::spawn(case(pick))).collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// The retired key is in neither set, is recorded as retired, and what signs is published.
async fn assert_retired_for_good(store: &dyn KeyStore, kid: &str, case: &str) {
    let private = store.load().await.unwrap();
    let public = store.load_public().await.unwrap();
    let lifecycle = private.lifecycle().unwrap();
    assert!(
        lifecycle.keys().iter().all(|(_, k)| k.kid() != kid),
        "{case}: the retired key {kid} is back in the lifecycle"
    );
    assert!(
        public.decoding(kid).is_none(),
        "{case}: the retired key {kid} is published again: {public:?}"
    );
    assert!(public.is_retired(kid), "{case}: {kid} is not recorded as retired");
    for (state, key) in lifecycle.keys() {
        assert!(
            public.decoding(key.kid()).is_some(),
            "{case}: the {} key is not published",
            state.as_str()
        );
    }
}

/// `keys rotate` with a `keys retire` run whole before each of its store calls in turn.
async fn a_retire_racing_a_rotation_never_lets_the_rotation_publish_the_retired_key(backend: Backend) {
    for_each(&[Pick::Current, Pick::Next, Pick::Published], |pick| async move {
        for at in 1.. {
            let keys = Arc::new(Keys::new(backend).await);
            let retired = Arc::new(Mutex::new(None));
            let store = Interleaved::new(
                keys.open().await,
                at,
                retire_racer(keys.clone(), pick, retired.clone()),
            );
            let case = format!("{backend:?}, retire {pick:?} before call {at} of a rotation");
            rotation::rotate(&store, now(), Duration::ZERO)
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            if !store.raced.load(Ordering::SeqCst) {
                break; // the rotation made fewer calls: every point was tried
            }
            let kid = retired.lock().unwrap().clone();
            if let Some(kid) = kid {
                assert_retired_for_good(keys.open().await.as_ref(), &kid, &case).await;
            }
        }
    })
    .await;
}

/// `keys retire` with a `keys rotate` run whole before each of its store calls in turn.
async fn a_rotation_racing_a_retire_never_brings_the_retired_key_back(backend: Backend) {
    for_each(&[Pick::Current, Pick::Next], |pick| async move {
        let kid = start_kid(pick).unwrap();
        for at in 1.. {
            let keys = Arc::new(Keys::new(backend).await);
            let rotated = Arc::new(Mutex::new(None));
            let racer: Racer = {
                let (keys, rotated) = (keys.clone(), rotated.clone());
                Box::new(move || {
                    Box::pin(async move {
                        let store = keys.open().await;
                        let r = rotation::rotate(store.as_ref(), now(), Duration::ZERO).await;
                        *rotated.lock().unwrap() = Some(r.map(drop).map_err(|e| e.to_string()));
                    })
                })
            };
            let store = Interleaved::new(keys.open().await, at, racer);
            let case = format!("{backend:?}, rotate before call {at} of the retire of {pick:?}");
            rotation::retire(&store, &kid, now())
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            if !store.raced.load(Ordering::SeqCst) {
                break;
            }
            // Between the retire's publication and its save, a rotation is refused (it would
            // build on a retired key); anywhere else it goes through.
            if let Some(Err(e)) = rotated.lock().unwrap().as_ref() {
                assert!(e.contains("is retired"), "{case}: {e}");
            }
            assert_retired_for_good(keys.open().await.as_ref(), &kid, &case).await;
        }
    })
    .await;
}

/// Writers at once, each with its own connection or client: rotations, and retires of
/// whatever key is current when each reads. No retired key survives anywhere.
async fn concurrent_rotations_and_retires_never_publish_a_retired_key(backend: Backend) {
    let keys = Arc::new(Keys::new(backend).await);
    let retired = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for writer in 0..4 {
        let (keys, retired) = (keys.clone(), retired.clone());
        tasks.push(tokio::spawn(async move {
            let store = keys.open().await;
            for _ in 0..3 {
                if writer % 2 == 0 {
                    match rotation::rotate(store.as_ref(), now(), Duration::ZERO).await {
                        Ok(_) | Err(LifecycleError::RetiredKeyInUse(_)) => {}
                        Err(e) => panic!("rotate: {e}"),
                    }
                } else {
                    let kid = store
                        .load()
                        .await
                        .unwrap()
                        .signing_key()
                        .unwrap()
                        .kid()
                        .to_string();
                    match rotation::retire(store.as_ref(), &kid, now()).await {
                        Ok(_) => retired.lock().unwrap().push(kid),
                        // Rotated out of the lifecycle and unpublished since it was read.
                        Err(LifecycleError::UnknownKid(_)) => {}
                        Err(e) => panic!("retire {kid}: {e}"),
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let store = keys.open().await;
    let retired = retired.lock().unwrap().clone();
    assert!(!retired.is_empty());
    for kid in &retired {
        assert_retired_for_good(store.as_ref(), kid, &format!("{backend:?}, concurrent writers")).await;
    }
}

/// A writer holding the public set as it was before a retire cannot put the key back: a write
/// conditional on that old version fails, and an unconditional one keeps the record.
async fn a_stale_copy_of_the_public_set_cannot_publish_a_retired_key(backend: Backend) {
    let keys = Keys::new(backend).await;
    let store = keys.open().await;
    let (stale, stale_version) = store.load_public_versioned().await.unwrap();
    let kid = start_kid(Pick::Current).unwrap();
    assert!(stale.decoding(&kid).is_some());
    rotation::retire(store.as_ref(), &kid, now()).await.unwrap();
    assert!(matches!(
        store.publish_if(&stale, &stale_version).await,
        Err(KeyError::Conflict(_))
    ));
    store.publish(&stale).await.unwrap();
    let case = format!("{backend:?}, stale copy");
    let public = store.load_public().await.unwrap();
    assert!(public.decoding(&kid).is_none(), "{case}: {public:?}");
    assert!(public.is_retired(&kid), "{case}");
    // The stale copy put back the other keys, so republish trims to the lifecycle.
    rotation::republish(store.as_ref()).await.unwrap();
    assert_retired_for_good(store.as_ref(), &kid, &case).await;
}

mod sqlite {
    use super::Backend::Sqlite;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_retire_racing_a_rotation_never_lets_the_rotation_publish_the_retired_key() {
        super::a_retire_racing_a_rotation_never_lets_the_rotation_publish_the_retired_key(Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rotation_racing_a_retire_never_brings_the_retired_key_back() {
        super::a_rotation_racing_a_retire_never_brings_the_retired_key_back(Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_rotations_and_retires_never_publish_a_retired_key() {
        super::concurrent_rotations_and_retires_never_publish_a_retired_key(Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stale_copy_of_the_public_set_cannot_publish_a_retired_key() {
        super::a_stale_copy_of_the_public_set_cannot_publish_a_retired_key(Sqlite).await;
    }
}

mod secrets_manager {
    use super::Backend::SecretsManager;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_retire_racing_a_rotation_never_lets_the_rotation_publish_the_retired_key() {
        super::a_retire_racing_a_rotation_never_lets_the_rotation_publish_the_retired_key(SecretsManager)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rotation_racing_a_retire_never_brings_the_retired_key_back() {
        super::a_rotation_racing_a_retire_never_brings_the_retired_key_back(SecretsManager).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_rotations_and_retires_never_publish_a_retired_key() {
        super::concurrent_rotations_and_retires_never_publish_a_retired_key(SecretsManager).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stale_copy_of_the_public_set_cannot_publish_a_retired_key() {
        super::a_stale_copy_of_the_public_set_cannot_publish_a_retired_key(SecretsManager).await;
    }

    // Up to three workers wait at once, each for its racer's own thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_retire_racing_the_scheduled_rotation_never_lets_it_publish_the_retired_key() {
        super::a_retire_racing_the_scheduled_rotation_never_lets_it_publish_the_retired_key().await;
    }
}

/// The rotation function's four steps, each once as Secrets Manager runs them (stopping at the
/// first that fails, as Secrets Manager does), on a client that runs a racer before its `at`th
/// call. Then the next scheduled rotation.
async fn scheduled_rotation(keys: &Keys, interceptor: Option<Between>) -> Result<(), String> {
    let store = keys.secrets_manager(interceptor).await;
    let token = format!("{}{}", authyy::randomness::new_id(), authyy::randomness::new_id());
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let event = RotationEvent {
            secret_id: keys.settings.signing_secret_id.clone(),
            client_request_token: token.clone(),
            step: step.into(),
        };
        rotation_step(&store, &event, now(), Duration::ZERO)
            .await
            .map_err(|e| format!("{step}: {e}"))?;
    }
    Ok(())
}

/// The scheduled rotation (Secrets Manager's four steps) with a `keys retire` run whole before
/// each of its Secrets Manager calls in turn: at every point, the rotation either completes or
/// is abandoned, and in either case the retired key stays unpublished, as it does through the
/// next scheduled rotation.
async fn a_retire_racing_the_scheduled_rotation_never_lets_it_publish_the_retired_key() {
    for_each(&[Pick::Current, Pick::Next, Pick::Published], |pick| async move {
        for at in 1.. {
            let keys = Arc::new(Keys::new(Backend::SecretsManager).await);
            let retired = Arc::new(Mutex::new(None));
            let between = Between(Arc::new(BetweenState {
                calls: AtomicUsize::new(0),
                at,
                racer: Mutex::new(Some(retire_racer(keys.clone(), pick, retired.clone()))),
                raced: AtomicBool::new(false),
            }));
            let case = format!("retire {pick:?} before call {at} of the scheduled rotation");
            let outcome = scheduled_rotation(&keys, Some(between.clone())).await;
            if !between.0.raced.load(Ordering::SeqCst) {
                outcome.unwrap_or_else(|e| panic!("{case}, not raced: {e}"));
                break;
            }
            if let Err(e) = &outcome {
                assert!(
                    e.contains("changed since this rotation began") || e.contains("is retired"),
                    "{case}: {e}"
                );
            }
            let kid = retired.lock().unwrap().clone();
            let Some(kid) = kid else { continue };
            let store = keys.open().await;
            assert_retired_for_good(store.as_ref(), &kid, &case).await;
            scheduled_rotation(&keys, None)
                .await
                .unwrap_or_else(|e| panic!("{case}: the next rotation: {e}"));
            assert_retired_for_good(store.as_ref(), &kid, &format!("{case}, then the next rotation")).await;
        }
    })
    .await;
}
