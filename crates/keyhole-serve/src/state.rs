//! The state folder (`.keyhole/` by default): keys generated on first start and reused after, so a
//! restart keeps cookies and tokens valid and cold start does no key generation. The CloudFront
//! signing key lives in the folder's secret and key group (`key_store.rs`); [`LocalKeys`] is the
//! key that signs now.

use std::path::Path;
use std::sync::Arc;

use keyhole_core::{SigningKey, SystemClock};

use crate::ServeError;
use crate::key_store::KeyStore;

/// The CloudFront key pair the local stack signs with now (the local secret's `AWSCURRENT`).
#[derive(Clone)]
pub struct LocalKeys {
    /// The key pair id (as CloudFront would assign to the public key).
    pub key_pair_id: String,
    /// PKCS#8 PEM private key.
    pub private_key_pem: String,
    /// SPKI PEM public key (what would be pasted into CloudFront).
    pub public_key_pem: String,
}

impl std::fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("LocalKeys")
            .field("key_pair_id", &self.key_pair_id)
            .finish_non_exhaustive()
    }
}

impl LocalKeys {
    /// The state folder's signing key, made on first start (an ECDSA P-256 key, keyhole's
    /// default: the fastest to sign, the smallest cookies; or the key of a folder from before
    /// rotation, under its key pair id).
    pub fn load_or_create(state_dir: &Path) -> Result<Self, ServeError> {
        let store = KeyStore::open_or_create(state_dir, Arc::new(SystemClock))?;
        let value = store
            .secret
            .current_value()
            .map_err(|e| ServeError::Key(e.to_string()))?;
        let material = keyhole_signer::parse_secret_json(&value).map_err(|reason| {
            ServeError::Key(format!("{}: {reason}", store.secret.path().display()))
        })?;
        let key = SigningKey::from_pem(&material.private_key_pem)
            .map_err(|e| ServeError::Key(format!("{}: {e}", store.secret.path().display())))?;
        Ok(Self {
            key_pair_id: material.key_pair_id,
            public_key_pem: key.public_key_pem(),
            private_key_pem: material.private_key_pem,
        })
    }
}

/// Reads a state file, or makes it with `create` when it does not exist yet.
pub(crate) fn read_or_create(
    path: &Path,
    create: impl FnOnce() -> Result<String, ServeError>,
) -> Result<String, ServeError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| ServeError::State {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            create()
        }
        Err(source) => Err(ServeError::State {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes a secret file readable by its owner only.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), ServeError> {
    let err = |source| ServeError::State {
        path: path.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        f.write_all(contents.as_bytes()).map_err(err)
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, contents).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_generated_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = LocalKeys::load_or_create(dir.path()).unwrap();
        let b = LocalKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(a.key_pair_id, b.key_pair_id);
        assert_eq!(a.private_key_pem, b.private_key_pem);
        assert!(a.key_pair_id.starts_with('K') && a.key_pair_id.len() == 14);
        assert!(a.public_key_pem.contains("BEGIN PUBLIC KEY"));
    }

    #[cfg(unix)]
    #[test]
    fn the_private_key_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        LocalKeys::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(crate::key_store::SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn an_unreadable_key_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(crate::key_store::LEGACY_KEY_FILE),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = LocalKeys::load_or_create(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains(crate::key_store::LEGACY_KEY_FILE),
            "{err}"
        );
    }

    #[test]
    fn debug_output_hides_the_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LocalKeys::load_or_create(dir.path()).unwrap();
        assert!(!format!("{keys:?}").contains("PRIVATE"));
    }
}
