//! JSON Web Key Sets: parsing an issuer's published keys into verification keys. No I/O.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::signature::{self as lc, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use serde::Deserialize;
use serde_json::Value;

use crate::error::KeySetError;

/// RSA moduli shorter than this are ignored: 1024-bit RSA is within reach of a determined
/// attacker, and no mainstream issuer publishes one.
const MIN_RSA_BITS: usize = 2048;

/// The kind of a public key, which fixes the algorithms it may verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA: RS256/384/512 and PS256/384/512.
    Rsa,
    /// ECDSA on P-256: ES256 only.
    P256,
    /// ECDSA on P-384: ES384 only.
    P384,
    /// Ed25519: EdDSA only.
    Ed25519,
}

impl KeyKind {
    /// The algorithms a key of this kind may verify, with AWS-LC's matching verifier. The RSA
    /// verifiers refuse moduli outside 2048–8192 bits by themselves.
    fn algorithms(self) -> &'static [(Algorithm, &'static dyn VerificationAlgorithm)] {
        match self {
            KeyKind::Rsa => &[
                (Algorithm::RS256, &lc::RSA_PKCS1_2048_8192_SHA256),
                (Algorithm::RS384, &lc::RSA_PKCS1_2048_8192_SHA384),
                (Algorithm::RS512, &lc::RSA_PKCS1_2048_8192_SHA512),
                (Algorithm::PS256, &lc::RSA_PSS_2048_8192_SHA256),
                (Algorithm::PS384, &lc::RSA_PSS_2048_8192_SHA384),
                (Algorithm::PS512, &lc::RSA_PSS_2048_8192_SHA512),
            ],
            KeyKind::P256 => &[(Algorithm::ES256, &lc::ECDSA_P256_SHA256_FIXED)],
            KeyKind::P384 => &[(Algorithm::ES384, &lc::ECDSA_P384_SHA384_FIXED)],
            KeyKind::Ed25519 => &[(Algorithm::EdDSA, &lc::ED25519)],
        }
    }

    fn fits(self, alg: Algorithm) -> bool {
        self.algorithms().iter().any(|(a, _)| *a == alg)
    }
}

/// One usable public key from a key set.
#[derive(Clone)]
pub struct PublicKey {
    kind: KeyKind,
    /// The key set's `alg` for this key, when it pins one.
    alg: Option<Algorithm>,
    /// The key parsed once, per algorithm it may verify: verification is the hot path, and
    /// parsing a key on every call would cost a good share of it.
    verifiers: Vec<(Algorithm, ParsedPublicKey)>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// The key's type.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// Whether a signature made with `alg` may be checked with this key: the algorithm must fit
    /// the key's type and, when the key set names an algorithm for the key, be that one.
    pub fn permits(&self, alg: Algorithm) -> bool {
        self.kind.fits(alg) && self.alg.is_none_or(|pinned| pinned == alg)
    }

    /// Checks `signature` over `message` made with `alg`; false when the algorithm is not one
    /// this key permits or the signature does not verify.
    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        self.permits(alg)
            && self
                .verifiers
                .iter()
                .find(|(a, _)| *a == alg)
                .is_some_and(|(_, key)| key.verify_sig(message, signature).is_ok())
    }

    /// Builds a key from one JWK, or says why it cannot be used for verification.
    fn from_jwk(jwk: &Jwk) -> Result<Self, &'static str> {
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            return Err("key is not for signatures");
        }
        let alg = match &jwk.common.key_algorithm {
            None => None,
            Some(a) => Some(
                crate::jwt::allowed_algorithm(&a.to_string())
                    .ok_or("key names an algorithm that is not allowed")?,
            ),
        };
        let decode = |field: &str| URL_SAFE_NO_PAD.decode(field).map_err(|_| "bad base64url");
        // The encodings AWS-LC parses: PKCS#1 RSAPublicKey for RSA, the uncompressed SEC1
        // point for ECDSA, the raw 32 bytes for Ed25519.
        let (kind, encoded) = match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => {
                let (n, e) = (decode(&rsa.n)?, decode(&rsa.e)?);
                let first = n.iter().position(|b| *b != 0).unwrap_or(n.len());
                if (n.len() - first) * 8 < MIN_RSA_BITS {
                    return Err("RSA key shorter than 2048 bits");
                }
                (KeyKind::Rsa, rsa_public_key_der(&n, &e))
            }
            AlgorithmParameters::EllipticCurve(ec) => {
                let (kind, size) = match ec.curve {
                    EllipticCurve::P256 => (KeyKind::P256, 32),
                    EllipticCurve::P384 => (KeyKind::P384, 48),
                    _ => return Err("unsupported curve"),
                };
                let (x, y) = (decode(&ec.x)?, decode(&ec.y)?);
                if x.len() != size || y.len() != size {
                    return Err("EC coordinates of the wrong length");
                }
                (kind, [&[0x04][..], &x, &y].concat())
            }
            AlgorithmParameters::OctetKeyPair(okp) => {
                if okp.curve != EllipticCurve::Ed25519 {
                    return Err("unsupported curve");
                }
                (KeyKind::Ed25519, decode(&okp.x)?)
            }
            // Symmetric ("oct") keys are never used: see `jwt::allowed_algorithm`.
            _ => return Err("not an asymmetric key"),
        };
        if let Some(a) = alg
            && !kind.fits(a)
        {
            return Err("key's algorithm does not fit its type");
        }
        let mut verifiers = Vec::new();
        for (a, lc_alg) in kind.algorithms() {
            if alg.is_none_or(|pinned| pinned == *a) {
                let key = ParsedPublicKey::new(*lc_alg, &encoded).map_err(|_| "invalid key")?;
                verifiers.push((*a, key));
            }
        }
        Ok(Self {
            kind,
            alg,
            verifiers,
        })
    }
}

/// DER for PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn length(len: usize, out: &mut Vec<u8>) {
        match len {
            0..=0x7f => out.push(len as u8),
            0x80..=0xff => out.extend([0x81, len as u8]),
            _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
        }
    }
    fn integer(magnitude: &[u8], out: &mut Vec<u8>) {
        let first = magnitude
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(magnitude.len());
        let digits = &magnitude[first..];
        // A set top bit would read as negative: DER then needs a leading zero byte.
        let pad = digits.first().is_none_or(|b| *b & 0x80 != 0);
        out.push(0x02);
        length(digits.len() + usize::from(pad), out);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(digits);
    }
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    integer(n, &mut body);
    integer(e, &mut body);
    let mut der = vec![0x30];
    length(body.len(), &mut der);
    der.extend(body);
    der
}

/// An issuer's usable keys, by `kid`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    by_kid: HashMap<String, Arc<PublicKey>>,
    /// Keys published without a `kid`: usable only by a token without one, and only when the
    /// set holds exactly one key, so there is never a choice to make.
    anonymous: Vec<Arc<PublicKey>>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<Value>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`).
    ///
    /// Keys this crate cannot or will not use (symmetric, encryption-only, unknown curve, short
    /// RSA, unparsable) are skipped rather than failing the whole set: issuers publish such keys
    /// beside their signing keys, and one odd key must not take sign-in down.
    pub fn from_json(json: &str) -> Result<Self, KeySetError> {
        let raw: RawSet = serde_json::from_str(json)
            .map_err(|e| KeySetError(format!("not a JWKS document: {e}")))?;
        let mut set = KeySet::default();
        for value in raw.keys {
            let kid = value.get("kid").and_then(Value::as_str).map(str::to_owned);
            let parsed = serde_json::from_value::<Jwk>(value)
                .map_err(|_| "unparsable JWK")
                .and_then(|jwk| PublicKey::from_jwk(&jwk));
            match (parsed, kid) {
                (Ok(key), Some(kid)) => {
                    // The first key wins a duplicated kid, so a later entry cannot shadow it.
                    set.by_kid.entry(kid).or_insert_with(|| Arc::new(key));
                }
                (Ok(key), None) => set.anonymous.push(Arc::new(key)),
                (Err(why), kid) => tracing::debug!(kid = kid.as_deref(), why, "skipping JWK"),
            }
        }
        Ok(set)
    }

    /// The key a token's `kid` names.
    pub fn find(&self, kid: Option<&str>) -> Option<&Arc<PublicKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid),
            None if self.len() == 1 => self.by_kid.values().chain(&self.anonymous).next(),
            None => None,
        }
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.by_kid.len() + self.anonymous.len()
    }

    /// Whether the set holds no usable key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_JWKS: &str = include_str!("../testdata/jwks.json");

    #[test]
    fn test_key_set_yields_its_rsa_and_ec_keys() {
        let set = KeySet::from_json(RSA_JWKS).unwrap();
        assert_eq!(set.find(Some("rsa-a")).unwrap().kind(), KeyKind::Rsa);
        assert_eq!(set.find(Some("ec-a")).unwrap().kind(), KeyKind::P256);
        assert!(set.find(Some("nope")).is_none());
        assert!(set.find(None).is_none(), "several keys: no kid, no key");
    }

    #[test]
    fn algorithm_must_fit_the_key_type() {
        let set = KeySet::from_json(RSA_JWKS).unwrap();
        let rsa = set.find(Some("rsa-a")).unwrap();
        assert!(rsa.permits(Algorithm::RS256));
        assert!(!rsa.permits(Algorithm::ES256));
        assert!(!rsa.permits(Algorithm::HS256));
        let ec = set.find(Some("ec-a")).unwrap();
        assert!(ec.permits(Algorithm::ES256));
        assert!(!ec.permits(Algorithm::ES384));
        assert!(!ec.permits(Algorithm::RS256));
    }

    #[test]
    fn a_pinned_key_algorithm_is_enforced() {
        let mut doc: Value = serde_json::from_str(RSA_JWKS).unwrap();
        let keys = doc["keys"].as_array_mut().unwrap();
        keys.retain(|k| k["kid"] == "rsa-a");
        keys[0]["alg"] = "PS256".into();
        let set = KeySet::from_json(&doc.to_string()).unwrap();
        let key = set.find(Some("rsa-a")).unwrap();
        assert!(key.permits(Algorithm::PS256));
        assert!(!key.permits(Algorithm::RS256));
        assert!(
            set.find(None).is_some(),
            "a single key serves a token without kid"
        );
    }

    #[test]
    fn unusable_keys_are_skipped_not_fatal() {
        let mut doc: Value = serde_json::from_str(RSA_JWKS).unwrap();
        let rsa = doc["keys"][0].clone();
        let keys = doc["keys"].as_array_mut().unwrap();
        keys.push(serde_json::json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}));
        let mut enc = rsa.clone();
        enc["kid"] = "enc".into();
        enc["use"] = "enc".into();
        keys.push(enc);
        let mut hs = rsa.clone();
        hs["kid"] = "hs".into();
        hs["alg"] = "HS256".into();
        keys.push(hs);
        let mut short = rsa.clone();
        short["kid"] = "short".into();
        short["n"] = URL_SAFE_NO_PAD.encode([0xC5u8; 128]).into();
        keys.push(short);
        let mut mismatched = rsa;
        mismatched["kid"] = "mismatch".into();
        mismatched["alg"] = "ES256".into();
        keys.push(mismatched);
        keys.push(
            serde_json::json!({"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA"}),
        );
        keys.push(serde_json::json!({"kty": "weird", "kid": "weird"}));

        let set = KeySet::from_json(&doc.to_string()).unwrap();
        for skipped in ["hmac", "enc", "hs", "short", "mismatch", "p521", "weird"] {
            assert!(
                set.find(Some(skipped)).is_none(),
                "{skipped} should be skipped"
            );
        }
        assert!(set.find(Some("rsa-a")).is_some());
    }

    #[test]
    fn rsa_der_matches_openssl_for_the_same_key() {
        let doc: Value = serde_json::from_str(RSA_JWKS).unwrap();
        let key = &doc["keys"][0];
        assert_eq!(key["kid"], "rsa-a");
        let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
        let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
        // testdata/rsa-a.pkcs1.der: `openssl rsa -pubin -RSAPublicKey_out -outform DER`.
        let expected = include_bytes!("../testdata/rsa-a.pkcs1.der");
        assert_eq!(rsa_public_key_der(&n, &e), expected);
        // Leading zeros in the JWK are not significant.
        assert_eq!(
            rsa_public_key_der(&[&[0, 0][..], &n].concat(), &e),
            expected
        );
    }

    #[test]
    fn a_document_without_keys_is_refused() {
        for bad in ["", "{}", "[]", r#"{"keys": {}}"#, "<html>"] {
            assert!(KeySet::from_json(bad).is_err(), "{bad:?}");
        }
        assert!(KeySet::from_json(r#"{"keys": []}"#).unwrap().is_empty());
    }
}
