//! aeon-cache against real servers: one acceptance suite every backend runs
//! (`suite`), and what each does when its server goes away.

#![allow(clippy::unwrap_used)]

mod suite;

use std::time::Duration;

use aeon_cache::{CacheConfig, CacheMetrics, SharedCache, testutil};
use prometheus_client::registry::Registry;

fn build(yaml: &str) -> (SharedCache, CacheMetrics) {
    let mut reg = Registry::default();
    let metrics = CacheMetrics::register(&mut reg).named("test");
    let cache = CacheConfig::parse(yaml, "test.yaml")
        .unwrap()
        .build(metrics.clone(), "test.yaml")
        .unwrap();
    (cache, metrics)
}

#[tokio::test]
async fn in_memory_passes_the_suite() {
    let (c, m) = build("type: IN-MEMORY\nconfig:\n  max_size: 64MB\n");
    suite::run(&c, &m).await;
}

#[tokio::test]
async fn memcached_passes_the_suite() {
    let server = testutil::memcached();
    let (c, m) = build(&format!(
        "type: MEMCACHED\nconfig:\n  addresses: [{}]\n  max_get_multi_batch_size: 7\n  max_item_size: 1MiB\n",
        server.addr
    ));
    suite::run(&c, &m).await;
    // Items over max_item_size are skipped, not sent.
    c.store(vec![("huge".into(), vec![1; 2 << 20])], Duration::ZERO)
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(c.fetch(&["huge".into()]).await.is_empty());
}

#[tokio::test]
async fn memcached_spreads_keys_over_servers_and_resolves_dns() {
    let (a, b) = (testutil::memcached(), testutil::memcached());
    let port_b = b.addr.rsplit_once(':').unwrap().1;
    let (c, m) = build(&format!(
        "type: MEMCACHED\nconfig:\n  addresses: [{}, \"dns+127.0.0.1:{port_b}\"]\n",
        a.addr
    ));
    suite::run(&c, &m).await;
    // Both servers hold some of the keys: stop one, about half is gone.
    let keys: Vec<String> = (0..200).map(|i| format!("spread-{i}")).collect();
    c.store(
        keys.iter().map(|k| (k.clone(), b"v".to_vec())).collect(),
        Duration::ZERO,
    )
    .await;
    suite::wait_found(&c, &keys).await;
    a.stop();
    let left = c.fetch(&keys).await.len();
    assert!(
        left > 20 && left < 180,
        "{left} of 200 keys left after one of two servers stopped"
    );
}

#[tokio::test]
async fn redis_passes_the_suite() {
    let server = testutil::redis();
    let (c, m) = build(&format!(
        "type: REDIS\nconfig:\n  addr: {}\n  prefix: \"t:\"\n  get_multi_batch_size: 7\n",
        server.addr
    ));
    suite::run(&c, &m).await;
}

#[tokio::test]
async fn memcached_going_away_is_a_miss_and_a_metric() {
    let server = testutil::memcached();
    let (c, m) = build(&format!(
        "type: MEMCACHED\nconfig:\n  addresses: [{}]\n  timeout: 300ms\n",
        server.addr
    ));
    suite::gone_away(&c, &m, server).await;
}

#[tokio::test]
async fn redis_going_away_is_a_miss_and_a_metric() {
    let server = testutil::redis();
    let (c, m) = build(&format!(
        "type: REDIS\nconfig:\n  addr: {}\n  dial_timeout: 300ms\n  read_timeout: 300ms\n  write_timeout: 300ms\n",
        server.addr
    ));
    suite::gone_away(&c, &m, server).await;
}

#[tokio::test]
async fn unreachable_at_start_is_only_a_miss() {
    let port = aeon_testkit::free_port();
    for yaml in [
        format!("type: MEMCACHED\nconfig:\n  addresses: [127.0.0.1:{port}]\n  timeout: 200ms\n"),
        format!("type: REDIS\nconfig:\n  addr: 127.0.0.1:{port}\n  dial_timeout: 200ms\n"),
    ] {
        let (c, m) = build(&yaml);
        c.store(vec![("k".into(), b"v".to_vec())], Duration::ZERO)
            .await;
        assert!(c.fetch(&["k".into()]).await.is_empty(), "{yaml}");
        assert!(m.failures_total(c.backend()) > 0, "{yaml}");
    }
}
