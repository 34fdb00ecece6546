//! Issues N sessions in-process through `handle` (default 10,000) and prints the rate, both per
//! wall-clock second and per second of this thread's CPU time (from /proc/thread-self/schedstat, so a
//! busy shared machine does not distort it; `openssl speed` also counts CPU time by default). Run
//! it under `/usr/bin/time` for peak memory (`make bench-signer` does).
//! usage: sessions [rsa|ecdsa] [N]

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use keyhole_signer::handle;

/// Nanoseconds the main thread has spent on a CPU (Linux), if readable.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "ecdsa".to_owned());
    let n: usize = args
        .next()
        .map_or(10_000, |s| s.parse().expect("N must be a number"));
    let pem = match kind.as_str() {
        "rsa" => "cloudfront-rsa.pem",
        "ecdsa" => "cloudfront-ecdsa.pem",
        other => panic!("unknown key type {other:?}; use rsa or ecdsa"),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let event = read("apigw-v2-post-session-bearer.json").replace("{{TOKEN}}", &token());
    let state = rt.block_on(state_with(pem, &[], FakeClock::at_now()));
    let started = std::time::Instant::now();
    let cpu_started = cpu_ns();
    let mut set_cookie_bytes = 0usize;
    for _ in 0..n {
        let req = lambda_http::request::from_str(&event).expect("fixture parses");
        let resp = rt.block_on(handle(&state, req)).expect("handler answers");
        assert_eq!(resp.status(), 200);
        set_cookie_bytes += set_cookies(&resp).iter().map(String::len).sum::<usize>();
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = match (cpu_started, cpu_ns()) {
        (Some(a), Some(b)) => {
            let cpu_secs = (b - a) as f64 / 1e9;
            format!(
                "{cpu_secs:.2} s CPU = {:.0} sessions per CPU-second",
                n as f64 / cpu_secs
            )
        }
        _ => "CPU time unavailable".to_owned(),
    };
    println!(
        "{kind}: {n} sessions, {secs:.2} s wall = {:.0}/s, {cpu} ({} bytes of Set-Cookie per session)",
        n as f64 / secs,
        set_cookie_bytes / n.max(1)
    );
}
