use std::path::Path;

use aeon_model::Labels;
use aeon_tsdb_block::chunkenc::{self, Histogram, SampleValue, Span};
use aeon_tsdb_head::{Head, HeadOptions, SeriesChunks};

pub const HOUR: i64 = 3_600_000;

pub fn open(dir: &Path) -> Head {
    Head::open(dir, HeadOptions::default()).unwrap()
}

pub fn series(name: &str, i: usize) -> Labels {
    Labels::from_pairs(&[
        ("__name__", name.to_string()),
        ("instance", format!("host-{i}:9100")),
        ("job", "node".to_string()),
    ])
}

/// A sample in a form that compares floats bit for bit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum V {
    F(u64),
    H(String),
}

pub fn v(s: &SampleValue) -> V {
    match s {
        SampleValue::Float(f) => V::F(f.to_bits()),
        SampleValue::Histogram(h) => V::H(format!("{:?}", hist_key(h))),
        SampleValue::FloatHistogram(h) => V::H(format!(
            "f {} {} {} {} {:?} {:?}",
            h.schema, h.count, h.zero_count, h.sum, h.positive_spans, h.positive_buckets
        )),
    }
}

fn hist_key(h: &Histogram) -> (i32, u64, u64, u64, Vec<Span>, Vec<i64>) {
    (
        h.schema,
        h.count,
        h.zero_count,
        h.sum.to_bits(),
        h.positive_spans.clone(),
        h.positive_buckets.clone(),
    )
}

pub fn samples(s: &SeriesChunks) -> Vec<(i64, V)> {
    let mut out = Vec::new();
    for c in &s.chunks {
        for (t, x) in chunkenc::decode(c.encoding, &c.data).unwrap() {
            out.push((t, v(&x)));
        }
    }
    out
}

/// Series (as text) with their samples.
pub type Dump = Vec<(String, Vec<(i64, V)>)>;

/// Every series and sample of the head in `[mint, maxt]`.
pub fn dump(h: &Head, mint: i64, maxt: i64) -> Dump {
    h.select(&[], mint, maxt)
        .unwrap()
        .iter()
        .map(|s| {
            let mut x = samples(s);
            x.retain(|(t, _)| *t >= mint && *t <= maxt);
            (s.labels.to_string(), x)
        })
        .collect()
}

pub fn hist(i: u64) -> Histogram {
    Histogram {
        schema: 1,
        count: 7 * i,
        zero_count: i,
        sum: i as f64 * 1.5,
        zero_threshold: 2f64.powi(-128),
        positive_spans: vec![
            Span {
                offset: -1,
                length: 2,
            },
            Span {
                offset: 3,
                length: 1,
            },
        ],
        positive_buckets: vec![i as i64; 3],
        ..Default::default()
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}
