//! Blocks cut by a real Prometheus 3.5 server (floats, stale markers,
//! native integer/float/gauge histograms pushed through its remote-write
//! receiver, then snapshotted) dump identically with our reader.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Rng, promtool_dump};

fn prometheus_bin() -> PathBuf {
    aeon_testkit::peers::prometheus()
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let text = String::from_utf8_lossy(&resp);
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body_at = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(resp.len(), |p| p + 4);
    (code, resp[body_at..].to_vec())
}

fn start(dir: &Path) -> Server {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1h\n").unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(prometheus_bin())
        .args([
            &format!("--config.file={}", cfg.display()),
            &format!("--storage.tsdb.path={}", dir.join("data").display()),
            &format!("--web.listen-address={addr}"),
            "--web.enable-remote-write-receiver",
            "--web.enable-admin-api",
            "--enable-feature=native-histograms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let srv = Server { child, addr };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if TcpStream::connect(&srv.addr).is_ok()
            && http(&srv.addr, "GET", "/-/ready", &[], b"").0 == 200
        {
            return srv;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not become ready on {}",
            srv.addr
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

// --- minimal protobuf encoding of prometheus.WriteRequest ---

fn varint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push(v as u8 | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

fn key(b: &mut Vec<u8>, field: u32, wt: u32) {
    varint(b, u64::from(field << 3 | wt));
}

fn bytes_field(b: &mut Vec<u8>, field: u32, data: &[u8]) {
    key(b, field, 2);
    varint(b, data.len() as u64);
    b.extend_from_slice(data);
}

fn double_field(b: &mut Vec<u8>, field: u32, v: f64) {
    key(b, field, 1);
    b.extend_from_slice(&v.to_le_bytes());
}

fn zz(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[derive(Clone)]
enum Val {
    F(f64),
    /// schema, zero threshold, zero count, count, sum, pos spans, pos deltas, neg spans, neg deltas, hint
    H(
        i32,
        f64,
        u64,
        u64,
        f64,
        Vec<(i32, u32)>,
        Vec<i64>,
        Vec<(i32, u32)>,
        Vec<i64>,
        u64,
    ),
    /// float histogram: schema, zero count, count, sum, pos spans, pos counts, hint
    FH(i32, f64, f64, f64, Vec<(i32, u32)>, Vec<f64>, u64),
}

fn spans(b: &mut Vec<u8>, field: u32, s: &[(i32, u32)]) {
    for &(o, l) in s {
        let mut m = Vec::new();
        key(&mut m, 1, 0);
        varint(&mut m, zz(i64::from(o)));
        key(&mut m, 2, 0);
        varint(&mut m, u64::from(l));
        bytes_field(b, field, &m);
    }
}

fn series(labels: &[(&str, String)], samples: &[(i64, Val)]) -> Vec<u8> {
    let mut ts = Vec::new();
    for (n, v) in labels {
        let mut l = Vec::new();
        bytes_field(&mut l, 1, n.as_bytes());
        bytes_field(&mut l, 2, v.as_bytes());
        bytes_field(&mut ts, 1, &l);
    }
    for (t, v) in samples {
        let mut m = Vec::new();
        match v {
            Val::F(f) => {
                double_field(&mut m, 1, *f);
                key(&mut m, 2, 0);
                varint(&mut m, *t as u64);
                bytes_field(&mut ts, 2, &m);
            }
            Val::H(schema, zt, zc, c, sum, ps, pd, ns, nd, hint) => {
                key(&mut m, 1, 0);
                varint(&mut m, *c);
                double_field(&mut m, 3, *sum);
                key(&mut m, 4, 0);
                varint(&mut m, zz(i64::from(*schema)));
                double_field(&mut m, 5, *zt);
                key(&mut m, 6, 0);
                varint(&mut m, *zc);
                spans(&mut m, 8, ns);
                let mut p = Vec::new();
                nd.iter().for_each(|d| varint(&mut p, zz(*d)));
                bytes_field(&mut m, 9, &p);
                spans(&mut m, 11, ps);
                let mut p = Vec::new();
                pd.iter().for_each(|d| varint(&mut p, zz(*d)));
                bytes_field(&mut m, 12, &p);
                key(&mut m, 14, 0);
                varint(&mut m, *hint);
                key(&mut m, 15, 0);
                varint(&mut m, *t as u64);
                bytes_field(&mut ts, 4, &m);
            }
            Val::FH(schema, zc, c, sum, ps, pc, hint) => {
                double_field(&mut m, 2, *c);
                double_field(&mut m, 3, *sum);
                key(&mut m, 4, 0);
                varint(&mut m, zz(i64::from(*schema)));
                double_field(&mut m, 5, 0.001);
                double_field(&mut m, 7, *zc);
                spans(&mut m, 11, ps);
                let mut p = Vec::new();
                pc.iter()
                    .for_each(|d| p.extend_from_slice(&d.to_le_bytes()));
                bytes_field(&mut m, 13, &p);
                key(&mut m, 14, 0);
                varint(&mut m, *hint);
                key(&mut m, 15, 0);
                varint(&mut m, *t as u64);
                bytes_field(&mut ts, 4, &m);
            }
        }
    }
    ts
}

fn push(addr: &str, all: &[Vec<u8>]) {
    let mut req = Vec::new();
    for ts in all {
        bytes_field(&mut req, 1, ts);
    }
    let body = snap::raw::Encoder::new().compress_vec(&req).unwrap();
    let (code, resp) = http(
        addr,
        "POST",
        "/api/v1/write",
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ],
        &body,
    );
    assert!(
        code == 204 || code == 200,
        "remote write failed: {code} {}",
        String::from_utf8_lossy(&resp)
    );
}

fn workload(now: i64) -> Vec<Vec<u8>> {
    let mut r = Rng::new(42);
    let mut out = Vec::new();
    let start = now - 50 * 60_000;
    // Float series with stale markers and edge values.
    for s in 0..20 {
        let mut v = 0.0;
        let mut samples = Vec::new();
        for i in 0..300 {
            let t = start + i * 10_000 + (r.below(3) as i64);
            let val = match r.below(40) {
                0 => f64::from_bits(aeon_model::STALE_NAN_BITS),
                1 => f64::INFINITY,
                2 => -0.0,
                _ => {
                    v += r.below(1000) as f64 / 8.0;
                    v
                }
            };
            samples.push((t, Val::F(val)));
        }
        out.push(series(
            &[
                ("__name__", "float_series".into()),
                ("idx", format!("{s:02}")),
            ],
            &samples,
        ));
    }
    // Integer counter histograms with growing bucket layouts and a reset.
    for s in 0..6 {
        let mut samples = Vec::new();
        let mut counts = [0i64; 6];
        for i in 0..200 {
            let t = start + i * 15_000;
            if i == 120 {
                counts = [0; 6];
            }
            let nb = if i < 50 { 3 } else { 6 };
            for c in counts.iter_mut().take(nb) {
                *c += r.below(5) as i64;
            }
            let abs: Vec<i64> = counts[..nb].to_vec();
            let mut deltas = Vec::new();
            let mut prev = 0;
            for a in &abs {
                deltas.push(a - prev);
                prev = *a;
            }
            let zc = (i as u64) % 3;
            let count = abs.iter().sum::<i64>() as u64 + zc * (1 + u64::from(i >= 120));
            // Schemas > 0 are covered by high_resolution_schemas_dump_identically.
            let schema = if s % 2 == 0 { 0 } else { -2 };
            let zc = count - abs.iter().sum::<i64>() as u64;
            let hint = if s == 5 { 3 } else { 0 };
            let val = Val::H(
                schema,
                2f64.powi(-128),
                zc,
                count,
                i as f64 * 1.5,
                vec![(-1, nb as u32)],
                deltas,
                vec![(0, 1)],
                vec![i64::from(i % 2 == 0)],
                hint,
            );
            let _ = zc;
            samples.push((t, val));
        }
        // Negative bucket count must be part of count.
        let samples = samples
            .into_iter()
            .map(|(t, v)| match v {
                Val::H(a, b, zc, c, d, e, f, g, h, hint) => {
                    let neg: i64 = h.iter().sum();
                    (t, Val::H(a, b, zc, c + neg as u64, d, e, f, g, h, hint))
                }
                o => (t, o),
            })
            .collect::<Vec<_>>();
        out.push(series(
            &[
                ("__name__", "int_histogram".into()),
                ("idx", format!("{s}")),
            ],
            &samples,
        ));
    }
    // Float histograms.
    for s in 0..3 {
        let mut samples = Vec::new();
        for i in 0..150 {
            let t = start + i * 20_000;
            let b = [i as f64 * 0.5, i as f64 * 1.25 + 0.1];
            samples.push((
                t,
                Val::FH(
                    -1,
                    0.0,
                    b[0] + b[1],
                    i as f64 / 3.0,
                    vec![(2, 2)],
                    b.to_vec(),
                    if s == 2 { 3 } else { 0 },
                ),
            ));
        }
        out.push(series(
            &[
                ("__name__", "float_histogram".into()),
                ("idx", format!("{s}")),
            ],
            &samples,
        ));
    }
    out
}

/// Snapshots the server's TSDB (head included) and returns the snapshot dir.
fn snapshot(srv: &Server, dir: &Path) -> PathBuf {
    let (code, body) = http(&srv.addr, "POST", "/api/v1/admin/tsdb/snapshot", &[], b"");
    let body = String::from_utf8_lossy(&body).to_string();
    assert_eq!(code, 200, "snapshot failed: {body}");
    let name = body
        .split("\"name\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    dir.join("data/snapshots").join(name)
}

/// Our dump of `snap` equals promtool's, byte for byte.
fn assert_dumps_equal(snap: &Path, want: &str) {
    let mut got = Vec::new();
    aeon_tsdb_block::dump::dump(snap, &[], i64::MIN, i64::MAX, &mut got).unwrap();
    let got = String::from_utf8(got).unwrap();
    if got != want {
        let diff = got
            .lines()
            .zip(want.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b);
        panic!(
            "dump differs from promtool's: {} vs {} lines; first difference {diff:?}",
            got.lines().count(),
            want.lines().count()
        );
    }
}

/// Native histograms of schemas 1..8 whose buckets cover every bound of the
/// schema (two whole powers of two on each side of 1, both signs), the
/// buckets next to the MaxFloat64 bound and tiny ones near the zero bucket.
fn high_resolution_workload(now: i64) -> Vec<Vec<u8>> {
    let start = now - 20 * 60_000;
    let mut out = Vec::new();
    for schema in 1..=8i32 {
        let n = 1i32 << schema;
        // Absolute indexes: [-2n, 2n) and [1024n - 2, 1024n], [-1000n, -1000n + 3).
        let pos_spans = vec![(-2 * n, (4 * n) as u32), (1024 * n - 2 - 2 * n, 3)];
        let neg_spans = vec![(-1000 * n, 3), (1000 * n - 3 - n, (2 * n) as u32)];
        let npos = (4 * n + 3) as usize;
        let nneg = (2 * n + 3) as usize;
        let mut int_samples = Vec::new();
        let mut float_samples = Vec::new();
        for i in 0..12i64 {
            let t = start + i * 30_000;
            let pos: Vec<i64> = (0..npos as i64).map(|k| 1 + i + k % 5).collect();
            let neg: Vec<i64> = (0..nneg as i64).map(|k| 1 + i + k % 3).collect();
            let deltas = |abs: &[i64]| {
                let mut prev = 0;
                abs.iter()
                    .map(|a| {
                        let d = a - prev;
                        prev = *a;
                        d
                    })
                    .collect::<Vec<_>>()
            };
            let zc = i as u64;
            let count = (pos.iter().sum::<i64>() + neg.iter().sum::<i64>()) as u64 + zc;
            int_samples.push((
                t,
                Val::H(
                    schema,
                    2f64.powi(-128),
                    zc,
                    count,
                    i as f64 * 0.1,
                    pos_spans.clone(),
                    deltas(&pos),
                    neg_spans.clone(),
                    deltas(&neg),
                    0,
                ),
            ));
            let fpos: Vec<f64> = pos.iter().map(|&c| c as f64 * 0.75).collect();
            float_samples.push((
                t,
                Val::FH(
                    schema,
                    0.0,
                    fpos.iter().sum(),
                    i as f64 / 3.0,
                    pos_spans.clone(),
                    fpos,
                    0,
                ),
            ));
        }
        out.push(series(
            &[
                ("__name__", "hires_histogram".into()),
                ("schema", schema.to_string()),
            ],
            &int_samples,
        ));
        out.push(series(
            &[
                ("__name__", "hires_float_histogram".into()),
                ("schema", schema.to_string()),
            ],
            &float_samples,
        ));
    }
    out
}

#[test]
fn high_resolution_schemas_dump_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = start(tmp.path());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for ts in high_resolution_workload(now) {
        push(&srv.addr, &[ts]);
    }
    let snap = snapshot(&srv, tmp.path());
    let want = promtool_dump(&snap);
    // Each schema's every fraction appears as a printed bound.
    for schema in 1..=8 {
        assert!(
            want.contains(&format!("\"hires_histogram\", schema=\"{schema}\"}}"))
                && want.contains(&format!("\"hires_float_histogram\", schema=\"{schema}\"}}")),
            "schema {schema} missing from promtool dump"
        );
    }
    assert!(
        want.contains("1.7976931348623157e+308]"),
        "no MaxFloat64 bound"
    );
    assert_dumps_equal(&snap, &want);
}

#[test]
fn blocks_cut_by_prometheus_dump_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = start(tmp.path());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for ts in workload(now) {
        push(&srv.addr, &[ts]);
    }
    let snap = snapshot(&srv, tmp.path());
    let want = promtool_dump(&snap);
    assert!(
        want.contains("int_histogram")
            && want.contains("float_histogram")
            && want.contains("float_series"),
        "{}",
        &want[..want.len().min(2000)]
    );
    assert_dumps_equal(&snap, &want);
}

/// Re-encodes every chunk Prometheus wrote and checks the bytes are
/// identical, then copies all series into a block of ours that promtool
/// dumps identically.
fn reencode_and_rewrite(snap: &Path, want_dump: &str) {
    use aeon_tsdb_block::chunkenc::{
        Encoding, FloatHistogramChunk, FloatHistogramEncoder, HistogramChunk, HistogramEncoder,
        XorChunk, XorEncoder,
    };
    use aeon_tsdb_block::{BlockReader, BlockWriter, BlockWriterOptions, EncodedChunk};

    let out = snap.parent().unwrap().join("rewritten");
    std::fs::create_dir_all(&out).unwrap();
    let mut counts = [0usize; 3];
    for dir in aeon_tsdb_block::dump::find_blocks(snap).unwrap() {
        let b = BlockReader::open(&dir).unwrap();
        let mut w = BlockWriter::new(&out, BlockWriterOptions::default()).unwrap();
        for s in b.select(&[], i64::MIN, i64::MAX).unwrap() {
            let mut chunks = Vec::new();
            for m in &s.chunks {
                let c = b.chunk(m).unwrap();
                let again = match c.encoding {
                    Encoding::Xor => {
                        counts[0] += 1;
                        let mut e = XorEncoder::new();
                        for (t, v) in XorChunk::new(&c.data).unwrap().iter() {
                            e.append(t, v);
                        }
                        e.finish()
                    }
                    Encoding::Histogram => {
                        counts[1] += 1;
                        let hc = HistogramChunk::new(&c.data).unwrap();
                        let mut e = HistogramEncoder::new(hc.counter_reset_header());
                        for (t, h) in hc.samples().unwrap() {
                            e.append(t, &h).unwrap();
                        }
                        e.finish()
                    }
                    Encoding::FloatHistogram => {
                        counts[2] += 1;
                        let hc = FloatHistogramChunk::new(&c.data).unwrap();
                        let mut e = FloatHistogramEncoder::new(hc.counter_reset_header());
                        for (t, h) in hc.samples().unwrap() {
                            e.append(t, &h).unwrap();
                        }
                        e.finish()
                    }
                    other => panic!("unexpected encoding {other:?}"),
                };
                assert!(
                    again == c.data[..],
                    "re-encoded {:?} chunk of {} differs",
                    c.encoding,
                    s.labels
                );
                chunks.push(EncodedChunk {
                    min_time: m.min_time,
                    max_time: m.max_time,
                    encoding: c.encoding,
                    data: again,
                });
            }
            w.add_series_chunks(s.labels.clone(), &chunks).unwrap();
        }
        w.finish().unwrap();
    }
    assert!(
        counts.iter().all(|&c| c > 0),
        "chunk kinds seen: {counts:?}"
    );
    assert_eq!(promtool_dump(&out), want_dump);
}

#[test]
fn prometheus_chunks_reencode_bit_exactly_and_rewrite() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = start(tmp.path());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for ts in workload(now) {
        push(&srv.addr, &[ts]);
    }
    let snap = snapshot(&srv, tmp.path());
    let want = promtool_dump(&snap);
    reencode_and_rewrite(&snap, &want);
}

/// A block written by our writer (floats + native histograms) is served by
/// a real Prometheus 3.5 started on it: its query API returns our samples.
#[test]
fn prometheus_serves_blocks_we_write() {
    use aeon_model::Labels;
    use aeon_tsdb_block::chunkenc::{
        CounterResetHint, Encoding, Histogram, HistogramEncoder, Span,
    };
    use aeon_tsdb_block::{BlockWriter, BlockWriterOptions, EncodedChunk};

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let start = (now - 3 * 3_600_000) / 1000 * 1000;
    let mut w = BlockWriter::new(&data, BlockWriterOptions::default()).unwrap();
    let mut expect_floats: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
    let mut r = Rng::new(9);
    // Histogram series first in label order ("a_hist" < "b_float").
    let hl = Labels::from_pairs(&[("__name__", "a_hist"), ("job", "x")]);
    let mut e = HistogramEncoder::new(CounterResetHint::Unknown);
    let mut hs = Vec::new();
    for i in 0..100i64 {
        let h = Histogram {
            schema: 0,
            count: 3 * i as u64,
            sum: i as f64 * 2.5,
            zero_threshold: 2f64.powi(-128),
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![i, i],
            zero_count: i as u64,
            ..Default::default()
        };
        e.append(start + i * 30_000, &h).unwrap();
        hs.push((start + i * 30_000, h));
    }
    w.add_series_chunks(
        hl.clone(),
        &[EncodedChunk {
            min_time: start,
            max_time: start + 99 * 30_000,
            encoding: Encoding::Histogram,
            data: e.finish(),
        }],
    )
    .unwrap();
    for s in 0..5 {
        let ls = Labels::from_pairs(&[("__name__", "b_float"), ("i", &s.to_string())]);
        let samples: Vec<(i64, f64)> = (0..600)
            .map(|k| {
                (
                    start + k * 15_000 + s,
                    (r.below(100_000) as f64) / 7.0 - 5000.0,
                )
            })
            .collect();
        w.add_float_series(ls.clone(), &samples).unwrap();
        expect_floats.push((ls, samples));
    }
    w.finish().unwrap();

    let cfg = tmp.path().join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1h\n").unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(prometheus_bin())
        .args([
            &format!("--config.file={}", cfg.display()),
            &format!("--storage.tsdb.path={}", data.display()),
            &format!("--web.listen-address={addr}"),
            "--storage.tsdb.retention.time=100y",
            "--enable-feature=native-histograms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let srv = Server { child, addr };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(TcpStream::connect(&srv.addr).is_ok()
        && http(&srv.addr, "GET", "/-/ready", &[], b"").0 == 200)
    {
        assert!(Instant::now() < deadline, "prometheus did not become ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    let at = (start + 4 * 3_600_000) as f64 / 1000.0;
    let (code, body) = http(
        &srv.addr,
        "GET",
        &format!("/api/v1/query?query=%7B__name__%3D~%22.%2B%22%7D%5B5h%5D&time={at}"),
        &[],
        b"",
    );
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 6, "{v}");
    for series in result {
        let name = series["metric"]["__name__"].as_str().unwrap();
        if name == "a_hist" {
            let got = series["histograms"].as_array().unwrap();
            assert_eq!(got.len(), hs.len());
            for (g, (t, h)) in got.iter().zip(&hs) {
                assert_eq!((g[0].as_f64().unwrap() * 1000.0).round() as i64, *t);
                assert_eq!(
                    g[1]["count"].as_str().unwrap().parse::<f64>().unwrap(),
                    h.count as f64
                );
                assert_eq!(g[1]["sum"].as_str().unwrap().parse::<f64>().unwrap(), h.sum);
            }
            continue;
        }
        let i = series["metric"]["i"].as_str().unwrap();
        let (_, want) = expect_floats
            .iter()
            .find(|(l, _)| l.get("i") == Some(i))
            .unwrap();
        let got = series["values"].as_array().unwrap();
        assert_eq!(got.len(), want.len());
        for (g, (t, v)) in got.iter().zip(want) {
            assert_eq!((g[0].as_f64().unwrap() * 1000.0).round() as i64, *t);
            assert_eq!(
                g[1].as_str().unwrap().parse::<f64>().unwrap().to_bits(),
                v.to_bits()
            );
        }
    }
}
