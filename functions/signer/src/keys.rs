//! Where the CloudFront signing key comes from: the [`KeySource`] trait, a PEM file, memory, and
//! the secret's JSON format. The Secrets Manager adapter is in `aws.rs`.

use crate::Error;
use crate::aws::SecretsManagerKeySource;
use crate::config::{Config, KeySetting};
use keyhole_core::is_valid_key_pair_id;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, sendable future: what [`KeySource::load`] returns, so the trait stays usable as
/// `Arc<dyn KeySource>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The key material a [`KeySource`] hands over. `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningMaterial {
    /// The CloudFront public key id (`CloudFront-Key-Pair-Id`).
    pub key_pair_id: String,
    /// The private key, PEM (PKCS#1, PKCS#8 or SEC1).
    pub private_key_pem: String,
    /// The secret's `sessionMarkerKey` (32 bytes, carried over by rotations); `None` derives the
    /// marker key from the private key.
    pub session_marker_key: Option<[u8; 32]>,
}

impl std::fmt::Debug for SigningMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningMaterial")
            .field("key_pair_id", &self.key_pair_id)
            .field("private_key_pem", &"<redacted>")
            .field(
                "session_marker_key",
                &self.session_marker_key.map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Loads the signing key. Called at cold start, and again later while loading keeps failing.
pub trait KeySource: Send + Sync {
    /// Fetches the key material (the caller parses it).
    fn load(&self) -> BoxFuture<'_, Result<SigningMaterial, Error>>;
}

/// A key held in memory (tests, benchmarks, and the local stack's generated key).
#[derive(Debug, Clone)]
pub struct StaticKeySource(pub SigningMaterial);

impl KeySource for StaticKeySource {
    fn load(&self) -> BoxFuture<'_, Result<SigningMaterial, Error>> {
        let material = self.0.clone();
        Box::pin(async move { Ok(material) })
    }
}

/// `SIGNING_KEY_FILE` + `KEY_PAIR_ID`.
#[derive(Debug, Clone)]
pub struct FileKeySource {
    path: PathBuf,
    key_pair_id: String,
}

impl FileKeySource {
    /// A source reading `path` on every load.
    pub fn new(path: impl Into<PathBuf>, key_pair_id: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            key_pair_id: key_pair_id.into(),
        }
    }
}

impl KeySource for FileKeySource {
    fn load(&self) -> BoxFuture<'_, Result<SigningMaterial, Error>> {
        Box::pin(async move {
            // A few hundred bytes, read once per cold start: blocking briefly is fine.
            let pem = std::fs::read_to_string(&self.path).map_err(|e| Error::KeyFile {
                path: self.path.display().to_string(),
                reason: e.to_string(),
            })?;
            Ok(SigningMaterial {
                key_pair_id: self.key_pair_id.clone(),
                private_key_pem: pem,
                session_marker_key: None,
            })
        })
    }
}

/// Reads `{"keyPairId", "privateKeyPem"}` without ever quoting the secret back: serde's messages
/// can echo values, so the fields are checked by hand.
/// The error is a sentence naming the field at fault (callers add which secret).
pub fn parse_secret_json(secret: &str) -> Result<SigningMaterial, String> {
    let value: serde_json::Value = serde_json::from_str(secret).map_err(
        |_| "the secret string is not JSON; expected {\"keyPairId\", \"privateKeyPem\"}",
    )?;
    let field = |name: &str| {
        value
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("the secret has no string field {name}"))
    };
    let key_pair_id = field("keyPairId")?;
    if !is_valid_key_pair_id(&key_pair_id) {
        return Err("keyPairId must be letters, digits, - or _".to_owned());
    }
    let session_marker_key = match value.get("sessionMarkerKey") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .and_then(|s| keyhole_core::cf_base64::decode(s).ok())
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .ok_or("sessionMarkerKey must be 32 bytes in CloudFront base64")?,
        ),
    };
    Ok(SigningMaterial {
        key_pair_id,
        private_key_pem: field("privateKeyPem")?,
        session_marker_key,
    })
}

/// Builds the key source the configuration names; `None` for [`KeySetting::Provided`], whose
/// source the embedding program holds.
pub async fn key_source_from_config(config: &Config) -> Option<Arc<dyn KeySource>> {
    match &config.key {
        KeySetting::SecretsManager { secret_id } => Some(Arc::new(
            SecretsManagerKeySource::from_default_config(secret_id.clone()).await,
        )),
        KeySetting::File { path, key_pair_id } => Some(Arc::new(FileKeySource::new(
            path.clone(),
            key_pair_id.clone(),
        ))),
        KeySetting::Provided { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_json_is_read() {
        let m = parse_secret_json(r#"{"keyPairId":"K2JCJMDEHXQW5F","privateKeyPem":"-----BEGIN"}"#)
            .unwrap();
        assert_eq!(m.key_pair_id, "K2JCJMDEHXQW5F");
        assert_eq!(m.private_key_pem, "-----BEGIN");
        assert_eq!(m.session_marker_key, None);
        let key = keyhole_core::cf_base64::encode(&[7u8; 32]);
        let m = parse_secret_json(&format!(
            r#"{{"keyPairId":"K1","privateKeyPem":"x","sessionMarkerKey":"{key}"}}"#
        ))
        .unwrap();
        assert_eq!(m.session_marker_key, Some([7u8; 32]));
        let short = parse_secret_json(
            r#"{"keyPairId":"K1","privateKeyPem":"x","sessionMarkerKey":"AAAA"}"#,
        );
        assert!(short.unwrap_err().contains("sessionMarkerKey"));
    }

    #[test]
    fn malformed_secret_json_is_refused_without_echoing_it() {
        for (secret, want) in [
            ("-----BEGIN PRIVATE KEY----- SECRETBYTES", "not JSON"),
            (r#"{"keyPairId":"K1"}"#, "privateKeyPem"),
            (r#"{"privateKeyPem":"SECRETBYTES"}"#, "keyPairId"),
            (
                r#"{"keyPairId":5,"privateKeyPem":"SECRETBYTES"}"#,
                "keyPairId",
            ),
            (
                r#"{"keyPairId":"K 1; x","privateKeyPem":"SECRETBYTES"}"#,
                "keyPairId",
            ),
        ] {
            let err = parse_secret_json(secret).unwrap_err();
            assert!(err.contains(want), "{err}");
            assert!(!err.contains("SECRETBYTES"), "{err}");
        }
    }

    #[test]
    fn debug_output_hides_the_private_key() {
        let m = SigningMaterial {
            key_pair_id: "K1".into(),
            private_key_pem: "SECRETBYTES".into(),
            session_marker_key: Some([9u8; 32]),
        };
        assert!(!format!("{m:?}").contains("SECRETBYTES"));
        assert!(!format!("{m:?}").contains("9, 9"));
    }

    #[tokio::test]
    async fn file_source_reads_the_pem_and_names_a_missing_file() {
        let ok = FileKeySource::new(
            concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/cloudfront-ecdsa.pem"),
            "K1",
        );
        assert!(
            ok.load()
                .await
                .unwrap()
                .private_key_pem
                .contains("PRIVATE KEY")
        );
        let missing = FileKeySource::new("/nonexistent/key.pem", "K1");
        let err = missing.load().await.unwrap_err().to_string();
        assert!(err.contains("/nonexistent/key.pem"), "{err}");
    }
}
