//! `keyhole keygen`: writes `private_key.pem` and `public_key.pem`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use keyhole_core::{KeyType, SigningKey};

use crate::output::outln;

/// Options of `keyhole keygen`.
#[derive(clap::Args)]
pub struct Args {
    /// Key type: ecdsa (P-256, smaller cookies, faster) or rsa (2048-bit).
    #[arg(long = "type", value_enum, default_value = "ecdsa")]
    kind: Kind,
    /// Directory to write private_key.pem and public_key.pem into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Replace existing key files.
    #[arg(long)]
    force: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Kind {
    Ecdsa,
    Rsa,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let kind = match args.kind {
        Kind::Ecdsa => KeyType::EcdsaP256,
        Kind::Rsa => KeyType::Rsa2048,
    };
    fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let private = args.out.join("private_key.pem");
    let public = args.out.join("public_key.pem");
    if !args.force {
        for path in [&private, &public] {
            if path.exists() {
                bail!(
                    "{} already exists (use --force to replace it)",
                    path.display()
                );
            }
        }
    }
    let key = SigningKey::generate(kind)?;
    write_private(&private, &key.private_key_pem())?;
    fs::write(&public, key.public_key_pem())
        .with_context(|| format!("writing {}", public.display()))?;
    outln!("{kind} key pair written:")?;
    outln!(
        "  {}  (secret: store it in Secrets Manager or SIGNING_KEY_FILE)",
        private.display()
    )?;
    outln!(
        "  {}  (paste into a CloudFront public key)",
        public.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the private key readable by its owner only.
fn write_private(path: &Path, pem: &str) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(pem.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
