//! The in-process handler, valid token in, cookies out: API Gateway v2 event -> `handle` ->
//! response with the signed cookie set and the marker. One scope (`/users/{sub}/*`), so one
//! CloudFront signature per session, plus the RS256 token check and the marker's HMAC.
//! `make bench` prints `openssl speed` for RSA-2048 and P-256 signing first, in the same run.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use keyhole_signer::handle;

fn sessions(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // One token for the whole run: valid for ten minutes, longer than the bench takes.
    let token = token();
    let event = read("apigw-v2-post-session-bearer.json").replace("{{TOKEN}}", &token);
    let mut group = c.benchmark_group("session");
    group.throughput(Throughput::Elements(1));
    for (name, pem) in [
        ("rsa2048", "cloudfront-rsa.pem"),
        ("ecdsa_p256", "cloudfront-ecdsa.pem"),
    ] {
        let state = rt.block_on(state_with(pem, &[], FakeClock::at_now()));
        // Sanity: the measured path is the success path.
        let req = lambda_http::request::from_str(&event).unwrap();
        assert_eq!(rt.block_on(handle(&state, req)).unwrap().status(), 200);
        group.bench_function(name, |b| {
            b.iter_batched(
                || lambda_http::request::from_str(&event).unwrap(),
                |req| rt.block_on(handle(&state, req)).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, sessions);
criterion_main!(benches);
