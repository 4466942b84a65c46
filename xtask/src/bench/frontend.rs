//! `cargo xtask bench --frontend`: `aeon query-frontend` with a memcached
//! results cache in front of the bench's querier. A refresh of the 7-day
//! dashboard (its range queries one after the other, as the same panel set
//! asks them again) is timed cold (memcached flushed) and warm (the same
//! refresh again), `iterations` times each; prints the medians, the speed-up
//! (goal: warm ≥ 10× faster) and the cache hit ratio of the warm refreshes.
//! Every warm answer must equal the querier's own.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Result, bail};

use super::{Case, free_ports, get, ms, quantile};
use crate::demo::{Stack, http_get, wait_ready};

/// Empties memcached (`flush_all`): the next refresh is cold.
fn flush(port: u16) -> Result<()> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"flush_all\r\n")?;
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf)?;
    if !buf[..n].starts_with(b"OK") {
        bail!(
            "memcached answered {:?} to flush_all",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    Ok(())
}

/// The sum of a metric's series on `/metrics`.
fn metric(port: u16, name: &str) -> Result<f64> {
    let (_, text) = http_get(port, "/metrics")?;
    Ok(text
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// One refresh: every case once, in order; the total time.
fn refresh(port: u16, cases: &[&Case]) -> Result<Duration> {
    let mut total = Duration::ZERO;
    for c in cases {
        total += get(port, &c.path)?.0;
    }
    Ok(total)
}

pub(crate) fn run(
    stack: &mut Stack,
    aeon: &Path,
    querier_http: u16,
    cases: &[Case],
    iterations: usize,
) -> Result<()> {
    let dashboard: Vec<&Case> = cases.iter().filter(|c| c.kind == "range 7d").collect();
    let [mc_port, fe_port] = free_ports::<2>()?;
    let mut memcached = Command::new(aeon_testkit::peers::memcached());
    memcached
        .args(["-l", "127.0.0.1", "-U", "0", "-m", "512", "-p"])
        .arg(mc_port.to_string());
    #[cfg(unix)]
    memcached.args(["-u", "nobody"]);
    stack.spawn("memcached", &mut memcached)?;
    let cache = format!(
        "type: MEMCACHED\nconfig:\n  addresses: [127.0.0.1:{mc_port}]\n  max_item_size: 16MB"
    );
    stack.spawn(
        "query-frontend",
        Command::new(aeon)
            .arg("query-frontend")
            .arg(format!("--http-address=127.0.0.1:{fe_port}"))
            .arg(format!(
                "--query-frontend.downstream-url=http://127.0.0.1:{querier_http}"
            ))
            .arg(format!("--query-range.response-cache-config={cache}")),
    )?;
    wait_ready(stack, fe_port, "query-frontend")?;

    // The frontend's answers are the querier's.
    for c in &dashboard {
        let (_, want) = get(querier_http, &c.path)?;
        let (_, got) = get(fe_port, &c.path)?;
        if want != got {
            bail!(
                "query-frontend answers {} differently from the querier",
                c.name
            );
        }
    }

    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    let (mut hits, mut asked) = (0.0, 0.0);
    for _ in 0..iterations {
        flush(mc_port)?;
        cold.push(refresh(fe_port, &dashboard)?);
        // Cache writes are asynchronous: let them land.
        std::thread::sleep(Duration::from_millis(200));
        let (h0, a0) = (
            metric(fe_port, "cortex_cache_hits_total")?,
            metric(fe_port, "cortex_cache_fetched_keys_total")?,
        );
        warm.push(refresh(fe_port, &dashboard)?);
        hits += metric(fe_port, "cortex_cache_hits_total")? - h0;
        asked += metric(fe_port, "cortex_cache_fetched_keys_total")? - a0;
    }
    for c in &dashboard {
        let (_, want) = get(querier_http, &c.path)?;
        let (_, got) = get(fe_port, &c.path)?;
        if want != got {
            bail!(
                "query-frontend answers {} from its cache differently from the querier",
                c.name
            );
        }
    }
    cold.sort();
    warm.sort();
    let (c50, w50) = (quantile(&cold, 0.5), quantile(&warm, 0.5));
    let speedup = c50.as_secs_f64() / w50.as_secs_f64().max(1e-9);
    println!(
        "\naeon query-frontend (memcached results cache, split by 24h) in front of the querier: \
         a refresh of the 7-day dashboard ({} range queries, step 5m), {iterations} iterations; times in ms",
        dashboard.len()
    );
    println!(
        "cold (memcached flushed): p50 {} p90 {}",
        ms(c50),
        ms(quantile(&cold, 0.9))
    );
    println!(
        "warm (second refresh):    p50 {} p90 {}",
        ms(w50),
        ms(quantile(&warm, 0.9))
    );
    println!(
        "speed-up {speedup:.1}× (goal ≥ 10×: {}); warm cache hit ratio {:.1}% ({hits} of {asked} keys)",
        if speedup >= 10.0 { "met" } else { "not met" },
        100.0 * hits / asked.max(1.0)
    );
    Ok(())
}
