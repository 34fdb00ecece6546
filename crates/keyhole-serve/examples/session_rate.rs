//! The in-process rate of the signer handler as `keyhole serve` configures it: `POST /session`
//! requests built in memory and passed to `keyhole_signer::handle`, no socket. The load script
//! (bench/load.sh) prints it beside the HTTP rate measured with wrk in the same run.
//!
//! Usage: session_rate STATE_DIR SECONDS TASKS

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keyhole_serve::{Clock, ServeOptions, Server, SystemClock};
use lambda_http::RequestExt;

fn request(token: &str) -> anyhow::Result<lambda_http::Request> {
    let mut context =
        lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    context.http.method = lambda_http::http::Method::POST;
    context.http.path = Some("/session".into());
    context.http.source_ip = Some("127.0.0.1".into());
    let mut req = lambda_http::Request::new(lambda_http::Body::Empty);
    *req.method_mut() = lambda_http::http::Method::POST;
    *req.uri_mut() = lambda_http::http::Uri::from_static("/session");
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(req.with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(context)))
}

/// The allocator the `keyhole` binary runs `keyhole serve` with, so both rates pay the same.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, state, seconds, tasks] = args.as_slice() else {
        anyhow::bail!("usage: session_rate STATE_DIR SECONDS TASKS");
    };
    let seconds: u64 = seconds.parse()?;
    let tasks: usize = tasks.parse()?;
    let mut options = ServeOptions::new(0, keyhole_serve::DEMO_BUCKET);
    options.state_dir = state.into();
    let server = Arc::new(Server::bind(options, |_| None).await?);
    let token = server
        .dev_idp()
        .ok_or_else(|| anyhow::anyhow!("no development identity provider"))?
        .issue("alice", SystemClock.now())?;
    // One warm-up request: it must succeed, or the rate would measure refusals.
    let resp = keyhole_signer::handle(server.signer_state(), request(&token)?)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(
        resp.status() == 200,
        "warm-up POST /session answered {}",
        resp.status()
    );

    let done = Arc::new(AtomicU64::new(0));
    // Each task watches the deadline itself: the handler rarely yields, so a timer on the runtime
    // could starve while both workers are busy.
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (server, token, done) = (Arc::clone(&server), token.clone(), Arc::clone(&done));
        handles.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let Ok(req) = request(&token) else { break };
                let resp = keyhole_signer::handle(server.signer_state(), req).await;
                if matches!(resp, Ok(ref r) if r.status() == 200) {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for h in handles {
        h.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "in-process POST /session: {:.0} sessions/s ({n} in {elapsed:.1} s, {tasks} tasks)",
        n as f64 / elapsed
    );
    Ok(())
}
