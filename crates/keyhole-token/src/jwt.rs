//! Compact JWS parsing and signature checking: pure functions, no I/O.
//!
//! Everything here runs before a key is looked up, so it is also what stands between an
//! attacker's bytes and any network work: the size and shape checks come first and are cheap.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::Rejection;
use crate::jwks::PublicKey;

/// Tokens above this size are refused unparsed. Real id tokens are 1–4 KiB; 16 KiB leaves room
/// for many groups while bounding the work one request can cause.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The algorithms this crate will ever verify: asymmetric only. `none` and the HMAC family are
/// absent on purpose: with HS256 a verifier holding only public keys could be fooled into using
/// a public key as the shared secret.
pub(crate) fn allowed_algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Present at all, even as `null`, is `Some`: `Option`'s own deserializer would read
    /// `"crit": null` as absent.
    #[serde(default, deserialize_with = "present")]
    crit: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A decoded part as JSON text. RFC 7515 §4 makes the header (and JWT the payload) UTF-8 JSON;
/// serde_json checks UTF-8 only in the strings it keeps, so a header with invalid UTF-8 in a
/// member this crate ignores would otherwise parse.
fn json_text(bytes: &[u8]) -> Result<&str, Rejection> {
    std::str::from_utf8(bytes).map_err(|_| Rejection::Malformed)
}

/// A token that passed the shape checks, not yet verified.
#[derive(Debug)]
pub(crate) struct Unverified<'a> {
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    /// The third part, still base64url.
    pub signature: &'a str,
    /// The header's algorithm, already known to be an allowed asymmetric one.
    pub alg: Algorithm,
    /// The header's key id.
    pub kid: Option<String>,
    /// The payload as a JSON object. Untrusted until the signature is checked; only `iss` is
    /// read before that, to pick the issuer's key set.
    pub claims: Map<String, Value>,
}

fn is_base64url(part: &str) -> bool {
    part.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Size and shape checks, header and payload decoding, algorithm allow-list.
pub(crate) fn parse(token: &str) -> Result<Unverified<'_>, Rejection> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Rejection::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Malformed);
    };
    // The signature may be empty only so that an `alg: none` token is reported as what it is
    // (an unsupported algorithm) rather than as a shape error; it can never verify.
    if header.is_empty()
        || payload.is_empty()
        || ![header, payload, signature].iter().all(|p| is_base64url(p))
    {
        return Err(Rejection::Malformed);
    }

    let header_bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| Rejection::Malformed)?;
    // Read as a whole JSON value first: serde_json skips members a struct ignores without
    // checking their escapes, so the struct alone would accept a header that is not JSON.
    let header_json: Value =
        serde_json::from_str(json_text(&header_bytes)?).map_err(|_| Rejection::Malformed)?;
    let parsed = RawHeader::deserialize(header_json).map_err(|_| Rejection::Malformed)?;
    // RFC 7515 §4.1.11: a recipient must refuse critical extensions it does not understand, and
    // this crate understands none.
    if parsed.crit.is_some() {
        return Err(Rejection::Malformed);
    }
    let alg = allowed_algorithm(&parsed.alg).ok_or(Rejection::UnsupportedAlgorithm)?;

    let payload_bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| Rejection::Malformed)?;
    let claims: Map<String, Value> =
        serde_json::from_str(json_text(&payload_bytes)?).map_err(|_| Rejection::Malformed)?;

    Ok(Unverified {
        signing_input: &token[..header.len() + 1 + payload.len()],
        signature,
        alg,
        kid: parsed.kid,
        claims,
    })
}

/// Checks the signature with `key`. The algorithm comes from the token header but has already
/// passed the allow-list, and must also be one the key itself permits (its type, and its `alg`
/// when the key set pins one): the header alone never decides.
pub(crate) fn verify_signature(token: &Unverified<'_>, key: &PublicKey) -> Result<(), Rejection> {
    if !key.permits(token.alg) {
        return Err(Rejection::UnsupportedAlgorithm);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(token.signature)
        .map_err(|_| Rejection::BadSignature)?;
    if key.verify(token.alg, token.signing_input.as_bytes(), &signature) {
        Ok(())
    } else {
        Err(Rejection::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str, sig: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), sig)
    }

    #[test]
    fn a_well_formed_token_is_split_and_decoded() {
        let t = token(
            r#"{"alg":"RS256","kid":"k1"}"#,
            r#"{"iss":"x","sub":"s"}"#,
            "c2ln",
        );
        let u = parse(&t).unwrap();
        assert_eq!(u.alg, Algorithm::RS256);
        assert_eq!(u.kid.as_deref(), Some("k1"));
        assert_eq!(u.claims["iss"], "x");
        assert_eq!(u.signature, "c2ln");
        assert_eq!(u.signing_input, &t[..t.rfind('.').unwrap()]);
    }

    #[test]
    fn oversized_token_is_refused_before_parsing() {
        let big = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(parse(&big).unwrap_err(), Rejection::TooLarge);
    }

    #[test]
    fn token_without_three_base64url_parts_is_malformed() {
        let good_header = b64(r#"{"alg":"RS256"}"#);
        let good_payload = b64(r#"{}"#);
        for bad in [
            String::new(),
            "abc".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            format!("{good_header}.{good_payload}.sig.extra"),
            format!(".{good_payload}.sig"),
            format!("{good_header}..sig"),
            format!("{good_header}.{good_payload}.si+g"),
            format!("{good_header}=.{good_payload}.sig"),
            format!("{good_header}.{good_payload} .sig"),
            format!("{}.{good_payload}.sig", b64("not json")),
            format!("{good_header}.{}.sig", b64("[1,2]")),
            format!("{}.{good_payload}.sig", b64(r#"{"kid":"no alg"}"#)),
            "A.B.C".to_owned(),
        ] {
            assert_eq!(parse(&bad).unwrap_err(), Rejection::Malformed, "{bad:?}");
        }
    }

    #[test]
    fn none_and_hmac_algorithms_are_refused() {
        for alg in [
            "none", "None", "HS256", "HS384", "HS512", "rs256", "RSA1_5", "",
        ] {
            let t = token(&format!(r#"{{"alg":"{alg}"}}"#), "{}", "");
            assert_eq!(
                parse(&t).unwrap_err(),
                Rejection::UnsupportedAlgorithm,
                "{alg}"
            );
        }
    }

    #[test]
    fn critical_header_extensions_are_refused() {
        let t = token(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#, "{}", "c2ln");
        assert_eq!(parse(&t).unwrap_err(), Rejection::Malformed);
    }

    #[test]
    fn a_null_crit_is_a_critical_extension_too() {
        // Broke the jwt fuzz check's invariant (no header with `crit` parses), noticed while
        // writing the check: serde read `"crit": null` as no `crit` at all.
        let t = token(r#"{"alg":"RS256","crit":null}"#, "{}", "c2ln");
        assert!(matches!(parse(&t), Err(Rejection::Malformed)));
    }

    #[test]
    fn a_header_with_invalid_utf8_in_an_ignored_member_is_malformed() {
        // Found by the jwt fuzz target (fuzz/corpus/jwt/regression-invalid-utf8-header): invalid
        // UTF-8 inside the `typ` string, which this crate ignores, passed serde_json unchecked.
        let mut header = br#"{"alg":"ES384","typ":"J"#.to_vec();
        header.extend_from_slice(&[0xd5, b'Q', b'"', b'}']);
        let t = format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(&header), b64("{}"));
        assert!(matches!(parse(&t), Err(Rejection::Malformed)));
    }

    #[test]
    fn a_header_with_a_broken_escape_in_an_ignored_member_is_malformed() {
        // Found by the jwt fuzz target (fuzz/corpus/jwt/regression-broken-escape-header): a bad
        // `\u` escape inside a member this crate ignores passed serde_json's skipping.
        let t = token(r#"{"alg":"RS256","typ":"\u12"}"#, "{}", "c2ln");
        assert!(matches!(parse(&t), Err(Rejection::Malformed)));
    }

    #[test]
    fn every_asymmetric_algorithm_is_allowed() {
        for alg in [
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
        ] {
            assert!(allowed_algorithm(alg).is_some(), "{alg}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_on_arbitrary_input(input in "\\PC{0,300}") {
            let _ = parse(&input);
        }

        #[test]
        fn parse_never_panics_on_three_base64url_parts(
            h in "[A-Za-z0-9_-]{0,60}", p in "[A-Za-z0-9_-]{0,60}", s in "[A-Za-z0-9_-]{0,60}"
        ) {
            let _ = parse(&format!("{h}.{p}.{s}"));
        }
    }
}
