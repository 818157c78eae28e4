//! The rotation function's runtime: Secrets Manager invokes it with one step of its four-step
//! rotation protocol at a time, on the schedule of the template's `RotationSchedule` (and once
//! when the stack is created, which makes the first keys). The steps themselves:
//! [`crate::keys::secrets_manager::rotation_step`].

use std::time::Duration;

use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::service_fn;

use super::init_tracing;
use crate::aws::AwsSettings;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Env};
use crate::keys::lifecycle::min_published;
use crate::keys::secrets_manager::{rotation_step, RotationEvent, SecretsManagerKeys};

/// Runs the rotation function: AUTH_PUBLIC_KEYS_SECRET_ID names the public set it keeps in
/// step; AUTH_KEY_CACHE_SECONDS (the API functions' key cache) and AUTH_ACCESS_TTL_SECONDS set
/// how long a new key must be published before it signs.
pub async fn run() -> Result<(), lambda_http::Error> {
    init_tracing();
    let env = Env::from_process();
    let public_id = env
        .get("AUTH_PUBLIC_KEYS_SECRET_ID")
        .ok_or("AUTH_PUBLIC_KEYS_SECRET_ID is required: the secret of the public key set")?
        .to_string();
    let key_cache = Duration::from_secs(env.parse("AUTH_KEY_CACHE_SECONDS")?.unwrap_or(300));
    let min_published = min_published(key_cache, Config::from_env(&env)?.access_ttl);
    let settings = AwsSettings::new("", "", public_id.clone());
    let client = aws_sdk_secretsmanager::Client::new(&crate::aws::sdk_config(&settings).await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<RotationEvent>| {
        let keys =
            SecretsManagerKeys::new(client.clone(), event.payload.secret_id.clone(), public_id.clone());
        async move {
            let step = event.payload.step.clone();
            let result = rotation_step(&keys, &event.payload, SystemClock.now(), min_published).await;
            match result {
                Ok(()) => {
                    tracing::info!(step, "rotation step done");
                    Ok(())
                }
                Err(e) => {
                    tracing::error!(step, error = %e, "rotation step failed");
                    Err(lambda_http::Error::from(e.to_string()))
                }
            }
        }
    }))
    .await
}
