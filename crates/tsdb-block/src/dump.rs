//! `promtool tsdb dump` / `list` equivalents producing byte-identical text.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use aeon_model::{Labels, Matcher};

use crate::block::BlockReader;
use crate::chunkenc::SampleValue;
use crate::gofmt::{format_float_histogram, format_histogram, labels_string};
use crate::meta::{BlockMeta, META_FILENAME};
use crate::{Error, Result};
use aeon_model::gofmt::format_g;

/// Block directories under `path` (or `path` itself if it is a block),
/// sorted by min time then ULID.
pub fn find_blocks(path: &Path) -> Result<Vec<PathBuf>> {
    if path.join(META_FILENAME).is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let rd = std::fs::read_dir(path).map_err(|source| Error::Read {
        file: path.display().to_string(),
        offset: 0,
        source,
    })?;
    let mut v = Vec::new();
    for e in rd {
        let e = e.map_err(|source| Error::Read {
            file: path.display().to_string(),
            offset: 0,
            source,
        })?;
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if p.join(META_FILENAME).is_file() && ulid::Ulid::from_string(&name).is_ok() {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

fn open_blocks(path: &Path) -> Result<Vec<BlockReader>> {
    let mut bs = find_blocks(path)?
        .iter()
        .map(|p| BlockReader::open(p))
        .collect::<Result<Vec<_>>>()?;
    bs.sort_by_key(|b| (b.meta().min_time, b.meta().ulid));
    Ok(bs)
}

/// Writes one sample line in `promtool tsdb dump` format.
pub fn write_sample_line(
    out: &mut dyn Write,
    labels: &str,
    t: i64,
    v: &SampleValue,
) -> std::io::Result<()> {
    match v {
        SampleValue::Float(f) => writeln!(out, "{labels} {} {t}", format_g(*f)),
        SampleValue::Histogram(h) => writeln!(out, "{labels} {} {t}", format_histogram(h)),
        SampleValue::FloatHistogram(h) => {
            writeln!(out, "{labels} {} {t}", format_float_histogram(h))
        }
    }
}

/// Dumps all samples of the blocks in `path` within `[mint, maxt]` for
/// series matching `matchers` (all when empty), sorted by series labels,
/// exactly as `promtool tsdb dump` prints them.
pub fn dump(
    path: &Path,
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
    out: &mut dyn Write,
) -> Result<()> {
    let sets = if matchers.is_empty() {
        Vec::new()
    } else {
        vec![matchers.to_vec()]
    };
    dump_selectors(path, &sets, mint, maxt, out)
}

/// Like [`dump`] with several selectors (`--match` given more than once):
/// the union of the series they select.
pub fn dump_selectors(
    path: &Path,
    sets: &[Vec<Matcher>],
    mint: i64,
    maxt: i64,
    out: &mut dyn Write,
) -> Result<()> {
    let blocks = open_blocks(path)?;
    let mut all: BTreeMap<Labels, Vec<(i64, SampleValue)>> = BTreeMap::new();
    for b in &blocks {
        if b.meta().max_time <= mint || b.meta().min_time > maxt {
            continue;
        }
        let mut picked: BTreeMap<u32, crate::block::BlockSeries> = BTreeMap::new();
        if sets.is_empty() {
            picked.extend(b.select(&[], mint, maxt)?.into_iter().map(|s| (s.id, s)));
        }
        for ms in sets {
            picked.extend(b.select(ms, mint, maxt)?.into_iter().map(|s| (s.id, s)));
        }
        for s in picked.into_values() {
            let samples = b.samples(&s, mint, maxt)?;
            all.entry(s.labels.clone()).or_default().extend(samples);
        }
    }
    let werr = |source| Error::Write {
        file: "<output>".into(),
        source,
    };
    for (ls, mut samples) in all {
        samples.sort_by_key(|(t, _)| *t);
        samples.dedup_by_key(|(t, _)| *t);
        let l = labels_string(&ls);
        for (t, v) in promtool_visible(&samples) {
            write_sample_line(out, &l, *t, v).map_err(werr)?;
        }
    }
    Ok(())
}

/// The samples `promtool tsdb dump` actually prints for one series. It runs
/// three loops over one iterator (floats, then float histograms, then
/// histograms); the sample that ends a loop is consumed without being
/// printed, so e.g. the first two samples of an integer histogram series
/// never appear. We reproduce that so outputs can be diffed.
pub fn promtool_visible(
    samples: &[(i64, SampleValue)],
) -> impl Iterator<Item = &(i64, SampleValue)> {
    let mut phase = 0u8;
    samples.iter().filter(move |(_, v)| {
        let kind = match v {
            SampleValue::Float(_) => 0,
            SampleValue::FloatHistogram(_) => 1,
            SampleValue::Histogram(_) => 2,
        };
        if phase > 2 {
            return false;
        }
        if kind == phase {
            true
        } else {
            phase += 1;
            false
        }
    })
}

/// `promtool tsdb list` output (without `-r`).
pub fn list(path: &Path, out: &mut dyn Write) -> Result<()> {
    let mut dirs: Vec<(i64, PathBuf)> = find_blocks(path)?
        .into_iter()
        .map(|d| BlockMeta::read_from_dir(&d).map(|m| (m.min_time, d)))
        .collect::<Result<_>>()?;
    dirs.sort();
    print_blocks(&dirs.into_iter().map(|(_, d)| d).collect::<Vec<_>>(), out)
}

/// Prints a block table like promtool (Go tabwriter, min width 13, padding 2).
pub fn print_blocks(dirs: &[PathBuf], out: &mut dyn Write) -> Result<()> {
    let mut rows: Vec<Vec<String>> = vec![
        [
            "BLOCK ULID",
            "MIN TIME",
            "MAX TIME",
            "DURATION",
            "NUM SAMPLES",
            "NUM CHUNKS",
            "NUM SERIES",
            "SIZE",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    ];
    for d in dirs {
        let m = BlockMeta::read_from_dir(d)?;
        rows.push(vec![
            m.ulid.to_string(),
            m.min_time.to_string(),
            m.max_time.to_string(),
            go_duration_ms(m.max_time.wrapping_sub(m.min_time)),
            m.stats.num_samples.to_string(),
            m.stats.num_chunks.to_string(),
            m.stats.num_series.to_string(),
            dir_size(d)?.to_string(),
        ]);
    }
    let cols = rows[0].len();
    let widths: Vec<usize> = (0..cols - 1)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count() + 2)
                .max()
                .unwrap_or(0)
                .max(13)
        })
        .collect();
    let werr = |source| Error::Write {
        file: "<output>".into(),
        source,
    };
    for r in &rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 < cols {
                line.push_str(&format!("{cell:<w$}", w = widths[c]));
            } else {
                line.push_str(cell);
            }
        }
        writeln!(out, "{line}").map_err(werr)?;
    }
    Ok(())
}

/// Total size of the files of a block as promtool counts it.
pub fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    let rd = std::fs::read_dir(dir).map_err(|source| Error::Read {
        file: dir.display().to_string(),
        offset: 0,
        source,
    })?;
    for e in rd {
        let e = e.map_err(|source| Error::Read {
            file: dir.display().to_string(),
            offset: 0,
            source,
        })?;
        let md = e.metadata().map_err(|source| Error::Read {
            file: e.path().display().to_string(),
            offset: 0,
            source,
        })?;
        if md.is_dir() {
            total += dir_size(&e.path())?;
        } else {
            total += md.len();
        }
    }
    Ok(total)
}

/// Go's `time.Duration.String()` for a duration in milliseconds.
pub fn go_duration_ms(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let neg = ms < 0;
    let ms = ms.unsigned_abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if ms < 1000 {
        out.push_str(&format!("{ms}ms"));
        return out;
    }
    let h = ms / 3_600_000;
    let m = (ms / 60_000) % 60;
    let s = (ms / 1000) % 60;
    let frac = ms % 1000;
    if h > 0 {
        out.push_str(&format!("{h}h{m}m"));
    } else if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&s.to_string());
    if frac > 0 {
        let f = format!("{frac:03}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('s');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        assert_eq!(go_duration_ms(30_001), "30.001s");
        assert_eq!(go_duration_ms(7_200_000), "2h0m0s");
        assert_eq!(go_duration_ms(90_500), "1m30.5s");
        assert_eq!(go_duration_ms(5), "5ms");
    }
}
