//! The crate's error types, one per operation family, all in one place.
//!
//! Display strings are short and never contain key material, signatures or cookie values: they are
//! written to logs and returned to clients.

/// Why a PEM key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text holds no `-----BEGIN ...-----` block.
    #[error("not a PEM key: no -----BEGIN ...----- block found")]
    NotPem,
    /// A PEM block was found but its base64 body or DER structure is damaged.
    #[error("malformed {0}")]
    Malformed(String),
    /// The key is protected by a passphrase; keyhole needs the decrypted key.
    #[error(
        "encrypted private keys are not supported: decrypt it first (openssl pkey -in KEY -out PLAIN)"
    )]
    Encrypted,
    /// The PEM block is not the kind of key asked for (e.g. a certificate, or a public key where a private one is needed).
    #[error("expected {expected}, found a PEM block labelled {found:?}")]
    WrongKind {
        /// What the caller needed.
        expected: &'static str,
        /// The PEM label found.
        found: String,
    },
    /// A well-formed key that CloudFront does not accept (other RSA size, other curve, other algorithm).
    #[error("unsupported key: {0} (CloudFront accepts RSA-2048 and ECDSA P-256)")]
    Unsupported(String),
    /// The crypto backend could not generate a key.
    #[error("key generation failed")]
    Generation,
}

/// Why a signature could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The policy could not be built.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The URL to sign is unusable.
    #[error("invalid URL to sign: {0}")]
    InvalidUrl(String),
    /// The crypto backend refused to sign (should not happen with a parsed key).
    #[error("signing failed in the crypto backend")]
    Backend,
}

/// Why a policy (or one of its parts) is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A policy without a Resource would grant every distribution that trusts the key.
    #[error("a policy needs a non-empty Resource")]
    EmptyResource,
    /// A Resource CloudFront could never match: no `http://`, `https://` or wildcard protocol, no
    /// domain, or whitespace (request URLs arrive percent-encoded).
    #[error(
        "Resource {0:?} is not a URL CloudFront can match: expected http://, https:// or a *:// wildcard protocol, a domain and an optional path, e.g. https://d111111abcdef8.cloudfront.net/users/abc/*"
    )]
    NotAUrl(String),
    /// The source IP is not an IPv4 address or CIDR.
    #[error("invalid IP range {0:?}: expected an IPv4 address or CIDR such as 192.0.2.0/24")]
    InvalidIp(String),
    /// CloudFront policies accept IPv4 only.
    #[error("IPv6 ranges are not supported in CloudFront policies: {0:?}")]
    Ipv6(String),
    /// DateGreaterThan must be before DateLessThan.
    #[error("the start time ({starts}) must be before the expiry time ({expires})")]
    EmptyWindow {
        /// DateGreaterThan, epoch seconds.
        starts: i64,
        /// DateLessThan, epoch seconds.
        expires: i64,
    },
    /// A policy document that is not the JSON CloudFront accepts.
    #[error("malformed policy: {0}")]
    Malformed(String),
}

/// Why a CloudFront base64 string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CloudFront base64: {0}")]
pub struct DecodeError(pub(crate) String);

/// Why a cookie attribute set cannot be written into a `Set-Cookie` header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    /// Path or Domain contains characters that would end or split the header (`;`, `,`, spaces, controls).
    #[error("cookie {0} contains a character not allowed in a Set-Cookie attribute")]
    InvalidAttribute(&'static str),
    /// Browsers drop `SameSite=None` cookies that are not `Secure`.
    #[error("SameSite=None requires Secure")]
    NoneWithoutSecure,
    /// Not one of Strict, Lax, None.
    #[error("invalid SameSite value {0:?}: expected Strict, Lax or None")]
    InvalidSameSite(String),
}

/// Why CloudFront would refuse a signed URL or cookie set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Missing, duplicated, oversized or undecodable parts.
    #[error("malformed: {0}")]
    Malformed(String),
    /// The Key-Pair-Id is not in the trusted key group.
    #[error("unknown key pair id {0:?}")]
    UnknownKeyPairId(String),
    /// The signature does not match the policy and key.
    #[error("bad signature")]
    BadSignature,
    /// The policy's Resource does not cover the requested URL.
    #[error("the policy does not cover this URL")]
    WrongResource,
    /// The time is at or after DateLessThan.
    #[error("expired")]
    Expired,
    /// The time is before DateGreaterThan.
    #[error("not valid yet")]
    NotYetValid,
    /// The client address is outside the policy's IpAddress range.
    #[error("client IP not allowed by the policy")]
    IpNotAllowed,
    /// The policy has an IpAddress range (shown) and no client address was given to check.
    #[error("the policy requires a source IP in {0}, and no client IP was given")]
    SourceIpRequired(String),
}

/// Why a prefix cannot be a deny-list key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// It must start and end with `/`.
    #[error("a revocation prefix starts and ends with '/', like /users/<sub>/: {0:?}")]
    Slashes(String),
    /// Wildcards, `..`, empty segments, spaces and control characters are refused.
    #[error(
        "a revocation prefix holds no '*', '?', '..', '//', spaces or control characters: {0:?}"
    )]
    Characters(String),
    /// Longer than a key may be.
    #[error(
        "a revocation prefix is at most {} bytes",
        crate::revocation::MAX_KEY_BYTES
    )]
    TooLong,
}
