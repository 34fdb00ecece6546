//! The state folder (`.keyhole/` by default): keys generated on first start and reused after, so a
//! restart keeps cookies and tokens valid and cold start does no key generation.

use std::path::Path;

use keyhole_core::{KeyType, SigningKey};

use crate::ServeError;

const SIGNING_KEY_FILE: &str = "signing-key.pem";
const KEY_PAIR_ID_FILE: &str = "key-pair-id";

/// The CloudFront key pair the local stack signs and checks cookies with.
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
    /// Where the signing key lives in `state_dir`.
    pub fn key_path(state_dir: &Path) -> std::path::PathBuf {
        state_dir.join(SIGNING_KEY_FILE)
    }

    /// Loads `signing-key.pem` and `key-pair-id` from the state folder, generating an ECDSA P-256 key
    /// (keyhole's default: the fastest to sign, the smallest cookies) and a CloudFront-style id on first start.
    pub fn load_or_create(state_dir: &Path) -> Result<Self, ServeError> {
        std::fs::create_dir_all(state_dir).map_err(|source| ServeError::State {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let key_path = Self::key_path(state_dir);
        let pem = read_or_create(&key_path, || {
            let key = SigningKey::generate(KeyType::EcdsaP256)
                .map_err(|e| ServeError::Key(format!("generating the signing key: {e}")))?;
            let pem = key.private_key_pem();
            write_private(&key_path, &pem)?;
            Ok(pem)
        })?;
        let key = SigningKey::from_pem(&pem)
            .map_err(|e| ServeError::Key(format!("{}: {e}", key_path.display())))?;
        let id_path = state_dir.join(KEY_PAIR_ID_FILE);
        let id = read_or_create(&id_path, || {
            let id = new_key_pair_id()?;
            write_private(&id_path, &id)?;
            Ok(id)
        })?;
        let key_pair_id = id.trim().to_owned();
        if key_pair_id.is_empty() || !key_pair_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ServeError::Key(format!(
                "{}: a key pair id is letters and digits only",
                id_path.display()
            )));
        }
        Ok(Self {
            key_pair_id,
            public_key_pem: key.public_key_pem(),
            private_key_pem: pem,
        })
    }
}

/// `K` and 13 upper-case letters and digits, like the ids CloudFront assigns.
fn new_key_pair_id() -> Result<String, ServeError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 13];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| ServeError::Key("no randomness for a key pair id".into()))?;
    let tail: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Ok(format!("K{tail}"))
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
        let mode = std::fs::metadata(dir.path().join(SIGNING_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn an_unreadable_key_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(SIGNING_KEY_FILE),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = LocalKeys::load_or_create(dir.path()).unwrap_err();
        assert!(err.to_string().contains(SIGNING_KEY_FILE), "{err}");
    }

    #[test]
    fn debug_output_hides_the_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LocalKeys::load_or_create(dir.path()).unwrap();
        assert!(!format!("{keys:?}").contains("PRIVATE"));
    }
}
