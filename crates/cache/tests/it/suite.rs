//! What every backend must do.

use std::time::{Duration, Instant};

use aeon_cache::{CacheMetrics, SharedCache, testutil::Server};

/// Remote backends write in the background: polls until every key is found.
pub async fn wait_found(c: &SharedCache, keys: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = c.fetch(keys).await;
        if got.len() == keys.len() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} keys stored after 10s ({})",
            got.len(),
            keys.len(),
            c.backend()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn run(c: &SharedCache, m: &CacheMetrics) {
    // A miss is empty, and counted as asked.
    let before = m.fetched_total();
    assert!(c.fetch(&["absent".into()]).await.is_empty());
    assert_eq!(m.fetched_total(), before + 1);

    // Many keys (more than one batch), binary values, one of them empty.
    let items: Vec<(String, Vec<u8>)> = (0..50)
        .map(|i| {
            (
                format!("key-{i}"),
                (0..i as u8).chain([0, 255, b'\r', b'\n']).collect(),
            )
        })
        .chain([("empty".to_string(), Vec::new())])
        .collect();
    c.store(items.clone(), Duration::ZERO).await;
    let keys: Vec<String> = items.iter().map(|(k, _)| k.clone()).collect();
    wait_found(c, &keys).await;
    let hits = m.hits_total();
    let mut asked = keys.clone();
    asked.push("still-absent".into());
    let got = c.fetch(&asked).await;
    for (k, v) in &items {
        assert_eq!(got.get(k), Some(v), "{k} ({})", c.backend());
    }
    assert!(!got.contains_key("still-absent"));
    assert_eq!(m.hits_total(), hits + items.len() as u64);

    // Overwrite.
    c.store(vec![("key-1".into(), b"new".to_vec())], Duration::ZERO)
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while c
        .fetch(&["key-1".into()])
        .await
        .get("key-1")
        .map(Vec::as_slice)
        != Some(b"new")
    {
        assert!(
            Instant::now() < deadline,
            "overwrite not seen ({})",
            c.backend()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The server stops between two requests: the next fetch is a miss (no
/// error, no hang beyond the timeout) and the failure is counted.
pub async fn gone_away(c: &SharedCache, m: &CacheMetrics, server: Server) {
    let keys = vec!["here".to_string()];
    c.store(vec![("here".into(), b"v".to_vec())], Duration::ZERO)
        .await;
    wait_found(c, &keys).await;
    server.stop();
    let t = Instant::now();
    assert!(c.fetch(&keys).await.is_empty());
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "a fetch from a stopped {} took {:?}",
        c.backend(),
        t.elapsed()
    );
    assert!(m.failures_total(c.backend()) > 0, "no failure counted");
    // Writes are dropped quietly too.
    c.store(vec![("later".into(), b"v".to_vec())], Duration::ZERO)
        .await;
}
