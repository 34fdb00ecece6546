//! Keys and the private-key operation: RSA-2048 and ECDSA P-256, the two kinds CloudFront accepts.
//!
//! Backend choice (recorded in `deny.toml` too): AWS-LC (`aws-lc-rs`) signs RSA-SHA256 and ECDSA
//! P-256 with either hash; it has no PKCS#1 v1.5 signing with SHA-1, so RSA-SHA1 (CloudFront's
//! default hash) goes through RustCrypto `rsa` 0.10 (constant-time, blinded), parsed once from the
//! same key.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as lc, KeyPair as _};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, DecodeRsaPublicKey as _};
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use spki::ObjectIdentifier;

use crate::{KeyError, SignError, pem};

/// The hash CloudFront is told about with `Hash-Algorithm` (absent means SHA-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// CloudFront's default when no `Hash-Algorithm` is given, for RSA and ECDSA keys alike.
    Sha1,
    /// Adds `CloudFront-Hash-Algorithm=SHA256` / `Hash-Algorithm=SHA256`.
    Sha256,
}

impl HashAlgorithm {
    /// The value CloudFront uses in `Hash-Algorithm` (`SHA1` or `SHA256`).
    pub fn cloudfront_name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "SHA1",
            HashAlgorithm::Sha256 => "SHA256",
        }
    }
}

impl FromStr for HashAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sha1" | "sha-1" => Ok(HashAlgorithm::Sha1),
            "sha256" | "sha-256" => Ok(HashAlgorithm::Sha256),
            _ => Err(format!(
                "unknown hash algorithm {s:?}: expected sha1 or sha256"
            )),
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HashAlgorithm::Sha1 => "sha1",
            HashAlgorithm::Sha256 => "sha256",
        })
    }
}

/// The key kinds CloudFront accepts for signed URLs and cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA with a 2048-bit modulus.
    Rsa2048,
    /// ECDSA on NIST P-256 (prime256v1); keyhole's default.
    EcdsaP256,
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Rsa2048 => "RSA-2048",
            KeyType::EcdsaP256 => "ECDSA P-256",
        })
    }
}

// Algorithm identifiers (RFC 5480, RFC 8017), read from the parsed PKCS#8 or SPKI structure.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Which of CloudFront's key kinds an algorithm identifier names, or what it names instead.
/// RSA sizes are checked once the key is parsed.
fn key_type_of(algorithm: &spki::AlgorithmIdentifierRef<'_>) -> Result<KeyType, KeyError> {
    if algorithm.oid == RSA_ENCRYPTION {
        Ok(KeyType::Rsa2048)
    } else if algorithm.oid == EC_PUBLIC_KEY {
        match algorithm.parameters_oid() {
            Ok(curve) if curve == PRIME256V1 => Ok(KeyType::EcdsaP256),
            _ => Err(other_curve()),
        }
    } else {
        Err(KeyError::Unsupported(
            "a key algorithm other than RSA or ECDSA (e.g. Ed25519)".into(),
        ))
    }
}

fn other_curve() -> KeyError {
    KeyError::Unsupported("ECDSA key on a curve other than P-256".into())
}

/// CloudFront takes RSA-2048 only; checked before AWS-LC sees the key so that the error names the size.
fn check_rsa_size(key: &rsa::PrivateKey) -> Result<(), KeyError> {
    let bits = rsa::traits::PublicKeyParts::size(key) * 8;
    if bits == 2048 {
        Ok(())
    } else {
        Err(KeyError::Unsupported(format!("RSA-{bits}")))
    }
}

enum Inner {
    Rsa {
        aws: lc::RsaKeyPair,
        // Only for SHA-1, which AWS-LC does not sign with PKCS#1 v1.5.
        sha1: Box<rsa::pkcs1v15::SigningKey<sha1::Sha1>>,
    },
    Ecdsa(lc::EcdsaKeyPair),
}

struct Parsed {
    inner: Inner,
    private_pem: String,
    public_pem: String,
}

/// A parsed private key, reusable for any number of signatures; cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct SigningKey(Arc<Parsed>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("type", &self.key_type())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses an RSA-2048 (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`) or ECDSA P-256
    /// (SEC1 `EC PRIVATE KEY` or PKCS#8) private key. Other sizes, curves, encrypted or malformed
    /// keys are refused with a [`KeyError`] that says which.
    pub fn from_pem(pem_text: &str) -> Result<Self, KeyError> {
        let blocks = pem::blocks(pem_text)?;
        let block = blocks
            .iter()
            .find(|b| b.label != "EC PARAMETERS")
            .ok_or_else(|| KeyError::Malformed("PEM: only EC PARAMETERS, no key".into()))?;
        match block.label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.der),
            "RSA PRIVATE KEY" => {
                let legacy = rsa::PrivateKey::from_pkcs1_der(&block.der)
                    .map_err(|_| KeyError::Malformed("RSA PRIVATE KEY".into()))?;
                check_rsa_size(&legacy)?;
                let aws = lc::RsaKeyPair::from_der(&block.der)
                    .map_err(|_| KeyError::Malformed("RSA PRIVATE KEY".into()))?;
                Self::from_rsa(aws, legacy)
            }
            "EC PRIVATE KEY" => {
                let kp = lc::EcdsaKeyPair::from_private_key_der(
                    &lc::ECDSA_P256_SHA256_ASN1_SIGNING,
                    &block.der,
                )
                .map_err(|_| {
                    // SEC1 names its curve inside the key; a well-formed key on P-384 is not
                    // malformed, only not CloudFront's.
                    let p384 = lc::EcdsaKeyPair::from_private_key_der(
                        &lc::ECDSA_P384_SHA384_ASN1_SIGNING,
                        &block.der,
                    );
                    if p384.is_ok() {
                        other_curve()
                    } else {
                        KeyError::Malformed("EC PRIVATE KEY".into())
                    }
                })?;
                Self::from_ecdsa(kp)
            }
            other => Err(KeyError::WrongKind {
                expected: "a private key",
                found: other.to_string(),
            }),
        }
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let info = pkcs8::PrivateKeyInfoRef::try_from(der)
            .map_err(|_| KeyError::Malformed("PKCS#8 private key".into()))?;
        match key_type_of(&info.algorithm)? {
            KeyType::EcdsaP256 => {
                let kp = lc::EcdsaKeyPair::from_pkcs8(&lc::ECDSA_P256_SHA256_ASN1_SIGNING, der)
                    .map_err(|_| KeyError::Malformed("PKCS#8 ECDSA key".into()))?;
                Self::from_ecdsa(kp)
            }
            KeyType::Rsa2048 => {
                let legacy = rsa::PrivateKey::from_pkcs8_der(der)
                    .map_err(|_| KeyError::Malformed("PKCS#8 RSA key".into()))?;
                check_rsa_size(&legacy)?;
                let aws = lc::RsaKeyPair::from_pkcs8(der)
                    .map_err(|_| KeyError::Malformed("PKCS#8 RSA key".into()))?;
                Self::from_rsa(aws, legacy)
            }
        }
    }

    fn from_rsa(aws: lc::RsaKeyPair, legacy: rsa::PrivateKey) -> Result<Self, KeyError> {
        let bits = aws.public_modulus_len() * 8;
        if bits != 2048 {
            return Err(KeyError::Unsupported(format!("RSA-{bits}")));
        }
        let private_der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&aws)
            .map_err(|_| KeyError::Malformed("RSA key (re-encoding)".into()))?;
        let public_der = aws
            .public_key()
            .as_der()
            .map_err(|_| KeyError::Malformed("RSA public key (encoding)".into()))?;
        Ok(SigningKey(Arc::new(Parsed {
            private_pem: pem::encode("PRIVATE KEY", private_der.as_ref()),
            public_pem: pem::encode("PUBLIC KEY", public_der.as_ref()),
            inner: Inner::Rsa {
                aws,
                sha1: Box::new(rsa::pkcs1v15::SigningKey::new(legacy)),
            },
        })))
    }

    fn from_ecdsa(kp: lc::EcdsaKeyPair) -> Result<Self, KeyError> {
        let private_der = kp
            .to_pkcs8v1()
            .map_err(|_| KeyError::Malformed("ECDSA key (re-encoding)".into()))?;
        let public_der = kp
            .public_key()
            .as_der()
            .map_err(|_| KeyError::Malformed("ECDSA public key (encoding)".into()))?;
        Ok(SigningKey(Arc::new(Parsed {
            private_pem: pem::encode("PRIVATE KEY", private_der.as_ref()),
            public_pem: pem::encode("PUBLIC KEY", public_der.as_ref()),
            inner: Inner::Ecdsa(kp),
        })))
    }

    /// Generates a fresh key with the system's secure random source.
    pub fn generate(kind: KeyType) -> Result<Self, KeyError> {
        match kind {
            KeyType::EcdsaP256 => {
                let kp = lc::EcdsaKeyPair::generate(&lc::ECDSA_P256_SHA256_ASN1_SIGNING)
                    .map_err(|_| KeyError::Generation)?;
                Self::from_ecdsa(kp)
            }
            KeyType::Rsa2048 => {
                let aws = lc::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| KeyError::Generation)?;
                let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&aws)
                    .map_err(|_| KeyError::Generation)?;
                Self::from_pkcs8_der(der.as_ref())
            }
        }
    }

    /// Which kind of key this is.
    pub fn key_type(&self) -> KeyType {
        match self.0.inner {
            Inner::Rsa { .. } => KeyType::Rsa2048,
            Inner::Ecdsa(_) => KeyType::EcdsaP256,
        }
    }

    /// The private key as unencrypted PKCS#8 PEM (`PRIVATE KEY`). Handle as a secret.
    pub fn private_key_pem(&self) -> String {
        self.0.private_pem.clone()
    }

    /// The public key as SPKI PEM (`PUBLIC KEY`), the form CloudFront's public-key upload takes.
    pub fn public_key_pem(&self) -> String {
        self.0.public_pem.clone()
    }

    /// An RSA key's public modulus and exponent, big-endian without leading zeros (a JWK's `n`
    /// and `e`); `None` for an ECDSA key.
    pub fn rsa_public_numbers(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        match &self.0.inner {
            Inner::Rsa { aws, .. } => {
                let public = aws.public_key();
                Some((
                    public.modulus().big_endian_without_leading_zero().to_vec(),
                    public.exponent().big_endian_without_leading_zero().to_vec(),
                ))
            }
            Inner::Ecdsa(_) => None,
        }
    }

    /// The matching public key, for a [`crate::Verifier`].
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        VerifyingKey::from_pem(&self.0.public_pem)
    }

    /// Signs `message` (the exact policy bytes) with `hash`. RSA uses PKCS#1 v1.5; ECDSA produces
    /// the ASN.1 DER `ECDSA-Sig-Value`, the encoding the AWS signers (JavaScript SDK, AWS CLI) emit,
    /// over SHA-256 or SHA-1 (what CloudFront assumes for ECDSA too when `Hash-Algorithm` is absent).
    pub fn sign(&self, message: &[u8], hash: HashAlgorithm) -> Result<Vec<u8>, SignError> {
        match (&self.0.inner, hash) {
            (Inner::Rsa { aws, .. }, HashAlgorithm::Sha256) => {
                let mut sig = vec![0; aws.public_modulus_len()];
                aws.sign(
                    &lc::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .map_err(|_| SignError::Backend)?;
                Ok(sig)
            }
            (Inner::Rsa { sha1, .. }, HashAlgorithm::Sha1) => {
                use rsa::signature::Signer as _;
                let sig: rsa::pkcs1v15::Signature =
                    sha1.try_sign(message).map_err(|_| SignError::Backend)?;
                Ok(Box::<[u8]>::from(sig).into_vec())
            }
            (Inner::Ecdsa(kp), HashAlgorithm::Sha256) => {
                let sig = kp
                    .sign(&SystemRandom::new(), message)
                    .map_err(|_| SignError::Backend)?;
                Ok(sig.as_ref().to_vec())
            }
            (Inner::Ecdsa(kp), HashAlgorithm::Sha1) => {
                let sig = kp
                    .sign_digest(&sha1_as_p256_digest(message)?)
                    .map_err(|_| SignError::Backend)?;
                Ok(sig.as_ref().to_vec())
            }
        }
    }
}

/// AWS-LC signs ECDSA P-256 only over a SHA-256-sized digest, so SHA-1's 20 bytes are widened
/// with 12 leading zero bytes. ECDSA reads the digest as a big-endian integer (SEC 1 section
/// 4.1.3, step 5: a hash no longer than the group order is used whole), so the widened value is
/// the same integer as the SHA-1 digest and the signature is exactly ECDSA with SHA-1, as
/// `openssl dgst -sha1 -verify` confirms in tests/openssl.rs.
fn sha1_as_p256_digest(message: &[u8]) -> Result<digest::Digest, SignError> {
    let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, message);
    let mut widened = [0u8; 32];
    widened[32 - sha1.as_ref().len()..].copy_from_slice(sha1.as_ref());
    digest::Digest::import_less_safe(&widened, &digest::SHA256).map_err(|_| SignError::Backend)
}

enum PublicInner {
    Rsa {
        sha1: lc::ParsedPublicKey,
        sha256: lc::ParsedPublicKey,
    },
    Ecdsa {
        sha1: lc::ParsedPublicKey,
        sha256: lc::ParsedPublicKey,
    },
}

/// A parsed public key, as in a CloudFront key group; cheap to clone.
#[derive(Clone)]
pub struct VerifyingKey(Arc<PublicInner>);

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("type", &self.key_type())
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Parses an SPKI `PUBLIC KEY` (RSA-2048 or P-256) or a PKCS#1 `RSA PUBLIC KEY`.
    pub fn from_pem(pem_text: &str) -> Result<Self, KeyError> {
        let blocks = pem::blocks(pem_text)?;
        let block = &blocks[0];
        match block.label.as_str() {
            "PUBLIC KEY" => {
                let info = spki::SubjectPublicKeyInfoRef::try_from(block.der.as_slice())
                    .map_err(|_| KeyError::Malformed("PUBLIC KEY".into()))?;
                match key_type_of(&info.algorithm)? {
                    KeyType::EcdsaP256 => {
                        let parse = |alg| {
                            lc::ParsedPublicKey::new(alg, &block.der)
                                .map_err(|_| KeyError::Malformed("ECDSA PUBLIC KEY".into()))
                        };
                        Ok(VerifyingKey(Arc::new(PublicInner::Ecdsa {
                            sha1: parse(&lc::ECDSA_P256_SHA1_ASN1)?,
                            sha256: parse(&lc::ECDSA_P256_SHA256_ASN1)?,
                        })))
                    }
                    KeyType::Rsa2048 => Self::rsa(&block.der),
                }
            }
            "RSA PUBLIC KEY" => Self::rsa(&block.der),
            other => Err(KeyError::WrongKind {
                expected: "a public key",
                found: other.to_string(),
            }),
        }
    }

    fn rsa(der: &[u8]) -> Result<Self, KeyError> {
        let malformed = || KeyError::Malformed("RSA PUBLIC KEY".into());
        let sha256 = lc::ParsedPublicKey::new(&lc::RSA_PKCS1_2048_8192_SHA256, der)
            .map_err(|_| malformed())?;
        let sha1 = lc::ParsedPublicKey::new(&lc::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, der)
            .map_err(|_| malformed())?;
        let parsed = rsa::PublicKey::from_public_key_der(der)
            .or_else(|_| rsa::PublicKey::from_pkcs1_der(der))
            .map_err(|_| malformed())?;
        let bits = rsa::traits::PublicKeyParts::size(&parsed) * 8;
        if bits != 2048 {
            return Err(KeyError::Unsupported(format!("RSA-{bits}")));
        }
        Ok(VerifyingKey(Arc::new(PublicInner::Rsa { sha1, sha256 })))
    }

    /// Which kind of key this is.
    pub fn key_type(&self) -> KeyType {
        match *self.0 {
            PublicInner::Rsa { .. } => KeyType::Rsa2048,
            PublicInner::Ecdsa { .. } => KeyType::EcdsaP256,
        }
    }

    /// Checks `signature` over `message` as CloudFront would for `hash`: PKCS#1 v1.5 for RSA, an
    /// ASN.1 DER `ECDSA-Sig-Value` for ECDSA.
    pub fn verify(&self, message: &[u8], signature: &[u8], hash: HashAlgorithm) -> bool {
        let key = match (&*self.0, hash) {
            (
                PublicInner::Rsa { sha1, .. } | PublicInner::Ecdsa { sha1, .. },
                HashAlgorithm::Sha1,
            ) => sha1,
            (
                PublicInner::Rsa { sha256, .. } | PublicInner::Ecdsa { sha256, .. },
                HashAlgorithm::Sha256,
            ) => sha256,
        };
        key.verify_sig(message, signature).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name);
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn every_accepted_private_key_encoding_parses() {
        for (file, kind) in [
            ("rsa2048_pkcs8.pem", KeyType::Rsa2048),
            ("rsa2048_pkcs1.pem", KeyType::Rsa2048),
            ("ec_p256_sec1.pem", KeyType::EcdsaP256),
            ("ec_p256_pkcs8.pem", KeyType::EcdsaP256),
        ] {
            assert_eq!(
                SigningKey::from_pem(&testdata(file)).unwrap().key_type(),
                kind,
                "{file}"
            );
        }
    }

    #[test]
    fn every_accepted_public_key_encoding_parses() {
        for (file, kind) in [
            ("rsa2048_public.pem", KeyType::Rsa2048),
            ("rsa2048_public_pkcs1.pem", KeyType::Rsa2048),
            ("ec_p256_public.pem", KeyType::EcdsaP256),
        ] {
            assert_eq!(
                VerifyingKey::from_pem(&testdata(file)).unwrap().key_type(),
                kind,
                "{file}"
            );
        }
    }

    #[test]
    fn keys_cloudfront_does_not_accept_are_unsupported() {
        for file in ["rsa1024.pem", "ec_p384.pem", "ed25519.pem"] {
            let err = SigningKey::from_pem(&testdata(file)).unwrap_err();
            assert!(matches!(err, KeyError::Unsupported(_)), "{file}: {err}");
        }
        for file in ["rsa1024_public.pem", "ec_p384_public.pem"] {
            let err = VerifyingKey::from_pem(&testdata(file)).unwrap_err();
            assert!(matches!(err, KeyError::Unsupported(_)), "{file}: {err}");
        }
        let msg = SigningKey::from_pem(&testdata("rsa1024.pem"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("RSA-1024"), "{msg}");
    }

    #[test]
    fn encrypted_keys_get_a_clear_error() {
        for file in ["ec_p256_encrypted.pem", "rsa2048_legacy_encrypted.pem"] {
            assert_eq!(
                SigningKey::from_pem(&testdata(file)).unwrap_err(),
                KeyError::Encrypted,
                "{file}"
            );
        }
    }

    #[test]
    fn malformed_and_non_pem_input_is_refused() {
        assert!(matches!(
            SigningKey::from_pem(&testdata("garbage.pem")),
            Err(KeyError::Malformed(_))
        ));
        assert_eq!(
            SigningKey::from_pem("not a key").unwrap_err(),
            KeyError::NotPem
        );
        assert!(matches!(
            SigningKey::from_pem(&testdata("ec_p256_public.pem")),
            Err(KeyError::WrongKind { .. })
        ));
        assert!(matches!(
            VerifyingKey::from_pem(&testdata("ec_p256_pkcs8.pem")),
            Err(KeyError::WrongKind { .. })
        ));
    }

    #[test]
    fn pem_output_round_trips_through_the_parser() {
        let key = SigningKey::from_pem(&testdata("ec_p256_sec1.pem")).unwrap();
        let again = SigningKey::from_pem(&key.private_key_pem()).unwrap();
        assert_eq!(again.public_key_pem(), key.public_key_pem());
        assert!(
            key.private_key_pem()
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let key = SigningKey::from_pem(&testdata("ec_p256_sec1.pem")).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("BEGIN"), "{shown}");
        assert!(shown.contains("EcdsaP256"), "{shown}");
    }

    #[test]
    fn rsa_keys_expose_their_public_numbers_and_ecdsa_keys_none() {
        let rsa = SigningKey::from_pem(&testdata("rsa2048_pkcs8.pem")).unwrap();
        let (n, e) = rsa.rsa_public_numbers().unwrap();
        assert_eq!(n.len(), 256);
        assert_eq!(e, [1, 0, 1]);
        let ec = SigningKey::from_pem(&testdata("ec_p256_sec1.pem")).unwrap();
        assert!(ec.rsa_public_numbers().is_none());
    }

    #[test]
    fn hash_names_parse_case_insensitively() {
        assert_eq!(
            "SHA256".parse::<HashAlgorithm>().unwrap(),
            HashAlgorithm::Sha256
        );
        assert_eq!(
            "sha1".parse::<HashAlgorithm>().unwrap(),
            HashAlgorithm::Sha1
        );
        assert!("md5".parse::<HashAlgorithm>().is_err());
        assert_eq!(HashAlgorithm::Sha256.to_string(), "sha256");
    }
}
