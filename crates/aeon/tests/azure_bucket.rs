//! A bucket on Azure (a real Azurite started by the test) behaves like the same bucket on the
//! filesystem: the real `aeon compact` compacts four 2h blocks into one 8h block in both (a
//! fifth, newer block stays: Prometheus's planner never compacts the newest block), and
//! the real `aeon store` behind `aeon query` answers the same instant and range queries, byte
//! for byte, from both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aeon_objstore::testutil::azurite::Azurite;
use aeon_objstore::{Bucket, block};
use aeon_testkit::Procs;
use aeon_tsdb_block::{BlockWriter, BlockWriterOptions, ThanosMeta};
use prometheus_client::registry::Registry;

const MIN: i64 = 60_000;
const H: i64 = 60 * MIN;
const D: i64 = 24 * H;
const SERIES: usize = 3;

/// Starts `aeon <args>` as `name` in `procs` (output in its log).
fn spawn_aeon(procs: &mut Procs, name: &str, args: &[String]) {
    procs.spawn(name, Command::new(env!("CARGO_BIN_EXE_aeon")).args(args));
}

fn http_get(addr: &str, path: &str) -> Result<(u16, String), String> {
    aeon_testkit::process::http_get(addr, path, Duration::from_secs(60))
        .ok_or_else(|| format!("GET http://{addr}{path} failed"))
}

/// Five 2h blocks of `SERIES` gauges and counters, 30 s apart, from `start`.
fn write_blocks(dir: &Path, start: i64) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut counters = [0.0f64; SERIES];
    for b in 0..5 {
        let (from, to) = (start + b * 2 * H, start + (b + 1) * 2 * H);
        let mut w = BlockWriter::new(
            dir,
            BlockWriterOptions {
                thanos: Some(ThanosMeta {
                    version: 1,
                    labels: [("cluster".to_string(), "eu1".to_string())].into(),
                    source: "sidecar".into(),
                    ..Default::default()
                }),
                min_time: Some(from),
                max_time: Some(to),
                ..Default::default()
            },
        )
        .unwrap();
        let mut series = Vec::new();
        for (i, c) in counters.iter_mut().enumerate() {
            let s: Vec<(i64, f64)> = (0..(to - from) / 30_000)
                .map(|k| {
                    *c += ((k as usize * 7919 + i * 104_729) % 100) as f64 / 10.0;
                    (from + k * 30_000, *c)
                })
                .collect();
            series.push((
                aeon_model::Labels::from_pairs(&[
                    ("__name__", "az_requests_total"),
                    ("series", &i.to_string()),
                ]),
                s,
            ));
        }
        for i in 0..SERIES {
            let s: Vec<(i64, f64)> = (0..(to - from) / 30_000)
                .map(|k| {
                    let t = from + k * 30_000;
                    (
                        t,
                        100.0 + ((t / 30_000) as usize * 31 + i * 17) as f64 % 13.0,
                    )
                })
                .collect();
            series.push((
                aeon_model::Labels::from_pairs(&[
                    ("__name__", "az_temp"),
                    ("series", &i.to_string()),
                ]),
                s,
            ));
        }
        series.sort_by(|a, b| a.0.cmp(&b.0));
        for (l, s) in series {
            w.add_float_series(l, &s).unwrap();
        }
        out.push(w.finish().unwrap().1);
    }
    out
}

/// Live blocks as `(minTime, maxTime, numSamples, numSeries)`.
async fn live_blocks(b: &dyn Bucket) -> BTreeSet<(i64, i64, u64, u64)> {
    let mut out = BTreeSet::new();
    for id in block::list_blocks(b).await.unwrap() {
        if b.exists(&format!("{id}/{}", block::DELETION_MARK_FILENAME))
            .await
            .unwrap()
        {
            continue;
        }
        let meta: serde_json::Value =
            serde_json::from_slice(&block::read_meta(b, id).await.unwrap()).unwrap();
        out.insert((
            meta["minTime"].as_i64().unwrap(),
            meta["maxTime"].as_i64().unwrap(),
            meta["stats"]["numSamples"].as_u64().unwrap(),
            meta["stats"]["numSeries"].as_u64().unwrap(),
        ));
    }
    out
}

fn compact(dir: &Path, name: &str, yml: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_aeon"))
        .args([
            "compact".to_string(),
            format!(
                "--data-dir={}",
                dir.join(format!("compact-{name}")).display()
            ),
            format!("--objstore.config-file={}", yml.display()),
            "--http-address=127.0.0.1:0".into(),
            "--consistency-delay=0s".into(),
            "--delete-delay=0s".into(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "compactor on {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `aeon store` and `aeon query` on `yml`; returns the querier's HTTP address.
fn serve(procs: &mut Procs, dir: &Path, name: &str, yml: &Path) -> String {
    // Four distinct ports at once (one at a time, the OS may hand out a
    // port twice before anything binds it).
    let [sg_http, sg_grpc, q_http, q_grpc] =
        aeon_testkit::free_ports::<4>().map(|p| format!("127.0.0.1:{p}"));
    spawn_aeon(
        procs,
        &format!("store-{name}"),
        &[
            "store".into(),
            format!("--data-dir={}", dir.join(format!("store-{name}")).display()),
            format!("--objstore.config-file={}", yml.display()),
            format!("--http-address={sg_http}"),
            format!("--grpc-address={sg_grpc}"),
        ],
    );
    spawn_aeon(
        procs,
        &format!("query-{name}"),
        &[
            "query".into(),
            format!("--http-address={q_http}"),
            format!("--grpc-address={q_grpc}"),
            format!("--store={sg_grpc}"),
        ],
    );
    q_http
}

fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn store_gateway_and_compactor_give_the_same_answers_on_azurite_as_on_the_filesystem() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    // 10 hours from an 8h boundary about ten days ago.
    let start = (now / (8 * H)) * 8 * H - 10 * D;

    let fs_dir = dir.join("fs-bucket");
    std::fs::create_dir_all(&fs_dir).unwrap();
    let blocks = write_blocks(&fs_dir, start);
    let fs_yml = dir.join("fs.yml");
    std::fs::write(
        &fs_yml,
        format!(
            "type: FILESYSTEM\nconfig:\n  directory: \"{}\"\n",
            fs_dir.display()
        ),
    )
    .unwrap();

    let azurite = Azurite::start().unwrap_or_else(|e| panic!("{e}"));
    let az_yml = dir.join("azure.yml");
    std::fs::write(&az_yml, azurite.yaml()).unwrap();
    let az: Arc<dyn Bucket> = rt.block_on(async {
        let b = aeon_objstore::from_yaml(&azurite.yaml(), "azurite", &mut Registry::default())
            .await
            .unwrap();
        for blk in &blocks {
            block::upload_block(b.as_ref(), blk).await.unwrap();
        }
        b
    });
    let fs: Arc<dyn Bucket> = Arc::new(aeon_objstore::FilesystemBucket::new(&fs_dir).unwrap());

    let before = rt.block_on(live_blocks(fs.as_ref()));
    assert_eq!(before.len(), 5);
    assert_eq!(rt.block_on(live_blocks(az.as_ref())), before);

    compact(dir, "fs", &fs_yml);
    compact(dir, "azure", &az_yml);
    let after_fs = rt.block_on(live_blocks(fs.as_ref()));
    let after_az = rt.block_on(live_blocks(az.as_ref()));
    assert_eq!(after_fs.len(), 2, "{after_fs:?}");
    let (min, max, samples, series) = *after_fs.iter().next().unwrap();
    assert_eq!((min, max), (start, start + 8 * H));
    assert_eq!(samples, before.iter().take(4).map(|b| b.2).sum::<u64>());
    assert_eq!(series, 2 * SERIES as u64);
    assert_eq!(after_fs.iter().nth(1), before.iter().nth(4));
    assert_eq!(after_az, after_fs, "the Azure bucket compacted differently");

    let mut procs = Procs::new(dir);
    let q_fs = serve(&mut procs, dir, "fs", &fs_yml);
    let q_az = serve(&mut procs, dir, "azure", &az_yml);
    let probe = format!(
        "/api/v1/query?query=count(az_temp)&time={}",
        (start + H) / 1000
    );
    for q in [&q_fs, &q_az] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, body)) = http_get(q, &probe)
                && body.contains(&format!("\"{SERIES}\""))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "stack not ready:\n{}",
                procs.logs(15)
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    let (s, e) = (start / 1000, (start + 10 * H) / 1000);
    let queries = [
        format!(
            "/api/v1/query?query={}&time={}",
            enc("az_temp"),
            s + 3 * 3600
        ),
        format!(
            "/api/v1/query?query={}&time={}",
            enc("sum by (series) (rate(az_requests_total[1h]))"),
            s + 5 * 3600
        ),
        format!(
            "/api/v1/query_range?query={}&start={s}&end={e}&step=300",
            enc("max_over_time(az_temp[10m])")
        ),
        format!(
            "/api/v1/query_range?query={}&start={s}&end={e}&step=60",
            enc("increase(az_requests_total{series=\"1\"}[15m])")
        ),
        format!(
            "/api/v1/series?match[]={}&start={s}&end={e}",
            enc("{cluster=\"eu1\"}")
        ),
    ];
    for q in &queries {
        let (code_fs, body_fs) = http_get(&q_fs, q).unwrap();
        let (code_az, body_az) = http_get(&q_az, q).unwrap();
        assert_eq!(code_fs, 200, "{q}: {body_fs}");
        assert!(
            body_fs.contains("\"success\"") && body_fs.len() > 100,
            "{q}: {body_fs}"
        );
        assert_eq!(
            (code_az, &body_az),
            (code_fs, &body_fs),
            "{q} differs on Azure"
        );
    }
}
