//! The built `keyhole-signer` binary run as Lambda runs it: a loopback Lambda Runtime API that
//! hands it one event per long poll, with its signing key in Secrets Manager on moto
//! (KEYHOLE_MOTO_URL, set by `make test-rust`). A test includes it beside `common` with
//! `#[path = "common/runtime_api.rs"] mod runtime_api;` (it needs the signer binary, which the
//! examples that share `common` do not have).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Response, StatusCode};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

use crate::common::{AUDIENCE, BASE, ISSUER, ORIGIN, read, testdata, token};

/// The Lambda service's side: hands out the events the test sends, one per long poll, and
/// passes back what the runtime answered.
struct RuntimeApi {
    events: Mutex<mpsc::UnboundedReceiver<(String, String)>>,
    answers: mpsc::UnboundedSender<(String, String)>,
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> Response<Body> {
    let Some((id, body)) = api.events.lock().await.recv().await else {
        return std::future::pending().await;
    };
    Response::builder()
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", id)
        .header(
            "lambda-runtime-deadline-ms",
            (crate::common::now() * 1000 + 30_000).to_string(),
        )
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
    let _ = api.answers.send((format!("{id}/{kind}"), body));
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Arc<RuntimeApi>>, body: String) -> StatusCode {
    let _ = api.answers.send(("init/error".into(), body));
    StatusCode::ACCEPTED
}

pub fn moto_url() -> String {
    std::env::var("KEYHOLE_MOTO_URL")
        .expect("KEYHOLE_MOTO_URL is not set: run `make test-rust`, or start moto with scripts/moto.sh start 5055")
}

pub fn secrets_client() -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto_url())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

/// The running binary and its side of the Runtime API.
pub struct Signer {
    events: mpsc::UnboundedSender<(String, String)>,
    answers: mpsc::UnboundedReceiver<(String, String)>,
    child: std::process::Child,
    sent: usize,
}

impl Signer {
    fn start(secret_id: &str, port: u16, extra_env: &[(&str, &str)]) -> std::process::Child {
        let runtime_api = format!("127.0.0.1:{port}");
        let jwks_file = testdata("jwks.json").display().to_string();
        let moto = moto_url();
        Command::new(env!("CARGO_BIN_EXE_keyhole-signer"))
            .env_clear()
            .envs([
                ("AWS_LAMBDA_RUNTIME_API", runtime_api.as_str()),
                ("AWS_LAMBDA_FUNCTION_NAME", "keyhole-signer"),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_ENDPOINT_URL", moto.as_str()),
                ("AWS_EC2_METADATA_DISABLED", "true"),
                ("ASSET_BASE_URL", BASE),
                ("ALLOWED_ORIGINS", ORIGIN),
                ("SIGNING_KEY_SECRET_ID", secret_id),
                ("OIDC_ISSUER", ISSUER),
                ("OIDC_AUDIENCE", AUDIENCE),
                ("JWKS_FILE", jwks_file.as_str()),
                ("RUST_LOG", "warn"),
            ])
            .envs(extra_env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Starts the binary with its key in secret `secret_id` (moto), and `extra_env` on top of
    /// the defaults.
    pub async fn launch(secret_id: &str, extra_env: &[(&str, &str)]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (events, events_rx) = mpsc::unbounded_channel();
        let (answers_tx, answers) = mpsc::unbounded_channel();
        let api = Arc::new(RuntimeApi {
            events: Mutex::new(events_rx),
            answers: answers_tx,
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answered))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api);
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            events,
            answers,
            child: Self::start(secret_id, port, extra_env),
            sent: 0,
        }
    }

    /// Invokes `POST /session` with a good token; returns the status and the cookies set.
    pub async fn post_session(&mut self) -> (u16, Vec<String>) {
        let event = read("apigw-v2-post-session-bearer.json").replace("{{TOKEN}}", &token());
        let (status, cookies, _) = self.invoke(&event).await;
        (status, cookies)
    }

    /// Hands the binary one API Gateway event; returns the status, the cookies set and the body.
    pub async fn invoke(&mut self, event: &str) -> (u16, Vec<String>, String) {
        self.sent += 1;
        let id = format!("req-{}", self.sent);
        self.events.send((id.clone(), event.to_owned())).unwrap();
        let (path, body) = tokio::time::timeout(Duration::from_secs(60), self.answers.recv())
            .await
            .expect("the signer did not answer within 60 s")
            .unwrap();
        assert_eq!(path, format!("{id}/response"), "{body}");
        let resp: Value = serde_json::from_str(&body).unwrap();
        let cookies = resp["cookies"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        (
            u16::try_from(resp["statusCode"].as_u64().unwrap()).unwrap(),
            cookies,
            resp["body"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

impl Drop for Signer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
