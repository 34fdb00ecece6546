//! [`FlatJson`]: one JSON object per event with every field at the top level, the shape
//! CloudWatch Logs Insights discovers fields from, and Lambda's log-level filter reads `level`
//! and `timestamp` from.

use std::fmt;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Keys this formatter writes itself; a field of the same name is dropped rather than let it
/// change what Lambda reads as the line's level or time.
const RESERVED: [&str; 2] = ["timestamp", "level"];

/// Writes `{"timestamp", "level", "message", <span fields>, <event fields>, "target"}`: no nested
/// `fields` or `span` objects. Span fields come outermost first and a field set closer to the
/// event replaces one of the same name. Values keep their JSON type (numbers, booleans,
/// strings); `?debug` values are their `Debug` text.
///
/// Span fields are read from what [`JsonFields`] stored for each span, so the layer must use
/// `.fmt_fields(JsonFields::new())`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlatJson;

/// The line's keys in the order they were first written.
#[derive(Default)]
struct Line(Vec<(String, Value)>);

impl Line {
    fn put(&mut self, key: &str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    fn put_field(&mut self, key: &str, value: Value) {
        if !RESERVED.contains(&key) {
            self.put(key, value);
        }
    }

    fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Value::from(key.as_str()).to_string());
            out.push(':');
            out.push_str(&value.to_string());
        }
        out.push('}');
        out
    }
}

/// Collects an event's fields into the line. Events bridged from the `log` crate carry their
/// real target as `log.target`, and their module, file and line as more `log.*` fields.
struct EventFields<'a> {
    line: &'a mut Line,
    log_target: Option<String>,
}

impl Visit for EventFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "log.target" => self.log_target = Some(value.to_owned()),
            name if name.starts_with("log.") => {}
            name => self.line.put_field(name, Value::from(value)),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.line.put_field(field.name(), Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.line.put_field(field.name(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if !field.name().starts_with("log.") {
            self.line.put_field(field.name(), Value::from(value));
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // NaN and infinities have no JSON number.
        let value = serde_json::Number::from_f64(value)
            .map_or_else(|| Value::from(value.to_string()), Value::Number);
        self.line.put_field(field.name(), value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.line
            .put_field(field.name(), Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !field.name().starts_with("log.") {
            self.line
                .put_field(field.name(), Value::from(format!("{value:?}")));
        }
    }
}

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Line::default();
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        line.put("timestamp", Value::from(timestamp));
        line.put("level", Value::from(event.metadata().level().as_str()));
        // Keeps `message` third, before the fields, even though it is recorded with them.
        line.put("message", Value::Null);
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(stored) = extensions.get::<FormattedFields<JsonFields>>() else {
                    continue;
                };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&stored.fields) {
                    for (key, value) in fields {
                        line.put_field(&key, value);
                    }
                }
            }
        }
        let mut fields = EventFields {
            line: &mut line,
            log_target: None,
        };
        event.record(&mut fields);
        let target = fields
            .log_target
            .unwrap_or_else(|| event.metadata().target().to_owned());
        line.put("target", Value::from(target));
        line.0.retain(|(_, value)| !value.is_null());
        writeln!(writer, "{}", line.to_json())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use crate::{LogFormat, LogSettings, subscriber};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn lines(&self) -> Vec<serde_json::Value> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        }
    }

    fn logged(filter: &str, emit: impl FnOnce()) -> Vec<serde_json::Value> {
        let buffer = Buffer::default();
        let settings = LogSettings {
            format: LogFormat::Json,
            filter: filter.into(),
        };
        let writer = buffer.clone();
        tracing::subscriber::with_default(subscriber(&settings, move || writer.clone()), emit);
        buffer.lines()
    }

    /// The invocation span as lambda_runtime opens it.
    fn invocation() -> tracing::Span {
        tracing::info_span!(
            target: "lambda_runtime::layers::trace",
            "Lambda runtime invoke",
            requestId = "8f5f3c1e-0000-4000-8000-000000000001",
            xrayTraceId = "Root=1-00000000-000000000000000000000001"
        )
    }

    // One test: a scoped subscriber per test would race with tracing's global callsite cache.
    #[test]
    fn json_lines_are_flat_carry_the_invocation_id_and_never_the_runtime_trace() {
        let lines = logged("trace", || {
            let _span = invocation().entered();
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = "{\"headers\":{\"authorization\":\"Bearer x\"}}", "raw JSON event received from Lambda");
            tracing::info!(
                coldStart = true,
                status = 401_u16,
                outcome = "invalid_token",
                reason = "malformed token",
                durationMs = 1.25,
                level = "spoofed",
                "session request"
            );
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = lines[0].as_object().unwrap();
        let keys: Vec<&str> = line.keys().map(String::as_str).collect();
        for key in [
            "timestamp",
            "level",
            "message",
            "requestId",
            "xrayTraceId",
            "coldStart",
            "status",
            "outcome",
            "reason",
            "durationMs",
            "target",
        ] {
            assert!(keys.contains(&key), "{key} missing from {line:?}");
        }
        assert!(
            line.values().all(|v| !v.is_object() && !v.is_array()),
            "nested: {line:?}"
        );
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "session request");
        assert_eq!(line["requestId"], "8f5f3c1e-0000-4000-8000-000000000001");
        assert_eq!(line["coldStart"], true);
        assert_eq!(line["status"], 401);
        assert_eq!(line["durationMs"], 1.25);
        let timestamp = line["timestamp"].as_str().unwrap();
        assert!(
            timestamp.len() >= 20 && timestamp.ends_with('Z') && &timestamp[10..11] == "T",
            "{timestamp}"
        );

        // At WARN the invocation span is still there to name the request.
        let lines = logged("warn", || {
            let _span = invocation().entered();
            tracing::info!("not written");
            tracing::warn!(cause = "connection refused", "signing key unavailable");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(
            lines[0]["requestId"],
            "8f5f3c1e-0000-4000-8000-000000000001"
        );
        assert_eq!(lines[0]["cause"], "connection refused");
    }
}
