//! `keyhole token verify TOKEN|-`: checks a bearer token exactly as the signer Lambda would,
//! with the same environment variables (`COGNITO_USER_POOL_ID`, `OIDC_ISSUER`, `JWKS_URL`,
//! `TOKEN_USE`, `REQUIRED_GROUPS`, ...), and prints the verified claims as JSON.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, bail};
use keyhole_token::{Claims, Rejection, TokenConfig, TokenVerifier};

use crate::output::{errln, outln};

/// Exit status when the token is refused (configuration and I/O errors exit 1).
const REFUSED: u8 = 3;

/// Tokens are at most 16 KiB; reading a little more lets the verifier report "too large"
/// instead of this command silently truncating.
const STDIN_LIMIT: u64 = 64 * 1024;

/// Subcommands of `keyhole token`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Verify a JWT as the signer would; print its claims as JSON (exit 0) or the reason it is
    /// refused (exit 3). Configured by the same environment variables as the signer; an
    /// unreachable issuer key set is an error naming the URL and the cause (exit 1).
    Verify(VerifyArgs),
}

/// Options of `keyhole token verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The token (a leading "Bearer " is ignored), or - to read it from standard input.
    token: String,
}

/// Runs a `keyhole token` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Verify(args) => {
            let token = if args.token == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .take(STDIN_LIMIT)
                    .read_to_string(&mut text)
                    .context("reading the token from standard input")?;
                text
            } else {
                args.token
            };
            match verify(&token, |name| std::env::var(name).ok())? {
                Ok(claims) => {
                    let json =
                        serde_json::to_string_pretty(&claims).context("encoding the claims")?;
                    outln!("{json}")?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(reason) => {
                    errln!("keyhole: token refused: {reason}");
                    Ok(ExitCode::from(REFUSED))
                }
            }
        }
    }
}

/// The check itself, with the environment passed in so it is testable without touching the
/// process environment: the verified claims, the reason the token is refused, or an error when
/// no verdict could be reached (configuration, or an issuer key set that cannot be fetched).
fn verify(
    token: &str,
    vars: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Result<Claims, Rejection>> {
    let token = token.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
    let config = TokenConfig::from_vars(vars).context("token configuration")?;
    let verifier = TokenVerifier::from_config(config).context("token configuration")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match runtime.block_on(verifier.verify(token)) {
        // Says nothing about the token: tell the operator which URL failed and why.
        Err(Rejection::KeySetUnavailable) => {
            let causes: Vec<String> = verifier
                .config()
                .issuers()
                .iter()
                .filter_map(|issuer| verifier.key_set_error(&issuer.issuer))
                .map(|e| e.to_string())
                .collect();
            if causes.is_empty() {
                bail!("{}", Rejection::KeySetUnavailable);
            }
            bail!("{}: {}", Rejection::KeySetUnavailable, causes.join("; "));
        }
        verdict => Ok(verdict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> String {
        format!(
            "{}/../keyhole-token/testdata/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    /// An OIDC issuer whose keys come from the committed test JWKS; the JWKS URL points at a
    /// closed loopback port so nothing is fetched from anywhere.
    fn vars(name: &str) -> Option<String> {
        match name {
            "OIDC_ISSUER" => Some("https://issuer.example".into()),
            "OIDC_AUDIENCE" => Some("photo-app".into()),
            "JWKS_URL" => Some("http://127.0.0.1:9/jwks.json".into()),
            "JWKS_FILE" => Some(testdata("jwks.json")),
            _ => None,
        }
    }

    #[test]
    fn a_valid_token_gives_its_claims() {
        let token = std::fs::read_to_string(testdata("oidc-rs256.jwt")).unwrap();
        let claims = verify(&format!("Bearer {token}\n"), vars).unwrap().unwrap();
        let claims = serde_json::to_value(&claims).unwrap();
        assert_eq!(claims["sub"], "0b7c1e2a-5f1d-4c1e-9f0a-3d2b1c0e9f8a");
        assert_eq!(claims["issuer"], "https://issuer.example");
        assert_eq!(claims["expiresAt"], 4_102_444_800_i64);
        assert_eq!(claims["groups"][0], "readers");
    }

    #[test]
    fn a_refused_token_gives_a_reason_that_never_echoes_it() {
        let token = std::fs::read_to_string(testdata("oidc-es256.jwt")).unwrap();
        let tampered = token.trim().replacen("eyJ", "eyK", 2);
        for bad in ["not-a-token", tampered.as_str()] {
            let reason = verify(bad, vars).unwrap().unwrap_err().to_string();
            assert!(!reason.is_empty());
            assert!(!reason.contains(bad), "the reason never echoes the token");
        }
    }

    #[test]
    fn an_unreachable_key_set_is_an_error_naming_the_url_and_the_cause() {
        let token = std::fs::read_to_string(testdata("oidc-rs256.jwt")).unwrap();
        let without_file = |name: &str| match name {
            "JWKS_FILE" => None,
            other => vars(other),
        };
        let message = format!("{:#}", verify(&token, without_file).unwrap_err());
        assert!(
            message.starts_with(
                "issuer key set unavailable: fetching http://127.0.0.1:9/jwks.json failed: connection failed: "
            ),
            "{message}"
        );
    }

    #[test]
    fn missing_configuration_is_an_error_naming_the_variable() {
        let message = format!("{:#}", verify("a.b.c", |_| None).unwrap_err());
        assert!(message.contains("COGNITO_USER_POOL_ID"), "{message}");
        let only_issuer = |name: &str| match name {
            "OIDC_ISSUER" => Some("https://issuer.example".into()),
            _ => None,
        };
        assert!(
            format!("{:#}", verify("a.b.c", only_issuer).unwrap_err()).contains("OIDC_AUDIENCE")
        );
    }
}
