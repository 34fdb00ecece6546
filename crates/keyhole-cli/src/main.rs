//! The `keyhole` command-line tool: key generation, signing and verification of CloudFront signed
//! cookies and URLs, and (from their own modules) token checks, revocation, key rotation and the local stack.
//!
//! `main` only parses arguments and dispatches; each subcommand lives in its own module and returns
//! an exit code. Errors print as one line, `keyhole: <what went wrong>`, never a panic; output goes
//! through [`output`], so a closed standard output ends the command quietly.
//!
//! Exit codes: 0 success (or standard output closed by its reader), 1 bad input or a check that
//! could not be made, 2 usage (clap), 3 denied or refused (`verify`, `token verify`).

// Every byte for the terminal goes through `output`, which never panics on a closed pipe.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod keygen;
mod output;
mod revoke;
mod rotate;
mod rotate_local;
mod serve;
mod sign;
mod token;
mod verify;
mod when;

/// Serve private S3 assets to logged-in users with CloudFront signed cookies.
#[derive(Parser)]
#[command(name = "keyhole", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a key pair for a CloudFront public key (ECDSA P-256 by default).
    Keygen(keygen::Args),
    /// Sign cookies or a URL for CloudFront.
    #[command(subcommand)]
    Sign(sign::Command),
    /// Check signed cookies or a signed URL as CloudFront would.
    Verify(verify::Args),
    /// Check a bearer token (JWT) as the signer would, with the same environment variables.
    #[command(subcommand)]
    Token(token::Command),
    /// End sessions early: refuse, at the edge, every session for a user or a prefix issued before now.
    Revoke(revoke::Args),
    /// Rotate the CloudFront signing key now: the four steps Secrets Manager runs on its schedule.
    Rotate(rotate::RotateArgs),
    /// Look at the trusted key group's keys.
    #[command(subcommand)]
    Keys(rotate::KeysCommand),
    /// Run the whole system on 127.0.0.1: signer, CloudFront stand-in, edge check, demo identity provider and page.
    Serve(serve::Args),
}

/// mimalloc rather than the system allocator: `keyhole serve` allocates on every request, and
/// glibc's malloc and free were about a tenth of its CPU under load (see the README, "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Sign(command) => sign::run(command),
        Command::Verify(args) => verify::run(args),
        Command::Token(command) => token::run(command),
        Command::Revoke(args) => revoke::run(args),
        Command::Rotate(args) => rotate::run_rotate(args),
        Command::Keys(command) => rotate::run_keys(command),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(code) => code,
        // Whoever read our output stopped (`| head`): nothing is wrong and nobody is listening.
        Err(error) if error.downcast_ref::<output::StdoutClosed>().is_some() => ExitCode::SUCCESS,
        Err(error) => {
            output::errln!("keyhole: {error:#}");
            ExitCode::FAILURE
        }
    }
}
