//! `keyhole verify`: the checks CloudFront makes, with the reason when it would refuse.

use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use keyhole_core::{
    Grant, Verifier, VerifyError, VerifyingKey, is_valid_key_pair_id, parse_cookie_header,
};

use crate::output::{errln, outln};
use crate::when;

/// Exit status when the input is well-formed but CloudFront would refuse it.
const DENIED: u8 = 3;

/// Options of `keyhole verify`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["url", "cookies"])))]
pub struct Args {
    /// Public key PEM file (the one registered with CloudFront).
    #[arg(long)]
    public_key: PathBuf,
    /// Key pair id to trust the key under; by default, whatever id the URL or cookies carry.
    #[arg(long)]
    key_pair_id: Option<String>,
    /// A signed URL.
    #[arg(long)]
    url: Option<String>,
    /// A Cookie header value: 'CloudFront-Policy=...; CloudFront-Signature=...; ...'.
    #[arg(long, requires = "request_url")]
    cookies: Option<String>,
    /// The URL requested with --cookies.
    #[arg(long)]
    request_url: Option<String>,
    /// Client IP address, checked against the policy's IpAddress (required when it has one).
    #[arg(long)]
    ip: Option<IpAddr>,
    /// Check as of this time (epoch seconds, RFC 3339, +1h or -1h); default now.
    #[arg(long, allow_hyphen_values = true)]
    at: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(id) = args.key_pair_id.as_deref()
        && !is_valid_key_pair_id(id)
    {
        bail!(
            "invalid --key-pair-id {id:?}: a CloudFront public key id is letters, digits, - and _ (e.g. K2JCJMDEHXQW5F)"
        );
    }
    let now = when::now();
    let at = match &args.at {
        Some(text) => when::parse(text, now).context("--at")?,
        None => now,
    };
    let pem = fs::read_to_string(&args.public_key)
        .with_context(|| format!("reading public key file {}", args.public_key.display()))?;
    let key = VerifyingKey::from_pem(&pem)
        .with_context(|| format!("public key file {}", args.public_key.display()))?;

    let result = match (&args.url, &args.cookies, &args.request_url) {
        (Some(url), _, _) => {
            let id = args
                .key_pair_id
                .clone()
                .or_else(|| url_param(url, "Key-Pair-Id"))
                .unwrap_or_default();
            Verifier::new()
                .with_key(id, key)
                .verify_url(url, args.ip, at)
        }
        (None, Some(header), Some(request_url)) => {
            let cookies = parse_cookie_header(header);
            let id = args
                .key_pair_id
                .clone()
                .or_else(|| {
                    cookies
                        .iter()
                        .find(|(n, _)| *n == "CloudFront-Key-Pair-Id")
                        .map(|(_, v)| v.to_string())
                })
                .unwrap_or_default();
            Verifier::new()
                .with_key(id, key)
                .verify_cookies(&cookies, request_url, args.ip, at)
        }
        _ => bail!("give --url, or --cookies with --request-url"),
    };
    report(result)
}

/// Prints the verdict: what is allowed (exit 0) or why not (exit 3).
fn report(result: Result<Grant, VerifyError>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(grant) => {
            outln!("allowed: {}", grant.resource)?;
            outln!(
                "  until {} ({})",
                when::show(grant.expires_at),
                grant.expires_at
            )?;
            if let Some(starts) = grant.starts_at {
                outln!("  from {} ({starts})", when::show(starts))?;
            }
            if let Some(ip) = grant.ip {
                outln!("  for clients in {ip}")?;
            }
            outln!("  signed with key pair id {}", grant.key_pair_id)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(VerifyError::SourceIpRequired(range)) => {
            errln!(
                "keyhole: denied: the policy requires a source IP in {range}: pass the client's address with --ip ADDRESS"
            );
            Ok(ExitCode::from(DENIED))
        }
        Err(reason) => {
            errln!("keyhole: denied: {reason}");
            Ok(ExitCode::from(DENIED))
        }
    }
}

fn url_param(url: &str, name: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}
