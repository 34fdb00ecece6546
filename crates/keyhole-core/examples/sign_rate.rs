//! Signs per second on one core for each key type and hash, in the same shape as
//! `openssl speed -seconds N`: used by `scripts/bench-sign.sh` to print both side by side.
//!
//! Usage: `sign_rate [SECONDS]` (default 3). Output lines: `<algorithm> <signs per second>`.

use std::time::{Duration, Instant};

use keyhole_core::{HashAlgorithm, KeyType, Policy, SigningKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 3,
    };
    let json = Policy::new(
        "https://d111111abcdef8.cloudfront.net/users/0f8fad5b-d9cb-469f-a165-70867728950e/*",
        1_767_290_400,
    )?
    .to_json();
    for (kind, hash, name) in [
        (KeyType::Rsa2048, HashAlgorithm::Sha256, "rsa2048-sha256"),
        (KeyType::Rsa2048, HashAlgorithm::Sha1, "rsa2048-sha1"),
        (
            KeyType::EcdsaP256,
            HashAlgorithm::Sha256,
            "ecdsa-p256-sha256",
        ),
    ] {
        let key = SigningKey::generate(kind)?;
        let budget = Duration::from_secs(seconds);
        let start = Instant::now();
        let mut count: u64 = 0;
        while start.elapsed() < budget {
            std::hint::black_box(key.sign(std::hint::black_box(json.as_bytes()), hash)?);
            count += 1;
        }
        let rate = count as f64 / start.elapsed().as_secs_f64();
        println!("{name} {rate:.1}");
    }
    Ok(())
}
