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

/// Where the UI's links point: a fixed prefix, or (`--web.prefix-header`)
/// the path in a request header, the fixed one when the header is absent.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinkPrefix {
    /// `--web.external-prefix` or the route prefix.
    pub fixed: String,
    /// `--web.prefix-header` (only when `--web.external-prefix` is unset).
    pub header: Option<String>,
}

impl LinkPrefix {
    fn for_request(&self, headers: &axum::http::HeaderMap) -> String {
        self.header
            .as_deref()
            .and_then(|h| headers.get(h))
            .and_then(|v| v.to_str().ok())
            .map(sanitize_prefix)
            .unwrap_or_else(|| self.fixed.clone())
    }
}

/// Thanos's `SanitizePrefix`: the path of a URL or path, without a
/// trailing slash (empty for the root); only path characters survive, so a
/// header cannot inject markup.
pub(crate) fn sanitize_prefix(raw: &str) -> String {
    let raw = raw.trim();
    let path = match raw.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => raw,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut out = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty() && *s != ".") {
        let clean: String = seg
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "-._~".contains(*c))
            .collect();
        if !clean.is_empty() {
            out.push('/');
            out.push_str(&clean);
        }
    }
    out
}

/// Routes `/`, `/graph` and `/stores` (to be nested under the prefix).
pub(crate) fn router(prefix: &LinkPrefix, default_step_secs: f64) -> Router {
    routes(&["/", "/graph", "/stores"], prefix, default_step_secs)
}

/// The UI page on the given paths.
pub(crate) fn routes(paths: &[&str], prefix: &LinkPrefix, default_step_secs: f64) -> Router {
    let prefix = prefix.clone();
    let serve = move |headers: axum::http::HeaderMap| {
        let html = page(&prefix.for_request(&headers), default_step_secs);
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

    #[test]
    fn prefixes_are_sanitized() {
        assert_eq!(sanitize_prefix("/thanos/"), "/thanos");
        assert_eq!(sanitize_prefix("thanos"), "/thanos");
        assert_eq!(sanitize_prefix("https://h.example/a/b?x=1"), "/a/b");
        assert_eq!(sanitize_prefix("/"), "");
        assert_eq!(sanitize_prefix("/a\"</script>/b"), "/a/script/b");
    }
}
