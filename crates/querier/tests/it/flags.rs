//! Querier flags with behaviour of their own: `--selector-label` and
//! `--web.external-prefix`.

use aeon_storeapi::pb::thanos;
use aeon_storeapi::{ClientOptions, StoreApi, StoreClient};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

/// Querier over replicas a and b of cluster eu and one store of cluster us.
async fn querier(extra: &[&str]) -> Querier {
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await;
    let b = serve(replica("b", 0.0), &stop).await;
    let us = serve(other_cluster(), &stop).await;
    let mut flags = vec![
        format!("--endpoint={a}"),
        format!("--endpoint={b}"),
        format!("--endpoint={us}"),
        "--query.replica-label=replica".to_string(),
    ];
    flags.extend(extra.iter().map(|s| s.to_string()));
    Querier::start(&flags, stop).await
}

fn eq(name: &str, value: &str) -> thanos::LabelMatcher {
    thanos::LabelMatcher::new(thanos::label_matcher::Type::Eq, name, value)
}

async fn series_count(c: &StoreClient, matchers: Vec<thanos::LabelMatcher>) -> usize {
    let req = thanos::SeriesRequest {
        min_time: T0,
        max_time: T0 + SPAN,
        matchers,
        ..Default::default()
    };
    let frames: Vec<_> = c.series(req).await.unwrap().collect().await;
    frames
        .iter()
        .filter_map(|f| f.as_ref().unwrap().as_series())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selector_labels_are_announced_and_select_requests() {
    let q = querier(&[
        "--selector-label=region=\"europe\"",
        "--selector-label=tier=`gold`",
    ])
    .await;
    let c = StoreClient::connect(&q.running.grpc_addr.to_string(), ClientOptions::default())
        .await
        .unwrap();
    let info = c.info().await.unwrap();
    assert_eq!(info.label_sets.len(), 3);
    for set in &info.label_sets {
        let get = |n: &str| {
            set.labels
                .iter()
                .find(|l| l.name == n)
                .map(|l| l.value.as_str())
        };
        assert_eq!(
            (get("region"), get("tier")),
            (Some("europe"), Some("gold")),
            "{set:?}"
        );
        assert!(
            get("cluster").is_some(),
            "the endpoint's own labels stay: {set:?}"
        );
    }

    let up = || eq("__name__", "up");
    // a, b and us each hold one `up` series.
    assert_eq!(series_count(&c, vec![up()]).await, 3);
    // A matcher on a selector label that matches is dropped before fan-out…
    assert_eq!(
        series_count(&c, vec![up(), eq("region", "europe")]).await,
        3
    );
    // …one that contradicts it gets nothing.
    assert_eq!(series_count(&c, vec![up(), eq("region", "asia")]).await, 0);
    let names = c
        .label_names(thanos::LabelNamesRequest {
            start: T0,
            end: T0 + SPAN,
            matchers: vec![eq("tier", "silver")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(names.names.is_empty(), "{names:?}");
    // The PromQL API goes through the same proxy.
    let (code, v) = q
        .get(
            "/api/v1/query",
            &[
                ("query", "count(up{tier=\"gold\"})"),
                ("time", &secs(T0 + SPAN - STEP)),
            ],
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        num(&result(&v)[0]["value"][1]),
        2.0,
        "eu deduplicated + us: {v}"
    );
    let (_, v) = q
        .get(
            "/api/v1/query",
            &[
                ("query", "up{tier=\"silver\"}"),
                ("time", &secs(T0 + SPAN - STEP)),
            ],
        )
        .await;
    assert!(result(&v).is_empty(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_selector_label_stops_start_up() {
    use clap::Parser;
    for bad in ["region=europe", "region", "1x=\"a\""] {
        let args = aeon_querier::Args::try_parse_from([
            "query",
            "--http-address=127.0.0.1:0",
            "--grpc-address=127.0.0.1:0",
            &format!("--selector-label={bad}"),
        ])
        .unwrap();
        let e = aeon_querier::start(args, CancellationToken::new())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("selector-label"), "{bad}: {e}");
    }
}

async fn page(q: &Querier, path: &str) -> (u16, String) {
    let r = q.http.get(q.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_prefix_serves_links_under_the_prefix() {
    // Alone, it is also the route prefix (as in Thanos).
    let q = querier(&["--web.external-prefix=/thanos/"]).await;
    let (code, body) = page(&q, "/thanos/graph").await;
    assert_eq!(code, 200);
    assert!(body.contains("const PREFIX = \"/thanos\";"), "{body}");
    assert!(body.contains("href=\"/thanos/stores\""), "{body}");
    let (code, v) = q
        .get(
            "/thanos/api/v1/query",
            &[("query", "vector(1)"), ("time", "1")],
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(page(&q, "/graph").await.0, 404);
    drop(q);

    // Behind a proxy that strips the sub-path: served on /, links to the
    // URL's path.
    let q = querier(&[
        "--web.external-prefix=https://proxy.example.com/monitoring/query",
        "--web.route-prefix=/",
    ])
    .await;
    let (code, body) = page(&q, "/graph").await;
    assert_eq!(code, 200);
    assert!(
        body.contains("const PREFIX = \"/monitoring/query\";"),
        "{body}"
    );
    let (code, v) = q
        .get("/api/v1/query", &[("query", "vector(1)"), ("time", "1")])
        .await;
    assert_eq!(code, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_header_sets_the_link_prefix_per_request() {
    let q = querier(&["--web.prefix-header=X-Forwarded-Prefix"]).await;
    let get = |prefix: Option<&'static str>| {
        let mut r = q.http.get(q.url("/graph"));
        if let Some(p) = prefix {
            r = r.header("X-Forwarded-Prefix", p);
        }
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    assert!(
        get(Some("/proxied/"))
            .await
            .contains("const PREFIX = \"/proxied\";")
    );
    assert!(get(None).await.contains("const PREFIX = \"\";"));
    // Only path characters of the header reach the page.
    let body = get(Some("/a\"</script>")).await;
    assert!(body.contains("const PREFIX = \"/a/script\";"), "{body}");
    drop(q);

    // --web.external-prefix wins over the header.
    let q = querier(&[
        "--web.prefix-header=X-Forwarded-Prefix",
        "--web.external-prefix=https://proxy.example.com/fixed",
        "--web.route-prefix=/",
    ])
    .await;
    let r = q
        .http
        .get(q.url("/graph"))
        .header("X-Forwarded-Prefix", "/proxied")
        .send()
        .await
        .unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("const PREFIX = \"/fixed\";")
    );
}
