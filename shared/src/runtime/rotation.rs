//! The rotation function's runtime: Secrets Manager invokes it with one step of its four-step
//! rotation protocol at a time, on the schedule of the template's `RotationSchedule` (and once
//! when the stack is created, which makes the first keys). The steps themselves:
//! [`crate::keys::secrets_manager::rotation_step`].

use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::service_fn;

use super::init_tracing;
use crate::clock::{Clock, SystemClock};
use crate::config::{AwsSettings, Env, RotationSettings};
use crate::keys::lifecycle::min_published;
use crate::keys::secrets_manager::{rotation_step, RotationEvent, SecretsManagerKeys};

/// Runs the rotation function ([`RotationSettings`]: the public set it keeps in step, and how
/// long a new key must be published before it signs).
pub async fn run() -> Result<(), lambda_http::Error> {
    init_tracing();
    let rotation = RotationSettings::from_env(&Env::from_process())?;
    let public_id = rotation.public_keys_secret_id;
    let min_published = min_published(rotation.timing.key_cache, rotation.timing.access_ttl);
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
