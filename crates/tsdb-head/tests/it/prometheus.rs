//! WAL compatibility with the real Prometheus 3.5, both ways: we replay
//! the (snappy-compressed) WAL a Prometheus server wrote while scraping
//! itself, and a Prometheus server started on our directory replays ours
//! and answers queries from it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use aeon_model::{MatchType, Matcher};
use aeon_testkit::KillOnDrop;
use aeon_testkit::process::{http_get, wait_http_ok};
use aeon_tsdb_head::{Head, HeadOptions, WalOptions};

use crate::util::*;

fn start(data: &Path, cfg: &str) -> (KillOnDrop, String) {
    std::fs::create_dir_all(data).unwrap();
    let addr = format!("127.0.0.1:{}", aeon_testkit::free_port());
    let cfg_path = data.with_extension("yml");
    std::fs::write(&cfg_path, cfg.replace("ADDR", &addr)).unwrap();
    let child = Command::new(aeon_testkit::peers::prometheus())
        .args([
            &format!("--config.file={}", cfg_path.display()),
            &format!("--storage.tsdb.path={}", data.display()),
            &format!("--web.listen-address={addr}"),
            "--storage.tsdb.retention.time=100y",
            "--enable-feature=native-histograms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = KillOnDrop(child);
    wait_http_ok("prometheus", &addr, "/-/ready", Duration::from_secs(60));
    (child, addr)
}

fn query(addr: &str, path: &str) -> serde_json::Value {
    let (code, body) = http_get(addr, path, Duration::from_secs(30)).unwrap();
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn we_replay_the_wal_prometheus_writes() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let cfg = "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prom\n    static_configs:\n      - targets: ['ADDR']\n";
    let (srv, addr) = start(&data, cfg);
    // Let it scrape itself a few times.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let ups = loop {
        let v = query(&addr, "/api/v1/query?query=up%5B1m%5D");
        let vals = v["data"]["result"][0]["values"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if vals.len() >= 4 {
            break vals;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "prometheus does not scrape: {v}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let names = query(&addr, "/api/v1/label/__name__/values");
    let names: Vec<String> = names["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    assert!(names.len() > 100, "{names:?}");
    drop(srv); // SIGKILL: the WAL is what is left
    let h = Head::open(&data, HeadOptions::default()).unwrap();
    let m = |n: &str, v: &str| Matcher::new(MatchType::Equal, n, v).unwrap();
    let up = h
        .select(&[m("__name__", "up"), m("job", "prom")], i64::MIN, i64::MAX)
        .unwrap();
    assert_eq!(up.len(), 1);
    let got = samples(&up[0]);
    for u in &ups {
        let t = (u[0].as_f64().unwrap() * 1000.0).round() as i64;
        assert!(
            got.contains(&(t, V::F(1.0f64.to_bits()))),
            "up at {t} missing from {got:?}"
        );
    }
    let ours = h.label_values("__name__", &[], i64::MIN, i64::MAX);
    for n in &names {
        assert!(ours.contains(n), "metric {n} missing after replay");
    }
    // Native histograms Prometheus exposes about itself come back as such.
    let all = h.select(&[m("job", "prom")], i64::MIN, i64::MAX).unwrap();
    let hist_series = all
        .iter()
        .filter(|s| {
            s.chunks
                .iter()
                .any(|c| c.encoding != aeon_tsdb_block::chunkenc::Encoding::Xor)
        })
        .count();
    assert!(hist_series > 0);
}

#[test]
fn prometheus_replays_the_wal_we_write() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let now = now_ms() / 1000 * 1000;
    let start_t = now - HOUR;
    let mut want: Vec<(i64, f64)> = Vec::new();
    {
        let h = Head::open(
            &data,
            HeadOptions {
                wal: WalOptions {
                    compress: true,
                    segment_size: 256 * 1024,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .unwrap();
        let mut t = start_t;
        let mut k = 0u64;
        while t <= now {
            let mut a = h.appender();
            for s in 0..50 {
                let r = a.series(&series("aeon_test_total", s)).unwrap();
                let v = (k * 3 + s as u64) as f64 / 4.0;
                a.append(r, t, v).unwrap();
                if s == 7 {
                    want.push((t, v));
                }
            }
            let r = a.series(&series("aeon_test_hist", 0)).unwrap();
            a.append_histogram(r, t, &hist(k + 1)).unwrap();
            a.commit().unwrap();
            t += 15_000;
            k += 1;
        }
    }
    let (_srv, addr) = start(&data, "global:\n  scrape_interval: 1h\n");
    let v = query(
        &addr,
        &format!(
            "/api/v1/query?query=aeon_test_total%7Binstance%3D%22host-7%3A9100%22%7D%5B2h%5D&time={}",
            now as f64 / 1000.0
        ),
    );
    let vals = v["data"]["result"][0]["values"].as_array().unwrap();
    assert_eq!(vals.len(), want.len(), "{v}");
    for (g, (t, x)) in vals.iter().zip(&want) {
        assert_eq!((g[0].as_f64().unwrap() * 1000.0).round() as i64, *t);
        assert_eq!(g[1].as_str().unwrap().parse::<f64>().unwrap(), *x);
    }
    let v = query(
        &addr,
        &format!(
            "/api/v1/query?query=count(aeon_test_total)&time={}",
            now as f64 / 1000.0
        ),
    );
    assert_eq!(v["data"]["result"][0]["value"][1], "50", "{v}");
    let v = query(
        &addr,
        &format!(
            "/api/v1/query?query=aeon_test_hist&time={}",
            now as f64 / 1000.0
        ),
    );
    let last = &v["data"]["result"][0]["histogram"][1];
    assert_eq!(last["count"], (7 * want.len()).to_string(), "{v}");
}
