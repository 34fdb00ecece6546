//! `keyhole rotate` and `keyhole keys list` as an operator runs them, against moto on loopback
//! (Secrets Manager, and CloudFront with the key-group calls scripts/moto-server.py adds), the
//! endpoint named by AWS_ENDPOINT_URL as it would be for any AWS-compatible endpoint.
//! Needs moto: `make test-rust` starts it and sets KEYHOLE_MOTO_URL.

use std::process::{Command, Output};

use aws_sdk_cloudfront::types::{KeyGroupConfig, PublicKeyConfig};
use keyhole_core::{KeyType, SigningKey};

fn moto_url() -> String {
    std::env::var("KEYHOLE_MOTO_URL").expect("KEYHOLE_MOTO_URL (make test-rust sets it)")
}

fn keyhole(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyhole"))
        .args(args)
        .env_clear()
        .envs([
            ("AWS_ENDPOINT_URL", moto_url().as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A secret with a first key and a key group trusting it, as the stack's key setup leaves them.
async fn stack(tag: &str) -> (String, String, String) {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudfront::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await;
    let cf = aws_sdk_cloudfront::Client::new(&conf);
    let sm = aws_sdk_secretsmanager::Client::new(&conf);
    let name = format!("keyhole-cli-{tag}-{}", std::process::id());
    let key = SigningKey::generate(KeyType::EcdsaP256).unwrap();
    let first = cf
        .create_public_key()
        .public_key_config(
            PublicKeyConfig::builder()
                .name(&name)
                .caller_reference(&name)
                .encoded_key(key.public_key_pem())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .public_key()
        .unwrap()
        .id()
        .to_owned();
    let group = cf
        .create_key_group()
        .key_group_config(
            KeyGroupConfig::builder()
                .name(&name)
                .items(&first)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .key_group()
        .unwrap()
        .id()
        .to_owned();
    let value = serde_json::json!({"keyPairId": first, "privateKeyPem": key.private_key_pem()});
    let secret = sm
        .create_secret()
        .name(&name)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    (secret, group, first)
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn rotate_runs_the_four_steps_and_keys_list_shows_who_signs_and_what_is_kept() {
    let (secret, group, first) = stack("rotate").await;
    let out = keyhole(&[
        "rotate",
        "--secret-id",
        &secret,
        "--key-group-id",
        &group,
        "--max-session-ttl",
        "1h",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(step) && l.contains(" ms ")),
            "{step}: {stdout}"
        );
    }
    assert!(
        stdout.contains("(2 of 5 keys; a retired key is kept 75m after it stops signing)"),
        "{stdout}"
    );
    let signing: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("signing (AWSCURRENT)"))
        .collect();
    assert_eq!(signing.len(), 1, "{stdout}");
    assert!(
        !signing[0].contains(&first),
        "the first key still signs: {stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains(&first) && l.contains("retired") && l.contains("kept until")),
        "{stdout}"
    );

    // Without the secret, nobody can tell which key signs: both are listed, the first retired.
    let out = keyhole(&["keys", "list", "--key-group-id", &group]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("  ")).count(),
        2,
        "{stdout}"
    );
    assert!(!stdout.contains("signing (AWSCURRENT)"), "{stdout}");
    // The default retention is the signer's longest session (7 days) plus the margin.
    assert!(
        stdout.contains("kept 7d after it stops signing"),
        "{stdout}"
    );
}

#[tokio::test]
#[ignore = "needs moto: run by make test-rust"]
async fn a_secret_or_group_that_does_not_exist_is_one_clear_line_and_exit_1() {
    let (secret, group, _) = stack("missing").await;
    for args in [
        vec![
            "rotate",
            "--secret-id",
            "keyhole/no-such-secret",
            "--key-group-id",
            group.as_str(),
        ],
        vec![
            "rotate",
            "--secret-id",
            secret.as_str(),
            "--key-group-id",
            "NOSUCHGROUP",
        ],
        vec!["keys", "list", "--key-group-id", "NOSUCHGROUP"],
    ] {
        let out = keyhole(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("keyhole: "), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr.contains("no-such-secret") || stderr.contains("NOSUCHGROUP"),
            "the message names what is missing: {stderr}"
        );
    }
    // A bad duration is a usage error before any call.
    let out = keyhole(&[
        "rotate",
        "--secret-id",
        &secret,
        "--key-group-id",
        &group,
        "--max-session-ttl",
        "soon",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid duration"),
        "{}",
        text(&out.stderr)
    );
}
