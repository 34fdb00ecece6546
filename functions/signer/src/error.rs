//! The crate's one error type.

/// Everything that can go wrong before a request is answered: configuration at start-up and
/// loading the signing key. Per-request failures (bad token, bad body) are HTTP responses, not
/// errors. Messages name the variable, secret or file at fault and never carry key material.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A required environment variable is not set (or is empty).
    #[error("{name} is not set: {hint}")]
    MissingVar {
        /// The variable.
        name: &'static str,
        /// What it should hold.
        hint: &'static str,
    },
    /// An environment variable is set to something unusable.
    #[error("{name}: {reason}")]
    InvalidVar {
        /// The variable.
        name: &'static str,
        /// Why the value was refused (the value itself is quoted only when it is not secret).
        reason: String,
    },
    /// A `SESSION_SCOPES` template is not valid.
    #[error("SESSION_SCOPES: template {template:?}: {reason}")]
    InvalidTemplate {
        /// The template as written.
        template: String,
        /// Why it was refused.
        reason: String,
    },
    /// The Secrets Manager secret could not be read or has the wrong shape.
    #[error("signing key secret {secret_id}: {reason}")]
    Secret {
        /// The secret id or ARN (not its value).
        secret_id: String,
        /// What went wrong.
        reason: String,
    },
    /// The signing key file could not be read.
    #[error("signing key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The key material was loaded but cannot be used for signing.
    #[error("signing key for key pair id {key_pair_id:?}: {reason}")]
    InvalidKey {
        /// The key pair id the material claims.
        key_pair_id: String,
        /// What went wrong.
        reason: String,
    },
}

/// Errors from [`crate::Config::from_env`] and [`crate::Config::from_vars`].
pub type ConfigError = Error;

/// Errors from a [`crate::KeySource`].
pub type KeyLoadError = Error;
