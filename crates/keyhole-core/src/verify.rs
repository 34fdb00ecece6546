//! What CloudFront does with a trusted key group: decode, check the signature, the Resource, the
//! time window and the source IP. The local stack, `keyhole verify` and the tests all use it.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::signer::URL_PARAMS;
use crate::{HashAlgorithm, Policy, VerifyError, VerifyingKey, cf_base64};

/// Larger cookie or parameter values are refused before any decoding work; real ones are a few
/// hundred bytes, and browsers cap a cookie at 4096.
const MAX_VALUE_LEN: usize = 4096;

/// What a verified cookie set or URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The key pair id that signed it.
    pub key_pair_id: String,
    /// The policy's Resource (for canned forms, the exact URL).
    pub resource: String,
    /// DateLessThan, epoch seconds.
    pub expires_at: i64,
    /// DateGreaterThan, if any.
    pub starts_at: Option<i64>,
    /// The IpAddress range, if any, as `a.b.c.d/n`.
    pub ip: Option<String>,
}

/// Verifies signed cookies and URLs against a set of trusted public keys (a key group).
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    keys: HashMap<String, VerifyingKey>,
}

/// The parts CloudFront reads, whichever form (cookies or URL) they came in.
struct Parts<'a> {
    policy: Option<&'a str>,
    expires: Option<&'a str>,
    signature: Option<&'a str>,
    key_pair_id: Option<&'a str>,
    hash: Option<&'a str>,
}

impl Verifier {
    /// A verifier that trusts no key yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `key` under `key_pair_id` (the CloudFront public key id).
    pub fn with_key(mut self, key_pair_id: impl Into<String>, key: VerifyingKey) -> Self {
        self.keys.insert(key_pair_id.into(), key);
        self
    }

    /// Verifies a signed cookie set (as parsed by [`crate::parse_cookie_header`]) for a request to
    /// `request_url` (scheme, host, path and query) from `client_ip` at `now` (epoch seconds).
    /// When a name repeats, the first value wins, as browsers send the most specific Path first.
    pub fn verify_cookies(
        &self,
        cookies: &[(&str, &str)],
        request_url: &str,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Grant, VerifyError> {
        let get = |name: &str| cookies.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let parts = Parts {
            policy: get("CloudFront-Policy"),
            expires: get("CloudFront-Expires"),
            signature: get("CloudFront-Signature"),
            key_pair_id: get("CloudFront-Key-Pair-Id"),
            hash: get("CloudFront-Hash-Algorithm"),
        };
        self.check(&parts, "CloudFront-", request_url, client_ip, now)
    }

    /// Verifies a signed URL (canned or custom) as requested from `client_ip` at `now`.
    pub fn verify_url(
        &self,
        signed_url: &str,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Grant, VerifyError> {
        let (base, query) = signed_url
            .split_once('?')
            .ok_or_else(|| VerifyError::Malformed("the URL has no query string".into()))?;
        let mut kept = Vec::new();
        let mut found: HashMap<&str, &str> = HashMap::new();
        for param in query.split('&') {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            if URL_PARAMS.contains(&name) {
                if found.insert(name, value).is_some() {
                    return Err(VerifyError::Malformed(format!("{name} appears twice")));
                }
            } else {
                kept.push(param);
            }
        }
        let request_url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let parts = Parts {
            policy: found.get("Policy").copied(),
            expires: found.get("Expires").copied(),
            signature: found.get("Signature").copied(),
            key_pair_id: found.get("Key-Pair-Id").copied(),
            hash: found.get("Hash-Algorithm").copied(),
        };
        self.check(&parts, "", &request_url, client_ip, now)
    }

    fn check(
        &self,
        parts: &Parts<'_>,
        prefix: &str,
        request_url: &str,
        client_ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Grant, VerifyError> {
        let missing = |name: &str| VerifyError::Malformed(format!("missing {prefix}{name}"));
        check_sizes(parts, prefix)?;
        let key_pair_id = parts.key_pair_id.ok_or_else(|| missing("Key-Pair-Id"))?;
        let signature = parts.signature.ok_or_else(|| missing("Signature"))?;
        let hash = hash_algorithm(parts.hash, prefix)?;
        let key = self
            .keys
            .get(key_pair_id)
            .ok_or_else(|| VerifyError::UnknownKeyPairId(key_pair_id.to_string()))?;
        let signature = cf_base64::decode(signature).map_err(|_| {
            VerifyError::Malformed(format!("{prefix}Signature is not CloudFront base64"))
        })?;
        let signed = Signed {
            key,
            signature: &signature,
            hash,
            prefix,
        };
        let policy = match (parts.policy, parts.expires) {
            (Some(encoded), _) => signed.custom_policy(encoded, request_url)?,
            (None, Some(expires)) => signed.canned_policy(expires, request_url)?,
            (None, None) => return Err(missing("Policy or Expires")),
        };
        check_conditions(&policy, client_ip, now)?;
        Ok(Grant {
            key_pair_id: key_pair_id.to_string(),
            resource: policy.resource().to_string(),
            expires_at: policy.expires_at(),
            starts_at: policy.starts_at(),
            ip: policy.ip_range().map(|r| r.to_string()),
        })
    }
}

/// Refuses any part larger than a real one could be, before decoding anything.
fn check_sizes(parts: &Parts<'_>, prefix: &str) -> Result<(), VerifyError> {
    for (name, value) in [
        ("Policy", parts.policy),
        ("Expires", parts.expires),
        ("Signature", parts.signature),
        ("Key-Pair-Id", parts.key_pair_id),
        ("Hash-Algorithm", parts.hash),
    ] {
        if value.is_some_and(|v| v.len() > MAX_VALUE_LEN) {
            return Err(VerifyError::Malformed(format!(
                "{prefix}{name} is too large"
            )));
        }
    }
    Ok(())
}

/// `Hash-Algorithm`: absent means SHA-1, as CloudFront assumes.
fn hash_algorithm(value: Option<&str>, prefix: &str) -> Result<HashAlgorithm, VerifyError> {
    match value {
        None | Some("SHA1") => Ok(HashAlgorithm::Sha1),
        Some("SHA256") => Ok(HashAlgorithm::Sha256),
        Some(_) => Err(VerifyError::Malformed(format!(
            "{prefix}Hash-Algorithm must be SHA1 or SHA256"
        ))),
    }
}

/// The policy's time window and source-IP condition hold for this request.
fn check_conditions(
    policy: &Policy,
    client_ip: Option<IpAddr>,
    now: i64,
) -> Result<(), VerifyError> {
    if now >= policy.expires_at() {
        return Err(VerifyError::Expired);
    }
    if policy.starts_at().is_some_and(|starts| now < starts) {
        return Err(VerifyError::NotYetValid);
    }
    if let Some(range) = policy.ip_range() {
        match client_ip {
            None => return Err(VerifyError::SourceIpRequired(range.to_string())),
            Some(ip) if !range.contains(ip) => return Err(VerifyError::IpNotAllowed),
            Some(_) => {}
        }
    }
    Ok(())
}

/// A decoded signature with the key and hash it is checked with.
struct Signed<'a> {
    key: &'a VerifyingKey,
    signature: &'a [u8],
    hash: HashAlgorithm,
    prefix: &'a str,
}

impl Signed<'_> {
    fn malformed(&self, what: &str) -> VerifyError {
        VerifyError::Malformed(format!("{}{what}", self.prefix))
    }

    /// A custom policy: the signature covers its bytes, and its Resource must cover the URL.
    fn custom_policy(&self, encoded: &str, request_url: &str) -> Result<Policy, VerifyError> {
        let json = cf_base64::decode(encoded)
            .map_err(|_| self.malformed("Policy is not CloudFront base64"))?;
        if !self.key.verify(&json, self.signature, self.hash) {
            return Err(VerifyError::BadSignature);
        }
        let json = std::str::from_utf8(&json).map_err(|_| self.malformed("Policy is not UTF-8"))?;
        let policy =
            Policy::from_json(json).map_err(|e| self.malformed(&format!("Policy: {e}")))?;
        if !policy.covers(request_url) {
            return Err(VerifyError::WrongResource);
        }
        Ok(policy)
    }

    /// A canned policy: its Resource is the request URL itself, so a signature made for another
    /// URL simply does not verify.
    fn canned_policy(&self, expires: &str, request_url: &str) -> Result<Policy, VerifyError> {
        let expires: i64 = expires
            .parse()
            .map_err(|_| self.malformed("Expires is not a number"))?;
        let policy = Policy::new(request_url, expires)
            .map_err(|_| VerifyError::Malformed("empty request URL".into()))?;
        if !self
            .key
            .verify(policy.to_json().as_bytes(), self.signature, self.hash)
        {
            return Err(VerifyError::BadSignature);
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyType, Signer, SigningKey, parse_cookie_header};
    use proptest::prelude::*;
    use std::sync::OnceLock;

    const URL: &str = "https://d.example/users/u1/cat.png";
    const SCOPE: &str = "https://d.example/users/u1/*";

    // Key generation (RSA especially) is slow; share one key per type across tests.
    fn key(kind: KeyType) -> SigningKey {
        static RSA: OnceLock<SigningKey> = OnceLock::new();
        static EC: OnceLock<SigningKey> = OnceLock::new();
        let cell = match kind {
            KeyType::Rsa2048 => &RSA,
            KeyType::EcdsaP256 => &EC,
        };
        cell.get_or_init(|| SigningKey::generate(kind).unwrap())
            .clone()
    }

    fn setup(kind: KeyType, hash: HashAlgorithm) -> (Signer, Verifier) {
        let k = key(kind);
        let verifier = Verifier::new().with_key("K1", k.verifying_key().unwrap());
        (Signer::new(k, "K1", hash), verifier)
    }

    fn as_refs<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        pairs.iter().map(|(n, v)| (*n, v.as_str())).collect()
    }

    fn all_combinations() -> Vec<(KeyType, HashAlgorithm)> {
        vec![
            (KeyType::Rsa2048, HashAlgorithm::Sha1),
            (KeyType::Rsa2048, HashAlgorithm::Sha256),
            (KeyType::EcdsaP256, HashAlgorithm::Sha1),
            (KeyType::EcdsaP256, HashAlgorithm::Sha256),
        ]
    }

    #[test]
    fn custom_cookies_verify_for_every_key_type_and_hash() {
        for (kind, hash) in all_combinations() {
            let (signer, verifier) = setup(kind, hash);
            let policy = Policy::new(SCOPE, 2000).unwrap().starting_at(1000);
            let cookies = signer.cookies(&policy).unwrap().pairs();
            let grant = verifier
                .verify_cookies(&as_refs(&cookies), URL, None, 1500)
                .unwrap();
            assert_eq!(grant.resource, SCOPE);
            assert_eq!(grant.expires_at, 2000);
            assert_eq!(grant.starts_at, Some(1000));
            assert_eq!(grant.key_pair_id, "K1");
        }
    }

    #[test]
    fn canned_cookies_and_both_url_forms_verify() {
        for (kind, hash) in all_combinations() {
            let (signer, verifier) = setup(kind, hash);
            let cookies = signer.canned_cookies(URL, 2000).unwrap().pairs();
            assert!(
                verifier
                    .verify_cookies(&as_refs(&cookies), URL, None, 1500)
                    .is_ok()
            );
            let canned = signer.canned_url(URL, 2000).unwrap();
            assert!(verifier.verify_url(&canned, None, 1500).is_ok(), "{canned}");
            let custom = signer
                .signed_url(
                    &format!("{URL}?size=big"),
                    &Policy::new(SCOPE, 2000).unwrap(),
                )
                .unwrap();
            assert!(verifier.verify_url(&custom, None, 1500).is_ok(), "{custom}");
        }
    }

    #[test]
    fn sha256_adds_the_hash_algorithm_cookie_and_sha1_does_not() {
        let (signer, _) = setup(KeyType::Rsa2048, HashAlgorithm::Sha256);
        let c = signer.canned_cookies(URL, 10).unwrap();
        assert_eq!(c.get("CloudFront-Hash-Algorithm"), Some("SHA256"));
        let (signer, _) = setup(KeyType::Rsa2048, HashAlgorithm::Sha1);
        assert_eq!(
            signer
                .canned_cookies(URL, 10)
                .unwrap()
                .get("CloudFront-Hash-Algorithm"),
            None
        );
        assert!(
            !signer
                .canned_url(URL, 10)
                .unwrap()
                .contains("Hash-Algorithm")
        );
    }

    #[test]
    fn urls_to_sign_must_be_absolute_ascii_and_unsigned() {
        let (signer, _) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        for bad in [
            "/users/u1/a.png",
            "ftp://d.example/a.png",
            "https://",
            "https://d.example/caf\u{e9}.png",
            "https://d.example/a b.png",
            "https://d.example/a.png#x",
            "https://d.example/a.png?Key-Pair-Id=K",
        ] {
            assert!(
                matches!(
                    signer.canned_url(bad, 10),
                    Err(crate::SignError::InvalidUrl(_))
                ),
                "{bad}"
            );
        }
        assert!(
            signer
                .canned_url("https://d.example/caf%C3%A9.png?x=1", 10)
                .is_ok()
        );
    }

    #[test]
    fn canned_cookies_refuse_wildcards() {
        let (signer, _) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        assert!(matches!(
            signer.canned_cookies(SCOPE, 10),
            Err(crate::SignError::InvalidUrl(_))
        ));
        assert!(signer.canned_cookies(&format!("{URL}?v=1"), 10).is_ok());
    }

    #[test]
    fn resources_that_are_not_urls_are_refused_for_every_form() {
        let (signer, _) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        let refused = Err(crate::SignError::Policy(crate::PolicyError::NotAUrl(
            "not a url".into(),
        )));
        assert_eq!(signer.canned_cookies("not a url", 10).map(|_| ()), refused);
        let policy = Policy::new("not a url", 10).unwrap();
        assert_eq!(signer.cookies(&policy).map(|_| ()), refused);
        assert_eq!(signer.signed_url(URL, &policy).map(|_| ()), refused);
    }

    #[test]
    fn ecdsa_with_sha1_signs_without_a_hash_algorithm_cookie_and_verifies() {
        // CloudFront's default hash for ECDSA keys too: nothing announces it.
        let (signer, verifier) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha1);
        let c = signer.cookies(&Policy::new(SCOPE, 2000).unwrap()).unwrap();
        assert_eq!(c.get("CloudFront-Hash-Algorithm"), None);
        assert!(
            verifier
                .verify_cookies(&as_refs(&c.pairs()), URL, None, 1)
                .is_ok()
        );
        let url = signer.canned_url(URL, 2000).unwrap();
        assert!(!url.contains("Hash-Algorithm"), "{url}");
        assert!(verifier.verify_url(&url, None, 1).is_ok());
    }

    #[test]
    fn an_ecdsa_signature_checked_under_the_other_hash_is_a_bad_signature() {
        let (sha1, verifier) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha1);
        let (sha256, _) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        let policy = Policy::new(SCOPE, 2000).unwrap();
        let announced_sha256: Vec<(&str, String)> = sha1
            .cookies(&policy)
            .unwrap()
            .pairs()
            .into_iter()
            .chain([("CloudFront-Hash-Algorithm", "SHA256".to_string())])
            .collect();
        assert_eq!(
            verifier.verify_cookies(&as_refs(&announced_sha256), URL, None, 1),
            Err(VerifyError::BadSignature)
        );
        let unannounced: Vec<(&str, String)> = sha256
            .cookies(&policy)
            .unwrap()
            .pairs()
            .into_iter()
            .filter(|(n, _)| *n != "CloudFront-Hash-Algorithm")
            .collect();
        assert_eq!(
            verifier.verify_cookies(&as_refs(&unannounced), URL, None, 1),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn cookies_from_a_cookie_header_verify() {
        let (signer, verifier) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        let cookies = signer.cookies(&Policy::new(SCOPE, 2000).unwrap()).unwrap();
        let header: Vec<String> = cookies
            .pairs()
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let header = format!("session=x; {}", header.join("; "));
        assert!(
            verifier
                .verify_cookies(&parse_cookie_header(&header), URL, None, 1)
                .is_ok()
        );
    }

    #[test]
    fn expired_cookies_are_rejected() {
        let (signer, verifier) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        let c = signer
            .cookies(&Policy::new(SCOPE, 2000).unwrap())
            .unwrap()
            .pairs();
        assert_eq!(
            verifier.verify_cookies(&as_refs(&c), URL, None, 2000),
            Err(VerifyError::Expired)
        );
    }

    #[test]
    fn cookies_used_before_their_start_are_not_yet_valid() {
        let (signer, verifier) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        let c = signer
            .cookies(&Policy::new(SCOPE, 2000).unwrap().starting_at(1000))
            .unwrap()
            .pairs();
        assert_eq!(
            verifier.verify_cookies(&as_refs(&c), URL, None, 999),
            Err(VerifyError::NotYetValid)
        );
    }

    #[test]
    fn a_url_outside_the_resource_is_the_wrong_resource() {
        let (signer, verifier) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        let c = signer
            .cookies(&Policy::new(SCOPE, 2000).unwrap())
            .unwrap()
            .pairs();
        assert_eq!(
            verifier.verify_cookies(&as_refs(&c), "https://d.example/users/u2/cat.png", None, 1),
            Err(VerifyError::WrongResource)
        );
    }

    #[test]
    fn clients_outside_the_ip_range_or_without_an_address_are_not_allowed() {
        let (signer, verifier) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        let policy = Policy::new(SCOPE, 2000)
            .unwrap()
            .from_ip("192.0.2.0/24".parse().unwrap());
        let c = signer.cookies(&policy).unwrap().pairs();
        let c = as_refs(&c);
        assert!(
            verifier
                .verify_cookies(&c, URL, Some("192.0.2.9".parse().unwrap()), 1)
                .is_ok()
        );
        assert_eq!(
            verifier.verify_cookies(&c, URL, Some("198.51.100.1".parse().unwrap()), 1),
            Err(VerifyError::IpNotAllowed)
        );
        assert_eq!(
            verifier.verify_cookies(&c, URL, None, 1),
            Err(VerifyError::SourceIpRequired("192.0.2.0/24".into()))
        );
    }

    #[test]
    fn an_unknown_key_pair_id_is_rejected() {
        let (signer, _) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        let verifier =
            Verifier::new().with_key("OTHER", key(KeyType::EcdsaP256).verifying_key().unwrap());
        let c = signer
            .cookies(&Policy::new(SCOPE, 2000).unwrap())
            .unwrap()
            .pairs();
        assert_eq!(
            verifier.verify_cookies(&as_refs(&c), URL, None, 1),
            Err(VerifyError::UnknownKeyPairId("K1".into()))
        );
    }

    #[test]
    fn a_tampered_policy_has_a_bad_signature() {
        let (signer, verifier) = setup(KeyType::Rsa2048, HashAlgorithm::Sha1);
        let good = signer.cookies(&Policy::new(SCOPE, 2000).unwrap()).unwrap();
        let wider = cf_base64::encode(
            Policy::new("https://d.example/*", 2000)
                .unwrap()
                .to_json()
                .as_bytes(),
        );
        let pairs = good.pairs();
        let c: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(n, v)| {
                (
                    *n,
                    if *n == "CloudFront-Policy" {
                        wider.as_str()
                    } else {
                        v.as_str()
                    },
                )
            })
            .collect();
        assert_eq!(
            verifier.verify_cookies(&c, URL, None, 1),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn a_canned_signature_for_another_url_is_a_bad_signature() {
        let (signer, verifier) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        let c = signer.canned_cookies(URL, 2000).unwrap().pairs();
        assert_eq!(
            verifier.verify_cookies(&as_refs(&c), "https://d.example/users/u1/dog.png", None, 1),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn a_sha256_signature_announced_as_sha1_is_a_bad_signature() {
        let (signer, verifier) = setup(KeyType::Rsa2048, HashAlgorithm::Sha256);
        let c = signer
            .cookies(&Policy::new(SCOPE, 2000).unwrap())
            .unwrap()
            .pairs();
        let c: Vec<_> = as_refs(&c)
            .into_iter()
            .filter(|(n, _)| *n != "CloudFront-Hash-Algorithm")
            .collect();
        assert_eq!(
            verifier.verify_cookies(&c, URL, None, 1),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn missing_or_garbled_parts_are_malformed() {
        let (signer, verifier) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        let c = signer
            .cookies(&Policy::new(SCOPE, 2000).unwrap())
            .unwrap()
            .pairs();
        let c = as_refs(&c);
        for drop in [
            "CloudFront-Policy",
            "CloudFront-Signature",
            "CloudFront-Key-Pair-Id",
        ] {
            let partial: Vec<_> = c.iter().copied().filter(|(n, _)| *n != drop).collect();
            assert!(
                matches!(
                    verifier.verify_cookies(&partial, URL, None, 1),
                    Err(VerifyError::Malformed(_))
                ),
                "{drop}"
            );
        }
        let replace = |name: &str, value: &'static str| -> Vec<(&'static str, &str)> {
            c.iter()
                .map(|(n, v)| (*n, if *n == name { value } else { *v }))
                .collect()
        };
        for (name, value) in [
            ("CloudFront-Signature", "not+base64/"),
            ("CloudFront-Hash-Algorithm", "MD5"),
        ] {
            assert!(
                matches!(
                    verifier.verify_cookies(&replace(name, value), URL, None, 1),
                    Err(VerifyError::Malformed(_))
                ),
                "{name}"
            );
        }
        let huge = "A".repeat(MAX_VALUE_LEN + 1);
        let huge: &'static str = Box::leak(huge.into_boxed_str());
        assert!(matches!(
            verifier.verify_cookies(&replace("CloudFront-Policy", huge), URL, None, 1),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            verifier.verify_url(URL, None, 1),
            Err(VerifyError::Malformed(_))
        ));
    }

    #[test]
    fn a_signed_url_with_an_edited_query_has_a_bad_signature() {
        let (signer, verifier) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        let url = signer.canned_url(&format!("{URL}?v=1"), 2000).unwrap();
        assert_eq!(
            verifier.verify_url(&url.replace("v=1", "v=2"), None, 1),
            Err(VerifyError::BadSignature)
        );
    }

    // AWS's documented wildcard examples, each signed into real cookies and checked by the
    // verifier. Source: Amazon CloudFront Developer Guide, "Create a signed URL using a custom
    // policy", section "Values that you specify in the policy statement ..." (Resource) and
    // "Example policy statements ...":
    // https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-creating-signed-url-custom-policy.html

    /// Whether cookies signed for `resource` open `url`; any refusal other than the Resource is a
    /// test bug.
    fn opens(resource: &str, url: &str) -> bool {
        let (signer, verifier) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
        let c = signer
            .cookies(&Policy::new(resource, 2000).unwrap())
            .unwrap()
            .pairs();
        match verifier.verify_cookies(&as_refs(&c), url, None, 1) {
            Ok(grant) => grant.resource == resource,
            Err(VerifyError::WrongResource) => false,
            Err(other) => panic!("{resource} on {url}: {other}"),
        }
    }

    /// Two Resources AWS calls equivalent open exactly the same URLs.
    fn equivalent(a: &str, b: &str, urls: &[&str]) {
        for url in urls {
            assert_eq!(opens(a, url), opens(b, url), "{a} vs {b} on {url}");
        }
    }

    #[test]
    fn the_documented_game_download_wildcard_covers_its_three_example_urls_query_included() {
        // "the value: https://d111111abcdef8.cloudfront.net/*game_download.zip* in a policy
        // matches all of the following URLs"
        let resource = "https://d111111abcdef8.cloudfront.net/*game_download.zip*";
        for url in [
            "https://d111111abcdef8.cloudfront.net/game_download.zip",
            "https://d111111abcdef8.cloudfront.net/example_game_download.zip?license=yes",
            "https://d111111abcdef8.cloudfront.net/test_game_download.zip?license=temp",
        ] {
            assert!(opens(resource, url), "{url}");
        }
        assert!(!opens(
            resource,
            "https://d111111abcdef8.cloudfront.net/game_download.tar?license=yes"
        ));
    }

    #[test]
    fn the_documented_hello_world_wildcard_applies_only_within_the_path_section() {
        // "https://www.example.com/hello*world ... matches the URLs
        // https://www.example.com/helloworld and https://www.example.com/hello-world, but it does
        // not match the URL https://www.example.net/hello?world"
        let resource = "https://www.example.com/hello*world";
        assert!(opens(resource, "https://www.example.com/helloworld"));
        assert!(opens(resource, "https://www.example.com/hello-world"));
        assert!(!opens(resource, "https://www.example.net/hello?world"));
        // The point of the example: the `*` does not run on into the query string.
        assert!(!opens(resource, "https://www.example.com/hello?world"));
    }

    #[test]
    fn the_documented_trailing_asterisk_in_the_path_implies_one_in_the_query_string() {
        // "http://example.com/hello* is equivalent to http://example.com/hello*\?*"
        let urls = [
            "http://example.com/hello",
            "http://example.com/hello/there.png",
            "http://example.com/hellothere?x=1",
            "http://example.com/hello?",
            "http://example.com/help",
            "http://example.com/x/hello",
            "https://example.com/hello",
        ];
        equivalent(
            "http://example.com/hello*",
            "http://example.com/hello*?*",
            &urls,
        );
        assert!(opens(
            "http://example.com/hello*",
            "http://example.com/hellothere?x=1"
        ));
        assert!(!opens(
            "http://example.com/hello*",
            "http://example.com/help"
        ));
    }

    #[test]
    fn the_documented_trailing_asterisk_in_the_domain_implies_asterisks_in_path_and_query() {
        // "http://example.com* is equivalent to http://example.com*/*\?*"
        let urls = [
            "http://example.com/",
            "http://example.com/a/b.png?c=d",
            "http://example.com.cdn.test/x",
            "http://example.co/x",
            "https://example.com/x",
        ];
        equivalent("http://example.com*", "http://example.com*/*?*", &urls);
        assert!(opens(
            "http://example.com*",
            "http://example.com/a/b.png?c=d"
        ));
        assert!(!opens("http://example.com*", "https://example.com/x"));
    }

    #[test]
    fn the_documented_resource_without_a_protocol_starts_with_an_asterisk_in_the_domain() {
        // "the URL *example.com in a policy is equivalent to *://*example.com/"
        let urls = [
            "https://www.example.com/",
            "http://example.com/",
            "https://www.example.com/x.png",
            "https://evil.test/x.example.com",
            "https://www.example.org/",
        ];
        equivalent("*example.com", "*://*example.com/", &urls);
        assert!(opens("*example.com", "https://www.example.com/"));
        assert!(!opens("*example.com", "https://evil.test/x.example.com"));
    }

    #[test]
    fn the_documented_lone_asterisk_matches_any_url() {
        // "An asterisk by itself ("Resource": "*") matches any URL."
        for url in [
            "https://d111111abcdef8.cloudfront.net/training/orientation.pdf",
            "http://www.example.com/?a=b",
        ] {
            assert!(opens("*", url), "{url}");
        }
    }

    #[test]
    fn the_documented_protocols_are_http_https_or_a_wildcard() {
        // "Protocol - The value must begin with http://, https://, or *://"
        for url in ["http://d.example/a.png", "https://d.example/a.png"] {
            assert!(opens("*://d.example/a.png", url), "{url}");
            assert!(opens("http*://d.example/a.png", url), "{url}");
        }
        assert!(!opens("https://d.example/a.png", "http://d.example/a.png"));
        assert!(!opens("http://d.example/a.png", "https://d.example/a.png"));
    }

    #[test]
    fn the_documented_resource_with_a_query_string_covers_exactly_that_query() {
        // "The URL, including any query strings ... For example:
        // https://d111111abcdef8.cloudfront.net/images/horizon.jpg?size=large&license=yes"
        let resource =
            "https://d111111abcdef8.cloudfront.net/images/horizon.jpg?size=large&license=yes";
        assert!(opens(resource, resource));
        assert!(!opens(
            resource,
            "https://d111111abcdef8.cloudfront.net/images/horizon.jpg?size=small&license=yes"
        ));
        assert!(!opens(
            resource,
            "https://d111111abcdef8.cloudfront.net/images/horizon.jpg"
        ));
    }

    #[test]
    fn the_documented_policy_for_one_file_covers_only_that_file() {
        // "Example policy statement: Access one file from a range of IP addresses"
        let resource = "https://d111111abcdef8.cloudfront.net/game_download.zip";
        assert!(opens(resource, resource));
        assert!(!opens(
            resource,
            "https://d111111abcdef8.cloudfront.net/game_download.zip?license=yes"
        ));
        assert!(!opens(
            resource,
            "https://d111111abcdef8.cloudfront.net/game_download.zip2"
        ));
    }

    #[test]
    fn the_documented_policy_for_a_directory_covers_its_files() {
        // "Example policy statement: Access all files in a directory ...
        // https://d111111abcdef8.cloudfront.net/training/*" with the URL
        // "https://d111111abcdef8.cloudfront.net/training/orientation.pdf"
        let resource = "https://d111111abcdef8.cloudfront.net/training/*";
        assert!(opens(
            resource,
            "https://d111111abcdef8.cloudfront.net/training/orientation.pdf"
        ));
        assert!(opens(
            resource,
            "https://d111111abcdef8.cloudfront.net/training/2023/day-1.pdf?page=2"
        ));
        assert!(!opens(
            resource,
            "https://d111111abcdef8.cloudfront.net/trainings/orientation.pdf"
        ));
    }

    #[test]
    fn the_documented_policy_for_every_distribution_covers_any_https_url() {
        // "Example policy statement: Access all files associated with a key pair ID ...
        // "Resource": "https://*" ... The signed URL must use the https:// protocol, not http://"
        assert!(opens(
            "https://*",
            "https://d111111abcdef8.cloudfront.net/training/orientation.pdf"
        ));
        assert!(!opens(
            "https://*",
            "http://d111111abcdef8.cloudfront.net/training/orientation.pdf"
        ));
    }

    #[test]
    fn a_host_wildcard_stays_in_the_domain_section() {
        assert!(opens("https://*/*", "https://any.example/any/path.png?q=1"));
        assert!(opens(
            "https://*/users/*",
            "https://cdn.example/users/a.png"
        ));
        assert!(!opens(
            "https://*/users/*",
            "https://cdn.example/admin/users/a.png"
        ));
        // With a path written after it, `https://*/` names only the root of any host.
        assert!(opens("https://*/", "https://cdn.example/"));
        assert!(!opens("https://*/", "https://cdn.example/a.png"));
        assert!(!opens(
            "https://*.cloudfront.net/*",
            "https://evil.test/d1.cloudfront.net/a.png"
        ));
    }

    #[test]
    fn keys_signers_and_verifiers_can_be_shared_across_threads() {
        fn shared<T: Send + Sync + Clone>() {}
        shared::<SigningKey>();
        shared::<crate::VerifyingKey>();
        shared::<Signer>();
        shared::<Verifier>();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn sign_then_verify_round_trips(
            which in 0usize..4,
            sub in "[a-zA-Z0-9_-]{1,20}",
            file in "[a-zA-Z0-9._-]{1,20}",
            expires in 1i64..4_000_000_000,
        ) {
            let (kind, hash) = all_combinations()[which];
            let (signer, verifier) = setup(kind, hash);
            let scope = format!("https://d.example/users/{sub}/*");
            let url = format!("https://d.example/users/{sub}/{file}");
            let c = signer.cookies(&Policy::new(scope.clone(), expires).unwrap()).unwrap().pairs();
            let grant = verifier.verify_cookies(&as_refs(&c), &url, None, expires - 1).unwrap();
            prop_assert_eq!(grant.resource, scope);
            let signed = signer.canned_url(&url, expires).unwrap();
            prop_assert!(verifier.verify_url(&signed, None, expires - 1).is_ok());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn verified_cookies_never_allow_a_url_outside_their_resource(
            sub in "[a-z0-9-]{1,12}",
            inside in any::<bool>(),
            host in "[a-z.]{1,12}",
            path in "[a-z0-9/-]{0,20}",
            tail in "[a-zA-Z0-9/._?=&*-]{0,30}",
        ) {
            let (signer, verifier) = setup(KeyType::EcdsaP256, HashAlgorithm::Sha256);
            let prefix = format!("https://d.example/users/{sub}/");
            let c = signer.cookies(&Policy::new(format!("{prefix}*"), 2000).unwrap()).unwrap().pairs();
            let url = if inside { format!("{prefix}{tail}") } else { format!("https://{host}/{path}{tail}") };
            let result = verifier.verify_cookies(&as_refs(&c), &url, None, 1);
            if url.starts_with(&prefix) {
                prop_assert!(result.is_ok());
            } else {
                prop_assert_eq!(result, Err(VerifyError::WrongResource));
            }
        }
    }
}
