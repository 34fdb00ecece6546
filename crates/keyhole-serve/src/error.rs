//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can stop `keyhole serve` from starting. Variants with a `source` leave it out
/// of their message: callers print the chain (anyhow's `{:#}`), so the cause shows once.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The assets folder (the stand-in bucket) cannot be opened.
    #[error("assets folder {path}")]
    Assets {
        /// The folder as given.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// The edge-check function cannot be loaded or failed while running.
    #[error("edge check: {0}")]
    EdgeCheck(String),
    /// A file or folder in the state folder cannot be read or written.
    #[error("state {path}")]
    State {
        /// The file or folder.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// A key cannot be generated, read or used.
    #[error("key: {0}")]
    Key(String),
    /// The development identity provider has no such demo user.
    #[error("no demo user named {0:?}; try alice or bob")]
    UnknownUser(String),
    /// The listening socket cannot be bound or failed.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The configuration (the same environment variables as the Lambda) is invalid; the message
    /// names the variable.
    #[error("configuration: {0}")]
    Config(String),
}
