//! The crate's error type.

/// Why a deny-list call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The `IfMatch` ETag is no longer the store's: another writer got there first. Retried.
    #[error("the store changed since its ETag was read")]
    StaleEtag,
    /// The store could not be read or written (network, permissions, a damaged file).
    #[error("{0}")]
    Unavailable(String),
    /// Still stale after every attempt.
    #[error("the store kept changing: gave up after {0} attempts")]
    Contended(usize),
}
