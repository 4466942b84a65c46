//! `thanos.Exemplars` over the endpoints, and the deduplication the HTTP
//! API answers with.
//!
//! As Thanos's exemplars proxy: the query is reduced to its series
//! selectors; each endpoint is asked only for the selectors its external
//! label sets can match, without the matchers on external labels (Prometheus
//! cannot match those) unless the endpoint is itself a querier, the
//! selectors joined with `+` (the series are what matters, not the query).

use std::cmp::Ordering;

use aeon_model::Matcher;
use aeon_promql::Expr;
use aeon_promql::ast::VectorSelector;
use aeon_storeapi::pb::thanos;
use aeon_storeapi::scrape::ExemplarsFrame;
use aeon_storeapi::{ExemplarsApi, convert};

use super::gather;
use crate::proxy::{Proxy, warn_strategy};

/// The matchers of every series selector of `e` (Prometheus's
/// `parser.ExtractSelectors`), in the order they appear.
pub(crate) fn selectors(e: &Expr) -> Vec<Vec<Matcher>> {
    fn walk(e: &Expr, out: &mut Vec<Vec<Matcher>>) {
        match e {
            Expr::Number(..) | Expr::String(..) => {}
            Expr::Vector(vs) | Expr::Matrix { vs, .. } => out.push(vs.matchers.clone()),
            Expr::Subquery { expr, .. }
            | Expr::Neg(expr, _)
            | Expr::Plus(expr, _)
            | Expr::Paren(expr, _) => walk(expr, out),
            Expr::Binary { lhs, rhs, .. } => {
                walk(lhs, out);
                walk(rhs, out);
            }
            Expr::Aggregate { expr, param, .. } => {
                if let Some(p) = param {
                    walk(p, out);
                }
                walk(expr, out);
            }
            Expr::Call { args, .. } => args.iter().for_each(|a| walk(a, out)),
        }
    }
    let mut out = Vec::new();
    walk(e, &mut out);
    out
}

/// A series selector `{…}` for `matchers`, as PromQL text.
fn selector_text(matchers: Vec<Matcher>) -> String {
    Expr::Vector(VectorSelector {
        name: None,
        matchers,
        offset: 0,
        at: None,
        pos: Default::default(),
    })
    .to_string()
}

#[async_trait::async_trait]
impl ExemplarsApi for Proxy {
    async fn exemplars(
        &self,
        req: thanos::ExemplarsRequest,
    ) -> aeon_storeapi::Result<Vec<thanos::ExemplarsResponse>> {
        let warn = warn_strategy(false, req.partial_response_strategy);
        let expr = aeon_promql::parse(&req.query)
            .map_err(|e| aeon_storeapi::Error::invalid(e.to_string()))?;
        let sets = selectors(&expr);
        if sets.is_empty() {
            return Err(aeon_storeapi::Error::invalid(
                "no matchers specified (excluding external labels)",
            ));
        }
        let eps = self.usable();
        let mut calls = Vec::new();
        for ep in &eps {
            let (Some(client), Some(adv)) = (ep.exemplars(), ep.advertised()) else {
                continue;
            };
            let keep_external = adv.component_type == "query";
            let is_external = |name: &str| {
                adv.label_sets
                    .iter()
                    .any(|ls| ls.get(name).is_some_and(|v| !v.is_empty()))
            };
            let parts: Vec<String> = sets
                .iter()
                .filter(|set| adv.matches_labels(set))
                .map(|set| {
                    selector_text(
                        set.iter()
                            .filter(|m| keep_external || !is_external(&m.name))
                            .cloned()
                            .collect(),
                    )
                })
                .collect();
            if parts.is_empty() {
                continue;
            }
            let r = thanos::ExemplarsRequest {
                query: parts.join(" + "),
                ..req.clone()
            };
            calls.push((ep.address().to_owned(), client.clone(), r));
        }
        let results = futures::future::join_all(calls.into_iter().map(|(addr, c, r)| async move {
            (addr, self.within_store_timeout(c.exemplars(r)).await)
        }))
        .await;
        gather(results, warn, thanos::ExemplarsResponse::warning)
    }
}

fn labels_of(set: &Option<thanos::ZLabelSet>) -> &[thanos::Label] {
    set.as_ref().map_or(&[], |s| &s.labels)
}

/// Thanos's exemplar order: timestamp, then labels, then value.
fn compare_exemplars(a: &thanos::Exemplar, b: &thanos::Exemplar) -> Ordering {
    a.ts.cmp(&b.ts)
        .then_with(|| convert::compare_labels(labels_of(&a.labels), labels_of(&b.labels)))
        .then_with(|| a.value.total_cmp(&b.value))
}

/// The exemplars of every store deduplicated (Thanos's
/// `dedupExemplarsResponse`): series without exemplars dropped, replica
/// labels removed from series labels, series with equal labels merged, equal
/// exemplars kept once, exemplars by time; series sorted by labels. And the
/// warnings.
pub(crate) fn dedup_exemplars(
    frames: Vec<thanos::ExemplarsResponse>,
    replica_labels: &[String],
) -> (Vec<thanos::ExemplarData>, Vec<String>) {
    let mut series: Vec<thanos::ExemplarData> = Vec::new();
    let mut warnings = Vec::new();
    for f in frames {
        match f.result {
            Some(ExemplarsFrame::Data(mut d)) if !d.exemplars.is_empty() => {
                let mut labels = d.series_labels.take().map(|s| s.labels).unwrap_or_default();
                convert::remove_labels(&mut labels, replica_labels);
                d.series_labels = Some(thanos::ZLabelSet { labels });
                series.push(d);
            }
            Some(ExemplarsFrame::Warning(w)) => warnings.push(w),
            _ => {}
        }
    }
    series.sort_by(|a, b| {
        convert::compare_labels(labels_of(&a.series_labels), labels_of(&b.series_labels))
    });
    let mut out: Vec<thanos::ExemplarData> = Vec::with_capacity(series.len());
    for s in series {
        match out.last_mut() {
            Some(last)
                if convert::compare_labels(
                    labels_of(&last.series_labels),
                    labels_of(&s.series_labels),
                ) == Ordering::Equal =>
            {
                last.exemplars.extend(s.exemplars)
            }
            _ => out.push(s),
        }
    }
    for s in &mut out {
        for e in &mut s.exemplars {
            if let Some(l) = &mut e.labels {
                l.labels.sort_by(|a, b| a.name.cmp(&b.name));
            }
        }
        s.exemplars.sort_by(compare_exemplars);
        s.exemplars
            .dedup_by(|a, b| compare_exemplars(a, b) == Ordering::Equal);
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> Option<thanos::ZLabelSet> {
        Some(thanos::ZLabelSet {
            labels: pairs
                .iter()
                .map(|(n, v)| thanos::Label::new(*n, *v))
                .collect(),
        })
    }

    fn ex(ts: i64, trace: &str) -> thanos::Exemplar {
        thanos::Exemplar {
            labels: set(&[("trace_id", trace)]),
            value: 1.0,
            ts,
        }
    }

    #[test]
    fn selectors_of_a_query() {
        let e = aeon_promql::parse(
            r#"sum(rate(a{x="1"}[5m])) / on() group_left b + max_over_time(c[1h:1m])"#,
        )
        .unwrap();
        let s: Vec<String> = selectors(&e).into_iter().map(selector_text).collect();
        assert_eq!(s.len(), 3, "{s:?}");
        for (text, name) in s.iter().zip(["a", "b", "c"]) {
            let back = aeon_promql::parse(text).unwrap();
            assert_eq!(
                selectors(&back)[0]
                    .iter()
                    .find(|m| m.name == "__name__")
                    .unwrap()
                    .value,
                name
            );
        }
        assert!(selectors(&aeon_promql::parse("1 + 2").unwrap()).is_empty());
    }

    #[test]
    fn replicas_deduplicate() {
        let a = thanos::ExemplarsResponse::data(thanos::ExemplarData {
            series_labels: set(&[("__name__", "x"), ("replica", "a")]),
            exemplars: vec![ex(2, "t2"), ex(1, "t1")],
        });
        let b = thanos::ExemplarsResponse::data(thanos::ExemplarData {
            series_labels: set(&[("__name__", "x"), ("replica", "b")]),
            exemplars: vec![ex(1, "t1"), ex(3, "t3")],
        });
        let empty = thanos::ExemplarsResponse::data(thanos::ExemplarData {
            series_labels: set(&[("__name__", "y")]),
            exemplars: vec![],
        });
        let (out, w) = dedup_exemplars(
            vec![a, thanos::ExemplarsResponse::warning("w"), b, empty],
            &["replica".to_string()],
        );
        assert_eq!(w, ["w"]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].series_labels, set(&[("__name__", "x")]));
        let ts: Vec<i64> = out[0].exemplars.iter().map(|e| e.ts).collect();
        assert_eq!(ts, [1, 2, 3]);
    }
}
