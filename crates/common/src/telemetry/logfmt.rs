//! `--log.format=logfmt`: one line per event in go-kit's logfmt, as Thanos
//! writes it: `level=info ts=2024-01-02T03:04:05.123456789Z caller=run.rs:42
//! msg="querier started" key=value …`. Values with spaces, `=`, `"` or
//! control characters are quoted and escaped like go-logfmt; an error value
//! is printed with its causes.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Logfmt;

/// The field formatter (also used for span fields).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LogfmtFields;

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG | Level::TRACE => "debug",
    }
}

/// Writes `value` as go-logfmt writes a string value.
pub(crate) fn write_value(out: &mut impl fmt::Write, value: &str) -> fmt::Result {
    let needs_quotes = value
        .chars()
        .any(|c| c <= ' ' || c == '=' || c == '"' || c == '\u{7f}' || c == '\u{fffd}');
    if !needs_quotes {
        return out.write_str(value);
    }
    out.write_char('"')?;
    for c in value.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if c < ' ' || c == '\u{7f}' => write!(out, "\\u{:04x}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

/// A logfmt key: characters go-logfmt rejects become `_`.
fn write_key(out: &mut impl fmt::Write, key: &str) -> fmt::Result {
    for c in key.chars() {
        out.write_char(if c <= ' ' || c == '=' || c == '"' {
            '_'
        } else {
            c
        })?;
    }
    Ok(())
}

/// Collects the message apart from the other fields, which it writes as
/// ` key=value` pairs.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    rest: String,
}

impl Fields {
    fn push(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_string());
            return;
        }
        let name = field.name().strip_prefix("r#").unwrap_or(field.name());
        self.rest.push(' ');
        // Writing into a String cannot fail.
        let _ = write_key(&mut self.rest, name);
        self.rest.push('=');
        let _ = write_value(&mut self.rest, value);
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, &crate::error::chain(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, &format!("{value:?}"));
    }
}

impl<'w> FormatFields<'w> for LogfmtFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: Writer<'w>,
        fields: R,
    ) -> fmt::Result {
        let mut v = Fields::default();
        fields.record(&mut v);
        if let Some(m) = v.message {
            writer.write_str(" msg=")?;
            write_value(&mut writer, &m)?;
        }
        writer.write_str(&v.rest)
    }
}

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let ts = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.9fZ");
        write!(writer, "level={} ts={ts}", level_name(meta.level()))?;
        let file = meta
            .file()
            .map(|f| f.rsplit('/').next().unwrap_or(f))
            .unwrap_or_else(|| meta.target());
        match meta.line() {
            Some(line) => write!(writer, " caller={file}:{line}")?,
            None => write!(writer, " caller={file}")?,
        }
        let mut v = Fields::default();
        event.record(&mut v);
        if let Some(m) = &v.message {
            writer.write_str(" msg=")?;
            write_value(&mut writer, m)?;
        }
        writer.write_str(&v.rest)?;
        // Fields of the enclosing spans, outermost first (formatted by
        // `LogfmtFields`, so already ` key=value` pairs).
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>() {
                    writer.write_str(fields.as_str())?;
                }
            }
        }
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> String {
        let mut out = String::new();
        write_value(&mut out, s).unwrap();
        out
    }

    #[test]
    fn quotes_like_go_logfmt() {
        assert_eq!(value("plain"), "plain");
        assert_eq!(value("127.0.0.1:10902"), "127.0.0.1:10902");
        assert_eq!(value("two words"), "\"two words\"");
        assert_eq!(value("a=b"), "\"a=b\"");
        assert_eq!(value("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
        assert_eq!(value("back\\slash"), "back\\slash");
        assert_eq!(value("tab\there"), "\"tab\\there\"");
        assert_eq!(value("\u{1}"), "\"\\u0001\"");
        assert_eq!(value(""), "");
    }
}
