//! What `keyhole serve` writes to stderr when stderr is not a terminal (a pipe here, as under CI
//! or `2>file`): no colour codes, and with the default filter one access line per request with
//! method, path, status, outcome and duration, and never a token, a cookie value or a query.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use keyhole_serve::idp::DEMO_USERS;

/// The request line travels in the query string, where a careless client may put a token.
const QUERY_SECRET: &str = "q-3b1f9c0e7a5d4e2b";
/// A forged signature cookie, refused by the stand-in.
const FORGED_COOKIE: &str = "forged-7d2c4a9e1b6f";

/// A `keyhole serve` on a free loopback port, with stderr piped.
struct Serve {
    child: Child,
    addr: String,
}

impl Serve {
    fn start(state_dir: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyhole"))
            .args(["serve", "--port", "0", "--state-dir"])
            .arg(state_dir)
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .env_remove("COGNITO_USER_POOL_ID")
            .env_remove("OIDC_ISSUER")
            .env_remove("SIGNING_KEY_SECRET_ID")
            .env_remove("SIGNING_KEY_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The banner's first line names the URL; read it on a thread to bound the wait.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let Some(url) = line.trim().split("up at ").nth(1) else {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "no banner: {line:?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let addr = url.trim_start_matches("http://").to_owned();
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        Self { child, addr }
    }

    /// Sends one HTTP/1.1 request (`Connection: close`) and returns (status, head, body).
    fn request(&self, head: &str, body: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let text = format!(
            "{head}\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(text.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_owned(), body.to_owned())
    }

    /// Stops the server and returns everything it wrote to stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let out = self.child.wait_with_output().unwrap();
        String::from_utf8(out.stderr).unwrap()
    }
}

fn header_values<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

#[test]
fn serve_writes_one_access_line_per_request_without_secrets_or_colour() {
    let state = tempfile::tempdir().unwrap();
    let serve = Serve::start(state.path());
    let alice = DEMO_USERS[0].sub;
    let bob = DEMO_USERS[1].sub;

    let (status, _, body) = serve.request(
        "POST /idp/token HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        "username=alice",
    );
    assert_eq!(status, 200, "{body}");
    let tokens: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = tokens["id_token"].as_str().unwrap().to_owned();

    let (status, head, _) = serve.request(
        &format!("POST /session HTTP/1.1\r\nAuthorization: Bearer {token}"),
        "",
    );
    assert_eq!(status, 200, "{head}");
    let cookies: Vec<(String, String)> = header_values(&head, "set-cookie")
        .into_iter()
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .filter(|(name, _)| name.starts_with("CloudFront-"))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    assert!(!cookies.is_empty(), "{head}");
    let cookie_header = cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");

    let asset = format!("/users/{alice}/pattern.png");
    let (status, head, _) = serve.request(
        &format!("GET {asset}?token={QUERY_SECRET} HTTP/1.1\r\nCookie: {cookie_header}"),
        "",
    );
    assert_eq!(status, 200, "{head}");
    let etag = header_values(&head, "etag")[0].to_owned();
    let (status, _, _) = serve.request(
        &format!("GET {asset} HTTP/1.1\r\nCookie: {cookie_header}\r\nIf-None-Match: {etag}"),
        "",
    );
    assert_eq!(status, 304);
    let (status, _, _) = serve.request(
        &format!(
            "GET /users/{bob}/pattern.png HTTP/1.1\r\nAccept: image/png\r\nCookie: CloudFront-Signature={FORGED_COOKIE}"
        ),
        "",
    );
    assert_eq!(status, 403);

    let err = serve.stop();
    assert!(!err.contains("\x1b["), "colour codes on a pipe: {err:?}");
    let access: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("keyhole_serve::access_log"))
        .collect();
    assert_eq!(access.len(), 5, "one line per request:\n{err}");
    for line in &access {
        for field in ["method=", "path=", "status=", "outcome=", "durationMs="] {
            assert!(line.contains(field), "{field} missing: {line}");
        }
        assert!(line.contains(" INFO "), "{line}");
    }
    let expect = [
        "method=POST path=/idp/token status=200 outcome=served",
        "method=POST path=/session status=200 outcome=served",
        &format!("method=GET path={asset} status=200 outcome=served"),
        &format!("method=GET path={asset} status=304 outcome=not_modified"),
        &format!("method=GET path=/users/{bob}/pattern.png status=403 outcome=refused"),
    ];
    for (line, want) in access.iter().zip(expect) {
        assert!(line.contains(want), "expected {want:?} in {line}");
    }

    let signature = &token[token.rfind('.').unwrap() + 1..];
    assert!(!err.contains(signature), "token in the log: {err}");
    assert!(
        !err.contains(QUERY_SECRET),
        "query string in the log: {err}"
    );
    assert!(
        !err.contains(FORGED_COOKIE),
        "cookie value in the log: {err}"
    );
    for (name, value) in &cookies {
        if name != "CloudFront-Key-Pair-Id" {
            assert!(!err.contains(value.as_str()), "{name} value in the log");
        }
    }
}
