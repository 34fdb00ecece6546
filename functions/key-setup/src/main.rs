//! Lambda entry point of the key-setup custom resource and of the signing key's rotation: build
//! the clients once, then answer each CloudFormation request (PUT to its response URL) or run
//! each Secrets Manager rotation step (a failed step fails the invocation).

use keyhole_core::{Clock, SystemClock, Vars};
use keyhole_key_setup::aws::{CloudFrontApi, SecretsManagerStore};
use keyhole_key_setup::{RotationEvent, handle_rotation, process, respond, rotation_config};
use keyhole_rotation::aws::{CloudFrontKeys, SecretsManagerApi};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    keyhole_lambda_log::init()?;
    let config = aws_config::load_from_env().await;
    let cloudfront = aws_sdk_cloudfront::Client::new(&config);
    let secretsmanager = aws_sdk_secretsmanager::Client::new(&config);
    let keys = CloudFrontApi::new(cloudfront.clone());
    let secrets = SecretsManagerStore::new(secretsmanager.clone());
    let rotation_keys = CloudFrontKeys::new(cloudfront);
    let rotation_secrets = SecretsManagerApi::new(secretsmanager);
    let http = reqwest::Client::new();
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (keys, secrets, http) = (&keys, &secrets, &http);
        let (rotation_keys, rotation_secrets) = (&rotation_keys, &rotation_secrets);
        async move {
            if RotationEvent::is_rotation(&event.payload) {
                let rotation = RotationEvent::from_json(&event.payload)?;
                let get = |name: &str| std::env::var(name).ok();
                let config = rotation_config(&Vars::new(&get))?;
                let outcome = handle_rotation(
                    &rotation,
                    &config,
                    rotation_secrets,
                    rotation_keys,
                    SystemClock.now(),
                )
                .await?;
                return Ok::<_, Error>(
                    serde_json::json!({"step": rotation.step.name(), "changed": outcome.changed}),
                );
            }
            let (req, resp) = process(event.payload, keys, secrets).await?;
            respond::send(http, &req.response_url, &resp).await?;
            Ok::<_, Error>(serde_json::json!({"Status": resp.status}))
        }
    }))
    .await
}
