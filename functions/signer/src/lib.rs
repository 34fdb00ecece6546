//! The signer Lambda: `POST`, `DELETE` and `GET /session`, and `GET /session/bridge`.
//!
//! A verified bearer token (Cognito or any OIDC issuer, checked by `keyhole-token`) becomes one
//! CloudFront signed-cookie set per scope (`keyhole-core` signs them), each with `Path` = the
//! scope's prefix, plus a small marker cookie at `Path=/session` that lets `DELETE` clear every
//! set and `GET` say until when the session lasts (see [`marker`]).
//!
//! Layout: [`Config`] is read once at cold start; [`AppState`] holds it, the token verifier and
//! the signing key (loaded through a [`KeySource`], retried while it fails); [`handle`] answers one
//! request and is called both by the Lambda entry point and in-process by `keyhole serve`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod config;
mod error;
mod handler;
mod keys;
pub mod marker;
pub mod scope;
mod state;

pub use config::{
    Config, DEFAULT_SCOPES, DEFAULT_TTL_SECONDS, KeySetting, MAX_TTL_SECONDS, MIN_TTL_SECONDS,
};
pub use error::{ConfigError, Error, KeyLoadError};
pub use handler::{MAX_BODY_BYTES, MAX_RETURN_PATH, TOKEN_COOKIE, handle};
pub use keys::{
    BoxFuture, FileKeySource, KeySource, SecretsManagerKeySource, SigningMaterial, StaticKeySource,
    key_source_from_config,
};
pub use state::{AppState, Clock, KEY_RETRY_SECONDS, SystemClock};
