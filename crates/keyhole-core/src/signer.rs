//! Producing signed cookies and signed URLs from a key, a key pair id and a hash.

use crate::{HashAlgorithm, Policy, SignError, SignedCookies, SigningKey, cf_base64};

/// Query parameters CloudFront reserves in signed URLs.
pub(crate) const URL_PARAMS: [&str; 5] = [
    "Expires",
    "Policy",
    "Signature",
    "Key-Pair-Id",
    "Hash-Algorithm",
];

/// Whether `id` can be a key pair id: 1 to 128 ASCII letters, digits, `-` or `_`. CloudFront's
/// are upper-case letters and digits (`K2JCJMDEHXQW5F`); the rest leaves room for other key
/// stores. The id is written into a cookie value, a URL parameter and log lines, so a `;`, space
/// or control character could end or split them.
pub fn is_valid_key_pair_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A key, the CloudFront public key id it is registered under, and the hash to sign with.
/// Cheap to clone and share between threads (the key is reference-counted).
#[derive(Debug, Clone)]
pub struct Signer {
    key: SigningKey,
    key_pair_id: String,
    hash: HashAlgorithm,
}

impl Signer {
    /// Bundles a key with its CloudFront key pair id (the public key id, e.g. `K2JCJMDEHXQW5F`).
    /// Any key type signs with either hash; SHA-256 is keyhole's choice, SHA-1 what CloudFront
    /// assumes when no `Hash-Algorithm` is sent.
    pub fn new(key: SigningKey, key_pair_id: impl Into<String>, hash: HashAlgorithm) -> Self {
        Signer {
            key,
            key_pair_id: key_pair_id.into(),
            hash,
        }
    }

    /// The key pair id written into `CloudFront-Key-Pair-Id` / `Key-Pair-Id`.
    pub fn key_pair_id(&self) -> &str {
        &self.key_pair_id
    }

    /// The hash signatures are made with.
    pub fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    /// The key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    fn signature(&self, policy_json: &str) -> Result<String, SignError> {
        Ok(cf_base64::encode(
            &self.key.sign(policy_json.as_bytes(), self.hash)?,
        ))
    }

    fn hash_pair(&self, name: &'static str) -> Option<(&'static str, String)> {
        // Absent means SHA-1 to CloudFront, so only SHA-256 is announced (as the AWS signers do).
        (self.hash == HashAlgorithm::Sha256)
            .then(|| (name, self.hash.cloudfront_name().to_string()))
    }

    /// A custom-policy cookie set: `CloudFront-Policy`, `-Signature`, `-Key-Pair-Id`, and
    /// `-Hash-Algorithm` when SHA-256.
    pub fn cookies(&self, policy: &Policy) -> Result<SignedCookies, SignError> {
        policy.validate()?;
        let json = policy.to_json();
        let mut pairs = vec![
            ("CloudFront-Policy", cf_base64::encode(json.as_bytes())),
            ("CloudFront-Signature", self.signature(&json)?),
            ("CloudFront-Key-Pair-Id", self.key_pair_id.clone()),
        ];
        pairs.extend(self.hash_pair("CloudFront-Hash-Algorithm"));
        Ok(SignedCookies { pairs })
    }

    /// A canned-policy cookie set (`CloudFront-Expires` instead of `CloudFront-Policy`): valid for
    /// exactly `resource` (no wildcards) until `expires`.
    pub fn canned_cookies(&self, resource: &str, expires: i64) -> Result<SignedCookies, SignError> {
        crate::policy::check_resource(resource)?;
        if resource.contains('*') {
            // CloudFront compares a canned Resource with the request URL literally: a `*` here
            // would make cookies that never work. Wildcards need the custom form.
            return Err(SignError::InvalidUrl(
                "a canned policy cannot hold a * wildcard: use a custom policy".into(),
            ));
        }
        let json = Policy::canned_json(resource, expires)?;
        let mut pairs = vec![
            ("CloudFront-Expires", expires.to_string()),
            ("CloudFront-Signature", self.signature(&json)?),
            ("CloudFront-Key-Pair-Id", self.key_pair_id.clone()),
        ];
        pairs.extend(self.hash_pair("CloudFront-Hash-Algorithm"));
        Ok(SignedCookies { pairs })
    }

    /// `url` with `Policy`, `Key-Pair-Id`, `Signature` (and `Hash-Algorithm`) appended. The policy's
    /// Resource may be a wildcard pattern covering `url`.
    pub fn signed_url(&self, url: &str, policy: &Policy) -> Result<String, SignError> {
        check_url(url)?;
        policy.validate()?;
        let json = policy.to_json();
        let params = [
            ("Policy", cf_base64::encode(json.as_bytes())),
            ("Key-Pair-Id", self.key_pair_id.clone()),
            ("Signature", self.signature(&json)?),
        ];
        Ok(self.append(url, &params))
    }

    /// `url` with `Expires`, `Key-Pair-Id`, `Signature` (and `Hash-Algorithm`) appended; the
    /// canned policy's Resource is `url` itself, query string included.
    pub fn canned_url(&self, url: &str, expires: i64) -> Result<String, SignError> {
        check_url(url)?;
        let json = Policy::canned_json(url, expires)?;
        let params = [
            ("Expires", expires.to_string()),
            ("Key-Pair-Id", self.key_pair_id.clone()),
            ("Signature", self.signature(&json)?),
        ];
        Ok(self.append(url, &params))
    }

    // Parameter order follows the AWS JavaScript signer, so outputs compare byte for byte;
    // CloudFront itself does not care about the order.
    fn append(&self, url: &str, params: &[(&str, String)]) -> String {
        let mut out = String::from(url);
        out.push(if url.contains('?') { '&' } else { '?' });
        let mut all: Vec<(&str, String)> = params.to_vec();
        all.extend(self.hash_pair("Hash-Algorithm"));
        let joined: Vec<String> = all.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&joined.join("&"));
        out
    }
}

/// A URL we can sign: absolute, no fragment, no whitespace, no CloudFront parameters already.
fn check_url(url: &str) -> Result<(), SignError> {
    let bad = |why: &str| Err(SignError::InvalidUrl(why.to_string()));
    let Some((scheme, rest)) = url.split_once("://") else {
        return bad("expected an absolute http:// or https:// URL");
    };
    if !matches!(scheme, "http" | "https") || rest.is_empty() {
        return bad("expected an absolute http:// or https:// URL");
    }
    // Browsers send these percent-encoded, and CloudFront compares the URL as sent, so a policy
    // over the raw form would never match.
    if url
        .chars()
        .any(|c| !c.is_ascii() || c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return bad("spaces, control and non-ASCII characters must be percent-encoded");
    }
    if url.contains('#') {
        return bad("a URL to sign cannot have a #fragment");
    }
    if let Some((_, query)) = url.split_once('?') {
        for param in query.split('&') {
            let name = param.split('=').next().unwrap_or_default();
            if URL_PARAMS.contains(&name) {
                return bad("it already has CloudFront signing parameters");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_pair_ids_are_letters_digits_dashes_and_underscores() {
        for good in ["K2JCJMDEHXQW5F", "APKA9ONS7QCOWEXAMPLE", "key-1_b", "K"] {
            assert!(is_valid_key_pair_id(good), "{good}");
        }
        let long = "K".repeat(129);
        for bad in ["", "K1;x", "K1 x", "K1\n", "K1=x", "K\u{e9}", long.as_str()] {
            assert!(!is_valid_key_pair_id(bad), "{bad:?}");
        }
    }
}
