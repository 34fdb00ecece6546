//! How the two Lambdas (the signer and the key setup) write their logs: Lambda's logging
//! controls are honoured, and in JSON each line is one flat object that CloudWatch Logs Insights
//! reads field by field.
//!
//! Lambda hands a function's `LoggingConfig` to the process as `AWS_LAMBDA_LOG_FORMAT` (`JSON` or
//! `Text`) and `AWS_LAMBDA_LOG_LEVEL` (`TRACE` to `FATAL`). The runtime's own helper,
//! `lambda_runtime::tracing::init_default_subscriber`, reads the same two variables, but its JSON
//! nests the event's fields under `"fields"` and the invocation under `"span"`, and carries no
//! timestamp. It also lets through the runtime's TRACE lines, one of which is the raw invocation
//! event: the `Authorization` header and the cookies. Here:
//!
//! - `AWS_LAMBDA_LOG_LEVEL` sets the level; without it `RUST_LOG` (a level, or comma-separated
//!   `target=level` directives), else `info`. `FATAL` keeps errors only (tracing has no fatal
//!   level). The directives are read by `tracing_subscriber`'s `Targets` filter, not `EnvFilter`:
//!   span and field filters (`[span{field=value}]`) are refused like any unreadable value, and the
//!   binaries carry no regular-expression engine (about 0.5 MB of the bootstrap).
//! - `AWS_LAMBDA_LOG_FORMAT=JSON` writes [`FlatJson`] lines: `timestamp` (RFC 3339), `level`,
//!   `message`, the fields of the enclosing spans (the runtime's invocation span gives every line
//!   its `requestId` and `xrayTraceId`), the event's own fields, and `target`. Anything else
//!   writes tracing's text lines, without colour codes.
//! - The runtime's TRACE lines never pass, whatever the level.
//!
//! Lines go to standard output, where Lambda collects them.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod flat_json;

use keyhole_core::Vars;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::{Targets, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::{SubscriberInitExt as _, TryInitError};

pub use flat_json::FlatJson;

/// The level when neither `AWS_LAMBDA_LOG_LEVEL` nor a valid `RUST_LOG` is set.
pub const DEFAULT_LEVEL: &str = "info";

/// Where `lambda_runtime` opens the span around each invocation (name "Lambda runtime invoke",
/// fields `requestId`, `xrayTraceId`). It is enabled at every level, so that a warning or an
/// error still says which invocation it belongs to; the module writes no events of its own.
const INVOCATION_SPAN_TARGET: &str = "lambda_runtime::layers::trace";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One flat JSON object per line (`AWS_LAMBDA_LOG_FORMAT=JSON`).
    Json,
    /// tracing's text lines (any other value, and Lambda's default).
    Text,
}

/// What the process environment asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// JSON or text.
    pub format: LogFormat,
    /// Filter directives: a level such as `info`, or `RUST_LOG`'s own.
    pub filter: String,
}

impl LogSettings {
    /// Reads `AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG` from the process.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The same through a lookup function. A level or directives that cannot be read fall back
    /// to the next source rather than stop a cold start.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        let vars = Vars::new(&get);
        let format = match vars.get("AWS_LAMBDA_LOG_FORMAT") {
            Some(f) if f.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        };
        let filter = vars
            .get("AWS_LAMBDA_LOG_LEVEL")
            .and_then(|level| lambda_level(&level))
            .map(str::to_owned)
            .or_else(|| {
                vars.get("RUST_LOG")
                    .filter(|d| d.parse::<Targets>().is_ok())
            })
            .unwrap_or_else(|| DEFAULT_LEVEL.to_owned());
        Self { format, filter }
    }
}

/// Lambda's level names as tracing levels.
fn lambda_level(level: &str) -> Option<&'static str> {
    ["trace", "debug", "info", "warn", "error"]
        .into_iter()
        .find(|l| l.eq_ignore_ascii_case(level))
        .or_else(|| level.eq_ignore_ascii_case("fatal").then_some("error"))
}

/// `lambda_runtime` writes the raw invocation event at TRACE ("raw JSON event received from
/// Lambda"), bearer token and cookies included: no TRACE line of the runtime is ever written.
fn not_a_runtime_trace(meta: &Metadata<'_>) -> bool {
    !(*meta.level() == Level::TRACE && meta.target().starts_with("lambda_runtime"))
}

/// The subscriber `settings` ask for, writing to `writer` (tests pass a buffer).
pub fn subscriber<W>(settings: &LogSettings, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let directives = format!("{},{INVOCATION_SPAN_TARGET}=info", settings.filter);
    let filter = directives
        .parse::<Targets>()
        .unwrap_or_else(|_| Targets::new().with_default(tracing::level_filters::LevelFilter::INFO));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(filter_fn(not_a_runtime_trace));
    match settings.format {
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(FlatJson)
                    .with_writer(writer),
            ),
        ),
        // Lambda stamps each text line with the time it arrived; colour codes would reach
        // CloudWatch as text.
        LogFormat::Text => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .without_time()
                    .with_writer(writer),
            ),
        ),
    }
}

/// Installs the subscriber the process environment asks for, writing to standard output.
pub fn init() -> Result<(), TryInitError> {
    subscriber(&LogSettings::from_env(), std::io::stdout).try_init()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> LogSettings {
        LogSettings::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn without_variables_the_lines_are_text_at_info() {
        assert_eq!(
            settings(&[]),
            LogSettings {
                format: LogFormat::Text,
                filter: "info".into()
            }
        );
    }

    #[test]
    fn lambda_log_format_json_in_any_case_asks_for_json() {
        for value in ["JSON", "json", " Json "] {
            let got = settings(&[("AWS_LAMBDA_LOG_FORMAT", value)]);
            assert_eq!(got.format, LogFormat::Json, "{value:?}");
        }
        assert_eq!(
            settings(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).format,
            LogFormat::Text
        );
    }

    #[test]
    fn lambda_log_level_wins_over_rust_log() {
        let got = settings(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG"), ("RUST_LOG", "trace")]);
        assert_eq!(got.filter, "debug");
        for (lambda, ours) in [
            ("TRACE", "trace"),
            ("INFO", "info"),
            ("WARN", "warn"),
            ("ERROR", "error"),
            ("FATAL", "error"),
        ] {
            assert_eq!(
                settings(&[("AWS_LAMBDA_LOG_LEVEL", lambda)]).filter,
                ours,
                "{lambda}"
            );
        }
    }

    #[test]
    fn rust_log_directives_apply_when_lambda_sets_no_level() {
        let got = settings(&[("RUST_LOG", "warn,keyhole_signer=debug")]);
        assert_eq!(got.filter, "warn,keyhole_signer=debug");
        let got = settings(&[("AWS_LAMBDA_LOG_LEVEL", "loud"), ("RUST_LOG", "warn")]);
        assert_eq!(got.filter, "warn", "an unknown Lambda level falls through");
    }

    #[test]
    fn unreadable_directives_fall_back_to_info() {
        assert_eq!(
            settings(&[("RUST_LOG", "keyhole=loud")]).filter,
            DEFAULT_LEVEL
        );
        assert_eq!(settings(&[("RUST_LOG", "  ")]).filter, DEFAULT_LEVEL);
        assert_eq!(
            settings(&[("RUST_LOG", "keyhole[session{user=alice}]=debug")]).filter,
            DEFAULT_LEVEL,
            "span and field filters are not read"
        );
    }
}
