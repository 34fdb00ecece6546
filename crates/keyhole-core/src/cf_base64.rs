//! CloudFront's URL- and cookie-safe base64: the standard alphabet with `+`→`-`, `=`→`_`, `/`→`~`.
//!
//! This is not RFC 4648 base64url (which uses `-`, `_` and drops padding): CloudFront keeps the
//! padding, as `_`, and maps `/` to `~`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::DecodeError;

/// Encodes bytes the way CloudFront expects in `Policy`, `Signature` and their cookies.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            other => other,
        })
        .collect()
}

/// Decodes CloudFront base64. Standard-alphabet `+`, `/`, `=` are refused: CloudFront never emits
/// them, and accepting two spellings of one value would make signatures malleable in our parser.
pub fn decode(s: &str) -> Result<Vec<u8>, DecodeError> {
    let mut standard = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        standard.push(match c {
            '-' => '+',
            '_' => '=',
            '~' => '/',
            'A'..='Z' | 'a'..='z' | '0'..='9' => c,
            _ => return Err(DecodeError(format!("unexpected character at position {i}"))),
        });
    }
    STANDARD
        .decode(standard.as_bytes())
        .map_err(|e| DecodeError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn substitutes_the_three_characters_cloudfront_reserves() {
        // 0xfb 0xff encodes to "+/8=" in standard base64.
        assert_eq!(encode(&[0xfb, 0xff]), "-~8_");
        assert_eq!(decode("-~8_").unwrap(), vec![0xfb, 0xff]);
    }

    #[test]
    fn standard_alphabet_characters_are_refused() {
        assert!(decode("+/8=").is_err());
    }

    #[test]
    fn truncated_input_is_refused() {
        assert!(decode("QUJD_").is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_survive_a_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let encoded = encode(&bytes);
            prop_assert!(!encoded.contains(['+', '/', '=']));
            prop_assert_eq!(decode(&encoded).unwrap(), bytes);
        }
    }
}
