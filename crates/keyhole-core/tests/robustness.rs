//! Every parser facing untrusted input returns an error instead of panicking, whatever the bytes.
//! (Property tests standing in for fuzz targets: they run in `cargo test` on stable.)

use keyhole_core::{
    IpRange, Policy, SigningKey, Verifier, VerifyingKey, cf_base64, parse_cookie_header,
};
use proptest::prelude::*;

fn verifier() -> Verifier {
    let key = SigningKey::generate(keyhole_core::KeyType::EcdsaP256).unwrap();
    Verifier::new().with_key("K1", key.verifying_key().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn text_parsers_never_panic(s in "\\PC{0,200}") {
        let _ = cf_base64::decode(&s);
        let _ = Policy::from_json(&s);
        let _ = s.parse::<IpRange>();
        let _ = parse_cookie_header(&s);
        let _ = SigningKey::from_pem(&s);
        let _ = VerifyingKey::from_pem(&s);
    }

    #[test]
    fn pem_lookalikes_never_panic(label in "[A-Z ]{0,20}", body in "[A-Za-z0-9+/=:\\n -]{0,300}") {
        let text = format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n");
        let _ = SigningKey::from_pem(&text);
        let _ = VerifyingKey::from_pem(&text);
    }

    #[test]
    fn signed_url_and_cookie_lookalikes_never_panic(
        query in "[A-Za-z0-9=&~_.?*-]{0,200}",
        header in "[A-Za-z0-9=;~_. -]{0,200}",
    ) {
        let v = verifier();
        let _ = v.verify_url(&format!("https://d.example/a?{query}"), None, 0);
        let _ = v.verify_url(&query, None, 0);
        let cookies = parse_cookie_header(&header);
        let _ = v.verify_cookies(&cookies, "https://d.example/a", None, 0);
    }

    #[test]
    fn policies_with_any_resource_decode_from_their_cloudfront_base64(resource in "\\PC{1,100}") {
        let p = Policy::new(resource, 1).unwrap();
        let b64 = cf_base64::encode(p.to_json().as_bytes());
        let json = cf_base64::decode(&b64).unwrap();
        prop_assert_eq!(Policy::from_json(std::str::from_utf8(&json).unwrap()).unwrap(), p);
    }
}
