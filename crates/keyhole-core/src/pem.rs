//! PEM in and out, through the `pem` crate: find the key block in a file that may also hold
//! `EC PARAMETERS` (what `openssl ecparam -genkey` writes), and recognise encrypted keys with a
//! clear error.

use crate::KeyError;

/// One decoded PEM block.
pub(crate) struct Block {
    pub(crate) label: String,
    pub(crate) der: Vec<u8>,
}

/// Returns every PEM block in `text`, in order.
pub(crate) fn blocks(text: &str) -> Result<Vec<Block>, KeyError> {
    let parsed = ::pem::parse_many(text).map_err(|e| KeyError::Malformed(format!("PEM: {e}")))?;
    if parsed.is_empty() {
        // `parse_many` skips a BEGIN line without its END line; say so rather than "not PEM".
        return Err(if text.contains("-----BEGIN ") {
            KeyError::Malformed("PEM block without its END line".into())
        } else {
            KeyError::NotPem
        });
    }
    let mut out = Vec::with_capacity(parsed.len());
    for block in parsed {
        // PKCS#8 `ENCRYPTED PRIVATE KEY`, or a legacy OpenSSL block with `Proc-Type: 4,ENCRYPTED`.
        let legacy = block
            .headers()
            .get("Proc-Type")
            .is_some_and(|v| v.contains("ENCRYPTED"));
        if block.tag().contains("ENCRYPTED") || legacy {
            return Err(KeyError::Encrypted);
        }
        out.push(Block {
            label: block.tag().to_owned(),
            der: block.into_contents(),
        });
    }
    Ok(out)
}

/// Wraps DER into PEM with 64-column lines and `\n` line ends, as OpenSSL writes it.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let config = ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF);
    ::pem::encode_config(&::pem::Pem::new(label, der), config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_a_block_is_not_pem() {
        assert_eq!(blocks("hello").err(), Some(KeyError::NotPem));
    }

    #[test]
    fn a_block_without_end_line_is_malformed() {
        assert!(matches!(
            blocks("-----BEGIN PRIVATE KEY-----\nAAAA\n").err(),
            Some(KeyError::Malformed(_))
        ));
    }

    #[test]
    fn legacy_encrypted_headers_are_recognised() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(blocks(text).err(), Some(KeyError::Encrypted));
    }

    #[test]
    fn encode_then_read_round_trips() {
        let der: Vec<u8> = (0..=255).collect();
        let text = encode("PUBLIC KEY", &der);
        let b = blocks(&text).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].label, "PUBLIC KEY");
        assert_eq!(b[0].der, der);
    }
}
