//! The local stack assembled: options, the parts built once at start, the router, the banner.
//! The parts' own jobs live beside it: `local_env.rs` (which variables the stack reads),
//! `lambda_adapter.rs` (`/session*` to the signer's handler), `stand_in.rs` (CloudFront),
//! `idp.rs` (the development identity provider), `responses.rs` (hand-built responses),
//! `access_log.rs` (one line per request).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use axum::routing::{any, get};
use keyhole_core::{Clock, SystemClock, Verifier};
use keyhole_signer::{AppState, Config, KeySource, key_source_from_config};
use keyhole_token::{TokenConfig, TokenVerifier, names_an_issuer};
use tokio::net::TcpListener;

use crate::ServeError;
use crate::assets::AssetStore;
use crate::connections::Limits;
use crate::edge::{EdgeCheck, KvsReader};
use crate::idp::{DEMO_AUDIENCE, DEMO_USERS, DevIdp};
use crate::key_store::KeyStore;
use crate::local_env::{LOCAL_KEY_REFRESH_SECONDS, LocalEnv, names_a_signing_key};
use crate::trusted::{GroupWatch, TrustedKeys};
use keyhole_revoke::{FileStore, Revoker};
use keyhole_signer::MAX_TTL_SECONDS;

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
    /// The `Cache-Control` viewers get on assets, as the distribution's response headers policy
    /// sets it ([`DEFAULT_ASSET_CACHE_CONTROL`] unless told otherwise).
    pub asset_cache_control: String,
    /// Bounds on connections and read times ([`Limits::default`] unless told otherwise).
    pub limits: Limits,
}

/// What browsers are told about caching assets: keep a private copy but revalidate it on every
/// use, so each use passes the signed-cookie check again and a logged-out browser gets the
/// 401 or the sign-in redirect instead of its cached copy. (CloudFront's own cache is not
/// affected; it follows the cache policy.)
pub const DEFAULT_ASSET_CACHE_CONTROL: &str = "private, no-cache";

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("assets", &self.assets)
            .field("state_dir", &self.state_dir)
            .field("sign_in_url", &self.sign_in_url)
            .field("limits", &self.limits)
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
            asset_cache_control: DEFAULT_ASSET_CACHE_CONTROL.to_owned(),
            limits: Limits::default(),
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
    /// The key pair id cookies were signed with at start (a rotation changes the signing key
    /// while the stack runs; this stays what the banner printed).
    pub key_pair_id: String,
    /// The development identity provider's issuer, when it is in use.
    pub dev_issuer: Option<String>,
}

/// Everything a request may need, built once at start.
pub(crate) struct App {
    pub(crate) signer: AppState,
    pub(crate) trusted: TrustedKeys,
    pub(crate) edge: EdgeCheck,
    pub(crate) assets: AssetStore,
    pub(crate) idp: Option<Arc<DevIdp>>,
    pub(crate) info: ServerInfo,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) asset_cache_control: HeaderValue,
}

/// A bound, configured local stack, ready to run.
pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
    limits: Limits,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("info", &self.app.info)
            .finish_non_exhaustive()
    }
}

/// The state folder's deny-list, as the edge check's KeyValueStore.
struct StateDirStore(Arc<FileStore>);

impl KvsReader for StateDirStore {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        self.0.get(key).map_err(|e| e.to_string())
    }
}

async fn listen(options: &ServeOptions) -> Result<(TcpListener, SocketAddr), ServeError> {
    let wanted = SocketAddr::new(options.host, options.port);
    let bind_error = |source| ServeError::Bind {
        addr: wanted,
        source,
    };
    let listener = TcpListener::bind(wanted).await.map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    Ok((listener, addr))
}

/// Loads or creates the development identity provider and writes its key set where the verifier
/// preloads it.
fn dev_idp(options: &ServeOptions, url: &str, env: &mut LocalEnv) -> Result<DevIdp, ServeError> {
    let issuer = format!("{url}/idp");
    let idp = DevIdp::load_or_create(&options.state_dir, issuer.clone())?;
    let jwks_path = options.state_dir.join("idp-jwks.json");
    std::fs::write(&jwks_path, idp.jwks().to_string()).map_err(|source| ServeError::State {
        path: jwks_path.clone(),
        source,
    })?;
    env.trust_dev_idp(&issuer, DEMO_AUDIENCE, &jwks_path);
    Ok(idp)
}

/// The signer's state, from the same variables as the Lambda, its token checks on `clock` too.
/// With `local` (the state folder's secret), the signer reads its key there; otherwise from the
/// file or secret the variables name.
async fn signer_state(
    get: impl Fn(&str) -> Option<String>,
    clock: &Arc<dyn Clock>,
    local: Option<(Arc<dyn KeySource>, String)>,
) -> Result<AppState, ServeError> {
    let config_error = |e: keyhole_signer::Error| ServeError::Config(e.to_string());
    let (config, keys) = match local {
        Some((source, description)) => (
            Config::from_vars_with_provided_key(&get, description).map_err(config_error)?,
            source,
        ),
        None => {
            let config = Config::from_vars(&get).map_err(config_error)?;
            let keys = key_source_from_config(&config).await.ok_or_else(|| {
                ServeError::Config(
                    "no signing key named (SIGNING_KEY_FILE or SIGNING_KEY_SECRET_ID)".into(),
                )
            })?;
            (config, keys)
        }
    };
    let tokens = TokenConfig::from_vars(&get)
        .and_then(TokenVerifier::from_config)
        .map_err(|e| ServeError::Config(e.to_string()))?
        .with_clock(Arc::clone(clock));
    Ok(AppState::with_clock(config, keys, tokens, Arc::clone(clock)).await)
}

impl Server {
    /// Binds the port and builds every part, reading configuration through `vars` (the same
    /// variable names as the Lambda, with local defaults: see `local_env.rs`). Errors name what
    /// is wrong.
    pub async fn bind(
        options: ServeOptions,
        vars: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ServeError> {
        let assets = AssetStore::new(&options.assets)?;
        let (listener, addr) = listen(&options).await?;
        let url = format!("http://{addr}");
        let mut env = LocalEnv::new(&url);
        // Unless the user named a key, the state folder's secret and key group play Secrets
        // Manager and CloudFront: the signer follows the secret's AWSCURRENT, the stand-in trusts
        // every key the group lists, and `keyhole rotate --state-dir` rotates both.
        let local = if names_a_signing_key(&vars) {
            None
        } else {
            let store = KeyStore::open_or_create(&options.state_dir, Arc::clone(&options.clock))?;
            env.refresh_keys_every(LOCAL_KEY_REFRESH_SECONDS);
            Some(store)
        };
        let idp = if names_an_issuer(&vars) {
            None
        } else {
            Some(Arc::new(dev_idp(&options, &url, &mut env)?))
        };
        // The deny-list lives in the state folder: the signer's logout and `keyhole revoke
        // --state-dir` write it, the edge check's `cf.kvs()` reads it.
        let revocations = Arc::new(FileStore::in_state_dir(&options.state_dir));
        let (source, group) = match local {
            Some(KeyStore { secret, group }) => {
                let description = format!("the state folder's secret {}", secret.path().display());
                let source: Arc<dyn KeySource> = Arc::new(secret);
                (Some((source, description)), Some(group))
            }
            None => (None, None),
        };
        let signer = signer_state(|name| env.get(&vars, name), &options.clock, source)
            .await?
            .with_revoker(Revoker::new(revocations.clone(), MAX_TTL_SECONDS));
        let Some((key_pair_id, public_key)) = signer.public_key() else {
            let cause = signer.key_error().await.unwrap_or_default();
            return Err(ServeError::Key(cause));
        };
        // The stand-in trusts the state folder's key group, as CloudFront trusts the
        // distribution's; or exactly the key the user named.
        let trusted = match group {
            Some(group) => TrustedKeys::Group(GroupWatch::new(group)?),
            None => TrustedKeys::Fixed(Arc::new(
                Verifier::new().with_key(key_pair_id.clone(), public_key),
            )),
        };
        let asset_cache_control =
            HeaderValue::from_str(&options.asset_cache_control).map_err(|_| {
                ServeError::Config(format!(
                    "asset Cache-Control {:?} is not a header value",
                    options.asset_cache_control
                ))
            })?;
        let info = ServerInfo {
            addr,
            url,
            asset_base_url: signer.config().asset_base_url.clone(),
            key_pair_id: key_pair_id.clone(),
            dev_issuer: idp.as_ref().map(|i| i.issuer().to_owned()),
        };
        let app = Arc::new(App {
            trusted,
            signer,
            edge: EdgeCheck::embedded(
                options.sign_in_url.as_deref(),
                Some(Arc::new(StateDirStore(revocations))),
            )?,
            assets,
            idp,
            info,
            clock: options.clock,
            asset_cache_control,
        });
        Ok(Self {
            listener,
            app,
            limits: options.limits,
        })
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
        self.app.idp.as_deref()
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
        let router = router(Arc::clone(&self.app), self.limits);
        crate::connections::serve(self.listener, router, self.limits, shutdown)
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

fn router(app: Arc<App>, limits: Limits) -> Router {
    let mut r = Router::new()
        .route("/", get(crate::demo::index))
        .route("/demo/{file}", get(crate::demo::file))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/session", any(crate::lambda_adapter::session))
        .route("/session/{*rest}", any(crate::lambda_adapter::session));
    if let Some(idp) = &app.idp {
        r = r.nest_service(
            "/idp",
            crate::idp::router(Arc::clone(idp), Arc::clone(&app.clock)),
        );
    }
    r.fallback(crate::stand_in::serve)
        .with_state(app)
        .layer(axum::middleware::from_fn_with_state(
            limits.body_read_timeout,
            crate::connections::read_body,
        ))
        .layer(axum::middleware::from_fn(crate::access_log::access_log))
}
