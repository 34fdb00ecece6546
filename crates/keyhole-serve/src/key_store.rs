//! The local stack's Secrets Manager secret and CloudFront key group, played by two files in the
//! state folder, so `keyhole_rotation`'s four steps run against them exactly as against AWS:
//!
//! - `signing-secret.json` (mode 0600): the secret's versions, each with its staging labels
//!   (`AWSCURRENT`, `AWSPENDING`, `AWSPREVIOUS`) and its value `{"keyPairId", "privateKeyPem",
//!   "sessionMarkerKey"}`. A version's value never changes once written; a version left with no
//!   label is dropped (Secrets Manager deprecates it), so old private keys do not pile up.
//! - `key-group.json`: the trusted key group (at most [`MAX_KEYS_PER_GROUP`] public key ids) and
//!   the public keys, each with CloudFront's fields and an ETag that changes on every write; a
//!   write under a stale `If-Match` is refused with [`Error::Stale`].
//!
//! Every write goes to a temporary file in the same folder and is renamed over the old file, so a
//! reader (the running `keyhole serve`) sees the old file or the new one, never half of one.
//! Writers in one process are serialised; the ETags catch another process's write in between.
//!
//! A state folder from before rotation (`signing-key.pem` + `key-pair-id`) becomes version one and
//! the group's only key under the same key pair id, so cookies issued before the upgrade verify.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use keyhole_core::{Clock, KeyType, SigningKey};
use keyhole_rotation::retirement::ACTIVE_COMMENT;
use keyhole_rotation::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, Error, KeyGroup, KeyGroupApi, MAX_KEYS_PER_GROUP,
    PublicKey, SecretApi, SecretMeta, SecretVersion, VersionRef,
};
use serde::{Deserialize, Serialize};

use crate::ServeError;

/// The secret's file in the state folder.
pub const SECRET_FILE: &str = "signing-secret.json";
/// The key group's (and its public keys') file in the state folder.
pub const KEY_GROUP_FILE: &str = "key-group.json";
/// The id the local secret answers to (`--secret-id` has no meaning locally).
pub const LOCAL_SECRET_ID: &str = "keyhole-local-signing-key";
/// The id the local key group answers to.
pub const LOCAL_KEY_GROUP_ID: &str = "keyhole-local";
/// The signing key file of a state folder from before rotation.
pub const LEGACY_KEY_FILE: &str = "signing-key.pem";
/// The key pair id file of a state folder from before rotation.
pub const LEGACY_ID_FILE: &str = "key-pair-id";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SecretFile {
    rotation_enabled: bool,
    versions: Vec<StoredVersion>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredVersion {
    id: String,
    stages: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    created_at: i64,
}

impl StoredVersion {
    fn has(&self, stage: &str) -> bool {
        self.stages.iter().any(|s| s == stage)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GroupFile {
    /// Bumped on every write; ETags are made from it, so each write gives a new one.
    revision: u64,
    key_group: StoredGroup,
    public_keys: Vec<StoredPublicKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredGroup {
    id: String,
    name: String,
    comment: String,
    items: Vec<String>,
    etag: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredPublicKey {
    id: String,
    name: String,
    caller_reference: String,
    encoded_key: String,
    comment: String,
    created_at: i64,
    etag: String,
}

impl GroupFile {
    fn next_etag(&mut self) -> String {
        self.revision += 1;
        format!("E{:012X}", self.revision)
    }

    fn key(&self, id: &str) -> Option<&StoredPublicKey> {
        self.public_keys.iter().find(|k| k.id == id)
    }
}

/// The value a version holds: the format the signer reads.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretValue<'a> {
    key_pair_id: &'a str,
    private_key_pem: &'a str,
    session_marker_key: &'a str,
}

/// The trusted keys as the CloudFront stand-in needs them: id and SPKI PEM of every key the
/// group lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// The key pair id.
    pub id: String,
    /// The SPKI PEM public key.
    pub public_key_pem: String,
}

/// `K` and 13 upper-case letters and digits, like the ids CloudFront assigns.
pub(crate) fn new_key_pair_id() -> Result<String, Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 13];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Error::Key("no randomness for a key pair id".into()))?;
    let tail: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Ok(format!("K{tail}"))
}

/// A JSON parse failure named by file, line and column only: serde's own message can quote the
/// value, and the secret file holds private keys.
fn corrupt(path: &Path, e: &serde_json::Error) -> Error {
    Error::Service(format!(
        "{} is corrupt ({:?} error at line {}, column {}); restore it or move the state folder aside",
        path.display(),
        e.classify(),
        e.line(),
        e.column()
    ))
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    Error::Service(format!("{}: {e}", path.display()))
}

/// Reads and parses a state file; `None` when it does not exist.
fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| corrupt(path, &e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, &e)),
    }
}

/// Writes `value` to a temporary file beside `path` (created with `mode`) and renames it over
/// `path`: readers see the old file or the new one.
fn write_atomic<T: Serialize>(path: &Path, value: &T, mode: u32) -> Result<(), Error> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Service(e.to_string()))?;
    bytes.push(b'\n');
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = write_new(&tmp, &bytes, mode).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(path, &e));
    }
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn lock(m: &Mutex<()>) -> std::sync::MutexGuard<'_, ()> {
    // The guarded data is the file; a panic while holding the lock leaves nothing half-written
    // in memory.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The signing-key secret in `signing-secret.json`, with Secrets Manager's semantics.
pub struct LocalSecret {
    path: PathBuf,
    clock: Arc<dyn Clock>,
    write: Mutex<()>,
}

impl std::fmt::Debug for LocalSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSecret")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LocalSecret {
    /// The file it lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_id(&self, secret_id: &str) -> Result<(), Error> {
        if secret_id == LOCAL_SECRET_ID {
            Ok(())
        } else {
            Err(Error::NotFound(format!(
                "secret {secret_id} (the local stack's secret is {LOCAL_SECRET_ID})"
            )))
        }
    }

    fn read(&self) -> Result<SecretFile, Error> {
        read_json(&self.path)?.ok_or_else(|| {
            Error::NotFound(format!(
                "secret {LOCAL_SECRET_ID}: {} does not exist",
                self.path.display()
            ))
        })
    }

    fn write(&self, file: &mut SecretFile) -> Result<(), Error> {
        // An unlabelled version is deprecated: Secrets Manager drops it, and so do we (its
        // private key with it).
        file.versions.retain(|v| !v.stages.is_empty());
        write_atomic(&self.path, file, 0o600)
    }

    /// The value of the version labelled `AWSCURRENT` (what the signer signs with).
    pub fn current_value(&self) -> Result<String, Error> {
        self.read()?
            .versions
            .into_iter()
            .find(|v| v.has(AWSCURRENT))
            .and_then(|v| v.value)
            .ok_or_else(|| Error::BadSecret {
                secret: LOCAL_SECRET_ID.to_owned(),
                version: AWSCURRENT.to_owned(),
                reason: format!("{} has no AWSCURRENT value", self.path.display()),
            })
    }

    fn put_pending_now(&self, token: &str, value: &str) -> Result<(), Error> {
        let _guard = lock(&self.write);
        let mut file = self.read()?;
        if let Some(v) = file.versions.iter().find(|v| v.id == token)
            && v.value.as_deref().is_some_and(|old| old != value)
        {
            return Err(Error::Service(format!(
                "ResourceExistsException: version {token} of secret {LOCAL_SECRET_ID} already \
                 has a different value (a version's value cannot change)"
            )));
        }
        for v in &mut file.versions {
            if v.id != token {
                v.stages.retain(|s| s != AWSPENDING);
            }
        }
        let created_at = self.clock.now();
        match file.versions.iter_mut().find(|v| v.id == token) {
            Some(v) => {
                v.value = Some(value.to_owned());
                if !v.has(AWSPENDING) {
                    v.stages.push(AWSPENDING.to_owned());
                }
            }
            None => file.versions.push(StoredVersion {
                id: token.to_owned(),
                stages: vec![AWSPENDING.to_owned()],
                value: Some(value.to_owned()),
                created_at,
            }),
        }
        self.write(&mut file)
    }

    fn move_stage_now(
        &self,
        stage: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> Result<(), Error> {
        let _guard = lock(&self.write);
        let mut file = self.read()?;
        let no_version = |id: &str| {
            Error::Service(format!(
                "ResourceNotFoundException: secret {LOCAL_SECRET_ID} has no version {id}"
            ))
        };
        // Secrets Manager checks the whole request before changing anything.
        let holder = file
            .versions
            .iter()
            .find(|v| v.has(stage))
            .map(|v| v.id.clone());
        if let Some(from) = from {
            let v = file
                .versions
                .iter()
                .find(|v| v.id == from)
                .ok_or_else(|| no_version(from))?;
            if !v.has(stage) {
                return Err(Error::Service(format!(
                    "InvalidParameterException: version {from} does not carry {stage}"
                )));
            }
        } else if let Some(holder) = holder
            && to.is_some_and(|to| to != holder)
        {
            return Err(Error::Service(format!(
                "InvalidParameterException: {stage} is on version {holder}; name it as the \
                 version to remove it from"
            )));
        }
        if from.is_none() && stage == AWSCURRENT {
            return Err(Error::Service(
                "InvalidParameterException: RemoveFromVersionId can't be empty for AWSCURRENT"
                    .into(),
            ));
        }
        if let Some(to) = to
            && !file.versions.iter().any(|v| v.id == to)
        {
            return Err(no_version(to));
        }
        if let Some(from) = from {
            for v in file.versions.iter_mut().filter(|v| v.id == from) {
                v.stages.retain(|s| s != stage);
            }
        }
        if let Some(to) = to {
            for v in file.versions.iter_mut().filter(|v| v.id == to) {
                if !v.has(stage) {
                    v.stages.push(stage.to_owned());
                }
            }
        }
        // Moving AWSCURRENT makes the version it left AWSPREVIOUS.
        if stage == AWSCURRENT
            && let (Some(from), Some(to)) = (from, to)
            && from != to
        {
            for v in &mut file.versions {
                v.stages.retain(|s| s != AWSPREVIOUS);
            }
            for v in file.versions.iter_mut().filter(|v| v.id == from) {
                v.stages.push(AWSPREVIOUS.to_owned());
            }
        }
        self.write(&mut file)
    }
}

impl SecretApi for LocalSecret {
    async fn describe(&self, secret_id: &str) -> Result<SecretMeta, Error> {
        self.check_id(secret_id)?;
        let file = self.read()?;
        Ok(SecretMeta {
            rotation_enabled: file.rotation_enabled,
            versions: file
                .versions
                .into_iter()
                .filter(|v| !v.stages.is_empty())
                .map(|v| SecretVersion {
                    id: v.id,
                    stages: v.stages,
                })
                .collect(),
        })
    }

    async fn get_value(
        &self,
        secret_id: &str,
        which: VersionRef<'_>,
    ) -> Result<Option<String>, Error> {
        self.check_id(secret_id)?;
        let file = self.read()?;
        Ok(file
            .versions
            .into_iter()
            .find(|v| match which {
                VersionRef::Stage(stage) => v.has(stage),
                VersionRef::Pending(id) => v.id == id && v.has(AWSPENDING),
            })
            .and_then(|v| v.value))
    }

    async fn put_pending(&self, secret_id: &str, token: &str, value: &str) -> Result<(), Error> {
        self.check_id(secret_id)?;
        self.put_pending_now(token, value)
    }

    async fn move_stage(
        &self,
        secret_id: &str,
        stage: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> Result<(), Error> {
        self.check_id(secret_id)?;
        self.move_stage_now(stage, to, from)
    }
}

/// The signer reads `AWSCURRENT` as the Lambda reads its secret, so `keyhole serve` follows a
/// rotation within `SIGNING_KEY_REFRESH_SECONDS`.
impl keyhole_signer::KeySource for LocalSecret {
    fn load(
        &self,
    ) -> keyhole_signer::BoxFuture<'_, Result<keyhole_signer::SigningMaterial, keyhole_signer::Error>>
    {
        Box::pin(async move {
            let error = |reason: String| keyhole_signer::Error::Secret {
                secret_id: self.path.display().to_string(),
                reason,
            };
            // A small file, read once per refresh interval: blocking briefly is fine.
            let value = self.current_value().map_err(|e| error(e.to_string()))?;
            keyhole_signer::parse_secret_json(&value).map_err(error)
        })
    }
}

/// The trusted key group and its public keys in `key-group.json`, with CloudFront's semantics.
pub struct LocalKeyGroup {
    path: PathBuf,
    clock: Arc<dyn Clock>,
    write: Mutex<()>,
}

impl std::fmt::Debug for LocalKeyGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeyGroup")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LocalKeyGroup {
    /// A group read from `path` (no I/O until used).
    pub fn at(path: PathBuf, clock: Arc<dyn Clock>) -> Self {
        Self {
            path,
            clock,
            write: Mutex::new(()),
        }
    }

    /// The file it lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<GroupFile, Error> {
        read_json(&self.path)?.ok_or_else(|| {
            Error::NotFound(format!(
                "key group {LOCAL_KEY_GROUP_ID}: {} does not exist",
                self.path.display()
            ))
        })
    }

    fn write(&self, file: &GroupFile) -> Result<(), Error> {
        write_atomic(&self.path, file, 0o644)
    }

    fn check_id(id: &str) -> Result<(), Error> {
        if id == LOCAL_KEY_GROUP_ID {
            Ok(())
        } else {
            Err(Error::NotFound(format!(
                "key group {id} (the local stack's key group is {LOCAL_KEY_GROUP_ID})"
            )))
        }
    }

    /// Every key the group lists, with its public key: what the stand-in trusts. A listed id
    /// with no public key is left out (CloudFront could not verify with it either).
    pub fn trusted_keys(&self) -> Result<Vec<TrustedKey>, Error> {
        let file = self.read()?;
        Ok(file
            .key_group
            .items
            .iter()
            .filter_map(|id| file.key(id))
            .map(|k| TrustedKey {
                id: k.id.clone(),
                public_key_pem: k.encoded_key.clone(),
            })
            .collect())
    }

    fn update_group_now(&self, id: &str, group: &KeyGroup, items: &[String]) -> Result<(), Error> {
        Self::check_id(id)?;
        let _guard = lock(&self.write);
        let mut file = self.read()?;
        if file.key_group.etag != group.etag {
            return Err(Error::Stale(format!("key group {id}")));
        }
        if items.len() > MAX_KEYS_PER_GROUP {
            return Err(Error::Service(format!(
                "TooManyPublicKeysInKeyGroup: a key group holds at most {MAX_KEYS_PER_GROUP} \
                 public keys; {} were given",
                items.len()
            )));
        }
        if let Some(missing) = items.iter().find(|i| file.key(i).is_none()) {
            return Err(Error::Service(format!(
                "NoSuchPublicKey: public key {missing} does not exist"
            )));
        }
        file.key_group.items = items.to_vec();
        file.key_group.name.clone_from(&group.name);
        file.key_group.comment.clone_from(&group.comment);
        file.key_group.etag = file.next_etag();
        self.write(&file)
    }

    fn create_key_now(
        &self,
        name: &str,
        pem: &str,
        caller_reference: &str,
        comment: &str,
    ) -> Result<String, Error> {
        keyhole_core::VerifyingKey::from_pem(pem)
            .map_err(|e| Error::Service(format!("InvalidArgument: the public key: {e}")))?;
        let _guard = lock(&self.write);
        let mut file = self.read()?;
        if file
            .public_keys
            .iter()
            .any(|k| k.caller_reference == caller_reference)
        {
            return Err(Error::Service(format!(
                "PublicKeyAlreadyExists: caller reference {caller_reference} is taken"
            )));
        }
        let id = new_key_pair_id()?;
        let etag = file.next_etag();
        file.public_keys.push(StoredPublicKey {
            id: id.clone(),
            name: name.to_owned(),
            caller_reference: caller_reference.to_owned(),
            encoded_key: pem.to_owned(),
            comment: comment.to_owned(),
            created_at: self.clock.now(),
            etag,
        });
        self.write(&file)?;
        Ok(id)
    }

    fn update_comment_now(&self, key: &PublicKey, comment: &str) -> Result<(), Error> {
        let _guard = lock(&self.write);
        let mut file = self.read()?;
        let etag = file.next_etag();
        let k = file
            .public_keys
            .iter_mut()
            .find(|k| k.id == key.id)
            .ok_or_else(|| Error::NotFound(format!("public key {}", key.id)))?;
        if k.etag != key.etag {
            return Err(Error::Stale(format!("public key {}", key.id)));
        }
        k.comment = comment.to_owned();
        k.etag = etag;
        self.write(&file)
    }

    fn delete_key_now(&self, id: &str, etag: &str) -> Result<(), Error> {
        let _guard = lock(&self.write);
        let mut file = self.read()?;
        let k = file
            .key(id)
            .ok_or_else(|| Error::NotFound(format!("public key {id}")))?;
        if k.etag != etag {
            return Err(Error::Stale(format!("public key {id}")));
        }
        if file.key_group.items.iter().any(|i| i == id) {
            return Err(Error::Service(format!(
                "PublicKeyInUse: public key {id} is in key group {LOCAL_KEY_GROUP_ID}"
            )));
        }
        file.public_keys.retain(|k| k.id != id);
        file.revision += 1;
        self.write(&file)
    }
}

impl KeyGroupApi for LocalKeyGroup {
    async fn get_key_group(&self, id: &str) -> Result<KeyGroup, Error> {
        Self::check_id(id)?;
        let g = self.read()?.key_group;
        Ok(KeyGroup {
            name: g.name,
            comment: g.comment,
            items: g.items,
            etag: g.etag,
        })
    }

    async fn update_key_group(
        &self,
        id: &str,
        group: &KeyGroup,
        items: &[String],
    ) -> Result<(), Error> {
        self.update_group_now(id, group, items)
    }

    async fn create_public_key(
        &self,
        name: &str,
        public_key_pem: &str,
        caller_reference: &str,
        comment: &str,
    ) -> Result<String, Error> {
        self.create_key_now(name, public_key_pem, caller_reference, comment)
    }

    async fn get_public_key(&self, id: &str) -> Result<PublicKey, Error> {
        let file = self.read()?;
        let k = file
            .key(id)
            .ok_or_else(|| Error::NotFound(format!("public key {id}")))?;
        Ok(PublicKey {
            id: k.id.clone(),
            name: k.name.clone(),
            caller_reference: k.caller_reference.clone(),
            encoded_key: k.encoded_key.clone(),
            comment: k.comment.clone(),
            created_at: k.created_at,
            etag: k.etag.clone(),
        })
    }

    async fn update_public_key_comment(&self, key: &PublicKey, comment: &str) -> Result<(), Error> {
        self.update_comment_now(key, comment)
    }

    async fn delete_public_key(&self, id: &str, etag: &str) -> Result<(), Error> {
        self.delete_key_now(id, etag)
    }
}

/// The state folder's secret and key group, opened together.
#[derive(Debug)]
pub struct KeyStore {
    /// The signing-key secret.
    pub secret: LocalSecret,
    /// The trusted key group.
    pub group: LocalKeyGroup,
}

impl KeyStore {
    fn paths(state_dir: &Path, clock: Arc<dyn Clock>) -> Self {
        Self {
            secret: LocalSecret {
                path: state_dir.join(SECRET_FILE),
                clock: Arc::clone(&clock),
                write: Mutex::new(()),
            },
            group: LocalKeyGroup::at(state_dir.join(KEY_GROUP_FILE), clock),
        }
    }

    /// Opens the store in an existing state folder (`keyhole rotate`, `keyhole keys list`): a
    /// folder from before rotation is migrated; a folder with no key at all is an error, since
    /// only `keyhole serve` makes the first key.
    pub fn open(state_dir: &Path, clock: Arc<dyn Clock>) -> Result<Self, ServeError> {
        let meta = std::fs::metadata(state_dir).map_err(|source| ServeError::State {
            path: state_dir.to_path_buf(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(ServeError::Key(format!(
                "{} is not a folder",
                state_dir.display()
            )));
        }
        let store = Self::paths(state_dir, clock);
        if store.secret.path.exists() {
            return Ok(store);
        }
        if state_dir.join(LEGACY_KEY_FILE).exists() {
            store.migrate(state_dir)?;
            return Ok(store);
        }
        Err(ServeError::Key(format!(
            "{} holds no signing key yet: start `keyhole serve --state-dir {}` once to make one",
            state_dir.display(),
            state_dir.display()
        )))
    }

    /// Opens the store for `keyhole serve`, making it on first start: the folder's key from
    /// before rotation (same key pair id), or a new ECDSA P-256 key, becomes version one of the
    /// secret and the group's only key.
    pub fn open_or_create(state_dir: &Path, clock: Arc<dyn Clock>) -> Result<Self, ServeError> {
        std::fs::create_dir_all(state_dir).map_err(|source| ServeError::State {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let store = Self::paths(state_dir, clock);
        if store.secret.path.exists() {
            return Ok(store);
        }
        if state_dir.join(LEGACY_KEY_FILE).exists() {
            store.migrate(state_dir)?;
        } else {
            let key = SigningKey::generate(KeyType::EcdsaP256)
                .map_err(|e| ServeError::Key(format!("generating the signing key: {e}")))?;
            let id = new_key_pair_id().map_err(|e| ServeError::Key(e.to_string()))?;
            store.install(&key, &id, "keyhole-local-initial")?;
        }
        Ok(store)
    }

    /// `signing-key.pem` + `key-pair-id` (the id made now if the file is missing, as before)
    /// become version one and the only key of the group. The old files are left as they were.
    fn migrate(&self, state_dir: &Path) -> Result<(), ServeError> {
        let key_path = state_dir.join(LEGACY_KEY_FILE);
        let state_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ServeError::State { path, source }
        };
        let pem = std::fs::read_to_string(&key_path).map_err(state_err(&key_path))?;
        let key = SigningKey::from_pem(&pem)
            .map_err(|e| ServeError::Key(format!("{}: {e}", key_path.display())))?;
        let id_path = state_dir.join(LEGACY_ID_FILE);
        let id = match std::fs::read_to_string(&id_path) {
            Ok(s) => s.trim().to_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                new_key_pair_id().map_err(|e| ServeError::Key(e.to_string()))?
            }
            Err(source) => {
                return Err(ServeError::State {
                    path: id_path,
                    source,
                });
            }
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ServeError::Key(format!(
                "{}: a key pair id is letters and digits only",
                id_path.display()
            )));
        }
        self.install(&key, &id, "keyhole-local-migrated")
    }

    /// Writes `key` under `id` as the group's only key, then as the secret's AWSCURRENT (in that
    /// order: a crash in between leaves no secret, and the next start does this again).
    fn install(&self, key: &SigningKey, id: &str, name: &str) -> Result<(), ServeError> {
        let now = self.group.clock.now();
        let key_err = |e: Error| ServeError::Key(e.to_string());
        let mut group = GroupFile {
            revision: 0,
            key_group: StoredGroup {
                id: LOCAL_KEY_GROUP_ID.to_owned(),
                name: LOCAL_KEY_GROUP_ID.to_owned(),
                comment: "keyhole serve's trusted key group".to_owned(),
                items: vec![id.to_owned()],
                etag: String::new(),
            },
            public_keys: Vec::new(),
        };
        group.key_group.etag = group.next_etag();
        let etag = group.next_etag();
        group.public_keys.push(StoredPublicKey {
            id: id.to_owned(),
            name: name.to_owned(),
            caller_reference: format!("{name}-{now}"),
            encoded_key: key.public_key_pem(),
            comment: ACTIVE_COMMENT.to_owned(),
            created_at: now,
            etag,
        });
        self.group.write(&group).map_err(key_err)?;
        let pem = key.private_key_pem();
        // The marker key the signer derives when a secret has none, written out so that every
        // later version carries the same one.
        let marker = keyhole_core::cf_base64::encode(&keyhole_core::session_marker_key(&pem));
        let value = serde_json::to_string(&SecretValue {
            key_pair_id: id,
            private_key_pem: &pem,
            session_marker_key: &marker,
        })
        .map_err(|e| ServeError::Key(e.to_string()))?;
        let mut file = SecretFile {
            rotation_enabled: true,
            versions: vec![StoredVersion {
                id: keyhole_rotation::new_token().map_err(key_err)?,
                stages: vec![AWSCURRENT.to_owned()],
                value: Some(value),
                created_at: now,
            }],
        };
        self.secret.write(&mut file).map_err(key_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyhole_core::SystemClock;
    use keyhole_rotation::RotationConfig;

    fn open(dir: &Path) -> KeyStore {
        KeyStore::open_or_create(dir, Arc::new(SystemClock)).unwrap()
    }

    fn config() -> RotationConfig {
        RotationConfig {
            key_group_id: LOCAL_KEY_GROUP_ID.into(),
            max_session_ttl: 3600,
            margin: 0,
            key_type: None,
        }
    }

    fn public_pem() -> String {
        SigningKey::generate(KeyType::EcdsaP256)
            .unwrap()
            .public_key_pem()
    }

    #[tokio::test]
    async fn first_start_makes_one_current_version_and_a_group_of_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let meta = store.secret.describe(LOCAL_SECRET_ID).await.unwrap();
        assert!(meta.rotation_enabled);
        assert_eq!(meta.versions.len(), 1);
        assert_eq!(meta.versions[0].stages, vec![AWSCURRENT.to_owned()]);
        let material =
            keyhole_signer::parse_secret_json(&store.secret.current_value().unwrap()).unwrap();
        let id = &material.key_pair_id;
        assert!(id.len() == 14 && id.starts_with('K'), "{id}");
        assert!(
            id[1..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert!(material.session_marker_key.is_some());
        let group = store.group.get_key_group(LOCAL_KEY_GROUP_ID).await.unwrap();
        assert_eq!(group.items, vec![id.clone()]);
        // Reopening reuses it.
        let again = open(dir.path());
        assert_eq!(
            again.secret.current_value().unwrap(),
            store.secret.current_value().unwrap()
        );
    }

    #[tokio::test]
    async fn every_write_changes_the_etag_and_a_stale_if_match_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let g = &store.group;
        let before = g.get_key_group(LOCAL_KEY_GROUP_ID).await.unwrap();
        let new = g
            .create_public_key("n", &public_pem(), "ref-1", ACTIVE_COMMENT)
            .await
            .unwrap();
        let mut items = before.items.clone();
        items.push(new.clone());
        g.update_key_group(LOCAL_KEY_GROUP_ID, &before, &items)
            .await
            .unwrap();
        let after = g.get_key_group(LOCAL_KEY_GROUP_ID).await.unwrap();
        assert_ne!(after.etag, before.etag);
        assert_eq!(after.items, items);
        assert!(matches!(
            g.update_key_group(LOCAL_KEY_GROUP_ID, &before, &before.items)
                .await,
            Err(Error::Stale(_))
        ));
        let key = g.get_public_key(&new).await.unwrap();
        g.update_public_key_comment(&key, "retired").await.unwrap();
        let changed = g.get_public_key(&new).await.unwrap();
        assert_ne!(changed.etag, key.etag);
        assert_eq!(changed.comment, "retired");
        assert!(matches!(
            g.update_public_key_comment(&key, "again").await,
            Err(Error::Stale(_))
        ));
        // In the group it cannot go; out of it, only under its current ETag.
        let in_use = g.delete_public_key(&new, &changed.etag).await.unwrap_err();
        assert!(in_use.to_string().contains("PublicKeyInUse"), "{in_use}");
        g.update_key_group(LOCAL_KEY_GROUP_ID, &after, &before.items)
            .await
            .unwrap();
        assert!(matches!(
            g.delete_public_key(&new, &key.etag).await,
            Err(Error::Stale(_))
        ));
        g.delete_public_key(&new, &changed.etag).await.unwrap();
        assert!(matches!(
            g.get_public_key(&new).await,
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            g.get_key_group("other").await,
            Err(Error::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn a_sixth_key_is_refused_as_cloudfront_refuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let g = &store.group;
        let mut items = g.get_key_group(LOCAL_KEY_GROUP_ID).await.unwrap().items;
        for i in 0..5 {
            items.push(
                g.create_public_key("n", &public_pem(), &format!("ref-{i}"), "")
                    .await
                    .unwrap(),
            );
        }
        let group = g.get_key_group(LOCAL_KEY_GROUP_ID).await.unwrap();
        g.update_key_group(LOCAL_KEY_GROUP_ID, &group, &items[..5])
            .await
            .unwrap();
        let group = g.get_key_group(LOCAL_KEY_GROUP_ID).await.unwrap();
        let err = g
            .update_key_group(LOCAL_KEY_GROUP_ID, &group, &items)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("TooManyPublicKeysInKeyGroup"),
            "{err}"
        );
        assert_eq!(
            g.get_key_group(LOCAL_KEY_GROUP_ID).await.unwrap().items,
            items[..5]
        );
    }

    #[tokio::test]
    async fn a_rotation_runs_against_the_files_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let old =
            keyhole_signer::parse_secret_json(&store.secret.current_value().unwrap()).unwrap();
        let outcomes = keyhole_rotation::rotate(
            LOCAL_SECRET_ID,
            None,
            &config(),
            &store.secret,
            &store.group,
            || SystemClock.now(),
        )
        .await
        .unwrap();
        assert_eq!(outcomes.len(), 4);
        let new =
            keyhole_signer::parse_secret_json(&store.secret.current_value().unwrap()).unwrap();
        assert_ne!(new.key_pair_id, old.key_pair_id);
        assert_eq!(new.session_marker_key, old.session_marker_key);
        let meta = store.secret.describe(LOCAL_SECRET_ID).await.unwrap();
        let stages: Vec<Vec<String>> = meta.versions.iter().map(|v| v.stages.clone()).collect();
        assert!(stages.contains(&vec![AWSPREVIOUS.to_owned()]), "{stages:?}");
        assert!(stages.contains(&vec![AWSCURRENT.to_owned()]), "{stages:?}");
        let trusted: Vec<String> = store
            .group
            .trusted_keys()
            .unwrap()
            .into_iter()
            .map(|k| k.id)
            .collect();
        assert_eq!(trusted, vec![old.key_pair_id, new.key_pair_id]);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec![KEY_GROUP_FILE, SECRET_FILE]);
    }

    #[tokio::test]
    async fn a_versions_value_cannot_change_and_unknown_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let s = &store.secret;
        s.put_pending(LOCAL_SECRET_ID, "t1", "{}").await.unwrap();
        s.put_pending(LOCAL_SECRET_ID, "t1", "{}").await.unwrap();
        let err = s.put_pending(LOCAL_SECRET_ID, "t1", "{\"a\":1}").await;
        assert!(err.unwrap_err().to_string().contains("ResourceExists"));
        assert_eq!(
            s.get_value(LOCAL_SECRET_ID, VersionRef::Pending("t1"))
                .await
                .unwrap()
                .as_deref(),
            Some("{}")
        );
        assert!(
            s.move_stage(LOCAL_SECRET_ID, AWSCURRENT, Some("nope"), Some("t1"))
                .await
                .is_err()
        );
        assert!(matches!(
            s.describe("another-secret").await,
            Err(Error::NotFound(_))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn the_secret_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        open(dir.path());
        let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn a_corrupt_file_is_a_clear_error_naming_it_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        std::fs::write(
            dir.path().join(SECRET_FILE),
            "{\"rotationEnabled\": true, \"versions\": \"SECRETBYTES\"",
        )
        .unwrap();
        let err = store.secret.current_value().unwrap_err().to_string();
        assert!(
            err.contains(SECRET_FILE) && err.contains("corrupt"),
            "{err}"
        );
        assert!(!err.contains("SECRETBYTES"), "{err}");
        std::fs::write(dir.path().join(KEY_GROUP_FILE), "[1,").unwrap();
        let err = store
            .group
            .get_key_group(LOCAL_KEY_GROUP_ID)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(KEY_GROUP_FILE), "{err}");
    }

    #[tokio::test]
    async fn a_state_folder_from_before_rotation_keeps_its_key_pair_id() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate(KeyType::EcdsaP256).unwrap();
        std::fs::write(dir.path().join(LEGACY_KEY_FILE), key.private_key_pem()).unwrap();
        std::fs::write(dir.path().join(LEGACY_ID_FILE), "KOLDSTATE12345\n").unwrap();
        let store = KeyStore::open(dir.path(), Arc::new(SystemClock)).unwrap();
        let material =
            keyhole_signer::parse_secret_json(&store.secret.current_value().unwrap()).unwrap();
        assert_eq!(material.key_pair_id, "KOLDSTATE12345");
        assert_eq!(
            SigningKey::from_pem(&material.private_key_pem)
                .unwrap()
                .public_key_pem(),
            key.public_key_pem()
        );
        // The marker key is the one the signer derived from the old file, so markers survive.
        assert_eq!(
            material.session_marker_key,
            Some(keyhole_core::session_marker_key(&key.private_key_pem()))
        );
        let trusted = store.group.trusted_keys().unwrap();
        assert_eq!(trusted.len(), 1);
        assert_eq!(trusted[0].id, "KOLDSTATE12345");
        assert_eq!(trusted[0].public_key_pem, key.public_key_pem());
    }

    #[test]
    fn opening_a_missing_or_empty_state_folder_for_rotation_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = KeyStore::open(&dir.path().join("nope"), Arc::new(SystemClock)).unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
        let empty = KeyStore::open(dir.path(), Arc::new(SystemClock)).unwrap_err();
        assert!(empty.to_string().contains("keyhole serve"), "{empty}");
    }
}
