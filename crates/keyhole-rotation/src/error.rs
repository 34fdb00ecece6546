//! Everything a rotation step can fail with. Messages never carry key material.

/// Why a rotation step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The event's `Step` is not one of the four.
    #[error(
        "unknown rotation step {0:?}: expected createSecret, setSecret, testSecret or finishSecret"
    )]
    UnknownStep(String),
    /// Secrets Manager rotation is not enabled on the secret (a stray or replayed event).
    #[error("rotation is not enabled on secret {0}")]
    RotationDisabled(String),
    /// The token names no version of the secret.
    #[error("secret {secret} has no version {token}: not a rotation this secret knows")]
    UnknownToken {
        /// The secret.
        secret: String,
        /// The `ClientRequestToken`.
        token: String,
    },
    /// The token's version is neither pending nor current.
    #[error("version {token} of secret {secret} is not AWSPENDING: it is not being rotated to")]
    NotPending {
        /// The secret.
        secret: String,
        /// The `ClientRequestToken`.
        token: String,
    },
    /// Another version already holds `AWSPENDING`: a rotation is in progress.
    #[error(
        "a rotation is already in progress on secret {secret}: version {version} holds AWSPENDING \
         (resume it with that token, or remove the label)"
    )]
    InProgress {
        /// The secret.
        secret: String,
        /// The version holding `AWSPENDING`.
        version: String,
    },
    /// A step ran before the step it depends on.
    #[error("{step} cannot run yet: {reason}")]
    OutOfOrder {
        /// The step asked for.
        step: &'static str,
        /// What is missing.
        reason: String,
    },
    /// A secret version's value is not the key JSON.
    #[error("secret {secret} version {version}: {reason}")]
    BadSecret {
        /// The secret.
        secret: String,
        /// The version (or stage) read.
        version: String,
        /// What is wrong, never the value.
        reason: String,
    },
    /// The key group has no room for the new key.
    #[error("{0}")]
    GroupFull(String),
    /// testSecret found that CloudFront would not accept the pending key.
    #[error("testSecret: {0}")]
    TestFailed(String),
    /// A key could not be generated or parsed.
    #[error("key: {0}")]
    Key(String),
    /// The CloudFront resource does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// CloudFront refused an `If-Match` that is no longer current (someone else changed it).
    #[error("precondition failed: {0} changed since it was read")]
    Stale(String),
    /// Any other service error, with the service's message.
    #[error("{0}")]
    Service(String),
}
