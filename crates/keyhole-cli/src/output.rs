//! The one way commands write to the terminal. `print!`/`println!` panic when standard output is a
//! pipe whose reader has gone (`keyhole verify ... | head -1`); here a closed standard output
//! becomes [`StdoutClosed`], which `main` turns into a quiet exit 0, as ripgrep and other Unix
//! tools do. Messages for standard error never fail: if it is closed there is nobody to tell.

use std::fmt;
use std::io::{self, Write as _};

/// Standard output was closed by its reader; the command ends quietly.
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Writes `text` to standard output and flushes it, so a closed pipe is noticed here.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe => anyhow::Error::new(StdoutClosed),
            _ => anyhow::Error::new(e).context("writing to standard output"),
        })
}

/// Writes one line to standard error, ignoring failure.
pub fn write_stderr(line: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// `println!` that returns `anyhow::Result<()>` instead of panicking: use with `?`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::write_stderr(format_args!($($arg)*))
    };
}

pub(crate) use {errln, outln};
