//! The signer Lambda's entry point: read the configuration, build the state once, serve.

use std::sync::Arc;

use keyhole_signer::{AppState, Config, handle, key_source_from_config};
use keyhole_token::{TokenConfig, TokenVerifier};
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON lines for CloudWatch; level from RUST_LOG, default info.
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .init();
    let config = Config::from_env()?;
    let tokens = TokenVerifier::from_config(TokenConfig::from_env()?)?;
    let keys = key_source_from_config(&config).await;
    let state = Arc::new(AppState::new(config, keys, tokens).await);
    run(service_fn(move |req| {
        let state = state.clone();
        async move { handle(&state, req).await }
    }))
    .await
}
