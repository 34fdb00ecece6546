//! The signer Lambda's entry point: read the configuration, build the state once, serve.

use std::sync::Arc;

use anyhow::Context as _;
use keyhole_signer::{AppState, Config, MAX_TTL_SECONDS, handle, key_source_from_config};
use keyhole_token::{TokenConfig, TokenVerifier};
use lambda_http::{run, service_fn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL, as the function's LoggingConfig sets them.
    keyhole_lambda_log::init()?;
    // anyhow prints the Display form, which names the variable at fault.
    let config = Config::from_env().context("invalid signer configuration")?;
    let tokens = TokenConfig::from_env()
        .and_then(TokenVerifier::from_config)
        .context("invalid token configuration")?;
    // `Config::from_env` never yields a provided key: the Lambda always names its own.
    let keys = key_source_from_config(&config)
        .await
        .context("the signer Lambda needs SIGNING_KEY_SECRET_ID or SIGNING_KEY_FILE")?;
    let revocations = config.revocation_kvs_arn.clone();
    let mut state = AppState::new(config, keys, tokens).await;
    if let Some(arn) = revocations {
        let store = Arc::new(keyhole_revoke::KvsStore::from_env(arn).await);
        state = state.with_revoker(keyhole_revoke::Revoker::new(store, MAX_TTL_SECONDS));
    }
    let state = Arc::new(state);
    run(service_fn(move |req| {
        let state = state.clone();
        async move { handle(&state, req).await }
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
