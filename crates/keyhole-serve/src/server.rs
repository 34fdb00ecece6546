//! The HTTP server of `keyhole serve`: routes, the CloudFront stand-in, the signer adapter, the
//! development identity provider's endpoints and the demo page.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use keyhole_core::{Verifier, VerifyError, VerifyingKey};
use keyhole_signer::{AppState, Clock, SigningMaterial, StaticKeySource, SystemClock};
use keyhole_token::{TokenConfig, TokenVerifier};
use lambda_http::RequestExt;
use percent_encoding::percent_decode_str;
use serde_json::json;
use tokio::net::TcpListener;

use crate::assets::{AssetStore, header_value, respond_or_500};
use crate::edge::{EdgeCheck, EdgeOutcome, ViewerRequest, viewer_request_event};
use crate::idp::{DEMO_AUDIENCE, DEMO_USERS, DevIdp};
use crate::state::LocalKeys;
use crate::{ServeError, xml};

/// Largest request body the stand-in accepts for `/session*` (API Gateway's own limit is far
/// larger; a token request is a few KB).
const MAX_SESSION_BODY: usize = 64 * 1024;

/// How to run the local stack.
#[derive(Clone)]
pub struct ServeOptions {
    /// Address to bind; 127.0.0.1 unless told otherwise.
    pub host: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// The folder played as the private bucket.
    pub assets: PathBuf,
    /// Where generated keys live between runs.
    pub state_dir: PathBuf,
    /// What the edge check's `SIGN_IN_URL` is set to (HTML navigations without a session are
    /// redirected there); `None` keeps the file's empty default (401 instead).
    pub sign_in_url: Option<String>,
    /// The clock for the cookie check and the identity provider.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("assets", &self.assets)
            .field("state_dir", &self.state_dir)
            .field("sign_in_url", &self.sign_in_url)
            .finish_non_exhaustive()
    }
}

impl ServeOptions {
    /// Defaults: 127.0.0.1, the given port, the given assets folder, `.keyhole/` as state, the
    /// demo page (`/`) as sign-in URL.
    pub fn new(port: u16, assets: impl Into<PathBuf>) -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port,
            assets: assets.into(),
            state_dir: PathBuf::from(".keyhole"),
            sign_in_url: Some("/".into()),
            clock: Arc::new(SystemClock),
        }
    }
}

/// What a running stack is, for the banner and for tests.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// The bound address.
    pub addr: SocketAddr,
    /// `http://<addr>`.
    pub url: String,
    /// The `ASSET_BASE_URL` policies are written for.
    pub asset_base_url: String,
    /// The key pair id cookies are signed with.
    pub key_pair_id: String,
    /// The development identity provider's issuer, when it is in use.
    pub dev_issuer: Option<String>,
}

struct App {
    signer: AppState,
    verifier: Verifier,
    edge: EdgeCheck,
    assets: AssetStore,
    idp: Option<DevIdp>,
    info: ServerInfo,
    clock: Arc<dyn Clock>,
}

/// A bound, configured local stack, ready to run.
pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("info", &self.app.info)
            .finish_non_exhaustive()
    }
}

/// True when the environment names a real issuer, so the development provider stays off.
fn has_issuer(vars: &dyn Fn(&str) -> Option<String>) -> bool {
    ["COGNITO_USER_POOL_ID", "OIDC_ISSUER"]
        .iter()
        .any(|n| vars(n).is_some_and(|v| !v.trim().is_empty()))
}

impl Server {
    /// Binds the port and builds every part, reading configuration through `vars` (the same
    /// variable names as the Lambda). Unset variables get local defaults: `ASSET_BASE_URL` is this
    /// server, the signing key is the state folder's, and with no `COGNITO_USER_POOL_ID` or
    /// `OIDC_ISSUER` the development identity provider is the issuer. Errors name what is wrong.
    pub async fn bind(
        options: ServeOptions,
        vars: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ServeError> {
        let assets = AssetStore::new(&options.assets)?;
        let listener = TcpListener::bind((options.host, options.port))
            .await
            .map_err(|source| ServeError::Bind {
                addr: SocketAddr::new(options.host, options.port),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: SocketAddr::new(options.host, options.port),
            source,
        })?;
        let url = format!("http://{addr}");

        let mut local: HashMap<&'static str, String> = HashMap::new();
        local.insert("ASSET_BASE_URL", url.clone());
        let use_file_key =
            vars("SIGNING_KEY_FILE").is_some() || vars("SIGNING_KEY_SECRET_ID").is_some();
        let keys = if use_file_key {
            None
        } else {
            let keys = LocalKeys::load_or_create(&options.state_dir)?;
            local.insert(
                "SIGNING_KEY_FILE",
                options
                    .state_dir
                    .join("signing-key.pem")
                    .display()
                    .to_string(),
            );
            local.insert("KEY_PAIR_ID", keys.key_pair_id.clone());
            Some(keys)
        };
        let idp = if has_issuer(&vars) {
            None
        } else {
            let issuer = format!("{url}/idp");
            let idp = DevIdp::load_or_create(&options.state_dir, issuer.clone())?;
            // The verifier preloads this file: no network at start, as with JWKS_FILE in Lambda.
            let jwks_path = options.state_dir.join("idp-jwks.json");
            std::fs::write(&jwks_path, idp.jwks().to_string()).map_err(|source| {
                ServeError::State {
                    path: jwks_path.clone(),
                    source,
                }
            })?;
            local.insert("OIDC_ISSUER", issuer);
            local.insert("OIDC_AUDIENCE", DEMO_AUDIENCE.into());
            local.insert("JWKS_FILE", jwks_path.display().to_string());
            Some(idp)
        };
        // With the development provider, its settings win over stray token variables (a JWKS_URL
        // left in the shell would otherwise point the verifier elsewhere).
        let dev = idp.is_some();
        let get = |name: &str| -> Option<String> {
            let token_var = matches!(
                name,
                "OIDC_ISSUER"
                    | "OIDC_AUDIENCE"
                    | "JWKS_FILE"
                    | "JWKS_URL"
                    | "TOKEN_USE"
                    | "COGNITO_CLIENT_ID"
            );
            if dev && token_var {
                return local.get(name).cloned();
            }
            vars(name).or_else(|| local.get(name).cloned())
        };

        let config = keyhole_signer::Config::from_vars(get)
            .map_err(|e| ServeError::Config(e.to_string()))?;
        let token_config =
            TokenConfig::from_vars(get).map_err(|e| ServeError::Config(e.to_string()))?;
        let tokens = TokenVerifier::from_config(token_config)
            .map_err(|e| ServeError::Config(e.to_string()))?;
        let material = match keys {
            Some(k) => SigningMaterial {
                key_pair_id: k.key_pair_id.clone(),
                private_key_pem: k.private_key_pem.clone(),
            },
            None => keyhole_signer::key_source_from_config(&config)
                .await
                .load()
                .await
                .map_err(|e| ServeError::Key(e.to_string()))?,
        };
        let signing_key = keyhole_core::SigningKey::from_pem(&material.private_key_pem)
            .map_err(|e| ServeError::Key(e.to_string()))?;
        let verifying = VerifyingKey::from_pem(&signing_key.public_key_pem())
            .map_err(|e| ServeError::Key(e.to_string()))?;
        let verifier = Verifier::new().with_key(material.key_pair_id.clone(), verifying);
        let info = ServerInfo {
            addr,
            url,
            asset_base_url: config.asset_base_url.clone(),
            key_pair_id: material.key_pair_id.clone(),
            dev_issuer: idp.as_ref().map(|i| i.issuer().to_owned()),
        };
        let signer = AppState::with_clock(
            config,
            Arc::new(StaticKeySource(material)),
            tokens,
            Arc::clone(&options.clock),
        )
        .await;
        let edge = EdgeCheck::embedded(options.sign_in_url.as_deref())?;
        let app = Arc::new(App {
            signer,
            verifier,
            edge,
            assets,
            idp,
            info,
            clock: options.clock,
        });
        Ok(Self { listener, app })
    }

    /// What is running where.
    pub fn info(&self) -> &ServerInfo {
        &self.app.info
    }

    /// The signer state `/session*` requests are handled with (benchmarks call the handler
    /// in-process with it, to compare with the HTTP rate).
    pub fn signer_state(&self) -> &AppState {
        &self.app.signer
    }

    /// The development identity provider, when it is the issuer.
    pub fn dev_idp(&self) -> Option<&DevIdp> {
        self.app.idp.as_ref()
    }

    /// The start-up banner: URL, demo users, a copy-paste curl example.
    pub fn banner(&self) -> String {
        banner(&self.app.info)
    }

    /// Serves until `shutdown` completes.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let router = router(Arc::clone(&self.app));
        axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| ServeError::Bind {
            addr: self.app.info.addr,
            source,
        })
    }
}

fn banner(info: &ServerInfo) -> String {
    let url = &info.url;
    let mut out =
        format!("keyhole serve: the local stack is up at {url}\n\n  demo page     {url}/\n");
    out.push_str(&format!(
        "  assets        {url}/users/<sub>/... (signed cookies checked as CloudFront does)\n"
    ));
    out.push_str(&format!(
        "  session       {url}/session (the signer Lambda's handler)\n"
    ));
    out.push_str(&format!("  key pair id   {}\n", info.key_pair_id));
    match &info.dev_issuer {
        Some(issuer) => {
            out.push_str(&format!(
                "  issuer        {issuer} (development identity provider)\n\n  demo users:\n"
            ));
            for u in DEMO_USERS {
                out.push_str(&format!("    {:<6} sub {}\n", u.username, u.sub));
            }
            let alice = DEMO_USERS[0];
            out.push_str(&format!(
                "\n  try it:\n    TOKEN=$(curl -s -d username=alice {url}/idp/token | sed -E 's/.*\"id_token\":\"([^\"]+)\".*/\\1/')\n    curl -s -c /tmp/keyhole.jar -H \"Authorization: Bearer $TOKEN\" -X POST {url}/session\n    curl -s -b /tmp/keyhole.jar -o pattern.png -w '%{{http_code}}\\n' {url}/users/{}/pattern.png\n",
                alice.sub
            ));
        }
        None => out.push_str("  issuer        from COGNITO_USER_POOL_ID / OIDC_ISSUER\n"),
    }
    out
}

fn router(app: Arc<App>) -> Router {
    let mut r = Router::new()
        .route("/", get(crate::demo::index))
        .route("/demo/{file}", get(crate::demo::file))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/session", any(session))
        .route("/session/{*rest}", any(session));
    if app.idp.is_some() {
        r = r
            .route("/idp/.well-known/openid-configuration", get(idp_discovery))
            .route("/idp/jwks.json", get(idp_jwks))
            .route("/idp/users", get(idp_users))
            .route("/idp/token", post(idp_token));
    }
    r.fallback(edge).with_state(app)
}

/// `/session*`: the signer Lambda's own handler, behind an adapter that builds the request as API
/// Gateway's HTTP API would (query parameters and request context included).
async fn session(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_SESSION_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "request body too large",
            );
        }
    };
    let query = query_map(parts.uri.query());
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(s) => lambda_http::Body::Text(s),
            Err(e) => lambda_http::Body::Binary(e.into_bytes()),
        }
    };
    let mut context =
        lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    context.http.method = parts.method.clone();
    context.http.path = Some(parts.uri.path().to_owned());
    context.http.source_ip = Some(peer.ip().to_string());
    context.time_epoch = app.clock.now().saturating_mul(1000);
    let request = lambda_http::Request::from_parts(parts, body)
        .with_query_string_parameters(query)
        .with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(context));
    match keyhole_signer::handle(&app.signer, request).await {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            let body = match body {
                lambda_http::Body::Empty => Body::empty(),
                lambda_http::Body::Text(s) => Body::from(s),
                lambda_http::Body::Binary(b) => Body::from(b),
                _ => Body::empty(),
            };
            Response::from_parts(parts, body)
        }
        Err(e) => {
            // What API Gateway shows for a failed invocation.
            tracing::error!(error = %e, "the signer handler failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal Server Error",
            )
        }
    }
}

/// Decoded query parameters, as API Gateway hands them to the Lambda.
fn query_map(query: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        map.entry(decode(k)).or_default().push(decode(v));
    }
    map
}

fn json_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    respond_or_500(
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({ "error": error, "error_description": description }).to_string(),
            )),
    )
}

/// Every other path: the CloudFront stand-in. First the edge check (viewer request), then the
/// trusted-key-group check of the signed cookies, then the bucket.
async fn edge(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    let (parts, _) = req.into_parts();
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let domain = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let event = viewer_request_event(&ViewerRequest {
        method: parts.method.as_str(),
        uri: parts.uri.path(),
        query: parts.uri.query(),
        headers,
        client_ip: Some(peer.ip()),
        domain,
    });
    match app.edge.check(&event) {
        Ok(EdgeOutcome::Pass) => {}
        Ok(EdgeOutcome::Respond(r)) => {
            let mut builder = Response::builder().status(r.status);
            for (name, value) in &r.headers {
                builder = builder.header(name.as_str(), header_value(value));
            }
            return respond_or_500(builder.body(r.body.map_or_else(Body::empty, Body::from)));
        }
        Err(e) => {
            tracing::error!(error = %e, "the edge check failed");
            return xml::error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "FunctionExecutionError",
                "The CloudFront function associated with the CloudFront distribution failed to execute.",
            );
        }
    }
    if let Some(refusal) = check_cookies(
        &app,
        &parts.headers,
        parts.uri.path(),
        parts.uri.query(),
        peer.ip(),
    ) {
        return refusal;
    }
    app.assets
        .respond(&parts.method, parts.uri.path(), &parts.headers)
        .await
}

/// CloudFront's own check of signed cookies against the trusted key group; `None` when they
/// grant this URL. Refusals carry CloudFront's 403 XML bodies.
fn check_cookies(
    app: &App,
    headers: &HeaderMap,
    path: &str,
    query: Option<&str>,
    ip: IpAddr,
) -> Option<Response<Body>> {
    let joined: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let joined = joined.join("; ");
    let cookies = keyhole_core::parse_cookie_header(&joined);
    let has = |name: &str| cookies.iter().any(|(k, v)| *k == name && !v.is_empty());
    if !has("CloudFront-Key-Pair-Id") {
        return Some(xml::error_response(
            StatusCode::FORBIDDEN,
            "MissingKey",
            "Missing Key-Pair-Id query parameter or cookie value",
        ));
    }
    let url = match query {
        Some(q) => format!("{}{path}?{q}", app.info.asset_base_url),
        None => format!("{}{path}", app.info.asset_base_url),
    };
    match app
        .verifier
        .verify_cookies(&cookies, &url, Some(ip), app.clock.now())
    {
        Ok(_) => None,
        Err(e) => Some(refusal(&e)),
    }
}

/// The 403 CloudFront answers for each way signed cookies fail.
pub fn refusal(e: &VerifyError) -> Response<Body> {
    let (code, message) = match e {
        VerifyError::UnknownKeyPairId(..) => ("InvalidKey", "Unknown Key"),
        VerifyError::Malformed(..) => ("MalformedPolicy", "Malformed Policy"),
        _ => ("AccessDenied", "Access denied"),
    };
    xml::error_response(StatusCode::FORBIDDEN, code, message)
}

async fn idp_discovery(State(app): State<Arc<App>>) -> Response<Body> {
    match &app.idp {
        Some(idp) => axum::Json(idp.discovery()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn idp_jwks(State(app): State<Arc<App>>) -> Response<Body> {
    match &app.idp {
        Some(idp) => axum::Json(idp.jwks().clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn idp_users() -> Response<Body> {
    axum::Json(json!({ "users": DEMO_USERS })).into_response()
}

/// Sign-in for demo users: `username=alice` as a form, or `{"username": "alice"}` as JSON.
async fn idp_token(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response<Body> {
    let Some(idp) = &app.idp else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let username = if is_json {
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("username")
                    .and_then(|u| u.as_str())
                    .map(str::to_owned)
            })
    } else {
        let text = String::from_utf8_lossy(&body);
        query_map(Some(&text))
            .remove("username")
            .and_then(|mut v| v.pop())
    };
    let Some(username) = username else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "give a username (alice or bob)",
        );
    };
    match idp.issue(&username, app.clock.now()) {
        Ok(token) => axum::Json(json!({
            "id_token": token,
            "token_type": "Bearer",
            "expires_in": crate::idp::TOKEN_TTL_SECONDS,
        }))
        .into_response(),
        Err(ServeError::UnknownUser(_)) => json_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown demo user; try alice or bob",
        ),
        Err(e) => {
            tracing::error!(error = %e, "issuing a token failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "could not issue a token",
            )
        }
    }
}
