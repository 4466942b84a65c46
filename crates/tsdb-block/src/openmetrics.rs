//! A small OpenMetrics text parser and `create-blocks-from openmetrics`
//! (backfill) with promtool's semantics: 2h blocks aligned to multiples of
//! the block duration, chunks cut like the Prometheus head.

use std::collections::BTreeMap;
use std::path::Path;

use aeon_model::{Label, Labels};

use crate::meta::BlockMeta;
use crate::writer::{BlockWriter, BlockWriterOptions, DEFAULT_BLOCK_DURATION};
use crate::{Error, Result};

/// `math.NaN()` in Go, the NaN that Go's `ParseFloat("NaN")` returns.
pub const GO_NAN_BITS: u64 = 0x7FF8_0000_0000_0001;

/// One parsed sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct OmSample {
    pub labels: Labels,
    pub t: Option<i64>,
    pub v: f64,
}

fn parse_float(s: &str) -> Option<f64> {
    if s.contains(['p', 'P', '_']) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    Some(if v.is_nan() {
        f64::from_bits(GO_NAN_BITS)
    } else {
        v
    })
}

fn is_name_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (!first && c.is_ascii_digit())
}

fn parse_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

/// Parses one sample line (`name{l="v",...} value [timestamp] [# exemplar]`).
pub fn parse_sample_line(line: &str) -> std::result::Result<OmSample, String> {
    let name_end = line
        .char_indices()
        .find(|&(i, c)| !is_name_char(c, i == 0))
        .map_or(line.len(), |(i, _)| i);
    if name_end == 0 {
        return Err("expected metric name".into());
    }
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = vec![Label::new(aeon_model::METRIC_NAME, name)];
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let ne = rest
                .char_indices()
                .find(|&(i, c)| !is_name_char(c, i == 0) || c == ':')
                .map_or(rest.len(), |(i, _)| i);
            if ne == 0 {
                return Err(format!("invalid label name at {rest:?}"));
            }
            let lname = &rest[..ne];
            rest = rest[ne..]
                .strip_prefix('=')
                .ok_or("expected '=' after label name")?;
            let (v, r) = parse_quoted(rest).ok_or("invalid quoted label value")?;
            if labels.iter().any(|l| l.name == lname) {
                return Err(format!("duplicate label name {lname}"));
            }
            labels.push(Label::new(lname, v));
            rest = r;
            if let Some(r) = rest.strip_prefix(',') {
                rest = r;
            } else if !rest.starts_with('}') {
                return Err("expected ',' or '}' in label set".into());
            }
        }
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or("expected space before value")?;
    let (main, _exemplar) = rest.split_once(" # ").unwrap_or((rest, ""));
    let mut parts = main.split(' ');
    let v = parts.next().ok_or("missing value")?;
    let v = parse_float(v).ok_or_else(|| format!("invalid value {v:?}"))?;
    let t = match parts.next() {
        Some(ts) => {
            let f = parse_float(ts).ok_or_else(|| format!("invalid timestamp {ts:?}"))?;
            if f.is_nan() || f.is_infinite() {
                return Err(format!("invalid timestamp {ts:?}"));
            }
            Some((f * 1000.0) as i64)
        }
        None => None,
    };
    if parts.next().is_some() {
        return Err("unexpected data after timestamp".into());
    }
    Ok(OmSample {
        labels: Labels::new(labels),
        t,
        v,
    })
}

/// Go's `strconv.ParseFloat(s, 64)`: decimal (`1`, `.5`, `1e3`), `Inf`,
/// `infinity` and `NaN` in any case with an optional sign, and hexadecimal
/// with a binary exponent (`0x1p-2`); underscores only after a base prefix.
fn parse_go_float(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let v = if lower == "inf" || lower == "infinity" {
        f64::INFINITY
    } else if lower == "nan" {
        f64::NAN
    } else if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(&hex.replace('_', ""))?
    } else if body
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
        && body.bytes().any(|c| c.is_ascii_digit())
    {
        body.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// The digits of a hexadecimal float after `0x`: `h[.h]p[+-]d` (the
/// exponent is required, as in Go).
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once('p')?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// Prometheus's OpenMetrics float text: Go's `%g` with `.0` appended when
/// the text has neither a `.` nor an exponent (`1` → `1.0`, `1e+06` stays).
fn format_openmetrics_float(v: f64) -> String {
    if v == 0.0 {
        return "0.0".into(); // also -0, as Prometheus
    }
    let s = aeon_model::gofmt::format_g(v);
    if v.is_finite() && !s.contains(['.', 'e']) {
        format!("{s}.0")
    } else {
        s
    }
}

/// The metric type of the family being read (the last `# TYPE` line), as far
/// as it changes how samples are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetricType {
    Histogram,
    Summary,
    Other,
}

/// Reads a `# TYPE <name> <type>` line; `None` for other comment lines.
fn type_line(line: &str) -> Option<std::result::Result<MetricType, String>> {
    let rest = line.strip_prefix("# TYPE ")?;
    let (_, t) = rest.split_once(' ')?;
    Some(match t {
        "histogram" => Ok(MetricType::Histogram),
        "summary" => Ok(MetricType::Summary),
        "counter" | "gauge" | "gaugehistogram" | "info" | "stateset" | "unknown" => {
            Ok(MetricType::Other)
        }
        other => Err(format!("invalid metric type {other:?}")),
    })
}

/// Prometheus 3 normalises the bucket bound of a classic histogram (`le`)
/// and the quantile of a summary (`quantile`) to OpenMetrics float text
/// (`le="1"` is stored as `le="1.0"`), as its text parsers do when scraping
/// and in promtool's backfill. Values that are not numbers stay as written.
fn normalize_label_value(t: MetricType, name: &str, value: &str) -> Option<String> {
    let applies = (t == MetricType::Histogram && name == "le")
        || (t == MetricType::Summary && name == "quantile");
    if !applies {
        return None;
    }
    Some(format_openmetrics_float(parse_go_float(value)?))
}

fn normalize(t: MetricType, s: &mut OmSample) {
    if t == MetricType::Other {
        return;
    }
    let changed: Vec<Label> = s
        .labels
        .iter()
        .map(|l| match normalize_label_value(t, &l.name, &l.value) {
            Some(v) => Label::new(l.name.as_str(), v),
            None => l.clone(),
        })
        .collect();
    s.labels = Labels::new(changed);
}

/// Parses an OpenMetrics document. Requires `# EOF` at the end like
/// promtool.
pub fn parse(text: &str, file: &str) -> Result<Vec<OmSample>> {
    let mut out = Vec::new();
    let mut saw_eof = false;
    let mut mtype = MetricType::Other;
    for (i, line) in text.lines().enumerate() {
        let perr = |reason: String| Error::ParseInput {
            file: file.into(),
            line: i + 1,
            reason,
        };
        if saw_eof {
            if line.is_empty() {
                continue;
            }
            return Err(perr("data after # EOF".into()));
        }
        if line == "# EOF" {
            saw_eof = true;
            continue;
        }
        if line.starts_with('#') {
            if let Some(t) = type_line(line) {
                mtype = t.map_err(perr)?;
            }
            continue;
        }
        if line.is_empty() {
            return Err(perr("unexpected empty line".into()));
        }
        let mut s = parse_sample_line(line).map_err(perr)?;
        normalize(mtype, &mut s);
        out.push(s);
    }
    if !saw_eof {
        return Err(Error::ParseInput {
            file: file.into(),
            line: text.lines().count(),
            reason: "missing # EOF".into(),
        });
    }
    Ok(out)
}

/// Backfills an OpenMetrics file into blocks under `out_dir`, like
/// `promtool tsdb create-blocks-from openmetrics`. Returns the metas.
pub fn create_blocks_from_openmetrics(
    input: &Path,
    out_dir: &Path,
    block_duration: Option<i64>,
) -> Result<Vec<BlockMeta>> {
    let file = input.display().to_string();
    let text = std::fs::read_to_string(input).map_err(|source| Error::Read {
        file: file.clone(),
        offset: 0,
        source,
    })?;
    let samples = parse(&text, &file)?;
    let dur = block_duration.unwrap_or(DEFAULT_BLOCK_DURATION);
    if dur <= 0 {
        return Err(Error::Invalid(format!(
            "block duration must be positive, got {dur} ms"
        )));
    }
    let mut series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
    for (i, s) in samples.into_iter().enumerate() {
        let t = s.t.ok_or_else(|| Error::ParseInput {
            file: file.clone(),
            line: i + 1,
            reason: "expected timestamp for series".into(),
        })?;
        mint = mint.min(t);
        maxt = maxt.max(t);
        series.entry(s.labels).or_default().push((t, s.v));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| Error::write(out_dir, e))?;
    let mut metas = Vec::new();
    if series.is_empty() {
        return Ok(metas);
    }
    let mut t = dur * mint.div_euclid(dur);
    while t <= maxt {
        let upper = t.saturating_add(dur);
        // promtool's block writer pretends the block is twice as large (so
        // its head accepts the whole window); that is the head's chunk range.
        let mut w = BlockWriter::new(
            out_dir,
            BlockWriterOptions {
                chunk_range: 2 * dur,
                ..Default::default()
            },
        )?;
        let mut any = false;
        for (ls, ss) in &series {
            let mut win: Vec<(i64, f64)> = Vec::new();
            for &(st, v) in ss.iter().filter(|(st, _)| *st >= t && *st < upper) {
                match win.last() {
                    Some(&(lt, lv)) if st == lt => {
                        if lv.to_bits() != v.to_bits() {
                            return Err(Error::WriteBlock(format!(
                                "duplicate sample for timestamp {st} of series {ls}"
                            )));
                        }
                    }
                    Some(&(lt, _)) if st < lt => {
                        return Err(Error::WriteBlock(format!(
                            "out of order sample at {st} of series {ls}"
                        )));
                    }
                    _ => win.push((st, v)),
                }
            }
            if !win.is_empty() {
                any = true;
                w.add_float_series(ls.clone(), &win)?;
            }
        }
        if any {
            metas.push(w.finish()?.0);
        } else {
            w.abort()?;
        }
        if upper == i64::MAX {
            break;
        }
        t = upper;
    }
    Ok(metas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_like_prometheus() {
        let s =
            parse_sample_line(r#"foo_total{b="x\"y",a="1\n"} NaN 1700000000.123 # {t="1"} 1 2"#)
                .unwrap();
        assert_eq!(s.labels.get("a"), Some("1\n"));
        assert_eq!(s.labels.get("b"), Some("x\"y"));
        assert_eq!(s.labels.get("__name__"), Some("foo_total"));
        assert_eq!(s.t, Some(1700000000123));
        assert_eq!(s.v.to_bits(), GO_NAN_BITS);
        assert_eq!(parse_sample_line("g +Inf").unwrap().v, f64::INFINITY);
        assert!(parse_sample_line("g 0x1p3 1").is_err());
        assert!(parse_sample_line("g{a=1} 1 1").is_err());
        let e = parse("g 1 1\n", "in.om").unwrap_err();
        assert!(e.to_string().contains("missing # EOF"), "{e}");
        let e = parse("# TYPE g nosuch\ng 1 1\n# EOF\n", "in.om").unwrap_err();
        assert!(e.to_string().contains("invalid metric type"), "{e}");
    }

    #[test]
    fn le_and_quantile_become_openmetrics_float_text() {
        let text = "# TYPE h histogram\n\
            h_bucket{le=\"1\"} 1 1\nh_bucket{le=\"0.25\"} 1 1\nh_bucket{le=\"1e6\"} 1 1\n\
            h_bucket{le=\"+Inf\"} 1 1\nh_bucket{le=\"x\"} 1 1\nh_bucket{le=\"100\"} 1 1\n\
            h_bucket{le=\"-0\"} 1 1\nh_bucket{le=\"0x1p-2\"} 1 1\nh_bucket{le=\"1_0\"} 1 1\n\
            h_count{quantile=\"1\"} 1 1\n\
            # TYPE s summary\ns{quantile=\"0.5\",le=\"1\"} 1 1\ns{quantile=\"1\"} 1 1\n\
            # TYPE g gaugehistogram\ng_bucket{le=\"1\"} 1 1\n# EOF\n";
        let got: Vec<String> = parse(text, "in.om")
            .unwrap()
            .iter()
            .map(|s| {
                let l = |n| s.labels.get(n).unwrap_or("-").to_string();
                format!("{}/{}", l("le"), l("quantile"))
            })
            .collect();
        assert_eq!(
            got,
            [
                "1.0/-", "0.25/-", "1e+06/-", "+Inf/-", "x/-", "100.0/-", "0.0/-", "0.25/-",
                "1_0/-", "-/1", "1/0.5", "-/1.0", "1/-"
            ]
        );
        assert_eq!(format_openmetrics_float(-1.0), "-1.0");
        assert_eq!(format_openmetrics_float(1e21), "1e+21");
        assert_eq!(format_openmetrics_float(123456.0), "123456.0");
        assert_eq!(format_openmetrics_float(f64::NAN), "NaN");
        assert_eq!(parse_go_float("Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_go_float(".5"), Some(0.5));
        assert_eq!(parse_go_float("0x1.8p1"), Some(3.0));
        assert_eq!(parse_go_float("0x1"), None);
        assert_eq!(parse_go_float(""), None);
        assert_eq!(parse_go_float("1e"), None);
    }
}
