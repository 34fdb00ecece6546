//! Lambda entry point of the key-setup custom resource: build the clients once, then for each
//! CloudFormation request carry it out and PUT the answer to its response URL.

use keyhole_key_setup::aws::{CloudFrontApi, SecretsManagerStore};
use keyhole_key_setup::{process, respond};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    keyhole_lambda_log::init()?;
    let config = aws_config::load_from_env().await;
    let keys = CloudFrontApi::new(aws_sdk_cloudfront::Client::new(&config));
    let secrets = SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&config));
    let http = reqwest::Client::new();
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (keys, secrets, http) = (&keys, &secrets, &http);
        async move {
            let (req, resp) = process(event.payload, keys, secrets).await?;
            respond::send(http, &req.response_url, &resp).await?;
            Ok::<_, Error>(serde_json::json!({"Status": resp.status}))
        }
    }))
    .await
}
