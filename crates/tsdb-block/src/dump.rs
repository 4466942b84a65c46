//! `promtool tsdb dump` / `list` equivalents producing byte-identical text.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use aeon_model::{Labels, Matcher};

use crate::block::BlockReader;
use crate::chunkenc::SampleValue;
use crate::gofmt::{format_g, labels_string};
use crate::meta::META_FILENAME;
use crate::{Error, Result};

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
    let blocks = open_blocks(path)?;
    let mut all: BTreeMap<Labels, Vec<(i64, SampleValue)>> = BTreeMap::new();
    for b in &blocks {
        if b.meta().max_time <= mint || b.meta().min_time > maxt {
            continue;
        }
        for s in b.select(matchers, mint, maxt)? {
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
        for (t, v) in &samples {
            write_sample_line(out, &l, *t, v).map_err(werr)?;
        }
    }
    Ok(())
}

/// `promtool tsdb list` output (`-r` for human-readable times/sizes is not
/// implemented; this prints the default table).
pub fn list(path: &Path, out: &mut dyn Write) -> Result<()> {
    let blocks = open_blocks(path)?;
    let werr = |source| Error::Write {
        file: "<output>".into(),
        source,
    };
    writeln!(
        out,
        "{:<28}{:<15}{:<15}{:<13}{:<13}{:<13}{:<13}SIZE",
        "BLOCK ULID", "MIN TIME", "MAX TIME", "DURATION", "NUM SAMPLES", "NUM CHUNKS", "NUM SERIES"
    )
    .map_err(werr)?;
    for b in &blocks {
        let m = b.meta();
        let size = dir_size(b.dir())?;
        writeln!(
            out,
            "{:<28}{:<15}{:<15}{:<13}{:<13}{:<13}{:<13}{}",
            m.ulid.to_string(),
            m.min_time,
            m.max_time,
            go_duration_ms(m.max_time - m.min_time),
            m.stats.num_samples,
            m.stats.num_chunks,
            m.stats.num_series,
            size
        )
        .map_err(werr)?;
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
