//! `keyhole token verify TOKEN|-`: checks a bearer token exactly as the signer Lambda would,
//! with the same environment variables (`COGNITO_USER_POOL_ID`, `OIDC_ISSUER`, `JWKS_URL`,
//! `TOKEN_USE`, `REQUIRED_GROUPS`, ...), and prints the verified claims as JSON.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use keyhole_token::{TokenConfig, TokenVerifier};

/// Exit status when the token is refused (configuration and I/O errors exit 1).
const REFUSED: u8 = 3;

/// Tokens are at most 16 KiB; reading a little more lets the verifier report "too large"
/// instead of this command silently truncating.
const STDIN_LIMIT: u64 = 64 * 1024;

/// Subcommands of `keyhole token`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Verify a JWT as the signer would; print its claims as JSON (exit 0) or the reason it is
    /// refused (exit 3). Configured by the same environment variables as the signer.
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
            verify(
                &token,
                |name| std::env::var(name).ok(),
                &mut std::io::stdout(),
                &mut std::io::stderr(),
            )
        }
    }
}

/// The whole command with its inputs passed in, so it is testable without touching the
/// process environment.
fn verify(
    token: &str,
    vars: impl Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let token = token.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
    let config = TokenConfig::from_vars(vars).context("token configuration")?;
    let verifier = TokenVerifier::from_config(config).context("token configuration")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match runtime.block_on(verifier.verify(token)) {
        Ok(claims) => {
            serde_json::to_writer_pretty(&mut *out, &claims).context("writing the claims")?;
            writeln!(out).context("writing the claims")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(reason) => {
            writeln!(err, "keyhole: token refused: {reason}").context("writing the reason")?;
            Ok(ExitCode::from(REFUSED))
        }
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

    fn run_with(
        token: &str,
        vars: impl Fn(&str) -> Option<String>,
    ) -> (anyhow::Result<ExitCode>, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = verify(token, vars, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn a_valid_token_prints_its_claims_as_json() {
        let token = std::fs::read_to_string(testdata("oidc-rs256.jwt")).unwrap();
        let (code, out, err) = run_with(&format!("Bearer {token}\n"), vars);
        assert_eq!(code.unwrap(), ExitCode::SUCCESS);
        assert!(err.is_empty());
        let claims: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(claims["sub"], "0b7c1e2a-5f1d-4c1e-9f0a-3d2b1c0e9f8a");
        assert_eq!(claims["issuer"], "https://issuer.example");
        assert_eq!(claims["expiresAt"], 4_102_444_800_i64);
        assert_eq!(claims["groups"][0], "readers");
    }

    #[test]
    fn a_refused_token_prints_the_reason_and_exits_3() {
        let token = std::fs::read_to_string(testdata("oidc-es256.jwt")).unwrap();
        let tampered = token.trim().replacen("eyJ", "eyK", 2);
        for bad in ["not-a-token", tampered.as_str()] {
            let (code, out, err) = run_with(bad, vars);
            assert_eq!(code.unwrap(), ExitCode::from(REFUSED));
            assert!(out.is_empty());
            assert!(err.starts_with("keyhole: token refused: "), "{err}");
            assert!(!err.contains(bad), "the reason never echoes the token");
        }
    }

    #[test]
    fn missing_configuration_is_an_error_naming_the_variable() {
        let (code, _, _) = run_with("a.b.c", |_| None);
        let message = format!("{:#}", code.unwrap_err());
        assert!(message.contains("COGNITO_USER_POOL_ID"), "{message}");
        let (code, _, _) = run_with("a.b.c", |name| match name {
            "OIDC_ISSUER" => Some("https://issuer.example".into()),
            _ => None,
        });
        assert!(format!("{:#}", code.unwrap_err()).contains("OIDC_AUDIENCE"));
    }
}
