//! The web UI in a real browser: headless Chromium (Debian's `chromium`,
//! `$AEON_CHROMIUM`) loads the query page with an expression in the URL and
//! the stores page, and their DOM after the page's JavaScript ran must show
//! the graph legend and table with the right series, and every endpoint with
//! its health, label sets and time range; a screenshot must be a real PNG of
//! the window's size.
//!
//! Set `AEON_UI_SCREENSHOTS=<dir>` to keep the screenshots for a look.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::helpers::{Querier, T0, dead_address, other_cluster, replica, serve};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;

fn chromium() -> PathBuf {
    aeon_testkit::peers::chromium()
}

/// Runs headless Chromium on `url` with `mode` (`--dump-dom` or `--screenshot=..`).
fn browse(url: &str, mode: &str, profile: &Path) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .arg("--virtual-time-budget=5000")
        .arg(mode)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium {mode} {url}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts a querier over two HA replicas, another cluster and a dead
/// endpoint, and waits until the live ones answer Info.
async fn querier() -> (Querier, Vec<String>) {
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await.to_string();
    let b = serve(replica("b", 3.0), &stop).await.to_string();
    let us = serve(other_cluster(), &stop).await.to_string();
    let dead = dead_address();
    let mut flags = vec!["--query.replica-label=replica".to_string()];
    for e in [&a, &b, &us, &dead] {
        flags.push(format!("--endpoint={e}"));
    }
    let q = Querier::start(&flags, stop).await;
    for _ in 0..100 {
        let (_, v) = q.get("/api/v1/stores", &[]).await;
        let healthy = v["data"]
            .as_object()
            .map(|m| {
                m.values()
                    .flat_map(|l| l.as_array().unwrap())
                    .filter(|s| s["healthy"] == true)
                    .count()
            })
            .unwrap_or(0);
        if healthy == 3 {
            return (q, vec![a, b, us, dead]);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the three live endpoints did not become healthy");
}

/// The text of the element with `id` in a dumped DOM (from its start tag to the end of the dump).
fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element #{id} in {dom}"));
    &dom[at..]
}

fn keep(png: &Path, name: &str) {
    if let Ok(dir) = std::env::var("AEON_UI_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(png, Path::new(&dir).join(name)).unwrap();
    }
}

/// Checks a PNG file: signature, IHDR size = the window, and enough bytes
/// that it is not one flat colour (a blank 1280×900 page compresses to a few KB).
fn check_png(path: &Path) {
    let png = std::fs::read(path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((w, h), (WIDTH, HEIGHT), "screenshot size");
    assert!(
        png.len() > 20_000,
        "screenshot of {} bytes looks blank",
        png.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn query_page_shows_graph_and_table() {
    let (q, _) = querier().await;
    let tmp = tempfile::tempdir().unwrap();
    // Data spans [T0, T0+1h); look at the 30 minutes ending 45 minutes in.
    let end = (T0 + 2_700_000) / 1000;
    let url = reqwest::Url::parse_with_params(
        &q.url("/graph"),
        &[
            ("g0.expr", "up"),
            ("g0.range_input", "30m"),
            ("g0.end_input", &end.to_string()),
        ],
    )
    .unwrap();
    let url = url.as_str().to_owned();
    let dom = tokio::task::spawn_blocking({
        let url = url.clone();
        let profile = tmp.path().join("profile-dom");
        move || browse(&url, "--dump-dom", &profile)
    })
    .await
    .unwrap();
    assert!(
        dom.contains("data-loaded=\"query\""),
        "the query did not finish: {dom}"
    );
    let status = section(&dom, "status");
    assert!(
        status.starts_with("id=\"status\"></div>"),
        "the page shows a message: {}",
        &status[..status.len().min(500)]
    );
    // The legend under the graph: one deduplicated `eu` series and the `us` one.
    let legend = section(section(&dom, "legend"), "legend");
    let legend = &legend[..legend.find("</div>").unwrap()];
    assert_eq!(legend.matches("<span").count(), 2, "legend: {legend}");
    assert!(
        legend.contains("up{cluster=\"eu\", instance=\"i1\", job=\"api\"}"),
        "{legend}"
    );
    assert!(
        legend.contains("up{cluster=\"us\", instance=\"i9\", job=\"api\"}"),
        "{legend}"
    );
    // The table: the same two series with their values at the end time.
    let table = section(&dom, "table");
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr>").count(), 3, "header + 2 rows: {table}");
    assert!(
        table.contains("<td>up{cluster=\"eu\", instance=\"i1\", job=\"api\"}</td><td>1</td>"),
        "{table}"
    );
    assert!(
        table.contains("<td>up{cluster=\"us\", instance=\"i9\", job=\"api\"}</td><td>0</td>"),
        "{table}"
    );
    // The range and end from the URL are shown in the controls.
    assert!(
        dom.contains("<option value=\"1800\">30m</option>"),
        "range option"
    );

    let png = tmp.path().join("graph.png");
    tokio::task::spawn_blocking({
        let profile = tmp.path().join("profile-png");
        let mode = format!("--screenshot={}", png.display());
        move || browse(&url, &mode, &profile)
    })
    .await
    .unwrap();
    keep(&png, "graph.png");
    check_png(&png);
}

#[tokio::test(flavor = "multi_thread")]
async fn stores_page_lists_endpoints() {
    let (q, addrs) = querier().await;
    let tmp = tempfile::tempdir().unwrap();
    let url = q.url("/stores");
    let dom = tokio::task::spawn_blocking({
        let url = url.clone();
        let profile = tmp.path().join("profile-dom");
        move || browse(&url, "--dump-dom", &profile)
    })
    .await
    .unwrap();
    assert!(
        dom.contains("data-loaded=\"stores\""),
        "the stores did not load: {dom}"
    );
    let table = section(&dom, "stores");
    let table = &table[..table.find("</table>").unwrap()];
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 4, "{table}");
    let row = |addr: &str| -> &str {
        rows.iter()
            .find(|r| r.contains(&format!("<td>{addr}</td>")))
            .unwrap_or_else(|| panic!("no row for {addr}: {table}"))
    };
    // Label sets and the data's time range (replica b scrapes 5 s later).
    for (addr, labels, from, to) in [
        (
            &addrs[0],
            "{cluster=\"eu\", replica=\"a\"}",
            "22:00:00",
            "22:59:45",
        ),
        (
            &addrs[1],
            "{cluster=\"eu\", replica=\"b\"}",
            "22:00:05",
            "22:59:50",
        ),
        (&addrs[2], "{cluster=\"us\"}", "22:00:00", "22:59:45"),
    ] {
        let r = row(addr);
        assert!(r.contains("<td class=\"up\">UP</td>"), "{r}");
        assert!(r.contains(&format!("<td>{labels}</td>")), "{r}");
        let range = format!("<td>2023-11-14T{from}.000Z</td><td>2023-11-14T{to}.000Z</td>");
        assert!(r.contains(&range), "{r}");
    }
    let dead = row(&addrs[3]);
    assert!(dead.contains("<td class=\"down\">DOWN</td>"), "{dead}");
    assert!(
        dead.contains("<td>-</td><td>-</td></tr>"),
        "no time range: {dead}"
    );

    let png = tmp.path().join("stores.png");
    tokio::task::spawn_blocking({
        let profile = tmp.path().join("profile-png");
        let mode = format!("--screenshot={}", png.display());
        move || browse(&url, &mode, &profile)
    })
    .await
    .unwrap();
    keep(&png, "stores.png");
    check_png(&png);
}
