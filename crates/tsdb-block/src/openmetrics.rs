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

/// Parses an OpenMetrics document. Requires `# EOF` at the end like
/// promtool.
pub fn parse(text: &str, file: &str) -> Result<Vec<OmSample>> {
    let mut out = Vec::new();
    let mut saw_eof = false;
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
            continue;
        }
        if line.is_empty() {
            return Err(perr("unexpected empty line".into()));
        }
        out.push(parse_sample_line(line).map_err(perr)?);
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
    }
}
