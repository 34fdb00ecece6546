//! Known answers from an independent implementation: the `openssl` command-line tool.
//!
//! RSA PKCS#1 v1.5 signatures are deterministic, so ours must be byte-identical to
//! `openssl dgst -sha1|-sha256 -sign`. ECDSA signatures are randomised, so each side verifies the
//! other's, over SHA-1 (CloudFront's default) and SHA-256: ours with `openssl dgst -verify`,
//! OpenSSL's with our verifier.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use keyhole_core::{HashAlgorithm, KeyType, Policy, SigningKey, VerifyingKey};

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(testdata(name)).unwrap()
}

/// A fresh scratch file path under the system temp dir.
fn scratch(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    std::env::temp_dir().join(format!("keyhole-openssl-{}-{n}-{tag}", std::process::id()))
}

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl binary must be installed for the known-answer tests")
}

fn policies() -> Vec<String> {
    vec![
        Policy::canned_json(
            "https://d111111abcdef8.cloudfront.net/users/abc/cat.png",
            1_767_290_400,
        )
        .unwrap(),
        Policy::new(
            "https://d111111abcdef8.cloudfront.net/users/\"q\"\\/ünï/*",
            1_767_290_400,
        )
        .unwrap()
        .starting_at(1_767_200_000)
        .from_ip("192.0.2.0/24".parse().unwrap())
        .to_json(),
    ]
}

#[test]
fn rsa_signatures_are_byte_identical_to_openssl() {
    for key_file in ["rsa2048_pkcs8.pem", "rsa2048_pkcs1.pem"] {
        let key = SigningKey::from_pem(&read(key_file)).unwrap();
        assert_eq!(key.key_type(), KeyType::Rsa2048);
        for (hash, flag) in [
            (HashAlgorithm::Sha1, "-sha1"),
            (HashAlgorithm::Sha256, "-sha256"),
        ] {
            for policy in policies() {
                let input = scratch("policy");
                std::fs::write(&input, &policy).unwrap();
                let out = openssl(&[
                    "dgst",
                    flag,
                    "-sign",
                    testdata(key_file).to_str().unwrap(),
                    input.to_str().unwrap(),
                ]);
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let ours = key.sign(policy.as_bytes(), hash).unwrap();
                assert_eq!(ours, out.stdout, "{key_file} {hash} differs from openssl");
                let _ = std::fs::remove_file(input);
            }
        }
    }
}

#[test]
fn ecdsa_signatures_verify_with_openssl() {
    for key_file in ["ec_p256_sec1.pem", "ec_p256_pkcs8.pem"] {
        let key = SigningKey::from_pem(&read(key_file)).unwrap();
        assert_eq!(key.key_type(), KeyType::EcdsaP256);
        for (hash, flag) in [
            (HashAlgorithm::Sha1, "-sha1"),
            (HashAlgorithm::Sha256, "-sha256"),
        ] {
            for policy in policies() {
                let input = scratch("policy");
                let sig = scratch("sig");
                std::fs::write(&input, &policy).unwrap();
                std::fs::write(&sig, key.sign(policy.as_bytes(), hash).unwrap()).unwrap();
                let verify = |flag: &str| {
                    openssl(&[
                        "dgst",
                        flag,
                        "-verify",
                        testdata("ec_p256_public.pem").to_str().unwrap(),
                        "-signature",
                        sig.to_str().unwrap(),
                        input.to_str().unwrap(),
                    ])
                };
                let out = verify(flag);
                assert!(
                    out.status.success()
                        && String::from_utf8_lossy(&out.stdout).contains("Verified OK"),
                    "{key_file} {hash}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                // The signature is bound to its hash: OpenSSL refuses it under the other one.
                let other = if hash == HashAlgorithm::Sha1 {
                    "-sha256"
                } else {
                    "-sha1"
                };
                assert!(!verify(other).status.success(), "{key_file} {hash}");
                let _ = std::fs::remove_file(input);
                let _ = std::fs::remove_file(sig);
            }
        }
    }
}

#[test]
fn openssl_signatures_verify_with_our_verifying_key() {
    let cases = [
        (
            "ec_p256_sec1.pem",
            "ec_p256_public.pem",
            "-sha256",
            HashAlgorithm::Sha256,
        ),
        (
            "ec_p256_pkcs8.pem",
            "ec_p256_public.pem",
            "-sha1",
            HashAlgorithm::Sha1,
        ),
        (
            "rsa2048_pkcs8.pem",
            "rsa2048_public.pem",
            "-sha1",
            HashAlgorithm::Sha1,
        ),
        (
            "rsa2048_pkcs8.pem",
            "rsa2048_public_pkcs1.pem",
            "-sha256",
            HashAlgorithm::Sha256,
        ),
    ];
    for (private, public, flag, hash) in cases {
        let policy = &policies()[1];
        let input = scratch("policy");
        std::fs::write(&input, policy).unwrap();
        let out = openssl(&[
            "dgst",
            flag,
            "-sign",
            testdata(private).to_str().unwrap(),
            input.to_str().unwrap(),
        ]);
        assert!(out.status.success());
        let key = VerifyingKey::from_pem(&read(public)).unwrap();
        assert!(
            key.verify(policy.as_bytes(), &out.stdout, hash),
            "{public} {hash}"
        );
        assert!(!key.verify(b"another policy", &out.stdout, hash));
        let other = if hash == HashAlgorithm::Sha1 {
            HashAlgorithm::Sha256
        } else {
            HashAlgorithm::Sha1
        };
        assert!(
            !key.verify(policy.as_bytes(), &out.stdout, other),
            "{public}: a {hash} signature must not pass as {other}"
        );
        let _ = std::fs::remove_file(input);
    }
}

#[test]
fn our_public_key_pem_is_what_openssl_derives() {
    for (private, public) in [
        ("rsa2048_pkcs1.pem", "rsa2048_public.pem"),
        ("ec_p256_sec1.pem", "ec_p256_public.pem"),
    ] {
        let key = SigningKey::from_pem(&read(private)).unwrap();
        assert_eq!(key.public_key_pem(), read(public), "{private}");
    }
}

#[test]
fn generated_keys_are_readable_by_openssl() {
    for kind in [KeyType::EcdsaP256, KeyType::Rsa2048] {
        let key = SigningKey::generate(kind).unwrap();
        let file = scratch("generated.pem");
        std::fs::write(&file, key.private_key_pem()).unwrap();
        let out = openssl(&["pkey", "-in", file.to_str().unwrap(), "-pubout"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap(), key.public_key_pem());
        let _ = std::fs::remove_file(file);
    }
}
