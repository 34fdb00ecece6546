//! The outside world a rotation touches: the secret (Secrets Manager) and the key group
//! (CloudFront). `aws::SecretsManagerApi` and `aws::CloudFrontKeys` are the real ones.

use std::future::Future;

use crate::Error;

/// One version of the secret and its staging labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVersion {
    /// The version id (a rotation's `ClientRequestToken`).
    pub id: String,
    /// Its staging labels (`AWSCURRENT`, `AWSPENDING`, `AWSPREVIOUS`, ...).
    pub stages: Vec<String>,
}

/// What `DescribeSecret` says about rotation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretMeta {
    /// Whether Secrets Manager rotation is switched on.
    pub rotation_enabled: bool,
    /// Every version that still carries a label.
    pub versions: Vec<SecretVersion>,
}

impl SecretMeta {
    /// The version carrying `stage`.
    pub fn with_stage(&self, stage: &str) -> Option<&SecretVersion> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }

    /// The version with id `id`.
    pub fn version(&self, id: &str) -> Option<&SecretVersion> {
        self.versions.iter().find(|v| v.id == id)
    }
}

impl SecretVersion {
    /// Whether this version carries `stage`.
    pub fn has(&self, stage: &str) -> bool {
        self.stages.iter().any(|s| s == stage)
    }
}

/// Which version of the secret to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionRef<'a> {
    /// The version carrying a staging label.
    Stage(&'a str),
    /// The version with this id, which must also carry `AWSPENDING`.
    Pending(&'a str),
}

/// The Secrets Manager calls a rotation makes.
pub trait SecretApi: Send + Sync {
    /// `DescribeSecret`: rotation switch and versions.
    fn describe(&self, secret_id: &str) -> impl Future<Output = Result<SecretMeta, Error>> + Send;
    /// `GetSecretValue`; `None` when that version has no value (yet).
    fn get_value(
        &self,
        secret_id: &str,
        which: VersionRef<'_>,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;
    /// `PutSecretValue` with `ClientRequestToken = token` and the single label `AWSPENDING`.
    fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// `UpdateSecretVersionStage`: moves `stage` to version `to` (from `from`), or removes it from
    /// `from` when `to` is `None`.
    fn move_stage(
        &self,
        secret_id: &str,
        stage: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// A key group as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGroup {
    /// The group's name (`UpdateKeyGroup` must repeat it).
    pub name: String,
    /// Its comment (`UpdateKeyGroup` must repeat it, or it is cleared).
    pub comment: String,
    /// Public key ids in the group.
    pub items: Vec<String>,
    /// The version for `If-Match`.
    pub etag: String,
}

/// A public key as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Its id: the key pair id cookies carry.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The caller reference it was created with (`UpdatePublicKey` must repeat it).
    pub caller_reference: String,
    /// The SPKI PEM CloudFront verifies with.
    pub encoded_key: String,
    /// Its comment, where the retirement time is kept (see [`crate::retirement`]).
    pub comment: String,
    /// When CloudFront created it (epoch seconds).
    pub created_at: i64,
    /// The version for `If-Match`.
    pub etag: String,
}

/// The CloudFront calls a rotation makes.
pub trait KeyGroupApi: Send + Sync {
    /// `GetKeyGroup`; `NotFound` when it does not exist.
    fn get_key_group(&self, id: &str) -> impl Future<Output = Result<KeyGroup, Error>> + Send;
    /// `UpdateKeyGroup` with `If-Match: group.etag`, setting the items to `items`; `Stale` on
    /// `PreconditionFailed`.
    fn update_key_group(
        &self,
        id: &str,
        group: &KeyGroup,
        items: &[String],
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// `CreatePublicKey`; returns its id.
    fn create_public_key(
        &self,
        name: &str,
        public_key_pem: &str,
        caller_reference: &str,
        comment: &str,
    ) -> impl Future<Output = Result<String, Error>> + Send;
    /// `GetPublicKey`; `NotFound` when it does not exist.
    fn get_public_key(&self, id: &str) -> impl Future<Output = Result<PublicKey, Error>> + Send;
    /// `UpdatePublicKey` with `If-Match: key.etag`, changing only the comment (the one field
    /// CloudFront lets change); `Stale` on `PreconditionFailed`.
    fn update_public_key_comment(
        &self,
        key: &PublicKey,
        comment: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// `DeletePublicKey` with `If-Match: etag`.
    fn delete_public_key(
        &self,
        id: &str,
        etag: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}
