//! The `keyhole` binary end to end: keygen → sign → verify, and one clear line for every bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn keyhole(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyhole"))
        .args(args)
        .output()
        .unwrap()
}

fn fixture(name: &str) -> &'static str {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../keyhole-core/testdata")
        .join(name);
    // Leaked so the many argument vectors below can hold plain `&str`s.
    Box::leak(path.to_str().unwrap().to_string().into_boxed_str())
}

fn scratch_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("keyhole-cli-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failure is one line on stderr naming the problem, a non-zero exit, and no panic.
fn assert_one_clear_line(o: &Output, expect: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "unexpected success: {}", stdout(o));
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(expect), "expected {expect:?} in {err:?}");
}

const RESOURCE: &str = "https://d.example/users/u1/*";
const URL: &str = "https://d.example/users/u1/cat.png";

fn sign_cookies(key: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "sign",
        "cookies",
        "--key",
        key,
        "--key-pair-id",
        "K1",
        "--resource",
        RESOURCE,
        "--expires",
        "2000000000",
    ];
    args.extend_from_slice(extra);
    keyhole(&args)
}

fn cookie_header(json: &str) -> String {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
    map.iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn keygen_writes_a_usable_key_pair_and_keeps_the_private_key_private() {
    let dir = scratch_dir();
    let out = keyhole(&["keygen", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let private = dir.join("private_key.pem");
    let public = dir.join("public_key.pem");
    assert!(
        std::fs::read_to_string(&private)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert!(
        std::fs::read_to_string(&public)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "private key readable by others: {mode:o}");
    }
    let signed = sign_cookies(private.to_str().unwrap(), &[]);
    assert!(signed.status.success(), "{}", stderr(&signed));
    let verified = keyhole(&[
        "verify",
        "--public-key",
        public.to_str().unwrap(),
        "--cookies",
        &cookie_header(&stdout(&signed)),
        "--request-url",
        URL,
        "--at",
        "1900000000",
    ]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(stdout(&verified).contains("allowed: https://d.example/users/u1/*"));

    let again = keyhole(&["keygen", "--out", dir.to_str().unwrap()]);
    assert_one_clear_line(&again, "already exists");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn rsa_keygen_makes_an_rsa_key() {
    let dir = scratch_dir();
    let out = keyhole(&["keygen", "--type", "rsa", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("RSA-2048"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn signed_cookies_print_as_json_like_the_aws_signer() {
    let out = sign_cookies(fixture("ec_p256_pkcs8.pem"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&stdout(&out)).unwrap();
    let mut names: Vec<&str> = map.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "CloudFront-Hash-Algorithm",
            "CloudFront-Key-Pair-Id",
            "CloudFront-Policy",
            "CloudFront-Signature"
        ]
    );
}

#[test]
fn canned_sha1_cookies_use_expires_and_no_hash_cookie() {
    let out = sign_cookies(
        fixture("rsa2048_pkcs1.pem"),
        &["--canned", "--hash", "sha1"],
    );
    // A wildcard resource cannot be canned.
    assert_one_clear_line(&out, "--canned needs an exact resource");
    let out = keyhole(&[
        "sign",
        "cookies",
        "--key",
        fixture("rsa2048_pkcs1.pem"),
        "--key-pair-id",
        "K1",
        "--resource",
        URL,
        "--expires",
        "2000000000",
        "--canned",
        "--hash",
        "sha1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("\"CloudFront-Expires\":\"2000000000\""),
        "{text}"
    );
    assert!(
        !text.contains("Hash-Algorithm") && !text.contains("CloudFront-Policy"),
        "{text}"
    );
}

#[test]
fn ecdsa_sha1_cookies_carry_no_hash_cookie_and_verify() {
    let out = sign_cookies(fixture("ec_p256_sec1.pem"), &["--hash", "sha1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json = stdout(&out);
    assert!(!json.contains("Hash-Algorithm"), "{json}");
    let verified = keyhole(&[
        "verify",
        "--public-key",
        fixture("ec_p256_public.pem"),
        "--cookies",
        &cookie_header(&json),
        "--request-url",
        URL,
        "--at",
        "1900000000",
    ]);
    assert!(verified.status.success(), "{}", stderr(&verified));
}

#[test]
fn set_cookie_lines_carry_path_and_domain() {
    let out = sign_cookies(
        fixture("ec_p256_sec1.pem"),
        &[
            "--set-cookie",
            "--path",
            "/users/u1/",
            "--domain",
            "d.example",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 4);
    for line in text.lines() {
        assert!(line.starts_with("Set-Cookie: CloudFront-"), "{line}");
        assert!(
            line.contains("; Path=/users/u1/; Domain=d.example; Secure; HttpOnly; SameSite=Lax"),
            "{line}"
        );
    }
}

#[test]
fn a_signed_url_verifies_and_reports_expiry_and_ip() {
    let out = keyhole(&[
        "sign",
        "url",
        "--key",
        fixture("rsa2048_pkcs8.pem"),
        "--key-pair-id",
        "K9",
        "--url",
        URL,
        "--expires",
        "2026-01-01T18:00:00Z",
        "--ip",
        "192.0.2.0/24",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let url = stdout(&out).trim().to_string();
    assert!(url.starts_with(&format!("{URL}?Policy=")), "{url}");
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--public-key",
            fixture("rsa2048_public.pem"),
            "--url",
            &url,
        ];
        args.extend_from_slice(extra);
        keyhole(&args)
    };
    let ok = verify(&["--ip", "192.0.2.7", "--at", "1767000000"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(
        stdout(&ok).contains("until 2026-01-01T18:00:00Z"),
        "{}",
        stdout(&ok)
    );
    assert!(stdout(&ok).contains("for clients in 192.0.2.0/24"));

    let denied = verify(&["--ip", "198.51.100.1", "--at", "1767000000"]);
    assert_eq!(denied.status.code(), Some(3));
    assert_one_clear_line(&denied, "denied: client IP not allowed");
    let expired = verify(&["--ip", "192.0.2.7", "--at", "1767290400"]);
    assert_one_clear_line(&expired, "denied: expired");
    let wrong_key = keyhole(&[
        "verify",
        "--public-key",
        fixture("ec_p256_public.pem"),
        "--url",
        &url,
        "--at",
        "1",
    ]);
    assert_one_clear_line(&wrong_key, "denied: bad signature");
    let wrong_id = verify(&["--key-pair-id", "OTHER", "--at", "1"]);
    assert_one_clear_line(&wrong_id, "denied: unknown key pair id");
}

#[test]
fn every_kind_of_bad_input_gets_one_clear_line() {
    let ec = fixture("ec_p256_pkcs8.pem");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--key", "/nonexistent/key.pem"],
            "reading key file /nonexistent/key.pem",
        ),
        (
            vec!["--key", fixture("ec_p256_public.pem")],
            "expected a private key",
        ),
        (
            vec!["--key", fixture("rsa1024.pem")],
            "unsupported key: RSA-1024",
        ),
        (
            vec!["--key", fixture("ec_p384.pem")],
            "curve other than P-256",
        ),
        (
            vec!["--key", fixture("ec_p256_encrypted.pem")],
            "encrypted private keys are not supported",
        ),
        (vec!["--key", fixture("garbage.pem")], "malformed"),
        (
            vec!["--key", ec, "--expires", "next tuesday"],
            "invalid time \"next tuesday\"",
        ),
        (vec!["--key", ec, "--starts", "+1y"], "invalid time \"+1y\""),
        (vec!["--key", ec, "--ip", "10.0.0.0/33"], "invalid IP range"),
        (
            vec!["--key", ec, "--ip", "2001:db8::/32"],
            "IPv6 ranges are not supported",
        ),
        (vec!["--key", ec, "--hash", "md5"], "unknown hash algorithm"),
        (
            vec!["--key", ec, "--starts", "2100000000"],
            "must be before the expiry",
        ),
    ];
    for (extra, expect) in cases {
        let mut args = vec![
            "sign",
            "cookies",
            "--key-pair-id",
            "K1",
            "--resource",
            RESOURCE,
        ];
        if !extra.contains(&"--expires") {
            args.extend(["--expires", "2000000000"]);
        }
        args.extend(extra.iter().copied());
        assert_one_clear_line(&keyhole(&args), expect);
    }

    let url_cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--url", "d.example/a.png"],
            "expected an absolute http:// or https:// URL",
        ),
        (
            vec!["--url", "https://d.example/a b.png"],
            "must be percent-encoded",
        ),
        (vec!["--url", "https://d.example/a.png#top"], "#fragment"),
        (
            vec!["--url", "https://d.example/a.png?Signature=x"],
            "already has CloudFront signing parameters",
        ),
        (
            vec!["--url", URL, "--canned", "--ip", "192.0.2.1"],
            "--canned cannot carry --starts or --ip",
        ),
    ];
    for (extra, expect) in url_cases {
        let mut args = vec![
            "sign",
            "url",
            "--key",
            ec,
            "--key-pair-id",
            "K1",
            "--expires",
            "2000000000",
        ];
        args.extend(extra.iter().copied());
        assert_one_clear_line(&keyhole(&args), expect);
    }

    let pubkey = fixture("ec_p256_public.pem");
    let verify_cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--public-key", ec, "--url", "https://d/x?Expires=1"],
            "expected a public key",
        ),
        (
            vec!["--public-key", "/nonexistent.pem", "--url", "https://d/x"],
            "reading public key file",
        ),
        (
            vec!["--public-key", pubkey, "--url", "https://d/x"],
            "denied: malformed: the URL has no query string",
        ),
        (
            vec![
                "--public-key",
                pubkey,
                "--url",
                "https://d/x?Expires=1",
                "--at",
                "soon",
            ],
            "invalid time",
        ),
        (
            vec![
                "--public-key",
                pubkey,
                "--cookies",
                "a=b",
                "--request-url",
                URL,
            ],
            "denied: malformed: missing CloudFront-Key-Pair-Id",
        ),
    ];
    for (extra, expect) in verify_cases {
        let mut args = vec!["verify"];
        args.extend(extra.iter().copied());
        assert_one_clear_line(&keyhole(&args), expect);
    }
}

#[test]
fn missing_required_options_are_usage_errors() {
    let out = keyhole(&["sign", "cookies", "--key-pair-id", "K1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--key <KEY>"), "{}", stderr(&out));
    let out = keyhole(&["verify", "--public-key", "x.pem"]);
    assert_eq!(out.status.code(), Some(2));
    let out = keyhole(&["verify", "--public-key", "x.pem", "--cookies", "a=b"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--cookies without --request-url"
    );
}
