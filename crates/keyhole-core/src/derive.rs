//! Keys derived from the signing key, shared by the signer and the key rotation.

/// The session marker's HMAC key material, derived with HKDF-SHA256 from the signing key's
/// canonical PKCS#8 PEM (`SigningKey::private_key_pem`). The signer uses it when the secret
/// carries no `sessionMarkerKey`; a rotation copies it into the new secret so that markers issued
/// before the rotation still verify after it.
pub fn session_marker_key(private_key_pem: &str) -> [u8; 32] {
    use aws_lc_rs::hkdf;
    struct Len32;
    impl hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"keyhole session marker")
        .extract(private_key_pem.trim().as_bytes());
    let mut out = [0u8; 32];
    let info: &[&[u8]] = &[b"v1"];
    // expand fails only when asking for more than 255 blocks; 32 bytes is one block.
    if let Ok(okm) = prk.expand(info, Len32) {
        let _ = okm.fill(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_key_depends_on_the_key_and_nothing_else() {
        assert_eq!(
            session_marker_key("pem one"),
            session_marker_key(" pem one\n")
        );
        assert_ne!(session_marker_key("pem one"), session_marker_key("pem two"));
        assert_ne!(session_marker_key("pem one"), [0u8; 32]);
    }
}
