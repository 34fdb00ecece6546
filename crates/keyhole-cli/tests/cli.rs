//! The `keyhole` binary end to end: keygen → sign → verify, and one clear line for every bad input.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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
        // A fixed, now past, expiry, checked below with --at.
        "--allow-past",
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
    let no_ip = verify(&["--at", "1767000000"]);
    assert_eq!(no_ip.status.code(), Some(3));
    assert_one_clear_line(
        &no_ip,
        "denied: the policy requires a source IP in 192.0.2.0/24: pass the client's address with --ip",
    );
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

/// Runs keyhole with standard output a pipe whose reading end is already closed, as
/// `keyhole ... | head -0` leaves it; gives the exit status and what went to stderr.
fn with_stdout_closed(args: &[&str], envs: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyhole"))
        .args(args)
        .envs(envs.iter().copied())
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err_pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err_pipe.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("keyhole {args:?} kept running with its standard output closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, reader.join().unwrap())
}

/// A closed standard output ends the command quietly: exit 0, no panic, no backtrace.
fn assert_quiet_end(args: &[&str], envs: &[(&str, &str)]) -> String {
    let (status, err) = with_stdout_closed(args, envs);
    assert_ne!(status.code(), Some(101), "keyhole {args:?} panicked: {err}");
    assert_eq!(status.code(), Some(0), "keyhole {args:?}: {err}");
    for noise in ["panicked", "Broken pipe", "backtrace", "RUST_BACKTRACE"] {
        assert!(!err.contains(noise), "keyhole {args:?}: {err}");
    }
    err
}

#[test]
fn keygen_ends_quietly_when_stdout_is_closed_and_still_writes_the_keys() {
    let dir = scratch_dir();
    assert_quiet_end(&["keygen", "--out", dir.to_str().unwrap()], &[]);
    assert!(dir.join("private_key.pem").exists());
    assert!(dir.join("public_key.pem").exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sign_ends_quietly_when_stdout_is_closed() {
    let key = fixture("ec_p256_pkcs8.pem");
    let common = [
        "--key",
        key,
        "--key-pair-id",
        "K1",
        "--expires",
        "2000000000",
    ];
    for form in [
        vec!["sign", "cookies", "--resource", RESOURCE],
        vec!["sign", "cookies", "--resource", RESOURCE, "--set-cookie"],
        vec!["sign", "url", "--url", URL],
    ] {
        let mut args = form.clone();
        args.extend_from_slice(&common);
        assert_quiet_end(&args, &[]);
    }
}

#[test]
fn verify_ends_quietly_when_stdout_is_closed() {
    let signed = keyhole(&[
        "sign",
        "url",
        "--key",
        fixture("ec_p256_pkcs8.pem"),
        "--key-pair-id",
        "K1",
        "--url",
        URL,
        "--expires",
        "2000000000",
    ]);
    assert!(signed.status.success(), "{}", stderr(&signed));
    let url = stdout(&signed).trim().to_string();
    assert_quiet_end(
        &[
            "verify",
            "--public-key",
            fixture("ec_p256_public.pem"),
            "--url",
            &url,
        ],
        &[],
    );
}

fn token_testdata(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../keyhole-token/testdata")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn token_verify_ends_quietly_when_stdout_is_closed() {
    let token = std::fs::read_to_string(token_testdata("oidc-rs256.jwt")).unwrap();
    let jwks = token_testdata("jwks.json");
    assert_quiet_end(
        &["token", "verify", token.trim()],
        &[
            ("OIDC_ISSUER", "https://issuer.example"),
            ("OIDC_AUDIENCE", "photo-app"),
            ("JWKS_URL", "http://127.0.0.1:9/jwks.json"),
            ("JWKS_FILE", &jwks),
        ],
    );
}

#[test]
fn serve_ends_quietly_when_stdout_is_closed() {
    let state = scratch_dir();
    let err = assert_quiet_end(
        &[
            "serve",
            "--port",
            "0",
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &[("RUST_LOG", "off")],
    );
    assert!(!err.contains("keyhole:"), "{err}");
    let _ = std::fs::remove_dir_all(state);
}

#[test]
fn help_ends_quietly_when_stdout_is_closed() {
    assert_quiet_end(&["--help"], &[]);
    assert_quiet_end(&["sign", "cookies", "--help"], &[]);
}

/// `sign cookies` with a valid key and resource, and `extra` replacing what it names.
fn sign_cookies_with(extra: &[(&str, &str)], flags: &[&str]) -> Output {
    let mut opts = vec![
        ("--key", fixture("ec_p256_pkcs8.pem")),
        ("--key-pair-id", "K1"),
        ("--resource", RESOURCE),
        ("--expires", "2000000000"),
    ];
    for (name, value) in extra {
        match opts.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => opts.push((name, value)),
        }
    }
    let mut args = vec!["sign", "cookies"];
    for (name, value) in &opts {
        args.extend([*name, *value]);
    }
    args.extend_from_slice(flags);
    keyhole(&args)
}

#[test]
fn key_pair_ids_that_could_break_a_cookie_are_refused() {
    for bad in ["K1;x", "", "K1 x", "K1,x"] {
        let out = sign_cookies_with(&[("--key-pair-id", bad)], &["--set-cookie"]);
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert_one_clear_line(&out, "invalid --key-pair-id");
        assert!(stdout(&out).is_empty(), "{bad:?} was signed");
        let url = keyhole(&[
            "sign",
            "url",
            "--key",
            fixture("ec_p256_pkcs8.pem"),
            "--key-pair-id",
            bad,
            "--url",
            URL,
            "--expires",
            "2000000000",
        ]);
        assert_one_clear_line(&url, "invalid --key-pair-id");
        let verify = keyhole(&[
            "verify",
            "--public-key",
            fixture("ec_p256_public.pem"),
            "--key-pair-id",
            bad,
            "--url",
            "https://d/x?Expires=1",
        ]);
        assert_eq!(verify.status.code(), Some(1), "{bad:?}");
        assert_one_clear_line(&verify, "invalid --key-pair-id");
    }
}

#[test]
fn a_resource_that_is_not_a_url_is_refused() {
    for bad in ["not a url", "d.example/users/*", "ftp://d.example/*"] {
        let out = sign_cookies_with(&[("--resource", bad)], &[]);
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert_one_clear_line(&out, "is not a URL CloudFront can match");
    }
    for bad in ["not a url", "d.example/a.png"] {
        let canned = sign_cookies_with(&[("--resource", bad)], &["--canned"]);
        assert_one_clear_line(&canned, "is not a URL CloudFront can match");
    }
    let url = keyhole(&[
        "sign",
        "url",
        "--key",
        fixture("ec_p256_pkcs8.pem"),
        "--key-pair-id",
        "K1",
        "--url",
        URL,
        "--resource",
        "not a url",
        "--expires",
        "2000000000",
    ]);
    assert_one_clear_line(&url, "is not a URL CloudFront can match");
}

#[test]
fn an_expiry_already_past_is_refused_without_allow_past() {
    for past in ["2020-01-01T00:00:00Z", "+0s", "-1h", "1"] {
        let out = sign_cookies_with(&[("--expires", past)], &[]);
        assert_eq!(out.status.code(), Some(1), "{past}");
        assert_one_clear_line(&out, "CloudFront would refuse it as expired");
        assert!(stderr(&out).contains("--allow-past"), "{}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{past} was signed");
    }
}

#[test]
fn allow_past_signs_an_expired_policy_with_a_warning() {
    let out = sign_cookies_with(&[("--expires", "2020-01-01T00:00:00Z")], &["--allow-past"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("keyhole: warning: --expires 2020-01-01T00:00:00Z is 2020-01-01T00:00:00Z"),
        "{err}"
    );
    assert!(stdout(&out).contains("CloudFront-Policy"));
}

#[test]
fn a_negative_offset_is_taken_as_a_time_with_or_without_an_equals_sign() {
    let spaced = keyhole(&[
        "sign",
        "cookies",
        "--key",
        fixture("ec_p256_pkcs8.pem"),
        "--key-pair-id",
        "K1",
        "--resource",
        RESOURCE,
        "--expires",
        "-1h",
        "--allow-past",
    ]);
    assert!(spaced.status.success(), "{}", stderr(&spaced));
    let joined = keyhole(&[
        "sign",
        "cookies",
        "--key",
        fixture("ec_p256_pkcs8.pem"),
        "--key-pair-id",
        "K1",
        "--resource",
        RESOURCE,
        "--expires=-1h",
        "--allow-past",
    ]);
    assert!(joined.status.success(), "{}", stderr(&joined));
    let help = keyhole(&["sign", "cookies", "--help"]);
    assert!(stdout(&help).contains("--expires=-1h"), "{}", stdout(&help));
}

#[test]
fn token_verify_with_the_key_set_unreachable_names_the_url_and_the_cause() {
    let token = std::fs::read_to_string(token_testdata("oidc-rs256.jwt")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keyhole"))
        .args(["token", "verify", token.trim()])
        .env_remove("JWKS_FILE")
        .env_remove("COGNITO_USER_POOL_ID")
        .env("OIDC_ISSUER", "https://issuer.example")
        .env("OIDC_AUDIENCE", "photo-app")
        .env("JWKS_URL", "http://127.0.0.1:9/jwks.json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_one_clear_line(
        &out,
        "keyhole: issuer key set unavailable: fetching http://127.0.0.1:9/jwks.json failed: connection failed: ",
    );
}

#[test]
fn revoke_writes_a_prefix_entry_into_the_local_deny_list() {
    let dir = scratch_dir();
    let state = dir.to_str().unwrap();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let o = keyhole(&["revoke", "--user", "abc-123", "--state-dir", state]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("revoked /users/abc-123/:"),
        "{}",
        stdout(&o)
    );
    let o = keyhole(&[
        "revoke",
        "--prefix",
        "/groups/admins/",
        "--state-dir",
        state,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let store: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("revocations.json")).unwrap())
            .unwrap();
    for key in ["/users/abc-123/", "/groups/admins/"] {
        let at: u64 = store[key].as_str().unwrap().parse().unwrap();
        assert!(at >= before && at <= before + 60, "{key}: {at}");
    }
}

#[test]
fn revoke_refuses_prefixes_it_could_not_match_safely() {
    let state = scratch_dir();
    let state = state.to_str().unwrap();
    for (args, expect) in [
        (vec!["--prefix", "/users/*/"], "no '*'"),
        (vec!["--prefix", "users/abc"], "starts and ends with '/'"),
        (vec!["--prefix", "/a/../b/"], "'..'"),
        (vec!["--user", "a/b"], "holds no '/'"),
    ] {
        let mut all = vec!["revoke"];
        all.extend(args);
        all.extend(["--state-dir", state]);
        assert_one_clear_line(&keyhole(&all), expect);
    }
    let o = keyhole(&["revoke", "--state-dir", state]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "neither --user nor --prefix is usage"
    );
}
