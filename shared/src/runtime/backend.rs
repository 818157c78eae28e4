//! Building the state the environment describes: local mode (SQLite, `.eml` outbox, an
//! in-process mail queue, keys in the SQLite file) or the AWS backend (DynamoDB, SES, SQS, two
//! Secrets Manager secrets).

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;

use super::BoxError;
use crate::aws::LazyClient;
use crate::clock::{Clock, SystemClock};
use crate::config::{AwsSettings, BackendKind, Config, ConfigError, Env};
use crate::federation::Federation;
use crate::hashing::Hasher;
use crate::hooks::{Hooks, LambdaAccess};
use crate::keys::secrets_manager::SecretsManagerKeys;
use crate::keys::{CachedKeys, KeyStore};
use crate::mail::{FileOutbox, MailTransport, Sender, SesTransport};
use crate::queue::{LocalQueue, MailQueue, SqsQueue};
use crate::state::AppState;
use crate::store::dynamo::DynamoStore;
use crate::store::sqlite::SqliteStore;
use crate::store::Store;
use crate::tokens::TokenIssuer;

/// Local keys are read again this often, so `authyy-admin keys rotate | retire` reaches
/// running functions without a restart.
const LOCAL_KEY_CACHE: Duration = Duration::from_secs(10);

fn assemble(
    config: Config,
    store: Arc<impl Store + 'static>,
    mail_transport: Arc<dyn MailTransport>,
    queue: Arc<dyn MailQueue>,
    keys: Arc<dyn KeyStore>,
    key_cache: Duration,
    clock: Arc<dyn Clock>,
) -> Result<AppState, BoxError> {
    // Local mode reads no Secrets Manager secret: its providers give `client_secret`.
    let federation = Arc::new(Federation::new(config.oauth_providers.clone(), None));
    // Local mode's Lambda hooks run under the emulator, which serves the Invoke API.
    let hooks = Arc::new(Hooks::new(
        config.hooks.clone(),
        LambdaAccess::Local(config.hooks.local_lambda_endpoint.clone()),
    ));
    let config = Arc::new(config);
    let private = CachedKeys::private(keys.clone(), Some(key_cache), clock.clone());
    let public = CachedKeys::public(keys, Some(key_cache), clock.clone());
    Ok(AppState {
        hasher: Hasher::new(config.hash_cost)?,
        tokens: Arc::new(TokenIssuer::new(private, public, config.clone(), clock.clone())),
        config,
        users: store.clone(),
        sessions: store.clone(),
        resets: store.clone(),
        verifications: store.clone(),
        mail_requests: store.clone(),
        accounts: store.clone(),
        mfa: store.clone(),
        passkeys: store.clone(),
        identities: store.clone(),
        federation,
        hooks,
        audit: store.clone(),
        devices: store.clone(),
        throttle: store,
        mail_transport,
        queue,
        clock,
    })
}

/// The sender of every mail, checked at start: a bad `AUTH_MAIL_FROM` stops the function now,
/// not every mail later.
fn sender(config: &Config) -> Result<Sender, ConfigError> {
    Sender::new(&config.mail_sender_name, &config.mail_from).map_err(|e| ConfigError::Invalid {
        name: "AUTH_MAIL_FROM",
        reason: e.to_string(),
    })
}

impl AppState {
    /// The state of local mode: SQLite file, file outbox, keys in the file. The keys are read
    /// (and, the first time, generated) now, so a broken key store stops the function at start.
    /// Its mail queue is a [`LocalQueue`] that nothing drains: [`AppState::from_env`] starts the
    /// task that does (tests drain it themselves).
    pub async fn local(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, BoxError> {
        let store = Arc::new(SqliteStore::open(&config.sqlite_path)?);
        store.load_public().await?;
        let mail_transport = Arc::new(FileOutbox {
            dir: config.outbox_dir.clone(),
            from: sender(&config)?,
        });
        let queue = Arc::new(LocalQueue::default());
        assemble(
            config,
            store.clone(),
            mail_transport,
            queue,
            store,
            LOCAL_KEY_CACHE,
            clock,
        )
    }

    /// The state of production: DynamoDB, SES, SQS and Secrets Manager, from one SDK configuration.
    /// Each key set is read on first use, so functions that sign nothing never read the private
    /// keys, and functions that verify nothing never read either.
    pub fn aws(
        config: Config,
        settings: &AwsSettings,
        sdk: &SdkConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<AppState, BoxError> {
        let store = Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            settings.table_name.clone(),
        ));
        // Only DynamoDB's client is built now: each other one on its first use.
        let mail_transport = Arc::new(SesTransport::new(
            LazyClient::new(sdk, aws_sdk_sesv2::Client::new),
            &sender(&config)?,
            settings.configuration_set.clone(),
        ));
        let queue = Arc::new(SqsQueue::new(
            LazyClient::new(sdk, aws_sdk_sqs::Client::new),
            settings.mail_queue_url.clone(),
        ));
        let secrets = LazyClient::new(sdk, aws_sdk_secretsmanager::Client::new);
        let keys = Arc::new(SecretsManagerKeys::new(
            secrets.clone(),
            settings.signing_secret_id.clone(),
            settings.public_keys_secret_id.clone(),
        ));
        let mut state = assemble(
            config,
            store,
            mail_transport,
            queue,
            keys,
            settings.key_cache,
            clock,
        )?;
        // The providers' `client_secret_ref` secrets are read through the same client.
        state.federation = Arc::new(Federation::new(
            state.config.oauth_providers.clone(),
            Some(secrets),
        ));
        // Lambda hooks are invoked with the function's own credentials and region.
        state.hooks = Arc::new(Hooks::new(
            state.config.hooks.clone(),
            LambdaAccess::Aws(Box::new(sdk.clone())),
        ));
        Ok(state)
    }

    /// The state the environment describes (its backend: [`BackendKind::from_env`]). In local mode a task
    /// of this process delivers the mail it queues, a moment after the answer.
    pub async fn from_env() -> Result<AppState, BoxError> {
        let env = Env::from_process();
        let config = Config::from_env(&env)?;
        match BackendKind::from_env(&env)? {
            BackendKind::Local => {
                let mut state = AppState::local(config, Arc::new(SystemClock)).await?;
                let queue = LocalQueue::default();
                state.queue = Arc::new(queue.clone());
                super::mailer::spawn_local(state.clone(), queue);
                Ok(state)
            }
            BackendKind::Aws => {
                let settings = AwsSettings::from_env(&env)?;
                let sdk = crate::aws::sdk_config(&settings).await;
                if sdk.region().is_none() {
                    return Err("AWS_REGION is required with AUTH_BACKEND=aws".into());
                }
                AppState::aws(config, &settings, &sdk, Arc::new(SystemClock))
            }
        }
    }
}
