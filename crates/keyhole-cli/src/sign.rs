//! `keyhole sign cookies` and `keyhole sign url`.

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use keyhole_core::{
    CookieAttributes, HashAlgorithm, IpRange, Policy, SameSite, Signer, SigningKey,
    is_valid_key_pair_id,
};

use crate::output::{errln, outln};
use crate::when;

/// `keyhole sign` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Print signed cookies as JSON (name → value), or as Set-Cookie lines.
    Cookies(CookieArgs),
    /// Print a signed URL.
    Url(UrlArgs),
}

/// Options shared by both forms.
#[derive(clap::Args)]
pub struct Common {
    /// Private key PEM file (RSA-2048 or ECDSA P-256; PKCS#1, SEC1 or PKCS#8).
    #[arg(long)]
    key: PathBuf,
    /// CloudFront public key id the key is registered under (letters, digits, - and _).
    #[arg(long)]
    key_pair_id: String,
    /// Expiry: epoch seconds, RFC 3339, or an offset from now such as +1h / +30m / +7d. A time
    /// already past is refused unless --allow-past (write a negative offset as --expires=-1h).
    #[arg(long, allow_hyphen_values = true)]
    expires: String,
    /// Sign even when --expires is already past (for tests and known answers); warns on stderr.
    #[arg(long)]
    allow_past: bool,
    /// Not valid before (custom policy only): same forms as --expires.
    #[arg(long, allow_hyphen_values = true)]
    starts: Option<String>,
    /// Allowed client IPv4 address or CIDR (custom policy only).
    #[arg(long)]
    ip: Option<String>,
    /// Hash: sha256 (adds Hash-Algorithm=SHA256) or sha1 (what CloudFront assumes when no
    /// Hash-Algorithm is sent, for RSA and ECDSA keys).
    #[arg(long, default_value = "sha256")]
    hash: String,
    /// Use a canned policy (Expires instead of Policy): exact resource, no --starts or --ip.
    #[arg(long)]
    canned: bool,
}

/// Options of `keyhole sign cookies`.
#[derive(clap::Args)]
pub struct CookieArgs {
    #[command(flatten)]
    common: Common,
    /// Resource the cookies grant, e.g. https://d111111abcdef8.cloudfront.net/users/abc/*
    #[arg(long)]
    resource: String,
    /// Print Set-Cookie header lines instead of JSON.
    #[arg(long)]
    set_cookie: bool,
    /// Cookie Path (with --set-cookie).
    #[arg(long, default_value = "/", requires = "set_cookie")]
    path: String,
    /// Cookie Domain (with --set-cookie).
    #[arg(long, requires = "set_cookie")]
    domain: Option<String>,
    /// Cookie SameSite: strict, lax or none (with --set-cookie).
    #[arg(long, default_value = "lax", requires = "set_cookie")]
    same_site: String,
}

/// Options of `keyhole sign url`.
#[derive(clap::Args)]
pub struct UrlArgs {
    #[command(flatten)]
    common: Common,
    /// URL to sign.
    #[arg(long)]
    url: String,
    /// Policy Resource when it differs from --url, e.g. a wildcard (custom policy only).
    #[arg(long)]
    resource: Option<String>,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Cookies(args) => cookies(args),
        Command::Url(args) => url(args),
    }
}

/// What both forms need, parsed and checked.
struct Prepared {
    signer: Signer,
    expires: i64,
    starts: Option<i64>,
    ip: Option<IpRange>,
    canned: bool,
}

impl Prepared {
    fn new(common: &Common) -> anyhow::Result<Self> {
        let now = when::now();
        if !is_valid_key_pair_id(&common.key_pair_id) {
            bail!(
                "invalid --key-pair-id {:?}: a CloudFront public key id is letters, digits, - and _ (e.g. K2JCJMDEHXQW5F)",
                common.key_pair_id
            );
        }
        let hash: HashAlgorithm = common.hash.parse().map_err(anyhow::Error::msg)?;
        let expires = when::parse(&common.expires, now).context("--expires")?;
        if expires <= now {
            let past = format!(
                "--expires {} is {} ({}), not after now ({})",
                common.expires,
                when::show(expires),
                expires,
                when::show(now)
            );
            if !common.allow_past {
                bail!(
                    "{past}: CloudFront would refuse it as expired; give a later time, or add --allow-past to sign it anyway"
                );
            }
            errln!("keyhole: warning: {past}: CloudFront will refuse it as expired");
        }
        let starts = common
            .starts
            .as_deref()
            .map(|s| when::parse(s, now))
            .transpose()
            .context("--starts")?;
        let ip = common
            .ip
            .as_deref()
            .map(str::parse::<IpRange>)
            .transpose()
            .context("--ip")?;
        if common.canned && (starts.is_some() || ip.is_some()) {
            bail!("--canned cannot carry --starts or --ip: drop --canned to use a custom policy");
        }
        let pem = fs::read_to_string(&common.key)
            .with_context(|| format!("reading key file {}", common.key.display()))?;
        let key = SigningKey::from_pem(&pem)
            .with_context(|| format!("key file {}", common.key.display()))?;
        Ok(Prepared {
            signer: Signer::new(key, common.key_pair_id.clone(), hash),
            expires,
            starts,
            ip,
            canned: common.canned,
        })
    }

    fn policy(&self, resource: &str) -> anyhow::Result<Policy> {
        let mut policy = Policy::new(resource, self.expires)?;
        if let Some(starts) = self.starts {
            policy = policy.starting_at(starts);
        }
        if let Some(ip) = self.ip {
            policy = policy.from_ip(ip);
        }
        Ok(policy)
    }
}

fn cookies(args: CookieArgs) -> anyhow::Result<ExitCode> {
    let prepared = Prepared::new(&args.common)?;
    let cookies = if prepared.canned {
        // `?` may start a query string, which canned resources keep; only `*` is surely a wildcard.
        if args.resource.contains('*') {
            bail!(
                "--canned needs an exact resource; wildcards need a custom policy (drop --canned)"
            );
        }
        prepared
            .signer
            .canned_cookies(&args.resource, prepared.expires)?
    } else {
        prepared.signer.cookies(&prepared.policy(&args.resource)?)?
    };
    if args.set_cookie {
        let attrs = CookieAttributes {
            path: args.path,
            domain: args.domain,
            same_site: args.same_site.parse::<SameSite>()?,
            ..CookieAttributes::default()
        };
        attrs.validate()?;
        for line in cookies.set_cookie_headers(&attrs) {
            outln!("Set-Cookie: {line}")?;
        }
    } else {
        let map: serde_json::Map<String, serde_json::Value> = cookies
            .pairs()
            .into_iter()
            .map(|(name, value)| (name.to_string(), serde_json::Value::String(value)))
            .collect();
        outln!("{}", serde_json::Value::Object(map))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn url(args: UrlArgs) -> anyhow::Result<ExitCode> {
    let prepared = Prepared::new(&args.common)?;
    let signed = if prepared.canned {
        if args.resource.is_some() {
            bail!("--canned signs exactly --url; --resource needs a custom policy (drop --canned)");
        }
        prepared.signer.canned_url(&args.url, prepared.expires)?
    } else {
        let resource = args.resource.as_deref().unwrap_or(&args.url);
        prepared
            .signer
            .signed_url(&args.url, &prepared.policy(resource)?)?
    };
    outln!("{signed}")?;
    Ok(ExitCode::SUCCESS)
}
