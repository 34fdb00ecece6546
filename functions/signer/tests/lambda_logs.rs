//! The built `keyhole-signer` binary, run as Lambda runs it: a loopback Lambda Runtime API hands
//! it API Gateway events, and what it writes to standard output is what CloudWatch would get.
//! With `AWS_LAMBDA_LOG_FORMAT=JSON` every line is one flat JSON object, and each invocation's
//! line carries the fields the README's Logs Insights queries read; `AWS_LAMBDA_LOG_LEVEL` is
//! honoured; no token or cookie value is ever written.

mod common;

use std::collections::VecDeque;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Response, StatusCode};
use axum::routing::{get, post};
use common::{AUDIENCE, BASE, ISSUER, KEY_PAIR_ID, ORIGIN, read, testdata, token};
use serde_json::Value;
use tokio::sync::mpsc;

/// What the runtime posted back for one invocation: (request id, "response" or "error", body).
type Answer = (String, &'static str, String);

/// The Lambda service's side of the Runtime API: hands out `events` in order, then holds the long
/// poll as Lambda does while no event is waiting.
struct RuntimeApi {
    events: Mutex<VecDeque<(String, String)>>,
    answers: mpsc::UnboundedSender<Answer>,
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> Response<Body> {
    let event = api.events.lock().unwrap().pop_front();
    let Some((id, body)) = event else {
        return std::future::pending().await;
    };
    let deadline = common::now() * 1000 + 30_000;
    Response::builder()
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", id)
        .header("lambda-runtime-deadline-ms", deadline.to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:keyhole-signer",
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-674446a2-3b2a1c0d9e8f7a6b5c4d3e2f;Sampled=0",
        )
        .body(Body::from(body))
        .unwrap()
}

async fn answered(
    State(api): State<Arc<RuntimeApi>>,
    Path((id, kind)): Path<(String, String)>,
    body: String,
) -> StatusCode {
    let kind = if kind == "response" {
        "response"
    } else {
        "error"
    };
    let _ = api.answers.send((id, kind, body));
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Arc<RuntimeApi>>, body: String) -> StatusCode {
    let _ = api.answers.send(("init".into(), "error", body));
    StatusCode::ACCEPTED
}

/// What one run of the binary produced.
struct Run {
    answers: Vec<Answer>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Every standard-output line, each of which must be a JSON object.
    fn json_lines(&self) -> Vec<serde_json::Map<String, Value>> {
        self.stdout
            .lines()
            .map(|l| match serde_json::from_str(l) {
                Ok(Value::Object(o)) => o,
                _ => panic!("not a JSON object line: {l:?}\n{}", self.stdout),
            })
            .collect()
    }

    fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs the binary with the test configuration and `env` on top, feeds it `events` (request id,
/// event JSON), waits for an answer to each (at most 60 s in all), then stops it.
async fn run_signer(events: Vec<(String, String)>, env: &[(&str, &str)]) -> Run {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let wanted = events.len();
    let api = Arc::new(RuntimeApi {
        events: Mutex::new(events.into()),
        answers: tx,
    });
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answered))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api);
    tokio::spawn(async move { axum::serve(listener, router).await });

    let key_file = testdata("cloudfront-ecdsa.pem").display().to_string();
    let jwks_file = testdata("jwks.json").display().to_string();
    let runtime_api = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyhole-signer"))
        .env_clear()
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", "keyhole-signer"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_REGION", "us-east-1"),
            ("ASSET_BASE_URL", BASE),
            // The fixtures come from the app's origin, which is allowed to call /session.
            ("ALLOWED_ORIGINS", ORIGIN),
            ("SIGNING_KEY_FILE", key_file.as_str()),
            ("KEY_PAIR_ID", KEY_PAIR_ID),
            ("OIDC_ISSUER", ISSUER),
            ("OIDC_AUDIENCE", AUDIENCE),
            ("JWKS_FILE", jwks_file.as_str()),
        ])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let mut answers = Vec::new();
    let collected = tokio::time::timeout(Duration::from_secs(60), async {
        while answers.len() < wanted {
            match rx.recv().await {
                Some(answer) => answers.push(answer),
                None => break,
            }
        }
    })
    .await;
    let _ = child.kill();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let run = Run {
        answers,
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        collected.is_ok() && run.answers.len() == wanted,
        "the signer answered {} of {wanted} invocations: {:?}\nstdout:\n{}\nstderr:\n{}",
        run.answers.len(),
        run.answers,
        run.stdout,
        run.stderr
    );
    run
}

/// `POST /session` through API Gateway with `token` as the bearer token.
fn post_session(token: &str) -> String {
    read("apigw-v2-post-session-bearer.json").replace("{{TOKEN}}", token)
}

const FIRST_ID: &str = "6c1b4d0e-8f3a-4b59-9a2e-0d7c5e1f3a01";
const SECOND_ID: &str = "6c1b4d0e-8f3a-4b59-9a2e-0d7c5e1f3a02";
/// `requestContext.requestId` in the fixture.
const API_REQUEST_ID: &str = "CxTvzhM8IAMEVhw=";

fn session_lines(run: &Run) -> Vec<serde_json::Map<String, Value>> {
    run.json_lines()
        .into_iter()
        .filter(|l| l.get("message") == Some(&Value::from("session request")))
        .collect()
}

#[tokio::test]
async fn json_format_writes_one_flat_line_per_invocation_with_the_fields_insights_reads() {
    let token = token();
    let run = run_signer(
        vec![
            (FIRST_ID.into(), post_session("not.a.jwt")),
            (SECOND_ID.into(), post_session(&token)),
        ],
        &[("AWS_LAMBDA_LOG_FORMAT", "JSON")],
    )
    .await;

    let answer = |i: usize| -> Value { serde_json::from_str(&run.answers[i].2).unwrap() };
    assert_eq!(run.answers[0].0, FIRST_ID);
    assert_eq!(answer(0)["statusCode"], 401, "{:?}", run.answers[0]);
    assert_eq!(answer(1)["statusCode"], 200, "{:?}", run.answers[1]);

    // Every line is a flat JSON object: no nested `fields` or `span`.
    let all = run.json_lines();
    assert!(!all.is_empty());
    for line in &all {
        assert!(
            line.values().all(|v| !v.is_object() && !v.is_array()),
            "nested value in {line:?}"
        );
        for key in ["timestamp", "level"] {
            assert!(line.contains_key(key), "{key} missing from {line:?}");
        }
    }

    let lines = session_lines(&run);
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    for (line, id) in lines.iter().zip([FIRST_ID, SECOND_ID]) {
        for key in [
            "level",
            "message",
            "timestamp",
            "requestId",
            "apiRequestId",
            "coldStart",
            "outcome",
            "reason",
            "durationMs",
        ] {
            assert!(line.contains_key(key), "{key} missing from {line:?}");
        }
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["requestId"], id);
        assert_eq!(line["apiRequestId"], API_REQUEST_ID);
        assert_eq!(
            line["xrayTraceId"],
            "Root=1-674446a2-3b2a1c0d9e8f7a6b5c4d3e2f;Sampled=0"
        );
        assert!(line["durationMs"].as_f64().unwrap() >= 0.0, "{line:?}");
        let timestamp = line["timestamp"].as_str().unwrap();
        assert!(
            timestamp.ends_with('Z') && &timestamp[10..11] == "T",
            "not RFC 3339: {timestamp}"
        );
    }
    assert_eq!(lines[0]["coldStart"], true);
    assert_eq!(lines[0]["status"], 401);
    assert_eq!(lines[0]["outcome"], "invalid_token");
    assert_eq!(lines[0]["reason"], "malformed token");
    assert_eq!(lines[1]["coldStart"], false);
    assert_eq!(lines[1]["status"], 200);
    assert_eq!(lines[1]["outcome"], "issued");

    // Nothing secret: not the token, not a cookie value, not the key.
    let output = run.all_output();
    let signature = &token[token.rfind('.').unwrap() + 1..];
    assert!(!output.contains(signature), "token in the output");
    let cookies = answer(1)["cookies"].as_array().unwrap().clone();
    assert!(!cookies.is_empty());
    for cookie in &cookies {
        let (_, value) = cookie
            .as_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap();
        if value.len() > 8 && value != KEY_PAIR_ID {
            assert!(!output.contains(value), "cookie value in the output");
        }
    }
    assert!(!output.contains("PRIVATE KEY"));
}

#[tokio::test]
async fn lambda_log_level_warn_leaves_out_the_request_lines_whatever_rust_log_says() {
    let run = run_signer(
        vec![(FIRST_ID.into(), post_session("not.a.jwt"))],
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
            ("RUST_LOG", "trace"),
        ],
    )
    .await;
    assert_eq!(run.answers[0].1, "response");
    let lines = run.json_lines();
    assert!(session_lines(&run).is_empty(), "{}", run.stdout);
    assert!(
        lines
            .iter()
            .all(|l| l["level"] == "WARN" || l["level"] == "ERROR"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn at_trace_the_runtime_never_writes_the_raw_event() {
    let token = token();
    let run = run_signer(
        vec![(FIRST_ID.into(), post_session(&token))],
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ],
    )
    .await;
    let output = run.all_output();
    let signature = &token[token.rfind('.').unwrap() + 1..];
    assert!(!output.contains(signature), "token in the output");
    assert!(
        !output.contains("raw JSON event"),
        "the runtime's raw event line was written"
    );
    // The level really is TRACE: the runtime's DEBUG lines are there.
    let lines = run.json_lines();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "DEBUG" || l["level"] == "TRACE"),
        "{}",
        run.stdout
    );
    assert_eq!(session_lines(&run).len(), 1, "{}", run.stdout);
}

#[tokio::test]
async fn without_a_log_format_the_lines_are_plain_text() {
    let run = run_signer(vec![(FIRST_ID.into(), post_session("not.a.jwt"))], &[]).await;
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("session request"))
        .unwrap_or_else(|| panic!("no request line in {}", run.stdout));
    assert!(serde_json::from_str::<Value>(line).is_err(), "{line}");
    assert!(
        line.contains("INFO") && line.contains("outcome=\"invalid_token\""),
        "{line}"
    );
    assert!(
        !run.stdout.contains("\x1b["),
        "colour codes in {}",
        run.stdout
    );
}
