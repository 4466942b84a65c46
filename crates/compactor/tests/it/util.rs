use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use aeon_compactor::Config;
use aeon_compactor::blocks::Selection;
use aeon_compactor::planner::DEFAULT_RANGES;
use aeon_objstore::{Bucket, FilesystemBucket, block};
use aeon_tsdb_block::{BlockMeta, ThanosMeta};
use ulid::Ulid;

pub const H: i64 = 3_600_000;
/// 2023-11-15T00:00:00Z, aligned to 8h.
pub const T0_S: i64 = 1_700_006_400;

/// The real promtool; fails loudly when missing.
/// The real promtool; fails loudly when missing.
pub fn promtool() -> PathBuf {
    aeon_testkit::peers::promtool()
}

pub fn run_promtool(args: &[&str]) -> String {
    let out = Command::new(promtool())
        .args(args)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 promtool output")
}

/// `promtool tsdb dump` of a directory of blocks.
pub fn promtool_dump(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("wal")).unwrap();
    run_promtool(&["tsdb", "dump", dir.to_str().unwrap()])
}

/// OpenMetrics text: `series` (label sets as `name{a="b"}` strings) sampled
/// every `step_s` in `[from_s, to_s)`; counters grow, with a value offset `seed`.
pub fn openmetrics(series: &[&str], from_s: i64, to_s: i64, step_s: i64, seed: u64) -> String {
    let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in series {
        let name = s.split('{').next().unwrap();
        by_name.entry(name).or_default().push(s);
    }
    let mut out = String::new();
    for (name, list) in by_name {
        out.push_str(&format!("# TYPE {name} gauge\n"));
        for (k, s) in list.iter().enumerate() {
            let mut t = from_s;
            let mut i = 0u64;
            while t < to_s {
                let v = (i * 3 + seed + k as u64 * 1000) as f64 / 4.0;
                out.push_str(&format!("{s} {v} {t}\n"));
                t += step_s;
                i += 1;
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Backfills `om` with promtool into `work/<tag>` and returns the block directories by min time.
pub fn promtool_blocks(om: &str, work: &Path, tag: &str) -> Vec<PathBuf> {
    let input = work.join(format!("{tag}.om"));
    std::fs::write(&input, om).unwrap();
    let out = work.join(tag);
    run_promtool(&[
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        input.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    let mut dirs: Vec<(i64, PathBuf)> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").exists())
        .map(|p| (BlockMeta::read_from_dir(&p).unwrap().min_time, p))
        .collect();
    dirs.sort();
    dirs.into_iter().map(|(_, p)| p).collect()
}

/// Adds a thanos section (as a sidecar would) to local blocks.
pub fn set_thanos(dirs: &[PathBuf], labels: &[(&str, &str)]) -> Vec<BlockMeta> {
    dirs.iter()
        .map(|d| {
            let mut m = BlockMeta::read_from_dir(d).unwrap();
            m.thanos = Some(ThanosMeta {
                version: 1,
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                source: "sidecar".into(),
                ..Default::default()
            });
            m.write_to_dir(d).unwrap();
            m
        })
        .collect()
}

pub fn fs_bucket(dir: &Path) -> Arc<dyn Bucket> {
    Arc::new(FilesystemBucket::new(dir).unwrap())
}

pub async fn upload(bucket: &dyn Bucket, dirs: &[PathBuf]) {
    for d in dirs {
        block::upload_block(bucket, d).await.unwrap();
    }
}

/// Downloads blocks into a fresh directory and dumps them with promtool.
pub async fn dump_bucket_blocks(bucket: &dyn Bucket, ids: &[Ulid], dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    for id in ids {
        block::download_block(bucket, *id, &dir.join(id.to_string()))
            .await
            .unwrap();
    }
    promtool_dump(dir)
}

/// Copies local blocks into a fresh directory and dumps them with promtool.
pub fn dump_local_blocks(dirs: &[PathBuf], into: &Path) -> String {
    std::fs::create_dir_all(into).unwrap();
    for d in dirs {
        let dst = into.join(d.file_name().unwrap());
        std::fs::create_dir_all(dst.join("chunks")).unwrap();
        for f in ["meta.json", "index"] {
            std::fs::copy(d.join(f), dst.join(f)).unwrap();
        }
        for e in std::fs::read_dir(d.join("chunks")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dst.join("chunks").join(p.file_name().unwrap())).unwrap();
        }
    }
    promtool_dump(into)
}

/// A compactor config for tests: no consistency delay, Thanos defaults otherwise.
pub fn config(data_dir: &Path) -> Config {
    Config {
        data_dir: data_dir.to_path_buf(),
        selection: Selection::default(),
        vertical: false,
        dedup: aeon_compactor::DedupFunc::OneToOne,
        replica_labels: vec![],
        retentions: [Duration::ZERO; 3],
        delete_delay: Duration::from_secs(48 * 3600),
        downsampling: true,
        compact_concurrency: 2,
        downsample_concurrency: 1,
        fetch_concurrency: 2,
        files_concurrency: 1,
        meta_fetch_concurrency: 32,
        ranges: DEFAULT_RANGES.to_vec(),
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A bucket's state with owned metas (easier to filter in tests).
#[derive(Debug)]
pub struct State {
    pub metas: Vec<BlockMeta>,
    pub partial: Vec<Ulid>,
    pub corrupt: Vec<(Ulid, String)>,
    pub deletion_marks: std::collections::HashMap<Ulid, block::DeletionMark>,
    pub no_downsample: std::collections::HashSet<Ulid>,
}

/// Every block of the bucket (with meta.json), and the markers present.
pub async fn state(bucket: &dyn Bucket) -> State {
    let st = aeon_compactor::blocks::fetch_once(bucket).await.unwrap();
    State {
        metas: st.metas.iter().map(|m| (**m).clone()).collect(),
        partial: st.partial,
        corrupt: st.corrupt,
        deletion_marks: st.deletion_marks,
        no_downsample: st.no_downsample,
    }
}

pub async fn meta(bucket: &dyn Bucket, id: Ulid) -> BlockMeta {
    BlockMeta::parse(&block::read_meta(bucket, id).await.unwrap(), "meta.json").unwrap()
}
