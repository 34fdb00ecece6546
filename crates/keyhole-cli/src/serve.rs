//! `keyhole serve`: the whole system on one machine (see the keyhole-serve crate).

use std::io::IsTerminal as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use keyhole_serve::{Limits, ServeOptions, Server};

use crate::output::{errln, outln};

/// What `keyhole serve` logs when RUST_LOG is not set: warnings from everything, and the local
/// stack's own info lines (one access line per request), but not the dependencies' chatter.
const DEFAULT_LOG_FILTER: &str = "warn,keyhole_serve=info";

/// Options of `keyhole serve`. Token, cookie and scope settings come from the same environment
/// variables as the Lambda (see docs/architecture.md); with no issuer set, a development identity provider
/// signs in the demo users.
#[derive(clap::Args)]
pub struct Args {
    /// Port to listen on (0 picks a free one; the banner prints it).
    #[arg(long, env = "KEYHOLE_PORT", default_value_t = 8080)]
    port: u16,
    /// Address to bind. Loopback unless you mean to expose the development identity provider.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Folder played as the private bucket (default: the demo assets shipped with keyhole).
    #[arg(long)]
    assets: Option<PathBuf>,
    /// Folder for generated keys, reused between runs.
    #[arg(long, env = "KEYHOLE_STATE_DIR", default_value = ".keyhole")]
    state_dir: PathBuf,
    /// Where the edge check sends HTML navigations without a session ("" for a 401 instead).
    #[arg(long, default_value = "/")]
    sign_in_url: String,
    /// The Cache-Control browsers get on assets (the template's AssetCacheControl), e.g.
    /// "private, max-age=300" to let them keep a copy for five minutes without revalidating.
    #[arg(long, default_value = keyhole_serve::DEFAULT_ASSET_CACHE_CONTROL)]
    asset_cache_control: String,
    /// Connections open at once; one more is answered 503 and closed.
    #[arg(long, default_value_t = Limits::default().max_connections, value_parser = at_least_one)]
    max_connections: usize,
    /// Seconds a client has to send a request's line and headers (and an idle keep-alive
    /// connection to start its next request) before it is closed.
    #[arg(long, default_value_t = Limits::default().header_read_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Seconds a client has to send a request's body once its headers are in (408 after).
    #[arg(long, default_value_t = Limits::default().body_read_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: u64,
}

/// A count of one or more.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number of at least 1")),
    }
}

/// Binds, prints the banner, serves until Ctrl-C or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let assets = args
        .assets
        .unwrap_or_else(|| PathBuf::from(keyhole_serve::DEMO_BUCKET));
    let mut options = ServeOptions::new(args.port, assets);
    options.host = args.host;
    options.state_dir = args.state_dir;
    options.sign_in_url = Some(args.sign_in_url).filter(|s| !s.is_empty());
    options.asset_cache_control = args.asset_cache_control;
    options.limits = Limits {
        max_connections: args.max_connections,
        header_read_timeout: Duration::from_secs(args.header_timeout),
        body_read_timeout: Duration::from_secs(args.body_timeout),
    };
    // Warnings and errors (a key that will not load, an unreachable issuer) and one access line
    // per request reach the terminal; RUST_LOG replaces the filter (RUST_LOG=info adds the
    // signer's own line per /session request). Colour only on a terminal, and never with NO_COLOR.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let server = Server::bind(options, |name| std::env::var(name).ok()).await.context("keyhole serve")?;
        if !args.host.is_loopback() {
            errln!("keyhole: warning: listening on {} exposes the development identity provider to the network", args.host);
        }
        // A closed standard output (`keyhole serve | head -1`) ends the server here, quietly.
        outln!("{}", server.banner())?;
        server.run(shutdown()).await.context("keyhole serve")?;
        Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
