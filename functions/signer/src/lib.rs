//! The signer Lambda: `POST`, `DELETE` and `GET /session`, and `GET /session/bridge`.
//!
//! A verified bearer token (Cognito or any OIDC issuer, checked by `keyhole-token`) becomes one
//! CloudFront signed-cookie set per scope (`keyhole-core` signs them), each with `Path` = the
//! scope's prefix, plus a small marker cookie at `Path=/session` that lets `DELETE` clear every
//! set and `GET` say until when the session lasts (see [`marker`]).
//!
//! Where things are: [`Config`] is read once at cold start (`config.rs`); [`AppState`] holds it,
//! the token verifier and the signing key, loaded through a [`KeySource`] and retried while it
//! fails (`state.rs`, `keys.rs`; the Secrets Manager adapter is `aws.rs`). [`handle`] and the
//! endpoints are in `endpoints.rs`; what is read from a request in `request.rs`; issuing and every
//! `Set-Cookie` in `session.rs`; failures become HTTP in `failure.rs`; responses are finished in
//! `reply.rs` (CORS in `cors.rs`). `handle` is called both by the Lambda entry point and
//! in-process by `keyhole serve`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod aws;
mod config;
mod cors;
mod endpoints;
mod error;
mod failure;
pub mod fuzzing;
mod keys;
pub mod marker;
mod reply;
mod request;
pub mod scope;
mod session;
mod state;

pub use aws::SecretsManagerKeySource;
pub use config::{
    Config, DEFAULT_SCOPES, DEFAULT_TTL_SECONDS, KeySetting, MAX_TTL_SECONDS, MIN_TTL_SECONDS,
};
pub use endpoints::handle;
pub use error::{ConfigError, Error, KeyLoadError};
pub use keys::{
    BoxFuture, FileKeySource, KeySource, SigningMaterial, StaticKeySource, key_source_from_config,
    parse_secret_json,
};
pub use request::{MAX_BODY_BYTES, MAX_RETURN_PATH, TOKEN_COOKIE};
pub use state::{AppState, KEY_RETRY_SECONDS, PRUNE_INTERVAL_SECONDS};
