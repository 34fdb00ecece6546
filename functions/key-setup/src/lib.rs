//! Keyhole's key-setup custom resource: on the first deploy it makes the stack's CloudFront key
//! pair (ECDSA P-256), the public key and key group CloudFront checks signed cookies against, and
//! writes `{"keyPairId", "privateKeyPem"}` into the stack's Secrets Manager secret. Updates leave
//! the key group alone (rotation changes its membership outside CloudFormation); Delete removes
//! the key group and its keys, tolerating whatever is already gone.
//!
//! The same binary is the secret's rotation function: an event with a `Step` field runs one of
//! Secrets Manager's four rotation steps ([`handle_rotation`], logic in `keyhole-rotation`).
//!
//! The logic ([`handle`]) runs against two small traits, [`KeyApi`] and [`SecretStore`]; the AWS SDK
//! adapters are in [`aws`], and [`respond`] PUTs the answer to CloudFormation's response URL.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod aws;
mod event;
pub mod respond;
mod rotation;
mod setup;

pub use event::{CfnRequest, CfnResponse, Properties, RequestType, ResponseData, Status};
pub use rotation::{RotationEvent, handle_rotation, rotation_config};
pub use setup::{
    FAILED_CREATE_PREFIX, KeyApi, KeyGroupState, SecretStore, handle, process, resource_name,
};

/// Everything that can go wrong in key setup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The Lambda event is not a custom-resource request (no one to answer).
    #[error("not a CloudFormation custom-resource request: {0}")]
    BadRequest(String),
    /// The resource's properties in the template are missing or wrong.
    #[error("invalid KeySetup properties: {0}")]
    BadProperties(String),
    /// The key group or public key does not exist (any more).
    #[error("not found")]
    NotFound,
    /// The public key is still in a key group, or the key group still used by a distribution.
    #[error("still in use")]
    InUse,
    /// Any other AWS service error, with the service's message.
    #[error("{0}")]
    Service(String),
    /// The response could not be delivered to CloudFormation.
    #[error("sending the response to CloudFormation: {0}")]
    Respond(String),
}
