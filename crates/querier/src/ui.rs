//! A minimal web UI: a query page (graph drawn on a canvas from
//! `query_range`, a table from `query`) and a stores page listing endpoints
//! with health, label sets and time ranges. One static page, embedded.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

const PAGE: &str = include_str!("ui/index.html");

/// The UI page with the route prefix and default step filled in.
pub(crate) fn page(prefix: &str, default_step_secs: f64) -> String {
    PAGE.replace("{{PREFIX}}", prefix)
        .replace("{{DEFAULT_STEP}}", &format!("{default_step_secs}"))
}

/// Routes `/`, `/graph` and `/stores` (to be nested under the prefix).
pub(crate) fn router(prefix: &str, default_step_secs: f64) -> Router {
    routes(&["/", "/graph", "/stores"], prefix, default_step_secs)
}

/// The UI page on the given paths.
pub(crate) fn routes(paths: &[&str], prefix: &str, default_step_secs: f64) -> Router {
    let html = page(prefix, default_step_secs);
    let serve = move || {
        let html = html.clone();
        async move { ([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response() }
    };
    paths
        .iter()
        .fold(Router::new(), |r, p| r.route(p, get(serve.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled() {
        let p = page("/thanos", 1.0);
        assert!(!p.contains("{{"), "unfilled placeholder");
        assert!(p.contains("const PREFIX = \"/thanos\";"));
        assert!(p.contains("/api/v1/query_range") && p.contains("/api/v1/stores"));
    }
}
