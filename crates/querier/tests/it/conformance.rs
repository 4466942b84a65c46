//! Keeps the API conformance table (`docs/http-api.md`) true: every path
//! marked served answers on a started querier with the methods listed (not
//! 404 or 405), every path marked not served answers 404 or 405, and every
//! `/api/v1` route the querier's code declares is in a row marked served.

use std::collections::BTreeSet;

use tokio_util::sync::CancellationToken;

use crate::helpers::*;

const TABLE: &str = include_str!("../../../../docs/http-api.md");
const ROUTES: &str = include_str!("../../src/api/handlers.rs");

/// One row: methods, path (Prometheus's `<label_name>` form), served or not.
#[derive(Debug)]
struct Row {
    methods: Vec<String>,
    path: String,
    served: bool,
}

fn rows() -> Vec<Row> {
    let mut out = Vec::new();
    for line in TABLE.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let first = cells[1].trim_matches('`');
        let (methods, path) = first
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no method and path in {line:?}"));
        let served = match cells[3] {
            "same" | "differs" => true,
            "not served" => false,
            other => panic!("status {other:?} is none of same, differs, not served: {line:?}"),
        };
        out.push(Row {
            methods: methods.split(',').map(|m| m.trim().to_owned()).collect(),
            path: path.to_owned(),
            served,
        });
    }
    assert!(out.len() > 25, "table rows not found in docs/http-api.md");
    out
}

/// The `/api/v1` paths the querier's router declares, in the table's form.
fn declared_routes() -> BTreeSet<String> {
    ROUTES
        .split('"')
        .filter(|s| s.starts_with("/api/v1/"))
        .map(|s| s.replace("{name}", "<label_name>"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_table_is_true() {
    let rows = rows();
    let stop = CancellationToken::new();
    let a = serve(replica("a", 0.0), &stop).await;
    let q = Querier::start(&[format!("--endpoint={a}")], stop).await;
    let mut wrong = Vec::new();
    for row in &rows {
        let path = row.path.replace("<label_name>", "job");
        for m in &row.methods {
            let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
            let r = q
                .http
                .request(method, q.url(&path))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send()
                .await
                .unwrap();
            let code = r.status().as_u16();
            let absent = code == 404 || code == 405;
            if row.served == absent {
                wrong.push(format!(
                    "{m} {path}: HTTP {code}, table says {}",
                    if row.served { "served" } else { "not served" }
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/http-api.md is wrong:\n{}",
        wrong.join("\n")
    );

    let served: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.served)
        .map(|r| r.path.as_str())
        .collect();
    let missing: Vec<String> = declared_routes()
        .into_iter()
        .filter(|p| !served.contains(p.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes the querier serves that docs/http-api.md does not list as served: {missing:?}"
    );
}
