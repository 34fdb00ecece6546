//! Zero-downtime rotation of Keyhole's CloudFront signing key.
//!
//! The secret `{"keyPairId", "privateKeyPem"}` is rotated with Secrets Manager's four steps
//! ([`Step`]): `createSecret` makes the new key pair and stores it as `AWSPENDING`, `setSecret`
//! adds its public key to the trusted key group (pruning keys whose cookies have all expired),
//! `testSecret` checks that CloudFront now holds a public key the pending key signs for, and
//! `finishSecret` moves `AWSCURRENT` and records when the old key was retired.
//!
//! The logic ([`run_step`], [`rotate`], [`list_keys`]) runs against two small traits,
//! [`SecretApi`] and [`KeyGroupApi`], with no I/O of its own; [`aws`] holds the AWS SDK adapters.
//! Where a key's retirement time is kept, and why, is in [`retirement`].

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod aws;
mod error;
mod inventory;
pub mod retirement;
mod steps;
mod traits;

#[cfg(test)]
mod fakes;
#[cfg(test)]
mod tests;

pub use error::Error;
pub use inventory::{KeyListing, KeyState, list_keys};
pub use steps::{
    DEFAULT_MARGIN_SECONDS, Origin, RotationConfig, Step, StepOutcome, StepRequest,
    is_rotation_key_of, new_token, rotate, run_step,
};
pub use traits::{
    KeyGroup, KeyGroupApi, PublicKey, SecretApi, SecretMeta, SecretVersion, VersionRef,
};

/// The staging label of the version that signs.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The staging label of a rotation in progress.
pub const AWSPENDING: &str = "AWSPENDING";
/// The staging label of the version before the current one.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
/// CloudFront's limit on public keys in one key group.
pub const MAX_KEYS_PER_GROUP: usize = 5;
