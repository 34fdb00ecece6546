//! A small PEM reader: enough to find the key block in a file that may also hold `EC PARAMETERS`
//! (what `openssl ecparam -genkey` writes) and to recognise encrypted keys with a clear error.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::KeyError;

/// One decoded PEM block.
pub(crate) struct Block {
    pub(crate) label: String,
    pub(crate) der: Vec<u8>,
}

/// Returns every PEM block in `text`, in order.
pub(crate) fn blocks(text: &str) -> Result<Vec<Block>, KeyError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let label_end = after
            .find("-----")
            .ok_or_else(|| KeyError::Malformed("PEM header".into()))?;
        let label = after[..label_end].to_string();
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let body_end = body_start
            .find(&end_marker)
            .ok_or_else(|| KeyError::Malformed(format!("PEM block {label:?}: no END line")))?;
        let body = &body_start[..body_end];
        if label.contains("ENCRYPTED") || body.contains("ENCRYPTED") {
            return Err(KeyError::Encrypted);
        }
        // RFC 1421 headers (`Proc-Type: ...`) are the only lines with a colon; skip them.
        let b64: String = body
            .lines()
            .filter(|l| !l.contains(':'))
            .flat_map(|l| l.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| KeyError::Malformed(format!("PEM block {label:?}: bad base64")))?;
        out.push(Block { label, der });
        rest = &body_start[body_end + end_marker.len()..];
    }
    if out.is_empty() {
        return Err(KeyError::NotPem);
    }
    Ok(out)
}

/// Wraps DER into PEM with 64-column lines, as OpenSSL writes it.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
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
